/* SPDX-License-Identifier: Apache-2.0
 *
 * Test fixture for the chunk layer: a real "file" object store in a temp
 * directory, a chunk store on it, and a small in-test metadata stand-in
 * behind the commit hooks that records every committed slice per inode
 * and chunk, so tests can read files back through chunk_read exactly as
 * the VFS would.
 */
#ifndef TIDEFS_CHUNK_FIXTURE_H
#define TIDEFS_CHUNK_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk/chunk.h"
#include "object/store.h"

#define FX_VOLUME "testvol"
#define FX_MAX_RECS 100000

struct fx_rec {
    uint64_t ino;
    uint32_t indx;
    struct meta_slice s;
};

struct fixture {
    char dir[64];
    struct store *obj;
    struct chunk_store *cs;
    struct chunk_config cfg;
    pthread_mutex_t lock;
    uint64_t next_id;
    struct fx_rec *recs;
    size_t nrecs;
    int fail_commit; /* -errno the commit hook returns when set */
    int order_violations; /* a chunk's slices committed out of creation order */
};

static int fx_new_slice_id(void *arg, uint64_t *id)
{
    struct fixture *fx = arg;
    pthread_mutex_lock(&fx->lock);
    *id = ++fx->next_id;
    pthread_mutex_unlock(&fx->lock);
    return 0;
}

static int fx_commit(void *arg, uint64_t ino, uint32_t indx, const struct meta_slice *s)
{
    struct fixture *fx = arg;
    pthread_mutex_lock(&fx->lock);
    int rc = fx->fail_commit;
    if (rc == 0 && fx->nrecs < FX_MAX_RECS) {
        /* ids grow in creation order within an inode's chunk */
        for (size_t i = fx->nrecs; i-- > 0;) {
            if (fx->recs[i].ino == ino && fx->recs[i].indx == indx) {
                fx->order_violations += fx->recs[i].s.id > s->id;
                break;
            }
        }
        fx->recs[fx->nrecs++] = (struct fx_rec){ino, indx, *s};
    }
    pthread_mutex_unlock(&fx->lock);
    return rc;
}

static int fx_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void fx_rm_rf(const char *dir)
{
    nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct chunk_config fx_default_cfg(void)
{
    return (struct chunk_config){.volume = FX_VOLUME, .block_size = 1 << 20, .buffer_size = 64 << 20,
                                 .max_uploads = 8, .max_downloads = 4};
}

/* Opens a chunk store on the fixture's existing object store. */
static int fx_reopen(struct fixture *fx)
{
    static const struct chunk_meta_hooks hooks_tmpl = {NULL, fx_new_slice_id, fx_commit};
    struct chunk_meta_hooks hooks = hooks_tmpl;
    hooks.arg = fx;
    if (fx->cs)
        chunk_store_free(fx->cs);
    fx->cs = NULL;
    return chunk_store_new(&fx->cfg, fx->obj, &hooks, &fx->cs);
}

/* The store lives under tmpbase, by default /dev/shm when writable: fsync
 * there is free, which keeps the suite fast (durability is not what these
 * tests can observe). */
static int fx_open(struct fixture *fx, const struct chunk_config *cfg, const char *tmpbase)
{
    char err[256];
    memset(fx, 0, sizeof(*fx));
    pthread_mutex_init(&fx->lock, NULL);
    fx->cfg = cfg ? *cfg : fx_default_cfg();
    if (!tmpbase)
        tmpbase = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fx->dir, sizeof(fx->dir), "%s/tidefs-chunk-XXXXXX", tmpbase);
    if (!mkdtemp(fx->dir))
        return -errno;
    fx->recs = calloc(FX_MAX_RECS, sizeof(*fx->recs));
    struct store_options opt = {.storage = "file", .bucket = fx->dir};
    if (!fx->recs || store_open(&opt, &fx->obj, err, sizeof(err)) < 0)
        return -EIO;
    return fx_reopen(fx);
}

static void fx_close(struct fixture *fx)
{
    chunk_store_free(fx->cs);
    store_free(fx->obj);
    fx_rm_rf(fx->dir);
    free(fx->recs);
    pthread_mutex_destroy(&fx->lock);
}

/* The committed slices of (ino, indx) in commit order; caller frees. */
static struct meta_slice *fx_slices(struct fixture *fx, uint64_t ino, uint32_t indx, size_t *n)
{
    pthread_mutex_lock(&fx->lock);
    struct meta_slice *v = malloc((fx->nrecs + 1) * sizeof(*v));
    *n = 0;
    for (size_t i = 0; v && i < fx->nrecs; i++) {
        if (fx->recs[i].ino == ino && fx->recs[i].indx == indx)
            v[(*n)++] = fx->recs[i].s;
    }
    pthread_mutex_unlock(&fx->lock);
    return v;
}

/* Reads [off, off+len) of an inode the way the VFS does: chunk by chunk
 * with that chunk's committed slices. */
static int fx_read(struct fixture *fx, struct chunk_reader *r, uint64_t ino, uint64_t off, size_t len, char *buf)
{
    while (len > 0) {
        uint32_t indx = (uint32_t)(off >> META_CHUNK_BITS), coff = (uint32_t)(off & (META_CHUNK_SIZE - 1));
        size_t m = META_CHUNK_SIZE - coff < len ? META_CHUNK_SIZE - coff : len;
        size_t n;
        struct meta_slice *s = fx_slices(fx, ino, indx, &n);
        int rc = chunk_read(fx->cs, r, indx, s, n, coff, m, buf);
        free(s);
        if (rc < 0)
            return rc;
        off += m;
        buf += m;
        len -= m;
    }
    return 0;
}

/* Deterministic pseudo-random bytes. */
static void fx_fill(char *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)x;
    }
}

#endif
