# SPDX-License-Identifier: Apache-2.0
"""Two daemon processes mounting one Redis-backed volume (issue 4): close-
to-open visibility over 1,000 rounds, flock and POSIX lock conflicts across
the mounts, and rename/unlink races that must leave one consistent tree."""

import errno
import fcntl
import os
import random
import threading
import time

import pytest


def test_close_to_open_1000_rounds(two_mounts):
    a, b = two_mounts
    path_a, path_b = a.mnt / "c2o", b.mnt / "c2o"
    stale = []
    for i in range(1000):
        data = (f"round {i} " * (1 + i % 7)).encode()
        with open(path_a, "wb") as f:
            f.write(data)
        with open(path_b, "rb") as f:
            got = f.read()
        if got != data:
            stale.append((i, len(data), got[:40]))
    assert not stale, f"{len(stale)} of 1000 opens on B saw old content, first: {stale[:3]}"


def test_flock_across_mounts(two_mounts):
    a, b = two_mounts
    (a.mnt / "lk").write_bytes(b"x")
    fa = os.open(a.mnt / "lk", os.O_RDWR)
    fb = os.open(b.mnt / "lk", os.O_RDWR)
    try:
        fcntl.flock(fa, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fb, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fa, fcntl.LOCK_UN)
        fcntl.flock(fb, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fa, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared with shared: fine
        with pytest.raises(BlockingIOError):
            fcntl.flock(fa, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fa)
        os.close(fb)


def test_posix_locks_across_mounts(two_mounts):
    a, b = two_mounts
    (a.mnt / "plk").write_bytes(b"y" * 200)
    fa = os.open(a.mnt / "plk", os.O_RDWR)
    fb = os.open(b.mnt / "plk", os.O_RDWR)
    try:
        fcntl.lockf(fa, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
        with pytest.raises(OSError) as e:
            fcntl.lockf(fb, fcntl.LOCK_SH | fcntl.LOCK_NB, 10, 50)
        assert e.value.errno in (errno.EAGAIN, errno.EACCES)
        fcntl.lockf(fb, fcntl.LOCK_EX | fcntl.LOCK_NB, 50, 100)  # beyond A's range
        # a blocking lock on B waits until A unlocks
        got = threading.Event()

        def wait_lock():
            fcntl.lockf(fb, fcntl.LOCK_EX, 10, 0)
            got.set()

        t = threading.Thread(target=wait_lock)
        t.start()
        time.sleep(0.5)
        assert not got.is_set(), "B's F_SETLKW did not wait for A's lock"
        fcntl.lockf(fa, fcntl.LOCK_UN, 100, 0)
        t.join(15)
        assert got.is_set(), "B's F_SETLKW did not get the lock after A released it"
    finally:
        os.close(fa)
        os.close(fb)


def _race(root, names, seconds, seed, errors):
    rnd = random.Random(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        x, y = rnd.choice(names), rnd.choice(names)
        op = rnd.randrange(4)
        try:
            if op == 0:
                os.rename(root / x, root / y)
            elif op == 1:
                os.unlink(root / x)
            elif op == 2:
                with open(root / x, "wb") as f:
                    f.write(x.encode())
            else:
                os.link(root / x, root / y)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EEXIST):
                errors.append(f"op {op} {x} {y}: {e}")


def test_rename_unlink_races(two_mounts):
    a, b = two_mounts
    (a.mnt / "race").mkdir()
    names = [f"n{i}" for i in range(6)]
    errors = []
    threads = [threading.Thread(target=_race, args=(m.mnt / "race", names, 8, seed, errors))
               for seed, m in enumerate((a, b, a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    time.sleep(2)  # past the kernels' attribute/entry caches
    list_a = sorted(os.listdir(a.mnt / "race"))
    list_b = sorted(os.listdir(b.mnt / "race"))
    assert list_a == list_b
    inodes = {}
    for name in list_a:
        sa, sb = os.lstat(a.mnt / "race" / name), os.lstat(b.mnt / "race" / name)
        assert sa.st_ino == sb.st_ino and sa.st_size == sb.st_size
        inodes.setdefault(sa.st_ino, []).append(name)
    for ino, links in inodes.items():  # link counts agree with the entries
        assert os.lstat(a.mnt / "race" / links[0]).st_nlink == len(links), (ino, links)
