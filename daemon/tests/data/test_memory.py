# SPDX-License-Identifier: Apache-2.0
"""The memory bound through a real mount: a 4 GiB sequential write and a
16-reader random read each keep the daemon's resident memory (sampled,
and its high-water mark VmHWM) under --buffer-size + 64 MiB. The daemon
runs without a supervisor so that one process holds all of it."""

import os
import random
import threading
import time

from conftest import MIB, rss_kib, write_file

BUFFER_MB = 64
BOUND_KIB = (BUFFER_MB + 64) * 1024
PATTERN = os.urandom(16 * MIB)


class RssSampler:
    """Peak VmRSS of a process, sampled every 20 ms in a thread."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join()
        return max(self.peak, rss_kib(self.pid, "VmHWM"))


def mount_args():
    return ["--buffer-size", str(BUFFER_MB), "--no-supervisor"]


def test_sequential_write_4g_stays_in_budget(volumes):
    vol = volumes(mount_args=mount_args())
    # the written blocks are disk-cached too: that is disk, not memory
    sampler = RssSampler(vol.pid)
    total = 4 << 30
    t0 = time.monotonic()
    with open(vol.mnt / "big", "wb") as f:
        for off in range(0, total, MIB):
            i = (off // MIB) % 16
            f.write(PATTERN[i * MIB:(i + 1) * MIB])
        f.flush()
        os.fsync(f.fileno())
    secs = time.monotonic() - t0
    peak = sampler.finish()
    print(f"4 GiB write: {total / secs / MIB:.0f} MiB/s, peak RSS {peak // 1024} MiB "
          f"(bound {BOUND_KIB // 1024} MiB)")
    assert os.stat(vol.mnt / "big").st_size == total
    with open(vol.mnt / "big", "rb") as f:  # spot checks
        for off in (0, 1234 * MIB + 77, total - 5000):
            f.seek(off)
            got = f.read(4096)
            want = bytes(PATTERN[(off + k) % (16 * MIB)] for k in range(len(got)))
            assert got == want, f"content at {off}"
    assert peak <= BOUND_KIB, f"peak RSS {peak} KiB over --buffer-size + 64 MiB ({BOUND_KIB} KiB)"


def test_sixteen_random_readers_stay_in_budget(volumes):
    size = 512 * MIB
    vol = volumes(mount_args=mount_args())
    with open(vol.mnt / "data", "wb") as f:
        for _ in range(size // len(PATTERN)):
            f.write(PATTERN)
    vol.umount()
    for p in (vol.cache_dir / vol.name / "raw").rglob("*"):
        if p.is_file():
            p.unlink()
    vol.mount()
    sampler = RssSampler(vol.pid)
    errors, reads = [], [0]
    deadline = time.monotonic() + 15

    def reader(seed):
        rng = random.Random(seed)
        fd = os.open(vol.mnt / "data", os.O_RDONLY)
        try:
            while time.monotonic() < deadline:
                n = rng.choice((4096, 16384, 65536, 262144))
                off = rng.randrange(0, size - n)
                got = os.pread(fd, n, off)
                p = off % len(PATTERN)
                want = PATTERN[p:p + n] if p + n <= len(PATTERN) else PATTERN[p:] + PATTERN[:n - (len(PATTERN) - p)]
                if got != want:
                    errors.append(off)
                reads[0] += 1
        finally:
            os.close(fd)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = sampler.finish()
    print(f"16 random readers: {reads[0]} reads, peak RSS {peak // 1024} MiB (bound {BOUND_KIB // 1024} MiB)")
    assert not errors, f"wrong data at {errors[:5]}"
    assert reads[0] > 100
    assert peak <= BOUND_KIB, f"peak RSS {peak} KiB over --buffer-size + 64 MiB ({BOUND_KIB} KiB)"
