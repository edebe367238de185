/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk store: wires the memory budget, the block caches, the thread
 * pools and the writer together, and owns the path between a block and
 * the object store in both directions (compress + put, get + decompress,
 * through the disk cache when there is one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/chunk_store_i.h"
#include "chunk/compress_i.h"

#define CS_DEFAULT_BUFFER (300ULL << 20)
#define CS_DEFAULT_UPLOADS 20
#define CS_DEFAULT_DOWNLOADS 20
#define CS_READAHEAD_BLOCKS 16 /* 64 MiB of 4 MiB blocks: ~20 GETs in flight, as a store needs */
#define CS_MIN_BUFFER_BLOCKS 4
#define CS_DEFAULT_CACHE_SIZE (100ULL << 30) /* JuiceFS's --cache-size default */
#define CS_KEY_MAX 512
#define CS_DEFAULT_FREE_RATIO 0.1 /* JuiceFS's --free-space-ratio default */
#define CS_FILL_THREADS 2

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

/* A block whose store copy is missing may still be staged (writeback)
 * in any cache dir, e.g. one the hash sent elsewhere in an earlier run. */
static int cs_load_staged(struct chunk_store *cs, uint64_t id, uint32_t index, uint32_t bsize, char *buf)
{
    for (int i = 0; i < cs->ndirs; i++)
        if (cs->dss[i] && dstage_get(cs->dss[i], id, index, bsize, buf) == 0)
            return 0;
    return -ENOENT;
}

/* bcache_load_fn: disk cache first, then staging, then the object store.
 * A committed slice's block that is missing is lost data: -EIO, not
 * -ENOENT. */
static int cs_load(void *arg, uint64_t id, uint32_t index, uint32_t bsize, char **data, size_t *cap)
{
    struct chunk_store *cs = arg;
    size_t c = mem_buf_cap(bsize);
    /* wait for room rather than overshoot: with many readers loading at
     * once, pinned loads alone would pass the budget (the caller holds no
     * other block, and every holder of memory finishes without it) */
    mem_reserve(&cs->mem, c);
    char *buf = mem_buf_alloc(&cs->mem, c, true);
    if (!buf) {
        mem_release(&cs->mem, c);
        return -ENOMEM;
    }
    int d = cs_dir_of(cs, id, index);
    if (d >= 0 && dcache_get(cs->dcs[d], id, index, bsize, buf) == 0) {
        cs_count(&cs->n_disk_hits);
    } else if (d >= 0 && cs->dss[d] && dstage_get(cs->dss[d], id, index, bsize, buf) == 0) {
        cs_count(&cs->n_disk_hits);
    } else {
        char key[CS_KEY_MAX];
        chunk_block_key(key, sizeof(key), cs->volume, id, index, bsize);
        int rc = cs_fetch(cs, key, buf, bsize);
        if (rc == -ENOENT && cs->cfg.writeback)
            rc = cs_load_staged(cs, id, index, bsize, buf);
        else if (rc == 0)
            cs_count(&cs->n_fetched);
        if (rc < 0) {
            mem_buf_free(&cs->mem, buf, c);
            mem_release(&cs->mem, c);
            return rc == -ENOENT ? -EIO : rc;
        }
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

int cs_store_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize)
{
    if (cs->cfg.writeback && cs->ndirs && staging_stage_block(cs, id, index, data, bsize) == 0)
        return 0;
    int rc = cs_put_block(cs, id, index, data, bsize);
    int d = cs_dir_of(cs, id, index);
    if (rc == 0 && d >= 0) /* written data is often read back soon: keep it (as JuiceFS) */
        dcache_put(cs->dcs[d], id, index, bsize, data);
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
    if (c->free_space_ratio == 0)
        c->free_space_ratio = CS_DEFAULT_FREE_RATIO;
    c->volume = cs->volume;
    c->cache_dir = cs->cache_dir;
    cs->fill_max = c->buffer_size / c->block_size / 8 + 1; /* pinned blocks waiting for the disk */
    cs->max_readahead = c->max_readahead ? c->max_readahead : (uint64_t)c->block_size * CS_READAHEAD_BLOCKS;
    if (cs->max_readahead > c->buffer_size / 4)
        cs->max_readahead = c->buffer_size / 4;
}

/* One disk cache (and, with writeback, staging area) per cache dir. */
static int cs_open_dirs(struct chunk_store *cs)
{
    char *list = strdup(cs->cache_dir), *save = NULL;
    if (!list)
        return -ENOMEM;
    int rc = 0;
    for (char *d = strtok_r(list, ":", &save); d && rc == 0; d = strtok_r(NULL, ":", &save)) {
        if (cs->ndirs == CS_MAX_CACHE_DIRS) {
            rc = -E2BIG;
            break;
        }
        int i = cs->ndirs;
        rc = dcache_new(d, cs->volume, cs->cfg.cache_size, cs->cfg.free_space_ratio, &cs->dcs[i]);
        if (rc == 0 && cs->cfg.writeback)
            rc = dstage_new(d, cs->volume, &cs->dss[i]);
        if (cs->dcs[i])
            cs->ndirs++;
    }
    free(list);
    return rc == 0 && cs->ndirs == 0 ? -EINVAL : rc;
}

static int cs_start(struct chunk_store *cs)
{
    int rc = bcache_new(&cs->mem, cs_load, cache_fill_loaded, cs, &cs->bc);
    if (rc == 0)
        rc = pool_new(CS_FILL_THREADS, &cs->fillers);
    if (rc == 0 && cs->cache_dir)
        rc = cs_open_dirs(cs);
    if (rc == 0 && cs->cfg.writeback && !cs->ndirs)
        rc = -EINVAL; /* staging needs a cache dir */
    if (rc == 0)
        rc = compact_log_new(&cs->compact);
    if (rc == 0)
        rc = pool_new(cs->cfg.max_uploads, &cs->uploads);
    if (rc == 0 && cs->cfg.writeback)
        rc = pool_new(cs->cfg.max_uploads, &cs->stagers);
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
    if (cs->cfg.writeback)
        staging_resume(cs);
    *out = cs;
    return 0;
}

void chunk_store_free(struct chunk_store *cs)
{
    if (!cs)
        return;
    writer_stop(cs->writer);    /* flushes: needs the upload pool */
    pool_free(cs->uploads);     /* runs the last commit tasks */
    pool_free(cs->stagers);     /* writeback: every staged block uploaded */
    writer_free(cs->writer);
    pool_free(cs->downloads);   /* readahead done */
    pool_free(cs->fillers);     /* disk cache writes done: nothing is pinned */
    bcache_free(cs->bc);
    for (int i = 0; i < cs->ndirs; i++) {
        dcache_free(cs->dcs[i]);
        dstage_free(cs->dss[i]);
    }
    compact_log_free(cs->compact);
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
        int d = cs_dir_of(cs, id, i);
        bcache_drop(cs->bc, id, i);
        if (d >= 0)
            dcache_drop(cs->dcs[d], id, i, bsize);
        for (int k = 0; k < cs->ndirs; k++) /* its upload then deletes what it put */
            if (cs->dss[k])
                dstage_remove(cs->dss[k], id, i, bsize);
        chunk_block_key(key, sizeof(key), cs->volume, id, i, bsize);
        int rc = store_del(cs->obj, key);
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}

static uint64_t cs_disk_bytes(struct chunk_store *cs)
{
    uint64_t n = 0;
    for (int i = 0; i < cs->ndirs; i++)
        n += dcache_bytes(cs->dcs[i]);
    return n;
}

static uint64_t cs_staged(struct chunk_store *cs)
{
    uint64_t n = 0;
    for (int i = 0; i < cs->ndirs; i++)
        n += cs->dss[i] ? dstage_count(cs->dss[i]) : 0;
    return n;
}

void chunk_store_stats(struct chunk_store *cs, struct chunk_stats *out)
{
    *out = (struct chunk_stats){
        .mem_limit = cs->cfg.buffer_size,
        .mem_used = mem_used(&cs->mem),
        .mem_peak = mem_peak(&cs->mem),
        .cache_bytes = bcache_bytes(cs->bc),
        .disk_cache_bytes = cs_disk_bytes(cs),
        .blocks_uploaded = __atomic_load_n(&cs->n_uploaded, __ATOMIC_RELAXED),
        .blocks_fetched = __atomic_load_n(&cs->n_fetched, __ATOMIC_RELAXED),
        .disk_cache_hits = __atomic_load_n(&cs->n_disk_hits, __ATOMIC_RELAXED),
        .slices_committed = __atomic_load_n(&cs->n_committed, __ATOMIC_RELAXED),
        .ranged_gets = __atomic_load_n(&cs->n_ranged, __ATOMIC_RELAXED),
        .blocks_staged = cs_staged(cs),
        .compactions = __atomic_load_n(&cs->n_compactions, __ATOMIC_RELAXED),
        .cache_fills_inline = __atomic_load_n(&cs->n_fill_inline, __ATOMIC_RELAXED),
    };
}
