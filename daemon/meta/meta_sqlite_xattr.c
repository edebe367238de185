/* SPDX-License-Identifier: Apache-2.0
 *
 * Extended attributes in the SQLite engine: one row per (inode, name).
 * Errors follow Linux: -ENODATA for a missing attribute, -ERANGE for a name
 * over 255 bytes or a buffer too small, -E2BIG for a value over 64 KiB,
 * -EEXIST/-ENODATA for XATTR_CREATE/XATTR_REPLACE. Setting or removing an
 * attribute changes the inode's ctime.
 */
#include <errno.h>
#include <string.h>

#include "meta/meta_sqlite_i.h"

struct xattr_args {
    uint64_t ino;
    const char *name;
    const void *value; /* set: the value; get/list: the output buffer */
    size_t size;
    int flags;
};

static int check_xname(const char *name)
{
    if (!name || !*name)
        return -EINVAL;
    return strlen(name) > META_XATTR_NAME_MAX ? -ERANGE : 0;
}

/* The result for an attribute that is not there. */
static int missing(struct msq_conn *c, uint64_t ino)
{
    struct meta_attr a;
    int rc = msq_attr_get(c, ino, &a);
    return rc ? rc : -ENODATA;
}

static int touch_ctime(struct msq_conn *c, uint64_t ino)
{
    return msq_exec(c, "UPDATE node SET ctime = ? WHERE inode = ?", "II", msq_now(), ino);
}

static int getxattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT value FROM xattr WHERE inode = ? AND name = ?", "It", a->ino, a->name);
    if (rc <= 0)
        return rc ? rc : missing(c, a->ino);
    int len = sqlite3_column_bytes(st, 0);
    if (a->size == 0)
        return len;
    if ((size_t)len > a->size)
        return -ERANGE;
    if (len) /* an empty blob's pointer is NULL */
        memcpy((void *)a->value, sqlite3_column_blob(st, 0), (size_t)len);
    return len;
}

ssize_t msq_getxattr(struct meta *m, uint64_t ino, const char *name, void *buf, size_t size)
{
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, buf, size, 0};
    return rc ? rc : msq_txn(m, MSQ_READ, getxattr_fn, &a);
}

static int setxattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    struct meta_attr n;
    int rc = msq_attr_get(c, a->ino, &n);
    if (rc == 0)
        rc = msq_query(c, NULL, "SELECT 1 FROM xattr WHERE inode = ? AND name = ?", "It", a->ino, a->name);
    if (rc < 0)
        return rc;
    if (rc > 0 && (a->flags & META_XATTR_CREATE))
        return -EEXIST;
    if (rc == 0 && (a->flags & META_XATTR_REPLACE))
        return -ENODATA;
    rc = msq_exec(c,
                  "INSERT INTO xattr (inode, name, value) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT(inode, name) DO UPDATE SET value = ?3",
                  "Itb", a->ino, a->name, a->value, (int)a->size);
    return rc ? rc : touch_ctime(c, a->ino);
}

int msq_setxattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size, int flags)
{
    int both = META_XATTR_CREATE | META_XATTR_REPLACE;
    if ((flags & ~both) || (flags & both) == both || (size && !value))
        return -EINVAL;
    if (size > META_XATTR_SIZE_MAX)
        return -E2BIG;
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, value, size, flags};
    return rc ? rc : msq_txn(m, MSQ_WRITE, setxattr_fn, &a);
}

static int listxattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    sqlite3_stmt *st;
    size_t total = 0;
    int rc = msq_query(c, &st, "SELECT name FROM xattr WHERE inode = ? ORDER BY name", "I", a->ino);
    for (; rc > 0; rc = msq_step(c, st)) {
        size_t len = (size_t)sqlite3_column_bytes(st, 0) + 1;
        if (a->size && total + len > a->size)
            return -ERANGE;
        if (a->size)
            memcpy((char *)a->value + total, sqlite3_column_text(st, 0), len);
        total += len;
    }
    if (rc < 0)
        return rc;
    if (total == 0) { /* nothing listed: is the inode there at all? */
        struct meta_attr n;
        rc = msq_attr_get(c, a->ino, &n);
    }
    return rc ? rc : (int)total;
}

ssize_t msq_listxattr(struct meta *m, uint64_t ino, char *buf, size_t size)
{
    struct xattr_args a = {ino, NULL, buf, size, 0};
    return msq_txn(m, MSQ_READ_SNAP, listxattr_fn, &a);
}

static int removexattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    int rc = msq_exec(c, "DELETE FROM xattr WHERE inode = ? AND name = ?", "It", a->ino, a->name);
    if (rc)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return missing(c, a->ino);
    return touch_ctime(c, a->ino);
}

int msq_removexattr(struct meta *m, uint64_t ino, const char *name)
{
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, NULL, 0, 0};
    return rc ? rc : msq_txn(m, MSQ_WRITE, removexattr_fn, &a);
}
