/* SPDX-License-Identifier: Apache-2.0
 *
 * Slice compaction in the SQLite engine (meta_ops.compact_chunk): one
 * write transaction checks that the chunk row still starts with the
 * records the compactor read, replaces them with the new ones, and moves
 * the references (old slices unreferenced, and queued for deletion when
 * unused; new ones referenced).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_sqlite_i.h"

struct compact_args {
    uint64_t ino;
    uint32_t indx;
    const struct meta_slice *old, *repl;
    size_t nold, nrepl;
};

/* The records of `n` slices as stored; malloc'ed, caller frees. */
static unsigned char *encode_all(const struct meta_slice *s, size_t n)
{
    unsigned char *b = malloc(n ? n * MSQ_SLICE_REC : 1);
    for (size_t i = 0; b && i < n; i++)
        msq_slice_encode(&s[i], b + i * MSQ_SLICE_REC);
    return b;
}

static int swap_records(struct msq_conn *c, const struct compact_args *a, const unsigned char *cur, size_t len)
{
    size_t oldlen = a->nold * MSQ_SLICE_REC, newlen = a->nrepl * MSQ_SLICE_REC;
    unsigned char *old = encode_all(a->old, a->nold), *repl = encode_all(a->repl, a->nrepl);
    unsigned char *next = malloc(newlen + len - oldlen + 1);
    int rc = old && repl && next ? 0 : -ENOMEM;
    if (rc == 0 && memcmp(cur, old, oldlen) != 0)
        rc = -ESTALE;
    if (rc == 0) {
        memcpy(next, repl, newlen);
        memcpy(next + newlen, cur + oldlen, len - oldlen);
        rc = msq_exec(c, "UPDATE chunk SET slices = ? WHERE inode = ? AND indx = ?", "bII", next,
                      (int)(newlen + len - oldlen), a->ino, (int64_t)a->indx);
    }
    for (size_t i = 0; rc == 0 && i < a->nrepl; i++)
        if (a->repl[i].id)
            rc = msq_exec(c,
                          "INSERT INTO slice_ref (id, size, refs) VALUES (?, ?, 1) "
                          "ON CONFLICT(id) DO UPDATE SET refs = refs + 1",
                          "II", a->repl[i].id, (int64_t)a->repl[i].size);
    for (size_t i = 0; rc == 0 && i < a->nold; i++)
        if (a->old[i].id)
            rc = msq_unref_slice(c, &a->old[i]);
    free(old);
    free(repl);
    free(next);
    return rc;
}

static int compact_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct compact_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT slices FROM chunk WHERE inode = ? AND indx = ?", "II", a->ino,
                       (int64_t)a->indx);
    if (rc <= 0)
        return rc ? rc : -ESTALE;
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    unsigned char *cur = malloc(len ? len : 1);
    if (!cur) {
        sqlite3_reset(st);
        return -ENOMEM;
    }
    memcpy(cur, sqlite3_column_blob(st, 0), len);
    sqlite3_reset(st);
    rc = len < a->nold * MSQ_SLICE_REC ? -ESTALE : swap_records(c, a, cur, len);
    free(cur);
    return rc;
}

int msq_compact_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *old, size_t nold,
                      const struct meta_slice *repl, size_t nrepl)
{
    if (nold == 0)
        return -EINVAL;
    struct compact_args a = {ino, indx, old, repl, nold, nrepl};
    return msq_txn(m, MSQ_WRITE, compact_fn, &a);
}
