# SPDX-License-Identifier: Apache-2.0
"""Durability on fresh volumes: unmount + remount gives back every byte and
attribute (sha256) with the same inode numbers; kill -9 of the daemon after
fsync loses nothing fsynced and the volume mounts again; shared mmap writes
survive a remount; blocks land in the object store under the documented
key scheme.  On the local target remount is a sync and kill -9 is skipped."""

import errno
import hashlib
import mmap
import os
import re
import shutil
import stat

import pytest

from harness import CHUNK, MIB, parent_pid, expect_errno, read_file, sha256_file, wait_gone, write_file
from sysapi import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, fallocate

XATTR = "user.tidefs-test"


def snapshot(root):
    """Everything a remount must preserve, keyed by relative path."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            entry = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size,
                     "nlink": st.st_nlink, "ino": st.st_ino, "mtime_ns": st.st_mtime_ns,
                     "ctime_ns": st.st_ctime_ns}
            if stat.S_ISREG(st.st_mode):
                entry["sha256"] = sha256_file(p, bufsize=4 * MIB)
            elif stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                entry["rdev"] = st.st_rdev
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                entry["xattrs"] = {n: os.getxattr(p, n) for n in os.listxattr(p) if n.startswith("user.")}
            out[os.path.relpath(p, root)] = entry
    return out


def assert_same_tree(before, after):
    missing = sorted(set(before) - set(after))
    extra = sorted(set(after) - set(before))
    changed = {k: {f: (before[k][f], after[k].get(f)) for f in before[k] if before[k][f] != after[k].get(f)}
               for k in set(before) & set(after) if before[k] != after[k]}
    assert not missing and not extra and not changed, \
        f"after remount: missing {missing}, extra {extra}, changed (before, after): {changed}"


def build_tree(root):
    sizes = [0, 1, 4095, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 9 * MIB + 333]
    for size in sizes:
        write_file(root / f"file-{size}", os.urandom(size))
    fd = os.open(root / "sparse-big", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, os.urandom(2 * MIB), CHUNK - MIB)
    os.pwrite(fd, b"end", 65 * MIB)
    os.close(fd)
    # many small unaligned overwrites → many slices in one chunk
    fd = os.open(root / "patchwork", os.O_RDWR | os.O_CREAT, 0o644)
    for i in range(200):
        os.pwrite(fd, os.urandom(1000 + i), (i * 7919) % (3 * MIB))
    os.close(fd)
    os.makedirs(root / "a/b/c")
    write_file(root / "a/b/c/deep", b"deep")
    os.link(root / "file-1", root / "a/hardlink")
    os.symlink("../file-4095", root / "a/symlink")
    os.mkfifo(root / "a/fifo")
    os.mknod(root / "a/chardev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mkdir(root / "shared")
    os.chown(root / "shared", 0, 4321)
    os.chmod(root / "shared", 0o3777)
    os.chown(root / "file-4095", 1000, 1001)
    os.chmod(root / "file-4095", 0o4750)
    os.setxattr(root / "file-1", XATTR, b"value\0with nul")
    os.setxattr(root / "a", XATTR, b"on a dir")
    os.utime(root / "file-0", ns=(1_000_000_000_123_456_789, 1_100_000_000_987_654_321))
    truncated = root / "truncated"
    write_file(truncated, os.urandom(5 * MIB))
    os.truncate(truncated, 1 * MIB + 7)
    os.truncate(truncated, 3 * MIB)
    write_file(root / "renamed-from", b"moved")
    os.rename(root / "renamed-from", root / "a/renamed-to")
    write_file(root / "deleted", b"gone")
    os.unlink(root / "deleted")
    # data written by fallocate and copy_file_range must be as durable
    write_file(root / "punched", os.urandom(3 * MIB))
    fd = os.open(root / "punched", os.O_RDWR)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MIB - 3, MIB + 5)
    fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 200)
    os.close(fd)
    src = os.open(root / "file-9437517", os.O_RDONLY)
    dst = os.open(root / "copied", os.O_WRONLY | os.O_CREAT, 0o644)
    done = 0
    while done < 5 * MIB:
        done += os.copy_file_range(src, dst, 5 * MIB - done, 2 * MIB + done, 1000 + done)
    os.close(src)
    os.close(dst)


def drop_cache_and_remount(vol):
    """Remount with an empty --cache-dir, so every block comes from the
    object store (data only in a local cache would be lost with the host)."""
    vol.umount()
    cache = getattr(vol, "cache_dir", None)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    vol.mount()


def test_remount_preserves_everything(fresh_volume):
    build_tree(fresh_volume.mnt)
    root_ino = os.stat(fresh_volume.mnt).st_ino
    before = snapshot(fresh_volume.mnt)
    fresh_volume.remount()
    after = snapshot(fresh_volume.mnt)
    assert_same_tree(before, after)
    assert os.stat(fresh_volume.mnt).st_ino == root_ino
    drop_cache_and_remount(fresh_volume)
    assert_same_tree(before, snapshot(fresh_volume.mnt))
    # and the volume is writable again after the remount
    write_file(fresh_volume.mnt / "after-remount", b"ok")
    assert read_file(fresh_volume.mnt / "after-remount") == b"ok"


def test_inode_numbers_stable_across_remount(fresh_volume):
    m = fresh_volume.mnt
    os.mkdir(m / "dir")
    for i in range(50):
        write_file(m / f"dir/f{i}", b"")
    inos = {name: os.stat(m / "dir" / name).st_ino for name in os.listdir(m / "dir")}
    dir_ino = os.stat(m / "dir").st_ino
    assert len(set(inos.values())) == 50, "inode numbers are not unique"
    fresh_volume.remount()
    assert os.stat(m / "dir").st_ino == dir_ino
    assert {name: os.stat(m / "dir" / name).st_ino for name in os.listdir(m / "dir")} == inos
    readdir_inos = {e.name: e.inode() for e in os.scandir(m / "dir")}
    assert readdir_inos == inos, "readdir d_ino differs from st_ino after remount"
    write_file(m / "new", b"")
    assert os.stat(m / "new").st_ino not in inos.values(), "an inode number was reused after remount"


def test_mmap_writes_survive_remount(fresh_volume):
    p = fresh_volume.mnt / "mapped"
    write_file(p, bytes(3 * MIB))
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, 3 * MIB, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    pattern = bytes(range(256)) * 16
    for off in (0, MIB - 100, 2 * MIB + 4096, 3 * MIB - len(pattern)):
        m[off:off + len(pattern)] = pattern
    m.flush()
    assert os.pread(fd, len(pattern), MIB - 100) == pattern, "msync'ed data not visible to read(2)"
    m.close()
    os.close(fd)
    want = hashlib.sha256(read_file(p)).hexdigest()
    drop_cache_and_remount(fresh_volume)
    assert sha256_file(p) == want, "shared mmap writes lost across remount"
    data = read_file(p)
    assert data[2 * MIB + 4096:2 * MIB + 4096 + len(pattern)] == pattern


@pytest.mark.tidefs_only
def test_kill9_after_fsync_loses_nothing(fresh_volume):
    m = fresh_volume.mnt
    synced = os.urandom(9 * MIB + 5)
    fd = os.open(m / "synced", os.O_WRONLY | os.O_CREAT, 0o640)
    os.write(fd, synced)
    os.fchmod(fd, 0o604)
    os.setxattr(m / "synced", XATTR, b"x")
    os.fsync(fd)
    os.close(fd)

    os.mkdir(m / "dir")
    fd = os.open(m / "dir/created", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"created then fsynced, with its directory")
    os.fdatasync(fd)
    os.close(fd)
    for dirpath in (m / "dir", m):
        dfd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)

    overwritten = bytearray(synced)
    fd = os.open(m / "synced", os.O_WRONLY)
    os.pwrite(fd, b"PATCH" * 1000, 4 * MIB - 100)
    overwritten[4 * MIB - 100:4 * MIB - 100 + 5000] = b"PATCH" * 1000
    os.fsync(fd)
    # unsynced data in flight at the time of the kill (no promise about it)
    os.pwrite(fd, os.urandom(2 * MIB), 10 * MIB)
    os.close(fd)
    with open(m / "unsynced", "wb") as f:
        f.write(os.urandom(3 * MIB))

    fresh_volume.kill9()
    shutil.rmtree(fresh_volume.cache_dir, ignore_errors=True)   # fsynced means in the object store
    fresh_volume.mount()

    st = os.stat(m / "synced")
    assert stat.S_IMODE(st.st_mode) == 0o604, "fsynced chmod lost after kill -9"
    assert os.getxattr(m / "synced", XATTR) == b"x", "fsynced xattr lost after kill -9"
    data = read_file(m / "synced")
    assert len(data) >= len(synced)
    assert hashlib.sha256(data[:len(synced)]).hexdigest() == hashlib.sha256(overwritten).hexdigest(), \
        "fsynced data changed after kill -9"
    assert read_file(m / "dir/created") == b"created then fsynced, with its directory"
    # the volume is fully usable after recovery
    write_file(m / "after", os.urandom(MIB))
    fresh_volume.remount()
    assert os.path.getsize(m / "after") == MIB


@pytest.mark.tidefs_only
def test_kill9_leaves_dead_mountpoint_then_mounts_again(fresh_volume):
    m = fresh_volume.mnt
    write_file(m / "f", b"data")
    fd = os.open(m / "f", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    victims = fresh_volume.serving_pids()
    assert victims, "no process holds /dev/fuse for the mount"
    for pid in victims:
        os.kill(pid, 9)
    for pid in victims:
        assert wait_gone(pid, 20)
    expect_errno((errno.ENOTCONN, errno.ECONNABORTED), os.stat, m / "f")
    fresh_volume.kill9()   # clears the dead mount point
    fresh_volume.mount()
    assert read_file(m / "f") == b"data"


@pytest.mark.tidefs_only
def test_kill9_of_server_behind_a_keeper_resumes(fresh_volume):
    """With a keeper process holding the FUSE fd, killing the serving
    process must look like a pause to applications, not ENOTCONN."""
    pids = fresh_volume.serving_pids()
    workers = [p for p in pids if parent_pid(p) in pids]
    if not workers:
        pytest.skip(f"the mount is served by one process {pids}, without a keeper")
    m = fresh_volume.mnt
    write_file(m / "f", b"before")
    fd = os.open(m / "f", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    for pid in workers:
        os.kill(pid, 9)
    assert read_file(m / "f") == b"before", "reads fail after the server behind the keeper died"
    write_file(m / "g", b"after")
    assert read_file(m / "g") == b"after"
    fresh_volume.pids = fresh_volume.serving_pids()
    fresh_volume.remount()
    assert read_file(m / "f") == b"before" and read_file(m / "g") == b"after"


@pytest.mark.tidefs_only
def test_kill9_during_heavy_writes_then_mount(fresh_volume):
    m = fresh_volume.mnt
    write_file(m / "before", b"committed")
    fd = os.open(m / "before", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    fd = os.open(m / "stream", os.O_WRONLY | os.O_CREAT, 0o644)
    block = os.urandom(MIB)
    for _ in range(24):
        os.write(fd, block)
    fresh_volume.kill9()
    try:
        os.close(fd)
    except OSError:
        pass
    fresh_volume.mount()
    assert read_file(m / "before") == b"committed"
    size = os.path.getsize(m / "stream")
    data = read_file(m / "stream")
    assert len(data) == size, "file size and readable data disagree after a crash"
    fresh_volume.remount()


CHUNK_KEY = re.compile(r"chunks/(\d+)/(\d+)/(\d+)_(\d+)_(\d+)$")


@pytest.mark.tidefs_only
@pytest.mark.parametrize("compress", ["none", "lz4", "zstd"])
def test_blocks_in_object_store(volume_factory, cfg, compress):
    if cfg.storage != "file":
        pytest.skip("inspects the bucket directory of --storage file")
    vol = volume_factory(format_args=["--block-size", "1M", "--compress", compress])
    data = (b"tidefs compressible text " * 200_000)[:3 * MIB + MIB // 2]
    write_file(vol.mnt / "f", data)
    vol.remount()
    assert read_file(vol.mnt / "f") == data
    vol.umount()
    bucket = vol.dir / "bucket"
    keys, strays = [], []
    for dirpath, _, files in os.walk(bucket):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), bucket)
            if "/chunks/" not in "/" + rel:
                continue
            (keys if CHUNK_KEY.search(rel) and rel.startswith(f"{vol.name}/chunks/") else strays).append(rel)
    assert not strays, f"objects under chunks/ that do not follow <vol>/chunks/<id/1e6>/<id/1e3>/<id>_<index>_<size>: {strays}"
    assert keys, f"no block objects found under {bucket}"
    total = 0
    for rel in keys:
        top, mid, sid, index, size = map(int, CHUNK_KEY.search(rel).groups())
        assert (top, mid) == (sid // 1_000_000, sid // 1000), f"{rel}: directory levels do not match id {sid}"
        assert size <= MIB, f"{rel}: block larger than --block-size 1M"
        stored = os.path.getsize(bucket / rel)
        if compress == "none":
            assert stored == size, f"{rel}: {stored} bytes stored for an uncompressed {size}-byte block"
        else:
            assert stored < size, f"{rel}: compressible block not compressed with {compress}"
        total += size
    assert total >= len(data), f"blocks hold {total} bytes for a {len(data)}-byte file"
    vol.mount()
