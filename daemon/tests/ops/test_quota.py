# SPDX-License-Identifier: Apache-2.0
"""Directory quotas through `tidefs quota` and a real mount.

1. bytes: writing past a quota gives EDQUOT and leaves no partial metadata;
   usage follows writes, truncates and removals exactly
2. inodes: creating past the limit gives EDQUOT (files and directories)
3. nested quotas and renames move usage between quota'ed directories;
   a rename that would pass a limit fails with EDQUOT and changes nothing
4. a --subdir mount of a quota'ed directory shows the quota in statfs
5. the command's errors: one line, non-zero exit, nothing changed
"""

import json
import os

import pytest

from opslib import EDQUOT, ok, one_line_error, quota, write

MIB = 1 << 20


def test_bytes_edquot_and_exact_usage(fresh_volume):
    vol = fresh_volume
    (vol.mnt / "q").mkdir()
    r = ok(vol, "quota", "set", vol.meta_url, "--path", "/q", "--capacity", "8M")
    assert json.loads(r.stdout)["capacity"] == 8 * MIB
    assert write(vol.mnt / "q/a", os.urandom(4 * MIB)) == 0
    assert quota(vol, "/q")["used_space"] == 4 * MIB
    # past the limit: refused, and the refused file keeps no data
    assert write(vol.mnt / "q/b", os.urandom(6 * MIB)) == EDQUOT
    assert os.stat(vol.mnt / "q/b").st_size == 0
    q = quota(vol, "/q")
    assert q["used_space"] == 4 * MIB and q["used_inodes"] == 2
    # what fits still fits, to the byte (4 KiB rounding like statfs)
    assert write(vol.mnt / "q/c", os.urandom(4 * MIB - 4096)) == 0
    assert quota(vol, "/q")["used_space"] == 8 * MIB - 4096
    assert write(vol.mnt / "q/d", b"x" * 5000) == EDQUOT
    # truncate and unlink give the space back
    os.truncate(vol.mnt / "q/a", MIB)
    assert quota(vol, "/q")["used_space"] == 5 * MIB - 4096
    os.unlink(vol.mnt / "q/c")
    assert quota(vol, "/q")["used_space"] == MIB
    # outside the quota nothing is limited
    assert write(vol.mnt / "free", os.urandom(10 * MIB)) == 0
    # raising the limit takes effect at once on the running mount
    ok(vol, "quota", "set", vol.meta_url, "--path", "/q", "--capacity", "20M")
    assert write(vol.mnt / "q/b", os.urandom(6 * MIB)) == 0
    # the data survives a remount, the usage is still exact
    vol.remount()
    assert os.stat(vol.mnt / "q/b").st_size == 6 * MIB
    assert quota(vol, "/q")["used_space"] == 7 * MIB


def test_inode_limit(fresh_volume):
    vol = fresh_volume
    (vol.mnt / "q").mkdir()
    ok(vol, "quota", "set", vol.meta_url, "--path", "/q", "--inodes", "3")
    (vol.mnt / "q/sub").mkdir()
    (vol.mnt / "q/sub/f").touch()
    (vol.mnt / "q/g").touch()
    with pytest.raises(OSError) as e:
        (vol.mnt / "q/h").touch()
    assert e.value.errno == EDQUOT
    with pytest.raises(OSError) as e:
        (vol.mnt / "q/sub/d").mkdir()
    assert e.value.errno == EDQUOT
    assert sorted(os.listdir(vol.mnt / "q")) == ["g", "sub"]
    os.unlink(vol.mnt / "q/g")
    (vol.mnt / "q/h").touch()
    q = quota(vol, "/q")
    assert q["used_inodes"] == 3 and q["inodes"] == 3


def test_nested_quotas_and_renames(fresh_volume):
    vol = fresh_volume
    for p in ("a", "a/inner", "b"):
        (vol.mnt / p).mkdir()
    ok(vol, "quota", "set", vol.meta_url, "--path", "/a", "--capacity", "10M")
    ok(vol, "quota", "set", vol.meta_url, "--path", "/a/inner", "--capacity", "3M")
    assert write(vol.mnt / "b/f", os.urandom(2 * MIB)) == 0
    assert write(vol.mnt / "b/g", os.urandom(4 * MIB)) == 0
    os.rename(vol.mnt / "b/f", vol.mnt / "a/inner/f")
    assert quota(vol, "/a")["used_space"] == 2 * MIB
    assert quota(vol, "/a/inner")["used_space"] == 2 * MIB
    # the inner quota refuses the move, and nothing moved
    with pytest.raises(OSError) as e:
        os.rename(vol.mnt / "b/g", vol.mnt / "a/inner/g")
    assert e.value.errno == EDQUOT
    assert os.path.exists(vol.mnt / "b/g") and not os.path.exists(vol.mnt / "a/inner/g")
    os.rename(vol.mnt / "b/g", vol.mnt / "a/g")
    assert quota(vol, "/a")["used_space"] == 6 * MIB
    # a directory moves with its whole subtree
    (vol.mnt / "b/tree").mkdir()
    assert write(vol.mnt / "b/tree/x", os.urandom(MIB)) == 0
    os.rename(vol.mnt / "b/tree", vol.mnt / "a/tree")
    q = quota(vol, "/a")
    assert q["used_space"] == 7 * MIB and q["used_inodes"] == 5  # inner, f, g, tree, x
    os.rename(vol.mnt / "a/tree", vol.mnt / "b/tree")
    assert quota(vol, "/a")["used_space"] == 6 * MIB
    # list shows both, by path
    r = ok(vol, "quota", "list", vol.meta_url)
    paths = sorted(q["path"] for q in json.loads(r.stdout))
    assert paths == ["/a", "/a/inner"]
    # removing the quota'ed directory removes its quota
    os.unlink(vol.mnt / "a/inner/f")
    os.rmdir(vol.mnt / "a/inner")
    r = ok(vol, "quota", "list", vol.meta_url)
    assert [q["path"] for q in json.loads(r.stdout)] == ["/a"]


def test_subdir_mount_statfs_shows_quota(fresh_volume, volume_factory):
    vol = fresh_volume
    (vol.mnt / "pv").mkdir()
    ok(vol, "quota", "set", vol.meta_url, "--path", "/pv", "--capacity", "64M", "--inodes", "100")
    assert write(vol.mnt / "pv/f", os.urandom(4 * MIB)) == 0
    sub = vol.another_mount("sub")
    sub.mount_args = [*sub.mount_args, "--subdir", "/pv"]
    sub.mount()
    try:
        st = os.statvfs(sub.mnt)
        assert st.f_blocks * st.f_frsize == 64 * MIB
        assert (st.f_blocks - st.f_bfree) * st.f_frsize == 4 * MIB
        assert st.f_files == 100
    finally:
        sub.cleanup()


def test_quota_command_errors(fresh_volume):
    vol = fresh_volume
    (vol.mnt / "q").mkdir()
    (vol.mnt / "file").touch()
    r = ok(vol, "quota", "set", vol.meta_url, "--capacity", "1G", code=2)
    one_line_error(r, "--path")
    r = ok(vol, "quota", "set", vol.meta_url, "--path", "/q", code=2)
    one_line_error(r, "--capacity")
    r = ok(vol, "quota", "set", vol.meta_url, "--path", "/q", "--capacity", "lots", code=2)
    one_line_error(r, "lots")
    r = ok(vol, "quota", "frobnicate", vol.meta_url, code=2)
    one_line_error(r, "set, get, list or delete")
    r = ok(vol, "quota", "set", vol.meta_url, "--path", "/file", "--capacity", "1G", code=1)
    one_line_error(r, "/file", "Not a directory")
    r = ok(vol, "quota", "get", vol.meta_url, "--path", "/nope", code=1)
    one_line_error(r, "/nope")
    r = ok(vol, "quota", "get", vol.meta_url, "--path", "/q", code=1)
    one_line_error(r, "/q has no quota")
    r = ok(vol, "quota", "get", "sqlite3:///nonexistent/x.db", "--path", "/q", code=1)
    one_line_error(r)
    assert json.loads(ok(vol, "quota", "list", vol.meta_url).stdout) == []
    ok(vol, "quota", "set", vol.meta_url, "--path", "/q", "--inodes", "5")
    ok(vol, "quota", "delete", vol.meta_url, "--path", "/q")
    r = ok(vol, "quota", "delete", vol.meta_url, "--path", "/q", code=1)
    one_line_error(r, "has no quota")
    assert ok(vol, "quota", "--help").stdout.startswith("Usage: tidefs quota")
