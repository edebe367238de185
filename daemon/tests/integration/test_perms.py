# SPDX-License-Identifier: Apache-2.0
"""Permissions enforced through the mount for unprivileged users (each
check runs in a forked child that dropped to uid/gid 1000 or 1001 with no
capabilities): EACCES on mode bits, EPERM on ownership changes, setgid
directories and the sticky bit."""

import errno
import os
import stat
import subprocess

from harness import USER_A, USER_B, as_user, expect_errno, in_child, read_file, write_file
from sysapi import UTIME_NOW, utimensat


def test_child_really_is_unprivileged(d):
    def whoami():
        with open("/proc/self/status") as f:
            caps = [ln.split()[1] for ln in f if ln.startswith("CapEff:")][0]
        return os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), caps
    assert as_user(USER_A, whoami) == (1000, 1000, 1000, [], "0000000000000000")
    write_file(d / "secret", b"s", mode=0o600)
    expect_errno(errno.EACCES, as_user, USER_A, read_file, d / "secret")


def test_read_write_permission_bits(d):
    os.chmod(d, 0o777)
    write_file(d / "ro", b"read only", mode=0o644)
    write_file(d / "none", b"nothing", mode=0o600)
    write_file(d / "group", b"group rw", mode=0o660)
    os.chown(d / "group", 0, 1000)
    assert as_user(USER_A, read_file, d / "ro") == b"read only"
    expect_errno(errno.EACCES, as_user, USER_A, os.open, d / "ro", os.O_WRONLY)
    expect_errno(errno.EACCES, as_user, USER_A, os.open, d / "none", os.O_RDONLY)
    expect_errno(errno.EACCES, as_user, USER_A, os.truncate, d / "ro", 0)
    assert as_user(USER_A, read_file, d / "group") == b"group rw", "group read bit not honoured"
    expect_errno(errno.EACCES, as_user, USER_B, read_file, d / "group")
    assert as_user(USER_B, read_file, d / "group", groups=(1000,)) == b"group rw", \
        "a supplementary group must grant the group bits"
    # owner bits win over more generous other bits
    write_file(d / "owner-denied", b"x", mode=0o077)
    os.chown(d / "owner-denied", 1000, 1000)
    expect_errno(errno.EACCES, as_user, USER_A, read_file, d / "owner-denied")
    assert as_user(USER_B, read_file, d / "owner-denied") == b"x"
    assert read_file(d / "none") == b"nothing", "root must bypass mode bits"


def test_directory_permissions(d):
    os.mkdir(d / "closed", 0o755)
    write_file(d / "closed/f", b"x")
    expect_errno(errno.EACCES, as_user, USER_A, os.open, d / "closed/new", os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.EACCES, as_user, USER_A, os.unlink, d / "closed/f")
    expect_errno(errno.EACCES, as_user, USER_A, os.mkdir, d / "closed/sub")
    expect_errno(errno.EACCES, as_user, USER_A, os.rename, d / "closed/f", d / "closed/g")
    os.chmod(d / "closed", 0o700)
    expect_errno(errno.EACCES, as_user, USER_A, os.stat, d / "closed/f")   # no search permission
    expect_errno(errno.EACCES, as_user, USER_A, os.listdir, d / "closed")
    os.mkdir(d / "dropbox")
    os.chmod(d / "dropbox", 0o733)   # write+search, no read
    expect_errno(errno.EACCES, as_user, USER_A, os.listdir, d / "dropbox")
    as_user(USER_A, write_file, d / "dropbox/mine", b"m")
    assert read_file(d / "dropbox/mine") == b"m"
    os.mkdir(d / "listonly", 0o744)  # read, no search
    write_file(d / "listonly/f", b"")
    assert as_user(USER_A, os.listdir, d / "listonly") == ["f"]
    expect_errno(errno.EACCES, as_user, USER_A, os.stat, d / "listonly/f")


def test_new_files_owned_by_creator(d):
    os.chmod(d, 0o777)

    def create():
        write_file(d / "f", b"")
        os.mkdir(d / "sub")
        os.symlink("f", d / "l")
        os.mkfifo(d / "p")

    as_user(USER_A, create)
    for name in ("f", "sub", "l", "p"):
        st = os.lstat(d / name)
        assert (st.st_uid, st.st_gid) == USER_A, f"{name} owned by {st.st_uid}:{st.st_gid}"


def test_ownership_changes_need_privilege(d):
    write_file(d / "mine", b"", mode=0o644)
    os.chown(d / "mine", *USER_A)
    write_file(d / "theirs", b"", mode=0o666)
    expect_errno(errno.EPERM, as_user, USER_A, os.chown, d / "mine", 1001, -1)
    expect_errno(errno.EPERM, as_user, USER_A, os.chown, d / "mine", -1, 4242)   # not a member
    as_user(USER_A, os.chown, d / "mine", -1, 4242, groups=(4242,))   # member: allowed
    assert os.stat(d / "mine").st_gid == 4242
    as_user(USER_A, os.chmod, d / "mine", 0o600)
    assert stat.S_IMODE(os.stat(d / "mine").st_mode) == 0o600
    expect_errno(errno.EPERM, as_user, USER_A, os.chmod, d / "theirs", 0o777)
    expect_errno(errno.EPERM, as_user, USER_A, os.chown, d / "theirs", 1000, 1000)


def test_utime_permissions(d):
    write_file(d / "shared", b"", mode=0o666)
    write_file(d / "private", b"", mode=0o644)
    as_user(USER_A, utimensat, d / "shared", UTIME_NOW, UTIME_NOW)   # write access suffices
    expect_errno(errno.EPERM, as_user, USER_A, os.utime, d / "shared", (1, 1))  # explicit: owner only
    expect_errno(errno.EACCES, as_user, USER_A, utimensat, d / "private", UTIME_NOW, UTIME_NOW)


def test_write_by_non_owner_clears_setuid(d):
    write_file(d / "suid", b"prog", mode=0o644)
    os.chmod(d / "suid", 0o4777)

    def append():
        with open(d / "suid", "ab") as f:
            f.write(b"!")

    as_user(USER_A, append)
    mode = stat.S_IMODE(os.stat(d / "suid").st_mode)
    assert not mode & stat.S_ISUID, f"a write by another user must clear setuid, mode={oct(mode)}"
    assert read_file(d / "suid") == b"prog!"


def test_setgid_directory_inheritance(d):
    os.mkdir(d / "proj")
    os.chown(d / "proj", 0, 4321)
    os.chmod(d / "proj", 0o2777)
    assert stat.S_IMODE(os.stat(d / "proj").st_mode) == 0o2777
    write_file(d / "proj/by-root", b"")
    os.mkdir(d / "proj/subdir")
    as_user(USER_A, write_file, d / "proj/by-user", b"")
    as_user(USER_A, os.mkdir, d / "proj/user-subdir")
    for name in ("by-root", "subdir", "by-user", "user-subdir"):
        st = os.stat(d / "proj" / name)
        assert st.st_gid == 4321, f"{name}: gid {st.st_gid}, want the setgid directory's 4321"
    for name in ("subdir", "user-subdir"):
        assert os.stat(d / "proj" / name).st_mode & stat.S_ISGID, f"{name} must inherit the setgid bit"
    assert not os.stat(d / "proj/by-user").st_mode & stat.S_ISGID
    assert os.stat(d / "proj/by-user").st_uid == 1000


def test_sticky_directory(d):
    os.mkdir(d / "tmp")
    os.chmod(d / "tmp", 0o1777)
    as_user(USER_A, write_file, d / "tmp/a-file", b"A")
    as_user(USER_A, os.mkdir, d / "tmp/a-dir")
    expect_errno(errno.EPERM, as_user, USER_B, os.unlink, d / "tmp/a-file")
    expect_errno(errno.EPERM, as_user, USER_B, os.rmdir, d / "tmp/a-dir")
    expect_errno(errno.EPERM, as_user, USER_B, os.rename, d / "tmp/a-file", d / "tmp/b-file")
    as_user(USER_B, write_file, d / "tmp/b-file", b"B")
    expect_errno(errno.EPERM, as_user, USER_B, os.rename, d / "tmp/b-file", d / "tmp/a-file")
    assert read_file(d / "tmp/a-file") == b"A"
    as_user(USER_A, os.unlink, d / "tmp/a-file")     # the owner may
    os.rmdir(d / "tmp/a-dir")                         # root may
    as_user(USER_B, os.unlink, d / "tmp/b-file")
    assert os.listdir(d / "tmp") == []


def test_sticky_directory_owner_may_delete(d):
    os.mkdir(d / "tmp")
    os.chown(d / "tmp", *USER_B)
    os.chmod(d / "tmp", 0o1777)
    as_user(USER_A, write_file, d / "tmp/f", b"")
    as_user(USER_B, os.unlink, d / "tmp/f")   # the directory's owner may


def test_execute_bit(d):
    write_file(d / "script", b"#!/bin/sh\nexit 7\n", mode=0o755)
    write_file(d / "data", b"#!/bin/sh\nexit 7\n", mode=0o644)
    assert subprocess.run([str(d / "script")], timeout=30).returncode == 7
    # even root may not execute a file without any execute bit
    expect_errno(errno.EACCES, in_child, os.execv, str(d / "data"), ["data"])
