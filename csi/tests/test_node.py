# SPDX-License-Identifier: Apache-2.0
"""The node service with real tidefs mounts: publish (read-write and
read-only), idempotency, secrets only in the daemon's environment, stats,
unpublish removing the target, and recovery from a killed daemon."""
import errno
import os
import signal
import time

import grpc
import pytest

from conftest import mount_cap
from test_server import create

SC = grpc.StatusCode
CANARY = "CANARY-node-5e1f"


def daemons_for(target):
    """pids of processes whose command line names target"""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if target.encode() in argv and pid != str(os.getpid()):
            pids.append(int(pid))
    return pids


def publish(pb, client, secrets, vol, target, readonly=False, sub=None, mode=1):
    return client.call("Node", "NodePublishVolume", pb.NodePublishVolumeRequest(
        volume_id=vol, target_path=target, volume_capability=mount_cap(pb, mode), readonly=readonly,
        secrets=secrets, volume_context={"subPath": sub or "/" + vol}), timeout=90)


def unpublish(pb, client, vol, target):
    return client.call("Node", "NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(
        volume_id=vol, target_path=target), timeout=90)


@pytest.fixture
def pods(plugin):
    d = os.path.join(plugin.kubelet, "pods")
    os.makedirs(d, exist_ok=True)
    return d


def test_publish_write_stats_unpublish(pb, client, plugin, secrets, pods):
    secrets = dict(secrets, **{"access-key": CANARY + "-ak", "secret-key": CANARY + "-sk"})
    create(pb, client, secrets, "pvc-n", required=1 << 30)
    target = os.path.join(pods, "p1-mount")
    publish(pb, client, secrets, "pvc-n", target)
    publish(pb, client, secrets, "pvc-n", target)  # the same again: OK
    with open(os.path.join(target, "hello"), "w") as f:
        f.write("tidefs")
    # secrets: in the daemon's environment, never in its argv or the mount table
    pids = daemons_for(target)
    assert pids
    for pid in pids:
        assert CANARY.encode() not in open("/proc/%d/cmdline" % pid, "rb").read()
    assert any(b"AWS_SECRET_ACCESS_KEY=" + CANARY.encode() in open("/proc/%d/environ" % pid, "rb").read() for pid in pids)
    assert CANARY not in open("/proc/self/mountinfo").read()
    # another publication on the same target: ALREADY_EXISTS
    code, _ = client.code("Node", "NodePublishVolume", pb.NodePublishVolumeRequest(
        volume_id="pvc-n", target_path=target, volume_capability=mount_cap(pb), readonly=True, secrets=secrets,
        volume_context={"subPath": "/pvc-n"}))
    assert code == SC.ALREADY_EXISTS
    # the whole volume, read-only, elsewhere: sees the file in /pvc-n, cannot write
    whole = os.path.join(pods, "p2-mount")
    publish(pb, client, secrets, "pvc-n", whole, readonly=True, sub="/")
    assert open(os.path.join(whole, "pvc-n", "hello")).read() == "tidefs"
    with pytest.raises(OSError) as e:
        open(os.path.join(whole, "pvc-n", "nope"), "w")
    assert e.value.errno == errno.EROFS
    stats = client.call("Node", "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(
        volume_id="pvc-n", volume_path=target))
    units = {u.unit: u for u in stats.usage}
    assert set(units) == {pb.VolumeUsage.BYTES, pb.VolumeUsage.INODES}
    assert units[pb.VolumeUsage.INODES].used >= 1 and units[pb.VolumeUsage.BYTES].total > 0
    assert not stats.volume_condition.abnormal
    for t in (target, whole):
        unpublish(pb, client, "pvc-n", t)
        assert not os.path.exists(t)
        unpublish(pb, client, "pvc-n", t)  # again: OK
    code, _ = client.code("Node", "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(
        volume_id="pvc-n", volume_path=target))
    assert code == SC.NOT_FOUND


def test_missing_subdir_is_not_found(pb, client, plugin, secrets, pods):
    target = os.path.join(pods, "p3-mount")
    code, msg = client.code("Node", "NodePublishVolume", pb.NodePublishVolumeRequest(
        volume_id="pvc-none", target_path=target, volume_capability=mount_cap(pb), secrets=secrets,
        volume_context={"subPath": "/pvc-none"}))
    assert code == SC.NOT_FOUND and "does not exist" in msg
    assert not os.path.exists(target)


def test_killed_daemon_is_reported_and_cleaned_up(pb, client, plugin, secrets, pods):
    create(pb, client, secrets, "pvc-k")
    target = os.path.join(pods, "p4-mount")
    publish(pb, client, secrets, "pvc-k", target)
    for pid in daemons_for(target):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    stats = client.call("Node", "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(
        volume_id="pvc-k", volume_path=target), timeout=30)
    # either a supervisor brought the daemon back, or the condition says so
    assert stats.volume_condition.abnormal == (len(stats.usage) == 0)
    unpublish(pb, client, "pvc-k", target)
    assert not os.path.exists(target)
    assert (" %s " % target) not in open("/proc/self/mountinfo").read()
