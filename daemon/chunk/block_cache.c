/* SPDX-License-Identifier: Apache-2.0
 *
 * Memory block cache (see block_cache_i.h).
 *
 * Locking: the key space is split over BC_SHARDS shards, each with its own
 * mutex, hash table and LRU list; a lookup takes one shard lock briefly
 * and never holds it during I/O or a copy. Every entry field below is
 * protected by its shard's lock, except `data`/`cap`, which are written
 * once by the loader before the entry becomes READY and are read-only
 * while the entry is pinned.
 *
 * Entry states:  LOADING --(load ok: finish_load)--> READY
 *                LOADING --(load failed)--> FAILED (unhashed at once)
 * An entry leaves the hash on failure, eviction or bcache_drop and is
 * freed when its last pin goes.
 */
#include <errno.h>
#include <stdlib.h>

#include "chunk/block_cache_i.h"

#define BC_SHARDS 32
#define BC_BUCKETS 1024 /* per shard */

enum { BC_LOADING, BC_READY, BC_FAILED };

struct bcache_entry {
    struct bcache_entry *hnext;
    struct bcache_entry *lprev, *lnext; /* LRU, READY and hashed only */
    uint64_t id;
    uint32_t index;
    uint32_t bsize;
    char *data;
    size_t cap;
    uint64_t stamp; /* last use, from the cache-wide clock */
    int refs;
    int state;
    int err;
    bool hashed;
};

struct bc_shard {
    pthread_mutex_t lock;
    pthread_cond_t loaded; /* broadcast when an entry leaves LOADING */
    struct bcache_entry *buckets[BC_BUCKETS];
    struct bcache_entry lru; /* sentinel: lru.lnext is the most recent */
    uint64_t bytes;          /* READY data held by hashed entries */
};

struct block_cache {
    struct chunk_mem *mem;
    bcache_load_fn load;
    bcache_loaded_fn loaded;
    void *load_arg;
    uint64_t clock;        /* use counter for LRU stamps; atomic */
    uint64_t total_bytes;  /* sum of shard bytes; atomic */
    struct bc_shard shards[BC_SHARDS];
};

static uint64_t bc_hash(uint64_t id, uint32_t index)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)index * 0xC2B2AE3D27D4EB4FULL);
    return h ^ (h >> 29);
}

static struct bc_shard *bc_shard_of(struct block_cache *bc, uint64_t h)
{
    return &bc->shards[h % BC_SHARDS];
}

static struct bcache_entry **bc_bucket(struct bc_shard *sh, uint64_t h)
{
    return &sh->buckets[(h / BC_SHARDS) % BC_BUCKETS];
}

int bcache_new(struct chunk_mem *mem, bcache_load_fn load, bcache_loaded_fn loaded, void *load_arg,
               struct block_cache **out)
{
    struct block_cache *bc = calloc(1, sizeof(*bc));
    if (!bc)
        return -ENOMEM;
    bc->mem = mem;
    bc->load = load;
    bc->loaded = loaded;
    bc->load_arg = load_arg;
    for (int i = 0; i < BC_SHARDS; i++) {
        struct bc_shard *sh = &bc->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->loaded, NULL);
        sh->lru.lnext = sh->lru.lprev = &sh->lru;
    }
    *out = bc;
    return 0;
}

static void bc_entry_free(struct block_cache *bc, struct bcache_entry *e)
{
    if (e->data) {
        mem_buf_free(bc->mem, e->data, e->cap);
        mem_release(bc->mem, e->cap);
    }
    free(e);
}

void bcache_free(struct block_cache *bc)
{
    if (!bc)
        return;
    for (int i = 0; i < BC_SHARDS; i++) {
        struct bc_shard *sh = &bc->shards[i];
        for (int b = 0; b < BC_BUCKETS; b++) {
            for (struct bcache_entry *e = sh->buckets[b], *n; e; e = n) {
                n = e->hnext;
                bc_entry_free(bc, e);
            }
        }
        pthread_cond_destroy(&sh->loaded);
        pthread_mutex_destroy(&sh->lock);
    }
    free(bc);
}

static void lru_unlink(struct bcache_entry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_front(struct block_cache *bc, struct bc_shard *sh, struct bcache_entry *e)
{
    e->stamp = __atomic_add_fetch(&bc->clock, 1, __ATOMIC_RELAXED);
    e->lnext = sh->lru.lnext;
    e->lprev = &sh->lru;
    sh->lru.lnext->lprev = e;
    sh->lru.lnext = e;
}

static struct bcache_entry *bc_find(struct bc_shard *sh, uint64_t h, uint64_t id, uint32_t index)
{
    for (struct bcache_entry *e = *bc_bucket(sh, h); e; e = e->hnext) {
        if (e->id == id && e->index == index)
            return e;
    }
    return NULL;
}

/* Removes e from the hash (and LRU); the caller holds sh->lock. */
static void bc_unhash(struct block_cache *bc, struct bc_shard *sh, uint64_t h, struct bcache_entry *e)
{
    struct bcache_entry **pp = bc_bucket(sh, h);
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hashed = false;
    if (e->lnext) {
        lru_unlink(e);
        sh->bytes -= e->cap;
        __atomic_fetch_sub(&bc->total_bytes, e->cap, __ATOMIC_RELAXED);
    }
}

static struct bcache_entry *bc_new_entry(uint64_t id, uint32_t index, uint32_t bsize)
{
    struct bcache_entry *e = calloc(1, sizeof(*e));
    if (e) {
        e->id = id;
        e->index = index;
        e->bsize = bsize;
    }
    return e;
}

static void bc_hash_in(struct bc_shard *sh, uint64_t h, struct bcache_entry *e)
{
    struct bcache_entry **b = bc_bucket(sh, h);
    e->hnext = *b;
    *b = e;
    e->hashed = true;
}

/* Runs the loader for a LOADING entry pinned by the caller and publishes
 * the result to everyone waiting. */
static int bc_load(struct block_cache *bc, struct bcache_entry *e)
{
    uint64_t h = bc_hash(e->id, e->index);
    struct bc_shard *sh = bc_shard_of(bc, h);
    char *data = NULL;
    size_t cap = 0;
    int rc = bc->load(bc->load_arg, e->id, e->index, e->bsize, &data, &cap);

    pthread_mutex_lock(&sh->lock);
    if (rc == 0) {
        e->data = data;
        e->cap = cap;
        e->state = BC_READY;
        if (e->hashed) {
            lru_push_front(bc, sh, e);
            sh->bytes += cap;
            __atomic_fetch_add(&bc->total_bytes, cap, __ATOMIC_RELAXED);
        }
    } else {
        e->state = BC_FAILED;
        e->err = rc;
        if (e->hashed)
            bc_unhash(bc, sh, h, e);
    }
    pthread_cond_broadcast(&sh->loaded);
    pthread_mutex_unlock(&sh->lock);
    if (rc == 0 && bc->loaded) /* e is pinned by us: data stays */
        bc->loaded(bc->load_arg, e, e->id, e->index, e->bsize);
    if (rc == 0 && mem_used(bc->mem) > bc->mem->limit)
        bcache_reclaim(bc, mem_used(bc->mem) - bc->mem->limit);
    return rc;
}

int bcache_get(struct block_cache *bc, uint64_t id, uint32_t index, uint32_t bsize, struct bcache_entry **out)
{
    uint64_t h = bc_hash(id, index);
    struct bc_shard *sh = bc_shard_of(bc, h);

    pthread_mutex_lock(&sh->lock);
    struct bcache_entry *e = bc_find(sh, h, id, index);
    if (e) {
        e->refs++;
        while (e->state == BC_LOADING)
            pthread_cond_wait(&sh->loaded, &sh->lock);
        if (e->state == BC_READY && e->lnext) {
            lru_unlink(e);
            lru_push_front(bc, sh, e);
        }
        int rc = e->state == BC_READY ? 0 : e->err;
        pthread_mutex_unlock(&sh->lock);
        if (rc < 0) {
            bcache_unpin(bc, e);
            return rc;
        }
        *out = e;
        return 0;
    }
    e = bc_new_entry(id, index, bsize);
    if (!e) {
        pthread_mutex_unlock(&sh->lock);
        return -ENOMEM;
    }
    e->refs = 1;
    bc_hash_in(sh, h, e);
    pthread_mutex_unlock(&sh->lock);

    int rc = bc_load(bc, e);
    if (rc < 0) {
        bcache_unpin(bc, e);
        return rc;
    }
    *out = e;
    return 0;
}

const char *bcache_data(const struct bcache_entry *e)
{
    return e->data;
}

void bcache_unpin(struct block_cache *bc, struct bcache_entry *e)
{
    struct bc_shard *sh = bc_shard_of(bc, bc_hash(e->id, e->index));
    pthread_mutex_lock(&sh->lock);
    bool last = --e->refs == 0 && !e->hashed;
    pthread_mutex_unlock(&sh->lock);
    if (last)
        bc_entry_free(bc, e);
}

void bcache_ref(struct block_cache *bc, struct bcache_entry *e)
{
    struct bc_shard *sh = bc_shard_of(bc, bc_hash(e->id, e->index));
    pthread_mutex_lock(&sh->lock);
    e->refs++;
    pthread_mutex_unlock(&sh->lock);
}

bool bcache_present(struct block_cache *bc, uint64_t id, uint32_t index)
{
    uint64_t h = bc_hash(id, index);
    struct bc_shard *sh = bc_shard_of(bc, h);
    pthread_mutex_lock(&sh->lock);
    bool found = bc_find(sh, h, id, index) != NULL;
    pthread_mutex_unlock(&sh->lock);
    return found;
}

void bcache_insert(struct block_cache *bc, uint64_t id, uint32_t index, uint32_t bsize, char *data, size_t cap)
{
    uint64_t h = bc_hash(id, index);
    struct bc_shard *sh = bc_shard_of(bc, h);
    struct bcache_entry *e = bc_new_entry(id, index, bsize);

    pthread_mutex_lock(&sh->lock);
    if (!e || bc_find(sh, h, id, index)) {
        pthread_mutex_unlock(&sh->lock);
        free(e);
        mem_buf_free(bc->mem, data, cap);
        mem_release(bc->mem, cap);
        return;
    }
    e->data = data;
    e->cap = cap;
    e->state = BC_READY;
    bc_hash_in(sh, h, e);
    lru_push_front(bc, sh, e);
    sh->bytes += cap;
    __atomic_fetch_add(&bc->total_bytes, cap, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&sh->lock);
}

void bcache_drop(struct block_cache *bc, uint64_t id, uint32_t index)
{
    uint64_t h = bc_hash(id, index);
    struct bc_shard *sh = bc_shard_of(bc, h);
    pthread_mutex_lock(&sh->lock);
    struct bcache_entry *e = bc_find(sh, h, id, index);
    bool free_now = false;
    if (e) { /* a LOADING entry is pinned by its loader: freed at unpin */
        bc_unhash(bc, sh, h, e);
        free_now = e->refs == 0;
    }
    pthread_mutex_unlock(&sh->lock);
    if (free_now)
        bc_entry_free(bc, e);
}

/* The least recently used unpinned entry of a shard (caller holds its
 * lock), or NULL. */
static struct bcache_entry *bc_oldest(struct bc_shard *sh)
{
    struct bcache_entry *e = sh->lru.lprev;
    while (e != &sh->lru && e->refs > 0)
        e = e->lprev;
    return e == &sh->lru ? NULL : e;
}

/* Evicts the least recently used unpinned entry of the whole cache: each
 * shard's LRU is exact, and comparing the shards' oldest stamps makes the
 * choice global (a per-shard choice would evict at random when the cache
 * holds few big blocks, e.g. readahead not yet read). Returns the bytes
 * freed (0 when nothing could be). */
static uint64_t bc_evict_one(struct block_cache *bc)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        int best = -1;
        uint64_t best_stamp = UINT64_MAX;
        for (int i = 0; i < BC_SHARDS; i++) {
            struct bc_shard *sh = &bc->shards[i];
            pthread_mutex_lock(&sh->lock);
            struct bcache_entry *e = bc_oldest(sh);
            if (e && e->stamp < best_stamp) {
                best_stamp = e->stamp;
                best = i;
            }
            pthread_mutex_unlock(&sh->lock);
        }
        if (best < 0)
            return 0;
        struct bc_shard *sh = &bc->shards[best];
        pthread_mutex_lock(&sh->lock);
        struct bcache_entry *e = bc_oldest(sh);
        if (!e || e->stamp != best_stamp) { /* changed meanwhile: look again */
            pthread_mutex_unlock(&sh->lock);
            continue;
        }
        bc_unhash(bc, sh, bc_hash(e->id, e->index), e);
        pthread_mutex_unlock(&sh->lock);
        uint64_t freed = e->cap;
        bc_entry_free(bc, e);
        return freed;
    }
    return 0;
}

uint64_t bcache_reclaim(struct block_cache *bc, uint64_t need)
{
    uint64_t freed = 0;
    while (freed < need) {
        uint64_t f = bc_evict_one(bc);
        if (!f)
            break;
        freed += f;
    }
    return freed;
}

uint64_t bcache_bytes(struct block_cache *bc)
{
    return __atomic_load_n(&bc->total_bytes, __ATOMIC_RELAXED);
}
