#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark of the core issue (`make bench`).

In one run it formats a fresh tidefs volume (sqlite3:// metadata, file store)
in a temporary directory on the local disk, mounts it next to nullfs (the
null FUSE filesystem: this machine's FUSE ceiling) and measures, back to back
with identical options:
  - sequential read of a 64 GiB sparse file (fio psync, 1M/4M, 1/2 jobs),
    tidefs against nullfs;
  - a 2 GiB write of random data + fsync, then a cold and a warm read back,
    tidefs against the same dd on the local disk underneath;
  - 10,000 single-threaded creates, stats and unlinks (metaloop), tidefs
    against a local directory and nullfs;
  - the daemon's peak RSS during the write, against --buffer-size + 64 MiB.
It prints each figure, the ratio and the target, the machine and every
command line. Everything is unmounted and removed at the end, also on error
or Ctrl-C. Speed is measured, never asserted: the exit status only says
whether the run completed. Knobs are environment variables (see --help).
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

GIB = 1 << 30
MIB = 1 << 20

HELP_ENV = """environment:
  BENCH_SECS=20          seconds per fio read run (use 30+ for stable figures)
  BENCH_ROUNDS=1         read runs per job shape and side; the order flips
                         every round and the median is reported
  BENCH_WRITE_MIB=2048   size of the write/read-back test
  BENCH_FILES=10000      files in the metadata loop
  BENCH_BUFFER_SIZE=300M tidefs mount --buffer-size (also the RSS limit base)
  BENCH_TMPDIR=/var/tmp  where the volume, bucket and local copies live
  BENCH_ONLY=read,write,meta   run a subset
  BENCH_MOUNT_OPTS=...   extra arguments for `tidefs mount`
  BENCH_TARGET=tidefs    or `nullfs` / `dir`: a stand-in for tidefs, to test
                         this harness before the daemon mounts
"""


class BenchError(Exception):
    """A step failed; the message names it."""


class Log:
    """Records every command line run, for the report."""

    def __init__(self):
        self.commands = []

    def run(self, argv, quiet=False, timeout=600, **kw):
        """Runs argv, records it, returns stdout; raises BenchError on failure
        or after timeout seconds (a hung filesystem must not hang the run)."""
        line = " ".join(shlex.quote(a) for a in argv)
        if line not in self.commands:  # each distinct command shown once
            self.commands.append(line)
            if not quiet:
                print(f"  $ {line}", flush=True)
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=timeout, **kw)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} "
                             f"did not finish in {timeout} s") from None
        if p.returncode != 0:
            err = (p.stderr or p.stdout).strip().splitlines()
            raise BenchError(f"{argv[0]} failed ({p.returncode}): "
                             f"{err[-1] if err else 'no output'}")
        return p.stdout


def parse_size(text):
    """BYTES with an optional K/M/G/T suffix (powers of 1024) -> bytes."""
    m = re.fullmatch(r"(\d+)([KMGT]?)(i?B)?", text.strip(), re.I)
    if not m:
        raise BenchError(f"bad size {text!r} (want e.g. 300M)")
    return int(m.group(1)) << (10 * " KMGT".index((m.group(2) or " ").upper()))


def env_int(name, default, low):
    """An integer knob from the environment, at least low."""
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or int(raw) < low:
        raise BenchError(f"bad {name}={raw!r} (want an integer >= {low})")
    return int(raw)


def wait_for(cond, secs, what):
    """Polls cond() for up to secs seconds; raises BenchError naming what."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise BenchError(f"timed out waiting for {what}")


def drop_file_cache(path):
    """Evicts path's clean pages from the page cache (no privilege needed)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def drop_tree_cache(root):
    """drop_file_cache for every file under root."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            drop_file_cache(os.path.join(dirpath, name))


def drop_all_caches():
    """Tries the global drop; returns whether the kernel allowed it."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def mount_dev(path):
    """MAJOR:MINOR of the mount at path, from mountinfo: no stat(), which
    would hang on a FUSE daemon that does not answer."""
    dev = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                dev = fields[2]  # the last one is on top
    return dev


def abort_fuse(path):
    """Aborts the FUSE connection of the mount at path (frees a hung daemon)."""
    dev = mount_dev(path)
    if dev and dev.startswith("0:"):
        try:
            with open(f"/sys/fs/fuse/connections/{dev[2:]}/abort", "w") as f:
                f.write("1\n")
        except OSError:
            pass


def set_readahead(path, kb):
    """Writes the FUSE mount's bdi read_ahead_kb; returns a note."""
    knob = f"/sys/class/bdi/{mount_dev(path)}/read_ahead_kb"
    try:
        with open(knob) as f:
            old = f.read().strip()
        with open(knob, "w") as f:
            f.write(f"{kb}\n")
        with open(knob) as f:
            return f"{knob}: {old} -> {f.read().strip()}"
    except OSError as e:
        return f"{knob} not set ({e.strerror})"


def find_pids(binary, mountpoint):
    """Pids of the processes whose argv names binary and mountpoint: the
    daemon, and its supervisor where `mount -d` keeps one."""
    base = os.path.basename(binary)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args and os.path.basename(args[0]) == base and \
                any(os.path.abspath(a) == mountpoint for a in args[1:]):
            pids.append(int(pid))
    return sorted(pids)


def proc_status_kib(pid, field):
    """VmRSS/VmHWM of pid in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples the summed VmRSS of some processes every 20 ms; the peak is
    the larger of the sampled peak and the sum of their VmHWM."""

    def __init__(self, pids):
        self.pids = pids
        self.peak_kib = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        for pid in self.pids:
            try:  # 5 resets VmHWM, so it covers this phase only
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5\n")
            except OSError:
                pass
        if self.pids:
            self.thread.start()
        return self

    def _sum(self, field):
        return sum(proc_status_kib(pid, field) or 0 for pid in self.pids)

    def _loop(self):
        while not self.stop.is_set():
            self.peak_kib = max(self.peak_kib, self._sum("VmRSS"))
            self.stop.wait(0.02)

    def __exit__(self, *exc):
        self.stop.set()
        if self.pids:
            self.thread.join()
            self.peak_kib = max(self.peak_kib, self._sum("VmHWM"))


def is_mounted(path):
    """Whether path is a mount point in this namespace."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def force_unmount(path):
    """Last-resort lazy unmount; quiet if path is not mounted."""
    if is_mounted(path):
        subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


class NullMount:
    """A nullfs instance run in the foreground as our child."""

    fuse = True

    def __init__(self, log, build, path, name="nullfs"):
        self.log, self.path, self.name = log, path, name
        self.binary = os.path.join(build, "bench", "nullfs")
        self.proc = None
        self.pids = []

    def start(self):
        os.makedirs(self.path, exist_ok=True)
        # the mount options and loop settings of tidefs (daemon/fuse/fs_session.c)
        argv = [self.binary, "-f", "-o", "default_permissions,allow_other,"
                "timeout=1,max_threads=32,max_idle_threads=8", self.path]
        self.log.commands.append(" ".join(argv) + " &")
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        self.pids = [self.proc.pid]
        wait_for(lambda: is_mounted(self.path) or self.proc.poll() is not None,
                 10, f"{self.name} to mount {self.path}")
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited: {self.proc.stderr.read().strip()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            subprocess.run(["umount", self.path], stderr=subprocess.DEVNULL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        force_unmount(self.path)
        self.proc = None

    def make_cold(self, files):
        """nullfs keeps nothing but sizes: dropping the page cache is enough."""
        for f in files:
            drop_file_cache(f)


class DirTarget:
    """A plain local directory standing in for tidefs (harness tests only)."""

    fuse = False
    pids = []

    def __init__(self, path):
        self.path, self.name = path, "dir"

    def start(self):
        os.makedirs(self.path, exist_ok=True)

    def stop(self):
        pass

    def make_cold(self, files):
        for f in files:
            drop_file_cache(f)


class TidefsMount:
    """A freshly formatted tidefs volume (sqlite3 + file store) under tmp."""

    fuse = True

    def __init__(self, log, build, tmp, buffer_size, extra):
        self.log, self.name = log, "tidefs"
        self.binary = os.path.join(build, "bin", "tidefs")
        self.path = os.path.join(tmp, "tidefs")
        self.bucket = os.path.join(tmp, "bucket")
        self.cache = os.path.join(tmp, "cache")
        self.logfile = os.path.join(tmp, "tidefs.log")
        self.meta = f"sqlite3://{tmp}/meta.db"
        self.buffer_size, self.extra = buffer_size, extra
        self.pids = []

    def format(self):
        if not os.access(self.binary, os.X_OK):
            raise BenchError(f"{self.binary} is missing (run `make daemon`)")
        self.log.run([self.binary, "format", "--bucket", self.bucket,
                      self.meta, "bench"])

    def start(self):
        os.makedirs(self.path, exist_ok=True)
        try:
            self.log.run([self.binary, "mount", "-d", "--buffer-size",
                          self.buffer_size, "--cache-dir", self.cache,
                          "--log", self.logfile,
                          *self.extra, self.meta, self.path], timeout=60)
        except BenchError as e:
            raise BenchError(f"{e}; log: {self.log_tail()}") from None
        wait_for(lambda: is_mounted(self.path), 10, f"tidefs at {self.path}")
        self.pids = find_pids(self.binary, self.path)
        if not self.pids:
            raise BenchError("tidefs is mounted but its daemon was not found")

    def log_tail(self):
        try:
            with open(self.logfile) as f:
                return " | ".join(f.read().strip().splitlines()[-3:]) or "empty"
        except OSError:
            return "none"

    def stop(self):
        pids = self.pids or find_pids(self.binary, self.path)
        if is_mounted(self.path):
            try:
                p = subprocess.run([self.binary, "umount", self.path], timeout=30,
                                   stderr=subprocess.PIPE, text=True)
                if p.returncode:
                    print(f"  tidefs umount: {p.stderr.strip()}", file=sys.stderr)
            except subprocess.TimeoutExpired:
                print("  tidefs umount: no answer in 30 s", file=sys.stderr)
        def alive():
            return [p for p in pids if os.path.exists(f"/proc/{p}")]

        try:
            wait_for(lambda: not alive(), 15, "the tidefs daemon to exit")
        except BenchError:
            print(f"  tidefs processes {alive()} hung: aborting the FUSE "
                  "connection and killing them", file=sys.stderr)
            abort_fuse(self.path)
            for pid in alive():
                os.kill(pid, signal.SIGKILL)
        force_unmount(self.path)
        self.pids = []

    def make_cold(self, files):
        """Remount with the block cache gone: reads come from the store."""
        self.stop()
        shutil.rmtree(self.cache, ignore_errors=True)
        drop_tree_cache(self.bucket)
        self.start()


class Bench:
    """One run: the mounts, the measurements, the report."""

    def __init__(self, args):
        self.log = Log()
        self.build = os.path.abspath(args.build)
        self.secs = env_int("BENCH_SECS", 20, 1)
        self.write_mib = env_int("BENCH_WRITE_MIB", 2048, 1)
        self.files = env_int("BENCH_FILES", 10000, 1)
        self.rounds = env_int("BENCH_ROUNDS", 1, 1)
        self.buffer_size = os.environ.get("BENCH_BUFFER_SIZE", "300M")
        self.buffer_bytes = parse_size(self.buffer_size)
        self.only = set(os.environ.get("BENCH_ONLY", "read,write,meta").split(","))
        if not self.only <= {"read", "write", "meta"}:
            raise BenchError(f"bad BENCH_ONLY={','.join(self.only)} "
                             "(want some of read,write,meta)")
        self.target_kind = os.environ.get("BENCH_TARGET", "tidefs")
        if self.target_kind not in ("tidefs", "nullfs", "dir"):
            raise BenchError(f"bad BENCH_TARGET={self.target_kind} "
                             "(want tidefs, nullfs or dir)")
        self.extra = shlex.split(os.environ.get("BENCH_MOUNT_OPTS", ""))
        base = os.environ.get("BENCH_TMPDIR", "/var/tmp")
        self.tmp = tempfile.mkdtemp(prefix="tidefs-bench.", dir=base)
        self.local = os.path.join(self.tmp, "local")
        self.started = []
        self.rows = []       # (figure, tidefs, reference name, value, target, met)
        self.notes = []

    # -- set-up and teardown ------------------------------------------------

    def start(self, thing):
        self.started.append(thing)
        thing.start()

    def setup(self):
        self.load_start = self.loadavg()
        os.makedirs(self.local)
        self.null = NullMount(self.log, self.build, os.path.join(self.tmp, "null"))
        self.start(self.null)
        if self.target_kind == "tidefs":
            self.target = TidefsMount(self.log, self.build, self.tmp,
                                      self.buffer_size, self.extra)
            self.target.format()
        elif self.target_kind == "nullfs":
            self.target = NullMount(self.log, self.build,
                                    os.path.join(self.tmp, "standin"), "stand-in")
        else:
            self.target = DirTarget(os.path.join(self.tmp, "standin"))
        self.start(self.target)
        self.tune_readahead()

    def tune_readahead(self):
        for m in (self.null, self.target):
            if m.fuse:
                note = f"{m.name}: {set_readahead(m.path, 1024)}"
                if note not in self.notes:
                    self.notes.append(note)

    def cleanup(self):
        for thing in reversed(self.started):
            try:
                thing.stop()
            except Exception as e:  # keep unmounting the rest
                print(f"cleanup: {thing.name}: {e}", file=sys.stderr)
        with open("/proc/self/mounts") as f:
            left = [l.split()[1] for l in f if l.split()[1].startswith(self.tmp)]
        if left:
            print(f"cleanup: still mounted, not removing {self.tmp}: {left}",
                  file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- measurements -------------------------------------------------------

    def add(self, figure, value, ref_name, ref, target="", met=None,
            ceiling=None, ratio=True):
        self.rows.append({"figure": figure, "tidefs": value, "ref_name": ref_name,
                          "ref": ref, "ratio": value / ref if ratio and ref else None,
                          "ceiling": ceiling, "target": target, "met": met})

    def metaloop(self, path):
        out = self.log.run([os.path.join(self.build, "bench", "metaloop"),
                            path, str(self.files)])
        return {k: float(v) for k, v in (l.split() for l in out.splitlines())}

    def phase_meta(self):
        print(f"\n== metadata: {self.files} creates, stats, unlinks, one thread")
        local = os.path.join(self.local, "meta")
        os.makedirs(local)
        tdir = self.target.path
        if not isinstance(self.target, NullMount):  # nullfs has no mkdir
            tdir = os.path.join(tdir, "meta")
            os.mkdir(tdir)
        loc, null, tfs = (self.metaloop(p) for p in (local, self.null.path, tdir))
        goals = {"create": 5000, "stat": 20000, "stat_uncached": None,
                 "unlink": None}
        for op, goal in goals.items():
            self.add(f"{op.replace('_', 's ', 1) if '_' in op else op + 's'}/s",
                     tfs[op], "local dir", loc[op],
                     f">= {goal:,}/s" if goal else "",
                     tfs[op] >= goal if goal else None, ceiling=null[op])

    def fio_read(self, path, bs, jobs):
        per = f"{64 // jobs}G"  # each job streams its own region
        out = self.log.run([
            "fio", "--name=seqread", f"--filename={path}", "--rw=read",
            f"--bs={bs}", f"--numjobs={jobs}", f"--size={per}",
            f"--offset_increment={per}", "--ioengine=psync",
            "--iomem_align=4096", "--invalidate=1", "--time_based",
            f"--runtime={self.secs}", "--group_reporting",
            "--output-format=json"])
        return json.loads(out[out.index("{"):])["jobs"][0]["read"]["bw_bytes"] / GIB

    def phase_read(self):
        print(f"\n== sequential read of a 64 GiB sparse file, {self.secs} s a run")
        files = []
        for m in (self.null, self.target):
            f = os.path.join(m.path, "sparse64g")
            self.log.run(["truncate", "-s", "64G", f])
            files.append(f)
        for bs in ("1M", "4M"):
            for jobs in (1, 2):
                null, tfs = self.read_pair(files, bs, jobs)
                self.add(f"seq read bs={bs} jobs={jobs} (GiB/s)", tfs, "nullfs",
                         null, ">= 0.9x", tfs >= 0.9 * null)
        for f in files:
            os.unlink(f)

    def read_pair(self, files, bs, jobs):
        """nullfs and tidefs figures for one job shape: the median over
        BENCH_ROUNDS rounds, every other round in the opposite order so
        that neither side always runs on the cache the other one left."""
        runs = ([], [])
        for rnd in range(self.rounds):
            order = (0, 1) if rnd % 2 == 0 else (1, 0)
            for side in order:
                runs[side].append(self.fio_read(files[side], bs, jobs))
            print(f"  bs={bs} jobs={jobs}: nullfs {runs[0][-1]:.2f} GiB/s, "
                  f"{self.target.name} {runs[1][-1]:.2f} GiB/s", flush=True)
        return tuple(sorted(r)[len(r) // 2] for r in runs)

    def make_source(self):
        """A file of random (incompressible) bytes on the local disk."""
        src = os.path.join(self.tmp, "random.src")
        with open(src, "wb") as f:
            for _ in range(self.write_mib):
                f.write(os.urandom(MIB))
            f.flush()
            os.fsync(f.fileno())
        return src

    def dd(self, src, dst, fsync=False):
        """Copies src to dst with 1 MiB blocks; returns MiB/s, wall clock."""
        argv = ["dd", f"if={src}", f"of={dst}", "bs=1M", "status=none"]
        os.sync()  # nothing else is left dirty to write back during the run
        start = time.monotonic()
        self.log.run(argv + (["conv=fsync"] if fsync else []), quiet=True)
        return self.write_mib / (time.monotonic() - start)

    def phase_write(self):
        mib = self.write_mib
        print(f"\n== write {mib} MiB of random data + fsync, read it back")
        src = self.make_source()
        loc = os.path.join(self.local, "data")
        tfs = os.path.join(self.target.path, "data")
        w_loc = self.dd(src, loc, fsync=True)
        with RssSampler(self.target.pids) as rss:
            w_tfs = self.dd(src, tfs, fsync=True)
        print(f"  write: local {w_loc:.0f} MiB/s, {self.target.name} {w_tfs:.0f} MiB/s")
        self.add(f"write {mib} MiB + fsync (MiB/s)", w_tfs, "local disk", w_loc,
                 ">= 0.5x", w_tfs >= 0.5 * w_loc)
        self.add_rss(rss)
        self.make_cold([loc, tfs])
        for kind in ("cold", "warm"):
            r_loc = self.dd(loc, "/dev/null")
            r_tfs = self.dd(tfs, "/dev/null")
            print(f"  {kind} read: local {r_loc:.0f} MiB/s, "
                  f"{self.target.name} {r_tfs:.0f} MiB/s")
            self.add(f"{kind} read {mib} MiB (MiB/s)", r_tfs, "local disk", r_loc)
        self.verify(src, tfs)

    def add_rss(self, rss):
        limit = (self.buffer_bytes + 64 * MIB) / MIB
        if not self.target.pids:
            return
        peak = rss.peak_kib / 1024
        self.notes.append(f"RSS sampled from pids {self.target.pids} "
                          "(every process serving the mount, summed)")
        self.add("daemon peak RSS in write (MiB)", peak,
                 "buffer-size+64M", limit, "<= limit", peak <= limit, ratio=False)

    def make_cold(self, files):
        if drop_all_caches():
            self.notes.append("cold reads: /proc/sys/vm/drop_caches=3 written")
        else:
            self.notes.append("cold reads: drop_caches not permitted here; the "
                              "files' pages were evicted with fadvise(DONTNEED)")
        drop_file_cache(files[0])
        self.target.make_cold(files[1:])
        if self.target.fuse:
            self.notes.append(f"{self.target.name} after remount: "
                              f"{set_readahead(self.target.path, 1024)}")

    def verify(self, src, copy):
        if isinstance(self.target, NullMount):
            self.notes.append("read-back check skipped: the stand-in drops data")
            return
        digests = []
        for path in (src, copy):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(MIB), b""):
                    h.update(block)
            digests.append(h.hexdigest())
        if digests[0] != digests[1]:
            raise BenchError(f"read back differs from what was written: {copy}")
        self.notes.append(f"read-back sha256 matches the source ({digests[0][:16]}...)")

    # -- report -------------------------------------------------------------

    def machine(self):
        facts = {"nproc": str(os.cpu_count()), "kernel": platform.release(),
                 "load average (start, end)":
                     f"{self.load_start} / {self.loadavg()}"}
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        facts["memory"] = f"{kib / (1 << 20):.1f} GiB"
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f
                      if l.startswith("model name")]
        facts["cpu"] = models[0] if models else platform.machine()
        facts["local disk"] = self.run_quiet(
            ["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", self.tmp])
        facts["fio"] = self.run_quiet(["fio", "--version"])
        facts["libfuse"] = self.run_quiet(["pkg-config", "--modversion", "fuse3"])
        here = os.path.dirname(os.path.abspath(__file__))
        facts["source"] = self.run_quiet(["git", "-C", here, "describe",
                                          "--always", "--dirty"])
        if isinstance(self.target, TidefsMount):
            facts["tidefs"] = self.run_quiet([self.target.binary, "--version"])
        else:
            facts["tidefs"] = f"NOT MEASURED: stand-in BENCH_TARGET={self.target_kind}"
        return facts

    @staticmethod
    def loadavg():
        """Other work on the machine skews every figure: report it."""
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])

    @staticmethod
    def run_quiet(argv):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        return " ".join(p.stdout.split()) or f"exit {p.returncode}"

    @staticmethod
    def fmt(v):
        if v is None:
            return ""
        return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"

    def table(self, md):
        head = ["figure", self.target.name, "reference", "ref value", "ratio",
                "nullfs", "target", "met"]
        rows = [[r["figure"], self.fmt(r["tidefs"]), r["ref_name"],
                 self.fmt(r["ref"]), f"{r['ratio']:.2f}x" if r["ratio"] else "",
                 self.fmt(r["ceiling"]), r["target"],
                 {True: "yes", False: "NO", None: ""}[r["met"]]]
                for r in self.rows]
        if md:
            lines = ["| " + " | ".join(head) + " |",
                     "|" + "---|" * len(head)]
            return lines + ["| " + " | ".join(r) + " |" for r in rows]
        widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
        return ["  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip()
                for x in [head] + rows]

    def report(self):
        facts = self.machine()
        out = ["", "== results", ""] + self.table(md=False) + ["", "machine:"]
        out += [f"  {k}: {v}" for k, v in facts.items()]
        out += ["notes:"] + [f"  {n}" for n in self.notes]
        out += ["commands:"] + [f"  {c}" for c in self.log.commands]
        print("\n".join(out))
        md = ["# tidefs benchmark " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              ""] + self.table(md=True) + [""]
        md += [f"- {k}: {v}" for k, v in facts.items()] + [""]
        md += [f"- {n}" for n in self.notes] + ["", "```"] + self.log.commands + ["```"]
        path = os.path.join(self.build, "bench", "results.md")
        with open(path, "w") as f:
            f.write("\n".join(md) + "\n")
        print(f"(also written to {path})")

    def run(self):
        self.setup()
        if "meta" in self.only:
            self.phase_meta()
        if "read" in self.only:
            self.phase_read()
        if "write" in self.only:
            self.phase_write()
        self.report()


def on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(
        description="tidefs benchmark against the null-FUSE ceiling and the "
                    "local disk, in one run.", epilog=HELP_ENV,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True,
                    help="build dir: BUILD/bin/tidefs, BUILD/bench/nullfs")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (FUSE mounts, bdi read_ahead_kb)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    bench = None
    try:
        bench = Bench(args)
        bench.run()
        return 0
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bench:
            bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
