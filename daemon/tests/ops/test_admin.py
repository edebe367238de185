# SPDX-License-Identifier: Apache-2.0
"""config, destroy, rmr, info, dump/load through the real CLI and mounts.

1. config changes safe settings (a mount follows), refuses unsafe ones
   with the reason and changes nothing then
2. destroy refuses a wrong UUID and a live mount; then deletes every
   object and the metadata
3. rmr removes a tree in metadata; the mount sees it gone
4. info shows a file's inode, slices and object keys, a directory's totals
5. dump/load round trip into a fresh engine: the same tree and content
"""

import json
import os

from opslib import bucket_objects, needs_file_storage, ok, one_line_error, sha, wait_for, write

MIB = 1 << 20


def status(vol):
    return json.loads(ok(vol, "status", vol.meta_url).stdout)


def test_config_safe_and_unsafe(fresh_volume):
    vol = fresh_volume
    before = status(vol)["setting"]
    for flag, value in (("--block-size", "1M"), ("--storage", "s3"), ("--compress", "lz4"), ("--name", "x")):
        r = ok(vol, "config", vol.meta_url, flag, value, code=2)
        one_line_error(r, flag, "cannot be changed")
    assert status(vol)["setting"] == before
    r = ok(vol, "config", vol.meta_url, "--capacity", "64M", "--inodes", "1000")
    assert "capacity: unlimited -> 64.0 MiB" in r.stdout
    s = status(vol)["setting"]
    assert s["capacity"] == 64 * MIB and s["inodes"] == 1000 and s["uuid"] == before["uuid"]
    # the running mount follows within its heartbeat
    wait_for(lambda: os.statvfs(vol.mnt).f_blocks * os.statvfs(vol.mnt).f_frsize == 64 * MIB,
             what="statfs showing the new capacity")
    r = ok(vol, "config", vol.meta_url, "--capacity", "-5", code=2)
    one_line_error(r, "--capacity")
    assert json.loads(ok(vol, "config", vol.meta_url).stdout)["capacity"] == 64 * MIB


def test_destroy(cfg, volume_factory):
    vol = volume_factory()
    assert write(vol.mnt / "f", os.urandom(2 * MIB)) == 0
    uuid = status(vol)["setting"]["uuid"]
    r = ok(vol, "destroy", "--yes", vol.meta_url, "00000000-0000-0000-0000-000000000000", code=1)
    one_line_error(r, "does not match")
    r = ok(vol, "destroy", "--yes", vol.meta_url, uuid, code=1)
    assert "live mount" in r.stderr
    vol.umount()
    r = ok(vol, "destroy", vol.meta_url, uuid, code=1)  # no terminal, no --yes
    one_line_error(r, "not confirmed")
    assert status(vol)["setting"]["uuid"] == uuid
    r = ok(vol, "destroy", "--yes", vol.meta_url, uuid)
    assert "metadata deleted" in r.stdout
    if cfg.storage == "file":
        assert bucket_objects(vol) == {}
    r = ok(vol, "status", vol.meta_url, code=1)
    assert "not a formatted" in r.stderr
    vol.format()  # the engine is empty again: format works without --force


def test_rmr(fresh_volume):
    vol = fresh_volume
    for i in range(5):
        (vol.mnt / f"tree/d{i}").mkdir(parents=True)
        for j in range(20):
            (vol.mnt / f"tree/d{i}/f{j}").write_bytes(b"z")
    (vol.mnt / "keep").write_bytes(b"k")
    r = ok(vol, "rmr", vol.mnt / "tree")
    assert "106 entries removed" in r.stdout
    wait_for(lambda: not os.path.exists(vol.mnt / "tree"), what="tree gone from the mount")
    assert os.listdir(vol.mnt) == ["keep"]
    assert status(vol)["usage"]["used_inodes"] == 2
    r = ok(vol, "rmr", vol.mnt, code=1)
    one_line_error(r, "mount point")
    r = ok(vol, "rmr", "/tmp", code=1)
    assert "not inside a tidefs mount" in r.stderr


def test_info(fresh_volume):
    vol = fresh_volume
    (vol.mnt / "d").mkdir()
    assert write(vol.mnt / "d/f", os.urandom(5 * MIB)) == 0
    (vol.mnt / "d/g").write_bytes(b"abc")
    r = ok(vol, "info", vol.mnt / "d/f")
    assert f"inode: {os.stat(vol.mnt / 'd/f').st_ino}" in r.stdout
    assert "length: 5242880" in r.stdout
    keys = [line.split("object: ")[1] for line in r.stdout.splitlines() if "object: " in line]
    assert len(keys) == 2 and keys[0].endswith("_0_4194304") and keys[1].endswith("_1_1048576")
    if vol.cfg.storage == "file":
        assert set(keys) <= set(bucket_objects(vol))
    r = ok(vol, "info", vol.mnt / "d")
    assert "files: 2" in r.stdout and f"bytes: {5 * MIB + 3}" in r.stdout
    r = ok(vol, "info", "/nonexistent", code=1)
    one_line_error(r, "/nonexistent")


def test_dump_load_round_trip(cfg, volume_factory):
    needs_file_storage(cfg)
    vol = volume_factory()
    (vol.mnt / "a/b").mkdir(parents=True)
    assert write(vol.mnt / "a/b/f", os.urandom(3 * MIB)) == 0
    os.symlink("b/f", vol.mnt / "a/l")
    digest = sha(vol.mnt / "a/b/f")
    vol.umount()
    dump = vol.dir / "dump.json"
    ok(vol, "dump", vol.meta_url, dump)
    other = volume_factory(mount=False, name="vol")
    # load needs an empty engine: the fresh one is formatted, so use a new url
    target = cfg.meta_url(other.dir / "loaded", "vol")
    (other.dir / "loaded").mkdir()
    ok(vol, "load", target, dump)
    r = ok(vol, "status", target)
    assert json.loads(r.stdout)["setting"]["uuid"] == status(vol)["setting"]["uuid"]
    # mount the loaded metadata (same bucket) and compare
    other.meta_url = target
    other.mount()
    assert sha(other.mnt / "a/b/f") == digest
    assert os.readlink(other.mnt / "a/l") == "b/f"
