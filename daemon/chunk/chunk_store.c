/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk store: wires the memory budget, the block caches, the thread
 * pools and the writer together, and owns the path between a block and
 * the object store in both directions (compress + put, get + decompress,
 * through the disk cache when there is one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/chunk_store_i.h"
#include "chunk/compress_i.h"

#define CS_DEFAULT_BUFFER (300ULL << 20)
#define CS_DEFAULT_UPLOADS 20
#define CS_DEFAULT_DOWNLOADS 20
#define CS_READAHEAD_BLOCKS 8
#define CS_MIN_BUFFER_BLOCKS 4
#define CS_DEFAULT_CACHE_SIZE (100ULL << 30) /* JuiceFS's --cache-size default */
#define CS_KEY_MAX 512

/* Reads the stored form of a block and expands it into data[0..bsize). */
static int cs_fetch(struct chunk_store *cs, const char *key, char *data, uint32_t bsize)
{
    size_t got = 0;
    if (cs->cfg.compress == CHUNK_COMPRESS_NONE) {
        int rc = store_get(cs->obj, key, 0, bsize, data, &got);
        return rc < 0 ? rc : got == bsize ? 0 : -EIO;
    }
    size_t cap = mem_buf_cap(compress_bound(cs->cfg.compress, bsize));
    char *raw = mem_buf_alloc(&cs->mem, cap, false);
    if (!raw)
        return -ENOMEM;
    mem_charge_fit(&cs->mem, cap);
    int rc = store_get(cs->obj, key, 0, cap, raw, &got);
    if (rc == 0)
        rc = decompress_block(cs->cfg.compress, raw, got, data, bsize);
    mem_buf_free(&cs->mem, raw, cap);
    mem_release(&cs->mem, cap);
    return rc;
}

/* bcache_load_fn: disk cache first, then the object store. A committed
 * slice's block that is missing is lost data: -EIO, not -ENOENT. */
static int cs_load(void *arg, uint64_t id, uint32_t index, uint32_t bsize, char **data, size_t *cap)
{
    struct chunk_store *cs = arg;
    size_t c = mem_buf_cap(bsize);
    char *buf = mem_buf_alloc(&cs->mem, c, true);
    if (!buf)
        return -ENOMEM;
    mem_charge_fit(&cs->mem, c);
    if (cs->dc && dcache_get(cs->dc, id, index, bsize, buf) == 0) {
        cs_count(&cs->n_disk_hits);
    } else {
        char key[CS_KEY_MAX];
        chunk_block_key(key, sizeof(key), cs->volume, id, index, bsize);
        int rc = cs_fetch(cs, key, buf, bsize);
        if (rc < 0) {
            mem_buf_free(&cs->mem, buf, c);
            mem_release(&cs->mem, c);
            return rc == -ENOENT ? -EIO : rc;
        }
        cs_count(&cs->n_fetched);
        if (cs->dc)
            dcache_put(cs->dc, id, index, bsize, buf);
    }
    *data = buf;
    *cap = c;
    return 0;
}

int cs_put_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize)
{
    char key[CS_KEY_MAX];
    chunk_block_key(key, sizeof(key), cs->volume, id, index, bsize);
    if (cs->cfg.compress == CHUNK_COMPRESS_NONE)
        return store_put(cs->obj, key, data, bsize);

    size_t cap = mem_buf_cap(compress_bound(cs->cfg.compress, bsize)), n = 0;
    char *out = mem_buf_alloc(&cs->mem, cap, false);
    if (!out)
        return -ENOMEM;
    mem_charge_fit(&cs->mem, cap);
    int rc = compress_block(cs->cfg.compress, data, bsize, out, cap, &n);
    if (rc == 0)
        rc = store_put(cs->obj, key, out, n);
    mem_buf_free(&cs->mem, out, cap);
    mem_release(&cs->mem, cap);
    return rc;
}

static uint64_t cs_reclaim(void *arg, uint64_t need)
{
    return bcache_reclaim(arg, need);
}

static int cs_check_config(const struct chunk_config *cfg)
{
    if (!cfg->volume || !cfg->volume[0] || cfg->block_size == 0 || cfg->block_size > META_CHUNK_SIZE)
        return -EINVAL;
    if (cfg->compress != CHUNK_COMPRESS_NONE && cfg->compress != CHUNK_COMPRESS_LZ4 &&
        cfg->compress != CHUNK_COMPRESS_ZSTD)
        return -EINVAL;
    if (cfg->max_uploads < 0 || cfg->max_downloads < 0)
        return -EINVAL;
    return 0;
}

static void cs_apply_defaults(struct chunk_store *cs)
{
    struct chunk_config *c = &cs->cfg;
    if (!c->buffer_size)
        c->buffer_size = CS_DEFAULT_BUFFER;
    /* a writer may hold one block while it waits for the next, and
     * readahead needs room beside it: below this, writers could wait on
     * themselves */
    if (c->buffer_size < CS_MIN_BUFFER_BLOCKS * (uint64_t)c->block_size)
        c->buffer_size = CS_MIN_BUFFER_BLOCKS * (uint64_t)c->block_size;
    if (!c->max_uploads)
        c->max_uploads = CS_DEFAULT_UPLOADS;
    if (!c->max_downloads)
        c->max_downloads = CS_DEFAULT_DOWNLOADS;
    if (!c->cache_size)
        c->cache_size = CS_DEFAULT_CACHE_SIZE;
    c->volume = cs->volume;
    c->cache_dir = cs->cache_dir;
    cs->max_readahead = (uint64_t)c->block_size * CS_READAHEAD_BLOCKS;
    if (cs->max_readahead > c->buffer_size / 4)
        cs->max_readahead = c->buffer_size / 4;
}

static int cs_start(struct chunk_store *cs)
{
    int rc = bcache_new(&cs->mem, cs_load, cs, &cs->bc);
    if (rc == 0 && cs->cache_dir)
        rc = dcache_new(cs->cache_dir, cs->volume, cs->cfg.cache_size, &cs->dc);
    if (rc == 0)
        rc = pool_new(cs->cfg.max_uploads, &cs->uploads);
    if (rc == 0)
        rc = pool_new(cs->cfg.max_downloads, &cs->downloads);
    if (rc == 0)
        rc = writer_new(cs, &cs->writer);
    return rc;
}

int chunk_store_new(const struct chunk_config *cfg, struct store *obj, const struct chunk_meta_hooks *hooks,
                    struct chunk_store **out)
{
    int rc = cs_check_config(cfg);
    *out = NULL;
    if (rc < 0)
        return rc;
    struct chunk_store *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return -ENOMEM;
    cs->cfg = *cfg;
    cs->obj = obj;
    cs->hooks = *hooks;
    cs->volume = strdup(cfg->volume);
    cs->cache_dir = cfg->cache_dir && cfg->cache_dir[0] ? strdup(cfg->cache_dir) : NULL;
    if (!cs->volume || (cfg->cache_dir && cfg->cache_dir[0] && !cs->cache_dir)) {
        free(cs->volume);
        free(cs->cache_dir);
        free(cs);
        return -ENOMEM;
    }
    cs_apply_defaults(cs);
    mem_init(&cs->mem, cs->cfg.buffer_size, mem_buf_cap(cs->cfg.block_size));
    rc = cs_start(cs);
    if (rc < 0) {
        chunk_store_free(cs);
        return rc;
    }
    cs->mem.reclaim = cs_reclaim;
    cs->mem.reclaim_arg = cs->bc;
    *out = cs;
    return 0;
}

void chunk_store_free(struct chunk_store *cs)
{
    if (!cs)
        return;
    writer_stop(cs->writer);    /* flushes: needs the upload pool */
    pool_free(cs->uploads);     /* runs the last commit tasks */
    writer_free(cs->writer);
    pool_free(cs->downloads);   /* readahead done: nothing is pinned */
    bcache_free(cs->bc);
    dcache_free(cs->dc);
    mem_destroy(&cs->mem);
    free(cs->volume);
    free(cs->cache_dir);
    free(cs);
}

int chunk_delete_slice(struct chunk_store *cs, uint64_t id, uint32_t size)
{
    int first = 0;
    uint32_t nblocks = (uint32_t)(((uint64_t)size + cs->cfg.block_size - 1) / cs->cfg.block_size);
    for (uint32_t i = 0; i < nblocks; i++) {
        char key[CS_KEY_MAX];
        uint32_t bsize = cs_block_len(cs, size, i);
        bcache_drop(cs->bc, id, i);
        if (cs->dc)
            dcache_drop(cs->dc, id, i, bsize);
        chunk_block_key(key, sizeof(key), cs->volume, id, i, bsize);
        int rc = store_del(cs->obj, key);
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

void chunk_store_stats(struct chunk_store *cs, struct chunk_stats *out)
{
    *out = (struct chunk_stats){
        .mem_limit = cs->cfg.buffer_size,
        .mem_used = mem_used(&cs->mem),
        .mem_peak = mem_peak(&cs->mem),
        .cache_bytes = bcache_bytes(cs->bc),
        .disk_cache_bytes = cs->dc ? dcache_bytes(cs->dc) : 0,
        .blocks_uploaded = __atomic_load_n(&cs->n_uploaded, __ATOMIC_RELAXED),
        .blocks_fetched = __atomic_load_n(&cs->n_fetched, __ATOMIC_RELAXED),
        .disk_cache_hits = __atomic_load_n(&cs->n_disk_hits, __ATOMIC_RELAXED),
        .slices_committed = __atomic_load_n(&cs->n_committed, __ATOMIC_RELAXED),
    };
}
