# SPDX-License-Identifier: Apache-2.0
"""opendir/readdir(plus) through the mount: complete listings, d_ino and
d_type, stable telldir/seekdir offsets, deletion while listing (rm -r), and a
directory of 100,000 entries."""

import os
import stat
import time

import pytest

from harness import write_file
from sysapi import DirStream

DT_DIR, DT_REG, DT_LNK, DT_FIFO, DT_UNKNOWN = 4, 8, 10, 1, 0


def make_files(path, n, prefix="f"):
    # mknod: one FUSE request per file instead of create+flush+release
    for i in range(n):
        os.mknod(path / f"{prefix}{i:06d}", stat.S_IFREG | 0o644)


def list_stream(path):
    with DirStream(path) as ds:
        return list(ds)


def assert_complete(names, want):
    dup = len(names) - len(set(names))
    missing = sorted(set(want) - set(names))
    extra = sorted(set(names) - set(want))
    assert not dup and not missing and not extra, \
        f"listing: {dup} duplicates, missing {missing[:10]} ({len(missing)}), extra {extra[:10]} ({len(extra)})"


def test_empty_directory_has_dot_and_dotdot(d):
    os.mkdir(d / "e")
    entries = list_stream(d / "e")
    assert sorted(n for n, _, _ in entries) == [".", ".."]
    assert os.listdir(d / "e") == []


def test_listing_types_and_inodes(d):
    write_file(d / "file", b"x")
    os.mkdir(d / "dir")
    os.symlink("file", d / "link")
    os.mkfifo(d / "fifo")
    entries = {n: (ino, t) for n, ino, t in list_stream(d)}
    assert set(entries) == {".", "..", "file", "dir", "link", "fifo"}
    want_types = {"file": (DT_REG, stat.S_IFREG), "dir": (DT_DIR, stat.S_IFDIR),
                  "link": (DT_LNK, stat.S_IFLNK), "fifo": (DT_FIFO, stat.S_IFIFO)}
    for name, (dt, _) in want_types.items():
        ino, t = entries[name]
        assert ino == os.lstat(d / name).st_ino, f"d_ino of {name} differs from st_ino"
        assert t in (dt, DT_UNKNOWN), f"d_type of {name} is {t}, want {dt}"
    assert entries["."][0] == os.stat(d).st_ino
    with os.scandir(d) as it:
        kinds = {e.name: (e.is_dir(follow_symlinks=False), e.is_symlink()) for e in it}
    assert kinds["dir"] == (True, False) and kinds["link"] == (False, True)


@pytest.mark.parametrize("n", [1, 250, 3000])
def test_listing_is_complete(d, n):
    make_files(d, n)
    assert_complete(os.listdir(d), [f"f{i:06d}" for i in range(n)])
    assert_complete([e[0] for e in list_stream(d)], [".", ".."] + [f"f{i:06d}" for i in range(n)])


def test_long_names_listing(d):
    names = [f"{i:03d}" + "n" * 250 for i in range(300)]
    for name in names:
        os.close(os.open(d / name, os.O_CREAT | os.O_WRONLY, 0o644))
    assert_complete(os.listdir(d), names)


def test_telldir_seekdir_stable(d):
    make_files(d, 2000)
    with DirStream(d) as ds:
        marks = []
        while True:
            pos = ds.tell()
            entry = ds.read()
            if entry is None:
                break
            marks.append((pos, entry[0]))
        assert len(marks) == 2002
        for i in list(range(0, 2002, 97)) + [2001, 1, 0]:
            pos, name = marks[i]
            ds.seek(pos)
            got = ds.read()
            assert got is not None and got[0] == name, \
                f"seekdir to the offset of entry {i} ({name}) returned {got and got[0]}"
        # continue reading after a seek: the rest of the listing follows in order
        ds.seek(marks[1500][0])
        rest = [e[0] for e in ds]
        assert rest == [m[1] for m in marks[1500:]]
        ds.rewind()
        assert [e[0] for e in ds] == [m[1] for m in marks]


def test_offsets_survive_reopen(d):
    """An offset from one opendir still means the same place in another
    (NFS re-export and some tools rely on this while the dir is unchanged)."""
    make_files(d, 600)
    with DirStream(d) as ds:
        marks = []
        for _ in range(400):
            marks.append((ds.tell(), ds.read()[0]))
    with DirStream(d) as ds:
        ds.seek(marks[350][0])
        assert ds.read()[0] == marks[350][1]


def test_unlink_while_listing_returns_every_survivor(d):
    """rm -r: deleting entries already returned must not make later entries
    disappear (a classic bug of paged listings keyed by position)."""
    n = 2000
    make_files(d, n)
    seen = []
    with DirStream(d) as ds:
        for name, _, _ in ds:
            if name in (".", ".."):
                continue
            seen.append(name)
            os.unlink(d / name)
    assert_complete(seen, [f"f{i:06d}" for i in range(n)])
    assert os.listdir(d) == []


def test_create_while_listing_keeps_old_entries(d):
    n = 1500
    make_files(d, n)
    seen = []
    with DirStream(d) as ds:
        for i, (name, _, _) in enumerate(ds):
            seen.append(name)
            if i % 10 == 0:
                os.close(os.open(d / f"new{i:06d}", os.O_CREAT | os.O_WRONLY, 0o644))
    old = [f"f{i:06d}" for i in range(n)]
    missing = sorted(set(old) - set(seen))
    assert not missing, f"entries that existed before opendir were skipped: {missing[:10]}"
    olds_seen = [s for s in seen if s.startswith("f")]
    assert len(olds_seen) == len(set(olds_seen)), "an old entry was returned twice"


@pytest.mark.slow
def test_hundred_thousand_entries(d):
    n = 100_000
    t0 = time.monotonic()
    make_files(d, n)
    t1 = time.monotonic()
    want = [f"f{i:06d}" for i in range(n)]
    assert_complete(os.listdir(d), want)
    names = [e[0] for e in list_stream(d)]
    assert_complete(names, [".", ".."] + want)
    assert os.stat(d / "f099999").st_size == 0
    print(f"100k entries: created in {t1 - t0:.1f} s ({n / (t1 - t0):.0f}/s), "
          f"listed twice in {time.monotonic() - t1:.1f} s")
