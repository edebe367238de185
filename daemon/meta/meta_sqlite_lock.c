/* SPDX-License-Identifier: Apache-2.0
 *
 * flock and POSIX byte-range locks in the SQLite engine. A lock belongs to
 * (session, owner): two owners conflict even in one session, because the
 * owner is the kernel's lock owner (a process's file table). flock rows hold
 * one type each; plock rows hold an owner's ranges on an inode as one blob
 * of 24-byte records (type u32, pid u32, start u64, end u64, big-endian),
 * sorted, non-overlapping, with adjacent ranges of one type merged. All calls
 * are non-blocking: -EAGAIN on conflict, the caller waits and retries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_sqlite_i.h"
#include "meta/plock.h"


static bool valid_type(int type)
{
    return type == F_RDLCK || type == F_WRLCK || type == F_UNLCK;
}

static int node_exists(struct msq_conn *c, uint64_t ino)
{
    struct meta_attr a;
    return msq_attr_get(c, ino, &a);
}

/* --- flock ------------------------------------------------------------ */

struct flock_args {
    uint64_t ino, owner;
    int type;
};

static int flock_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct flock_args *a = arg;
    uint64_t sid = atomic_load(&m->sid);
    int rc = node_exists(c, a->ino);
    if (rc)
        return rc;
    if (a->type == F_UNLCK)
        return msq_exec(c, "DELETE FROM flock WHERE inode = ? AND sid = ? AND owner = ?", "III", a->ino, sid,
                        a->owner);
    sqlite3_stmt *st;
    rc = msq_query(c, &st, "SELECT sid, owner, type FROM flock WHERE inode = ?", "I", a->ino);
    for (; rc > 0; rc = msq_step(c, st)) {
        bool mine = (uint64_t)sqlite3_column_int64(st, 0) == sid &&
                    (uint64_t)sqlite3_column_int64(st, 1) == a->owner;
        if (!mine && (a->type == F_WRLCK || sqlite3_column_int(st, 2) == F_WRLCK))
            return -EAGAIN;
    }
    if (rc)
        return rc;
    return msq_exec(c,
                    "INSERT INTO flock (inode, sid, owner, type) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT(inode, sid, owner) DO UPDATE SET type = ?4",
                    "IIIi", a->ino, sid, a->owner, a->type);
}

int msq_flock(struct meta *m, uint64_t ino, uint64_t owner, int type)
{
    if (!valid_type(type))
        return -EINVAL;
    struct flock_args a = {ino, owner, type};
    return msq_txn(m, MSQ_WRITE, flock_fn, &a);
}

/* --- POSIX locks: operations ------------------------------------------ */

struct plock_args {
    uint64_t ino, owner;
    const struct meta_plock *lk;
    struct meta_plock *found; /* getlk: the conflicting lock */
};

/* 1 with *found set when another owner holds a lock conflicting with lk */
static int find_conflict(struct msq_conn *c, uint64_t sid, struct plock_args *a, struct meta_plock *found)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT sid, owner, records FROM plock WHERE inode = ?", "I", a->ino);
    for (; rc > 0; rc = msq_step(c, st)) {
        if ((uint64_t)sqlite3_column_int64(st, 0) == sid && (uint64_t)sqlite3_column_int64(st, 1) == a->owner)
            continue;
        struct plock_set s = {0};
        rc = plock_decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &s);
        for (size_t i = 0; rc == 0 && i < s.n; i++) {
            if (plock_overlaps(&s.r[i], a->lk) && (a->lk->type == F_WRLCK || s.r[i].type == F_WRLCK)) {
                *found = s.r[i];
                rc = 1;
            }
        }
        free(s.r);
        if (rc)
            return rc;
    }
    return rc;
}

static int getlk_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct plock_args *a = arg;
    int rc = node_exists(c, a->ino);
    if (rc == 0)
        rc = find_conflict(c, atomic_load(&m->sid), a, a->found);
    if (rc == 0)
        a->found->type = F_UNLCK;
    return rc < 0 ? rc : 0;
}

int msq_getlk(struct meta *m, uint64_t ino, uint64_t owner, struct meta_plock *lk)
{
    if (lk->type != F_RDLCK && lk->type != F_WRLCK)
        return -EINVAL;
    if (lk->start > lk->end)
        return -EINVAL;
    struct meta_plock req = *lk;
    struct plock_args a = {ino, owner, &req, lk};
    return msq_txn(m, MSQ_READ_SNAP, getlk_fn, &a);
}

static int save_own(struct msq_conn *c, uint64_t sid, struct plock_args *a, const struct plock_set *s)
{
    if (s->n == 0)
        return msq_exec(c, "DELETE FROM plock WHERE inode = ? AND sid = ? AND owner = ?", "III", a->ino, sid,
                        a->owner);
    unsigned char *blob = plock_encode(s);
    if (!blob)
        return -ENOMEM;
    int rc = msq_exec(c,
                      "INSERT INTO plock (inode, sid, owner, records) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT(inode, sid, owner) DO UPDATE SET records = ?4",
                      "IIIb", a->ino, sid, a->owner, blob, (int)(s->n * PLOCK_REC));
    free(blob);
    return rc;
}

static int setlk_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct plock_args *a = arg;
    uint64_t sid = atomic_load(&m->sid);
    struct meta_plock other;
    int rc = node_exists(c, a->ino);
    if (rc == 0 && a->lk->type != F_UNLCK)
        rc = find_conflict(c, sid, a, &other);
    if (rc)
        return rc > 0 ? -EAGAIN : rc;
    sqlite3_stmt *st;
    struct plock_set own = {0}, next = {0};
    rc = msq_query(c, &st, "SELECT records FROM plock WHERE inode = ? AND sid = ? AND owner = ?", "III", a->ino,
                   sid, a->owner);
    if (rc > 0)
        rc = plock_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &own);
    if (rc == 0)
        rc = plock_apply(&own, a->lk, &next);
    if (rc == 0)
        rc = save_own(c, sid, a, &next);
    free(own.r);
    free(next.r);
    return rc;
}

int msq_setlk(struct meta *m, uint64_t ino, uint64_t owner, const struct meta_plock *lk)
{
    if (!valid_type(lk->type) || lk->start > lk->end)
        return -EINVAL;
    struct plock_args a = {ino, owner, lk, NULL};
    return msq_txn(m, MSQ_WRITE, setlk_fn, &a);
}
