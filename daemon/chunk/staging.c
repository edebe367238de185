/* SPDX-License-Identifier: Apache-2.0
 *
 * Writeback (--writeback): a written block is staged durably on the cache
 * disk and its slice committed at once; the upload happens later on the
 * stager pool, reading the block back from its staged file, so no memory
 * is held for it meanwhile. Once uploaded, the block moves into the disk
 * cache and its staged file goes. A block whose slice was deleted while
 * it was staged (dstage_remove then finds nothing) is deleted from the
 * store again after its upload. A mount that finds staged blocks from an
 * earlier run (crash, kill -9) queues their uploads at start; unmount
 * waits until the stager pool has uploaded everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk/chunk_store_i.h"

#define STAGE_TRIES 6          /* each try is a store request with its own retries */
#define STAGE_BACKOFF_MS 500   /* doubled after each failed try */
#define STAGE_KEY_MAX 512

struct stage_task {
    struct pool_task task;
    struct chunk_store *cs;
    int dir;
    uint64_t id;
    uint32_t index, bsize;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Uploads one staged block; 0, or -errno after every try failed. */
static int stage_upload(struct chunk_store *cs, const struct stage_task *t, char *buf)
{
    int rc = dstage_get(cs->dss[t->dir], t->id, t->index, t->bsize, buf);
    if (rc == -ENOENT)
        return 0; /* its slice was deleted meanwhile */
    if (rc < 0) {
        fprintf(stderr, "tidefs: staged block %llu_%u_%u is damaged on the cache disk; its data is lost\n",
                (unsigned long long)t->id, t->index, t->bsize);
        dstage_remove(cs->dss[t->dir], t->id, t->index, t->bsize);
        return rc;
    }
    long delay = STAGE_BACKOFF_MS;
    for (int i = 0; i < STAGE_TRIES; i++, delay *= 2) {
        rc = cs_put_block(cs, t->id, t->index, buf, t->bsize);
        if (rc == 0)
            break;
        sleep_ms(delay);
    }
    if (rc < 0) {
        fprintf(stderr, "tidefs: upload of staged block %llu_%u_%u failed (%s); it stays staged for the "
                "next mount\n", (unsigned long long)t->id, t->index, t->bsize, strerror(-rc));
        return rc;
    }
    cs_count(&cs->n_uploaded);
    if (dstage_remove(cs->dss[t->dir], t->id, t->index, t->bsize) == -ENOENT) {
        char key[STAGE_KEY_MAX]; /* deleted while uploading: do not leak the object */
        chunk_block_key(key, sizeof(key), cs->volume, t->id, t->index, t->bsize);
        store_del(cs->obj, key);
        return 0;
    }
    dcache_put(cs->dcs[t->dir], t->id, t->index, t->bsize, buf);
    return 0;
}

static void stage_run(struct pool_task *pt)
{
    struct stage_task *t = (struct stage_task *)pt;
    struct chunk_store *cs = t->cs;
    size_t cap = mem_buf_cap(t->bsize);
    char *buf = mem_buf_alloc(&cs->mem, cap, true);
    if (buf) {
        mem_charge_fit(&cs->mem, cap);
        stage_upload(cs, t, buf);
        mem_buf_free(&cs->mem, buf, cap);
        mem_release(&cs->mem, cap);
    }
    free(t);
}

static void stage_queue(struct chunk_store *cs, int dir, uint64_t id, uint32_t index, uint32_t bsize)
{
    struct stage_task *t = malloc(sizeof(*t));
    if (!t)
        return; /* stays staged: the next mount uploads it */
    *t = (struct stage_task){.task.run = stage_run, .cs = cs, .dir = dir, .id = id, .index = index,
                             .bsize = bsize};
    pool_submit(cs->stagers, &t->task);
}

int staging_stage_block(struct chunk_store *cs, uint64_t id, uint32_t index, const char *data, uint32_t bsize)
{
    int d = cs_dir_of(cs, id, index);
    int rc = dstage_put(cs->dss[d], id, index, bsize, data);
    if (rc == 0)
        stage_queue(cs, d, id, index, bsize);
    return rc;
}

struct resume_arg {
    struct chunk_store *cs;
    int dir;
    uint64_t n;
};

static void resume_one(void *arg, uint64_t id, uint32_t index, uint32_t bsize)
{
    struct resume_arg *r = arg;
    stage_queue(r->cs, r->dir, id, index, bsize);
    r->n++;
}

void staging_resume(struct chunk_store *cs)
{
    struct resume_arg r = {cs, 0, 0};
    for (r.dir = 0; r.dir < cs->ndirs; r.dir++)
        dstage_scan(cs->dss[r.dir], resume_one, &r);
    if (r.n)
        fprintf(stderr, "tidefs: uploading %llu blocks staged by an earlier run\n", (unsigned long long)r.n);
}
