# SPDX-License-Identifier: Apache-2.0
"""Extended attributes (user.*) through the mount: get/set/list/remove,
XATTR_CREATE / XATTR_REPLACE, binary and empty values, buffer sizing (ERANGE)
and the errors of every call."""

import errno
import os

from harness import USER_A, as_user, expect_errno, write_file
from sysapi import getxattr_raw, listxattr_raw


def user_attrs(path, follow=True):
    return sorted(n for n in os.listxattr(path, follow_symlinks=follow) if n.startswith("user."))


def test_set_get_list_remove(d):
    p = d / "f"
    write_file(p, b"")
    assert user_attrs(p) == []
    os.setxattr(p, "user.alpha", b"1")
    os.setxattr(p, "user.beta", b"two")
    assert os.getxattr(p, "user.alpha") == b"1"
    assert os.getxattr(p, "user.beta") == b"two"
    assert user_attrs(p) == ["user.alpha", "user.beta"]
    os.setxattr(p, "user.alpha", b"changed")
    assert os.getxattr(p, "user.alpha") == b"changed"
    os.removexattr(p, "user.alpha")
    assert user_attrs(p) == ["user.beta"]
    expect_errno(errno.ENODATA, os.getxattr, p, "user.alpha")


def test_binary_empty_and_large_values(d):
    p = d / "f"
    write_file(p, b"")
    binary = bytes(range(256)) * 8
    os.setxattr(p, "user.bin", binary)
    os.setxattr(p, "user.empty", b"")
    assert os.getxattr(p, "user.bin") == binary, "binary value (with NULs) not kept"
    assert os.getxattr(p, "user.empty") == b""
    assert "user.empty" in user_attrs(p)


def test_create_and_replace_flags(d):
    p = d / "f"
    write_file(p, b"")
    os.setxattr(p, "user.a", b"v1", os.XATTR_CREATE)
    expect_errno(errno.EEXIST, os.setxattr, p, "user.a", b"v2", os.XATTR_CREATE)
    assert os.getxattr(p, "user.a") == b"v1", "a failed XATTR_CREATE changed the value"
    os.setxattr(p, "user.a", b"v3", os.XATTR_REPLACE)
    assert os.getxattr(p, "user.a") == b"v3"
    expect_errno(errno.ENODATA, os.setxattr, p, "user.b", b"x", os.XATTR_REPLACE)
    assert user_attrs(p) == ["user.a"], "a failed XATTR_REPLACE created the attribute"


def test_error_cases(d):
    p = d / "f"
    write_file(p, b"")
    os.setxattr(p, "user.a", b"12345")
    expect_errno(errno.ENODATA, os.getxattr, p, "user.missing")
    expect_errno(errno.ENODATA, os.removexattr, p, "user.missing")
    expect_errno(errno.ENOENT, os.getxattr, d / "nope", "user.a")
    expect_errno(errno.ENOENT, os.setxattr, d / "nope", "user.a", b"")
    expect_errno(errno.ERANGE, getxattr_raw, p, "user.a", 2)
    assert getxattr_raw(p, "user.a", 0) == 5, "size query must return the value length"
    assert getxattr_raw(p, "user.a", 5) == b"12345"
    need = listxattr_raw(p, 0)
    assert need >= len(b"user.a\0")
    expect_errno(errno.ERANGE, listxattr_raw, p, 1)
    expect_errno(errno.ERANGE, os.setxattr, p, "user." + "n" * 256, b"")
    expect_errno((errno.EOPNOTSUPP, errno.ENOTSUP), os.setxattr, p, "nonsense.ns", b"")


def test_xattrs_on_directory(d):
    os.mkdir(d / "sub")
    os.setxattr(d / "sub", "user.dir", b"yes")
    assert os.getxattr(d / "sub", "user.dir") == b"yes"
    assert user_attrs(d / "sub") == ["user.dir"]


def test_user_xattr_not_allowed_on_symlink(d):
    write_file(d / "t", b"")
    os.symlink("t", d / "l")
    expect_errno(errno.EPERM, os.setxattr, d / "l", "user.x", b"1", follow_symlinks=False)
    os.setxattr(d / "l", "user.via", b"target")   # follows to the file
    assert os.getxattr(d / "t", "user.via") == b"target"


def test_xattrs_independent_per_inode_and_shared_by_links(d):
    write_file(d / "a", b"")
    write_file(d / "b", b"")
    os.link(d / "a", d / "a2")
    os.setxattr(d / "a", "user.k", b"A")
    assert os.getxattr(d / "a2", "user.k") == b"A", "hard links must share xattrs"
    assert user_attrs(d / "b") == []
    os.rename(d / "a", d / "c")
    assert os.getxattr(d / "c", "user.k") == b"A", "rename lost the xattrs"


def test_many_attributes(d):
    p = d / "f"
    write_file(p, b"")
    names = [f"user.attr{i:03d}" for i in range(50)]
    for i, name in enumerate(names):
        os.setxattr(p, name, str(i).encode())
    assert user_attrs(p) == names
    for i, name in enumerate(names):
        assert os.getxattr(p, name) == str(i).encode()


def test_xattr_needs_write_permission(d):
    p = d / "f"
    write_file(p, b"", mode=0o644)
    os.setxattr(p, "user.owner", b"root")
    assert as_user(USER_A, os.getxattr, p, "user.owner") == b"root"
    expect_errno(errno.EACCES, as_user, USER_A, os.setxattr, p, "user.x", b"1")
    expect_errno(errno.EACCES, as_user, USER_A, os.removexattr, p, "user.owner")
    os.chmod(p, 0o600)
    expect_errno(errno.EACCES, as_user, USER_A, os.getxattr, p, "user.owner")
