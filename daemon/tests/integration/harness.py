# SPDX-License-Identifier: Apache-2.0
"""Volumes, daemons and processes for the integration suite.

Everything that knows how a volume is made lives here, so the same tests run
against a real tidefs FUSE mount (TIDEFS_TEST_TARGET=tidefs, the default) or
against a plain directory on the local disk (TIDEFS_TEST_TARGET=local, which
validates the tests themselves against Linux's own filesystem).  The metadata
engine and object storage of tidefs volumes are chosen by environment too
(TIDEFS_TEST_META, TIDEFS_TEST_STORAGE), so the whole suite can be re-run on
Redis or S3 without touching a test.  See README.md beside this file.
"""

import copy
import ctypes
import errno
import hashlib
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MIB = 1 << 20
CHUNK = 64 * MIB
# Every tidefs test mount is made like this (the product's documented mode).
MOUNT_FUSE_OPTS = "allow_other,default_permissions"
# Unprivileged identities used by the permission tests (need not exist in
# /etc/passwd; setresuid works with bare numbers).
USER_A = (1000, 1000)
USER_B = (1001, 1001)


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value else default


class Config:
    """What the suite runs against; read once from the environment."""

    def __init__(self):
        self.target = os.environ.get("TIDEFS_TEST_TARGET", "tidefs")
        if self.target not in ("tidefs", "local"):
            raise ValueError(f"TIDEFS_TEST_TARGET must be tidefs or local, not {self.target!r}")
        self.bin = os.environ.get("TIDEFS_BIN") or str(REPO / "build/bin/tidefs")
        self.meta = os.environ.get("TIDEFS_TEST_META", "sqlite")
        self.storage = os.environ.get("TIDEFS_TEST_STORAGE", "file")
        if self.meta not in ("sqlite", "redis"):
            raise ValueError(f"TIDEFS_TEST_META must be sqlite or redis, not {self.meta!r}")
        if self.storage not in ("file", "s3"):
            raise ValueError(f"TIDEFS_TEST_STORAGE must be file or s3, not {self.storage!r}")
        self.redis_url = os.environ.get("TIDEFS_TEST_REDIS_URL", "redis://127.0.0.1:6379")
        self.s3_endpoint = os.environ.get("TIDEFS_TEST_S3_ENDPOINT", "")
        self.keep = os.environ.get("TIDEFS_TEST_KEEP", "") == "1"
        self.timeout = env_int("TIDEFS_TEST_TIMEOUT", 180)
        self._redis_db = env_int("TIDEFS_TEST_REDIS_FIRST_DB", 1)
        self.mount_timeout = env_int("TIDEFS_TEST_MOUNT_TIMEOUT", 30)
        self.mount_hung = None

    @property
    def is_tidefs(self):
        return self.target == "tidefs"

    # The one place that builds a volume's META-URL.
    def meta_url(self, voldir, name):
        if self.meta == "sqlite":
            return f"sqlite3://{voldir}/meta.db"
        db = self._redis_db
        self._redis_db = self._redis_db % 15 + 1
        url = f"{self.redis_url.rstrip('/')}/{db}"
        if shutil.which("redis-cli"):  # a recycled db must start empty
            subprocess.run(["redis-cli", "-u", url, "flushdb"], capture_output=True, timeout=30)
        return url

    # The one place that builds a volume's storage flags.  Credentials for S3
    # travel in the environment (ACCESS_KEY / SECRET_KEY), never in argv.
    def storage_args(self, voldir, name):
        if self.storage == "file":
            return ["--storage", "file", "--bucket", str(voldir / "bucket")]
        if not self.s3_endpoint:
            raise ValueError("TIDEFS_TEST_STORAGE=s3 needs TIDEFS_TEST_S3_ENDPOINT (http://host:port/bucket)")
        return ["--storage", "s3", "--bucket", f"{self.s3_endpoint.rstrip('/')}/{voldir.name}"]

    def db_path(self, meta_url):
        """The sqlite file behind a META-URL, or None for other engines."""
        return meta_url[len("sqlite3://"):] if meta_url.startswith("sqlite3://") else None


def run_cli(cfg, args, timeout=60, **kw):
    """Runs `tidefs ARGS`; never raises on a non-zero exit."""
    return subprocess.run([cfg.bin, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def describe(r):
    return (f"$ {' '.join(map(str, r.args))}\nexit {r.returncode}\n"
            f"--- stdout ---\n{r.stdout}--- stderr ---\n{r.stderr}")


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMGT]?)", text)
    if not m:
        raise ValueError(f"bad size {text!r}")
    return int(m.group(1)) << (10 * " KMGT".index(m.group(2) or " "))


# ---------------------------------------------------------------- processes

def become_subreaper():
    """Orphaned daemons (tidefs mount -d forks) become our children, so we can
    reap them and tell a dead daemon from a zombie."""
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def pid_alive(pid):
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def parent_pid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def fuse_holders():
    """pid -> cmdline of every process holding /dev/fuse open."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") == "/dev/fuse":
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        found[int(entry)] = f.read().split(b"\0")
                    break
        except OSError:
            continue
    return found


def lazy_unmount(path):
    for cmd in (["fusermount3", "-u", "-z", str(path)], ["umount", "-l", str(path)]):
        if subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0:
            return True
    return False


def is_mount(path):
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def _conn_from_mountinfo(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                return int(fields[2].split(":")[1])
    return None


def mounted_in_table(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


# ------------------------------------------------------------------ volumes

class VolumeError(AssertionError):
    pass


class TidefsVolume:
    """A formatted tidefs volume in its own directory, mounted on demand."""

    is_tidefs = True

    def __init__(self, cfg, voldir, name="vol", format_args=(), mount_args=()):
        self.cfg = cfg
        self.dir = Path(voldir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.name = name
        self.format_args = [str(a) for a in format_args]
        self.mount_args = [str(a) for a in mount_args]
        self.meta_url = cfg.meta_url(self.dir, name)
        self.mnt = self.dir / "mnt"
        self.log = self.dir / "daemon.log"
        self.cache_dir = self.dir / "cache"
        self.pid = None     # the daemon's root process
        self.pids = []      # every process serving the mount
        self.conn = None
        self.mounted = False
        self.history = []   # earlier daemons' pids, for the failure report

    def cli(self, *args, timeout=60):
        return run_cli(self.cfg, args, timeout=timeout)

    def format(self, extra=()):
        r = self.cli("format", *self.cfg.storage_args(self.dir, self.name), *self.format_args,
                     *extra, self.meta_url, self.name)
        if r.returncode != 0:
            raise VolumeError(f"tidefs format failed\n{describe(r)}")
        return r

    def mount(self, extra=()):
        self.mnt.mkdir(exist_ok=True)
        if self.cfg.mount_hung:
            raise VolumeError(f"not mounting {self.mnt}: an earlier `tidefs mount -d` in this run "
                              f"hung ({self.cfg.mount_hung}); see the first failure")
        before = set(fuse_holders())
        try:
            r = self.cli("mount", "-d", "--log", self.log, "--cache-dir", self.cache_dir,
                         "-o", MOUNT_FUSE_OPTS, *self.mount_args, *extra, self.meta_url, self.mnt,
                         timeout=self.cfg.mount_timeout)
        except subprocess.TimeoutExpired:
            self.cfg.mount_hung = str(self.mnt)
            self._reap_hung_mount()
            raise VolumeError(f"`tidefs mount -d` did not return within {self.cfg.mount_timeout} s "
                              f"(TIDEFS_TEST_MOUNT_TIMEOUT); daemon killed\n--- daemon log ---\n"
                              f"{self.log_tail()}") from None
        if r.returncode != 0:
            raise VolumeError(f"tidefs mount failed\n{describe(r)}\n--- daemon log ---\n{self.log_tail()}")
        if not mounted_in_table(self.mnt):
            lazy_unmount(self.mnt)
            raise VolumeError(f"`tidefs mount -d` exited 0 but {self.mnt} is not mounted "
                              f"(it must return only once the mount is ready)\n{describe(r)}\n"
                              f"--- daemon log ---\n{self.log_tail()}")
        self.mounted = True
        self.conn = _conn_from_mountinfo(self.mnt)
        self.pid = self._find_daemon(before)
        return r

    def another_mount(self, tag):
        """The same volume at a second mount point, served by its own daemon."""
        other = copy.copy(self)
        other.mnt = self.dir / f"mnt-{tag}"
        other.log = self.dir / f"daemon-{tag}.log"
        other.pid = other.conn = None
        other.pids = []
        other.mounted = False
        other.history = []
        other.cache_dir = self.dir / f"cache-{tag}"
        return other

    def _reap_hung_mount(self):
        """After a hung mount: abort its FUSE connection, unmount, and kill
        every process serving our (unique) mount point."""
        if mounted_in_table(self.mnt):
            self.conn = _conn_from_mountinfo(self.mnt)   # stat could hang here
            self.abort()
            lazy_unmount(self.mnt)
        target = str(self.mnt).encode()
        for pid, argv in fuse_holders().items():
            if target in argv:
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, 10)
        self.conn = None

    def serving_pids(self):
        """Every process holding /dev/fuse for our (unique) mount point: the
        daemon, and a keeper process if the daemon has one."""
        target = str(self.mnt).encode()
        return sorted(p for p, argv in fuse_holders().items() if target in argv)

    def _find_daemon(self, before):
        pids = self.serving_pids() or [p for p in fuse_holders() if p not in before]
        self.pids = pids
        roots = [p for p in pids if parent_pid(p) not in pids]
        return roots[0] if len(roots) == 1 else (pids[0] if pids else None)

    def umount(self):
        r = self.cli("umount", self.mnt, timeout=60)
        if r.returncode != 0 or mounted_in_table(self.mnt):
            raise VolumeError(f"tidefs umount failed\n{describe(r)}\n--- daemon log ---\n{self.log_tail()}")
        self.mounted = False
        for pid in sorted({self.pid, *self.pids} - {None}):
            if not wait_gone(pid, 20):
                raise VolumeError(f"daemon pid {pid} still runs 20 s after `tidefs umount`")
        self._forget_daemon()
        return r

    def remount(self, extra=()):
        self.umount()
        self.mount(extra)

    def kill9(self):
        """SIGKILL every process serving the mount (the daemon and any keeper
        of its FUSE fd), then clear the dead mount point (ENOTCONN)."""
        victims = sorted(set(self.pids) | set(self.serving_pids()))
        if not victims:
            raise VolumeError(f"cannot kill -9: the daemon of {self.mnt} was not found in /proc")
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass   # already dead (the test may have killed it itself)
        for pid in victims:
            if not wait_gone(pid, 20):
                raise VolumeError(f"daemon pid {pid} survived SIGKILL for 20 s")
        if mounted_in_table(self.mnt) and not lazy_unmount(self.mnt):
            raise VolumeError(f"could not lazily unmount {self.mnt} after kill -9")
        self.mounted = False
        self._forget_daemon()

    def _forget_daemon(self):
        self.history.extend(p for p in {self.pid, *self.pids} if p)
        self.pid = None
        self.pids = []
        self.conn = None

    def daemon_alive(self):
        return self.pid is None or pid_alive(self.pid)

    def abort(self):
        """Aborts the FUSE connection so blocked syscalls return ENOTCONN."""
        if self.conn is None:
            return False
        path = f"/sys/fs/fuse/connections/{self.conn}/abort"
        if not os.path.exists(path):
            subprocess.run(["mount", "-t", "fusectl", "none", "/sys/fs/fuse/connections"],
                           capture_output=True, timeout=10)
        try:
            with open(path, "w") as f:
                f.write("1")
            return True
        except OSError:
            return False

    def cleanup(self):
        """Best effort: nothing of this volume stays mounted or running.
        Returns problems that are bugs (a daemon that outlives its mount)."""
        problems = []
        if mounted_in_table(self.mnt):
            for args in (("umount",), ("umount", "--force")):
                try:
                    self.cli(*args, self.mnt, timeout=20)
                except (subprocess.TimeoutExpired, OSError) as e:
                    problems.append(f"`tidefs {' '.join(args)}` at teardown: {e}")
                if not mounted_in_table(self.mnt):
                    break
            if mounted_in_table(self.mnt):
                self.abort()
                lazy_unmount(self.mnt)
        for pid in sorted({self.pid, *self.pids} - {None}):
            if not wait_gone(pid, 10):
                problems.append(f"daemon pid {pid} still ran 10 s after its unmount; killed")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_gone(pid, 10)
        self.mounted = False
        self._forget_daemon()
        problems += self.sanitizer_reports()
        return problems

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "ThreadSanitizer:")

    def sanitizer_reports(self):
        """A daemon built with sanitizers reports into its log; any report is
        a bug even when every operation looked right."""
        text = self.log_tail(0, 0) if self.log else ""
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        hits = [m for m in self.SANITIZER_MARKS if m in text]
        return [f"sanitizer report in the daemon log ({', '.join(hits)}):\n{text[-6000:]}"] if hits else []

    def log_size(self):
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, since=0, limit=20000):
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                data = f.read()
        except FileNotFoundError:
            return f"(no daemon log at {self.log})"
        text = data.decode(errors="replace")
        return text if len(text) <= limit else "...\n" + text[-limit:]


class LocalVolume:
    """Stand-in for a volume on the local disk: a directory, or a tmpfs when
    capacity/inode limits are asked for (so ENOSPC and statfs tests have
    something real to check).  Remount is a sync; kill -9 does not apply."""

    is_tidefs = False

    def __init__(self, cfg, voldir, name="vol", format_args=(), mount_args=()):
        self.cfg = cfg
        self.dir = Path(voldir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.name = name
        self.mnt = self.dir / "mnt"
        self.log = None
        self.pid = None
        self.pids = []
        self.history = []
        args = [str(a) for a in format_args]
        self.tmpfs_opts = []
        for flag, opt in (("--capacity", "size"), ("--inodes", "nr_inodes")):
            if flag in args:
                value = args[args.index(flag) + 1]
                self.tmpfs_opts.append(f"{opt}={parse_size(value) if opt == 'size' else value}")
        self.mounted = False

    def format(self, extra=()):
        return None

    def mount(self, extra=()):
        self.mnt.mkdir(exist_ok=True)
        os.chmod(self.mnt, 0o755)
        if self.tmpfs_opts and not mounted_in_table(self.mnt):
            subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(["mode=755", *self.tmpfs_opts]),
                            "tidefs-test", str(self.mnt)], check=True, timeout=30)
        self.mounted = True

    def umount(self):
        os.sync()

    def remount(self, extra=()):
        os.sync()

    def another_mount(self, tag):
        """The same directory (a local disk has one view of itself)."""
        other = copy.copy(self)
        other.tmpfs_opts = []
        return other

    def kill9(self):
        import pytest
        pytest.skip("kill -9 needs a tidefs daemon")

    def daemon_alive(self):
        return True

    def abort(self):
        return False

    def cleanup(self):
        if self.tmpfs_opts and mounted_in_table(self.mnt):
            subprocess.run(["umount", "-l", str(self.mnt)], timeout=30)
        self.mounted = False
        return []

    def log_size(self):
        return 0

    def log_tail(self, since=0, limit=0):
        return ""


def make_volume(cfg, voldir, **kw):
    return (TidefsVolume if cfg.is_tidefs else LocalVolume)(cfg, voldir, **kw)


# ------------------------------------------------------ child processes

def _child_run(fn, args, kwargs, creds, umask):
    if creds is not None:
        uid, gid, groups = creds
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        # Really unprivileged: ids dropped and no effective capabilities left.
        assert os.getresuid() == (uid, uid, uid), os.getresuid()
        assert os.getresgid() == (gid, gid, gid), os.getresgid()
        with open("/proc/self/status") as f:
            cap = [ln for ln in f if ln.startswith("CapEff:")][0].split()[1]
        assert int(cap, 16) == 0, f"child still has capabilities CapEff={cap}"
    if umask is not None:
        os.umask(umask)
    return fn(*args, **kwargs)


class Child:
    """A forked process running fn; result() returns its value or re-raises
    its OSError (errno intact) in the parent."""

    def __init__(self, fn, *args, creds=None, umask=None, **kwargs):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(rfd)
            try:
                value = ("ok", _child_run(fn, args, kwargs, creds, umask))
            except OSError as e:
                value = ("oserror", e.errno, e.strerror, e.filename)
            except BaseException as e:  # noqa: BLE001 - report anything
                value = ("exception", f"{type(e).__name__}: {e}")
            try:
                data = pickle.dumps(value)
            except Exception as e:  # noqa: BLE001
                data = pickle.dumps(("exception", f"unpicklable result: {e}"))
            with os.fdopen(wfd, "wb") as w:
                w.write(data)
            os._exit(0)
        os.close(wfd)
        self.pid, self.rfd = pid, rfd

    def result(self, timeout=60):
        chunks, end = [], time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                os.close(self.rfd)
                raise AssertionError(f"child process did not finish within {timeout} s")
            data = os.read(self.rfd, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(self.rfd)
        _, status = os.waitpid(self.pid, 0)
        if not chunks:
            raise AssertionError(f"child process died without a result (wait status {status})")
        value = pickle.loads(b"".join(chunks))
        if value[0] == "ok":
            return value[1]
        if value[0] == "oserror":
            raise OSError(value[1], value[2], value[3])
        raise AssertionError(f"child process failed: {value[1]}")


def as_user(user, fn, *args, groups=(), umask=None, **kwargs):
    """Runs fn(*args) in a child with uid/gid USER (a (uid, gid) pair), no
    supplementary groups except GROUPS, and no capabilities."""
    uid, gid = user
    return Child(fn, *args, creds=(uid, gid, groups), umask=umask, **kwargs).result()


def in_child(fn, *args, **kwargs):
    return Child(fn, *args, **kwargs).result()


# ----------------------------------------------------------- assertions

def expect_errno(expected, fn, *args, **kwargs):
    """Calls fn and asserts it fails with errno EXPECTED (one or a tuple)."""
    want = expected if isinstance(expected, tuple) else (expected,)
    names = "/".join(errno.errorcode[e] for e in want)
    call = f"{getattr(fn, '__name__', fn)}{tuple(args)!r}"
    try:
        value = fn(*args, **kwargs)
    except OSError as e:
        got = errno.errorcode.get(e.errno, e.errno)
        assert e.errno in want, f"{call}: expected {names}, got {got} ({e})"
        return e
    raise AssertionError(f"{call}: expected {names}, but it succeeded and returned {value!r}")


def sha256_file(path, bufsize=MIB):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(bufsize)
            if not block:
                return h.hexdigest()
            h.update(block)


def write_file(path, data, mode=None):
    """Creates/truncates PATH with DATA; MODE, when given, is set exactly
    (not filtered by the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def pread_all(fd, size, offset):
    """pread that loops over short reads, stopping at EOF."""
    out = bytearray()
    while len(out) < size:
        block = os.pread(fd, size - len(out), offset + len(out))
        if not block:
            break
        out += block
    return bytes(out)
