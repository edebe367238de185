/* SPDX-License-Identifier: Apache-2.0
 *
 * The trash in the SQLite engine: with trash days set in the format, a
 * file or directory that a removal (unlink, rmdir, rename over it) would
 * delete moves instead, in the same transaction, to
 * /.trash/<YYYY-MM-DD-HH>/<parent>-<ino>-<name> (the hour in UTC; the
 * name keeps where it came from, for `tidefs restore`). .trash is node
 * META_TRASH_INO with no directory entry (lookup finds it in the root, a
 * listing never shows it); hour directories are ordinary directories in
 * it. Nothing but a removal enters the trash, and removing something in it
 * deletes it for real, which is how the purge (meta/trash.c) empties it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meta/meta_sqlite_i.h"

/* 1 when dir p is the trash, an hour directory or a trashed directory. */
static int in_trash(struct msq_conn *c, const struct meta_attr *p)
{
    if (p->ino == META_TRASH_INO || p->parent == META_TRASH_INO)
        return 1;
    if (p->parent == META_ROOT_INO || p->ino == META_ROOT_INO)
        return 0;
    struct meta_attr pp;
    int rc = msq_attr_get(c, p->parent, &pp);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    return pp.parent == META_TRASH_INO;
}

int msq_trash_check_target(struct msq_conn *c, const struct meta_attr *p)
{
    int rc = in_trash(c, p);
    return rc < 0 ? rc : rc ? -EPERM : 0;
}

int msq_trash_wanted(struct meta *m, struct msq_conn *c, const struct meta_attr *p)
{
    if (atomic_load(&m->trash_days) <= 0)
        return 0;
    int rc = in_trash(c, p);
    return rc < 0 ? rc : !rc;
}

/* The trash directory itself, created the first time it is needed. */
static int trash_root(struct msq_conn *c, struct meta_attr *t, int64_t now)
{
    int rc = msq_attr_get(c, META_TRASH_INO, t);
    if (rc != -ENOENT)
        return rc;
    *t = (struct meta_attr){.ino = META_TRASH_INO, .mode = S_IFDIR | 0555, .nlink = 2, .size = 4096,
                            .atime = now, .mtime = now, .ctime = now, .parent = META_ROOT_INO};
    return msq_attr_put(c, t);
}

/* The directory of this hour in the trash, created when missing. */
static int hour_dir(struct meta *m, struct msq_conn *c, int64_t now, struct meta_attr *h)
{
    char name[32];
    time_t t = (time_t)(now / 1000000000);
    struct tm tm;
    strftime(name, sizeof(name), "%Y-%m-%d-%H", gmtime_r(&t, &tm));
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT inode FROM edge WHERE parent = ? AND name = ?", "Ib", META_TRASH_INO,
                       name, (int)strlen(name));
    if (rc > 0) {
        uint64_t ino = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return msq_attr_get(c, ino, h);
    }
    struct meta_attr t_root;
    uint64_t ino;
    if (rc == 0)
        rc = trash_root(c, &t_root, now);
    if (rc == 0)
        rc = msq_batch_take(c, &m->ino_batch, "nextInode", MSQ_INO_BATCH, &ino);
    if (rc)
        return rc;
    *h = (struct meta_attr){.ino = ino, .mode = S_IFDIR | 0555, .nlink = 2, .size = 4096, .atime = now,
                            .mtime = now, .ctime = now, .parent = META_TRASH_INO};
    rc = msq_attr_put(c, h);
    if (rc == 0)
        rc = msq_edge_add(m, c, META_TRASH_INO, name, ino, h->mode);
    if (rc == 0)
        rc = msq_counter_add(c, "totalInodes", 1);
    t_root.nlink++;
    t_root.mtime = t_root.ctime = now;
    return rc ? rc : msq_attr_put(c, &t_root);
}

int msq_trash_move(struct meta *m, struct msq_conn *c, uint64_t parent, const char *name, struct meta_attr *n)
{
    int64_t now = msq_now();
    struct meta_attr h;
    int rc = hour_dir(m, c, now, &h);
    if (rc)
        return rc;
    char entry[META_NAME_MAX + 1];
    snprintf(entry, sizeof(entry), "%llu-%llu-%s", (unsigned long long)parent, (unsigned long long)n->ino, name);
    rc = msq_edge_add(m, c, h.ino, entry, n->ino, n->mode);
    if (rc)
        return rc;
    n->parent = h.ino;
    n->ctime = now;
    h.mtime = h.ctime = now;
    h.nlink += S_ISDIR(n->mode) ? 1 : 0;
    rc = msq_attr_put(c, n);
    return rc ? rc : msq_attr_put(c, &h);
}

int msq_trash_lookup(struct msq_conn *c, struct meta_attr *out)
{
    return msq_attr_get(c, META_TRASH_INO, out);
}
