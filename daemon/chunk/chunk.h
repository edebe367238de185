/* SPDX-License-Identifier: Apache-2.0
 *
 * The data path between the VFS and the object store: turning a chunk's
 * slice list into bytes (through the block caches, with readahead), and
 * turning application writes into immutable blocks that are uploaded first
 * and committed to metadata afterwards (through a callback, so this layer
 * never talks to the metadata engine itself).
 *
 * Memory: all buffered write data and all cached/readahead block data count
 * against config.buffer_size; writers slow down and then block instead of
 * growing memory past it.
 *
 * Threading (all functions are safe to call from many threads at once):
 *  - chunk_write/chunk_flush/chunk_dirty of one inode serialise on that
 *    inode's lock; different inodes never contend. Concurrent writes to
 *    one inode are each applied whole unless one has to wait for memory,
 *    when they may interleave block by block (as POSIX allows). A flush
 *    waits for the writes that returned before it began; writes arriving
 *    meanwhile proceed and are left for the next flush.
 *  - chunk_read never takes a writer lock and holds no lock during I/O or
 *    copies; one chunk_reader may be used by several threads at once.
 *  - Reads see committed slices only: flush an inode with buffered writes
 *    (chunk_dirty) before reading it, as the VFS does.
 *  - hooks->new_slice_id is called from chunk_write's thread with the
 *    inode's write lock held; hooks->commit from an upload-pool thread
 *    with no chunk lock held, and may block (it holds one upload thread).
 *    Neither may call chunk_write/chunk_flush/chunk_flush_all (a commit
 *    that waits for a flush would wait for itself).
 *  - Commit order is per inode+chunk; slices of different chunks of one
 *    file may be committed in any order relative to each other.
 */
#ifndef TIDEFS_CHUNK_H
#define TIDEFS_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"
#include "object/store.h"

enum chunk_compress { CHUNK_COMPRESS_NONE = 0, CHUNK_COMPRESS_LZ4, CHUNK_COMPRESS_ZSTD };

/* Hooks into the metadata engine, called from upload threads. */
struct chunk_meta_hooks {
    void *arg;
    /* A fresh, never used slice id. */
    int (*new_slice_id)(void *arg, uint64_t *id);
    /* Commit one slice whose blocks are all stored. Called once per slice,
     * in the order the slices were written for a given inode+chunk. */
    int (*commit)(void *arg, uint64_t ino, uint32_t indx, const struct meta_slice *s);
};

struct chunk_config {
    const char *volume;   /* volume name: the key prefix; borrowed */
    uint32_t block_size;  /* bytes */
    enum chunk_compress compress;
    uint64_t buffer_size; /* bytes of memory for read + write buffers;
                           * 0 = 300 MiB; raised to at least 4 blocks */
    const char *cache_dir; /* NULL = no disk cache; borrowed; "DIR[:DIR...]"
                            * spreads blocks over several disks */
    uint64_t cache_size;   /* bytes on disk (each dir); 0 = 100 GiB */
    int max_uploads;       /* background upload threads; 0 = 20 */
    int max_downloads;     /* readahead threads; 0 = 20 */
    double free_space_ratio; /* keep this share of each cache disk free;
                              * 0 = 0.1, negative = no check */
    bool writeback;        /* stage blocks in the cache dir, commit at once,
                            * upload in the background (needs cache_dir) */
    uint64_t max_readahead; /* bytes per open file; 0 = 16 blocks (at most
                             * a quarter of buffer_size either way) */
};

struct chunk_store;  /* opaque: caches, upload pool, write buffers */
struct chunk_reader; /* opaque: per-open-file read state (readahead) */

/* `obj` is borrowed and must outlive the chunk store. Caller frees with
 * chunk_store_free(), which waits for background uploads (their failures
 * are reported by the next flush of the inode, or lost if none follows). */
int chunk_store_new(const struct chunk_config *cfg, struct store *obj, const struct chunk_meta_hooks *hooks,
                    struct chunk_store **out);
void chunk_store_free(struct chunk_store *cs);

/* --- reading ---------------------------------------------------------- */

/* Per open file; caller frees with chunk_reader_free (accepts NULL). */
struct chunk_reader *chunk_reader_new(struct chunk_store *cs, uint64_t ino);
void chunk_reader_free(struct chunk_reader *r);

/* Read `len` bytes at `off` within chunk `indx` whose committed slices
 * (oldest first) are `slices`. Holes and ranges no slice covers read as
 * zeros. The caller clips the range to the file length. `r` may be NULL
 * (no readahead). Returns 0 or -errno; buf is fully written on success. */
int chunk_read(struct chunk_store *cs, struct chunk_reader *r, uint32_t indx, const struct meta_slice *slices,
               size_t nslices, uint32_t off, size_t len, char *buf);

/* Readahead that runs past the end of chunk `indx`: true, with the range
 * [*off, *off + *len) of chunk indx+1 to prefetch, when the reader wants
 * it; the caller then passes that chunk's slices to chunk_prefetch. */
bool chunk_reader_spill(struct chunk_reader *r, uint32_t indx, uint32_t *off, uint32_t *len);

/* Starts background loads of the blocks under [off, off+len) of a chunk
 * (within the memory budget; never blocks on I/O). */
void chunk_prefetch(struct chunk_store *cs, uint32_t indx, const struct meta_slice *slices, size_t nslices,
                    uint32_t off, uint32_t len);

/* Drop cached read data of an inode (its content changed elsewhere). */
void chunk_invalidate(struct chunk_store *cs, uint64_t ino);

/* --- writing ---------------------------------------------------------- */

/* Buffer a write at file offset `off`. Full blocks start uploading in the
 * background. May block while memory is over budget. Returns 0 or the
 * -errno of an earlier background failure of this inode (which is then
 * cleared). */
int chunk_write(struct chunk_store *cs, uint64_t ino, uint64_t off, const char *buf, size_t len);

/* Upload and commit every buffered write of the inode; returns when all
 * are committed (0) or the first failure (-errno). */
int chunk_flush(struct chunk_store *cs, uint64_t ino);

/* Whether the inode has buffered or in-flight writes, and the file length
 * they imply (0 when none). */
bool chunk_dirty(struct chunk_store *cs, uint64_t ino, uint64_t *pending_len);

/* Flush every inode (unmount). */
int chunk_flush_all(struct chunk_store *cs);

/* --- compaction ------------------------------------------------------- */

/* Chunks this mount committed slices to (compaction candidates): fills
 * up to `max` of them; `quiet` ones took no commit for a while and are
 * forgotten once returned, busy ones are returned again later. */
struct chunk_ref {
    uint64_t ino;
    uint32_t indx;
    uint32_t commits; /* since the chunk was last returned */
    bool quiet;
};
size_t chunk_compact_candidates(struct chunk_store *cs, struct chunk_ref *out, size_t max);

/* Copies what chunk `indx` (its committed slices) shows in [pos, pos+len)
 * into the blocks of a new slice `id` of `len` bytes, block by block (one
 * block of memory), uploading each directly (never staged). The caller
 * then swaps the slice in (meta compact_chunk) or deletes it. */
int chunk_compact_copy(struct chunk_store *cs, uint32_t indx, const struct meta_slice *slices, size_t nslices,
                       uint64_t id, uint32_t pos, uint32_t len);

/* --- deletion --------------------------------------------------------- */

/* Delete every block of slice (id, size) from the store and caches. */
int chunk_delete_slice(struct chunk_store *cs, uint64_t id, uint32_t size);

/* --- observability ---------------------------------------------------- */

struct chunk_stats {
    uint64_t mem_limit;       /* config.buffer_size, after defaults */
    uint64_t mem_used;        /* bytes charged now: write buffers + cached blocks */
    uint64_t mem_peak;        /* highest mem_used so far */
    uint64_t cache_bytes;     /* memory cache */
    uint64_t disk_cache_bytes;
    uint64_t blocks_uploaded; /* successful PUTs */
    uint64_t blocks_fetched;  /* GETs from the object store */
    uint64_t disk_cache_hits;
    uint64_t slices_committed;
    uint64_t ranged_gets;     /* partial-block GETs for small random reads */
    uint64_t blocks_staged;   /* --writeback: staged, not yet uploaded */
    uint64_t compactions;     /* chunks rewritten by chunk_compact_copy */
    uint64_t cache_fills_inline; /* disk cache writes a loader did itself (disk lagging) */
};

void chunk_store_stats(struct chunk_store *cs, struct chunk_stats *out);

/* --- pure helpers (unit tested) --------------------------------------- */

/* Object key of block `index` of slice `id` whose size is `bsize`:
 * "<volume>/chunks/<id/1e6>/<id/1e3>/<id>_<index>_<bsize>". Returns the
 * length written (snprintf semantics). */
int chunk_block_key(char *buf, size_t buflen, const char *volume, uint64_t id, uint32_t index, uint32_t bsize);

/* A visible piece of a chunk after newer slices covered older ones. */
struct chunk_segment {
    uint32_t pos;  /* chunk offset */
    uint32_t len;
    uint64_t id;   /* 0 = zeros */
    uint32_t size; /* slice size */
    uint32_t off;  /* offset inside the slice */
};

/* Whether [off, off+len) of the chunk reads as zeros only (holes, gaps,
 * past the end), so the caller may answer from a shared zero buffer
 * without calling chunk_read or clearing memory. Invalid slices: false. */
bool chunk_range_is_hole(const struct meta_slice *slices, size_t n, uint32_t off, size_t len);

/* Resolve slices (oldest first) into non-overlapping segments sorted by
 * pos covering [0, chunk_end) with no gaps (gaps become id 0). *out is
 * malloc'ed, caller frees. */
int chunk_resolve(const struct meta_slice *slices, size_t n, struct chunk_segment **out, size_t *nout);

#endif
