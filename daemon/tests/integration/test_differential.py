# SPDX-License-Identifier: Apache-2.0
"""Differential random-operation test: a hypothesis state machine applies the
same random operations (create, write at offsets, truncate, rename with
flags, unlink, mkdir, rmdir, link, symlink, chmod, read, listdir) to a
directory on the mount and to one on the local disk, and after every step
compares the results (value or errno) and the whole trees (types, modes,
sizes, link counts, hard-link groups, contents, symlink targets).

Derandomized (fixed seed) and bounded so CI stays fast; raise the effort with
TIDEFS_TEST_EXAMPLES (examples, default 25) and TIDEFS_TEST_STEPS (steps per
example, default 50)."""

import errno
import hashlib
import itertools
import os
import random
import shutil
import stat

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, rule,
                                 run_state_machine_as_test)

from harness import MIB, env_int
from sysapi import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2

NAMES = ["a", "b", "c"]
# Two thirds top-level names, so most operations find what they work on.
PATHS = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES),
                  st.sampled_from([f"{x}/{y}" for x in NAMES for y in NAMES] + ["b/c/a", "b/b/c"]))
OFFSETS = st.one_of(st.integers(0, 70_000), st.integers(4 * MIB - 40_000, 4 * MIB + 40_000))
LENGTHS = st.one_of(st.integers(0, 5000), st.integers(5000, 100_000))
MODES = st.sampled_from([0o644, 0o600, 0o755, 0o000, 0o4755, 0o1777])
_examples = itertools.count()


def outcome(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


def payload(seed, length):
    return random.Random(seed).randbytes(length)


def tree(root):
    """Everything comparable about a tree, without timestamps or inode numbers."""
    entries, by_ino = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st_ = os.lstat(p)
            entry = {"fmt": stat.S_IFMT(st_.st_mode), "mode": stat.S_IMODE(st_.st_mode),
                     "nlink": st_.st_nlink}
            if stat.S_ISREG(st_.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
                entry["size"] = st_.st_size
                entry["sha"] = hashlib.sha256(data).hexdigest()
                assert len(data) == st_.st_size, f"{rel}: st_size {st_.st_size} but {len(data)} bytes readable"
            elif stat.S_ISLNK(st_.st_mode):
                entry["target"] = os.readlink(p)
            elif stat.S_ISDIR(st_.st_mode):
                entry["size"] = None
            entries[rel] = entry
            by_ino.setdefault(st_.st_ino, []).append(rel)
    groups = sorted(sorted(g) for g in by_ino.values() if len(g) > 1)
    return entries, groups


class FsMachine(RuleBasedStateMachine):
    bases = None   # (tidefs base, local base), set by the test

    def __init__(self):
        super().__init__()
        n = next(_examples)
        self.roots = [base / f"ex{n}" for base in self.bases]
        for r in self.roots:
            os.mkdir(r)

    def both(self, what, fn):
        """Runs fn(root) on both trees; results must match."""
        got = [outcome(lambda r=r: fn(r)) for r in self.roots]
        assert got[0] == got[1], f"{what}: mount gave {got[0]}, local disk gave {got[1]}"
        return got[0]

    @initialize()
    def starting_tree(self):
        def build(r):
            os.mkdir(r / "b")
            os.mkdir(r / "b/c")
            with open(r / "a", "wb") as f:
                f.write(payload(1, 10_000))
            with open(r / "b/a", "wb") as f:
                f.write(payload(2, 70_000))
        self.both("starting tree", build)

    @rule(path=PATHS, excl=st.booleans(), trunc=st.booleans())
    def create(self, path, excl, trunc):
        flags = os.O_CREAT | os.O_WRONLY | (os.O_EXCL if excl else 0) | (os.O_TRUNC if trunc else 0)
        self.both(f"create {path} excl={excl} trunc={trunc}",
                  lambda r: os.close(os.open(r / path, flags, 0o644)))

    @rule(path=PATHS, offset=OFFSETS, length=LENGTHS, seed=st.integers(0, 1000), append=st.booleans())
    def write(self, path, offset, length, seed, append):
        data = payload(seed, length)

        def do(r):
            fd = os.open(r / path, os.O_WRONLY | (os.O_APPEND if append else 0))
            try:
                return os.pwrite(fd, data, offset) if not append else os.write(fd, data)
            finally:
                os.close(fd)
        self.both(f"write {path} offset={offset} len={length} append={append}", do)

    @rule(path=PATHS, size=OFFSETS)
    def truncate(self, path, size):
        self.both(f"truncate {path} {size}", lambda r: os.truncate(r / path, size))

    @rule(src=PATHS, dst=PATHS, flags=st.sampled_from([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE]))
    def rename(self, src, dst, flags):
        self.both(f"rename {src} {dst} flags={flags}",
                  lambda r: renameat2(r / src, r / dst, flags) if flags else os.rename(r / src, r / dst))

    @rule(path=PATHS)
    def unlink(self, path):
        self.both(f"unlink {path}", lambda r: os.unlink(r / path))

    @rule(path=PATHS)
    def mkdir(self, path):
        self.both(f"mkdir {path}", lambda r: os.mkdir(r / path))

    @rule(path=PATHS)
    def rmdir(self, path):
        self.both(f"rmdir {path}", lambda r: os.rmdir(r / path))

    @rule(src=PATHS, dst=PATHS)
    def link(self, src, dst):
        self.both(f"link {src} {dst}", lambda r: os.link(r / src, r / dst, follow_symlinks=False))

    @rule(dest=PATHS, path=PATHS)
    def symlink(self, dest, path):
        self.both(f"symlink {dest} {path}", lambda r: os.symlink(dest, r / path))

    @rule(path=PATHS, mode=MODES)
    def chmod(self, path, mode):
        self.both(f"chmod {path} {oct(mode)}", lambda r: os.chmod(r / path, mode))

    @rule(path=PATHS, offset=OFFSETS, length=LENGTHS)
    def read(self, path, offset, length):
        def do(r):
            fd = os.open(r / path, os.O_RDONLY)
            try:
                return hashlib.sha256(os.pread(fd, length, offset)).hexdigest()
            finally:
                os.close(fd)
        self.both(f"read {path} offset={offset} len={length}", do)

    @rule(path=PATHS)
    def listdir(self, path):
        self.both(f"listdir {path}", lambda r: sorted(os.listdir(r / path)))

    @rule(path=PATHS)
    def stat(self, path):
        def do(r):
            s = os.stat(r / path)
            return (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_nlink,
                    s.st_size if stat.S_ISREG(s.st_mode) else None)
        self.both(f"stat {path}", do)

    @invariant()
    def same_trees(self):
        mount_tree, local_tree = tree(self.roots[0]), tree(self.roots[1])
        if mount_tree != local_tree:
            (me, mg), (le, lg) = mount_tree, local_tree
            diff = {k: (me.get(k), le.get(k)) for k in set(me) | set(le) if me.get(k) != le.get(k)}
            raise AssertionError(f"trees differ (mount, local): {diff}; hard-link groups {mg} vs {lg}")

    def teardown(self):
        for r in self.roots:
            for dirpath, dirnames, _ in os.walk(r):
                for name in dirnames:
                    p = os.path.join(dirpath, name)
                    if not os.path.islink(p):
                        os.chmod(p, 0o755)
            shutil.rmtree(r, ignore_errors=True)


def test_differential_against_local_disk(d, local_dir):
    FsMachine.bases = (d, local_dir)
    run_state_machine_as_test(FsMachine, settings=settings(
        max_examples=env_int("TIDEFS_TEST_EXAMPLES", 25),
        stateful_step_count=env_int("TIDEFS_TEST_STEPS", 50),
        derandomize=True, database=None, deadline=None, print_blob=False,
        suppress_health_check=list(HealthCheck)))
