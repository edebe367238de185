/* SPDX-License-Identifier: Apache-2.0
 *
 * Extended attributes in the Redis engine: one hash x<ino> of name -> value.
 * Errors follow Linux and the SQLite engine: -ENODATA for a missing
 * attribute, -ERANGE for a name over 255 bytes or a buffer too small,
 * -E2BIG for a value over 64 KiB, -EEXIST/-ENODATA for XATTR_CREATE /
 * XATTR_REPLACE. Setting or removing an attribute changes the inode's ctime.
 * listxattr lists names in byte order, as SQLite's ORDER BY name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_redis_i.h"

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
static int missing(struct mr_tx *tx, uint64_t ino)
{
    struct meta_attr a;
    int rc = mr_attr_get(tx, ino, &a);
    return rc ? rc : -ENODATA;
}

static int getxattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    redisReply *r = mr_cmd(tx, "HGET x%llu %s", (unsigned long long)a->ino, a->name);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return missing(tx, a->ino);
    if (a->size == 0)
        return (int)r->len;
    if (r->len > a->size)
        return -ERANGE;
    memcpy((void *)a->value, r->str, r->len);
    return (int)r->len;
}

ssize_t mr_getxattr(struct meta *m, uint64_t ino, const char *name, void *buf, size_t size)
{
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, buf, size, 0};
    return rc ? rc : mr_read(m, getxattr_fn, &a);
}

static int setxattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    struct meta_attr n;
    char key[MR_KEY_MAX];
    mr_key(key, "x", a->ino);
    int rc = mr_attr_get(tx, a->ino, &n);
    redisReply *r = rc ? NULL : mr_wcmd(tx, key, "HEXISTS %s %s", key, a->name);
    if (rc == 0)
        rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->integer && (a->flags & META_XATTR_CREATE))
        return -EEXIST;
    if (!r->integer && (a->flags & META_XATTR_REPLACE))
        return -ENODATA;
    rc = mr_queue(tx, "HSET %s %s %b", key, a->name, a->value ? a->value : "", a->size);
    n.ctime = mr_now();
    return rc ? rc : mr_attr_put(tx, &n);
}

int mr_setxattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size, int flags)
{
    int both = META_XATTR_CREATE | META_XATTR_REPLACE;
    if ((flags & ~both) || (flags & both) == both || (size && !value))
        return -EINVAL;
    if (size > META_XATTR_SIZE_MAX)
        return -E2BIG;
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, value, size, flags};
    return rc ? rc : mr_txn(m, setxattr_fn, &a);
}

static int by_name(const void *x, const void *y)
{
    const redisReply *a = *(redisReply *const *)x, *b = *(redisReply *const *)y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->str, b->str, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int listxattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    redisReply *r = mr_cmd(tx, "HKEYS x%llu", (unsigned long long)a->ino);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return -EIO;
    if (r->elements > 1)
        qsort(r->element, r->elements, sizeof(r->element[0]), by_name);
    size_t total = 0;
    for (size_t i = 0; i < r->elements; i++) {
        size_t len = r->element[i]->len + 1;
        if (a->size && total + len > a->size)
            return -ERANGE;
        if (a->size)
            memcpy((char *)a->value + total, r->element[i]->str, len);
        total += len;
    }
    if (total == 0) { /* nothing listed: is the inode there at all? */
        struct meta_attr n;
        rc = mr_attr_get(tx, a->ino, &n);
    }
    return rc ? rc : (int)total;
}

ssize_t mr_listxattr(struct meta *m, uint64_t ino, char *buf, size_t size)
{
    struct xattr_args a = {ino, NULL, buf, size, 0};
    return mr_read(m, listxattr_fn, &a);
}

static int removexattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct xattr_args *a = arg;
    struct meta_attr n;
    char key[MR_KEY_MAX];
    mr_key(key, "x", a->ino);
    int rc = mr_attr_get(tx, a->ino, &n);
    redisReply *r = rc ? NULL : mr_wcmd(tx, key, "HEXISTS %s %s", key, a->name);
    if (rc == 0)
        rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (!r->integer)
        return -ENODATA;
    rc = mr_queue(tx, "HDEL %s %s", key, a->name);
    n.ctime = mr_now();
    return rc ? rc : mr_attr_put(tx, &n);
}

int mr_removexattr(struct meta *m, uint64_t ino, const char *name)
{
    int rc = check_xname(name);
    struct xattr_args a = {ino, name, NULL, 0, 0};
    return rc ? rc : mr_txn(m, removexattr_fn, &a);
}
