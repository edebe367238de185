# SPDX-License-Identifier: Apache-2.0
"""statfs and volume limits: statfs reflects --capacity and --inodes, usage
moves with writes, and exceeding either limit gives ENOSPC (or EDQUOT) and
recovers once space is freed.  Each test formats its own small volume (on
the local target: a tmpfs of the same size)."""

import errno
import os
import time

from harness import MIB, write_file

CAPACITY = 64 * MIB
INODES = 100
FULL = (errno.ENOSPC, errno.EDQUOT)


def test_statfs_basics(d):
    st = os.statvfs(d)
    assert st.f_bsize > 0 and st.f_frsize > 0
    assert st.f_blocks >= st.f_bfree >= st.f_bavail
    assert st.f_files >= st.f_ffree
    assert st.f_namemax == 255


def test_statfs_reflects_capacity_and_usage(volume_factory):
    vol = volume_factory(format_args=["--capacity", "64M", "--trash-days", "0"])
    st = os.statvfs(vol.mnt)
    assert st.f_blocks * st.f_frsize == CAPACITY, \
        f"statfs total {st.f_blocks * st.f_frsize} bytes, volume capacity {CAPACITY}"
    with open(vol.mnt / "f", "wb") as f:
        f.write(os.urandom(10 * MIB))
        f.flush()
        os.fsync(f.fileno())
    after = os.statvfs(vol.mnt)
    used = (st.f_bavail - after.f_bavail) * st.f_frsize
    assert 9 * MIB <= used <= 12 * MIB, f"10 MiB written moved f_bavail by {used} bytes"
    os.unlink(vol.mnt / "f")
    deadline = time.monotonic() + 15
    while os.statvfs(vol.mnt).f_bavail < st.f_bavail - 1 * MIB // st.f_frsize and time.monotonic() < deadline:
        time.sleep(0.2)
    freed = os.statvfs(vol.mnt).f_bavail
    assert freed >= st.f_bavail - MIB // st.f_frsize, "space of a deleted file was not given back"


def test_statfs_reflects_inodes(volume_factory):
    vol = volume_factory(format_args=["--inodes", str(INODES), "--trash-days", "0"])
    st = os.statvfs(vol.mnt)
    assert st.f_files == INODES, f"statfs f_files {st.f_files}, volume --inodes {INODES}"
    for i in range(10):
        write_file(vol.mnt / f"f{i}", b"")
    after = os.statvfs(vol.mnt)
    assert st.f_ffree - after.f_ffree == 10, f"10 new files moved f_ffree by {st.f_ffree - after.f_ffree}"


def fill(path, limit):
    """Writes 1 MiB pieces until an error; returns (bytes written, OSError)."""
    written, err = 0, None
    block = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while written < limit:
            written += os.write(fd, block)
        os.fsync(fd)
    except OSError as e:
        err = e
    finally:
        try:
            os.close(fd)
        except OSError as e:
            err = err or e
    return written, err


def test_enospc_when_capacity_exceeded(volume_factory):
    vol = volume_factory(format_args=["--capacity", "64M", "--trash-days", "0"])
    written, err = fill(vol.mnt / "big", 3 * CAPACITY)
    assert err is not None, f"wrote and fsynced {written} bytes into a {CAPACITY}-byte volume without error"
    assert err.errno in FULL, f"filling the volume failed with {errno.errorcode.get(err.errno)}, want ENOSPC/EDQUOT"
    assert written <= 2 * CAPACITY, f"{written} bytes accepted before ENOSPC on a {CAPACITY}-byte volume"
    # the volume keeps working: reads, metadata, and writes once space is freed
    assert os.path.getsize(vol.mnt / "big") > 0
    os.unlink(vol.mnt / "big")
    deadline = time.monotonic() + 15
    while True:
        try:
            write_file(vol.mnt / "after", os.urandom(MIB))
            break
        except OSError as e:
            if e.errno not in FULL or time.monotonic() > deadline:
                raise AssertionError(f"writing 1 MiB after deleting the big file: {e}") from e
            time.sleep(0.2)


def test_enospc_when_inodes_exceeded(volume_factory):
    vol = volume_factory(format_args=["--inodes", str(INODES), "--trash-days", "0"])
    created, err = 0, None
    for i in range(INODES + 10):
        try:
            os.close(os.open(vol.mnt / f"f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            created += 1
        except OSError as e:
            err = e
            break
    assert err is not None, f"created {created} files on a volume limited to {INODES} inodes"
    assert err.errno in FULL, f"got {errno.errorcode.get(err.errno)}, want ENOSPC/EDQUOT"
    assert INODES - 3 <= created <= INODES, f"created {created} files before ENOSPC with --inodes {INODES}"
    for call in (lambda: os.mkdir(vol.mnt / "dir"), lambda: os.symlink("x", vol.mnt / "sym"),
                 lambda: os.mkfifo(vol.mnt / "fifo")):
        try:
            call()
            raise AssertionError("a new inode was allowed beyond --inodes")
        except OSError as e:
            assert e.errno in FULL, f"got {errno.errorcode.get(e.errno)}, want ENOSPC/EDQUOT"
    os.unlink(vol.mnt / "f1")
    deadline = time.monotonic() + 15
    while True:
        try:
            write_file(vol.mnt / "again", b"")
            break
        except OSError as e:
            if e.errno not in FULL or time.monotonic() > deadline:
                raise AssertionError(f"creating a file after deleting one: {e}") from e
            time.sleep(0.2)
