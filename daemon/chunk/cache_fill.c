/* SPDX-License-Identifier: Apache-2.0
 *
 * Filling the disk cache with blocks fetched from the store, off the read
 * path: a loaded block is queued (pinned) for a small pool of writer
 * threads, so a cold reader waits for the GET only. The queue is bounded
 * (pinned blocks cannot be evicted): when the cache disk cannot keep up,
 * the loading thread writes the block itself, which slows loads down to
 * the disk's pace instead of leaving blocks uncached (warmup relies on
 * every block read landing in the cache).
 */
#include <stdlib.h>

#include "chunk/chunk_store_i.h"

struct fill_task {
    struct pool_task task;
    struct chunk_store *cs;
    struct bcache_entry *e; /* pinned for us */
    uint64_t id;
    uint32_t index, bsize;
};

static void fill_run(struct pool_task *t)
{
    struct fill_task *f = (struct fill_task *)t;
    struct chunk_store *cs = f->cs;
    int d = cs_dir_of(cs, f->id, f->index);
    dcache_put(cs->dcs[d], f->id, f->index, f->bsize, bcache_data(f->e));
    bcache_unpin(cs->bc, f->e);
    __atomic_fetch_sub(&cs->fill_pending, 1, __ATOMIC_RELAXED);
    free(f);
}

void cache_fill_loaded(void *arg, struct bcache_entry *e, uint64_t id, uint32_t index, uint32_t bsize)
{
    struct chunk_store *cs = arg;
    int d = cs_dir_of(cs, id, index);
    if (d < 0 || dcache_has(cs->dcs[d], id, index))
        return; /* no cache dir, or it came from there */
    struct fill_task *f = NULL;
    if (__atomic_add_fetch(&cs->fill_pending, 1, __ATOMIC_RELAXED) > cs->fill_max || !(f = malloc(sizeof(*f)))) {
        __atomic_fetch_sub(&cs->fill_pending, 1, __ATOMIC_RELAXED);
        cs_count(&cs->n_fill_inline);
        dcache_put(cs->dcs[d], id, index, bsize, bcache_data(e)); /* under our own pin */
        return;
    }
    *f = (struct fill_task){.task.run = fill_run, .cs = cs, .e = e, .id = id, .index = index, .bsize = bsize};
    bcache_ref(cs->bc, e);
    pool_submit(cs->fillers, &f->task);
}
