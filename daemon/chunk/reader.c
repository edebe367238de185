/* SPDX-License-Identifier: Apache-2.0
 *
 * The read path: resolve the chunk's slices (on the stack), then copy each
 * visible piece out of the block cache, zero-filling holes without any
 * lookup. A per-open-file chunk_reader detects sequential access and
 * prefetches the next blocks on the download pool, the window doubling
 * from one block up to max_readahead while reads stay sequential and
 * dropping to nothing on a random read (which therefore costs no
 * readahead). Readahead that runs past the chunk's end is handed to the
 * caller (chunk_reader_spill), who knows the next chunk's slices.
 *
 * A small random read (at most a quarter block) of a block not in memory
 * reads just its range: from the disk cache when it is there (checking
 * only the segments read), else by a ranged GET, after which the whole
 * block is loaded in the background for the reads that follow (as
 * JuiceFS): a cold 4 KiB read then waits for 4 KiB, not a whole block.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/chunk_store_i.h"
#include "chunk/slice_i.h"

#define READ_STACK_SEGS 128

struct chunk_reader {
    struct chunk_store *cs;
    uint64_t ino;
    pthread_mutex_t lock;
    uint64_t last_end; /* file offset after the furthest recent read; protected by lock */
    uint64_t ra_end;   /* prefetch issued up to here; protected by lock */
    uint64_t window;   /* current readahead bytes; protected by lock */
    uint32_t spill_indx;             /* chunk whose start readahead wants; protected by lock */
    uint32_t spill_from, spill_to;   /* that range of it (empty: none) */
};

struct prefetch_task {
    struct pool_task task;
    struct chunk_store *cs;
    uint64_t id;
    uint32_t index;
    uint32_t bsize;
};

struct chunk_reader *chunk_reader_new(struct chunk_store *cs, uint64_t ino)
{
    struct chunk_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->cs = cs;
    r->ino = ino;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void chunk_reader_free(struct chunk_reader *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void prefetch_block(struct chunk_store *cs, uint64_t id, uint32_t index, uint32_t bsize);

/* A small read of an uncached block: a ranged GET into dst, and the whole
 * block loaded in the background. -EAGAIN: not applicable, read it whole
 * (cached on disk or in memory, loading already, compressed, staged). */
static int read_ranged(struct chunk_store *cs, uint64_t id, uint32_t index, uint32_t bsize, uint32_t boff,
                       size_t m, char *dst)
{
    int d = cs_dir_of(cs, id, index);
    if (m > cs->cfg.block_size / 4 || bcache_present(cs->bc, id, index))
        return -EAGAIN;
    if (d >= 0 && dcache_has(cs->dcs[d], id, index)) { /* the disk cache answers ranges itself */
        if (dcache_get_range(cs->dcs[d], id, index, bsize, boff, (uint32_t)m, dst) < 0)
            return -EAGAIN;
        cs_count(&cs->n_disk_hits);
        return 0;
    }
    if (cs->cfg.compress != CHUNK_COMPRESS_NONE)
        return -EAGAIN;
    char key[512];
    size_t got = 0;
    chunk_block_key(key, sizeof(key), cs->volume, id, index, bsize);
    if (store_get(cs->obj, key, boff, m, dst, &got) < 0 || got != m)
        return -EAGAIN; /* the whole-block path reports the error (or finds it staged) */
    cs_count(&cs->n_ranged);
    prefetch_block(cs, id, index, bsize);
    return 0;
}

/* Copies n bytes at offset `soff` of slice (id, size) into dst; `ranged`
 * allows read_ranged for small pieces. */
static int read_slice(struct chunk_store *cs, uint64_t id, uint32_t size, uint32_t soff, size_t n, char *dst,
                      bool ranged)
{
    uint32_t bs = cs->cfg.block_size;
    while (n > 0) {
        uint32_t index = soff / bs, boff = soff % bs;
        uint32_t bsize = cs_block_len(cs, size, index);
        size_t m = bsize - boff < n ? bsize - boff : n;
        if (ranged && read_ranged(cs, id, index, bsize, boff, m, dst) == 0) {
            dst += m;
            soff += (uint32_t)m;
            n -= m;
            continue;
        }
        struct bcache_entry *e;
        int rc = bcache_get(cs->bc, id, index, bsize, &e);
        if (rc < 0)
            return rc;
        memcpy(dst, bcache_data(e) + boff, m);
        bcache_unpin(cs->bc, e);
        dst += m;
        soff += (uint32_t)m;
        n -= m;
    }
    return 0;
}

/* Index of the segment containing chunk offset `off` (or nseg). */
static size_t seg_find(const struct chunk_segment *segs, size_t nseg, uint32_t off)
{
    size_t lo = 0, hi = nseg;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (segs[mid].pos + segs[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int read_segments(struct chunk_store *cs, const struct chunk_segment *segs, size_t nseg, uint32_t off,
                         size_t len, char *buf, bool ranged)
{
    for (size_t i = seg_find(segs, nseg, off); len > 0; i++) {
        if (i >= nseg) { /* past the chunk's data */
            memset(buf, 0, len);
            return 0;
        }
        const struct chunk_segment *g = &segs[i];
        uint32_t into = off - g->pos;
        size_t m = g->len - into < len ? g->len - into : len;
        if (g->id == 0) {
            memset(buf, 0, m);
        } else {
            int rc = read_slice(cs, g->id, g->size, g->off + into, m, buf, ranged);
            if (rc < 0)
                return rc;
        }
        buf += m;
        off += (uint32_t)m;
        len -= m;
    }
    return 0;
}

static void prefetch_run(struct pool_task *t)
{
    struct prefetch_task *p = (struct prefetch_task *)t;
    struct bcache_entry *e;
    if (bcache_get(p->cs->bc, p->id, p->index, p->bsize, &e) == 0)
        bcache_unpin(p->cs->bc, e);
    free(p);
}

/* Whether prefetching one more block keeps memory for what was asked:
 * write buffers and pinned data must leave room. */
static bool prefetch_room(struct chunk_store *cs, uint32_t bsize)
{
    uint64_t used = mem_used(&cs->mem), cached = bcache_bytes(cs->bc);
    uint64_t busy = used > cached ? used - cached : 0;
    return busy + cs->max_readahead + bsize <= cs->cfg.buffer_size;
}

static void prefetch_block(struct chunk_store *cs, uint64_t id, uint32_t index, uint32_t bsize)
{
    if (bcache_present(cs->bc, id, index) || !prefetch_room(cs, bsize))
        return;
    struct prefetch_task *p = malloc(sizeof(*p));
    if (!p)
        return;
    *p = (struct prefetch_task){.task.run = prefetch_run, .cs = cs, .id = id, .index = index, .bsize = bsize};
    pool_submit(cs->downloads, &p->task);
}

/* Prefetches the blocks under chunk range [from, to). */
static void prefetch_range(struct chunk_store *cs, const struct chunk_segment *segs, size_t nseg, uint32_t from,
                           uint32_t to)
{
    uint32_t bs = cs->cfg.block_size;
    for (size_t i = seg_find(segs, nseg, from); i < nseg && segs[i].pos < to; i++) {
        const struct chunk_segment *g = &segs[i];
        if (g->id == 0)
            continue;
        uint32_t a = from > g->pos ? from : g->pos;
        uint32_t b = to < g->pos + g->len ? to : g->pos + g->len;
        uint32_t first = (g->off + (a - g->pos)) / bs, last = (g->off + (b - g->pos) - 1) / bs;
        for (uint32_t k = first; k <= last; k++)
            prefetch_block(cs, g->id, k, cs_block_len(cs, g->size, k));
    }
}

/* Updates the access pattern after a read of chunk range [off, off+len)
 * and returns the chunk range to prefetch (empty when from >= to). */
static void reader_advance(struct chunk_reader *r, uint32_t indx, uint32_t off, size_t len, uint32_t *from,
                           uint32_t *to)
{
    struct chunk_store *cs = r->cs;
    uint64_t base = (uint64_t)indx << META_CHUNK_BITS;
    uint64_t start = base + off, end = start + len;

    pthread_mutex_lock(&r->lock);
    /* multi-threaded FUSE delivers sequential reads slightly out of order */
    bool seq = start + cs->max_readahead >= r->last_end && start <= r->last_end + cs->cfg.block_size;
    if (seq) {
        r->window = r->window ? r->window * 2 : cs->cfg.block_size;
        if (r->window > cs->max_readahead)
            r->window = cs->max_readahead;
        if (end > r->last_end)
            r->last_end = end;
    } else {
        r->window = 0;
        r->last_end = end;
        r->ra_end = end;
    }
    uint64_t a = r->ra_end > end ? r->ra_end : end, b = end + r->window, limit = base + META_CHUNK_SIZE;
    if (b > limit && a < b) { /* the part in the next chunk: chunk_reader_spill */
        uint64_t sa = a > limit ? a : limit;
        r->spill_indx = indx + 1;
        r->spill_from = (uint32_t)(sa - limit);
        r->spill_to = (uint32_t)(b - limit < META_CHUNK_SIZE ? b - limit : META_CHUNK_SIZE);
    }
    if (b > r->ra_end)
        r->ra_end = b;
    if (b > limit)
        b = limit;
    if (a < base)
        a = base;
    pthread_mutex_unlock(&r->lock);
    *from = a < b ? (uint32_t)(a - base) : 0;
    *to = a < b ? (uint32_t)(b - base) : 0;
}

/* Whether the reader's last access was random (no readahead window). */
static bool reader_random(struct chunk_reader *r)
{
    pthread_mutex_lock(&r->lock);
    bool random = r->window == 0;
    pthread_mutex_unlock(&r->lock);
    return random;
}

bool chunk_reader_spill(struct chunk_reader *r, uint32_t indx, uint32_t *off, uint32_t *len)
{
    if (!r)
        return false;
    pthread_mutex_lock(&r->lock);
    bool want = r->spill_indx == indx + 1 && r->spill_to > r->spill_from;
    if (want) {
        *off = r->spill_from;
        *len = r->spill_to - r->spill_from;
        r->spill_from = r->spill_to = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return want;
}

void chunk_prefetch(struct chunk_store *cs, uint32_t indx, const struct meta_slice *slices, size_t nslices,
                    uint32_t off, uint32_t len)
{
    (void)indx;
    if (nslices == 0 || len == 0 || (uint64_t)off + len > META_CHUNK_SIZE)
        return;
    struct chunk_segment stack[READ_STACK_SEGS], *segs = stack;
    size_t nseg = 0, cap = slice_resolve_cap(nslices);
    if (cap > READ_STACK_SEGS && !(segs = malloc(cap * sizeof(*segs))))
        return;
    if (slice_resolve_into(slices, nslices, segs, &nseg) == 0)
        prefetch_range(cs, segs, nseg, off, off + len);
    if (segs != stack)
        free(segs);
}

int chunk_read(struct chunk_store *cs, struct chunk_reader *r, uint32_t indx, const struct meta_slice *slices,
               size_t nslices, uint32_t off, size_t len, char *buf)
{
    if ((uint64_t)off + len > META_CHUNK_SIZE)
        return -EINVAL;
    if (nslices == 0) {
        memset(buf, 0, len);
        return 0;
    }
    struct chunk_segment stack[READ_STACK_SEGS], *segs = stack;
    size_t nseg = 0, cap = slice_resolve_cap(nslices);
    if (cap > READ_STACK_SEGS && !(segs = malloc(cap * sizeof(*segs))))
        return -ENOMEM;
    int rc = slice_resolve_into(slices, nslices, segs, &nseg);
    if (rc == 0 && r) {
        uint32_t from, to;
        reader_advance(r, indx, off, len, &from, &to);
        if (from < to)
            prefetch_range(cs, segs, nseg, from, to);
    }
    if (rc == 0)
        rc = read_segments(cs, segs, nseg, off, len, buf, r && len <= cs->cfg.block_size / 4 && reader_random(r));
    if (segs != stack)
        free(segs);
    return rc;
}

void chunk_invalidate(struct chunk_store *cs, uint64_t ino)
{
    /* Cached blocks are keyed by slice id and objects are immutable, so a
     * file whose content changed elsewhere only has new slices, which no
     * cached block can be mistaken for: there is nothing per inode to
     * drop. The VFS must still re-read the slice lists (it owns them). */
    (void)cs;
    (void)ino;
}
