# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the integration suite: one session-wide mounted volume with a
fresh sub-directory per test (`d`), fresh volumes per test for durability,
kill and remount tests (`volume_factory`, `fresh_volume`), a watchdog that
aborts a hung FUSE connection, and the daemon log attached to every failure.
Teardown always unmounts and kills what a test started, even on failure."""

import faulthandler
import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CFG = harness.Config()
_counter = itertools.count()


_bin_copy = []


def copy_bin_files(binary, dest):
    """Only our programs, never the whole directory: TIDEFS_BIN may sit in
    a directory like /tmp, whose recursive copy would fill the disk."""
    dest.mkdir()
    wanted = {binary.name, "tidefs", "mount.tidefs", "tidefs-fuse-helper"}
    for name in sorted(wanted):
        src = binary.parent / name
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        elif src.is_file():
            shutil.copy2(src, dest / name)


def pytest_sessionstart(session):
    os.umask(0o022)
    if CFG.is_tidefs:
        if not os.access(CFG.bin, os.X_OK):
            pytest.exit(f"tidefs binary not found at {CFG.bin}: run `make daemon`, set TIDEFS_BIN, "
                        f"or run against the local disk with TIDEFS_TEST_TARGET=local", returncode=1)
        # Test a private copy of the bin directory (tidefs, mount.tidefs and
        # helpers): a rebuild in the working tree during the run must not
        # change or break the binary under test.
        copy = Path(tempfile.mkdtemp(prefix="tidefs-it-bin-"))
        os.chmod(copy, 0o755)
        copy_bin_files(Path(CFG.bin), copy / "bin")
        _bin_copy.append(copy)
        CFG.bin = str(copy / "bin" / os.path.basename(CFG.bin))
        harness.become_subreaper()


def pytest_sessionfinish(session):
    for copy in _bin_copy:
        shutil.rmtree(copy, ignore_errors=True)


def pytest_report_header(config):
    where = f"tidefs ({CFG.bin}, meta={CFG.meta}, storage={CFG.storage})" if CFG.is_tidefs \
        else "local directory (TIDEFS_TEST_TARGET=local)"
    return f"tidefs integration target: {where}"


def pytest_collection_modifyitems(config, items):
    if CFG.is_tidefs:
        return
    skip = pytest.mark.skip(reason="needs a tidefs daemon (TIDEFS_TEST_TARGET=local)")
    for item in items:
        if "tidefs_only" in item.keywords:
            item.add_marker(skip)


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


def _register(item, vol, offset):
    if not hasattr(item, "_tidefs_vols"):
        item._tidefs_vols = []
    item._tidefs_vols.append((vol, offset))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for vol, offset in getattr(item, "_tidefs_vols", []):
        if not vol.is_tidefs or not (vol.pid or vol.history or vol.log.exists()):
            continue   # never mounted: nothing to show
        state = "running" if vol.daemon_alive() else "NOT RUNNING (it died during this test)"
        pids = [p for p in [vol.pid, *vol.pids, *vol.history] if p]
        report.sections.append((f"tidefs daemon log {vol.dir.name} (pids {pids}, daemon {state})",
                                vol.log_tail(since=offset) or "(empty)"))


@pytest.fixture(scope="session")
def cfg():
    return CFG


@pytest.fixture(scope="session")
def workdir():
    base = Path(tempfile.mkdtemp(prefix="tidefs-it-", dir=os.environ.get("TIDEFS_TEST_WORKDIR")))
    os.chmod(base, 0o755)
    yield base
    leftovers = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point.startswith(str(base) + "/"):
                leftovers.append(point)
    for point in sorted(leftovers, reverse=True):
        harness.lazy_unmount(point)
    if not CFG.keep:
        shutil.rmtree(base, ignore_errors=True)
    assert not leftovers, f"mounts left behind by the suite (now lazily unmounted): {leftovers}"


class SessionVolume:
    """The shared volume; remounted transparently if a test killed it."""

    def __init__(self, workdir):
        self.vol = harness.make_volume(CFG, workdir / "session", name="session")
        self.vol.format()
        self.vol.mount()

    def ensure_alive(self):
        try:
            os.stat(self.vol.mnt)
            if self.vol.daemon_alive():
                return
        except OSError:
            pass
        self.vol.cleanup()
        self.vol.mount()


@pytest.fixture(scope="session")
def session_volume(workdir):
    holder = SessionVolume(workdir)
    yield holder
    problems = holder.vol.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def vol(request, session_volume):
    """The session volume, checked alive, with its log registered for this test."""
    session_volume.ensure_alive()
    _register(request.node, session_volume.vol, session_volume.vol.log_size())
    return session_volume.vol


@pytest.fixture
def d(request, vol):
    """A fresh, empty directory (0755, root) on the session volume."""
    path = vol.mnt / f"{_safe(request.node.name)}-{next(_counter)}"
    path.mkdir()
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def local_dir(workdir):
    """A fresh directory on the local disk (the reference side of comparisons)."""
    path = workdir / "local" / f"ref-{next(_counter)}"
    path.mkdir(parents=True)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def volume_factory(request, workdir):
    """make(format_args=(), mount_args=(), mount=True, name='vol') -> a fresh
    formatted (and mounted) volume; all of them are cleaned up afterwards."""
    made = []

    def make(format_args=(), mount_args=(), mount=True, name="vol"):
        voldir = workdir / f"{_safe(request.node.name)}-{next(_counter)}"
        vol = harness.make_volume(CFG, voldir, name=name, format_args=format_args,
                                  mount_args=mount_args)
        made.append(vol)
        _register(request.node, vol, 0)
        vol.format()
        if mount:
            vol.mount()
        return vol

    def mount_again(vol, tag="second"):
        """VOL's volume mounted a second time by another daemon."""
        other = vol.another_mount(tag)
        made.append(other)
        _register(request.node, other, 0)
        other.mount()
        return other

    make.mount_again = mount_again
    yield make
    problems = []
    for vol in made:
        problems += vol.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def fresh_volume(volume_factory):
    return volume_factory()


@pytest.fixture
def other_fs_dir(volume_factory):
    """A directory on a different mount than `d` (for EXDEV)."""
    if CFG.is_tidefs:
        yield volume_factory(name="other").mnt
        return
    path = Path(tempfile.mkdtemp(prefix="tidefs-it-other-", dir="/dev/shm"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def watchdog(request):
    """A hung daemon would block the test forever in the kernel; after the
    time limit abort the test's FUSE connections so the calls fail with
    ENOTCONN, and dump all stacks and exit as a last resort."""
    limit = CFG.timeout * (3 if "slow" in request.node.keywords else 1)
    fired = []

    def fire():
        fired.append(True)
        for vol, _ in getattr(request.node, "_tidefs_vols", []):
            vol.abort()

    timer = threading.Timer(limit, fire)
    timer.daemon = True
    timer.start()
    faulthandler.dump_traceback_later(limit + 60, exit=True)
    yield
    timer.cancel()
    faulthandler.cancel_dump_traceback_later()
    if fired:
        pytest.fail(f"watchdog: test ran over {limit} s (TIDEFS_TEST_TIMEOUT); its FUSE "
                    f"connections were aborted", pytrace=False)
    dead = [vol for vol, _ in getattr(request.node, "_tidefs_vols", [])
            if vol.mounted and not vol.daemon_alive()]
    if dead:
        pytest.fail(f"tidefs daemon of {[str(v.mnt) for v in dead]} died during the test",
                    pytrace=False)
