# SPDX-License-Identifier: Apache-2.0
"""The tidefs command: --help/--version, format/mount/umount/status, the
mount.tidefs helper, and bad input.  Every bad input must give a one-line
message on stderr naming the problem, a non-zero exit (no signal, no
sanitizer report, no traceback), and leave the volume exactly as it was."""

import errno
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from harness import (MOUNT_FUSE_OPTS, describe, expect_errno, is_mount, lazy_unmount,
                     mounted_in_table, read_file, run_cli, wait_gone, write_file)

pytestmark = pytest.mark.tidefs_only
COMMANDS = ["format", "mount", "umount", "status"]


def assert_clean_failure(r, *keywords):
    """Non-zero exit, exactly one non-empty stderr line mentioning one of KEYWORDS."""
    text = describe(r)
    assert r.returncode > 0, f"expected a non-zero exit, got {r.returncode} (negative: killed by a signal)\n{text}"
    lines = r.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), f"expected exactly one line on stderr\n{text}"
    for bad in ("Traceback", "AddressSanitizer", "runtime error", "Segmentation", "core dumped", "Abort"):
        assert bad not in r.stderr, f"crash/sanitizer output on stderr\n{text}"
    if keywords:
        low = r.stderr.lower()
        assert any(k.lower() in low for k in keywords), \
            f"the message does not name the problem (expected one of {keywords})\n{text}"


def fingerprint(vol):
    """sha256 of every file of the volume's metadata and bucket (what a failed
    command must not change); for non-file engines, `tidefs status` too."""
    out = {}
    for dirpath, dirnames, files in os.walk(vol.dir):
        dirnames[:] = [n for n in dirnames if n not in ("mnt", "cache")]
        for name in files:
            p = os.path.join(dirpath, name)
            if p == str(vol.log):
                continue
            with open(p, "rb") as f:
                out[os.path.relpath(p, vol.dir)] = hashlib.sha256(f.read()).hexdigest()
    if not vol.meta_url.startswith("sqlite3://"):
        out["status"] = vol.cli("status", vol.meta_url).stdout
    return out


# -------------------------------------------------------------- help

def test_version(cfg):
    r = run_cli(cfg, ["--version"])
    assert r.returncode == 0, describe(r)
    assert re.search(r"\d+\.\d+", r.stdout) and "tidefs" in r.stdout.lower(), describe(r)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(cfg, command):
    r = run_cli(cfg, [command, "--help"])
    assert r.returncode == 0, describe(r)
    assert "usage" in r.stdout.lower() and command in r.stdout, describe(r)
    assert "example" in r.stdout.lower(), f"`tidefs {command} --help` shows no examples\n{describe(r)}"


def test_top_level_help_lists_commands(cfg):
    r = run_cli(cfg, ["--help"])
    assert r.returncode == 0, describe(r)
    for command in COMMANDS:
        assert command in r.stdout, f"`tidefs --help` does not mention {command}\n{describe(r)}"


def test_unknown_command(cfg):
    assert_clean_failure(run_cli(cfg, ["frobnicate"]), "frobnicate")


# ------------------------------------------------------------ format

def test_format_twice_without_force_changes_nothing(volume_factory):
    vol = volume_factory(mount=False)
    before = fingerprint(vol)
    r = vol.cli("format", *vol.cfg.storage_args(vol.dir, vol.name), vol.meta_url, vol.name)
    assert_clean_failure(r, "already", "formatted", "force")
    r = vol.cli("format", *vol.cfg.storage_args(vol.dir, vol.name), "--block-size", "1M",
                vol.meta_url, "another-name")
    assert_clean_failure(r, "already", "formatted", "force")
    assert fingerprint(vol) == before, "a refused format changed the volume"
    vol.mount()


def test_format_force_reformats_settings(volume_factory):
    vol = volume_factory(mount=False)
    r = vol.cli("format", "--force", "--trash-days", "3", *vol.cfg.storage_args(vol.dir, vol.name),
                vol.meta_url, vol.name)
    assert r.returncode == 0, describe(r)
    vol.mount()
    write_file(vol.mnt / "f", b"x")
    assert read_file(vol.mnt / "f") == b"x"


BAD_FORMAT_FLAGS = [
    (["--block-size", "3"], ("block",)),
    (["--block-size", "abc"], ("block", "abc")),
    (["--capacity", "abc"], ("capacity", "abc")),
    (["--capacity", "-1"], ("capacity", "-1")),
    (["--inodes", "lots"], ("inodes", "lots")),
    (["--compress", "foo"], ("compress", "foo")),
    (["--trash-days", "x"], ("trash",)),
    (["--storage", "nosuch"], ("storage", "nosuch")),
    (["--bogus-flag"], ("bogus-flag",)),
]


@pytest.mark.parametrize("flags,keywords", BAD_FORMAT_FLAGS, ids=[" ".join(f) for f, _ in BAD_FORMAT_FLAGS])
def test_format_bad_flags_on_new_volume(cfg, workdir, flags, keywords):
    voldir = workdir / f"badflag-{abs(hash(tuple(flags)))}"
    voldir.mkdir()
    r = run_cli(cfg, ["format", "--bucket", voldir / "bucket", *flags, f"sqlite3://{voldir}/meta.db", "vol"])
    assert_clean_failure(r, *keywords)
    assert os.listdir(voldir) == [], f"a rejected format left files behind: {os.listdir(voldir)}"


@pytest.mark.parametrize("flags,keywords", BAD_FORMAT_FLAGS[:4], ids=[" ".join(f) for f, _ in BAD_FORMAT_FLAGS[:4]])
def test_format_bad_flags_on_existing_volume(volume_factory, flags, keywords):
    vol = volume_factory(mount=False)
    before = fingerprint(vol)
    r = vol.cli("format", "--force", *vol.cfg.storage_args(vol.dir, vol.name), *flags, vol.meta_url, vol.name)
    assert_clean_failure(r, *keywords)
    assert fingerprint(vol) == before, "a rejected format --force changed the volume"


def test_format_missing_arguments(cfg, workdir):
    assert_clean_failure(run_cli(cfg, ["format"]), "meta", "usage", "argument", "name")
    assert_clean_failure(run_cli(cfg, ["format", f"sqlite3://{workdir}/x.db"]), "name", "usage", "argument")
    assert not os.path.exists(workdir / "x.db")


def test_format_bad_volume_name(cfg, workdir):
    r = run_cli(cfg, ["format", "--bucket", workdir / "b", f"sqlite3://{workdir}/n.db", "bad/name with space"])
    assert_clean_failure(r, "name")
    assert not os.path.exists(workdir / "n.db")


# --------------------------------------------------------- META-URL

BAD_URLS = [("foo://x", ("foo", "scheme")),
            ("sqlite3://", ("sqlite3", "path", "meta")),
            ("not-a-url", ("not-a-url", "meta", "scheme")),
            ("sqlite3://relative/path.db", ("relative", "absolute", "path"))]


@pytest.mark.parametrize("url,keywords", BAD_URLS, ids=[u for u, _ in BAD_URLS])
@pytest.mark.parametrize("command", ["format", "status", "mount"])
def test_invalid_meta_url(cfg, tmp_path, command, url, keywords):
    os.chmod(tmp_path, 0o755)
    args = {"format": ["format", "--bucket", tmp_path / "bucket", url, "vol"],
            "status": ["status", url],
            "mount": ["mount", "-d", url, tmp_path / "mnt"]}[command]
    (tmp_path / "mnt").mkdir()
    r = run_cli(cfg, args, cwd=tmp_path)
    assert_clean_failure(r, *keywords)
    assert sorted(os.listdir(tmp_path)) == ["mnt"], f"a bad META-URL created files: {os.listdir(tmp_path)}"
    assert not mounted_in_table(tmp_path / "mnt")


# ------------------------------------------------------- unformatted

@pytest.mark.parametrize("kind", ["absent", "empty-file", "foreign-sqlite"])
@pytest.mark.parametrize("command", ["status", "mount"])
def test_unformatted_volume(cfg, tmp_path, command, kind):
    os.chmod(tmp_path, 0o755)
    db = tmp_path / "meta.db"
    if kind == "empty-file":
        db.write_bytes(b"")
    elif kind == "foreign-sqlite":
        con = sqlite3.connect(db)
        con.execute("create table unrelated(x)")
        con.commit()
        con.close()
    before = db.read_bytes() if db.exists() else None
    (tmp_path / "mnt").mkdir()
    args = ["status", f"sqlite3://{db}"] if command == "status" else \
        ["mount", "-d", f"sqlite3://{db}", tmp_path / "mnt"]
    r = run_cli(cfg, args)
    assert_clean_failure(r, "format", "volume")
    after = db.read_bytes() if db.exists() else None
    assert after == before, f"{command} on an unformatted volume changed/created {db}"
    assert not mounted_in_table(tmp_path / "mnt")
    assert sorted(os.listdir(tmp_path)) == sorted(["mnt"] + (["meta.db"] if before is not None else [])), \
        f"{command} left files behind: {os.listdir(tmp_path)}"


# -------------------------------------------------------------- mount

def test_mount_missing_mountpoint(volume_factory):
    vol = volume_factory(mount=False)
    before = fingerprint(vol)
    missing = vol.dir / "no-such-dir"
    r = vol.cli("mount", "-d", vol.meta_url, missing)
    assert_clean_failure(r, str(missing), "mount point", "mountpoint")
    assert not missing.exists()
    assert fingerprint(vol) == before


def test_mount_point_is_a_file(volume_factory):
    vol = volume_factory(mount=False)
    write_file(vol.dir / "afile", b"")
    r = vol.cli("mount", "-d", vol.meta_url, vol.dir / "afile")
    assert_clean_failure(r, "afile", "directory")


def test_mount_non_empty_mountpoint(volume_factory):
    vol = volume_factory(mount=False)
    busy = vol.dir / "busy"
    busy.mkdir()
    write_file(busy / "existing", b"")
    before = fingerprint(vol)
    r = vol.cli("mount", "-d", vol.meta_url, busy)
    assert_clean_failure(r, "empty", str(busy))
    assert not mounted_in_table(busy)
    assert os.listdir(busy) == ["existing"]
    assert fingerprint(vol) == before


def test_mount_other_volume_on_mounted_point(volume_factory):
    first = volume_factory()
    write_file(first.mnt / "f", b"first volume")
    second = volume_factory(mount=False, name="second")
    r = second.cli("mount", "-d", "-o", MOUNT_FUSE_OPTS, second.meta_url, first.mnt)
    assert_clean_failure(r, "mounted", str(first.mnt))
    with open("/proc/self/mountinfo") as f:
        count = sum(1 for line in f if line.split()[4] == str(first.mnt))
    assert count == 1, f"{first.mnt} is mounted {count} times"
    assert read_file(first.mnt / "f") == b"first volume", "the first mount broke"


def test_mount_other_volume_on_mounted_point_with_other_binary(volume_factory, cfg):
    """A different tidefs binary may take over a mount (upgrade), but only of
    the same volume: another META-URL must still be refused."""
    first = volume_factory()
    write_file(first.mnt / "f", b"first volume")
    second = volume_factory(mount=False, name="second")
    other_bin = second.dir / "tidefs-other-build"
    shutil.copy2(cfg.bin, other_bin)
    r = subprocess.run([str(other_bin), "mount", "-d", "-o", MOUNT_FUSE_OPTS, second.meta_url,
                        str(first.mnt)], capture_output=True, text=True, timeout=60)
    first.pids = first.serving_pids()   # an upgrade replaces the serving process
    assert_clean_failure(r, "mounted", str(first.mnt), "volume", "meta")
    assert read_file(first.mnt / "f") == b"first volume", "the first mount broke"


def test_mount_already_mounted_point(fresh_volume):
    write_file(fresh_volume.mnt / "f", b"first mount")
    r = fresh_volume.cli("mount", "-d", "-o", MOUNT_FUSE_OPTS, fresh_volume.meta_url, fresh_volume.mnt)
    assert_clean_failure(r, "mounted", str(fresh_volume.mnt))
    with open("/proc/self/mountinfo") as f:
        count = sum(1 for line in f if line.split()[4] == str(fresh_volume.mnt))
    assert count == 1, f"{fresh_volume.mnt} is mounted {count} times"
    assert read_file(fresh_volume.mnt / "f") == b"first mount", "the first mount broke"


BAD_MOUNT_FLAGS = [(["--cache-size", "abc"], ("cache-size", "abc")),
                   (["--buffer-size", "-3"], ("buffer-size", "-3")),
                   (["--attr-cache", "soon"], ("attr-cache", "soon")),
                   (["--entry-cache", "x"], ("entry-cache",)),
                   (["--bogus-flag"], ("bogus-flag",))]


@pytest.mark.parametrize("flags,keywords", BAD_MOUNT_FLAGS, ids=[" ".join(f) for f, _ in BAD_MOUNT_FLAGS])
def test_mount_bad_flags(volume_factory, flags, keywords):
    vol = volume_factory(mount=False)
    vol.mnt.mkdir()
    before = fingerprint(vol)
    r = vol.cli("mount", "-d", *flags, vol.meta_url, vol.mnt)
    assert_clean_failure(r, *keywords)
    assert not mounted_in_table(vol.mnt)
    assert fingerprint(vol) == before


def test_mount_missing_subdir(volume_factory):
    vol = volume_factory(mount=False)
    vol.mnt.mkdir()
    r = vol.cli("mount", "-d", "--subdir", "/no/such/dir", vol.meta_url, vol.mnt)
    assert_clean_failure(r, "subdir", "/no/such/dir")
    assert not mounted_in_table(vol.mnt)


def test_mount_subdir(volume_factory):
    vol = volume_factory()
    os.makedirs(vol.mnt / "projects/a")
    write_file(vol.mnt / "projects/a/inside", b"in a")
    write_file(vol.mnt / "outside", b"")
    vol.umount()
    vol.mount(["--subdir", "/projects/a"])
    assert os.listdir(vol.mnt) == ["inside"]
    assert read_file(vol.mnt / "inside") == b"in a"
    write_file(vol.mnt / "new", b"n")
    vol.umount()
    vol.mount()
    assert read_file(vol.mnt / "projects/a/new") == b"n"


def test_mount_read_only(volume_factory):
    vol = volume_factory()
    write_file(vol.mnt / "f", b"data")
    vol.umount()
    vol.mount(["--read-only"])
    assert read_file(vol.mnt / "f") == b"data"
    expect_errno(errno.EROFS, os.open, vol.mnt / "f", os.O_WRONLY)
    expect_errno(errno.EROFS, os.mkdir, vol.mnt / "d")
    expect_errno(errno.EROFS, os.unlink, vol.mnt / "f")
    expect_errno(errno.EROFS, os.setxattr, vol.mnt / "f", "user.x", b"1")


def test_mount_foreground_serves_until_unmounted(volume_factory, cfg):
    vol = volume_factory(mount=False)
    vol.mnt.mkdir()
    with open(vol.log, "w") as log:   # a file, not a pipe: a full pipe would block the daemon
        proc = subprocess.Popen([cfg.bin, "mount", "-o", MOUNT_FUSE_OPTS, "--cache-dir",
                                 str(vol.dir / "cache"), vol.meta_url, str(vol.mnt)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not mounted_in_table(vol.mnt):
            assert proc.poll() is None, f"foreground mount exited {proc.returncode}: {vol.log_tail()}"
            assert time.monotonic() < deadline, "foreground mount not ready after 30 s"
            time.sleep(0.1)
        write_file(vol.mnt / "f", b"foreground")
        assert read_file(vol.mnt / "f") == b"foreground"
        r = vol.cli("umount", vol.mnt)
        assert r.returncode == 0, describe(r)
        assert proc.wait(timeout=20) == 0, f"foreground mount exited {proc.returncode} after umount"
    finally:
        if proc.poll() is None:
            lazy_unmount(vol.mnt)
            proc.kill()
            proc.wait()
        elif mounted_in_table(vol.mnt):
            lazy_unmount(vol.mnt)


# ------------------------------------------------------------- umount

def test_umount_not_mounted(cfg, tmp_path):
    r = run_cli(cfg, ["umount", tmp_path])
    assert_clean_failure(r, str(tmp_path), "not mounted", "mount")
    r = run_cli(cfg, ["umount", tmp_path / "missing"])
    assert_clean_failure(r, "missing")


def test_umount_busy_then_force(fresh_volume):
    write_file(fresh_volume.mnt / "f", b"")
    fd = os.open(fresh_volume.mnt / "f", os.O_RDONLY)
    try:
        r = fresh_volume.cli("umount", fresh_volume.mnt)
        assert_clean_failure(r, "busy", str(fresh_volume.mnt))
        assert mounted_in_table(fresh_volume.mnt)
        pid = fresh_volume.pid
        r = fresh_volume.cli("umount", "--force", fresh_volume.mnt)
        assert r.returncode == 0, describe(r)
        assert not mounted_in_table(fresh_volume.mnt)
        assert pid is None or wait_gone(pid, 20), "daemon still running after umount --force"
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    fresh_volume.mounted = False
    fresh_volume.mount()
    assert read_file(fresh_volume.mnt / "f") == b""


# ------------------------------------------------------------- status

def test_status_shows_settings_and_live_mounts(volume_factory):
    vol = volume_factory(format_args=["--block-size", "1M", "--compress", "zstd", "--trash-days", "2"],
                         mount=False)
    r = vol.cli("status", vol.meta_url)
    assert r.returncode == 0, describe(r)
    assert vol.name in r.stdout and "zstd" in r.stdout, f"status misses the settings\n{describe(r)}"
    assert str(vol.mnt) not in r.stdout
    vol.mount()
    r = vol.cli("status", vol.meta_url)
    assert r.returncode == 0, describe(r)
    assert str(vol.mnt) in r.stdout, f"status does not list the live mount\n{describe(r)}"
    vol.umount()
    r = vol.cli("status", vol.meta_url)
    assert str(vol.mnt) not in r.stdout, f"status still lists a finished mount\n{describe(r)}"


def test_status_after_kill9_and_remount(volume_factory):
    vol = volume_factory()
    vol.kill9()
    r = vol.cli("status", vol.meta_url)
    assert r.returncode == 0, f"status fails on a volume whose daemon was killed\n{describe(r)}"
    vol.mount()
    r = vol.cli("status", vol.meta_url)
    assert r.returncode == 0 and str(vol.mnt) in r.stdout, describe(r)


# ------------------------------------------------------- mount.tidefs

def test_mount_helper(volume_factory, cfg):
    helper = os.path.join(os.path.dirname(cfg.bin), "mount.tidefs")
    if not os.path.exists(helper):
        pytest.fail(f"{helper} is missing (mount -t tidefs needs it)")
    vol = volume_factory(mount=False)
    vol.mnt.mkdir()
    r = subprocess.run([helper, vol.meta_url, str(vol.mnt), "-o", f"_netdev,{MOUNT_FUSE_OPTS}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, describe(r)
    try:
        assert mounted_in_table(vol.mnt), "mount.tidefs returned before the mount was ready"
        write_file(vol.mnt / "via-helper", b"ok")
        assert read_file(vol.mnt / "via-helper") == b"ok"
    finally:
        if mounted_in_table(vol.mnt):
            r = vol.cli("umount", vol.mnt)
            assert r.returncode == 0, describe(r)
    assert not is_mount(vol.mnt)
