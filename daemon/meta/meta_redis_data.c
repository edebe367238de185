/* SPDX-License-Identifier: Apache-2.0
 *
 * File layout in the Redis engine: chunk keys holding appended 24-byte
 * slice records (APPEND, as the SQLite engine's `slices || ?`), the set of
 * a file's chunk indexes (k<ino>) so truncation and deletion find them,
 * slice reference counts (sliceRef), the queue of deleted slices whose
 * blocks may be removed (delSlices), truncate/fallocate as appended holes
 * (slice id 0), node deletion, and the space accounting behind capacity
 * limits and statfs (counter usedSpace: the sum of regular files' lengths,
 * each rounded up to 4 KiB), changed in the transaction of every length
 * change. Semantics are meta_sqlite_data.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_redis_i.h"

/* --- references and deletion ------------------------------------------------ */

/* drops `count` references of slice s; the script queues it for deletion
 * when none is left */
static int unref_slice(struct mr_tx *tx, const struct meta_slice *s, unsigned count)
{
    char id[24], size[16], n[16];
    snprintf(id, sizeof(id), "%" PRIu64, s->id);
    snprintf(size, sizeof(size), "%u", s->size);
    snprintf(n, sizeof(n), "%u", count);
    const char *argv[] = {"sliceRef", "delSlices", id, size, n};
    return mr_queue_eval(tx, MR_LUA_UNREF, 2, 5, argv, NULL);
}

static int unref_records(struct mr_tx *tx, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + MR_SLICE_REC <= len; i += MR_SLICE_REC) {
        struct meta_slice s;
        mr_slice_decode(p + i, &s);
        int rc = s.id ? unref_slice(tx, &s, 1) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int mr_chunks_drop(struct mr_tx *tx, uint64_t ino, uint64_t first)
{
    char kkey[MR_KEY_MAX];
    mr_key(kkey, "k", ino);
    redisReply *r = mr_wcmd(tx, kkey, "ZRANGEBYSCORE %s %llu +inf", kkey, (unsigned long long)first);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return -EIO;
    for (size_t i = 0; i < r->elements && rc == 0; i++) {
        char ckey[MR_KEY_MAX * 2];
        snprintf(ckey, sizeof(ckey), "c%llu_%s", (unsigned long long)ino, r->element[i]->str);
        redisReply *c = mr_wget(tx, ckey);
        rc = mr_check(tx, c);
        if (rc == 0 && c->type == REDIS_REPLY_STRING)
            rc = unref_records(tx, (const unsigned char *)c->str, c->len);
        if (rc == 0)
            rc = mr_queue(tx, "DEL %s", ckey);
    }
    if (rc == 0 && r->elements)
        rc = mr_queue(tx, "ZREMRANGEBYSCORE %s %llu +inf", kkey, (unsigned long long)first);
    return rc;
}

/* chunk `indx` of ino exists (watched) */
static int chunk_exists(struct mr_tx *tx, uint64_t ino, uint64_t indx)
{
    char kkey[MR_KEY_MAX];
    mr_key(kkey, "k", ino);
    redisReply *r = mr_wcmd(tx, kkey, "ZSCORE %s %llu", kkey, (unsigned long long)indx);
    int rc = mr_check(tx, r);
    return rc ? rc : r->type == REDIS_REPLY_STRING;
}

int mr_chunk_hole(struct mr_tx *tx, uint64_t ino, uint64_t indx, uint32_t pos, uint32_t len)
{
    int rc = chunk_exists(tx, ino, indx);
    if (rc <= 0)
        return rc; /* no chunk: nothing to cover */
    struct meta_slice hole = {.pos = pos, .id = 0, .size = len, .off = 0, .len = len};
    unsigned char rec[MR_SLICE_REC];
    mr_slice_encode(&hole, rec);
    return mr_queue(tx, "APPEND c%llu_%llu %b", (unsigned long long)ino, (unsigned long long)indx, rec,
                    (size_t)MR_SLICE_REC);
}

/* Holes over [off, end) in the chunks that exist there. */
static int holes(struct mr_tx *tx, uint64_t ino, uint64_t off, uint64_t end)
{
    for (uint64_t i = off >> META_CHUNK_BITS; off < end; i++) {
        uint64_t cend = (i + 1) << META_CHUNK_BITS;
        uint64_t e = end < cend ? end : cend;
        int rc = mr_chunk_hole(tx, ino, i, (uint32_t)(off - (i << META_CHUNK_BITS)), (uint32_t)(e - off));
        if (rc)
            return rc;
        off = e;
    }
    return 0;
}

int mr_node_delete(struct mr_tx *tx, uint64_t ino)
{
    struct meta_attr a;
    int rc = mr_attr_get(tx, ino, &a);
    unsigned long long i = ino;
    if (rc == 0)
        rc = mr_queue(tx, "DEL i%llu", i);
    if (rc == 0 && S_ISREG(a.mode)) {
        rc = mr_chunks_drop(tx, ino, 0);
        if (rc == 0)
            rc = mr_counter_add(tx, "usedSpace", -(int64_t)mr_align4k(a.size));
    }
    if (rc == 0 && S_ISLNK(a.mode))
        rc = mr_queue(tx, "DEL s%llu", i);
    if (rc == 0 && S_ISDIR(a.mode))
        rc = mr_queue(tx, "DEL d%llu z%llu", i, i);
    if (rc == 0)
        rc = mr_queue(tx, "DEL x%llu lockf%llu lockp%llu", i, i, i);
    if (rc == 0)
        rc = mr_queue(tx, "SREM sustained%llu %llu", (unsigned long long)atomic_load(&tx->m->sid), i);
    return rc ? rc : mr_counter_add(tx, "totalInodes", -1);
}

/* --- length ------------------------------------------------------------------ */

int mr_set_length(struct mr_tx *tx, struct meta_attr *a, uint64_t len)
{
    int64_t delta = (int64_t)mr_align4k(len) - (int64_t)mr_align4k(a->size);
    int rc = mr_check_space(tx, delta);
    if (rc == 0 && a->nlink > 0) /* an open unlinked file left every quota */
        rc = mr_quota_adjust(tx, a->parent, delta, 0);
    if (rc == 0 && len < a->size) {
        /* later extension must read zeros: drop whole chunks past the end,
         * cover the rest of the chunk holding the new end with a hole */
        rc = mr_chunks_drop(tx, a->ino, (len + META_CHUNK_SIZE - 1) >> META_CHUNK_BITS);
        uint32_t pos = (uint32_t)(len & (META_CHUNK_SIZE - 1));
        if (rc == 0 && pos)
            rc = mr_chunk_hole(tx, a->ino, len >> META_CHUNK_BITS, pos, (uint32_t)(META_CHUNK_SIZE - pos));
    }
    if (rc == 0)
        rc = mr_counter_add(tx, "usedSpace", delta);
    if (rc == 0)
        a->size = len;
    return rc;
}

/* A file whose data can change: -EISDIR for a directory, `other` else. */
static int get_file(struct mr_tx *tx, uint64_t ino, struct meta_attr *a, int other)
{
    int rc = mr_attr_get(tx, ino, a);
    if (rc)
        return rc;
    if (S_ISDIR(a->mode))
        return -EISDIR;
    return S_ISREG(a->mode) ? 0 : other;
}

/* --- slices ------------------------------------------------------------------ */

static int slice_id_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    return mr_batch_take(tx, &m->slice_batch, "nextSlice", MR_SLICE_BATCH, arg);
}

int mr_new_slice_id(struct meta *m, uint64_t *id)
{
    pthread_mutex_lock(&m->slice_batch.lock);
    bool have = m->slice_batch.next < m->slice_batch.end;
    if (have)
        *id = m->slice_batch.next++;
    pthread_mutex_unlock(&m->slice_batch.lock);
    return have ? 0 : mr_read(m, slice_id_fn, id);
}

struct chunk_args {
    uint64_t ino;
    uint32_t indx;
    struct meta_slice **out;
    size_t *n;
};

static int read_chunk_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct chunk_args *a = arg;
    redisReply *r = mr_cmd(tx, "GET c%llu_%u", (unsigned long long)a->ino, a->indx);
    int rc = mr_check(tx, r);
    if (rc || r->type != REDIS_REPLY_STRING)
        return rc; /* no chunk: no slices, reads as zeros */
    size_t n = r->len / MR_SLICE_REC;
    free(*a->out);
    *a->out = n ? malloc(n * sizeof(**a->out)) : NULL;
    if (n && !*a->out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        mr_slice_decode((const unsigned char *)r->str + i * MR_SLICE_REC, &(*a->out)[i]);
    *a->n = n;
    return 0;
}

int mr_read_chunk(struct meta *m, uint64_t ino, uint32_t indx, struct meta_slice **out, size_t *n)
{
    struct chunk_args a = {ino, indx, out, n};
    *out = NULL;
    *n = 0;
    int rc = mr_read(m, read_chunk_fn, &a);
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

static int write_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct write_args *w = arg;
    struct meta_attr *a = w->out;
    int rc = get_file(tx, w->ino, a, -EINVAL);
    if (rc)
        return rc;
    uint64_t end = ((uint64_t)w->indx << META_CHUNK_BITS) + w->s->pos + w->s->len;
    if (end > a->size)
        rc = mr_set_length(tx, a, end);
    unsigned char rec[MR_SLICE_REC];
    mr_slice_encode(w->s, rec);
    unsigned long long ino = w->ino;
    if (rc == 0)
        rc = mr_queue(tx, "APPEND c%llu_%u %b", ino, w->indx, rec, (size_t)MR_SLICE_REC);
    if (rc == 0)
        rc = mr_queue(tx, "ZADD k%llu %u %u", ino, w->indx, w->indx);
    if (rc == 0 && w->s->id)
        rc = mr_queue(tx, "HINCRBY sliceRef %llu 1", (unsigned long long)w->s->id);
    if (rc)
        return rc;
    a->mtime = a->ctime = w->mtime;
    return mr_attr_put(tx, a);
}

int mr_write(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, int64_t mtime_ns,
             struct meta_attr *out)
{
    if (!s || s->len == 0 || (uint64_t)s->pos + s->len > META_CHUNK_SIZE ||
        (s->id && (uint64_t)s->off + s->len > s->size))
        return -EINVAL;
    if (((uint64_t)indx << META_CHUNK_BITS) + s->pos + s->len > (uint64_t)INT64_MAX)
        return -EFBIG;
    struct write_args w = {ino, indx, s, mtime_ns, out};
    return mr_txn(m, write_fn, &w);
}

/* --- fallocate ----------------------------------------------------------------- */

struct falloc_args {
    uint64_t ino;
    int mode;
    uint64_t off, end;
    struct meta_attr *out;
};

static int falloc_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct falloc_args *f = arg;
    struct meta_attr *a = f->out;
    int rc = get_file(tx, f->ino, a, -ENODEV);
    if (rc)
        return rc;
    bool keep = f->mode & META_FALLOC_KEEP_SIZE;
    bool zero = f->mode & (META_FALLOC_PUNCH_HOLE | META_FALLOC_ZERO_RANGE);
    bool changed = false;
    if (zero && f->off < a->size) { /* past the end there is no data */
        rc = holes(tx, f->ino, f->off, f->end < a->size ? f->end : a->size);
        changed = true;
    }
    if (rc == 0 && f->end > a->size) {
        if (keep) /* a reservation: must fit, changes nothing */
            rc = mr_check_space(tx, (int64_t)(mr_align4k(f->end) - mr_align4k(a->size)));
        else
            rc = mr_set_length(tx, a, f->end);
        changed = changed || !keep;
    }
    if (rc || !changed)
        return rc;
    a->mtime = a->ctime = mr_now();
    return mr_attr_put(tx, a);
}

int mr_fallocate(struct meta *m, uint64_t ino, int mode, uint64_t off, uint64_t len, struct meta_attr *out)
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
    return mr_txn(m, falloc_fn, &f);
}

/* --- deleted slices ------------------------------------------------------------ */

struct delslice_args {
    size_t max, n;
    struct meta_slice *rows; /* id and size used */
};

static int list_del_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct delslice_args *a = arg;
    redisReply *r = mr_cmd(tx, "ZRANGE delSlices 0 %lld", (long long)a->max - 1);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    a->n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && a->n < a->max; i++) {
        unsigned long long id;
        unsigned size;
        if (sscanf(r->element[i]->str, "%llu:%u", &id, &size) != 2)
            continue;
        a->rows[a->n].id = id;
        a->rows[a->n++].size = size;
    }
    return 0;
}

int mr_list_deleted_slices(struct meta *m, size_t max, meta_slice_fn fn, void *arg)
{
    if (max == 0)
        return 0;
    if (max > 100000)
        max = 100000;
    struct delslice_args a = {max, 0, calloc(max, sizeof(struct meta_slice))};
    if (!a.rows)
        return -ENOMEM;
    int rc = mr_read(m, list_del_fn, &a);
    for (size_t i = 0; rc == 0 && i < a.n; i++)
        if (fn(arg, a.rows[i].id, a.rows[i].size))
            break;
    free(a.rows);
    return rc;
}

static int ack_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    const struct meta_slice *s = arg;
    /* ZREM is its own transaction: one command, nothing read before it */
    redisReply *r = mr_cmd(tx, "ZREM delSlices %llu:%u", (unsigned long long)s->id, s->size);
    int rc = mr_check(tx, r);
    return rc ? rc : r->integer ? 0 : -ENOENT;
}

int mr_ack_deleted_slice(struct meta *m, uint64_t id, uint32_t size)
{
    struct meta_slice s = {.id = id, .size = size};
    return mr_read(m, ack_fn, &s);
}
