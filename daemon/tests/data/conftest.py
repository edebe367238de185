# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the data path suite: real tidefs mounts (harness.TidefsVolume
from the integration suite) on the file store or on a local S3 server
(scripts/s3-server.sh, SeaweedFS) reached through the fault proxy
(daemon/tests/s3/faultproxy.py), which counts every request so the tests
can tell whether a read reached the object store."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "daemon" / "tests" / "integration"))
import harness  # noqa: E402

MIB = 1 << 20
BLOCK = 4 * MIB  # the format's default block size


def pytest_sessionstart(session):
    harness.become_subreaper()


@pytest.fixture(scope="session")
def workdir():
    base = Path(tempfile.mkdtemp(prefix="tidefs-data-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cfg(workdir):
    """The harness configuration with a private copy of build/bin (a rebuild
    by a teammate during the run must not change the binary under test)."""
    if os.geteuid() != 0:
        pytest.skip("FUSE mounts need root")
    c = harness.Config()
    src = Path(c.bin).parent
    if not os.access(c.bin, os.X_OK):
        pytest.exit(f"tidefs binary not found at {c.bin}: run `make daemon`", returncode=1)
    shutil.copytree(src, workdir / "bin", symlinks=True)
    c.bin = str(workdir / "bin" / "tidefs")
    c.meta, c.storage = "sqlite", "file"
    return c


class Proxy:
    """Control of the fault proxy: rules and request counts."""

    def __init__(self, url):
        self.url = url

    def _call(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(self.url + path, data=data, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def reset(self):
        self._call("/__proxy/reset", {})

    def rules(self, rules):
        self._call("/__proxy/rules", rules)

    def requests(self, method, needle="/chunks/"):
        """{path: count} of METHOD requests whose path contains needle."""
        reqs = self._call("/__proxy/stats")["requests"]
        out = {}
        for key, n in reqs.items():
            m, _, path = key.partition(" ")
            if m == method and needle in path:
                out[path] = n
        return out

    def count(self, method, needle="/chunks/"):
        return sum(self.requests(method, needle).values())


@pytest.fixture(scope="session")
def s3(workdir):
    """A SeaweedFS S3 server and the fault proxy in front of it."""
    server = workdir / "s3server"
    r = subprocess.run([str(REPO / "scripts" / "s3-server.sh"), "start", str(server)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"scripts/s3-server.sh start failed:\n{r.stderr}")
    saved = dict(os.environ)
    for line in r.stdout.splitlines():
        k, _, v = line.replace("export ", "").partition("=")
        os.environ[k] = v
    os.environ.pop("AWS_SESSION_TOKEN", None)
    port_file = workdir / "proxy.port"
    proxy = subprocess.Popen(["/usr/bin/python3", str(REPO / "daemon" / "tests" / "s3" / "faultproxy.py"),
                              "--upstream", (server / "port").read_text().strip(),
                              "--port-file", str(port_file)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        if port_file.exists() and port_file.read_text().strip():
            break
        time.sleep(0.1)
    url = "http://127.0.0.1:" + port_file.read_text().strip()
    yield Proxy(url)
    proxy.kill()
    proxy.wait()
    subprocess.run([str(REPO / "scripts" / "s3-server.sh"), "stop", str(server)], capture_output=True)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def volumes(request, cfg, workdir):
    """make(storage='file'|S3 proxy, mount_args=()) -> a formatted, mounted
    harness.TidefsVolume (cache dir: vol.cache_dir); all cleaned up after."""
    made, proxies = [], []

    def make(proxy=None, mount_args=(), name="datavol"):
        c = harness.copy.copy(cfg)
        if proxy:
            proxies.append(proxy)
            c.storage, c.s3_endpoint = "s3", proxy.url + "/tidefs-data"
        voldir = workdir / f"{request.node.name.lower().replace('_', '-')[:40]}-{len(made)}"
        # the shared test machine's disk may be fuller than the default
        # --free-space-ratio allows; the cache under test must still work
        args = ["--free-space-ratio", "0", *mount_args]
        vol = harness.TidefsVolume(c, voldir, name=name, mount_args=args)
        made.append(vol)
        vol.format()
        vol.mount()
        return vol

    yield make
    call = getattr(request.node, "rep_call", None)
    for proxy in {id(p): p for p in proxies}.values():
        proxy.reset()  # a failed test may have left the store refusing requests
    problems = []
    for vol in made:
        if call is not None and call.failed:
            print(f"--- daemon log of {vol.dir} ---\n{vol.log_tail(limit=8000)}")
        problems += vol.cleanup()
    assert not problems, "; ".join(problems)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ------------------------------------------------------------------ helpers

def write_file(path, data, chunk=MIB):
    with open(path, "wb") as f:
        for off in range(0, len(data), chunk):
            f.write(data[off:off + chunk])
        f.flush()
        os.fsync(f.fileno())


def read_file(path):
    """The file's content as the daemon serves it now: the kernel's cached
    pages of it are dropped first, so every byte is asked of the daemon."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        out = bytearray()
        while True:
            b = os.read(fd, MIB)
            if not b:
                return bytes(out)
            out += b
    finally:
        os.close(fd)


def cache_files(vol, area="raw"):
    """Files of the volume's disk cache (area raw) or staging (rawstaging)."""
    root = vol.cache_dir / vol.name / area
    return [Path(d) / f for d, _, fs in os.walk(root) for f in fs] if root.exists() else []


def cache_bytes(vol):
    return sum(p.stat().st_size for p in cache_files(vol))


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0
