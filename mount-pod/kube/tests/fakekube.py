# SPDX-License-Identifier: Apache-2.0
"""A stand-in for the Kubernetes API server and one node's kubelet, just
enough for the mount-pod mounter of tidefs-csi to be tested on one machine
without a cluster (the real cluster test is e2e/scenarios/50-mount-pod.sh).

API: pods, secrets and events in namespaces; create (409 AlreadyExists),
get, list with equality label selectors, merge patch, delete (pods go
through graceful termination: deletionTimestamp, SIGTERM, SIGKILL after the
grace period), and the garbage collector for Secrets owned by a pod.

Kubelet: a pod whose spec.nodeName is this node gets its emptyDirs under
<kubelet>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>, and its one
container runs as a local process the way a restricted pod would: a
private mount namespace with the emptyDirs bound at their mountPaths,
runAsUser/runAsGroup, every capability dropped, no_new_privs; env from
secretKeyRef; $(VAR) expanded in args; restartPolicy Always; container
statuses with the last log lines as the termination message
(FallbackToLogsOnError)."""
import base64
import copy
import http.server
import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid


def _merge(dst, patch):
    for k, v in patch.items():
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Launcher:
    """Client of launcher.py (see there for why containers are not forked
    from the test process)."""

    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "launcher.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.started, self.exits, self.next_id = {}, {}, 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self.cond:
                if "id" in msg:
                    self.started[msg["id"]] = msg["pid"]
                else:
                    self.exits[msg["exit"]] = msg["rc"]
                self.cond.notify_all()

    def _send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def spawn(self, argv, env, log):
        with self.cond:
            self.next_id += 1
            i = self.next_id
            self._send({"op": "spawn", "id": i, "argv": argv, "env": env, "log": log})
            self.cond.wait_for(lambda: i in self.started)
            return self.started.pop(i)

    def signal(self, pid, sig):
        with self.lock:
            self._send({"op": "signal", "pid": pid, "sig": sig})

    def wait(self, pid, timeout=None):
        with self.cond:
            if not self.cond.wait_for(lambda: pid in self.exits, timeout):
                return None
            return self.exits[pid]

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(10)


class Container(threading.Thread):
    """Runs one pod's container, restarting it while the pod lives."""

    def __init__(self, kube, pod):
        super().__init__(daemon=True)
        self.kube, self.ns, self.name = kube, pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.pid = None
        self.stopping = False
        self.restarts = 0

    def _argv_env(self, pod):
        c = pod["spec"]["containers"][0]
        env = {"PATH": self.kube.path}
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                sec = self.kube.get("secrets", self.ns, ref["name"])
                data = (sec or {}).get("data", {})
                if ref["key"] in data:
                    env[e["name"]] = base64.b64decode(data[ref["key"]]).decode()
                elif not ref.get("optional"):
                    return None, None, "CreateContainerConfigError"
            else:
                env[e["name"]] = e.get("value", "")
        args = [a for a in c.get("args", [])]
        for i, a in enumerate(args):
            for k, v in env.items():
                a = a.replace("$(%s)" % k, v)
            args[i] = a
        return c["command"] + args, env, None

    def _script(self, pod):
        """The shell that sets up the container's mount namespace."""
        vols = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        lines = []
        for m in pod["spec"]["containers"][0].get("volumeMounts", []):
            v = vols[m["name"]]
            assert "emptyDir" in v, "only emptyDir volumes are expected in a mount pod"
            src = self.kube.empty_dir(self.uid, m["name"])
            os.makedirs(m["mountPath"], exist_ok=True)
            lines.append("mount --bind '%s' '%s'" % (src, m["mountPath"]))
        sc = pod["spec"]["containers"][0]["securityContext"]
        uid = sc.get("runAsUser", pod["spec"].get("securityContext", {}).get("runAsUser"))
        gid = sc.get("runAsGroup", uid)
        lines.append('exec setpriv --reuid=%d --regid=%d --clear-groups --inh-caps=-all --bounding-set=-all '
                     '--no-new-privs -- "$@"' % (uid, gid))
        return " && ".join(lines)

    def run(self):
        while not self.stopping:
            pod = self.kube.get("pods", self.ns, self.name)
            if pod is None:
                return
            argv, env, waiting = self._argv_env(pod)
            if waiting:
                self.kube.set_status(self.ns, self.name, "Pending", {"waiting": {"reason": waiting}}, None,
                                     self.restarts)
                time.sleep(1)
                continue
            log = os.path.join(self.kube.logdir, "%s-%d.log" % (self.name, self.restarts))
            self.pid = self.kube.launcher.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                                 self._script(pod), "sh", *argv], env, log)
            self.kube.set_status(self.ns, self.name, "Running", {"running": {"startedAt": _now()}}, None,
                                 self.restarts)
            rc = self.kube.launcher.wait(self.pid)
            if self.stopping:
                return
            tail = open(log, "rb").read()[-2048:].decode(errors="replace")
            last = {"terminated": {"exitCode": rc if rc >= 0 else 128 - rc,
                                   "reason": "Error" if rc else "Completed", "message": tail}}
            self.restarts += 1
            self.kube.set_status(self.ns, self.name, "Running",
                                 {"waiting": {"reason": "CrashLoopBackOff"}} if self.restarts > 3 else
                                 {"waiting": {"reason": "ContainerCreating"}}, last, self.restarts)
            time.sleep(0.5 if self.restarts <= 3 else 2)

    def terminate(self, grace):
        self.stopping = True
        launcher, pid = self.kube.launcher, self.pid
        if pid:
            launcher.signal(pid, signal.SIGTERM)
            if launcher.wait(pid, grace) is None:
                launcher.signal(pid, signal.SIGKILL)
                launcher.wait(pid)

    def kill(self):
        """A crash of the daemon (the kubelet restarts it)."""
        if self.pid:
            self.kube.launcher.signal(self.pid, signal.SIGKILL)


class FakeKube:
    def __init__(self, workdir, node, path):
        self.objs = {}  # (plural, ns, name) -> obj
        self.lock = threading.RLock()
        self.node = node
        self.path = path
        self.kubelet = os.path.join(workdir, "kubelet")
        self.logdir = os.path.join(workdir, "pod-logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.containers = {}
        self.requests = []
        self.launcher = Launcher()
        kube = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                url = urllib.parse.urlsplit(self.path)
                code, out = kube.handle(self.command, url.path, dict(urllib.parse.parse_qsl(url.query)), body,
                                        self.headers)
                data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _do

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, path, namespace="tidefs"):
        with open(path, "w") as f:
            f.write("apiVersion: v1\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n"
                    f"    server: http://127.0.0.1:{self.port}\n"
                    f"contexts:\n- name: t\n  context: {{cluster: c, user: u, namespace: {namespace}}}\n"
                    "users:\n- name: u\n  user: {token: fake-token}\n")
        return path

    def stop(self):
        for c in list(self.containers.values()):
            c.terminate(5)
        self.server.shutdown()
        self.launcher.stop()

    # ---- store ----

    def get(self, plural, ns, name):
        with self.lock:
            o = self.objs.get((plural, ns, name))
            return copy.deepcopy(o) if o else None

    def list(self, plural, ns=None):
        with self.lock:
            return [copy.deepcopy(o) for (p, n, _), o in self.objs.items() if p == plural and (ns is None or n == ns)]

    def empty_dir(self, uid, name):
        d = os.path.join(self.kubelet, "pods", uid, "volumes", "kubernetes.io~empty-dir", name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        return d

    def set_status(self, ns, name, phase, state, last, restarts):
        with self.lock:
            o = self.objs.get(("pods", ns, name))
            if not o:
                return
            cs = {"name": "tidefs", "state": state, "restartCount": restarts}
            if last:
                cs["lastState"] = last
            o["status"] = {"phase": phase, "containerStatuses": [cs]}

    # ---- the API ----

    def handle(self, method, path, query, body, headers):
        parts = path.strip("/").split("/")
        self.requests.append((method, path, query))
        if headers.get("Authorization") != "Bearer fake-token":
            return 401, {"kind": "Status", "reason": "Unauthorized", "message": "Unauthorized"}
        if len(parts) < 5 or parts[:3] != ["api", "v1", "namespaces"]:
            return 404, {"kind": "Status", "reason": "NotFound", "message": "no such path " + path}
        ns, plural, name = parts[3], parts[4], parts[5] if len(parts) > 5 else None
        with self.lock:
            if method == "POST":
                return self._create(plural, ns, body)
            if method == "GET" and name is None:
                items = self.list(plural, ns)
                sel = query.get("labelSelector")
                if sel:
                    want = dict(kv.split("=", 1) for kv in sel.split(","))
                    items = [o for o in items if all(o["metadata"].get("labels", {}).get(k) == v
                                                     for k, v in want.items())]
                return 200, {"kind": "List", "items": items}
            o = self.objs.get((plural, ns, name))
            if o is None:
                return 404, {"kind": "Status", "reason": "NotFound", "message": '%s "%s" not found' % (plural, name)}
            if method == "GET":
                return 200, o
            if method == "PATCH":
                if "stringData" in body:
                    body = dict(body)
                    body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in body.pop("stringData").items()}
                _merge(o, body)
                return 200, o
            if method == "DELETE":
                return self._delete(plural, ns, name, body or {})
        return 405, {"kind": "Status", "message": "method"}

    def _create(self, plural, ns, obj):
        name = obj["metadata"]["name"]
        if (plural, ns, name) in self.objs:
            return 409, {"kind": "Status", "reason": "AlreadyExists", "message": '%s "%s" already exists' % (plural, name)}
        obj = copy.deepcopy(obj)
        obj["metadata"]["uid"] = str(uuid.uuid4())
        obj["metadata"]["namespace"] = ns
        obj["metadata"]["creationTimestamp"] = _now()
        if plural == "secrets" and "stringData" in obj:
            obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()}
        self.objs[(plural, ns, name)] = obj
        if plural == "pods":
            obj["status"] = {"phase": "Pending"}
            if obj["spec"].get("nodeName") == self.node:
                c = Container(self, obj)
                self.containers[obj["metadata"]["uid"]] = c
                c.start()
        return 201, obj

    def _delete(self, plural, ns, name, opts):
        o = self.objs[(plural, ns, name)]
        if plural != "pods":
            del self.objs[(plural, ns, name)]
            return 200, {"kind": "Status", "status": "Success"}
        if "deletionTimestamp" not in o["metadata"]:
            o["metadata"]["deletionTimestamp"] = _now()
            grace = opts.get("gracePeriodSeconds", 30)
            threading.Thread(target=self._terminate, args=(ns, name, o["metadata"]["uid"], grace), daemon=True).start()
        return 200, o

    def _terminate(self, ns, name, uid, grace):
        c = self.containers.pop(uid, None)
        if c:
            c.terminate(min(grace, 10))
        with self.lock:
            self.objs.pop(("pods", ns, name), None)
            for key, o in list(self.objs.items()):  # the garbage collector
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", [])):
                    del self.objs[key]

    # ---- test helpers ----

    def pods(self, ns="tidefs"):
        return [p for p in self.list("pods", ns) if "deletionTimestamp" not in p["metadata"]]

    def crash(self, name, ns="tidefs"):
        pod = self.get("pods", ns, name)
        self.containers[pod["metadata"]["uid"]].kill()
