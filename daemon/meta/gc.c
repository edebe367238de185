/* SPDX-License-Identifier: Apache-2.0
 *
 * `tidefs gc` (see gc.h): builds the set of live slices from metadata,
 * then walks the store's listing once and classifies each object. The
 * slice set is an open-addressing hash of id -> size (16 bytes a slice,
 * so 10 million slices take about 300 MiB at most).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/chunk.h"
#include "meta/gc.h"

#define GC_PENDING_MAX 100000 /* pending slices handled per run */

/* --- a set of slice ids with their sizes ---------------------------------- */

struct slice_set {
    uint64_t *ids; /* 0 = empty slot (slice 0 is a hole, never stored) */
    uint32_t *sizes;
    size_t cap, n; /* cap a power of two */
};

static size_t slot_of(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

static int set_grow(struct slice_set *s)
{
    struct slice_set g = {.cap = s->cap ? s->cap * 2 : 1024};
    g.ids = calloc(g.cap, sizeof(*g.ids));
    g.sizes = calloc(g.cap, sizeof(*g.sizes));
    if (!g.ids || !g.sizes) {
        free(g.ids);
        free(g.sizes);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->ids[i])
            continue;
        size_t j = slot_of(s->ids[i], g.cap);
        while (g.ids[j])
            j = (j + 1) & (g.cap - 1);
        g.ids[j] = s->ids[i];
        g.sizes[j] = s->sizes[i];
    }
    g.n = s->n;
    free(s->ids);
    free(s->sizes);
    *s = g;
    return 0;
}

static int set_add(struct slice_set *s, uint64_t id, uint32_t size)
{
    if ((s->n + 1) * 2 > s->cap && set_grow(s) != 0)
        return -ENOMEM;
    size_t j = slot_of(id, s->cap);
    while (s->ids[j] && s->ids[j] != id)
        j = (j + 1) & (s->cap - 1);
    if (!s->ids[j])
        s->n++;
    s->ids[j] = id;
    s->sizes[j] = size;
    return 0;
}

/* true with *size set when id is in the set */
static bool set_find(const struct slice_set *s, uint64_t id, uint32_t *size)
{
    if (!s->cap)
        return false;
    for (size_t j = slot_of(id, s->cap); s->ids[j]; j = (j + 1) & (s->cap - 1))
        if (s->ids[j] == id) {
            *size = s->sizes[j];
            return true;
        }
    return false;
}

static void set_free(struct slice_set *s)
{
    free(s->ids);
    free(s->sizes);
}

/* --- the run ---------------------------------------------------------------- */

struct gc_ctx {
    const struct format *fmt;
    struct store *st;
    bool delete;
    int64_t min_age_ns, now_ns;
    const struct gc_hooks *hooks;
    struct gc_report *r;
    struct slice_set live, pending;
    size_t prefix_len;
    int err;
};

static bool stopping(struct gc_ctx *g)
{
    if (g->hooks && g->hooks->stop && g->hooks->stop(g->hooks->arg))
        g->r->stopped = true;
    return g->r->stopped;
}

static int add_chunk(void *arg, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n)
{
    (void)ino;
    (void)indx;
    struct gc_ctx *g = arg;
    for (size_t i = 0; i < n && g->err == 0; i++)
        if (s[i].id)
            g->err = set_add(&g->live, s[i].id, s[i].size);
    return g->err || stopping(g);
}

static int add_pending(void *arg, uint64_t id, uint32_t size)
{
    struct gc_ctx *g = arg;
    g->err = set_add(&g->pending, id, size);
    return g->err;
}

bool gc_parse_block_name(const char *name, uint64_t *id, uint32_t *index, uint32_t *bsize)
{
    int used = 0;
    if (sscanf(name, "%" SCNu64 "_%" SCNu32 "_%" SCNu32 "%n", id, index, bsize, &used) != 3)
        return false;
    return name[used] == '\0' && name[0] >= '0' && name[0] <= '9';
}

/* Whether block `index` of `bsize` bytes belongs to a slice of `size`. */
static bool block_fits(uint32_t block_size, uint32_t size, uint32_t index, uint32_t bsize)
{
    uint64_t start = (uint64_t)index * block_size;
    if (start >= size)
        return false;
    uint64_t want = size - start < block_size ? size - start : block_size;
    return want == bsize;
}

/* In use (0), pending (1) or garbage (2). */
static int classify(struct gc_ctx *g, const char *key)
{
    const char *name = strrchr(key, '/');
    uint64_t id;
    uint32_t index, bsize, size;
    if (!name || !gc_parse_block_name(name + 1, &id, &index, &bsize))
        return 2;
    if (set_find(&g->live, id, &size) && block_fits(g->fmt->block_size, size, index, bsize))
        return 0;
    if (set_find(&g->pending, id, &size))
        return 1;
    return 2;
}

static int on_object(void *arg, const char *key, uint64_t size, int64_t mtime_ns)
{
    struct gc_ctx *g = arg;
    struct gc_report *r = g->r;
    r->objects++;
    r->bytes += size;
    if (g->hooks && g->hooks->progress)
        g->hooks->progress(g->hooks->arg, 1);
    if (classify(g, key) != 2)
        return stopping(g);
    if (g->now_ns - mtime_ns < g->min_age_ns) {
        r->young++;
        return stopping(g);
    }
    r->leaked++;
    r->leaked_bytes += size;
    bool deleted = false;
    if (g->delete) {
        deleted = store_del(g->st, key) == 0;
        r->deleted += deleted;
        r->deleted_bytes += deleted ? size : 0;
        r->failures += !deleted;
    }
    if (g->hooks && g->hooks->leak)
        g->hooks->leak(g->hooks->arg, key, size, mtime_ns, deleted);
    return stopping(g);
}

/* Deletes the blocks of every pending slice, then acknowledges it. */
static void delete_pending(struct gc_ctx *g, const struct meta_ops *ops, struct meta *m)
{
    for (size_t i = 0; i < g->pending.cap && !stopping(g); i++) {
        uint64_t id = g->pending.ids[i];
        uint32_t size = g->pending.sizes[i], bs = g->fmt->block_size;
        int rc = 0;
        if (!id)
            continue;
        for (uint32_t b = 0; (uint64_t)b * bs < size && rc == 0; b++) {
            char key[512];
            uint32_t len = size - b * bs < bs ? size - b * bs : bs;
            chunk_block_key(key, sizeof(key), g->fmt->name, id, b, len);
            rc = store_del(g->st, key);
        }
        if (rc == 0)
            rc = ops->ack_deleted_slice(m, id, size);
        g->r->pending_deleted += rc == 0;
        g->r->failures += rc != 0 && rc != -ENOENT;
    }
}

int gc_run(const struct meta_ops *ops, struct meta *m, const struct format *fmt, struct store *st, bool delete,
           int64_t min_age_ns, int64_t now_ns, const struct gc_hooks *hooks, struct gc_report *out)
{
    struct gc_ctx g = {fmt, st, delete, min_age_ns, now_ns, hooks, out, {0}, {0}, 0, 0};
    memset(out, 0, sizeof(*out));
    if (!ops->list_chunks)
        return -ENOTSUP;
    /* pending first: a slice freed meanwhile is then still pending or
     * already gone, never seen as leaked while its blocks are deleted */
    int rc = ops->list_deleted_slices(m, GC_PENDING_MAX, add_pending, &g);
    if (rc == 0)
        rc = ops->list_chunks(m, add_chunk, &g);
    rc = rc ? rc : g.err;
    out->slices = g.live.n;
    out->pending_slices = g.pending.n;
    char prefix[FORMAT_NAME_MAX + 16];
    snprintf(prefix, sizeof(prefix), "%s/chunks/", fmt->name);
    if (rc == 0 && !out->stopped)
        rc = store_list(st, prefix, NULL, on_object, &g);
    rc = rc > 0 ? 0 : rc; /* stopped by a callback */
    if (rc == 0 && delete && !out->stopped)
        delete_pending(&g, ops, m);
    set_free(&g.live);
    set_free(&g.pending);
    return rc;
}
