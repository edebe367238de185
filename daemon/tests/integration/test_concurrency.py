# SPDX-License-Identifier: Apache-2.0
"""Concurrent use: several processes changing one directory, threads writing
one file, and two daemons serving the same volume.  Writers are serialised
inside tidefs with busy retries, so no application may ever see EBUSY/EIO
("database is locked") and nothing may be lost."""

import hashlib
import os
import threading
import time

from harness import MIB, Child, pread_all, read_file, write_file

WORKERS = 4
ROUNDS = 150


def churn(root, worker):
    """create, write, rename, link, unlink and mkdir in a shared directory."""
    for i in range(ROUNDS):
        name = root / f"w{worker}-{i}"
        write_file(name, f"{worker}:{i}".encode() * 10)
        os.rename(name, root / f"w{worker}-{i}.done")
        if i % 3 == 0:
            os.link(root / f"w{worker}-{i}.done", root / f"w{worker}-{i}.link")
        if i % 5 == 0:
            os.unlink(root / f"w{worker}-{i}.done")
        if i % 25 == 0:
            os.mkdir(root / f"dir-{worker}-{i}")
            os.listdir(root)
    return "done"


def expected_names(worker):
    names = set()
    for i in range(ROUNDS):
        if i % 5:
            names.add(f"w{worker}-{i}.done")
        if i % 3 == 0:
            names.add(f"w{worker}-{i}.link")
        if i % 25 == 0:
            names.add(f"dir-{worker}-{i}")
    return names


def test_processes_changing_one_directory(d):
    children = [Child(churn, d, w) for w in range(WORKERS)]
    errors = []
    for w, child in enumerate(children):
        try:
            child.result(timeout=300)
        except (OSError, AssertionError) as e:
            errors.append(f"worker {w}: {e}")
    assert not errors, f"concurrent metadata changes failed: {errors}"
    want = set().union(*(expected_names(w) for w in range(WORKERS)))
    got = set(os.listdir(d))
    assert got == want, f"missing {sorted(want - got)[:10]}, unexpected {sorted(got - want)[:10]}"
    assert read_file(d / "w2-7.done") == b"2:7" * 10
    assert os.stat(d / "w1-3.link").st_nlink == 2


def test_threads_writing_one_file(d):
    p = d / "shared"
    piece = 256 * 1024
    write_file(p, b"")
    fd = os.open(p, os.O_RDWR)
    errors = []

    def writer(t):
        try:
            for k in range(8):
                off = (k * 4 + t) * piece
                os.pwrite(fd, bytes([t + 1]) * piece, off)
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        os.fsync(fd)
        data = pread_all(fd, 32 * piece, 0)
    finally:
        os.close(fd)
    assert not errors, errors
    for slot in range(32):
        block = data[slot * piece:(slot + 1) * piece]
        assert block == bytes([slot % 4 + 1]) * piece, f"slot {slot} holds the wrong data"


def wait_for(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_two_mounts_of_one_volume(volume_factory):
    a = volume_factory()
    b = volume_factory.mount_again(a)
    payload = os.urandom(3 * MIB)
    write_file(a.mnt / "from-a", payload)
    assert wait_for(lambda: read_file(b.mnt / "from-a") == payload), \
        "a file closed on mount A is not readable (close-to-open) on mount B"
    write_file(b.mnt / "from-b", b"written on b")
    assert wait_for(lambda: read_file(a.mnt / "from-b") == b"written on b")

    # both daemons change metadata at the same time
    ca = Child(churn, a.mnt, 0)
    cb = Child(churn, b.mnt, 1)
    results = []
    for name, child in (("mount A", ca), ("mount B", cb)):
        try:
            results.append(child.result(timeout=300))
        except (OSError, AssertionError) as e:
            results.append(f"{name}: {e}")
    assert results == ["done", "done"], f"concurrent writers on two mounts: {results}"
    want = expected_names(0) | expected_names(1) | {"from-a", "from-b"}
    assert wait_for(lambda: set(os.listdir(a.mnt)) == want)
    assert set(os.listdir(b.mnt)) == want
    a.umount()
    b.umount()
    a.mount()
    assert set(os.listdir(a.mnt)) == want
    assert hashlib.sha256(read_file(a.mnt / "from-a")).digest() == hashlib.sha256(payload).digest()
