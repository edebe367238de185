# SPDX-License-Identifier: Apache-2.0
"""--writeback through a real mount on S3: blocks are staged on the cache
disk and committed at once, so close() returns while the store refuses
every PUT; after kill -9 a restart uploads what is still staged (content
and fsck check out from the store alone), and `tidefs umount --flush`
returns only once everything is uploaded."""

import hashlib
import os
import time

from conftest import BLOCK, cache_files, read_file, wait_for, write_file

REFUSE_PUTS = [{"method": "PUT", "path": "/chunks/", "prob": 1.0, "action": "status", "status": 503,
                "code": "SlowDown"}]


def test_kill9_restart_drains_staging(s3, volumes):
    vol = volumes(s3, mount_args=["--writeback"])
    data = os.urandom(5 * BLOCK + 4321)
    s3.reset()
    s3.rules(REFUSE_PUTS)
    t0 = time.monotonic()
    write_file(vol.mnt / "wb", data)  # fsync included: committed, staged
    took = time.monotonic() - t0
    staged = cache_files(vol, "rawstaging")
    assert len(staged) == 6, f"expected 6 staged blocks, found {staged}"
    assert took < 20, f"close/fsync waited {took:.1f} s for a refusing store"
    assert s3.count("PUT") > 0  # uploads were tried and refused

    vol.kill9()
    s3.reset()  # the store answers again
    vol.mount()
    assert wait_for(lambda: not cache_files(vol, "rawstaging"), 90), \
        f"staging not drained: {cache_files(vol, 'rawstaging')}"
    put = {path.rsplit("/", 1)[1] for path in s3.requests("PUT")}
    assert {p.name for p in staged} <= put, f"staged blocks not uploaded: {staged} vs {put}"

    vol.umount()  # read from the store alone: no cache, no staging
    for p in cache_files(vol):
        p.unlink()
    vol.mount()
    got = read_file(vol.mnt / "wb")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    vol.umount()
    r = vol.cli("fsck", vol.meta_url, timeout=120)
    assert r.returncode == 0, f"fsck after the drain:\n{r.stdout}\n{r.stderr}"
    vol.mount()


def test_umount_flush_waits_for_uploads(s3, volumes):
    vol = volumes(s3, mount_args=["--writeback"])
    data = os.urandom(4 * BLOCK)
    s3.reset()
    # the first 12 PUT attempts fail: uploads take a few seconds of backoff
    s3.rules([dict(REFUSE_PUTS[0], limit=12)])
    write_file(vol.mnt / "fl", data)
    staged = cache_files(vol, "rawstaging")
    assert staged, "nothing staged"
    r = vol.cli("umount", "--flush", vol.mnt, timeout=300)
    assert r.returncode == 0, r.stderr
    vol.mounted = False
    for pid in {vol.pid, *vol.pids} - {None}:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z", \
            f"daemon {pid} still runs after umount --flush"
    vol._forget_daemon()
    assert not cache_files(vol, "rawstaging"), "umount --flush returned with blocks still staged"
    put = {path.rsplit("/", 1)[1] for path in s3.requests("PUT")}
    assert {p.name for p in staged} <= put, f"staged blocks not uploaded: {staged} vs {put}"
    s3.reset()
    for p in cache_files(vol):
        p.unlink()
    vol.mount()
    assert read_file(vol.mnt / "fl") == data
