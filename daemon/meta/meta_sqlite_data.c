/* SPDX-License-Identifier: Apache-2.0
 *
 * File layout in the SQLite engine: chunk rows holding appended 24-byte
 * slice records, slice reference counts, the queue of deleted slices whose
 * blocks may be removed, truncate/fallocate as appended holes (slice id 0),
 * and the space accounting behind capacity limits and statfs: used space
 * is the sum of regular files' lengths, each rounded up to 4 KiB (counter
 * "usedSpace"), kept exact in the same transaction as every length change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_sqlite_i.h"

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* pos u32, id u64, size u32, off u32, len u32, all big-endian */
void msq_slice_encode(const struct meta_slice *s, unsigned char out[MSQ_SLICE_REC])
{
    put_be32(out, s->pos);
    put_be64(out + 4, s->id);
    put_be32(out + 12, s->size);
    put_be32(out + 16, s->off);
    put_be32(out + 20, s->len);
}

void msq_slice_decode(const unsigned char in[MSQ_SLICE_REC], struct meta_slice *s)
{
    s->pos = (uint32_t)get_be(in, 4);
    s->id = get_be(in + 4, 8);
    s->size = (uint32_t)get_be(in + 12, 4);
    s->off = (uint32_t)get_be(in + 16, 4);
    s->len = (uint32_t)get_be(in + 20, 4);
}

/* --- references and deletion ------------------------------------------ */

int msq_unref_slice(struct msq_conn *c, const struct meta_slice *s)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "UPDATE slice_ref SET refs = refs - 1 WHERE id = ? RETURNING refs", "I", s->id);
    if (rc < 0)
        return rc;
    int64_t refs = rc ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (refs > 0)
        return 0;
    rc = msq_exec(c, "DELETE FROM slice_ref WHERE id = ?", "I", s->id);
    if (rc == 0)
        rc = msq_exec(c, "INSERT OR IGNORE INTO delslices (id, size, deleted) VALUES (?, ?, ?)", "III", s->id,
                      (int64_t)s->size, msq_now());
    return rc;
}

static int unref_blob(struct msq_conn *c, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + MSQ_SLICE_REC <= len; i += MSQ_SLICE_REC) {
        struct meta_slice s;
        msq_slice_decode(p + i, &s);
        int rc = s.id ? msq_unref_slice(c, &s) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int msq_chunks_drop(struct msq_conn *c, uint64_t ino, uint64_t first)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT slices FROM chunk WHERE inode = ? AND indx >= ?", "II", ino, first);
    for (; rc > 0; rc = msq_step(c, st)) {
        rc = unref_blob(c, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (rc)
            return rc;
    }
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM chunk WHERE inode = ? AND indx >= ?", "II", ino, first);
    return rc;
}

int msq_chunk_hole(struct msq_conn *c, uint64_t ino, uint64_t indx, uint32_t pos, uint32_t len)
{
    struct meta_slice hole = {.pos = pos, .id = 0, .size = len, .off = 0, .len = len};
    unsigned char rec[MSQ_SLICE_REC];
    msq_slice_encode(&hole, rec);
    return msq_exec(c, "UPDATE chunk SET slices = slices || ? WHERE inode = ? AND indx = ?", "bII", rec,
                    MSQ_SLICE_REC, ino, indx);
}

/* Holes over [off, end) in the chunks that exist there. */
static int holes(struct msq_conn *c, uint64_t ino, uint64_t off, uint64_t end)
{
    for (uint64_t i = off >> META_CHUNK_BITS; off < end; i++) {
        uint64_t cend = (i + 1) << META_CHUNK_BITS;
        uint64_t e = end < cend ? end : cend;
        int rc = msq_chunk_hole(c, ino, i, (uint32_t)(off - (i << META_CHUNK_BITS)), (uint32_t)(e - off));
        if (rc)
            return rc;
        off = e;
    }
    return 0;
}

int msq_node_delete(struct msq_conn *c, uint64_t ino)
{
    struct meta_attr a;
    int rc = msq_attr_get(c, ino, &a);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM node WHERE inode = ?", "I", ino);
    if (rc == 0 && S_ISREG(a.mode)) {
        rc = msq_chunks_drop(c, ino, 0);
        if (rc == 0)
            rc = msq_counter_add(c, "usedSpace", -(int64_t)msq_align4k(a.size));
    }
    if (rc == 0 && S_ISLNK(a.mode))
        rc = msq_exec(c, "DELETE FROM symlink WHERE inode = ?", "I", ino);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM xattr WHERE inode = ?", "I", ino);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM flock WHERE inode = ?", "I", ino);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM plock WHERE inode = ?", "I", ino);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM sustained WHERE inode = ?", "I", ino);
    return rc ? rc : msq_counter_add(c, "totalInodes", -1);
}

/* --- length ----------------------------------------------------------- */

int msq_set_length(struct meta *m, struct msq_conn *c, struct meta_attr *a, uint64_t len)
{
    int64_t delta = (int64_t)msq_align4k(len) - (int64_t)msq_align4k(a->size);
    int rc = msq_check_space(m, c, delta);
    if (rc == 0 && a->nlink > 0) /* an open unlinked file left every quota */
        rc = msq_quota_adjust(m, c, a->parent, delta, 0);
    if (rc == 0 && len < a->size) {
        /* later extension must read zeros: drop whole chunks past the end,
         * cover the rest of the chunk holding the new end with a hole */
        rc = msq_chunks_drop(c, a->ino, (len + META_CHUNK_SIZE - 1) >> META_CHUNK_BITS);
        uint32_t pos = (uint32_t)(len & (META_CHUNK_SIZE - 1));
        if (rc == 0 && pos)
            rc = msq_chunk_hole(c, a->ino, len >> META_CHUNK_BITS, pos, (uint32_t)(META_CHUNK_SIZE - pos));
    }
    if (rc == 0)
        rc = msq_counter_add(c, "usedSpace", delta);
    if (rc == 0)
        a->size = len;
    return rc;
}

/* A file whose data can change: -EISDIR for a directory, `other` else. */
static int get_file(struct msq_conn *c, uint64_t ino, struct meta_attr *a, int other)
{
    int rc = msq_attr_get(c, ino, a);
    if (rc)
        return rc;
    if (S_ISDIR(a->mode))
        return -EISDIR;
    return S_ISREG(a->mode) ? 0 : other;
}

/* --- slices ----------------------------------------------------------- */

static int slice_id_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    return msq_batch_take(c, &m->slice_batch, "nextSlice", MSQ_SLICE_BATCH, arg);
}

int msq_new_slice_id(struct meta *m, uint64_t *id)
{
    pthread_mutex_lock(&m->write_lock);
    bool have = m->slice_batch.next < m->slice_batch.end;
    if (have)
        *id = m->slice_batch.next++;
    pthread_mutex_unlock(&m->write_lock);
    return have ? 0 : msq_txn(m, MSQ_WRITE, slice_id_fn, id);
}

struct chunk_args {
    uint64_t ino;
    uint32_t indx;
    struct meta_slice **out;
    size_t *n;
};

static int read_chunk_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct chunk_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT slices FROM chunk WHERE inode = ? AND indx = ?", "II", a->ino,
                       (int64_t)a->indx);
    if (rc <= 0)
        return rc; /* no chunk: no slices, reads as zeros */
    const unsigned char *p = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0) / MSQ_SLICE_REC;
    *a->out = n ? malloc(n * sizeof(**a->out)) : NULL;
    if (n && !*a->out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        msq_slice_decode(p + i * MSQ_SLICE_REC, &(*a->out)[i]);
    *a->n = n;
    return 0;
}

int msq_read_chunk(struct meta *m, uint64_t ino, uint32_t indx, struct meta_slice **out, size_t *n)
{
    struct chunk_args a = {ino, indx, out, n};
    *out = NULL;
    *n = 0;
    int rc = msq_txn(m, MSQ_READ, read_chunk_fn, &a);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

struct write_args {
    uint64_t ino;
    uint32_t indx;
    const struct meta_slice *s;
    int64_t mtime;
    struct meta_attr *out;
};

static int write_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct write_args *w = arg;
    struct meta_attr *a = w->out;
    int rc = get_file(c, w->ino, a, -EINVAL);
    if (rc)
        return rc;
    uint64_t end = ((uint64_t)w->indx << META_CHUNK_BITS) + w->s->pos + w->s->len;
    if (end > a->size)
        rc = msq_set_length(m, c, a, end);
    unsigned char rec[MSQ_SLICE_REC];
    msq_slice_encode(w->s, rec);
    if (rc == 0)
        rc = msq_exec(c,
                      "INSERT INTO chunk (inode, indx, slices) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT(inode, indx) DO UPDATE SET slices = slices || ?3",
                      "IIb", w->ino, (int64_t)w->indx, rec, MSQ_SLICE_REC);
    if (rc == 0 && w->s->id)
        rc = msq_exec(c,
                      "INSERT INTO slice_ref (id, size, refs) VALUES (?, ?, 1) "
                      "ON CONFLICT(id) DO UPDATE SET refs = refs + 1",
                      "II", w->s->id, (int64_t)w->s->size);
    if (rc)
        return rc;
    a->mtime = a->ctime = w->mtime;
    return msq_attr_put(c, a);
}

int msq_write(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, int64_t mtime_ns,
              struct meta_attr *out)
{
    if (!s || s->len == 0 || (uint64_t)s->pos + s->len > META_CHUNK_SIZE ||
        (s->id && (uint64_t)s->off + s->len > s->size))
        return -EINVAL;
    if (((uint64_t)indx << META_CHUNK_BITS) + s->pos + s->len > (uint64_t)INT64_MAX)
        return -EFBIG;
    struct write_args w = {ino, indx, s, mtime_ns, out};
    return msq_txn(m, MSQ_WRITE, write_fn, &w);
}

/* --- fallocate -------------------------------------------------------- */

struct falloc_args {
    uint64_t ino;
    int mode;
    uint64_t off, end;
    struct meta_attr *out;
};

static int falloc_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct falloc_args *f = arg;
    struct meta_attr *a = f->out;
    int rc = get_file(c, f->ino, a, -ENODEV);
    if (rc)
        return rc;
    bool keep = f->mode & META_FALLOC_KEEP_SIZE;
    bool zero = f->mode & (META_FALLOC_PUNCH_HOLE | META_FALLOC_ZERO_RANGE);
    bool changed = false;
    if (zero && f->off < a->size) { /* past the end there is no data */
        rc = holes(c, f->ino, f->off, f->end < a->size ? f->end : a->size);
        changed = true;
    }
    if (rc == 0 && f->end > a->size) {
        if (keep) /* a reservation: must fit, changes nothing */
            rc = msq_check_space(m, c, (int64_t)(msq_align4k(f->end) - msq_align4k(a->size)));
        else
            rc = msq_set_length(m, c, a, f->end);
        changed = changed || !keep;
    }
    if (rc || !changed)
        return rc;
    a->mtime = a->ctime = msq_now();
    return msq_attr_put(c, a);
}

int msq_fallocate(struct meta *m, uint64_t ino, int mode, uint64_t off, uint64_t len, struct meta_attr *out)
{
    int known = META_FALLOC_KEEP_SIZE | META_FALLOC_PUNCH_HOLE | META_FALLOC_ZERO_RANGE;
    if (mode & ~known)
        return -EOPNOTSUPP;
    if ((mode & META_FALLOC_PUNCH_HOLE) &&
        (!(mode & META_FALLOC_KEEP_SIZE) || (mode & META_FALLOC_ZERO_RANGE)))
        return -EOPNOTSUPP; /* as the kernel's vfs_fallocate */
    if (len == 0)
        return -EINVAL;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return -EFBIG;
    struct falloc_args f = {ino, mode, off, off + len, out};
    return msq_txn(m, MSQ_WRITE, falloc_fn, &f);
}

/* --- deleted slices ---------------------------------------------------- */

struct delslice_args {
    size_t max, n;
    struct meta_slice *rows; /* id and size used */
};

static int list_del_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct delslice_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT id, size FROM delslices ORDER BY id LIMIT ?", "I", (int64_t)a->max);
    for (a->n = 0; rc > 0 && a->n < a->max; rc = msq_step(c, st)) {
        a->rows[a->n].id = (uint64_t)sqlite3_column_int64(st, 0);
        a->rows[a->n++].size = (uint32_t)sqlite3_column_int64(st, 1);
    }
    return rc < 0 ? rc : 0;
}

int msq_list_deleted_slices(struct meta *m, size_t max, meta_slice_fn fn, void *arg)
{
    if (max == 0)
        return 0;
    if (max > 100000)
        max = 100000;
    struct delslice_args a = {max, 0, calloc(max, sizeof(struct meta_slice))};
    if (!a.rows)
        return -ENOMEM;
    int rc = msq_txn(m, MSQ_READ, list_del_fn, &a);
    for (size_t i = 0; rc == 0 && i < a.n; i++)
        if (fn(arg, a.rows[i].id, a.rows[i].size))
            break;
    free(a.rows);
    return rc;
}

static int ack_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    const struct meta_slice *s = arg;
    int rc = msq_exec(c, "DELETE FROM delslices WHERE id = ? AND size = ?", "II", s->id, (int64_t)s->size);
    return rc ? rc : sqlite3_changes(c->db) ? 0 : -ENOENT;
}

int msq_ack_deleted_slice(struct meta *m, uint64_t id, uint32_t size)
{
    struct meta_slice s = {.id = id, .size = size};
    return msq_txn(m, MSQ_WRITE, ack_fn, &s);
}
