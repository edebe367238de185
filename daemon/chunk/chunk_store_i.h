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
#include "chunk/disk_stage_i.h"
#include "chunk/mem_i.h"
#include "chunk/pool_i.h"

struct chunk_writer; /* writer.c */
struct compact_log;  /* compact.c */

#define CS_MAX_CACHE_DIRS 16

struct chunk_store {
    struct chunk_config cfg; /* strings point at the copies below */
    char *volume;
    char *cache_dir;                /* "DIR[:DIR...]" */
    struct store *obj;              /* borrowed */
    struct chunk_meta_hooks hooks;
    struct chunk_mem mem;
    struct block_cache *bc;
    struct disk_cache *dcs[CS_MAX_CACHE_DIRS]; /* one per cache dir */
    struct disk_stage *dss[CS_MAX_CACHE_DIRS]; /* with writeback only */
    int ndirs;                      /* 0 without --cache-dir */
    struct chunk_pool *stagers;     /* writeback uploads of staged blocks */
    struct chunk_pool *fillers;     /* disk cache writes of fetched blocks */
    uint64_t fill_pending;          /* queued on fillers; atomic */
    uint64_t fill_max;              /* more than this pending: write inline */
    struct compact_log *compact;    /* commit counts per chunk */
    struct chunk_pool *uploads;     /* uploads and commits */
    struct chunk_pool *downloads;   /* readahead */
    struct chunk_writer *writer;
    uint64_t max_readahead;         /* bytes */
    uint64_t n_inflight;            /* block uploads queued or running; atomic */
    /* counters for chunk_store_stats; atomic */
    uint64_t n_uploaded, n_fetched, n_disk_hits, n_committed, n_ranged, n_compactions, n_fill_inline;
};

/* The cache dir (index into dcs/dss) that holds block (id, index). */
static inline int cs_dir_of(const struct chunk_store *cs, uint64_t id, uint32_t index)
{
    uint64_t h = (id * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)index * 0xC2B2AE3D27D4EB4FULL);
    return cs->ndirs ? (int)((h >> 17) % (uint64_t)cs->ndirs) : -1;
}

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
/* A written block on its way out: with writeback it is staged on disk
 * (uploaded later), else uploaded now; either way also disk-cached. */
int cs_store_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize);

/* cache_fill.c: bcache_loaded_fn that queues a fetched block for the
 * disk cache (cs is the arg). */
void cache_fill_loaded(void *arg, struct bcache_entry *e, uint64_t id, uint32_t index, uint32_t bsize);

/* compact.c: counts commits per chunk for chunk_compact_candidates. */
int compact_log_new(struct compact_log **out);
void compact_log_free(struct compact_log *l); /* accepts NULL */
void compact_log_commit(struct compact_log *l, uint64_t ino, uint32_t indx);

/* staging.c (writeback): queues uploads of what a previous run left
 * staged; stage_block stages one block and queues its upload. */
void staging_resume(struct chunk_store *cs);
int staging_stage_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize);

/* writer.c: the write side. Teardown is writer_stop (stops the flusher
 * thread and flushes everything), then the upload pool is drained, then
 * writer_free. Both accept NULL. */
int writer_new(struct chunk_store *cs, struct chunk_writer **out);
void writer_stop(struct chunk_writer *w);
void writer_free(struct chunk_writer *w);

#endif
