# SPDX-License-Identifier: Apache-2.0
"""The namespace through the mount: mknod (regular, fifo, char/block
devices), mkdir/rmdir, unlink (including open-but-unlinked files), symlink
and readlink, hard links and nlink, rename with replace, RENAME_NOREPLACE
and RENAME_EXCHANGE, and every errno these calls promise."""

import errno
import os
import stat

import pytest

from harness import expect_errno, read_file, write_file
from sysapi import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2


# ------------------------------------------------------------------ mknod

def test_mknod_regular(d):
    os.mknod(d / "r", stat.S_IFREG | 0o640)
    st = os.stat(d / "r")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_size == 0
    assert read_file(d / "r") == b""


def test_mknod_fifo_carries_data(d):
    os.mkfifo(d / "p", 0o600)
    st = os.stat(d / "p")
    assert stat.S_ISFIFO(st.st_mode), oct(st.st_mode)
    reader = os.open(d / "p", os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(d / "p", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, b"through the pipe")
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(writer)
        os.close(reader)


@pytest.mark.parametrize("kind,major,minor", [(stat.S_IFCHR, 1, 3), (stat.S_IFBLK, 7, 200),
                                              (stat.S_IFCHR, 4095, 1048575)],
                         ids=["chr-1-3", "blk-7-200", "chr-max"])
def test_mknod_devices(d, kind, major, minor):
    dev = os.makedev(major, minor)
    os.mknod(d / "dev", kind | 0o644, dev)
    st = os.lstat(d / "dev")
    assert stat.S_IFMT(st.st_mode) == kind, oct(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (major, minor), "st_rdev not kept"


def test_mknod_socket(d):
    os.mknod(d / "s", stat.S_IFSOCK | 0o600)
    assert stat.S_ISSOCK(os.lstat(d / "s").st_mode)


def test_mknod_existing(d):
    write_file(d / "f", b"")
    expect_errno(errno.EEXIST, os.mknod, d / "f", stat.S_IFREG | 0o600)
    expect_errno(errno.EEXIST, os.mkfifo, d / "f")


# ------------------------------------------------------------ mkdir/rmdir

def test_mkdir_rmdir(d):
    os.mkdir(d / "sub", 0o750)
    st = os.stat(d / "sub")
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    assert st.st_nlink == 2, f"an empty directory has nlink 2, got {st.st_nlink}"
    assert sorted(os.listdir(d / "sub")) == []
    os.rmdir(d / "sub")
    expect_errno(errno.ENOENT, os.stat, d / "sub")


def test_directory_nlink_counts_subdirectories(d):
    base = os.stat(d).st_nlink
    os.mkdir(d / "a")
    os.mkdir(d / "b")
    write_file(d / "file", b"")
    assert os.stat(d).st_nlink == base + 2, "each subdirectory adds one link ('..') to its parent"
    os.rmdir(d / "a")
    assert os.stat(d).st_nlink == base + 1
    os.mkdir(d / "c")
    os.rename(d / "b", d / "c/b")
    assert os.stat(d).st_nlink == base + 1, "moving a directory out must drop the old parent's nlink"
    assert os.stat(d / "c").st_nlink == 3, "moving a directory in must raise the new parent's nlink"


def test_dotdot_after_directory_rename(d):
    os.makedirs(d / "x/y")
    os.mkdir(d / "z")
    os.rename(d / "x/y", d / "z/y")
    assert os.stat(d / "z/y/..").st_ino == os.stat(d / "z").st_ino


def test_mkdir_errors(d):
    os.mkdir(d / "sub")
    write_file(d / "f", b"")
    expect_errno(errno.EEXIST, os.mkdir, d / "sub")
    expect_errno(errno.EEXIST, os.mkdir, d / "f")
    expect_errno(errno.ENOENT, os.mkdir, d / "missing/sub")
    expect_errno(errno.ENOTDIR, os.mkdir, d / "f/sub")


def test_rmdir_errors(d):
    os.mkdir(d / "full")
    write_file(d / "full/f", b"")
    write_file(d / "f", b"")
    expect_errno(errno.ENOTEMPTY, os.rmdir, d / "full")
    expect_errno(errno.ENOTDIR, os.rmdir, d / "f")
    expect_errno(errno.ENOENT, os.rmdir, d / "missing")
    expect_errno(errno.EINVAL, os.rmdir, str(d / "full") + "/.")
    os.mkdir(d / "full/sub")
    os.unlink(d / "full/f")
    expect_errno(errno.ENOTEMPTY, os.rmdir, d / "full")
    os.rmdir(d / "full/sub")
    os.rmdir(d / "full")


def test_rmdir_of_directory_with_only_a_hidden_entry(d):
    os.mkdir(d / "sub")
    write_file(d / "sub/.hidden", b"")
    expect_errno(errno.ENOTEMPTY, os.rmdir, d / "sub")


# ----------------------------------------------------------------- unlink

def test_unlink(d):
    write_file(d / "f", b"data")
    os.unlink(d / "f")
    expect_errno(errno.ENOENT, os.stat, d / "f")
    assert "f" not in os.listdir(d)


def test_unlink_errors(d):
    os.mkdir(d / "sub")
    write_file(d / "f", b"")
    expect_errno(errno.EISDIR, os.unlink, d / "sub")
    expect_errno(errno.ENOENT, os.unlink, d / "missing")
    expect_errno(errno.ENOTDIR, os.unlink, d / "f/x")


def test_open_file_survives_unlink(d):
    p = d / "f"
    write_file(p, b"still here")
    fd = os.open(p, os.O_RDWR)
    try:
        os.unlink(p)
        assert "f" not in os.listdir(d)
        assert os.fstat(fd).st_nlink == 0
        assert os.pread(fd, 100, 0) == b"still here", "an unlinked open file must stay readable"
        os.pwrite(fd, b"!", 10)
        os.fsync(fd)
        assert os.pread(fd, 100, 0) == b"still here!"
    finally:
        os.close(fd)
    write_file(p, b"new")
    assert read_file(p) == b"new"


def test_open_file_survives_replace_by_rename(d):
    write_file(d / "old", b"old content")
    write_file(d / "new", b"new content")
    with open(d / "old", "rb") as f:
        os.rename(d / "new", d / "old")
        assert f.read() == b"old content"
    assert read_file(d / "old") == b"new content"


# -------------------------------------------------------- symlink/readlink

def test_symlink_readlink(d):
    write_file(d / "t", b"target data")
    os.symlink("t", d / "l")
    st = os.lstat(d / "l")
    assert stat.S_ISLNK(st.st_mode)
    assert st.st_size == 1, "a symlink's size is its target's length"
    assert os.readlink(d / "l") == "t"
    assert read_file(d / "l") == b"target data"
    assert os.stat(d / "l").st_ino == os.stat(d / "t").st_ino


def test_symlink_targets_kept_verbatim(d):
    targets = ["/absolute/path", "../up/and/over", "dangling", "with space and ünïcode",
               "x" * 4095]
    for i, t in enumerate(targets):
        os.symlink(t, d / f"l{i}")
        assert os.readlink(d / f"l{i}") == t
        assert os.lstat(d / f"l{i}").st_size == len(t.encode())


def test_symlink_to_directory(d):
    os.mkdir(d / "dir")
    write_file(d / "dir/f", b"x")
    os.symlink("dir", d / "l")
    assert os.listdir(d / "l") == ["f"]
    os.unlink(d / "l")   # removes the link, not the directory
    assert os.path.isdir(d / "dir")


def test_symlink_errors(d):
    write_file(d / "f", b"")
    os.symlink("x", d / "l")
    expect_errno(errno.EEXIST, os.symlink, "y", d / "l")
    expect_errno(errno.EEXIST, os.symlink, "y", d / "f")
    expect_errno(errno.EINVAL, os.readlink, d / "f")
    expect_errno(errno.ENOENT, os.readlink, d / "missing")
    expect_errno(errno.ENOENT, os.stat, d / "l")   # dangling
    expect_errno(errno.ENAMETOOLONG, os.symlink, "x" * 4096, d / "long")


def test_symlink_loops(d):
    os.symlink("b", d / "a")
    os.symlink("a", d / "b")
    os.symlink("self", d / "self")
    expect_errno(errno.ELOOP, os.stat, d / "a")
    expect_errno(errno.ELOOP, os.open, d / "self", os.O_RDONLY)
    expect_errno(errno.ELOOP, os.listdir, d / "a")
    write_file(d / "t", b"")
    os.symlink("t", d / "l")
    expect_errno(errno.ELOOP, os.open, d / "l", os.O_RDONLY | os.O_NOFOLLOW)


def test_long_symlink_chain_elooops(d):
    write_file(d / "t", b"end")
    prev = "t"
    for i in range(45):
        os.symlink(prev, d / f"c{i}")
        prev = f"c{i}"
    assert read_file(d / "c30") == b"end"
    expect_errno(errno.ELOOP, os.stat, d / "c44")


# -------------------------------------------------------------- hard links

def test_hard_links(d):
    write_file(d / "a", b"shared")
    os.link(d / "a", d / "b")
    sa, sb = os.stat(d / "a"), os.stat(d / "b")
    assert sa.st_ino == sb.st_ino
    assert sa.st_nlink == sb.st_nlink == 2
    with open(d / "b", "r+b") as f:
        f.write(b"SH")
    assert read_file(d / "a") == b"SHared", "a write through one link is not visible through the other"
    os.mkdir(d / "sub")
    os.link(d / "a", d / "sub/c")
    assert os.stat(d / "a").st_nlink == 3
    os.unlink(d / "a")
    assert os.stat(d / "b").st_nlink == 2
    os.unlink(d / "sub/c")
    assert os.stat(d / "b").st_nlink == 1
    assert read_file(d / "b") == b"SHared"


def test_hard_link_errors(d):
    write_file(d / "a", b"")
    write_file(d / "b", b"")
    os.mkdir(d / "dir")
    expect_errno(errno.EEXIST, os.link, d / "a", d / "b")
    expect_errno(errno.ENOENT, os.link, d / "missing", d / "c")
    expect_errno(errno.EPERM, os.link, d / "dir", d / "dirlink")
    expect_errno(errno.ENOENT, os.link, d / "a", d / "missing/c")


def test_hard_link_to_symlink(d):
    os.symlink("target", d / "l")
    os.link(d / "l", d / "l2", follow_symlinks=False)
    assert os.readlink(d / "l2") == "target"
    assert os.lstat(d / "l2").st_ino == os.lstat(d / "l").st_ino
    assert os.lstat(d / "l").st_nlink == 2


# ------------------------------------------------------------------ rename

def test_rename_file(d):
    write_file(d / "a", b"content")
    ino = os.stat(d / "a").st_ino
    os.mkdir(d / "sub")
    os.rename(d / "a", d / "sub/b")
    expect_errno(errno.ENOENT, os.stat, d / "a")
    assert os.stat(d / "sub/b").st_ino == ino, "rename must keep the inode"
    assert read_file(d / "sub/b") == b"content"
    assert sorted(os.listdir(d)) == ["sub"]


def test_rename_replaces_file(d):
    write_file(d / "a", b"new")
    write_file(d / "b", b"old")
    ino_a = os.stat(d / "a").st_ino
    os.rename(d / "a", d / "b")
    assert read_file(d / "b") == b"new"
    assert os.stat(d / "b").st_ino == ino_a
    assert os.listdir(d) == ["b"]


def test_rename_replace_drops_target_link_count(d):
    write_file(d / "target", b"t")
    os.link(d / "target", d / "other")
    write_file(d / "src", b"s")
    os.rename(d / "src", d / "target")
    assert os.stat(d / "other").st_nlink == 1
    assert read_file(d / "other") == b"t"


def test_rename_directory_replaces_empty_directory(d):
    os.mkdir(d / "a")
    write_file(d / "a/f", b"x")
    os.mkdir(d / "b")
    os.rename(d / "a", d / "b")
    assert os.listdir(d / "b") == ["f"]
    assert not os.path.exists(d / "a")


def test_rename_errors(d):
    os.mkdir(d / "dir")
    os.mkdir(d / "full")
    write_file(d / "full/x", b"")
    write_file(d / "f", b"")
    expect_errno(errno.ENOENT, os.rename, d / "missing", d / "x")
    expect_errno(errno.ENOTEMPTY, os.rename, d / "dir", d / "full")
    expect_errno(errno.EISDIR, os.rename, d / "f", d / "dir")
    expect_errno(errno.ENOTDIR, os.rename, d / "dir", d / "f")
    expect_errno(errno.EINVAL, os.rename, d / "dir", d / "dir/inside")
    expect_errno(errno.ENOENT, os.rename, d / "f", d / "missing/f")
    expect_errno(errno.ENOTDIR, os.rename, d / "f", d / "f/g")
    # nothing moved
    assert sorted(os.listdir(d)) == ["dir", "f", "full"]
    assert os.listdir(d / "full") == ["x"]


def test_rename_onto_itself_and_onto_own_hard_link(d):
    write_file(d / "a", b"x")
    os.rename(d / "a", d / "a")
    assert read_file(d / "a") == b"x"
    os.link(d / "a", d / "b")
    os.rename(d / "a", d / "b")   # POSIX: same inode, nothing happens
    assert sorted(os.listdir(d)) == ["a", "b"]
    assert os.stat(d / "a").st_nlink == 2


def test_rename_noreplace(d):
    write_file(d / "a", b"A")
    write_file(d / "b", b"B")
    expect_errno(errno.EEXIST, renameat2, d / "a", d / "b", RENAME_NOREPLACE)
    assert (read_file(d / "a"), read_file(d / "b")) == (b"A", b"B")
    renameat2(d / "a", d / "c", RENAME_NOREPLACE)
    assert sorted(os.listdir(d)) == ["b", "c"]
    assert read_file(d / "c") == b"A"


def test_rename_exchange_files(d):
    write_file(d / "a", b"A")
    os.mkdir(d / "sub")
    write_file(d / "sub/b", b"B")
    ia, ib = os.stat(d / "a").st_ino, os.stat(d / "sub/b").st_ino
    renameat2(d / "a", d / "sub/b", RENAME_EXCHANGE)
    assert read_file(d / "a") == b"B" and read_file(d / "sub/b") == b"A"
    assert os.stat(d / "a").st_ino == ib and os.stat(d / "sub/b").st_ino == ia


def test_rename_exchange_file_and_directory(d):
    write_file(d / "f", b"F")
    os.mkdir(d / "p")
    os.mkdir(d / "p/dir")
    write_file(d / "p/dir/inner", b"I")
    nlink_d, nlink_p = os.stat(d).st_nlink, os.stat(d / "p").st_nlink
    renameat2(d / "f", d / "p/dir", RENAME_EXCHANGE)
    assert read_file(d / "p/dir") == b"F"
    assert read_file(d / "f/inner") == b"I"
    assert os.stat(d / "f/..").st_ino == os.stat(d).st_ino, "'..' of the exchanged directory is stale"
    assert os.stat(d).st_nlink == nlink_d + 1, "the directory's new parent must gain a link"
    assert os.stat(d / "p").st_nlink == nlink_p - 1, "the directory's old parent must lose a link"


def test_rename_exchange_errors(d):
    write_file(d / "a", b"")
    expect_errno(errno.ENOENT, renameat2, d / "a", d / "missing", RENAME_EXCHANGE)
    expect_errno(errno.ENOENT, renameat2, d / "missing", d / "a", RENAME_EXCHANGE)
    expect_errno(errno.EINVAL, renameat2, d / "a", d / "b", RENAME_EXCHANGE | RENAME_NOREPLACE)
    assert os.listdir(d) == ["a"]


def test_rename_across_mounts_exdev(d, other_fs_dir):
    write_file(d / "f", b"x")
    os.mkdir(d / "dir")
    expect_errno(errno.EXDEV, os.rename, d / "f", other_fs_dir / "f")
    expect_errno(errno.EXDEV, os.rename, d / "dir", other_fs_dir / "dir")
    expect_errno(errno.EXDEV, os.link, d / "f", other_fs_dir / "f")
    expect_errno(errno.EXDEV, renameat2, d / "f", other_fs_dir / "f", RENAME_NOREPLACE)
    assert read_file(d / "f") == b"x"


# ---------------------------------------------------------- name lengths

def test_name_length_limits(d):
    longest = "n" * 255
    write_file(d / longest, b"ok")
    assert read_file(d / longest) == b"ok"
    assert longest in os.listdir(d)
    os.mkdir(d / ("m" * 255))
    too_long = "n" * 256
    expect_errno(errno.ENAMETOOLONG, os.open, d / too_long, os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.ENAMETOOLONG, os.mkdir, d / too_long)
    expect_errno(errno.ENAMETOOLONG, os.stat, d / too_long)
    expect_errno(errno.ENAMETOOLONG, os.symlink, "x", d / too_long)
    expect_errno(errno.ENAMETOOLONG, os.link, d / longest, d / too_long)
    expect_errno(errno.ENAMETOOLONG, os.rename, d / longest, d / too_long)
    expect_errno(errno.ENAMETOOLONG, os.mknod, d / too_long, stat.S_IFREG | 0o644)
    expect_errno(errno.ENAMETOOLONG, os.unlink, d / too_long)
    # multi-byte UTF-8: the limit is 255 bytes, not characters
    write_file(d / ("\u00e9" * 127), b"")   # 254 bytes
    expect_errno(errno.ENAMETOOLONG, write_file, d / ("\u00e9" * 128), b"")   # 256 bytes


def test_path_too_long(d):
    deep = str(d) + "/" + "/".join(["p" * 200] * 21)   # > PATH_MAX (4096)
    expect_errno(errno.ENAMETOOLONG, os.stat, deep)


def test_statfs_name_limit(d):
    assert os.statvfs(d).f_namemax == 255
