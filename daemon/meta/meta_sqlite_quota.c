/* SPDX-License-Identifier: Apache-2.0
 *
 * Directory quotas in the SQLite engine: table `dirquota` holds each
 * quota'ed directory's limits and the usage of its subtree, kept exact in
 * the same transaction as every change of usage (mknod, a length change,
 * a removal, a rename between directories: msq_quota_adjust/move), and
 * statfs as seen from a directory for --subdir mounts.
 *
 * Cheap when unused: counter quotaGen stays 0 until the first quota is
 * set (the table is created then), and each handle caches the set of
 * quota'ed directories until quotaGen changes (quota_set/delete in any
 * process bump it). A write on a volume without quotas costs one indexed
 * counter read; with quotas, one attribute read per ancestor directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_sqlite_i.h"

#define QUOTA_MAX_DEPTH 100000 /* parent walk bound: deeper means a cycle */
#define QUOTA_CHAIN_MAX 64     /* nested quotas honoured above one directory */
#define QUOTA_LIST_PAGE 256

uint64_t msq_node_space(const struct meta_attr *a)
{
    return S_ISREG(a->mode) ? msq_align4k(a->size) : 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static bool has_quota(const struct meta *m, uint64_t ino)
{
    return m->nquota_dirs && bsearch(&ino, m->quota_dirs, m->nquota_dirs, sizeof(ino), cmp_u64);
}

static int load_quota_dirs(struct meta *m, struct msq_conn *c, int64_t gen)
{
    sqlite3_stmt *st;
    size_t n = 0, cap = 0;
    uint64_t *v = NULL;
    int rc = msq_query(c, &st, "SELECT inode FROM dirquota ORDER BY inode", "");
    for (; rc > 0; rc = msq_step(c, st)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[n++] = (uint64_t)sqlite3_column_int64(st, 0);
    }
    if (rc < 0) {
        free(v);
        return rc;
    }
    free(m->quota_dirs);
    m->quota_dirs = v;
    m->nquota_dirs = n;
    m->quota_gen = gen;
    return 0;
}

/* Brings the cached set up to date; *n receives its size. */
static int quota_dirs(struct meta *m, struct msq_conn *c, size_t *n)
{
    int64_t gen;
    int rc = msq_counter_get(c, "quotaGen", &gen);
    if (rc)
        return rc;
    if (gen == 0) {
        m->nquota_dirs = 0;
        m->quota_gen = 0;
    } else if (gen != m->quota_gen) {
        rc = load_quota_dirs(m, c, gen);
    }
    *n = m->nquota_dirs;
    return rc;
}

/* The quota'ed directories at or above dir, nearest first. The walk stops
 * at the root, at the trash (nothing in it counts) and at a node removed
 * meanwhile. */
static int quota_chain(struct meta *m, struct msq_conn *c, uint64_t dir, uint64_t *out, size_t *n)
{
    *n = 0;
    for (int depth = 0; depth < QUOTA_MAX_DEPTH; depth++) {
        if (has_quota(m, dir) && *n < QUOTA_CHAIN_MAX)
            out[(*n)++] = dir;
        if (dir == META_ROOT_INO || dir == META_TRASH_INO || *n == m->nquota_dirs)
            return 0;
        struct meta_attr a;
        int rc = msq_attr_get(c, dir, &a);
        if (rc)
            return rc == -ENOENT ? 0 : rc;
        if (a.parent == dir)
            return 0;
        dir = a.parent;
    }
    return -ELOOP;
}

static int quota_apply(struct msq_conn *c, uint64_t ino, int64_t dspace, int64_t dinodes)
{
    if (dspace > 0 || dinodes > 0) {
        sqlite3_stmt *st;
        int rc = msq_query(c, &st,
                           "SELECT max_space, max_inodes, used_space, used_inodes FROM dirquota WHERE inode = ?",
                           "I", ino);
        if (rc <= 0)
            return rc;
        int64_t ms = sqlite3_column_int64(st, 0), mi = sqlite3_column_int64(st, 1);
        int64_t us = sqlite3_column_int64(st, 2), ui = sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
        if ((dspace > 0 && ms > 0 && us + dspace > ms) || (dinodes > 0 && mi > 0 && ui + dinodes > mi))
            return -EDQUOT;
    }
    return msq_exec(c,
                    "UPDATE dirquota SET used_space = max(used_space + ?, 0),"
                    " used_inodes = max(used_inodes + ?, 0) WHERE inode = ?",
                    "III", dspace, dinodes, ino);
}

int msq_quota_adjust(struct meta *m, struct msq_conn *c, uint64_t dir, int64_t dspace, int64_t dinodes)
{
    size_t nq;
    if (dspace == 0 && dinodes == 0)
        return 0;
    int rc = quota_dirs(m, c, &nq);
    if (rc || nq == 0)
        return rc;
    uint64_t chain[QUOTA_CHAIN_MAX];
    size_t n;
    rc = quota_chain(m, c, dir, chain, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = quota_apply(c, chain[i], dspace, dinodes);
    return rc;
}

/* Usage of everything below directory ino (hard links counted once). */
static int subtree_usage(struct msq_conn *c, uint64_t ino, int64_t *space, int64_t *inodes)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st,
                       "WITH RECURSIVE sub(inode) AS (SELECT inode FROM edge WHERE parent = ?1"
                       " UNION SELECT e.inode FROM edge e JOIN sub ON e.parent = sub.inode)"
                       " SELECT count(*), coalesce(sum(CASE WHEN n.mode & 61440 = 32768"
                       " THEN (n.length + 4095) / 4096 * 4096 ELSE 0 END), 0)"
                       " FROM sub JOIN node n ON n.inode = sub.inode",
                       "I", ino);
    if (rc <= 0)
        return rc ? rc : -EIO;
    *inodes = sqlite3_column_int64(st, 0);
    *space = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

static bool in_list(const uint64_t *v, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

int msq_quota_move(struct meta *m, struct msq_conn *c, const struct meta_attr *node, uint64_t from, uint64_t to)
{
    size_t nq, na, nb;
    if (from == to)
        return 0;
    int rc = quota_dirs(m, c, &nq);
    if (rc || nq == 0)
        return rc;
    uint64_t a[QUOTA_CHAIN_MAX], b[QUOTA_CHAIN_MAX];
    rc = quota_chain(m, c, from, a, &na);
    if (rc == 0)
        rc = quota_chain(m, c, to, b, &nb);
    if (rc || (na == 0 && nb == 0))
        return rc;
    int64_t space = (int64_t)msq_node_space(node), inodes = 0;
    if (S_ISDIR(node->mode))
        rc = subtree_usage(c, node->ino, &space, &inodes);
    inodes += 1; /* the node itself */
    for (size_t i = 0; rc == 0 && i < na; i++)
        if (!in_list(b, nb, a[i]))
            rc = quota_apply(c, a[i], -space, -inodes);
    for (size_t i = 0; rc == 0 && i < nb; i++)
        if (!in_list(a, na, b[i]))
            rc = quota_apply(c, b[i], space, inodes);
    return rc;
}

int msq_quota_forget(struct meta *m, struct msq_conn *c, uint64_t dir)
{
    size_t nq;
    int rc = quota_dirs(m, c, &nq);
    if (rc || !has_quota(m, dir))
        return rc;
    rc = msq_exec(c, "DELETE FROM dirquota WHERE inode = ?", "I", dir);
    if (rc == 0)
        rc = msq_counter_add(c, "quotaGen", 1);
    m->quota_gen = -1;
    return rc;
}

/* --- the operations --------------------------------------------------- */

struct quota_args {
    uint64_t ino;
    uint64_t max_space, max_inodes;
    struct meta_quota *out;
};

static int quota_set_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct quota_args *q = arg;
    struct meta_attr a;
    int rc = msq_attr_get(c, q->ino, &a);
    if (rc)
        return rc;
    if (!S_ISDIR(a.mode))
        return -ENOTDIR;
    if (a.nlink == 0 || q->ino == META_TRASH_INO || a.parent == META_TRASH_INO)
        return -ENOENT;
    m->quota_gen = -1; /* whatever happens, reload the set */
    rc = msq_exec(c,
                  "CREATE TABLE IF NOT EXISTS dirquota (inode INTEGER PRIMARY KEY, max_space INTEGER NOT NULL,"
                  " max_inodes INTEGER NOT NULL, used_space INTEGER NOT NULL, used_inodes INTEGER NOT NULL)",
                  "");
    if (rc == 0)
        rc = msq_exec(c, "UPDATE dirquota SET max_space = ?, max_inodes = ? WHERE inode = ?", "III",
                      q->max_space, q->max_inodes, q->ino);
    if (rc || sqlite3_changes(c->db) > 0)
        return rc;
    int64_t space, inodes;
    rc = subtree_usage(c, q->ino, &space, &inodes);
    if (rc == 0)
        rc = msq_exec(c, "INSERT INTO dirquota VALUES (?, ?, ?, ?, ?)", "IIIII", q->ino, q->max_space,
                      q->max_inodes, space, inodes);
    return rc ? rc : msq_counter_add(c, "quotaGen", 1);
}

int msq_quota_set(struct meta *m, uint64_t ino, uint64_t max_space, uint64_t max_inodes)
{
    if (max_space > (uint64_t)INT64_MAX || max_inodes > (uint64_t)INT64_MAX)
        return -EINVAL;
    struct quota_args q = {ino, max_space, max_inodes, NULL};
    return msq_txn(m, MSQ_WRITE, quota_set_fn, &q);
}

static void quota_from_row(sqlite3_stmt *st, int col, struct meta_quota *q)
{
    q->max_space = (uint64_t)sqlite3_column_int64(st, col);
    q->max_inodes = (uint64_t)sqlite3_column_int64(st, col + 1);
    q->used_space = (uint64_t)sqlite3_column_int64(st, col + 2);
    q->used_inodes = (uint64_t)sqlite3_column_int64(st, col + 3);
}

/* 1 with *out filled, 0 when dir has no quota, or -errno */
static int quota_row(struct msq_conn *c, uint64_t dir, struct meta_quota *out)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st,
                       "SELECT max_space, max_inodes, used_space, used_inodes FROM dirquota WHERE inode = ?", "I",
                       dir);
    if (rc > 0) {
        quota_from_row(st, 0, out);
        sqlite3_reset(st);
    }
    return rc;
}

static int quota_get_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct quota_args *q = arg;
    int64_t gen;
    int rc = msq_counter_get(c, "quotaGen", &gen);
    if (rc == 0 && gen == 0)
        return -ENOENT;
    if (rc == 0)
        rc = quota_row(c, q->ino, q->out);
    return rc < 0 ? rc : rc ? 0 : -ENOENT;
}

int msq_quota_get(struct meta *m, uint64_t ino, struct meta_quota *out)
{
    struct quota_args q = {ino, 0, 0, out};
    return msq_txn(m, MSQ_READ_SNAP, quota_get_fn, &q);
}

struct quota_page {
    uint64_t after;
    size_t n;
    uint64_t ino[QUOTA_LIST_PAGE];
    struct meta_quota q[QUOTA_LIST_PAGE];
};

static int quota_page_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct quota_page *p = arg;
    int64_t gen;
    p->n = 0;
    int rc = msq_counter_get(c, "quotaGen", &gen);
    if (rc || gen == 0)
        return rc;
    sqlite3_stmt *st;
    rc = msq_query(c, &st,
                   "SELECT inode, max_space, max_inodes, used_space, used_inodes FROM dirquota"
                   " WHERE inode > ? ORDER BY inode LIMIT ?",
                   "Ii", p->after, QUOTA_LIST_PAGE);
    for (; rc > 0; rc = msq_step(c, st)) {
        p->ino[p->n] = (uint64_t)sqlite3_column_int64(st, 0);
        quota_from_row(st, 1, &p->q[p->n++]);
    }
    return rc;
}

int msq_quota_list(struct meta *m, meta_quota_fn fn, void *arg)
{
    struct quota_page *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    int rc = 0;
    bool stop = false;
    while (!stop) {
        rc = msq_txn(m, MSQ_READ_SNAP, quota_page_fn, p);
        if (rc)
            break;
        for (size_t i = 0; i < p->n && !stop; i++)
            stop = fn(arg, p->ino[i], &p->q[i]) != 0;
        stop = stop || p->n < QUOTA_LIST_PAGE;
        if (p->n)
            p->after = p->ino[p->n - 1];
    }
    free(p);
    return rc;
}

static int quota_delete_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    uint64_t ino = *(uint64_t *)arg;
    int64_t gen;
    int rc = msq_counter_get(c, "quotaGen", &gen);
    if (rc || gen == 0)
        return rc ? rc : -ENOENT;
    m->quota_gen = -1;
    rc = msq_exec(c, "DELETE FROM dirquota WHERE inode = ?", "I", ino);
    if (rc == 0 && sqlite3_changes(c->db) == 0)
        return -ENOENT;
    return rc ? rc : msq_counter_add(c, "quotaGen", 1);
}

int msq_quota_delete(struct meta *m, uint64_t ino)
{
    return msq_txn(m, MSQ_WRITE, quota_delete_fn, &ino);
}

/* --- statfs of a directory --------------------------------------------- */

/* The nearest quota with a limit at or above dir: 1 found, 0 none. */
static int nearest_quota(struct msq_conn *c, uint64_t dir, struct meta_quota *out)
{
    for (int depth = 0; depth < QUOTA_MAX_DEPTH; depth++) {
        int rc = quota_row(c, dir, out);
        if (rc < 0 || (rc > 0 && (out->max_space || out->max_inodes)))
            return rc;
        struct meta_attr a;
        if (dir == META_ROOT_INO || dir == META_TRASH_INO)
            return 0;
        rc = msq_attr_get(c, dir, &a);
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

static int statfs_dir_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct statfs_dir_args *a = arg;
    int64_t gen;
    int rc = msq_counter_get(c, "quotaGen", &gen);
    if (rc || gen == 0)
        return rc;
    return nearest_quota(c, a->ino, &a->q);
}

static void bound(uint64_t limit, uint64_t used, uint64_t vol_avail, uint64_t *total, uint64_t *u, uint64_t *avail)
{
    *total = limit;
    *u = used;
    uint64_t left = limit > used ? limit - used : 0;
    *avail = left < vol_avail ? left : vol_avail;
}

int msq_statfs_dir(struct meta *m, uint64_t ino, struct meta_statfs *out)
{
    int rc = msq_statfs(m, out);
    struct statfs_dir_args a = {ino, {0}};
    if (rc == 0)
        rc = msq_txn(m, MSQ_READ_SNAP, statfs_dir_fn, &a);
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
