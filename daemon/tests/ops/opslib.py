# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the operator's-toolkit tests: running a command and
demanding its exit status, the object store directory of a file-storage
volume, content hashes, writes that report errno instead of raising."""

import errno
import hashlib
import json
import os
import time
from pathlib import Path

import harness


def ok(vol, *args, code=0, timeout=120):
    """`tidefs ARGS` on VOL's CLI; asserts the exit status, returns the result."""
    r = vol.cli(*args, timeout=timeout)
    assert r.returncode == code, harness.describe(r)
    return r


def one_line_error(r, *words):
    """A failed command printed exactly one line on stderr naming the problem."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, harness.describe(r)
    for w in words:
        assert w in lines[0], harness.describe(r)
    assert "Traceback" not in r.stderr and "Segmentation" not in r.stderr


def quota(vol, path):
    r = ok(vol, "quota", "get", vol.meta_url, "--path", path)
    return json.loads(r.stdout)


def bucket_objects(vol):
    """key -> path of every object of a file-storage volume."""
    root = vol.dir / "bucket"
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()
            and "/chunks/" in str(p.relative_to(root))} if root.exists() else {}


def write(path, data, fsync=True):
    """Writes a whole file; returns 0 or the errno of the first failing step."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        return e.errno
    rc = 0
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    except OSError as e:
        rc = e.errno
    try:
        os.close(fd)
    except OSError as e:
        rc = rc or e.errno
    return rc


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def wait_for(pred, timeout=10, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def needs_file_storage(cfg):
    import pytest
    if cfg.storage != "file":
        pytest.skip("plants and removes objects in a file-storage bucket directory")


EDQUOT = errno.EDQUOT
Path = Path
