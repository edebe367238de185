# SPDX-License-Identifier: Apache-2.0
"""File data through the mount: open/create flags, reads and writes at any
offset, sparse files and holes, files larger than one 64 MiB chunk,
fsync/fdatasync, fallocate modes, copy_file_range and shared writable mmap."""

import errno
import hashlib
import mmap
import os
import random

import pytest

from harness import CHUNK, MIB, expect_errno, pread_all, read_file, sha256_file, write_file
from sysapi import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, SEEK_DATA,
                    SEEK_HOLE, fallocate)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def assert_same(got, want, what):
    pos = first_difference(got, want)
    assert pos is None, f"{what}: differs at byte {pos} (got {len(got)} bytes, want {len(want)})"


# ------------------------------------------------------------ open/create

def test_create_excl(d):
    fd = os.open(d / "f", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)
    expect_errno(errno.EEXIST, os.open, d / "f", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.symlink("dangling", d / "l")
    expect_errno(errno.EEXIST, os.open, d / "l", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    assert not os.path.lexists(d / "dangling"), "O_EXCL must not follow a symlink"


def test_create_follows_dangling_symlink_without_excl(d):
    os.symlink("made", d / "l")
    os.close(os.open(d / "l", os.O_CREAT | os.O_WRONLY, 0o644))
    assert os.path.isfile(d / "made")


def test_open_trunc(d):
    write_file(d / "f", b"x" * 5000)
    ino = os.stat(d / "f").st_ino
    os.utime(d / "f", (1_000_000_000, 1_000_000_000))
    fd = os.open(d / "f", os.O_WRONLY | os.O_TRUNC)
    st = os.fstat(fd)
    os.close(fd)
    assert st.st_size == 0
    assert st.st_ino == ino
    assert st.st_mtime > 1_000_000_010, "O_TRUNC must update mtime"
    assert read_file(d / "f") == b""


def test_open_trunc_then_write_has_no_stale_data(d):
    write_file(d / "f", b"OLDOLDOLDOLD" * 1000)
    fd = os.open(d / "f", os.O_RDWR | os.O_TRUNC)
    os.pwrite(fd, b"new", 100)
    os.close(fd)
    assert read_file(d / "f") == bytes(100) + b"new"


def test_append(d):
    write_file(d / "f", b"start:")
    a = os.open(d / "f", os.O_WRONLY | os.O_APPEND)
    b = os.open(d / "f", os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(20):
            os.write(a if i % 2 == 0 else b, f"[{i}]".encode())
        os.lseek(a, 0, os.SEEK_SET)
        os.write(a, b"END")   # O_APPEND ignores the file offset
    finally:
        os.close(a)
        os.close(b)
    want = b"start:" + b"".join(f"[{i}]".encode() for i in range(20)) + b"END"
    assert read_file(d / "f") == want


def test_open_errors(d):
    os.mkdir(d / "dir")
    write_file(d / "f", b"")
    expect_errno(errno.ENOENT, os.open, d / "missing", os.O_RDONLY)
    expect_errno(errno.ENOENT, os.open, d / "missing/f", os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.EISDIR, os.open, d / "dir", os.O_WRONLY)
    expect_errno(errno.EISDIR, os.open, d / "dir", os.O_RDWR)
    expect_errno(errno.ENOTDIR, os.open, d / "f", os.O_RDONLY | os.O_DIRECTORY)
    expect_errno(errno.ENOTDIR, os.open, d / "f/x", os.O_RDONLY)
    expect_errno((errno.EISDIR, errno.EEXIST), os.open, d / "dir", os.O_CREAT | os.O_WRONLY, 0o644)


def test_write_to_readonly_descriptor(d):
    write_file(d / "f", b"abc")
    fd = os.open(d / "f", os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, os.write, fd, b"x")
    finally:
        os.close(fd)
    fd = os.open(d / "f", os.O_WRONLY)
    try:
        expect_errno(errno.EBADF, os.read, fd, 1)
    finally:
        os.close(fd)


# ------------------------------------------------------------ read/write

def test_random_writes_and_reads_match_model(d):
    rng = random.Random(20240601)
    size_limit = 9 * MIB + 12345   # crosses two 4 MiB block boundaries
    model = bytearray()
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for step in range(300):
            off = rng.randrange(size_limit)
            length = rng.choice([1, 7, 4096, 65536, rng.randrange(1, 300_000)])
            data = rng.randbytes(length)
            assert os.pwrite(fd, data, off) == length
            if off > len(model):
                model.extend(bytes(off - len(model)))
            model[off:off + length] = data
            if step % 10 == 0:   # read-after-write without closing
                roff = rng.randrange(len(model) + 100)
                rlen = rng.randrange(1, 200_000)
                got = pread_all(fd, rlen, roff)
                assert_same(got, bytes(model[roff:roff + rlen]), f"step {step}: pread({rlen}, {roff})")
        assert os.fstat(fd).st_size == len(model)
    finally:
        os.close(fd)
    assert_same(read_file(d / "f"), bytes(model), "whole file after close")


def test_read_past_eof(d):
    write_file(d / "f", b"0123456789")
    fd = os.open(d / "f", os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 5) == b"56789"
        assert os.pread(fd, 100, 10) == b""
        assert os.pread(fd, 100, 10**12) == b""
    finally:
        os.close(fd)


def test_sequential_read_write_large_buffers(d):
    data = os.urandom(9 * MIB + 3)
    with open(d / "f", "wb") as f:
        for off in range(0, len(data), 3 * MIB // 2):
            f.write(data[off:off + 3 * MIB // 2])
    assert sha256_file(d / "f", bufsize=4 * MIB) == hashlib.sha256(data).hexdigest()
    assert sha256_file(d / "f", bufsize=4096) == hashlib.sha256(data).hexdigest()


def test_empty_file(d):
    write_file(d / "f", b"")
    assert os.stat(d / "f").st_size == 0
    assert read_file(d / "f") == b""


# ------------------------------------------------------- sparse / holes

def test_sparse_file_reads_zeros_in_holes(d):
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"head", 0)
        os.pwrite(fd, b"middle", 5 * MIB)
        os.pwrite(fd, b"tail", 20 * MIB)
        assert os.fstat(fd).st_size == 20 * MIB + 4
        assert pread_all(fd, 5 * MIB - 4, 4) == bytes(5 * MIB - 4)
        assert pread_all(fd, 100, 5 * MIB - 50) == bytes(50) + b"middle" + bytes(44)
        assert pread_all(fd, 10, 20 * MIB - 6) == bytes(6) + b"tail"
    finally:
        os.close(fd)


def test_seek_data_and_hole(d):
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"x" * 4096, 8 * MIB)
        size = 8 * MIB + 4096
        data = os.lseek(fd, 0, SEEK_DATA)
        assert 0 <= data <= 8 * MIB, f"SEEK_DATA from 0 skipped the data at 8 MiB: {data}"
        hole = os.lseek(fd, 8 * MIB, SEEK_HOLE)
        assert 8 * MIB < hole <= size, f"SEEK_HOLE inside data returned {hole}"
        expect_errno(errno.ENXIO, os.lseek, fd, size, SEEK_DATA)
        expect_errno(errno.ENXIO, os.lseek, fd, size + 10, SEEK_HOLE)
    finally:
        os.close(fd)


def test_file_larger_than_one_chunk(d):
    """70 MiB sparse file with real data straddling the 64 MiB chunk edge."""
    rng = random.Random(64)
    across = rng.randbytes(3 * MIB)
    start = CHUNK - 1 * MIB - 5
    fd = os.open(d / "big", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"first chunk", 1000)
        assert os.pwrite(fd, across, start) == len(across)
        os.pwrite(fd, b"end", 70 * MIB - 3)
        os.fsync(fd)
        assert os.fstat(fd).st_size == 70 * MIB
        assert_same(pread_all(fd, len(across), start), across, "data across the chunk boundary")
        assert pread_all(fd, 16, CHUNK - 8) == across[1 * MIB - 3:1 * MIB + 13]
        assert pread_all(fd, 1 * MIB, 2 * MIB) == bytes(1 * MIB), "hole in chunk 0 not zero"
        assert pread_all(fd, 1 * MIB, CHUNK + 3 * MIB) == bytes(1 * MIB), "hole in chunk 1 not zero"
    finally:
        os.close(fd)
    want = bytearray(70 * MIB)
    want[1000:1011] = b"first chunk"
    want[start:start + len(across)] = across
    want[-3:] = b"end"
    assert sha256_file(d / "big", bufsize=4 * MIB) == hashlib.sha256(want).hexdigest()


def test_truncate_across_chunk_boundary(d):
    p = d / "big"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"A" * MIB, CHUNK - MIB // 2)
        os.ftruncate(fd, CHUNK - 100)
        os.ftruncate(fd, CHUNK + MIB)
        got = pread_all(fd, MIB, CHUNK - MIB // 2)
    finally:
        os.close(fd)
    assert got[:MIB // 2 - 100] == b"A" * (MIB // 2 - 100)
    assert got[MIB // 2 - 100:] == bytes(MIB // 2 + 100), "truncated data came back in the next chunk"


# ---------------------------------------------------------- fsync family

def test_fsync_fdatasync(d):
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x" * 100_000)
        os.fsync(fd)
        os.pwrite(fd, b"y", 5)
        os.fdatasync(fd)
        os.fsync(fd)   # twice with nothing dirty is fine
    finally:
        os.close(fd)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    data = read_file(d / "f")
    assert data[:5] == b"xxxxx" and data[5:6] == b"y" and len(data) == 100_000


def test_flush_on_close_makes_data_visible_to_new_open(d):
    with open(d / "f", "wb") as f:
        f.write(b"z" * 3 * MIB)
    with open(d / "f", "rb") as g:
        assert g.read() == b"z" * 3 * MIB


# ------------------------------------------------------------- fallocate

def test_fallocate_default_extends(d):
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"abc")
        fallocate(fd, 0, 0, 3 * MIB)
        assert os.fstat(fd).st_size == 3 * MIB
        assert pread_all(fd, 3 * MIB, 0) == b"abc" + bytes(3 * MIB - 3)
        fallocate(fd, 0, 0, 10)   # inside the file: size unchanged
        assert os.fstat(fd).st_size == 3 * MIB
    finally:
        os.close(fd)


def test_fallocate_keep_size(d):
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"abc")
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2 * MIB)
        assert os.fstat(fd).st_size == 3
        assert os.pread(fd, 100, 0) == b"abc"
    finally:
        os.close(fd)


def test_fallocate_punch_hole(d):
    data = os.urandom(3 * MIB)
    write_file(d / "f", data)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, MIB)
        assert os.fstat(fd).st_size == 3 * MIB
        got = pread_all(fd, 3 * MIB, 0)
    finally:
        os.close(fd)
    assert_same(got, data[:1000] + bytes(MIB) + data[1000 + MIB:], "after PUNCH_HOLE")
    assert read_file(d / "f") == got, "punched hole differs after reopen"


def test_fallocate_punch_hole_requires_keep_size(d):
    write_file(d / "f", b"x" * 10000)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        expect_errno((errno.EINVAL, errno.EOPNOTSUPP), fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 100)
    finally:
        os.close(fd)
    assert read_file(d / "f") == b"x" * 10000


def test_fallocate_zero_range(d):
    data = os.urandom(2 * MIB)
    write_file(d / "f", data)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, 8192)
        assert os.fstat(fd).st_size == 2 * MIB
        got = pread_all(fd, 2 * MIB, 0)
        assert_same(got, data[:4096] + bytes(8192) + data[12288:], "after ZERO_RANGE inside")
        fallocate(fd, FALLOC_FL_ZERO_RANGE, 2 * MIB - 10, 100)   # extends the file
        assert os.fstat(fd).st_size == 2 * MIB + 90
        assert pread_all(fd, 200, 2 * MIB - 10) == bytes(100)
        fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 2 * MIB, 1000)
        assert os.fstat(fd).st_size == 2 * MIB + 90
    finally:
        os.close(fd)


def test_fallocate_errors(d):
    write_file(d / "f", b"x")
    fd = os.open(d / "f", os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, fallocate, fd, 0, 0, 100)
    finally:
        os.close(fd)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        expect_errno(errno.EINVAL, fallocate, fd, 0, 0, 0)
        expect_errno(errno.EINVAL, fallocate, fd, 0, -1, 10)
    finally:
        os.close(fd)


# -------------------------------------------------------- copy_file_range

def test_copy_file_range(d):
    src_data = os.urandom(5 * MIB + 77)
    write_file(d / "src", src_data)
    write_file(d / "dst", b"D" * 100)
    s = os.open(d / "src", os.O_RDONLY)
    t = os.open(d / "dst", os.O_WRONLY)
    try:
        copied = 0
        while copied < len(src_data):
            n = os.copy_file_range(s, t, len(src_data) - copied, copied, 50 + copied)
            assert n > 0, f"copy_file_range returned {n} with {len(src_data) - copied} left"
            copied += n
        # a short partial copy in the middle of the source
        assert os.copy_file_range(s, t, 10, 4 * MIB) == 10   # uses and advances file offsets
    finally:
        os.close(s)
        os.close(t)
    want = bytearray(b"D" * 50 + src_data)
    want[0:10] = src_data[4 * MIB:4 * MIB + 10]
    assert_same(read_file(d / "dst"), bytes(want), "destination after copy_file_range")
    assert read_file(d / "src") == src_data, "copy_file_range changed its source"


def test_copy_file_range_past_eof_and_holes(d):
    fd = os.open(d / "src", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"tail", 3 * MIB)
    os.close(fd)
    s = os.open(d / "src", os.O_RDONLY)
    t = os.open(d / "dst", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert os.copy_file_range(s, t, 100, 10 * MIB, 0) == 0, "copy from past EOF must copy nothing"
        total = 0
        while total < 3 * MIB + 4:
            n = os.copy_file_range(s, t, 3 * MIB + 4 - total, total, total)
            assert n > 0
            total += n
    finally:
        os.close(s)
        os.close(t)
    assert read_file(d / "dst") == bytes(3 * MIB) + b"tail"


def test_copy_file_range_errors(d):
    os.mkdir(d / "dir")
    write_file(d / "f", b"abc")
    s = os.open(d / "f", os.O_RDONLY)
    t = os.open(d / "f", os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, os.copy_file_range, s, t, 3, 0, 10)
    finally:
        os.close(s)
        os.close(t)


# --------------------------------------------------------------- mmap

def test_shared_writable_mmap(d):
    p = d / "m"
    write_file(p, bytes(2 * MIB))
    fd = os.open(p, os.O_RDWR)
    try:
        m = mmap.mmap(fd, 2 * MIB, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:5] = b"hello"
        m[MIB - 2:MIB + 2] = b"edge"
        m[2 * MIB - 3:] = b"end"
        m.flush()    # msync(MS_SYNC)
        assert os.pread(fd, 5, 0) == b"hello"
        assert os.pread(fd, 4, MIB - 2) == b"edge"
        os.pwrite(fd, b"WRITE", 100)
        assert m[100:105] == b"WRITE", "write(2) not visible through the shared mapping"
        m.close()
    finally:
        os.close(fd)
    data = read_file(p)
    assert data[0:5] == b"hello" and data[MIB - 2:MIB + 2] == b"edge" and data[-3:] == b"end"
    assert data[100:105] == b"WRITE"


def test_mmap_extend_with_ftruncate(d):
    p = d / "m"
    write_file(p, b"")
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, 3 * 4096)
        m = mmap.mmap(fd, 3 * 4096)
        m[4096 * 2 + 10:4096 * 2 + 13] = b"abc"
        m.flush()
        m.close()
    finally:
        os.close(fd)
    assert read_file(p) == bytes(8202) + b"abc" + bytes(4096 - 13)


def test_mmap_private_does_not_write_back(d):
    write_file(d / "m", b"original")
    fd = os.open(d / "m", os.O_RDWR)
    try:
        m = mmap.mmap(fd, 8, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:3] = b"XYZ"
        m.close()
    finally:
        os.close(fd)
    assert read_file(d / "m") == b"original"


@pytest.mark.parametrize("size", [4096, 5 * MIB + 1])
def test_mmap_read(d, size):
    data = os.urandom(size)
    write_file(d / "m", data)
    with open(d / "m", "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        assert m[:] == data
        m.close()
