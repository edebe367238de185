/* SPDX-License-Identifier: Apache-2.0
 *
 * The memory cache of blocks: uncompressed block data keyed by (slice id,
 * block index), LRU, bounded by the shared memory budget (mem_i.h), and
 * singleflight: many readers asking for a missing block cause one load.
 * Entries are pinned while a reader copies out of them, so the data is
 * used without any lock held. Blocks are immutable, so entries never go
 * stale; only deleted slices are dropped.
 */
#ifndef TIDEFS_BLOCK_CACHE_I_H
#define TIDEFS_BLOCK_CACHE_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk/mem_i.h"

struct block_cache;
struct bcache_entry;

/* Loads block (id, index) of `bsize` bytes: *data is a mem_buf of *cap
 * bytes, already charged to the budget, owned by the cache afterwards.
 * Called without cache locks held. */
typedef int (*bcache_load_fn)(void *arg, uint64_t id, uint32_t index, uint32_t bsize, char **data, size_t *cap);

/* Told about a block just loaded, after the readers waiting for it were
 * released; e is pinned for the call (the loader's pin: take another with
 * bcache_ref to keep it longer). Runs in the loading thread: follow-up
 * work (the disk cache write) belongs here rather than in the load. May
 * be NULL. */
typedef void (*bcache_loaded_fn)(void *arg, struct bcache_entry *e, uint64_t id, uint32_t index, uint32_t bsize);

/* Caller frees with bcache_free(). */
int bcache_new(struct chunk_mem *mem, bcache_load_fn load, bcache_loaded_fn loaded, void *load_arg,
               struct block_cache **out);
void bcache_free(struct block_cache *bc); /* no entry may be pinned */

/* The pinned, loaded block: loads it in this thread when absent, waits
 * when another thread is loading it. Unpin with bcache_unpin(). */
int bcache_get(struct block_cache *bc, uint64_t id, uint32_t index, uint32_t bsize, struct bcache_entry **out);
const char *bcache_data(const struct bcache_entry *e);
void bcache_unpin(struct block_cache *bc, struct bcache_entry *e);
/* One more pin of an entry the caller already holds pinned. */
void bcache_ref(struct block_cache *bc, struct bcache_entry *e);

/* Whether the block is cached or being loaded (a readahead hint only). */
bool bcache_present(struct block_cache *bc, uint64_t id, uint32_t index);

/* Hands a buffer holding a block's data to the cache (a block just
 * uploaded, so that reading it back costs nothing). Takes ownership of
 * `data` (a mem_buf of `cap` bytes whose charge moves to the cache). */
void bcache_insert(struct block_cache *bc, uint64_t id, uint32_t index, uint32_t bsize, char *data, size_t cap);

/* Drops a block (its slice was deleted). */
void bcache_drop(struct block_cache *bc, uint64_t id, uint32_t index);

/* Evicts unpinned blocks, least recently used first, until `need` bytes
 * are freed or nothing more can be; returns the bytes freed. */
uint64_t bcache_reclaim(struct block_cache *bc, uint64_t need);

/* Bytes held by cached blocks. */
uint64_t bcache_bytes(struct block_cache *bc);

#endif
