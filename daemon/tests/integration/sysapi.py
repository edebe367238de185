# SPDX-License-Identifier: Apache-2.0
"""ctypes wrappers for the Linux calls Python's os module does not expose
(renameat2, fallocate modes, utimensat with UTIME_NOW/UTIME_OMIT, raw
getxattr, a real DIR* stream with telldir/seekdir, struct flock).  Every
wrapper raises OSError with the kernel's errno, like the os module does."""

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

SEEK_DATA = 3
SEEK_HOLE = 4


def _check(ret, path=None):
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return ret


def _b(path):
    return os.fsencode(path)


_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def renameat2(src, dst, flags):
    _check(_libc.renameat2(AT_FDCWD, _b(src), AT_FDCWD, _b(dst), flags), src)


def fallocate(fd, mode, offset, length):
    _check(_libc.fallocate(fd, mode, offset, length))


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_Timespec), ctypes.c_int]


def utimensat(path, atime, mtime, follow=True):
    """ATIME/MTIME: (sec, nsec), UTIME_NOW or UTIME_OMIT."""
    times = (_Timespec * 2)()
    for slot, value in zip(times, (atime, mtime)):
        if isinstance(value, tuple):
            slot.tv_sec, slot.tv_nsec = value
        else:
            slot.tv_sec, slot.tv_nsec = 0, value
    flags = 0 if follow else AT_SYMLINK_NOFOLLOW
    _check(_libc.utimensat(AT_FDCWD, _b(path), times, flags), path)


_libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.getxattr.restype = ctypes.c_ssize_t
_libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.listxattr.restype = ctypes.c_ssize_t


def getxattr_raw(path, name, size):
    """getxattr with an explicit buffer size (size 0 returns the length)."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(_libc.getxattr(_b(path), name.encode(), buf if size else None, size), path)
    return n if size == 0 else buf.raw[:n]


def listxattr_raw(path, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(_libc.listxattr(_b(path), buf if size else None, size), path)
    return n if size == 0 else buf.raw[:n]


class _Dirent64(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


_libc.opendir.argtypes = [ctypes.c_char_p]
_libc.opendir.restype = ctypes.c_void_p
_libc.readdir64.argtypes = [ctypes.c_void_p]
_libc.readdir64.restype = ctypes.POINTER(_Dirent64)
_libc.telldir.argtypes = [ctypes.c_void_p]
_libc.telldir.restype = ctypes.c_long
_libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
_libc.rewinddir.argtypes = [ctypes.c_void_p]
_libc.closedir.argtypes = [ctypes.c_void_p]


class DirStream:
    """libc's DIR*: the same readdir/telldir/seekdir path `ls` and `rm -r`
    use, so offsets go through the kernel exactly as applications see them."""

    def __init__(self, path):
        ctypes.set_errno(0)
        self.dirp = _libc.opendir(_b(path))
        if not self.dirp:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)

    def read(self):
        """(name, d_ino, d_type) of the next entry, or None at the end."""
        ctypes.set_errno(0)
        ent = _libc.readdir64(self.dirp)
        if not ent:
            err = ctypes.get_errno()
            if err:
                raise OSError(err, os.strerror(err))
            return None
        e = ent.contents
        return os.fsdecode(e.d_name), e.d_ino, e.d_type

    def tell(self):
        return _libc.telldir(self.dirp)

    def seek(self, pos):
        _libc.seekdir(self.dirp, pos)

    def rewind(self):
        _libc.rewinddir(self.dirp)

    def close(self):
        if self.dirp:
            _libc.closedir(self.dirp)
            self.dirp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while True:
            item = self.read()
            if item is None:
                return
            yield item


# struct flock on LP64 Linux: short l_type, short l_whence, off_t l_start,
# off_t l_len, pid_t l_pid (+ padding).
_FLOCK = struct.Struct("hhqqi4x")


def posix_lock(fd, cmd, ltype, start=0, length=0, whence=os.SEEK_SET):
    """fcntl(fd, F_SETLK/F_SETLKW/F_GETLK, struct flock); returns the
    (l_type, l_start, l_len, l_pid) the kernel wrote back."""
    import fcntl
    out = fcntl.fcntl(fd, cmd, _FLOCK.pack(ltype, whence, start, length, 0))
    ltype, _whence, start, length, pid = _FLOCK.unpack(out)
    return ltype, start, length, pid
