# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the Redis tests: two daemon processes mounting one volume.
Run through run-posix.sh, which starts the private redis-server and sets
TIDEFS_TEST_META=redis, TIDEFS_TEST_REDIS_URL, TIDEFS_REDIS_SERVER_DIR and
TIDEFS_REDIS_PORT; without them every test here is skipped."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import harness  # noqa: E402

CFG = harness.Config()


def pytest_collection_modifyitems(config, items):
    if CFG.meta == "redis" and os.environ.get("TIDEFS_REDIS_SERVER_DIR"):
        harness.become_subreaper()
        return
    skip = pytest.mark.skip(reason="needs the redis-server of daemon/tests/redis/run-posix.sh")
    for item in items:
        item.add_marker(skip)


@pytest.fixture
def cfg():
    return CFG


@pytest.fixture
def two_mounts():
    """One formatted volume mounted twice, by two daemon processes."""
    base = Path(tempfile.mkdtemp(prefix="tidefs-redis-"))
    os.chmod(base, 0o755)
    a = harness.TidefsVolume(CFG, base / "a", name="shared")
    a.format()
    b = harness.TidefsVolume(CFG, base / "b", name="shared")
    b.meta_url = a.meta_url
    b.format = None  # never format twice
    a.mount()
    b.mount()
    try:
        yield a, b
    finally:
        problems = a.cleanup() + b.cleanup()
        assert not problems, problems


def redis_server_dir():
    return os.environ["TIDEFS_REDIS_SERVER_DIR"]


def redis_port():
    return os.environ["TIDEFS_REDIS_PORT"]
