# SPDX-License-Identifier: Apache-2.0
#
# Full-mount S3 fault tests: a tidefs volume whose blocks live in a real
# SeaweedFS (scripts/s3-server.sh) reached through faultproxy.py, mounted
# with FUSE, and the pass criteria checked on files:
#   1. 20% of PUTs answered 503 SlowDown: a copy of TIDEFS_S3_COPY_MB
#      (default 1024) MiB completes, its sha256 matches after a remount
#      (cold read), and no block took more than 1 + io_retries attempts;
#   2. 10% each of 500, 502, 504, 429 and connection resets: same;
#   3. flipped bits in 10% of GET bodies: the cold read is still right;
#   4. 100% 503: write + fsync fail with EIO within the documented bound,
#      the daemon's memory stays under the buffer limit + 64 MiB, and once
#      the server answers again the same mount writes and reads correctly.
# Needs root (FUSE) and Go (SeaweedFS is built once); run with
#   /usr/bin/python3 -m pytest -q daemon/tests/s3/test_s3_mount.py
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TIDEFS = os.environ.get("TIDEFS_BIN", os.path.join(ROOT, "build", "bin", "tidefs"))
COPY_MB = int(os.environ.get("TIDEFS_S3_COPY_MB", "1024"))
MAX_ATTEMPTS = 11  # 1 + the default io_retries
BUFFER_MB = 300  # the mount's default --buffer-size
# Documented bound of one request against a server answering 503 at once:
# the backoff delays of 10 retries (26.3 s) plus round trips.
OUTAGE_BOUND_S = 26.3 + 10


def control(proxy, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(proxy + path, data=data, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def set_rules(proxy, rules):
    control(proxy, "/__proxy/reset", {})
    control(proxy, "/__proxy/rules", rules)


def max_attempts(proxy, method):
    reqs = control(proxy, "/__proxy/stats")["requests"]
    counts = [n for k, n in reqs.items() if k.startswith(method + " ") and "/chunks/" in k]
    return max(counts or [0]), sum(counts)


@pytest.fixture(scope="module")
def s3env():
    if os.geteuid() != 0:
        pytest.skip("FUSE mounts need root")
    work = tempfile.mkdtemp(prefix="tidefs-s3m.")
    server = os.path.join(work, "server")
    out = subprocess.run([os.path.join(ROOT, "scripts", "s3-server.sh"), "start", server],
                         check=True, capture_output=True, text=True).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        k, _, v = line.replace("export ", "").partition("=")
        env[k] = v
    env.pop("AWS_SESSION_TOKEN", None)
    port_file = os.path.join(work, "proxy.port")
    with open(os.path.join(work, "server", "port")) as f:
        upstream = f.read().strip()
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "daemon", "tests", "s3", "faultproxy.py"),
                              "--upstream", upstream, "--port-file", port_file],
                             stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(port_file):
            break
        time.sleep(0.1)
    with open(port_file) as f:
        proxy_url = "http://127.0.0.1:" + f.read().strip()
    src = os.path.join(work, "src.bin")
    with open(src, "wb") as f:
        for _ in range(COPY_MB):
            f.write(os.urandom(1 << 20))
    yield {"work": work, "env": env, "proxy": proxy_url, "src": src, "sha": sha256(src)}
    proxy.kill()
    proxy.wait()
    subprocess.run([os.path.join(ROOT, "scripts", "s3-server.sh"), "stop", server])
    subprocess.run(["rm", "-rf", work])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


class Volume:
    """A freshly formatted volume (its own bucket prefix) and its mount."""

    def __init__(self, s3env, name):
        self.s3env, self.env = s3env, s3env["env"]
        self.dir = os.path.join(s3env["work"], name)
        self.mnt = os.path.join(self.dir, "mnt")
        self.meta = "sqlite3://" + os.path.join(self.dir, "meta.db")
        self.log = os.path.join(self.dir, "mount.log")
        os.makedirs(self.mnt)
        subprocess.run([TIDEFS, "format", "--storage", "s3", "--bucket", s3env["proxy"] + "/tidefs-mount/" + name,
                        self.meta, name], check=True, env=self.env, capture_output=True)

    def mount(self):
        subprocess.run([TIDEFS, "mount", "-d", "--log", self.log, self.meta, self.mnt], check=True, env=self.env,
                       timeout=60)

    def umount(self):
        subprocess.run([TIDEFS, "umount", self.mnt], check=True, timeout=120)

    def pid(self):
        """The serving daemon: `mount -d` leaves a keeper holding the fuse fd
        and a daemon started with --fuse-fd-socket; prefer the latter."""
        found = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        args = f.read().split(b"\0")
                except OSError:
                    continue
                if os.path.basename(args[0]) == b"tidefs" and b"mount" in args and self.mnt.encode() in args:
                    found.append((any(a.startswith(b"--fuse-fd") for a in args), int(p)))
        return max(found)[1] if found else None


def copy_and_verify(s3env, name, rules, read_rules=None):
    v = Volume(s3env, name)
    proxy = s3env["proxy"]
    v.mount()
    try:
        set_rules(proxy, rules)
        t0 = time.time()
        subprocess.run(["cp", s3env["src"], os.path.join(v.mnt, "f")], check=True)
        subprocess.run(["sync", "-f", os.path.join(v.mnt, "f")], check=True)
        wrote = time.time() - t0
        put_max, put_total = max_attempts(proxy, "PUT")
    finally:
        v.umount()
    set_rules(proxy, read_rules or rules)
    v.mount()
    try:
        t0 = time.time()
        got = sha256(os.path.join(v.mnt, "f"))
        read = time.time() - t0
        get_max, get_total = max_attempts(proxy, "GET")
    finally:
        v.umount()
    print("%s: %d MiB written in %.1f s (%d PUTs, max %d per block), cold read in %.1f s (%d GETs, max %d)"
          % (name, COPY_MB, wrote, put_total, put_max, read, get_total, get_max))
    assert got == s3env["sha"]
    assert put_max <= MAX_ATTEMPTS and get_max <= MAX_ATTEMPTS
    return put_total, get_total


def test_slowdown_on_puts(s3env):
    puts, _ = copy_and_verify(s3env, "slowdown",
                              [{"method": "PUT", "prob": 0.2, "action": "status", "status": 503, "code": "SlowDown"}])
    assert puts > COPY_MB // 4  # every 4 MiB block was stored, some more than once


def test_mixed_errors(s3env):
    rules = [{"prob": 0.1, "action": "status", "status": s, "code": c}
             for s, c in ((500, "InternalError"), (502, "BadGateway"), (504, "GatewayTimeout"),
                          (429, "TooManyRequests"))]
    copy_and_verify(s3env, "mixed", rules + [{"prob": 0.1, "action": "reset"}])


def test_flipped_bits_never_reach_the_application(s3env):
    copy_and_verify(s3env, "flip", [], [{"method": "GET", "prob": 0.1, "action": "flip"}])


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def test_outage_then_recovery(s3env):
    v = Volume(s3env, "outage")
    proxy = s3env["proxy"]
    v.mount()
    try:
        pid = v.pid()
        assert pid, "mount daemon not found"
        peak = [0.0]
        stop = threading.Event()

        def sample():  # the daemon's peak RSS while the outage lasts
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mb(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        set_rules(proxy, [{"action": "status", "status": 503, "code": "ServiceUnavailable"}])
        data = os.urandom(32 << 20)
        t0 = time.time()
        fd = os.open(os.path.join(v.mnt, "during"), os.O_WRONLY | os.O_CREAT, 0o644)
        err = None
        try:
            os.write(fd, data)
            os.fsync(fd)
        except OSError as e:
            err = e.errno
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
        took = time.time() - t0
        stop.set()
        sampler.join()
        print("outage: write+fsync -> errno %s after %.1f s (bound %.1f s), daemon peak RSS %.0f MiB"
              % (err, took, OUTAGE_BOUND_S, peak[0]))
        assert err == 5  # EIO
        assert took < OUTAGE_BOUND_S
        assert 0 < peak[0] < BUFFER_MB + 64
        set_rules(proxy, [])
        path = os.path.join(v.mnt, "after")
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with open(path, "rb") as f:
            assert f.read() == data
    finally:
        set_rules(proxy, [])
        v.umount()
