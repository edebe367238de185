# SPDX-License-Identifier: Apache-2.0
"""Real mounts, real kill -9: tidefs-fuse-helper mounts a FUSE connection and
keeps its fd; handoff_hellofs daemons are handed that fd, killed and
replaced while a reader loops over the files. The reader must never see an
error (ENOTCONN above all), a read the dead daemon held must come back
through FUSE_NOTIFY_RESEND, the daemon must work with no capability and no
/dev/fuse access, and the helper must survive 10,000 malformed reports.

Needs root and /dev/fuse (the helper mounts); skipped otherwise.
Run: make -C mount-pod test
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("HANDOFF_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
HELPER = os.path.join(BUILD, "bin", "tidefs-fuse-helper")
HELLOFS = os.path.join(BUILD, "tests", "mount-pod", "handoff_hellofs")
READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hello_reader.py")
NOBODY = 65534
UNPRIVILEGED = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
FUSE_HAS_RESEND_FLAGS2_BIT = 1 << (39 - 32)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/fuse"),
                                reason="needs root and /dev/fuse")


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Setup:
    """One mount: the helper, its daemons, their logs, under a fresh directory."""

    def __init__(self, daemon_uid=0):
        self.dir = tempfile.mkdtemp(prefix="handoff-it-")
        os.chmod(self.dir, 0o755)  # an unprivileged daemon must reach sock/
        self.mnt = os.path.join(self.dir, "mnt")
        os.mkdir(self.mnt)
        self.sock = os.path.join(self.dir, "sock", "s")
        self.state = os.path.join(self.dir, "init.json")
        self.daemon_uid = daemon_uid
        self.daemons = []
        self.helper_log = open(os.path.join(self.dir, "helper.log"), "w")
        self.helper = subprocess.Popen(
            [HELPER, "--mountpoint", self.mnt, "--socket", self.sock, "--volume", "it",
             "--daemon-uid", str(daemon_uid), "--daemon-gid", str(daemon_uid), "--state-file", self.state],
            stdout=subprocess.PIPE, stderr=self.helper_log, text=True)
        assert self.helper.stdout.readline().strip() == "ready", read_text(self.helper_log.name)

    def start_daemon(self, *extra, unprivileged=False):
        n = len(self.daemons)
        log = os.path.join(self.dir, "daemon%d.log" % n)
        cmd = [HELLOFS, "--fuse-fd-socket", self.sock] + list(extra)
        if unprivileged:
            cmd = UNPRIVILEGED + cmd
        with open(log, "w") as f:
            p = subprocess.Popen(cmd, stderr=f)
        self.daemons.append((p, log))
        wait_for(lambda: "serving" in read_text(log) or p.poll() is not None, 10, "daemon %d to serve" % n)
        assert "serving" in read_text(log), read_text(log)
        # the daemon logs before its report reaches the helper
        wait_for(lambda: "to pid %d: serving" % p.pid in read_text(self.helper_log.name), 10,
                 "the helper to log daemon %d's report" % n)
        return p, log

    def kill9(self, p):
        p.send_signal(signal.SIGKILL)
        p.wait()

    def helper_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.helper.pid))

    def close(self):
        for p, _ in self.daemons:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.helper.poll() is None:
            self.helper.terminate()
            try:
                self.helper.wait(10)
            except subprocess.TimeoutExpired:
                self.helper.kill()
        subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)
        self.helper_log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def setup():
    s = Setup()
    yield s
    s.close()


@pytest.fixture
def setup_nobody():
    s = Setup(daemon_uid=NOBODY)
    yield s
    s.close()


def start_reader(s):
    stop = os.path.join(s.dir, "stop")
    p = subprocess.Popen(["/usr/bin/python3", READER, s.mnt, stop], stdout=subprocess.PIPE, text=True)
    return p, stop


def stop_reader(p, stop, timeout):
    open(stop, "w").close()
    out, _ = p.communicate(timeout=timeout)
    return json.loads(out)


def kill_and_replace(s, rounds, gap_s, unprivileged=False):
    """kill -9 the serving daemon `rounds` times while the reader runs."""
    for _ in range(rounds):
        time.sleep(0.5)  # let the current daemon serve the reader
        s.kill9(s.daemons[-1][0])
        time.sleep(gap_s)  # the reader's requests wait in the kernel meanwhile
        _, log = s.start_daemon(unprivileged=unprivileged)
        assert "resumed, serving" in read_text(log), read_text(log)


def check_reader_survived(stats, rounds, gap_s):
    print("reader:", json.dumps(stats))
    assert stats["error"] is None, stats
    assert stats["iterations"] > rounds, stats
    # the reader saw the first daemon and replacements serve it
    assert len(stats["pids"]) >= 2, stats
    # no request waited longer than a restart (+ start-up) plus 5 s
    assert stats["max_op_s"] < gap_s + 5, stats


def test_kill9_and_resume_under_a_reader(setup):
    s = setup
    s.start_daemon()
    init = json.load(open(s.state))
    assert init["in"]["flags2"] & FUSE_HAS_RESEND_FLAGS2_BIT, "kernel lacks FUSE_NOTIFY_RESEND: %s" % init
    reader, stop = start_reader(s)
    time.sleep(0.5)
    rounds, gap = 5, 0.3
    kill_and_replace(s, rounds, gap)
    time.sleep(0.5)
    stats = stop_reader(reader, stop, 60)
    check_reader_survived(stats, rounds, gap)
    log = read_text(s.helper_log.name)
    assert log.count("INIT state learned") == 1, log
    assert log.count(": serving") == rounds + 1, log
    assert s.helper.poll() is None


def wait_log(log, text, timeout):
    wait_for(lambda: text in read_text(log), timeout, repr(text) + " in " + log)


def test_resend_brings_back_a_read_the_dead_daemon_held(setup):
    s = setup
    _, log1 = s.start_daemon("--slow-ms", "600000")
    slow = subprocess.Popen(["/usr/bin/python3", "-c",
                             "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); "
                             "sys.stdout.write(os.read(fd, 4096).decode())", os.path.join(s.mnt, "slow")],
                            stdout=subprocess.PIPE, text=True)
    wait_log(log1, "slow read begins", 10)
    s.kill9(s.daemons[0][0])
    # Control: a daemon that does not ask for a resend serves new requests,
    # but the read the dead daemon held stays stuck in the kernel.
    _, log2 = s.start_daemon("--no-resend", "--slow-ms", "10")
    pid2 = s.daemons[1][0].pid
    assert int(open(os.path.join(s.mnt, "pid")).read()) == pid2
    time.sleep(2)
    assert slow.poll() is None, "the held read finished without a resend"
    s.kill9(s.daemons[1][0])
    # With a resend the kernel queues the held read again and it completes.
    t0 = time.monotonic()
    s.start_daemon("--slow-ms", "10")
    out, _ = slow.communicate(timeout=10)
    assert slow.returncode == 0 and out == "S" * 4096
    assert time.monotonic() - t0 < 5


def test_daemon_without_capabilities_or_dev_fuse(setup_nobody):
    s = setup_nobody
    _, log = s.start_daemon(unprivileged=True)
    first = read_text(log).splitlines()[0]
    assert "uid %d CapEff 0000000000000000 /dev/fuse Permission denied" % NOBODY in first, first
    reader, stop = start_reader(s)
    rounds, gap = 3, 0.3
    kill_and_replace(s, rounds, gap, unprivileged=True)
    time.sleep(0.5)
    stats = stop_reader(reader, stop, 60)
    check_reader_survived(stats, rounds, gap)
    for _, dlog in s.daemons:
        assert "uid %d CapEff 0000000000000000" % NOBODY in read_text(dlog)


# ---- 10,000 malformed reports against the real helper ----

def frame(body, magic=b"tdfh", announced=None):
    return struct.pack(">4sI", magic, len(body) if announced is None else announced) + body


def take_fd_message(c):
    """Reads the helper's "fuse-fd" message and closes the fd it carries."""
    data, fds, _, _ = socket.recv_fds(c, 65536 + 8, 4)
    for fd in fds:
        os.close(fd)
    assert len(fds) == 1 and data[:4] == b"tdfh", (data[:16], fds)
    need = 8 + struct.unpack(">I", data[4:8])[0]
    while len(data) < need:
        more = c.recv(need - len(data))
        assert more
        data += more
    return json.loads(data[8:])


def send_bad_report(c, kind, init, spare_fd, other_fd):
    serving = json.dumps({"v": 1, "type": "serving", "volume": "it", "init": init}).encode()
    if kind == 0:
        c.sendall(frame(serving))                                   # no fd
    elif kind == 1:
        socket.send_fds(c, [frame(serving)], [spare_fd, spare_fd])  # two fds
    elif kind == 2:
        socket.send_fds(c, [frame(b"{not json")], [spare_fd])       # bad JSON
    elif kind == 3:
        socket.send_fds(c, [frame(b"", announced=1 << 20)], [spare_fd])  # oversize
    elif kind == 4:
        socket.send_fds(c, [frame(serving, magic=b"GET ")], [spare_fd])  # bad magic
    elif kind == 5:
        pass                                                        # close, no report
    elif kind == 6:
        socket.send_fds(c, [frame(serving)], [other_fd])            # not the connection it was given
    elif kind == 7:
        socket.send_fds(c, [frame(serving)[:20]], [spare_fd])       # cut short


def test_helper_survives_10000_malformed_reports(setup):
    s = setup
    s.start_daemon()  # the connection gets its INIT state first
    s.kill9(s.daemons[0][0])
    r, w = os.pipe()
    before = s.helper_fds()
    n = 10000
    for i in range(n):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(s.sock)
        msg = take_fd_message(c)
        assert msg["type"] == "fuse-fd" and "init" in msg
        send_bad_report(c, i % 8, msg["init"], r, w)
        c.close()
    wait_for(lambda: read_text(s.helper_log.name).count("refused or failed") >= n, 60, "all rejections logged")
    assert s.helper.poll() is None
    assert s.helper_fds() == before
    os.close(r)
    os.close(w)
    # a valid hand-off still works, and the mount serves
    p, log = s.start_daemon()
    assert "resumed, serving" in read_text(log)
    assert int(open(os.path.join(s.mnt, "pid")).read()) == p.pid
    log = read_text(s.helper_log.name)
    for why in ("carries no fd", "expected exactly 1", "bad JSON", "over the 65536 byte cap", "bad magic",
                "closed without reporting", "cut short", "different FUSE connection"):
        assert why in log, why


# ---- --fuse-fd N: an inherited fd, no socket ----

def mount_fd(mnt):
    """What a privileged parent does before exec'ing a daemon with --fuse-fd."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions" % fd
    if libc.mount(b"tidefs", mnt.encode(), b"fuse.tidefs", 6, opts.encode()) != 0:  # MS_NOSUID|MS_NODEV
        raise OSError(ctypes.get_errno(), "mount")
    return fd


def test_inherited_fd_and_resume_from_saved_init():
    d = tempfile.mkdtemp(prefix="handoff-it-")
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    procs = []
    try:
        fd = mount_fd(mnt)
        p1 = subprocess.Popen([HELLOFS, "--fuse-fd", str(fd)], pass_fds=[fd], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        procs.append(p1)
        init = json.loads(p1.stdout.readline())
        assert init["out"]["max_write"] > 0
        assert int(open(os.path.join(mnt, "pid")).read()) == p1.pid
        with open(os.path.join(d, "init.json"), "w") as f:
            json.dump(init, f)
        p1.kill()
        p1.wait()
        p2 = subprocess.Popen([HELLOFS, "--fuse-fd", str(fd), "--init-json", os.path.join(d, "init.json")],
                              pass_fds=[fd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p2)
        assert json.loads(p2.stdout.readline()) == init
        assert int(open(os.path.join(mnt, "pid")).read()) == p2.pid
        # a daemon that would negotiate differently refuses to take over
        init["out"]["max_write"] = 4096
        with open(os.path.join(d, "bad.json"), "w") as f:
            json.dump(init, f)
        p3 = subprocess.run([HELLOFS, "--fuse-fd", str(fd), "--init-json", os.path.join(d, "bad.json")],
                            pass_fds=[fd], capture_output=True, text=True, timeout=10)
        assert p3.returncode != 0 and "max_write" in p3.stderr, p3.stderr
        assert int(open(os.path.join(mnt, "pid")).read()) == p2.pid
        os.close(fd)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)
