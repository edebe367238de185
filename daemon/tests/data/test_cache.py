# SPDX-License-Identifier: Apache-2.0
"""The block caches through a real mount on S3 (requests counted at the
fault proxy): a second read makes no GET, the disk cache survives a
remount and holds written blocks, a corrupted cache file is detected and
fetched again, and --cache-size holds."""

import os

from conftest import BLOCK, MIB, cache_bytes, cache_files, read_file, write_file


def cold_remount(vol):
    """Remount with empty memory and disk caches."""
    vol.umount()
    for p in cache_files(vol):
        p.unlink()
    vol.mount()


def test_second_read_makes_no_get(s3, volumes):
    vol = volumes(s3)
    data = os.urandom(6 * BLOCK + 12345)
    write_file(vol.mnt / "f", data)
    cold_remount(vol)

    s3.reset()
    assert read_file(vol.mnt / "f") == data
    first = s3.requests("GET")
    assert len(first) == 7, f"cold read: one GET per block expected, got {first}"

    s3.reset()
    assert read_file(vol.mnt / "f") == data
    assert s3.count("GET") == 0, "second read (memory cache) reached the store"

    vol.umount()  # the memory cache goes; the disk cache stays
    vol.mount()
    s3.reset()
    assert read_file(vol.mnt / "f") == data
    assert s3.count("GET") == 0, "read after remount (disk cache) reached the store"


def test_written_blocks_are_disk_cached(s3, volumes):
    vol = volumes(s3)
    data = os.urandom(3 * BLOCK + 100)
    write_file(vol.mnt / "w", data)
    vol.umount()
    vol.mount()
    s3.reset()
    assert read_file(vol.mnt / "w") == data
    assert s3.count("GET") == 0, "reading back what this client wrote reached the store"


def test_corrupt_cache_file_is_detected_and_fetched_again(s3, volumes):
    vol = volumes(s3)
    data = os.urandom(2 * BLOCK)
    write_file(vol.mnt / "c", data)
    vol.umount()
    files = sorted(cache_files(vol))
    assert len(files) == 2, files
    victim = files[0]
    with open(victim, "r+b") as f:  # one flipped bit in the middle of the data
        f.seek(BLOCK // 2)
        b = f.read(1)
        f.seek(BLOCK // 2)
        f.write(bytes([b[0] ^ 0x10]))
    vol.mount()
    s3.reset()
    assert read_file(vol.mnt / "c") == data, "corrupt cache file served"
    gets = s3.requests("GET")
    assert len(gets) == 1 and next(iter(gets)).endswith(victim.name), \
        f"exactly the corrupted block must be fetched again: {gets} (victim {victim.name})"

    vol.umount()  # the re-fetched block is cached again, intact
    vol.mount()
    s3.reset()
    assert read_file(vol.mnt / "c") == data
    assert s3.count("GET") == 0


def test_cache_size_limit_holds(s3, volumes):
    limit = 12 * MIB
    vol = volumes(s3, mount_args=["--cache-size", "12"])
    data = os.urandom(16 * BLOCK)
    write_file(vol.mnt / "big", data)
    assert cache_bytes(vol) <= limit
    cold_remount(vol)
    for _ in range(2):
        assert read_file(vol.mnt / "big") == data
        held = cache_bytes(vol)
        assert 2 * BLOCK <= held <= limit, f"disk cache holds {held} bytes, limit {limit}"
