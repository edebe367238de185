# SPDX-License-Identifier: Apache-2.0
"""gc and fsck through the real CLI against a mounted volume's store.

1. gc lists objects planted in the store (old enough) as leaked, keeps
   young ones and every referenced block, and deletes only with --delete
2. fsck names the file whose block was deleted; --repair turns the lost
   slice into a hole so the file reads again with its length kept
3. bad input: one-line errors, non-zero exits
"""

import os
import time

from opslib import bucket_objects, needs_file_storage, ok, one_line_error, sha, write

MIB = 1 << 20


def plant(vol, key, age_s):
    path = vol.dir / "bucket" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage" * 100)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return path


def test_gc_finds_planted_objects_and_deletes_only_with_delete(cfg, fresh_volume):
    needs_file_storage(cfg)
    vol = fresh_volume
    data = os.urandom(9 * MIB)
    assert write(vol.mnt / "f", data) == 0
    live = set(bucket_objects(vol))
    assert len(live) == 3  # 4 MiB + 4 MiB + 1 MiB blocks
    old = plant(vol, "vol/chunks/0/999/999999_0_700", 2 * 3600)
    young = plant(vol, "vol/chunks/0/999/999998_0_700", 60)
    r = ok(vol, "gc", vol.meta_url)
    assert "vol/chunks/0/999/999999_0_700" in r.stdout
    assert "999998" not in r.stdout
    assert "1 leaked" in r.stdout and "1 younger than 3600s kept" in r.stdout
    assert old.exists() and young.exists()
    r = ok(vol, "gc", "--age", "30s", vol.meta_url)
    assert "2 leaked" in r.stdout
    r = ok(vol, "gc", "--delete", vol.meta_url)
    assert "1 leaked" in r.stdout and "1 deleted" in r.stdout
    assert not old.exists() and young.exists()
    assert set(bucket_objects(vol)) == live | {"vol/chunks/0/999/999998_0_700"}
    vol.remount()
    with open(vol.mnt / "f", "rb") as f:
        assert f.read() == data


def test_gc_deletes_pending_slices_of_removed_files(cfg, fresh_volume):
    needs_file_storage(cfg)
    vol = fresh_volume
    assert write(vol.mnt / "f", os.urandom(5 * MIB)) == 0
    vol.umount()  # no housekeeping to race with
    assert len(bucket_objects(vol)) == 2
    ok(vol, "status", vol.meta_url)
    vol.mount()
    os.unlink(vol.mnt / "f")
    vol.umount()  # the unmount's housekeeping may already delete them
    r = ok(vol, "gc", "--delete", vol.meta_url)
    assert bucket_objects(vol) == {}, r.stdout


def test_fsck_names_the_file_with_a_deleted_block_and_repairs(cfg, fresh_volume):
    needs_file_storage(cfg)
    vol = fresh_volume
    (vol.mnt / "dir").mkdir()
    assert write(vol.mnt / "dir/good", os.urandom(MIB)) == 0
    data = os.urandom(6 * MIB)
    assert write(vol.mnt / "dir/victim", data) == 0
    r = ok(vol, "fsck", vol.meta_url)
    assert "0 broken files" in r.stdout
    before = set(bucket_objects(vol))
    vol.umount()
    victim_blocks = sorted(k for k in before if k.endswith("_4194304") or k.endswith("_2097152"))
    os.unlink(vol.dir / "bucket" / victim_blocks[-1])  # the 2 MiB tail block
    r = ok(vol, "fsck", vol.meta_url, code=1)
    assert "broken: /dir/victim" in r.stdout and "missing block" in r.stdout
    assert "/dir/good" not in r.stdout
    r = ok(vol, "fsck", "--path", "/dir/good", vol.meta_url)
    assert "0 broken files" in r.stdout
    r = ok(vol, "fsck", "--repair", "--yes", vol.meta_url)
    assert "repaired: /dir/victim" in r.stdout
    ok(vol, "fsck", vol.meta_url)
    vol.mount()
    got = (vol.mnt / "dir/victim").read_bytes()
    assert len(got) == len(data) and got == b"\0" * len(data)  # one slice: all of it a hole now
    assert sha(vol.mnt / "dir/good")


def test_gc_fsck_bad_input(fresh_volume):
    vol = fresh_volume
    r = ok(vol, "gc", "--age", "soon", vol.meta_url, code=2)
    one_line_error(r, "soon")
    r = ok(vol, "gc", code=2)
    one_line_error(r, "META-URL")
    r = ok(vol, "fsck", "--path", "/missing", vol.meta_url, code=1)
    assert "/missing" in r.stderr
    r = ok(vol, "gc", "sqlite3:///nonexistent/db", code=1)
    one_line_error(r, "nonexistent")
