/* SPDX-License-Identifier: Apache-2.0
 *
 * The optional disk cache of blocks (--cache-dir, --cache-size): one file
 * per block under <dir>/<volume>/raw/, uncompressed data followed by a
 * CRC-32C trailer, written to a temp file and renamed into place. It is a
 * cache only: anything missing, short or corrupt reads as a miss (and is
 * removed), and every error is swallowed, so the caller falls back to the
 * object store. Bounded by capacity, least recently used evicted first.
 */
#ifndef TIDEFS_DISK_CACHE_I_H
#define TIDEFS_DISK_CACHE_I_H

#include <stdint.h>

struct disk_cache;

/* Opens (creating) the cache for `volume` under `dir` and indexes the
 * blocks already there. Caller frees with dcache_free(). */
int dcache_new(const char *dir, const char *volume, uint64_t capacity, struct disk_cache **out);
void dcache_free(struct disk_cache *dc); /* accepts NULL */

/* Reads block (id, index) of bsize bytes into buf: 0, or -ENOENT on a
 * miss (including a corrupt file, which is removed). */
int dcache_get(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, char *buf);
/* Stores a block, evicting older ones to stay within capacity; best
 * effort. */
void dcache_put(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, const char *buf);
void dcache_drop(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize);
/* Bytes the index accounts for (data + trailers). */
uint64_t dcache_bytes(struct disk_cache *dc);

#endif
