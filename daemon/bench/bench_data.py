#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The data path benchmark of issue 5: `make -C daemon/bench build` (nullfs),
then `/usr/bin/python3 daemon/bench/bench_data.py --build build` as root.

In one run, back to back on the same machine, it starts a local S3 server
(scripts/s3-server.sh: SeaweedFS on loopback) and measures:
  - the store's own speed: parallel curl PUTs and GETs of the same number of
    4 MiB blocks tidefs moves (curl --parallel, as many at once as tidefs'
    --max-uploads), the ceiling tidefs is compared with;
  - tidefs on that store: a sequential write of random data + fsync, then
    cold sequential reads (caches emptied and remounted before each run:
    every block comes from S3) and warm ones (from the caches), fio psync
    with bs 1M and 4M, 1 and 2 jobs, and warm random 4 KiB reads;
  - the null FUSE filesystem (nullfs, this machine's FUSE ceiling) with the
    same fio jobs, for the warm reads;
  - `tidefs bench` on the S3 volume.
It prints each figure, the ratio and the issue's target, the machine and
every command line (credentials reach curl through a config file, never
argv). Speed is measured, never asserted. Knobs: environment variables
(see --help).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (BenchError, Log, NullMount, drop_file_cache, env_int,  # noqa: E402
                   find_pids, force_unmount, is_mounted, wait_for)

MIB = 1 << 20
BLOCK = 4 * MIB
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

HELP_ENV = """environment:
  BENCH_DATA_MIB=1024    size of the file written and read (and of the curl set)
  BENCH_SECS=10          seconds of each random-read run
  BENCH_TMPDIR=/var/tmp  where the server data, cache and local files live
  BENCH_MOUNT_OPTS=...   extra arguments for `tidefs mount`
"""


class S3:
    """The local S3 server, and curl's view of it."""

    def __init__(self, log, tmp):
        self.log, self.dir = log, os.path.join(tmp, "s3server")
        self.env = {}
        self.curlcfg = os.path.join(tmp, "curl.cfg")

    def start(self):
        out = self.log.run([os.path.join(REPO, "scripts", "s3-server.sh"), "start", self.dir], timeout=900)
        for line in out.splitlines():
            k, _, v = line.replace("export ", "").partition("=")
            self.env[k] = v
        os.environ.update(self.env)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        fd = os.open(self.curlcfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:  # the secret stays out of argv
            f.write(f'user = "{self.env["AWS_ACCESS_KEY_ID"]}:{self.env["AWS_SECRET_ACCESS_KEY"]}"\n')
        self.endpoint = self.env["TIDEFS_S3_ENDPOINT"]

    def stop(self):
        subprocess.run([os.path.join(REPO, "scripts", "s3-server.sh"), "stop", self.dir],
                       capture_output=True, timeout=60)

    CURL = ["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3",
            "--expect100-timeout", "0.001"]  # no 100-continue wait (tidefs sends no Expect)

    def curl(self, args, timeout=600):
        return self.log.run([*self.CURL, "-K", self.curlcfg, *args], timeout=timeout)

    def parallel(self, method, keys, files, width):
        """MiB/s of PUTting files to keys (or GETting keys), `width` at once
        (one curl process, --parallel: the least CPU per byte)."""
        args = ["--parallel", "--parallel-max", str(width)]
        for k, f in zip(keys, files):
            url = f"{self.endpoint}/{k}"
            args += ["-T", f, url] if method == "PUT" else ["-o", "/dev/null", url]
        shown = f"-T FILE {self.endpoint}/KEY" if method == "PUT" else f"-o /dev/null {self.endpoint}/KEY"
        self.log.commands.append(" ".join([*self.CURL, "-K", self.curlcfg, *args[:3], shown, "...",
                                           f"({len(keys)} blocks of 4 MiB)"]))
        t0 = time.monotonic()
        p = subprocess.run([*self.CURL, "-K", self.curlcfg, *args], capture_output=True, text=True, timeout=900)
        if p.returncode:
            raise BenchError(f"curl {method} failed ({p.returncode}): {p.stderr.strip()[-200:]}")
        return len(keys) * BLOCK / MIB / (time.monotonic() - t0)


class DataBench:
    def __init__(self, args):
        self.log = Log()
        self.build = os.path.abspath(args.build)
        self.size = env_int("BENCH_DATA_MIB", 1024, 64) * MIB
        self.secs = env_int("BENCH_SECS", 10, 1)
        self.extra = os.environ.get("BENCH_MOUNT_OPTS", "").split()
        self.tmp = tempfile.mkdtemp(prefix="tidefs-bench-data-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp"))
        self.tidefs = os.path.join(self.build, "bin", "tidefs")
        self.s3 = S3(self.log, self.tmp)
        self.null = NullMount(self.log, self.build, os.path.join(self.tmp, "nullfs"))
        self.mnt = os.path.join(self.tmp, "mnt")
        self.cache = os.path.join(self.tmp, "cache")
        self.meta = f"sqlite3://{self.tmp}/meta.db"
        self.rows = []
        self.width = 20  # tidefs' default --max-uploads; the curl runs use the same

    # --- tidefs mount -----------------------------------------------------

    def mount(self):
        os.makedirs(self.mnt, exist_ok=True)
        self.log.run([self.tidefs, "mount", "-d", "--log", os.path.join(self.tmp, "tidefs.log"),
                      "--cache-dir", self.cache, *self.extra, self.meta, self.mnt], timeout=120)
        wait_for(lambda: is_mounted(self.mnt), 10, "the tidefs mount")

    def umount(self):
        pids = find_pids(self.tidefs, self.mnt)
        self.log.run([self.tidefs, "umount", self.mnt], timeout=300)
        wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 60, "the daemon to exit")

    def cold(self):
        """Remount with no cache: every block comes from the store."""
        self.umount()
        shutil.rmtree(self.cache, ignore_errors=True)
        self.mount()

    # --- measurements -----------------------------------------------------

    def fio(self, path, rw, bs, jobs, size=None, runtime=None):
        per = (size or self.size) // jobs
        argv = ["fio", f"--name={rw}", f"--filename={path}", f"--rw={rw}", f"--bs={bs}", f"--numjobs={jobs}",
                f"--size={per}", f"--offset_increment={per}", "--ioengine=psync", "--invalidate=1",
                "--group_reporting", "--output-format=json"]
        if runtime:
            argv += ["--time_based", f"--runtime={runtime}"]
        out = self.log.run(argv, timeout=900)
        return json.loads(out[out.index("{"):])["jobs"][0]["read"]["bw_bytes"] / MIB

    def add(self, what, value, unit, base_name, base, target):
        ratio = value / base if base else None
        met = "" if ratio is None or target is None else ("yes" if ratio >= target else "NO")
        self.rows.append((what, f"{value:,.0f} {unit}", base_name, f"{base:,.0f}" if base else "",
                          f"{ratio:.2f}" if ratio is not None else "", f">= {target}" if target else "", met))
        print(f"  {what}: {value:,.1f} {unit}" + (f"  ({ratio:.2f}x {base_name} {base:,.1f})" if ratio else ""),
              flush=True)

    def phase_curl(self):
        print("\n== the store alone: parallel curl of 4 MiB blocks")
        n = self.size // BLOCK
        src = os.path.join(self.tmp, "blocks")
        os.makedirs(src)
        files = []
        for i in range(n):
            files.append(os.path.join(src, f"b{i}"))
            with open(files[-1], "wb") as f:
                f.write(os.urandom(BLOCK))
        self.s3.curl(["-X", "PUT", f"{self.s3.endpoint}/curl-baseline", "-o", "/dev/null"])
        keys = [f"curl-baseline/b{i}" for i in range(n)]
        self.curl_put = self.s3.parallel("PUT", keys, files, self.width)
        self.curl_get = self.s3.parallel("GET", keys, files, self.width)
        print(f"  curl PUT {self.curl_put:,.1f} MiB/s, GET {self.curl_get:,.1f} MiB/s ({n} blocks, "
              f"{self.width} at once)")
        shutil.rmtree(src)

    def phase_write(self):
        print("\n== tidefs on S3: sequential write of random data + fsync")
        self.log.run([self.tidefs, "format", "--storage", "s3", "--bucket", f"{self.s3.endpoint}/tidefs-bench",
                      self.meta, "benchvol"])
        self.mount()
        pattern = os.urandom(64 * MIB)
        path = os.path.join(self.mnt, "data")
        t0 = time.monotonic()
        with open(path, "wb") as f:
            for off in range(0, self.size, MIB):
                p = off % len(pattern)
                f.write(pattern[p:p + MIB])
            f.flush()
            os.fsync(f.fileno())
        rate = self.size / MIB / (time.monotonic() - t0)
        self.add("seq write 1M + fsync", rate, "MiB/s", "curl PUT", self.curl_put, 0.8)

    def phase_reads(self):
        print("\n== sequential reads: cold (from S3) and warm (from the caches)")
        path = os.path.join(self.mnt, "data")
        nfile = os.path.join(self.null.path, "data")
        self.null.start()
        self.log.run(["truncate", "-s", str(self.size), nfile])
        for bs in ("1M", "4M"):
            for jobs in (1, 2):
                self.cold()
                cold = self.fio(path, "read", bs, jobs)
                self.add(f"cold seq read bs={bs} jobs={jobs}", cold, "MiB/s", "curl GET", self.curl_get, 0.8)
                drop_file_cache(path)
                warm = self.fio(path, "read", bs, jobs)
                drop_file_cache(nfile)
                ceiling = self.fio(nfile, "read", bs, jobs)
                self.add(f"warm seq read bs={bs} jobs={jobs}", warm, "MiB/s", "nullfs", ceiling, 0.9)
        print(f"\n== warm random 4 KiB reads, {self.secs} s")
        drop_file_cache(path)
        rnd = self.fio(path, "randread", "4k", 1, runtime=self.secs) * 256
        drop_file_cache(nfile)
        rnull = self.fio(nfile, "randread", "4k", 1, runtime=self.secs) * 256
        self.add("warm rand read 4k jobs=1", rnd, "IOPS", "nullfs", rnull, None)
        self.null.stop()

    def phase_tool(self):
        print("\n== tidefs bench on the S3 volume")
        out = self.log.run([self.tidefs, "bench", "-p", "2", "--big-file-size", str(self.size // MIB // 4),
                            self.mnt], timeout=900)
        self.bench_out = out
        print(out)

    def report(self):
        print("\n== summary")
        head = ("measurement", "tidefs", "vs", "baseline", "ratio", "target", "met")
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for r in self.rows:
            print("| " + " | ".join(r) + " |")
        print(f"\nmachine: {platform.node()}, {os.cpu_count()} cpus, {platform.platform()}, "
              f"load {os.getloadavg()[0]:.1f}")
        print("commands:")
        for c in self.log.commands:
            print(f"  {c}")

    def run(self):
        try:
            self.s3.start()
            self.phase_curl()
            self.phase_write()
            self.phase_reads()
            self.phase_tool()
            self.report()
        finally:
            for m in (self.mnt, self.null.path):
                if is_mounted(m):
                    subprocess.run([self.tidefs, "umount", m], capture_output=True, timeout=120)
                force_unmount(m)
            self.null.stop()
            self.s3.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=HELP_ENV,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="build dir: BUILD/bin/tidefs, BUILD/bench/nullfs")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        DataBench(args).run()
    except BenchError as e:
        print(f"bench_data: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
