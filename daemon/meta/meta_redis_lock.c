/* SPDX-License-Identifier: Apache-2.0
 *
 * flock and POSIX byte-range locks in the Redis engine, so that they are
 * seen by every mount of the volume. A lock belongs to (session, owner):
 * two owners conflict even in one session, because the owner is the
 * kernel's lock owner (a process's file table). lockf<ino> maps
 * "<sid>_<owner>" to a flock type; lockp<ino> maps it to the owner's ranges
 * as one string of 24-byte records (type u32, pid u32, start u64, end u64,
 * big-endian; sorted, non-overlapping, adjacent ranges of one type merged),
 * the SQLite engine's format. locked<sid> lists the inodes where a session
 * holds locks, so ending the session drops them. All calls are
 * non-blocking: -EAGAIN on conflict, the caller waits and retries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_redis_i.h"
#include "meta/plock.h"

#define OWNER_MAX 48

static bool valid_type(int type)
{
    return type == F_RDLCK || type == F_WRLCK || type == F_UNLCK;
}

static int node_exists(struct mr_tx *tx, uint64_t ino)
{
    struct meta_attr a;
    return mr_attr_get(tx, ino, &a);
}

static void owner_field(char out[OWNER_MAX], uint64_t sid, uint64_t owner)
{
    snprintf(out, OWNER_MAX, "%llu_%llu", (unsigned long long)sid, (unsigned long long)owner);
}

/* all fields of a lock hash, watched: an array of field, value pairs */
static redisReply *lock_hash(struct mr_tx *tx, const char *prefix, uint64_t ino)
{
    char key[MR_KEY_MAX];
    mr_key(key, prefix, ino);
    redisReply *r = mr_wcmd(tx, key, "HGETALL %s", key);
    if (mr_check(tx, r) || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    return r;
}

/* --- flock ------------------------------------------------------------------ */

struct flock_args {
    uint64_t ino, owner;
    int type;
};

static int flock_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct flock_args *a = arg;
    uint64_t sid = atomic_load(&m->sid);
    char me[OWNER_MAX];
    owner_field(me, sid, a->owner);
    int rc = node_exists(tx, a->ino);
    if (rc)
        return rc;
    unsigned long long ino = a->ino;
    if (a->type == F_UNLCK)
        return mr_queue(tx, "HDEL lockf%llu %s", ino, me);
    redisReply *r = lock_hash(tx, "lockf", a->ino);
    if (!r)
        return -EIO;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        bool mine = strcmp(r->element[i]->str, me) == 0;
        if (!mine && (a->type == F_WRLCK || atoi(r->element[i + 1]->str) == F_WRLCK))
            return -EAGAIN;
    }
    rc = mr_queue(tx, "HSET lockf%llu %s %d", ino, me, a->type);
    return rc ? rc : mr_queue(tx, "SADD locked%llu %llu", (unsigned long long)sid, ino);
}

int mr_flock(struct meta *m, uint64_t ino, uint64_t owner, int type)
{
    if (!valid_type(type))
        return -EINVAL;
    struct flock_args a = {ino, owner, type};
    return mr_txn(m, flock_fn, &a);
}

/* --- POSIX locks: operations ----------------------------------------------------- */

struct plock_args {
    uint64_t ino, owner;
    const struct meta_plock *lk;
    struct meta_plock *found; /* getlk: the conflicting lock */
};

/* 1 with *found set when another owner in `all` (HGETALL of lockp) holds a
 * lock conflicting with lk (never for F_UNLCK); *own gets the caller's
 * ranges */
static int find_conflict(const redisReply *all, const char *me, const struct meta_plock *lk,
                         struct meta_plock *found, struct plock_set *own)
{
    int rc = 0;
    bool any = false;
    unsigned long long best_sid = 0, best_owner = 0;
    for (size_t i = 0; rc == 0 && i + 1 < all->elements; i += 2) {
        const redisReply *v = all->element[i + 1];
        if (strcmp(all->element[i]->str, me) == 0) {
            rc = own ? plock_decode((const unsigned char *)v->str, v->len, own) : 0;
            continue;
        }
        /* hash order is arbitrary: report the conflict of the smallest
         * (sid, owner), as the SQLite engine's primary-key order does */
        unsigned long long sid = 0, owner = 0;
        sscanf(all->element[i]->str, "%llu_%llu", &sid, &owner);
        if (any && (sid > best_sid || (sid == best_sid && owner > best_owner)))
            continue;
        struct plock_set s = {0};
        rc = plock_decode((const unsigned char *)v->str, v->len, &s);
        for (size_t k = 0; rc == 0 && k < s.n; k++) {
            if (lk->type != F_UNLCK && plock_overlaps(&s.r[k], lk) && (lk->type == F_WRLCK || s.r[k].type == F_WRLCK)) {
                *found = s.r[k];
                any = true;
                best_sid = sid;
                best_owner = owner;
            }
        }
        free(s.r);
    }
    return rc < 0 ? rc : any;
}

static int getlk_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct plock_args *a = arg;
    char me[OWNER_MAX];
    owner_field(me, atomic_load(&m->sid), a->owner);
    int rc = node_exists(tx, a->ino);
    redisReply *all = rc ? NULL : lock_hash(tx, "lockp", a->ino);
    if (rc == 0 && !all)
        rc = -EIO;
    if (rc == 0)
        rc = find_conflict(all, me, a->lk, a->found, NULL);
    if (rc == 0)
        a->found->type = F_UNLCK;
    return rc < 0 ? rc : 0;
}

int mr_getlk(struct meta *m, uint64_t ino, uint64_t owner, struct meta_plock *lk)
{
    if (lk->type != F_RDLCK && lk->type != F_WRLCK)
        return -EINVAL;
    if (lk->start > lk->end)
        return -EINVAL;
    struct meta_plock req = *lk;
    struct plock_args a = {ino, owner, &req, lk};
    return mr_read(m, getlk_fn, &a);
}

static int save_own(struct mr_tx *tx, uint64_t sid, const char *me, uint64_t ino, const struct plock_set *s)
{
    if (s->n == 0)
        return mr_queue(tx, "HDEL lockp%llu %s", (unsigned long long)ino, me);
    unsigned char *blob = plock_encode(s);
    if (!blob)
        return -ENOMEM;
    int rc = mr_queue(tx, "HSET lockp%llu %s %b", (unsigned long long)ino, me, blob, s->n * PLOCK_REC);
    free(blob);
    return rc ? rc : mr_queue(tx, "SADD locked%llu %llu", (unsigned long long)sid, (unsigned long long)ino);
}

static int setlk_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct plock_args *a = arg;
    uint64_t sid = atomic_load(&m->sid);
    char me[OWNER_MAX];
    owner_field(me, sid, a->owner);
    struct meta_plock other;
    struct plock_set own = {0}, next = {0};
    int rc = node_exists(tx, a->ino);
    redisReply *all = rc ? NULL : lock_hash(tx, "lockp", a->ino);
    if (rc == 0 && !all)
        rc = -EIO;
    if (rc == 0) /* an unlock conflicts with nothing, but needs our own ranges */
        rc = find_conflict(all, me, a->lk, &other, &own);
    if (rc == 0)
        rc = plock_apply(&own, a->lk, &next);
    if (rc == 0)
        rc = save_own(tx, sid, me, a->ino, &next);
    free(own.r);
    free(next.r);
    return rc > 0 ? -EAGAIN : rc;
}

int mr_setlk(struct meta *m, uint64_t ino, uint64_t owner, const struct meta_plock *lk)
{
    if (!valid_type(lk->type) || lk->start > lk->end)
        return -EINVAL;
    struct plock_args a = {ino, owner, lk, NULL};
    return mr_txn(m, setlk_fn, &a);
}
