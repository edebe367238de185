/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk side of slice compaction: which chunks took commits here (a
 * small table keyed by inode and chunk index, fed by the writer's commit
 * task), and the copy of a chunk's visible content into one new slice.
 * Deciding when to compact and swapping the slices in metadata is the
 * VFS's job (vfs_compact.c), which owns the engine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "chunk/chunk_store_i.h"

#define CL_MAX 4096            /* chunks remembered; more commits are not tracked */
#define CL_QUIET_NS 1000000000LL /* no commit for this long: quiet */

struct cl_ent {
    uint64_t ino;
    uint32_t indx;
    uint32_t commits;
    int64_t last_ns;
};

struct compact_log {
    pthread_mutex_t lock;
    struct cl_ent ents[CL_MAX]; /* protected by lock, like n */
    size_t n;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int compact_log_new(struct compact_log **out)
{
    struct compact_log *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

void compact_log_free(struct compact_log *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void compact_log_commit(struct compact_log *l, uint64_t ino, uint32_t indx)
{
    int64_t now = mono_ns();
    pthread_mutex_lock(&l->lock);
    size_t i = 0;
    while (i < l->n && (l->ents[i].ino != ino || l->ents[i].indx != indx))
        i++;
    if (i == l->n && l->n < CL_MAX)
        l->ents[l->n++] = (struct cl_ent){.ino = ino, .indx = indx};
    if (i < l->n) {
        l->ents[i].commits++;
        l->ents[i].last_ns = now;
    }
    pthread_mutex_unlock(&l->lock);
}

size_t chunk_compact_candidates(struct chunk_store *cs, struct chunk_ref *out, size_t max)
{
    struct compact_log *l = cs->compact;
    int64_t now = mono_ns();
    size_t n = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->n && n < max;) {
        struct cl_ent *e = &l->ents[i];
        bool quiet = now - e->last_ns >= CL_QUIET_NS;
        out[n++] = (struct chunk_ref){.ino = e->ino, .indx = e->indx, .commits = e->commits, .quiet = quiet};
        e->commits = 0;
        if (quiet)
            *e = l->ents[--l->n]; /* forget it; look at what moved here */
        else
            i++;
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

int chunk_compact_copy(struct chunk_store *cs, uint32_t indx, const struct meta_slice *slices, size_t nslices,
                       uint64_t id, uint32_t pos, uint32_t len)
{
    uint32_t bs = cs->cfg.block_size;
    if ((uint64_t)pos + len > META_CHUNK_SIZE || len == 0)
        return -EINVAL;
    size_t cap = mem_buf_cap(bs);
    mem_reserve(&cs->mem, cap);
    char *buf = mem_buf_alloc(&cs->mem, cap, true);
    int rc = buf ? 0 : -ENOMEM;
    for (uint32_t k = 0; rc == 0 && (uint64_t)k * bs < len; k++) {
        uint32_t blen = cs_block_len(cs, len, k);
        rc = chunk_read(cs, NULL, indx, slices, nslices, pos + k * bs, blen, buf);
        if (rc == 0)
            rc = cs_put_block(cs, id, k, buf, blen);
        if (rc == 0)
            cs_count(&cs->n_uploaded);
    }
    mem_buf_free(&cs->mem, buf, cap);
    mem_release(&cs->mem, cap);
    if (rc == 0)
        cs_count(&cs->n_compactions);
    return rc;
}
