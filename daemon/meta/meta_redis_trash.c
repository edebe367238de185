/* SPDX-License-Identifier: Apache-2.0
 *
 * The trash in the Redis engine, with the SQLite engine's semantics
 * (meta_sqlite_trash.c): with trash days set in the format, a file or
 * directory that a removal would delete moves instead, in the same
 * transaction, to /.trash/<YYYY-MM-DD-HH>/<parent>-<ino>-<name> (the hour
 * in UTC). .trash is node META_TRASH_INO (key i<META_TRASH_INO>) with no
 * entry in the root: lookup finds it, a listing never shows it. Nothing but
 * a removal enters it; removing something in it deletes it for real.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meta/meta_redis_i.h"

/* 1 when dir p is the trash, an hour directory or a trashed directory. */
static int in_trash(struct mr_tx *tx, const struct meta_attr *p)
{
    if (p->ino == META_TRASH_INO || p->parent == META_TRASH_INO)
        return 1;
    if (p->parent == META_ROOT_INO || p->ino == META_ROOT_INO)
        return 0;
    struct meta_attr pp;
    int rc = mr_attr_get(tx, p->parent, &pp);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    return pp.parent == META_TRASH_INO;
}

int mr_trash_check_target(struct mr_tx *tx, const struct meta_attr *p)
{
    int rc = in_trash(tx, p);
    return rc < 0 ? rc : rc ? -EPERM : 0;
}

int mr_trash_wanted(struct mr_tx *tx, const struct meta_attr *p)
{
    if (atomic_load(&tx->m->trash_days) <= 0)
        return 0;
    int rc = in_trash(tx, p);
    return rc < 0 ? rc : !rc;
}

/* The trash directory itself, created the first time it is needed. */
static int trash_root(struct mr_tx *tx, struct meta_attr *t, int64_t now)
{
    int rc = mr_attr_get(tx, META_TRASH_INO, t);
    if (rc != -ENOENT)
        return rc;
    *t = (struct meta_attr){.ino = META_TRASH_INO, .mode = S_IFDIR | 0555, .nlink = 2, .size = 4096,
                            .atime = now, .mtime = now, .ctime = now, .parent = META_ROOT_INO};
    return mr_attr_put(tx, t);
}

/* The directory of this hour in the trash, created when missing. */
static int hour_dir(struct mr_tx *tx, int64_t now, struct meta_attr *h)
{
    char name[32], key[MR_KEY_MAX];
    time_t t = (time_t)(now / 1000000000);
    struct tm tm;
    strftime(name, sizeof(name), "%Y-%m-%d-%H", gmtime_r(&t, &tm));
    mr_key(key, "d", META_TRASH_INO);
    redisReply *r = mr_wcmd(tx, key, "HGET %s %s", key, name);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_STRING)
        return mr_attr_get(tx, strtoull(r->str, NULL, 10), h);
    struct meta_attr t_root;
    uint64_t ino;
    rc = trash_root(tx, &t_root, now);
    if (rc == 0)
        rc = mr_batch_take(tx, &tx->m->ino_batch, "nextInode", MR_INO_BATCH, &ino);
    if (rc)
        return rc;
    *h = (struct meta_attr){.ino = ino, .mode = S_IFDIR | 0555, .nlink = 2, .size = 4096, .atime = now,
                            .mtime = now, .ctime = now, .parent = META_TRASH_INO};
    rc = mr_attr_put(tx, h);
    if (rc == 0)
        rc = mr_edge_add(tx, META_TRASH_INO, name, ino, h->mode);
    if (rc == 0)
        rc = mr_counter_add(tx, "totalInodes", 1);
    t_root.nlink++;
    t_root.mtime = t_root.ctime = now;
    return rc ? rc : mr_attr_put(tx, &t_root);
}

int mr_trash_move(struct mr_tx *tx, uint64_t parent, const char *name, struct meta_attr *n)
{
    int64_t now = mr_now();
    struct meta_attr h;
    int rc = hour_dir(tx, now, &h);
    if (rc)
        return rc;
    char entry[META_NAME_MAX + 1];
    snprintf(entry, sizeof(entry), "%llu-%llu-%s", (unsigned long long)parent, (unsigned long long)n->ino, name);
    rc = mr_edge_add(tx, h.ino, entry, n->ino, n->mode);
    if (rc)
        return rc;
    n->parent = h.ino;
    n->ctime = now;
    h.mtime = h.ctime = now;
    h.nlink += S_ISDIR(n->mode) ? 1 : 0;
    rc = mr_attr_put(tx, n);
    return rc ? rc : mr_attr_put(tx, &h);
}

int mr_trash_lookup(struct mr_tx *tx, struct meta_attr *out)
{
    return mr_attr_get(tx, META_TRASH_INO, out);
}
