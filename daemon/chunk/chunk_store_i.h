/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk store's shared state, seen by the modules that make it up
 * (reader.c, writer.c, chunk_store.c), and the block helpers they share.
 */
#ifndef TIDEFS_CHUNK_STORE_I_H
#define TIDEFS_CHUNK_STORE_I_H

#include "chunk/block_cache_i.h"
#include "chunk/chunk.h"
#include "chunk/disk_cache_i.h"
#include "chunk/mem_i.h"
#include "chunk/pool_i.h"

struct chunk_writer; /* writer.c */

struct chunk_store {
    struct chunk_config cfg; /* strings point at the copies below */
    char *volume;
    char *cache_dir;
    struct store *obj;              /* borrowed */
    struct chunk_meta_hooks hooks;
    struct chunk_mem mem;
    struct block_cache *bc;
    struct disk_cache *dc;          /* NULL without --cache-dir */
    struct chunk_pool *uploads;     /* uploads and commits */
    struct chunk_pool *downloads;   /* readahead */
    struct chunk_writer *writer;
    uint64_t max_readahead;         /* bytes */
    uint64_t n_inflight;            /* block uploads queued or running; atomic */
    /* counters for chunk_store_stats; atomic */
    uint64_t n_uploaded, n_fetched, n_disk_hits, n_committed;
};

/* Size of block `index` of a slice of `size` bytes. */
static inline uint32_t cs_block_len(const struct chunk_store *cs, uint32_t size, uint32_t index)
{
    uint64_t start = (uint64_t)index * cs->cfg.block_size;
    uint64_t left = size > start ? size - start : 0;
    return left < cs->cfg.block_size ? (uint32_t)left : cs->cfg.block_size;
}

static inline void cs_count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Stores one block (compressing it per the volume setting). */
int cs_put_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize);

/* writer.c: the write side. Teardown is writer_stop (stops the flusher
 * thread and flushes everything), then the upload pool is drained, then
 * writer_free. Both accept NULL. */
int writer_new(struct chunk_store *cs, struct chunk_writer **out);
void writer_stop(struct chunk_writer *w);
void writer_free(struct chunk_writer *w);

#endif
