/* SPDX-License-Identifier: Apache-2.0
 *
 * Whole-volume operations of the Redis engine for the operator's tools, as
 * meta_sqlite_admin.c: listing every chunk in (inode, index) order (gc,
 * fsck), turning a lost slice into holes (fsck --repair) and deleting all
 * metadata (destroy: the volume's database is flushed). The listing finds
 * the files with chunks by SCAN over k<ino> keys, then reads one file per
 * read, calling back with no connection held.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_redis_i.h"

#define SCAN_COUNT 1000

struct ino_list {
    uint64_t *v;
    size_t n, cap;
};

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int list_push(struct ino_list *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        uint64_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* every inode that has a chunk index set, sorted (SCAN may repeat keys) */
static int scan_files_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct ino_list *l = arg;
    l->n = 0;
    char cursor[32] = "0";
    int rc = 0;
    do {
        redisReply *r = mr_cmd(tx, "SCAN %s MATCH k[0-9]* COUNT %d", cursor, SCAN_COUNT);
        rc = mr_check(tx, r);
        if (rc)
            return rc;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING)
            return -EIO;
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; rc == 0 && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
            rc = list_push(l, strtoull(keys->element[i]->str + 1, NULL, 10));
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    if (rc || l->n == 0)
        return rc;
    qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i] != l->v[w - 1])
            l->v[w++] = l->v[i];
    l->n = w;
    return 0;
}

struct chunk_row {
    uint32_t indx;
    size_t n;
    struct meta_slice *s; /* owned */
};

struct file_chunks {
    uint64_t ino;
    size_t n;
    struct chunk_row *rows; /* owned */
};

static void file_clear(struct file_chunks *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->rows[i].s);
    free(f->rows);
    f->rows = NULL;
    f->n = 0;
}

static int row_from(const redisReply *r, uint32_t indx, struct chunk_row *row)
{
    row->indx = indx;
    row->n = r->type == REDIS_REPLY_STRING ? r->len / MR_SLICE_REC : 0;
    row->s = row->n ? malloc(row->n * sizeof(*row->s)) : NULL;
    if (row->n && !row->s)
        return -ENOMEM;
    for (size_t i = 0; i < row->n; i++)
        mr_slice_decode((const unsigned char *)r->str + i * MR_SLICE_REC, &row->s[i]);
    return 0;
}

/* the chunks of one file, in index order */
static int file_chunks_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct file_chunks *f = arg;
    file_clear(f);
    redisReply *r = mr_cmd(tx, "ZRANGE k%llu 0 -1", (unsigned long long)f->ino);
    int rc = mr_check(tx, r);
    if (rc || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return rc;
    f->rows = calloc(r->elements, sizeof(*f->rows));
    if (!f->rows)
        return -ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->elements; i++) {
        uint32_t indx = (uint32_t)strtoul(r->element[i]->str, NULL, 10);
        redisReply *c = mr_cmd(tx, "GET c%llu_%u", (unsigned long long)f->ino, indx);
        rc = mr_check(tx, c);
        if (rc == 0 && c->type == REDIS_REPLY_STRING) /* gone meanwhile: not listed */
            rc = row_from(c, indx, &f->rows[f->n++]);
    }
    return rc;
}

int mr_list_chunks(struct meta *m, meta_chunk_fn fn, void *arg)
{
    struct ino_list l = {0};
    struct file_chunks f = {0};
    int rc = mr_read(m, scan_files_fn, &l);
    bool stop = false;
    for (size_t i = 0; rc == 0 && !stop && i < l.n; i++) {
        f.ino = l.v[i];
        rc = mr_read(m, file_chunks_fn, &f);
        for (size_t j = 0; rc == 0 && !stop && j < f.n; j++)
            stop = fn(arg, f.ino, f.rows[j].indx, f.rows[j].s, f.rows[j].n) != 0;
    }
    file_clear(&f);
    free(l.v);
    return rc;
}

struct drop_args {
    uint64_t ino;
    uint32_t indx;
    uint64_t id;
};

static int unref_one(struct mr_tx *tx, const struct meta_slice *s)
{
    char id[24], size[16];
    snprintf(id, sizeof(id), "%" PRIu64, s->id);
    snprintf(size, sizeof(size), "%u", s->size);
    const char *argv[] = {"sliceRef", "delSlices", id, size, "1"};
    return mr_queue_eval(tx, MR_LUA_UNREF, 2, 5, argv, NULL);
}

static int drop_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct drop_args *a = arg;
    char key[MR_KEY_MAX * 2];
    snprintf(key, sizeof(key), "c%llu_%u", (unsigned long long)a->ino, a->indx);
    redisReply *r = mr_wget(tx, key);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return -ENOENT;
    size_t len = r->len;
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        return -ENOMEM;
    memcpy(b, r->str, len);
    struct meta_slice s, lost = {0};
    for (size_t i = 0; i + MR_SLICE_REC <= len && rc == 0; i += MR_SLICE_REC) {
        mr_slice_decode(b + i, &s);
        if (s.id != a->id)
            continue;
        lost = s;
        s.id = 0; /* a hole over the same extent */
        s.off = 0;
        s.size = s.len;
        mr_slice_encode(&s, b + i);
        rc = unref_one(tx, &lost);
    }
    if (rc == 0 && lost.id == 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = mr_queue(tx, "SET %s %b", key, b, len);
    free(b);
    return rc;
}

int mr_chunk_drop_slice(struct meta *m, uint64_t ino, uint32_t indx, uint64_t id)
{
    if (id == 0)
        return -EINVAL;
    struct drop_args a = {ino, indx, id};
    return mr_txn(m, drop_fn, &a);
}

/* One volume per database: every key of it goes. */
static int destroy_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)arg;
    int rc = mr_queue(tx, "FLUSHDB");
    if (rc)
        return rc;
    pthread_mutex_lock(&m->quota_lock);
    m->quota_gen = -1;
    pthread_mutex_unlock(&m->quota_lock);
    atomic_store(&m->capacity, 0);
    atomic_store(&m->inode_limit, 0);
    atomic_store(&m->trash_days, 0);
    return 0;
}

int mr_destroy(struct meta *m)
{
    return mr_txn(m, destroy_fn, NULL);
}
