/* SPDX-License-Identifier: Apache-2.0
 *
 * Whole-volume operations of the SQLite engine for the operator's tools:
 * listing every chunk (gc, fsck), turning a lost slice into holes (fsck
 * --repair) and deleting all metadata (destroy). Listings run page by
 * page, each page one read transaction, and call back with no connection
 * held, so a long gc never blocks the mounts' writers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_sqlite_i.h"

#define CHUNK_PAGE 256

struct chunk_row {
    uint64_t ino;
    uint32_t indx;
    size_t n;
    struct meta_slice *s; /* owned */
};

struct chunk_page {
    uint64_t ino; /* list after (ino, indx) */
    int64_t indx;
    size_t n;
    struct chunk_row rows[CHUNK_PAGE];
};

static void page_clear(struct chunk_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->rows[i].s);
    p->n = 0;
}

static int row_from(sqlite3_stmt *st, struct chunk_row *r)
{
    r->ino = (uint64_t)sqlite3_column_int64(st, 0);
    r->indx = (uint32_t)sqlite3_column_int64(st, 1);
    const unsigned char *b = sqlite3_column_blob(st, 2);
    r->n = (size_t)sqlite3_column_bytes(st, 2) / MSQ_SLICE_REC;
    r->s = r->n ? malloc(r->n * sizeof(*r->s)) : NULL;
    if (r->n && !r->s)
        return -ENOMEM;
    for (size_t i = 0; i < r->n; i++)
        msq_slice_decode(b + i * MSQ_SLICE_REC, &r->s[i]);
    return 0;
}

static int chunk_page_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct chunk_page *p = arg;
    page_clear(p);
    sqlite3_stmt *st;
    int rc = msq_query(c, &st,
                       "SELECT inode, indx, slices FROM chunk WHERE (inode, indx) > (?, ?)"
                       " ORDER BY inode, indx LIMIT ?",
                       "IIi", p->ino, p->indx, CHUNK_PAGE);
    for (; rc > 0; rc = msq_step(c, st)) {
        rc = row_from(st, &p->rows[p->n]);
        p->n++;
        if (rc)
            return rc;
    }
    return rc;
}

int msq_list_chunks(struct meta *m, meta_chunk_fn fn, void *arg)
{
    struct chunk_page *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->indx = -1;
    int rc = 0;
    bool stop = false;
    while (!stop) {
        rc = msq_txn(m, MSQ_READ, chunk_page_fn, p);
        if (rc)
            break;
        for (size_t i = 0; i < p->n && !stop; i++)
            stop = fn(arg, p->rows[i].ino, p->rows[i].indx, p->rows[i].s, p->rows[i].n) != 0;
        stop = stop || p->n < CHUNK_PAGE;
        if (p->n) {
            p->ino = p->rows[p->n - 1].ino;
            p->indx = p->rows[p->n - 1].indx;
        }
    }
    page_clear(p);
    free(p);
    return rc;
}

struct drop_args {
    uint64_t ino;
    uint32_t indx;
    uint64_t id;
};

static int drop_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct drop_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT slices FROM chunk WHERE inode = ? AND indx = ?", "II", a->ino,
                       (int64_t)a->indx);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        return -ENOMEM;
    memcpy(b, sqlite3_column_blob(st, 0), len);
    sqlite3_reset(st);
    rc = 0;
    struct meta_slice s, lost = {0};
    for (size_t i = 0; i + MSQ_SLICE_REC <= len && rc == 0; i += MSQ_SLICE_REC) {
        msq_slice_decode(b + i, &s);
        if (s.id != a->id)
            continue;
        lost = s;
        s.id = 0; /* a hole over the same extent */
        s.off = 0;
        s.size = s.len;
        msq_slice_encode(&s, b + i);
        rc = msq_unref_slice(c, &lost);
    }
    if (rc == 0 && lost.id == 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = msq_exec(c, "UPDATE chunk SET slices = ? WHERE inode = ? AND indx = ?", "bII", b, (int)len, a->ino,
                      (int64_t)a->indx);
    free(b);
    return rc;
}

int msq_chunk_drop_slice(struct meta *m, uint64_t ino, uint32_t indx, uint64_t id)
{
    if (id == 0)
        return -EINVAL;
    struct drop_args a = {ino, indx, id};
    return msq_txn(m, MSQ_WRITE, drop_fn, &a);
}

/* Every table of the engine goes; the file stays, empty of tidefs. */
static int destroy_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)arg;
    static const char *const drops[] = {
        "DROP TABLE IF EXISTS node",     "DROP TABLE IF EXISTS edge",     "DROP TABLE IF EXISTS chunk",
        "DROP TABLE IF EXISTS slice_ref", "DROP TABLE IF EXISTS delslices", "DROP TABLE IF EXISTS symlink",
        "DROP TABLE IF EXISTS xattr",    "DROP TABLE IF EXISTS flock",    "DROP TABLE IF EXISTS plock",
        "DROP TABLE IF EXISTS session",  "DROP TABLE IF EXISTS sustained", "DROP TABLE IF EXISTS delfile",
        "DROP TABLE IF EXISTS dirquota", "DROP TABLE IF EXISTS counter",  "DROP TABLE IF EXISTS setting",
    };
    for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
        int rc = sqlite3_exec(c->db, drops[i], NULL, NULL, NULL);
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
            c->busy = true;
        if (rc != SQLITE_OK)
            return sqlite_rc_to_errno(rc) ? sqlite_rc_to_errno(rc) : -EIO;
    }
    m->quota_gen = -1;
    atomic_store(&m->capacity, 0);
    atomic_store(&m->inode_limit, 0);
    atomic_store(&m->trash_days, 0);
    return 0;
}

int msq_destroy(struct meta *m)
{
    return msq_txn(m, MSQ_WRITE, destroy_fn, NULL);
}
