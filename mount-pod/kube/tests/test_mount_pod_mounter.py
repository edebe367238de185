# SPDX-License-Identifier: Apache-2.0
"""tidefs-csi --mounter pod, end to end on one machine: the real plugin,
real FUSE mounts, the real daemon in a "mount pod" run by fakekube.py (an
API server + kubelet stand-in that runs the container unprivileged), a real
tidefs volume (SQLite + file store). Needs root and /dev/fuse."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from fakekube import FakeKube

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../.."))
BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
PLUGIN = os.path.join(BUILD, "bin", "tidefs-csi")
TIDEFS = os.path.join(BUILD, "bin", "tidefs")
NODE = "node-1"
UID = 65532

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/fuse"),
                                reason="needs root and /dev/fuse")


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    out = tmp_path_factory.mktemp("pb")
    subprocess.run(["protoc", "-I", os.path.join(REPO, "csi/proto"), "-I", "/usr/include", "--python_out", str(out),
                    "csi.proto"], check=True)
    sys.path.insert(0, str(out))
    import csi_pb2
    return csi_pb2


@pytest.fixture
def work():
    # not under /tmp: the mount pod gets its own /tmp (an emptyDir)
    d = "/var/tmp/mp%d" % os.getpid()  # short: unix socket paths under <kubelet>/pods/<uid>/... are < 108 bytes
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    yield d
    subprocess.run("grep -o ' %s[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l" % d, shell=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def volume(work):
    vd = os.path.join(work, "vol")
    os.makedirs(os.path.join(vd, "blocks"))
    url = "sqlite3://" + os.path.join(vd, "meta.db")
    subprocess.run([TIDEFS, "format", "--bucket", os.path.join(vd, "blocks"), url, "mpvol"], check=True,
                   capture_output=True)
    subprocess.run(["chown", "-R", "%d:%d" % (UID, UID), vd], check=True)
    return url


class Plugin:
    def __init__(self, work, kube, extra=()):
        self.sock = os.path.join(work, "csi", "csi.sock")
        self.kubelet = kube.kubelet
        self.log = os.path.join(work, "plugin.log")
        self.env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
                    "KUBECONFIG": kube.kubeconfig(os.path.join(work, "kubeconfig"))}
        self.argv = [PLUGIN, "--endpoint", "unix://" + self.sock, "--nodeid", NODE, "--mode", "all",
                     "--kubelet-dir", self.kubelet, "--mounter", "pod", "--mount-pod-image", "tidefs:test",
                     "--mount-pod-namespace", "tidefs", "--mount-pod-priority-class", "tidefs-critical", *extra]
        self.proc = None

    def start(self):
        os.makedirs(self.kubelet, exist_ok=True)
        self.proc = subprocess.Popen(self.argv, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 15
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None and time.time() < deadline, open(self.log).read()[-3000:]
            time.sleep(0.05)
        self.channel = grpc.insecure_channel("unix://" + self.sock)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(30) == 0
        self.channel.close()
        os.unlink(self.sock) if os.path.exists(self.sock) else None

    def call(self, pb, method, req, service="Node", timeout=120):
        resp = getattr(pb, method + "Response")
        fn = self.channel.unary_unary("/csi.v1.%s/%s" % (service, method), request_serializer=lambda m:
                                      m.SerializeToString(), response_deserializer=resp.FromString)
        return fn(req, timeout=timeout)


@pytest.fixture
def kube(work):
    # The mount pod gets an emptyDir on /tmp: a checkout under /tmp would
    # vanish from its view, so it runs a copy of the daemon from the work dir.
    bindir = os.path.join(work, "podbin")
    os.makedirs(bindir, exist_ok=True)
    shutil.copy2(os.path.join(BUILD, "bin", "tidefs"), os.path.join(bindir, "tidefs"))
    os.chmod(bindir, 0o755)
    k = FakeKube(work, NODE, "%s:/usr/bin:/bin:/usr/sbin:/sbin" % bindir)
    yield k
    k.stop()


@pytest.fixture
def plugin(work, kube):
    p = Plugin(work, kube)
    p.start()
    yield p
    p.stop()


def cap(pb):
    return pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(),
                               access_mode=pb.VolumeCapability.AccessMode(mode=5))


def create(pb, plugin, secrets, name):
    plugin.call(pb, "CreateVolume", pb.CreateVolumeRequest(name=name, volume_capabilities=[cap(pb)],
                                                           secrets=secrets), service="Controller")


def publish(pb, plugin, secrets, vol, target, app="app", ctx=None):
    context = {"subPath": "/" + vol, "csi.storage.k8s.io/pod.name": app,
               "csi.storage.k8s.io/pod.namespace": "apps", "csi.storage.k8s.io/pod.uid": "uid-" + app}
    context.update(ctx or {})
    return plugin.call(pb, "NodePublishVolume", pb.NodePublishVolumeRequest(
        volume_id=vol, target_path=target, volume_capability=cap(pb), secrets=secrets, volume_context=context))


def unpublish(pb, plugin, vol, target):
    plugin.call(pb, "NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(volume_id=vol, target_path=target))


def is_mount(path):
    return any(line.split()[4] == path for line in open("/proc/self/mountinfo"))


def wait_for(what, cond, timeout=60):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


class Worker(threading.Thread):
    """Writes and reads back files in a target in a loop; records errors."""

    def __init__(self, target, tag):
        super().__init__(daemon=True)
        self.target, self.tag, self.errors, self.rounds, self.stop = target, tag, [], 0, False

    def run(self):
        i = 0
        while not self.stop:
            p = os.path.join(self.target, "%s-%d" % (self.tag, i % 20))
            data = ("%s %d " % (self.tag, i)).encode() * 200
            try:
                with open(p, "wb") as f:
                    f.write(data)
                with open(p, "rb") as f:
                    if f.read() != data:
                        self.errors.append("content of %s" % p)
            except OSError as e:
                self.errors.append("%s: %s" % (p, e))
            i += 1
            self.rounds += 1
            time.sleep(0.01)


def test_two_pvs_share_one_pod_survive_deletion_crash_and_plugin_restart(pb, work, kube, plugin, volume):
    secrets = {"metaurl": volume, "name": "mpvol"}
    pods_dir = os.path.join(plugin.kubelet, "pods")
    t1, t2 = os.path.join(pods_dir, "a", "mount"), os.path.join(pods_dir, "b", "mount")
    for t in (t1, t2):
        os.makedirs(os.path.dirname(t), exist_ok=True)
    create(pb, plugin, secrets, "pv1")
    create(pb, plugin, secrets, "pv2")
    publish(pb, plugin, secrets, "pv1", t1, app="a")
    publish(pb, plugin, secrets, "pv2", t2, app="b")
    assert is_mount(t1) and is_mount(t2)
    [pod] = kube.pods()
    assert pod["spec"]["nodeName"] == NODE and pod["metadata"]["name"].endswith("-0")
    assert pod["spec"]["priorityClassName"] == "tidefs-critical"
    assert "hostPath" not in json.dumps(pod) and volume not in json.dumps(pod)
    secret = kube.get("secrets", "tidefs", pod["metadata"]["name"])
    assert secret["metadata"]["ownerReferences"][0]["uid"] == pod["metadata"]["uid"]
    # each PV sees only its directory; the daemon serves as the unprivileged uid
    open(os.path.join(t1, "one"), "w").write("1")
    assert not os.path.exists(os.path.join(t2, "one"))
    assert os.stat(os.path.join(t1, "one")).st_size == 1

    w1, w2 = Worker(t1, "a"), Worker(t2, "b")
    w1.start()
    w2.start()
    time.sleep(1)
    # 1. delete the mount pod while both apps read and write: a replacement takes the same fd
    kube.handle("DELETE", "/api/v1/namespaces/tidefs/pods/" + pod["metadata"]["name"], {}, {"gracePeriodSeconds": 1},
                {"Authorization": "Bearer fake-token"})
    wait_for("a replacement pod", lambda: any(p["metadata"]["name"].endswith("-1") and
                                              p.get("status", {}).get("phase") == "Running" for p in kube.pods()))
    r0 = w1.rounds + w2.rounds
    wait_for("I/O after the replacement", lambda: w1.rounds + w2.rounds > r0 + 50)
    # 2. crash the daemon (kill -9): the kubelet restarts the container, which resumes
    [pod1] = kube.pods()
    kube.crash(pod1["metadata"]["name"])
    time.sleep(1)
    r0 = w1.rounds + w2.rounds
    wait_for("I/O after the crash", lambda: w1.rounds + w2.rounds > r0 + 50)
    # 3. restart the plugin: mounts keep working; it takes the fd back from the daemon
    plugin.stop()
    plugin.start()
    time.sleep(1)
    [pod1] = kube.pods()
    kube.handle("DELETE", "/api/v1/namespaces/tidefs/pods/" + pod1["metadata"]["name"], {}, {"gracePeriodSeconds": 1},
                {"Authorization": "Bearer fake-token"})
    wait_for("a replacement after the plugin restart",
             lambda: any(p["metadata"]["name"].endswith("-2") and p.get("status", {}).get("phase") == "Running"
                         for p in kube.pods()))
    r0 = w1.rounds + w2.rounds
    wait_for("I/O after the second replacement", lambda: w1.rounds + w2.rounds > r0 + 50)
    w1.stop = w2.stop = True
    w1.join()
    w2.join()
    assert w1.errors == [] and w2.errors == [], (w1.errors[:5], w2.errors[:5])
    assert open(os.path.join(t1, "one")).read() == "1"
    # 4. the last unpublish unmounts and deletes the pod and its Secret
    unpublish(pb, plugin, "pv1", t1)
    assert not is_mount(t1) and len(kube.pods()) == 1
    unpublish(pb, plugin, "pv2", t2)
    assert not is_mount(t2)
    wait_for("the pod and Secret to go", lambda: not kube.list("pods", "tidefs") and not kube.list("secrets", "tidefs"))
    assert not [l for l in open("/proc/self/mountinfo") if "mountpods/mnt" in l]


def test_pod_error_surfaces_in_publish_and_as_an_event(pb, work, kube, plugin, volume):
    secrets = {"metaurl": volume, "name": "mpvol"}
    create(pb, plugin, secrets, "pv1")
    target = os.path.join(plugin.kubelet, "pods", "c", "mount")
    os.makedirs(os.path.dirname(target))
    # the daemon in the pod cannot open the metadata: chmod it away from the pod's uid
    os.chmod(os.path.join(work, "vol"), 0o700)
    subprocess.run(["chown", "root:root", os.path.join(work, "vol")], check=True)
    with pytest.raises(grpc.RpcError) as e:
        publish(pb, plugin, secrets, "pv1", target, app="c")
    assert "mount pod tidefs/tidefs-" in e.value.details() and "exited with status" in e.value.details(), \
        e.value.details()
    assert volume not in e.value.details()
    [ev] = kube.list("events", "apps")
    assert ev["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "c", "namespace": "apps",
                                    "uid": "uid-c"}
    assert ev["type"] == "Warning" and ev["reason"] == "TidefsMountFailed" and "exited with status" in ev["message"]
    wait_for("the failed pod to be deleted", lambda: not kube.list("pods", "tidefs"))
    assert not is_mount(target)


def test_bad_storage_class_parameter_is_invalid_argument(pb, work, kube, plugin, volume):
    secrets = {"metaurl": volume, "name": "mpvol"}
    create(pb, plugin, secrets, "pv1")
    target = os.path.join(plugin.kubelet, "pods", "d", "mount")
    os.makedirs(os.path.dirname(target))
    with pytest.raises(grpc.RpcError) as e:
        publish(pb, plugin, secrets, "pv1", target, ctx={"tidefs.io/mount-memory-limit": "lots"})
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tidefs.io/mount-memory-limit" in e.value.details()
    assert kube.list("pods", "tidefs") == []
