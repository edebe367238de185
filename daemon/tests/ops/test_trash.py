# SPDX-License-Identifier: Apache-2.0
"""The trash and `tidefs restore` through a real mount.

1. delete + restore returns identical content; a removed tree comes back
   whole; .trash is hidden from the root listing and cannot be removed or
   written into
2. rename over a file sends the victim to the trash
3. purge (trash days set to 0, then gc --delete) frees the slices' blocks
4. restore's errors: bad hour, empty hour, name taken
"""

import errno
import os
import shutil

import pytest

from opslib import bucket_objects, needs_file_storage, ok, one_line_error, sha, wait_for, write

MIB = 1 << 20


def trash_hours(vol):
    return sorted(os.listdir(vol.mnt / ".trash"))


def test_delete_and_restore_identical(volume_factory):
    vol = volume_factory(format_args=["--trash-days", "1"])
    data = os.urandom(3 * MIB + 17)
    assert write(vol.mnt / "f", data) == 0
    digest = sha(vol.mnt / "f")
    (vol.mnt / "t/sub").mkdir(parents=True)
    (vol.mnt / "t/sub/x").write_bytes(b"x" * 100)
    os.symlink("sub/x", vol.mnt / "t/link")
    os.unlink(vol.mnt / "f")
    shutil.rmtree(vol.mnt / "t")
    assert ".trash" not in os.listdir(vol.mnt)
    (hour,) = trash_hours(vol)
    names = os.listdir(vol.mnt / ".trash" / hour)
    assert any(n.endswith("-f") for n in names) and any(n.endswith("-x") for n in names)
    for bad in (lambda: os.rmdir(vol.mnt / ".trash"), lambda: (vol.mnt / ".trash" / hour / "new").touch(),
                lambda: os.mkdir(vol.mnt / ".trash")):
        with pytest.raises(OSError) as e:
            bad()
        assert e.value.errno in (errno.EPERM, errno.EACCES, errno.EEXIST)
    r = ok(vol, "restore", vol.meta_url, hour)
    assert "4 entries restored" in r.stdout or "5 entries restored" in r.stdout, r.stdout
    wait_for(lambda: os.path.exists(vol.mnt / "f"), what="restored file visible")
    assert sha(vol.mnt / "f") == digest
    assert (vol.mnt / "t/sub/x").read_bytes() == b"x" * 100
    assert os.readlink(vol.mnt / "t/link") == "sub/x"
    assert trash_hours(vol) == []
    vol.remount()
    assert sha(vol.mnt / "f") == digest


def test_rename_over_trashes_the_victim(volume_factory):
    vol = volume_factory(format_args=["--trash-days", "1"])
    (vol.mnt / "a").write_bytes(b"new")
    (vol.mnt / "b").write_bytes(b"old content")
    os.rename(vol.mnt / "a", vol.mnt / "b")
    (hour,) = trash_hours(vol)
    (entry,) = os.listdir(vol.mnt / ".trash" / hour)
    assert entry.endswith("-b")
    assert (vol.mnt / ".trash" / hour / entry).read_bytes() == b"old content"
    os.unlink(vol.mnt / "b")
    ok(vol, "restore", vol.meta_url, hour, code=1)  # both were named b: one comes back
    assert (vol.mnt / "b").read_bytes() in (b"new", b"old content")


def test_purge_frees_blocks(cfg, volume_factory):
    needs_file_storage(cfg)
    vol = volume_factory(format_args=["--trash-days", "1"])
    assert write(vol.mnt / "f", os.urandom(5 * MIB)) == 0
    os.unlink(vol.mnt / "f")
    assert len(bucket_objects(vol)) == 2  # kept: the file is in the trash
    r = ok(vol, "gc", "--delete", "--age", "0", vol.meta_url)
    assert "0 expired trash entries" in r.stdout and len(bucket_objects(vol)) == 2
    r = ok(vol, "config", vol.meta_url, "--trash-days", "0")
    assert "trash days: 1 -> 0" in r.stdout
    vol.umount()
    r = ok(vol, "gc", "--delete", vol.meta_url)
    assert "1 expired trash entries purged" in r.stdout
    assert bucket_objects(vol) == {}, r.stdout


def test_restore_errors(volume_factory):
    vol = volume_factory(format_args=["--trash-days", "1"])
    r = ok(vol, "restore", vol.meta_url, "yesterday", code=2)
    one_line_error(r, "yesterday", "YYYY-MM-DD-HH")
    r = ok(vol, "restore", vol.meta_url, "2001-01-01-00", code=1)
    one_line_error(r, "nothing")
    (vol.mnt / "n").write_bytes(b"1")
    os.unlink(vol.mnt / "n")
    (vol.mnt / "n").write_bytes(b"2")
    (hour,) = trash_hours(vol)
    r = ok(vol, "restore", vol.meta_url, hour, code=1)
    assert "kept in trash" in r.stdout and "name is taken" in r.stdout
    assert (vol.mnt / "n").read_bytes() == b"2"
