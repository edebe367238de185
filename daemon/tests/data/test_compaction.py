# SPDX-License-Identifier: Apache-2.0
"""Slice compaction through a real mount: 10,000 small overwrites of one
64 MiB region leave at most a handful of slices once the file is quiet,
the content is right when read back from the object store alone, and the
blocks of the replaced slices are deleted from the store."""

import os
import random
import sqlite3

from conftest import BLOCK, MIB, cache_files, read_file, wait_for, write_file

REGION = 64 * MIB
HANDFUL = 5


def slices_of(vol, ino):
    db = sqlite3.connect(f"file:{vol.cfg.db_path(vol.meta_url)}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT length(CAST(slices AS BLOB)) / 24 FROM chunk WHERE inode = ?", (ino,)).fetchall()
    finally:
        db.close()
    return sum(r[0] for r in rows)


def store_blocks(vol):
    root = vol.dir / "bucket"
    return sum(len(fs) for _, _, fs in os.walk(root))


def test_many_small_overwrites_are_compacted(volumes):
    vol = volumes()
    model = bytearray(os.urandom(REGION))
    path = vol.mnt / "hot"
    write_file(path, model)
    rng = random.Random(5)
    fd = os.open(path, os.O_RDWR)
    try:
        for i in range(10000):
            n = rng.randrange(1, 4097)
            off = rng.randrange(0, REGION - n)
            b = rng.randbytes(n)
            os.pwrite(fd, b, off)
            model[off:off + n] = b
            if i % 1000 == 999:
                os.fsync(fd)  # commits: many slices reach the engine
    finally:
        os.close(fd)
    ino = os.stat(path).st_ino
    assert wait_for(lambda: slices_of(vol, ino) <= HANDFUL, 120, step=0.5), \
        f"{slices_of(vol, ino)} slices left after compaction (want <= {HANDFUL})"
    blocks = REGION // BLOCK
    assert wait_for(lambda: store_blocks(vol) <= blocks + 4 * HANDFUL, 60, step=0.5), \
        f"{store_blocks(vol)} objects in the store: old slices not deleted"

    vol.umount()  # read from the store alone
    for p in cache_files(vol):
        p.unlink()
    vol.mount()
    assert read_file(path) == bytes(model)
