/* SPDX-License-Identifier: Apache-2.0
 *
 * Directory quotas in the Redis engine, with the SQLite engine's semantics
 * (meta_sqlite_quota.c): hash q<ino> holds a quota'ed directory's limits
 * (ms, mi) and its subtree's usage (us, ui), changed by HINCRBY in the
 * transaction of every usage change (mknod, a length change, a removal, a
 * rename between directories), and statfs as seen from a directory.
 *
 * Cheap when unused: counter quotaGen stays 0 until the first quota is set,
 * and each handle caches the set quotaDirs until quotaGen changes. Every
 * write transaction WATCHes quotaGen, so a quota set or deleted meanwhile
 * reruns it. A limit check WATCHes the quota's hash and adds the changes
 * this transaction already queued for it (tx->qd).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_redis_i.h"

#define QUOTA_MAX_DEPTH 100000 /* parent walk bound: deeper means a cycle */
#define QUOTA_CHAIN_MAX 64     /* nested quotas honoured above one directory */

uint64_t mr_node_space(const struct meta_attr *a)
{
    return S_ISREG(a->mode) ? mr_align4k(a->size) : 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

void mr_quota_cache_free(struct meta *m)
{
    free(m->quota_dirs);
    m->quota_dirs = NULL;
    m->nquota_dirs = 0;
    m->quota_gen = -1;
}

static bool has_quota(struct meta *m, uint64_t ino)
{
    pthread_mutex_lock(&m->quota_lock);
    bool yes = m->nquota_dirs && bsearch(&ino, m->quota_dirs, m->nquota_dirs, sizeof(ino), cmp_u64);
    pthread_mutex_unlock(&m->quota_lock);
    return yes;
}

static void invalidate(struct meta *m)
{
    pthread_mutex_lock(&m->quota_lock);
    m->quota_gen = -1;
    pthread_mutex_unlock(&m->quota_lock);
}

/* the members of quotaDirs, sorted; *v malloc'ed */
static int read_quota_dirs(struct mr_tx *tx, uint64_t **v, size_t *n)
{
    redisReply *r = mr_wcmd(tx, "quotaDirs", "SMEMBERS quotaDirs");
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return -EIO;
    *n = r->elements;
    *v = malloc((*n ? *n : 1) * sizeof(**v));
    if (!*v)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++)
        (*v)[i] = strtoull(r->element[i]->str, NULL, 10);
    qsort(*v, *n, sizeof(**v), cmp_u64);
    return 0;
}

/* Brings the cached set up to date (quotaGen watched); *n its size. */
static int quota_dirs(struct mr_tx *tx, size_t *n)
{
    struct meta *m = tx->m;
    int64_t gen;
    int rc = mr_counter_get(tx, "quotaGen", true, &gen);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->quota_lock);
    bool fresh = gen == m->quota_gen;
    *n = m->nquota_dirs;
    pthread_mutex_unlock(&m->quota_lock);
    if (fresh)
        return 0;
    uint64_t *v = NULL;
    size_t nv = 0;
    if (gen != 0)
        rc = read_quota_dirs(tx, &v, &nv);
    if (rc) {
        free(v);
        return rc;
    }
    pthread_mutex_lock(&m->quota_lock);
    free(m->quota_dirs);
    m->quota_dirs = v;
    m->nquota_dirs = nv;
    m->quota_gen = gen;
    pthread_mutex_unlock(&m->quota_lock);
    *n = nv;
    return 0;
}

/* The quota'ed directories at or above dir, nearest first; the walk stops
 * at the root, at the trash and at a node removed meanwhile. */
static int quota_chain(struct mr_tx *tx, size_t nq, uint64_t dir, uint64_t *out, size_t *n)
{
    *n = 0;
    for (int depth = 0; depth < QUOTA_MAX_DEPTH; depth++) {
        if (has_quota(tx->m, dir) && *n < QUOTA_CHAIN_MAX)
            out[(*n)++] = dir;
        if (dir == META_ROOT_INO || dir == META_TRASH_INO || *n == nq)
            return 0;
        struct meta_attr a;
        int rc = mr_attr_get(tx, dir, &a);
        if (rc)
            return rc == -ENOENT ? 0 : rc;
        if (a.parent == dir)
            return 0;
        dir = a.parent;
    }
    return -ELOOP;
}

/* the changes of quota ino already queued by this attempt */
static struct mr_qdelta *pending(struct mr_tx *tx, uint64_t ino)
{
    for (size_t i = 0; i < tx->nqd; i++)
        if (tx->qd[i].ino == ino)
            return &tx->qd[i];
    if (tx->nqd == tx->capqd) {
        size_t cap = tx->capqd ? tx->capqd * 2 : 8;
        struct mr_qdelta *v = realloc(tx->qd, cap * sizeof(*v));
        if (!v)
            return NULL;
        tx->qd = v;
        tx->capqd = cap;
    }
    tx->qd[tx->nqd] = (struct mr_qdelta){.ino = ino};
    return &tx->qd[tx->nqd++];
}

/* quota row of dir (watched): 1 found, 0 none, -errno */
static int quota_row(struct mr_tx *tx, uint64_t dir, struct meta_quota *q)
{
    char key[MR_KEY_MAX];
    mr_key(key, "q", dir);
    redisReply *r = mr_wcmd(tx, key, "HMGET %s ms mi us ui", key);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return -EIO;
    if (r->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    int64_t v[4] = {0};
    for (int i = 0; i < 4; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            v[i] = strtoll(r->element[i]->str, NULL, 10);
    q->max_space = (uint64_t)v[0];
    q->max_inodes = (uint64_t)v[1];
    q->used_space = v[2] > 0 ? (uint64_t)v[2] : 0; /* as SQLite's max(.., 0) */
    q->used_inodes = v[3] > 0 ? (uint64_t)v[3] : 0;
    return 1;
}

static int quota_apply(struct mr_tx *tx, uint64_t ino, int64_t dspace, int64_t dinodes)
{
    struct mr_qdelta *p = pending(tx, ino);
    if (!p)
        return -ENOMEM;
    p->space += dspace;
    p->inodes += dinodes;
    if (dspace > 0 || dinodes > 0) {
        struct meta_quota q;
        int rc = quota_row(tx, ino, &q);
        if (rc <= 0)
            return rc;
        int64_t us = (int64_t)q.used_space + p->space, ui = (int64_t)q.used_inodes + p->inodes;
        if ((dspace > 0 && q.max_space && us > (int64_t)q.max_space) ||
            (dinodes > 0 && q.max_inodes && ui > (int64_t)q.max_inodes))
            return -EDQUOT;
    }
    int rc = dspace ? mr_queue(tx, "HINCRBY q%llu us %lld", (unsigned long long)ino, (long long)dspace) : 0;
    if (rc == 0 && dinodes)
        rc = mr_queue(tx, "HINCRBY q%llu ui %lld", (unsigned long long)ino, (long long)dinodes);
    return rc;
}

int mr_quota_adjust(struct mr_tx *tx, uint64_t dir, int64_t dspace, int64_t dinodes)
{
    size_t nq;
    if (dspace == 0 && dinodes == 0)
        return 0;
    int rc = quota_dirs(tx, &nq);
    if (rc || nq == 0)
        return rc;
    uint64_t chain[QUOTA_CHAIN_MAX];
    size_t n;
    rc = quota_chain(tx, nq, dir, chain, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = quota_apply(tx, chain[i], dspace, dinodes);
    return rc;
}

/* --- subtree usage ------------------------------------------------------ */

struct u64_set {
    uint64_t *v;
    size_t n, cap;
};

static int set_add(struct u64_set *s, uint64_t x)
{
    for (size_t i = 0; i < s->n; i++) /* hard links counted once */
        if (s->v[i] == x)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 1;
}

/* Usage of everything below directory ino (watched: each directory's
 * entries and each file's attributes), hard links counted once. */
static int subtree_usage(struct mr_tx *tx, uint64_t ino, int64_t *space, int64_t *inodes)
{
    struct u64_set seen = {0}, dirs = {0};
    int rc = set_add(&dirs, ino);
    *space = *inodes = 0;
    for (size_t d = 0; rc >= 0 && d < dirs.n; d++) {
        char key[MR_KEY_MAX];
        mr_key(key, "d", dirs.v[d]);
        redisReply *r = mr_wcmd(tx, key, "HVALS %s", key);
        rc = mr_check(tx, r);
        for (size_t i = 0; rc >= 0 && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            unsigned long long child;
            unsigned type;
            if (sscanf(r->element[i]->str, "%llu:%u:", &child, &type) != 2)
                continue;
            rc = set_add(&seen, child);
            if (rc <= 0)
                continue;
            *inodes += 1;
            struct meta_attr a;
            if (S_ISDIR(type))
                rc = set_add(&dirs, child);
            else if (S_ISREG(type) && (rc = mr_attr_get(tx, child, &a)) == 0)
                *space += (int64_t)mr_node_space(&a);
        }
    }
    free(seen.v);
    free(dirs.v);
    return rc < 0 ? rc : 0;
}

static bool in_list(const uint64_t *v, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

int mr_quota_move(struct mr_tx *tx, const struct meta_attr *node, uint64_t from, uint64_t to)
{
    size_t nq, na, nb;
    if (from == to)
        return 0;
    int rc = quota_dirs(tx, &nq);
    if (rc || nq == 0)
        return rc;
    uint64_t a[QUOTA_CHAIN_MAX], b[QUOTA_CHAIN_MAX];
    rc = quota_chain(tx, nq, from, a, &na);
    if (rc == 0)
        rc = quota_chain(tx, nq, to, b, &nb);
    if (rc || (na == 0 && nb == 0))
        return rc;
    int64_t space = (int64_t)mr_node_space(node), inodes = 0;
    if (S_ISDIR(node->mode))
        rc = subtree_usage(tx, node->ino, &space, &inodes);
    inodes += 1; /* the node itself */
    for (size_t i = 0; rc == 0 && i < na; i++)
        if (!in_list(b, nb, a[i]))
            rc = quota_apply(tx, a[i], -space, -inodes);
    for (size_t i = 0; rc == 0 && i < nb; i++)
        if (!in_list(a, na, b[i]))
            rc = quota_apply(tx, b[i], space, inodes);
    return rc;
}

static int queue_forget(struct mr_tx *tx, uint64_t dir)
{
    unsigned long long d = dir;
    int rc = mr_queue(tx, "DEL q%llu", d);
    if (rc == 0)
        rc = mr_queue(tx, "SREM quotaDirs %llu", d);
    return rc ? rc : mr_queue(tx, "INCR quotaGen");
}

int mr_quota_forget(struct mr_tx *tx, uint64_t dir)
{
    size_t nq;
    int rc = quota_dirs(tx, &nq);
    if (rc || !has_quota(tx->m, dir))
        return rc;
    invalidate(tx->m);
    return queue_forget(tx, dir);
}

/* --- the operations ----------------------------------------------------- */

struct quota_args {
    uint64_t ino;
    uint64_t max_space, max_inodes;
    struct meta_quota *out;
};

static int quota_set_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct quota_args *q = arg;
    struct meta_attr a;
    struct meta_quota cur;
    int rc = mr_attr_get(tx, q->ino, &a);
    if (rc)
        return rc;
    if (!S_ISDIR(a.mode))
        return -ENOTDIR;
    if (a.nlink == 0 || q->ino == META_TRASH_INO || a.parent == META_TRASH_INO)
        return -ENOENT;
    invalidate(m); /* whatever happens, reload the set */
    rc = quota_row(tx, q->ino, &cur);
    unsigned long long ino = q->ino, ms = q->max_space, mi = q->max_inodes;
    if (rc > 0)
        return mr_queue(tx, "HSET q%llu ms %llu mi %llu", ino, ms, mi);
    int64_t space, inodes;
    if (rc == 0)
        rc = mr_watch(tx, "quotaGen");
    if (rc == 0)
        rc = subtree_usage(tx, q->ino, &space, &inodes);
    if (rc == 0)
        rc = mr_queue(tx, "HSET q%llu ms %llu mi %llu us %lld ui %lld", ino, ms, mi, (long long)space,
                      (long long)inodes);
    if (rc == 0)
        rc = mr_queue(tx, "SADD quotaDirs %llu", ino);
    return rc ? rc : mr_queue(tx, "INCR quotaGen");
}

int mr_quota_set(struct meta *m, uint64_t ino, uint64_t max_space, uint64_t max_inodes)
{
    if (max_space > (uint64_t)INT64_MAX || max_inodes > (uint64_t)INT64_MAX)
        return -EINVAL;
    struct quota_args q = {ino, max_space, max_inodes, NULL};
    return mr_txn(m, quota_set_fn, &q);
}

static int quota_get_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct quota_args *q = arg;
    int rc = quota_row(tx, q->ino, q->out);
    return rc < 0 ? rc : rc ? 0 : -ENOENT;
}

int mr_quota_get(struct meta *m, uint64_t ino, struct meta_quota *out)
{
    struct quota_args q = {ino, 0, 0, out};
    return mr_read(m, quota_get_fn, &q);
}

struct quota_all {
    uint64_t *ino;
    struct meta_quota *q;
    size_t n;
};

static int quota_all_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct quota_all *l = arg;
    free(l->ino);
    free(l->q);
    l->ino = NULL;
    l->q = NULL;
    l->n = 0;
    size_t n;
    int rc = read_quota_dirs(tx, &l->ino, &n);
    l->q = rc ? NULL : calloc(n ? n : 1, sizeof(*l->q));
    if (rc == 0 && !l->q)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = quota_row(tx, l->ino[i], &l->q[l->n]);
        if (rc > 0)
            l->ino[l->n++] = l->ino[i]; /* deleted meanwhile: skipped */
        rc = rc < 0 ? rc : 0;
    }
    return rc;
}

int mr_quota_list(struct meta *m, meta_quota_fn fn, void *arg)
{
    struct quota_all l = {0};
    int rc = mr_read(m, quota_all_fn, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (fn(arg, l.ino[i], &l.q[i]))
            break;
    free(l.ino);
    free(l.q);
    return rc;
}

static int quota_delete_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    uint64_t ino = *(uint64_t *)arg;
    struct meta_quota q;
    invalidate(m);
    int rc = quota_row(tx, ino, &q);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    return queue_forget(tx, ino);
}

int mr_quota_delete(struct meta *m, uint64_t ino)
{
    return mr_txn(m, quota_delete_fn, &ino);
}

/* --- statfs of a directory ---------------------------------------------- */

/* The nearest quota with a limit at or above dir: 1 found, 0 none. */
static int nearest_quota(struct mr_tx *tx, uint64_t dir, struct meta_quota *out)
{
    for (int depth = 0; depth < QUOTA_MAX_DEPTH; depth++) {
        int rc = quota_row(tx, dir, out);
        if (rc < 0 || (rc > 0 && (out->max_space || out->max_inodes)))
            return rc;
        struct meta_attr a;
        if (dir == META_ROOT_INO || dir == META_TRASH_INO)
            return 0;
        rc = mr_attr_get(tx, dir, &a);
        if (rc || a.parent == dir)
            return rc;
        dir = a.parent;
    }
    return -ELOOP;
}

struct statfs_dir_args {
    uint64_t ino;
    struct meta_quota q;
};

static int statfs_dir_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct statfs_dir_args *a = arg;
    int64_t gen;
    int rc = mr_counter_get(tx, "quotaGen", false, &gen);
    if (rc || gen == 0)
        return rc;
    return nearest_quota(tx, a->ino, &a->q);
}

static void bound(uint64_t limit, uint64_t used, uint64_t vol_avail, uint64_t *total, uint64_t *u, uint64_t *avail)
{
    *total = limit;
    *u = used;
    uint64_t left = limit > used ? limit - used : 0;
    *avail = left < vol_avail ? left : vol_avail;
}

int mr_statfs_dir(struct meta *m, uint64_t ino, struct meta_statfs *out)
{
    int rc = mr_statfs(m, out);
    struct statfs_dir_args a = {ino, {0}};
    if (rc == 0)
        rc = mr_read(m, statfs_dir_fn, &a);
    if (rc <= 0)
        return rc;
    if (a.q.max_space)
        bound(a.q.max_space, a.q.used_space, out->avail_space, &out->total_space, &out->used_space,
              &out->avail_space);
    if (a.q.max_inodes)
        bound(a.q.max_inodes, a.q.used_inodes, out->avail_inodes, &out->total_inodes, &out->used_inodes,
              &out->avail_inodes);
    return 0;
}
