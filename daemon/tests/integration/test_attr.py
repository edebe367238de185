# SPDX-License-Identifier: Apache-2.0
"""lookup/getattr/setattr through the mount: types, ownership, chmod, chown,
utimensat (UTIME_NOW / UTIME_OMIT), truncate up and down, timestamps."""

import errno
import os
import stat
import time

import pytest

from harness import MIB, USER_A, as_user, expect_errno, read_file, write_file
from sysapi import UTIME_NOW, UTIME_OMIT, utimensat

OLD = (1_000_000_000, 123_456_789)   # 2001-09-09, an unmistakable old time


def test_new_file_attributes(d):
    p = d / "f"
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    os.write(fd, b"hello")
    os.close(fd)
    st = os.stat(p)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert st.st_size == 5
    assert st.st_nlink == 1
    assert st.st_blksize > 0
    with open(p, "rb") as f:
        fst = os.fstat(f.fileno())
    assert (fst.st_ino, fst.st_dev, fst.st_size, fst.st_mode) == (st.st_ino, st.st_dev, st.st_size, st.st_mode)
    assert abs(st.st_mtime - time.time()) < 60, "mtime of a new file is not 'now'"


def test_st_blocks_cover_written_data(d):
    p = d / "f"
    write_file(p, os.urandom(3 * MIB + 17))
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    st = os.fstat(fd)
    os.close(fd)
    assert st.st_blocks * 512 >= 3 * MIB, f"st_blocks={st.st_blocks} for a fully written 3 MiB file (du would lie)"


def test_umask_applies(d):
    def create(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o666))
        os.mkdir(str(path) + ".d", 0o777)
    os.chmod(d, 0o777)
    as_user(USER_A, create, d / "f", umask=0o077)
    assert stat.S_IMODE(os.stat(d / "f").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "f.d").st_mode) == 0o700


def test_chmod(d):
    p = d / "f"
    write_file(p, b"x")
    for mode in (0o000, 0o777, 0o4755, 0o2755, 0o1777, 0o600):
        os.chmod(p, mode)
        assert stat.S_IMODE(os.stat(p).st_mode) == mode, f"chmod {oct(mode)}"
    fd = os.open(p, os.O_RDONLY)
    os.fchmod(fd, 0o640)
    os.close(fd)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert stat.S_ISREG(os.stat(p).st_mode), "chmod changed the file type"


def test_chmod_and_chown_keep_mtime(d):
    p = d / "f"
    write_file(p, b"x")
    os.utime(p, ns=(OLD[0] * 10**9, OLD[0] * 10**9))
    os.chmod(p, 0o600)
    os.chown(p, 5, 5)
    assert os.stat(p).st_mtime_ns == OLD[0] * 10**9, "chmod/chown changed mtime"


def test_chown(d):
    p = d / "f"
    write_file(p, b"x")
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.chown(p, -1, 42)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 42), "chown -1 must keep the owner"
    os.chown(p, 7, -1)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (7, 42), "chown with gid -1 must keep the group"
    os.mkdir(d / "sub")
    os.chown(d / "sub", 99, 98)
    st = os.stat(d / "sub")
    assert (st.st_uid, st.st_gid) == (99, 98)


def test_chown_clears_setuid(d):
    p = d / "f"
    write_file(p, b"x")
    os.chmod(p, 0o6755)
    os.chown(p, 1000, 1000)
    mode = stat.S_IMODE(os.stat(p).st_mode)
    assert not mode & stat.S_ISUID, f"chown must clear setuid, mode={oct(mode)}"


def test_symlink_lchown(d):
    os.symlink("target-does-not-exist", d / "l")
    os.lchown(d / "l", 321, 654)
    st = os.lstat(d / "l")
    assert (st.st_uid, st.st_gid) == (321, 654)
    assert stat.S_ISLNK(st.st_mode)


def test_utimensat_explicit_now_omit(d):
    p = d / "f"
    write_file(p, b"x")
    utimensat(p, OLD, (OLD[0] + 5, 42))
    st = os.stat(p)
    assert (st.st_atime_ns, st.st_mtime_ns) == (OLD[0] * 10**9 + OLD[1], (OLD[0] + 5) * 10**9 + 42), \
        "nanosecond timestamps were not kept exactly"

    utimensat(p, UTIME_OMIT, UTIME_NOW)
    st2 = os.stat(p)
    assert st2.st_atime_ns == st.st_atime_ns, "UTIME_OMIT changed atime"
    assert abs(st2.st_mtime - time.time()) < 60, "UTIME_NOW did not set mtime to now"

    utimensat(p, UTIME_NOW, UTIME_OMIT)
    st3 = os.stat(p)
    assert st3.st_mtime_ns == st2.st_mtime_ns, "UTIME_OMIT changed mtime"
    assert abs(st3.st_atime - time.time()) < 60, "UTIME_NOW did not set atime to now"

    utimensat(p, UTIME_OMIT, UTIME_OMIT)
    st4 = os.stat(p)
    assert (st4.st_atime_ns, st4.st_mtime_ns) == (st3.st_atime_ns, st3.st_mtime_ns)


def test_utime_on_symlink_itself(d):
    write_file(d / "t", b"x")
    os.symlink("t", d / "l")
    target_before = os.stat(d / "t").st_mtime_ns
    utimensat(d / "l", OLD, OLD, follow=False)
    assert os.lstat(d / "l").st_mtime_ns == OLD[0] * 10**9 + OLD[1]
    assert os.stat(d / "t").st_mtime_ns == target_before, "lutimes followed the symlink"


def test_utime_on_directory(d):
    os.mkdir(d / "sub")
    utimensat(d / "sub", OLD, OLD)
    assert os.stat(d / "sub").st_mtime_ns == OLD[0] * 10**9 + OLD[1]


def test_write_updates_mtime_and_ctime(d):
    p = d / "f"
    write_file(p, b"x")
    os.utime(p, (OLD[0], OLD[0]))
    with open(p, "r+b") as f:
        f.write(b"y")
    st = os.stat(p)
    assert st.st_mtime > OLD[0] + 10 and st.st_ctime > OLD[0] + 10


def test_directory_times_change_on_create_and_unlink(d):
    os.mkdir(d / "sub")
    os.utime(d / "sub", (OLD[0], OLD[0]))
    write_file(d / "sub/f", b"")
    assert os.stat(d / "sub").st_mtime > OLD[0] + 10, "create did not update the parent's mtime"
    os.utime(d / "sub", (OLD[0], OLD[0]))
    os.unlink(d / "sub/f")
    assert os.stat(d / "sub").st_mtime > OLD[0] + 10, "unlink did not update the parent's mtime"


def test_truncate_up_reads_zeros(d):
    p = d / "f"
    write_file(p, b"abc")
    os.truncate(p, 5 * MIB)
    assert os.stat(p).st_size == 5 * MIB
    data = read_file(p)
    assert data[:3] == b"abc"
    assert data[3:] == bytes(5 * MIB - 3), "truncate-up must expose zeros"


def test_truncate_down(d):
    p = d / "f"
    payload = os.urandom(2 * MIB)
    write_file(p, payload)
    os.truncate(p, 1000)
    assert os.stat(p).st_size == 1000
    assert read_file(p) == payload[:1000]
    os.truncate(p, 0)
    assert read_file(p) == b""


@pytest.mark.parametrize("cut", [1000, 4 * MIB - 1, 4 * MIB + 1])
def test_truncate_down_then_extend_reads_zeros(d, cut):
    p = d / "f"
    payload = os.urandom(6 * MIB)
    write_file(p, payload)
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, cut)
        os.ftruncate(fd, 6 * MIB)
        data = os.pread(fd, 6 * MIB, 0)
        while len(data) < 6 * MIB:
            more = os.pread(fd, 6 * MIB - len(data), len(data))
            assert more, "short file"
            data += more
    finally:
        os.close(fd)
    assert data[:cut] == payload[:cut]
    assert data[cut:] == bytes(6 * MIB - cut), \
        f"old data reappeared after truncate to {cut} and extend (first bad byte at " \
        f"{cut + next(i for i, b in enumerate(data[cut:]) if b)})"
    assert read_file(p)[cut:] == bytes(6 * MIB - cut), "old data reappeared after reopen"


def test_truncate_then_write_beyond(d):
    p = d / "f"
    write_file(p, b"A" * 100)
    os.truncate(p, 10)
    with open(p, "r+b") as f:
        f.seek(50)
        f.write(b"B")
    assert read_file(p) == b"A" * 10 + bytes(40) + b"B"


def test_truncate_updates_mtime(d):
    p = d / "f"
    write_file(p, b"x" * 10)
    os.utime(p, (OLD[0], OLD[0]))
    os.truncate(p, 3)
    assert os.stat(p).st_mtime > OLD[0] + 10


def test_truncate_errors(d):
    os.mkdir(d / "dir")
    expect_errno(errno.EISDIR, os.truncate, d / "dir", 0)
    expect_errno(errno.ENOENT, os.truncate, d / "missing", 0)
    write_file(d / "f", b"x")
    expect_errno(errno.EINVAL, os.truncate, d / "f", -1)
    fd = os.open(d / "f", os.O_RDONLY)
    try:  # Linux: EINVAL for a descriptor not open for writing
        expect_errno((errno.EINVAL, errno.EBADF), os.ftruncate, fd, 0)
    finally:
        os.close(fd)


def test_lookup_missing_and_through_file(d):
    write_file(d / "f", b"x")
    expect_errno(errno.ENOENT, os.stat, d / "nope")
    expect_errno(errno.ENOENT, os.stat, d / "nope/deeper")
    expect_errno(errno.ENOTDIR, os.stat, d / "f/x")
