# SPDX-License-Identifier: Apache-2.0
"""kill -9 of redis-server (appendfsync always) during a create-heavy
workload on a mounted volume (issue 4): no application sees wrong data,
every file acknowledged by fsync is there after the restart, and the mount
serves again by itself, without a remount."""

import os
import signal
import subprocess
import threading

import pytest
import time
from pathlib import Path

from conftest import redis_port, redis_server_dir


def _workload(root, stop, acked, errors):
    i = 0
    while not stop.is_set():
        name = root / f"f{i:05d}"
        data = f"file {i}\n".encode() * 10
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            acked.append((name, data))
        except OSError as e:  # EIO while Redis is down is allowed
            errors.append(e.errno)
        i += 1


# Known intermittent failure (issue #4, open): under heavy machine load one
# run in several read back wrong content for a file whose fsync had
# succeeded across the redis-server kill (seen at 09:54 on 2026-11-25,
# f00175 of ~400; passes alone). Kept running so it is seen; the cause is
# not yet found.
@pytest.mark.xfail(strict=False, reason="intermittent: fsync-acknowledged content wrong after redis kill -9 "
                                        "under load; see issue #4 notes")
def test_kill9_redis_during_creates(two_mounts):
    a, _ = two_mounts
    root = a.mnt / "work"
    root.mkdir()
    stop, acked, errors = threading.Event(), [], []
    t = threading.Thread(target=_workload, args=(root, stop, acked, errors))
    t.start()
    time.sleep(3)
    server = Path(redis_server_dir())
    pid = int((server / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    killed_at = len(acked)
    time.sleep(3)
    subprocess.run([str(Path(__file__).parent / "redis-start.sh"), str(server), redis_port(), "always"],
                   check=True, timeout=60)
    time.sleep(5)
    stop.set()
    t.join(120)
    assert not t.is_alive(), "the workload hung after redis-server came back"
    assert killed_at > 0, "no file was created before the kill"
    assert len(acked) > killed_at, f"no create succeeded after the restart (errors {set(errors)})"
    for name, data in acked:
        assert name.read_bytes() == data, f"{name}: fsync-acknowledged content lost or wrong"
    (root / "after").write_bytes(b"ok")  # the same mount serves: no remount
    assert (root / "after").read_bytes() == b"ok"
