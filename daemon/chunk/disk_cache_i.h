/* SPDX-License-Identifier: Apache-2.0
 *
 * The optional disk cache of blocks (--cache-dir, --cache-size): one file
 * per block under <dir>/<volume>/raw/, uncompressed data followed by a
 * CRC-32C trailer, written to a temp file and renamed into place. It is a
 * cache only: anything missing, short or corrupt reads as a miss (and is
 * removed), and every error is swallowed, so the caller falls back to the
 * object store. Bounded by capacity, least recently used evicted first,
 * and by the free space of its file system (free_ratio: below that share
 * free, nothing new is cached and old blocks are evicted).
 */
#ifndef TIDEFS_DISK_CACHE_I_H
#define TIDEFS_DISK_CACHE_I_H

#include <stdbool.h>
#include <stdint.h>

struct disk_cache;

/* Opens (creating) the cache for `volume` under `dir` and indexes the
 * blocks already there. Caller frees with dcache_free(). */
int dcache_new(const char *dir, const char *volume, uint64_t capacity, double free_ratio, struct disk_cache **out);
void dcache_free(struct disk_cache *dc); /* accepts NULL */

/* Reads block (id, index) of bsize bytes into buf: 0, or -ENOENT on a
 * miss (including a corrupt file, which is removed). */
int dcache_get(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, char *buf);
/* Reads [off, off+len) of a cached block into dst, verifying only the
 * checksums of the segments read: 0, or -ENOENT as dcache_get. */
int dcache_get_range(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, uint32_t off, uint32_t len,
                     char *dst);
/* Stores a block, evicting older ones to stay within capacity; best
 * effort. */
void dcache_put(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, const char *buf);
void dcache_drop(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize);
/* Whether the index holds the block (a hint: the file may be damaged). */
bool dcache_has(struct disk_cache *dc, uint64_t id, uint32_t index);
/* Bytes the index accounts for (data + trailers). */
uint64_t dcache_bytes(struct disk_cache *dc);

/* The block file format, shared with the writeback staging area
 * (disk_stage_i.h): bsize data bytes, then a CRC-32C per 64 KiB segment
 * and a magic. read: 0, or -ENOENT (absent) / -EIO (short, long or
 * corrupt); read_range checks only the segments under the range. write
 * goes through a temp file named with `seq` and a rename; `durable`
 * fsyncs it first. */
int dcache_file_read(const char *path, uint32_t bsize, char *buf);
int dcache_file_read_range(const char *path, uint32_t bsize, uint32_t off, uint32_t len, char *dst);
int dcache_file_write(const char *path, uint64_t seq, uint32_t bsize, const char *buf, bool durable);

#endif
