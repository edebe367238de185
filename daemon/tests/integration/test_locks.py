# SPDX-License-Identifier: Apache-2.0
"""flock(2) and POSIX byte-range locks (F_GETLK/F_SETLK/F_SETLKW) through
the mount, between separate processes with their own open file descriptions."""

import errno
import fcntl
import os
import time

from harness import Child, expect_errno, in_child, write_file
from sysapi import posix_lock

F_RDLCK, F_WRLCK, F_UNLCK = fcntl.F_RDLCK, fcntl.F_WRLCK, fcntl.F_UNLCK
BUSY = (errno.EAGAIN, errno.EACCES)


def opened(path, flags=os.O_RDWR):
    return os.open(path, flags)


def child_setlk(path, ltype, start, length):
    fd = opened(path)
    try:
        posix_lock(fd, fcntl.F_SETLK, ltype, start, length)
        return "locked"
    finally:
        os.close(fd)


def child_getlk(path, ltype, start, length):
    fd = opened(path)
    try:
        return posix_lock(fd, fcntl.F_GETLK, ltype, start, length)
    finally:
        os.close(fd)


def child_setlkw_timed(path, start, length):
    fd = opened(path)
    try:
        t0 = time.monotonic()
        posix_lock(fd, fcntl.F_SETLKW, F_WRLCK, start, length)
        return time.monotonic() - t0
    finally:
        os.close(fd)


def test_posix_write_lock_conflicts(d):
    p = d / "f"
    write_file(p, bytes(1000))
    fd = opened(p)
    try:
        posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 100)
        expect_errno(BUSY, in_child, child_setlk, p, F_WRLCK, 50, 10)
        expect_errno(BUSY, in_child, child_setlk, p, F_RDLCK, 99, 1)
        assert in_child(child_setlk, p, F_WRLCK, 100, 100) == "locked", "a disjoint range must lock"
        ltype, start, length, pid = in_child(child_getlk, p, F_WRLCK, 50, 10)
        assert (ltype, start, length) == (F_WRLCK, 0, 100), "F_GETLK must describe the conflicting lock"
        assert pid == os.getpid(), f"F_GETLK l_pid {pid} is not the holder {os.getpid()}"
        ltype, *_ = in_child(child_getlk, p, F_WRLCK, 500, 10)
        assert ltype == F_UNLCK, "F_GETLK on a free range must answer F_UNLCK"
        posix_lock(fd, fcntl.F_SETLK, F_UNLCK, 0, 100)
        assert in_child(child_setlk, p, F_WRLCK, 0, 1000) == "locked"
    finally:
        os.close(fd)


def test_posix_read_locks_share(d):
    p = d / "f"
    write_file(p, bytes(100))
    fd = opened(p, os.O_RDONLY)
    try:
        posix_lock(fd, fcntl.F_SETLK, F_RDLCK, 0, 0)   # whole file
        assert in_child(child_setlk, p, F_RDLCK, 10, 10) == "locked"
        expect_errno(BUSY, in_child, child_setlk, p, F_WRLCK, 10, 10)
        ltype, *_ = in_child(child_getlk, p, F_WRLCK, 0, 1)
        assert ltype == F_RDLCK
    finally:
        os.close(fd)


def test_posix_setlkw_waits_for_release(d):
    p = d / "f"
    write_file(p, bytes(100))
    fd = opened(p)
    try:
        posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 50)
        waiter = Child(child_setlkw_timed, p, 10, 5)
        time.sleep(0.8)
        posix_lock(fd, fcntl.F_SETLK, F_UNLCK, 0, 50)
        waited = waiter.result(timeout=30)
    finally:
        os.close(fd)
    assert waited >= 0.5, f"F_SETLKW returned after {waited:.2f} s although the range was locked"


def test_posix_locks_released_when_any_descriptor_closes(d):
    p = d / "f"
    write_file(p, bytes(100))
    fd = opened(p)
    other = opened(p, os.O_RDONLY)
    try:
        posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 0)
        expect_errno(BUSY, in_child, child_setlk, p, F_WRLCK, 0, 1)
        os.close(other)   # POSIX: closing any fd of the file drops the process's locks
        other = None
        assert in_child(child_setlk, p, F_WRLCK, 0, 1) == "locked"
    finally:
        os.close(fd)
        if other is not None:
            os.close(other)


def test_posix_locks_released_when_process_exits(d):
    p = d / "f"
    write_file(p, bytes(100))
    r, w = os.pipe()
    holder = os.fork()
    if holder == 0:   # pragma: no cover - child
        try:
            fd = opened(p)
            posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 0)
            os.write(w, b"1")
            time.sleep(0.5)
        finally:
            os._exit(0)   # exits holding the lock
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    fd = opened(p)
    try:
        expect_errno(BUSY, posix_lock, fd, fcntl.F_SETLK, F_WRLCK, 0, 1)
        os.waitpid(holder, 0)
        posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 1)   # must not raise
    finally:
        os.close(fd)


def test_posix_lock_split_and_merge(d):
    p = d / "f"
    write_file(p, bytes(100))
    fd = opened(p)
    try:
        posix_lock(fd, fcntl.F_SETLK, F_WRLCK, 0, 100)
        posix_lock(fd, fcntl.F_SETLK, F_UNLCK, 40, 20)   # splits into [0,40) and [60,100)
        assert in_child(child_setlk, p, F_WRLCK, 40, 20) == "locked"
        expect_errno(BUSY, in_child, child_setlk, p, F_WRLCK, 39, 1)
        expect_errno(BUSY, in_child, child_setlk, p, F_WRLCK, 60, 1)
    finally:
        os.close(fd)


def child_flock(path, op):
    fd = opened(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, op)
        return "locked"
    finally:
        os.close(fd)


def test_flock_exclusive_and_shared(d):
    p = d / "f"
    write_file(p, b"")
    fd = opened(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        expect_errno(errno.EWOULDBLOCK, in_child, child_flock, p, fcntl.LOCK_EX | fcntl.LOCK_NB)
        expect_errno(errno.EWOULDBLOCK, in_child, child_flock, p, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_SH)   # downgrade
        assert in_child(child_flock, p, fcntl.LOCK_SH | fcntl.LOCK_NB) == "locked"
        expect_errno(errno.EWOULDBLOCK, in_child, child_flock, p, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert in_child(child_flock, p, fcntl.LOCK_EX | fcntl.LOCK_NB) == "locked"
    finally:
        os.close(fd)


def test_flock_blocking_waits(d):
    p = d / "f"
    write_file(p, b"")
    fd = opened(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)

        def wait_for_lock():
            t0 = time.monotonic()
            child_flock(p, fcntl.LOCK_EX)
            return time.monotonic() - t0

        waiter = Child(wait_for_lock)
        time.sleep(0.8)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert waiter.result(timeout=30) >= 0.5
    finally:
        os.close(fd)


def test_flock_released_on_close(d):
    p = d / "f"
    write_file(p, b"")
    fd = opened(p, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.close(fd)
    assert in_child(child_flock, p, fcntl.LOCK_EX | fcntl.LOCK_NB) == "locked"


def test_flock_and_posix_locks_are_independent(d):
    """On Linux flock(2) and fcntl locks do not interact."""
    p = d / "f"
    write_file(p, bytes(10))
    fd = opened(p)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert in_child(child_setlk, p, F_WRLCK, 0, 0) == "locked"
    finally:
        os.close(fd)
