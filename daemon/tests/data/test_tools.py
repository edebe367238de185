# SPDX-License-Identifier: Apache-2.0
"""tidefs warmup and tidefs bench against a real mount."""

import os

from conftest import BLOCK, cache_files, read_file, write_file


def test_warmup_fills_the_disk_cache(s3, volumes):
    vol = volumes(s3)
    (vol.mnt / "d" / "e").mkdir(parents=True)
    a, b = os.urandom(2 * BLOCK + 5), os.urandom(BLOCK // 3)
    write_file(vol.mnt / "d" / "a", a)
    write_file(vol.mnt / "d" / "e" / "b", b)
    vol.umount()
    for p in cache_files(vol):
        p.unlink()
    vol.mount()
    r = vol.cli("warmup", "-p", "2", vol.mnt / "d", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "warmed up 2 files" in r.stdout
    assert len(cache_files(vol)) == 4
    vol.umount()  # from the disk cache alone
    vol.mount()
    s3.reset()
    assert read_file(vol.mnt / "d" / "a") == a and read_file(vol.mnt / "d" / "e" / "b") == b
    assert s3.count("GET") == 0

    r = vol.cli("warmup", vol.mnt / "missing")
    assert r.returncode != 0 and "missing" in r.stderr


def test_bench_runs_every_phase_and_cleans_up(volumes):
    vol = volumes()
    r = vol.cli("bench", "-p", "2", "--big-file-size", "8", "--small-file-count", "5", vol.mnt, timeout=300)
    assert r.returncode == 0, r.stderr
    for item in ("Write big file", "Read big file", "Write small file", "Read small file", "Stat file"):
        line = next((x for x in r.stdout.splitlines() if item in x), "")
        assert "/s" in line, f"no figure for {item}:\n{r.stdout}"
    assert os.listdir(vol.mnt) == []
    r = vol.cli("bench", "-p", "0", vol.mnt)
    assert r.returncode == 2 and "--threads" in r.stderr
