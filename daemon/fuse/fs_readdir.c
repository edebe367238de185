/* SPDX-License-Identifier: Apache-2.0
 *
 * Directory listing for FUSE. Offsets are stable cookies: 0 = start,
 * 1 = after ".", 2 = after "..", and 2 + the engine's cookie for every real
 * entry, so a listing resumed at any offset neither skips nor repeats
 * entries, whatever was created or removed meanwhile. Each call fills one
 * kernel buffer straight from a paged engine query, never the whole
 * directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/fs_i.h"

#define DOT_ENTRIES 2

struct dir_fill {
    fuse_req_t req;
    char *buf;
    size_t size;
    size_t used;
    bool plus;
};

/* Adds one entry; returns 1 (stop) when it does not fit. */
static int add_entry(struct dir_fill *d, const char *name, const struct meta_attr *a, off_t next)
{
    size_t left = d->size - d->used;
    size_t len;
    if (d->plus) {
        struct fuse_entry_param e = {0};
        e.ino = a->ino;
        e.generation = 1;
        stat_from_attr(&e.attr, a);
        bool dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
        e.attr_timeout = dot ? 0 : ctx_of(d->req)->attr_timeout;
        e.entry_timeout = dot ? 0 : ctx_of(d->req)->entry_timeout;
        len = fuse_add_direntry_plus(d->req, d->buf + d->used, left, name, &e, next);
    } else {
        struct stat st = {0};
        st.st_ino = a->ino;
        st.st_mode = a->mode;
        len = fuse_add_direntry(d->req, d->buf + d->used, left, name, &st, next);
    }
    if (len > left)
        return 1;
    d->used += len;
    return 0;
}

static int add_engine_entry(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    return add_entry(arg, name, attr, (off_t)(next + DOT_ENTRIES));
}

static int add_dots(struct dir_fill *d, fuse_ino_t ino, off_t off)
{
    struct meta_attr self, parent;
    int rc = vfs_getattr(vfs_of(d->req), ino, &self);
    if (rc)
        return rc;
    if (!S_ISDIR(self.mode))
        return -ENOTDIR;
    if (off < 1 && add_entry(d, ".", &self, 1))
        return 0;
    parent = self;
    if (self.parent && self.parent != self.ino && d->plus)
        rc = vfs_getattr(vfs_of(d->req), self.parent, &parent);
    else
        parent.ino = self.parent ? self.parent : self.ino;
    if (rc)
        return rc;
    if (off < 2)
        add_entry(d, "..", &parent, 2);
    return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
    struct dir_fill d = {req, malloc(size), size, 0, plus};
    if (!d.buf)
        return (void)fuse_reply_err(req, ENOMEM);
    int rc = 0;
    if (off < DOT_ENTRIES)
        rc = add_dots(&d, ino, off);
    if (rc == 0 && d.used < size) {
        uint64_t cookie = off > DOT_ENTRIES ? (uint64_t)off - DOT_ENTRIES : 0;
        rc = vfs_readdir(vfs_of(req), ino, cookie, plus, add_engine_entry, &d);
    }
    if (rc && d.used == 0)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_buf(req, d.buf, d.used);
    free(d.buf);
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_OPENDIR);
    struct meta_attr a;
    int rc = vfs_getattr(vfs_of(req), ino, &a);
    if (rc == 0 && !S_ISDIR(a.mode))
        rc = -ENOTDIR;
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fi->fh = 0;
    fi->cache_readdir = 0;
    fuse_reply_open(req, fi);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_READDIR);
    (void)fi;
    do_readdir(req, ino, size, off, false);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_READDIRPLUS);
    (void)fi;
    do_readdir(req, ino, size, off, true);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_RELEASEDIR);
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}
