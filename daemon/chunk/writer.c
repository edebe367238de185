/* SPDX-License-Identifier: Apache-2.0
 *
 * The write path: per-inode write buffers that become immutable blocks,
 * uploaded in the background and committed to metadata afterwards.
 *
 * A slice is one contiguous run of writes inside one chunk. A write
 * extends a recent open slice of its chunk when it lands in that slice's
 * still-writable tail [pos + nsubmitted*B, pos + len] and overlaps no
 * newer slice; otherwise it starts a new slice. Because newer slices
 * cover older ones when resolved, overwriting buffered data this way is
 * always correct.
 *
 * Slice life cycle (functions in brackets):
 *   OPEN    -- block k fills [write_piece] -------> its upload is queued
 *   OPEN    -- freeze [slice_freeze] -------------> FROZEN, the tail block
 *              (reaches the chunk end, file flush,   queued too
 *              idle 1 s / older than 5 s, pressure,
 *              more than 4 newer open slices in the chunk)
 *   FROZEN  -- last upload done [upload_run] -----> commit task queued
 *   FROZEN  -- [commit_run], once every older slice of the same chunk is
 *              gone: hooks->commit (or, after an upload failure, dropped
 *              and the error remembered) -> freed
 *
 * Invariants (f = the slice's wfile, all under f->lock):
 *  1. blocks [0, nsubmitted) are immutable; only their upload reads them;
 *  2. an open slice has nsubmitted == len / B (full blocks only);
 *  3. slices are committed per chunk in creation order, one commit task
 *     per inode at a time (commit_queued / committing);
 *  4. a wfile with slices, refs or a commit task is never freed.
 * Lock order: writer map lock -> wfile lock; chunk_mem's lock is taken
 * alone (never while waiting with a wfile lock held).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk/chunk_store_i.h"

#define WR_BUCKETS 4096
#define WR_OPEN_PER_CHUNK 4        /* open slices searched before freezing */
#define WR_MAX_SLICES 1000         /* pending slices per inode before writers wait */
#define WR_IDLE_NS 1000000000LL    /* freeze a slice idle this long */
#define WR_AGE_NS 5000000000LL     /* or this old */
#define WR_TICK_MS 100             /* flusher period */
#define WR_MIN_BUF (64u << 10)

struct wslice;

struct upload_task {
    struct pool_task task;
    struct wslice *s;
    uint32_t index;
    uint32_t bsize;
};

struct wslice {
    struct wslice *prev, *next; /* the wfile's list, creation order */
    struct wfile *f;
    uint64_t seq;
    uint32_t indx, pos, len;
    uint64_t id;
    uint32_t maxblocks;
    char **data;                /* [maxblocks] */
    size_t *cap;                /* [maxblocks] */
    struct upload_task *tasks;  /* [maxblocks] */
    uint32_t nsubmitted, nuploaded;
    int err;
    bool frozen;
    int64_t created_ns, touched_ns;
};

struct wfile {
    struct wfile *hnext;       /* map chain; protected by map lock */
    int refs;                  /* atomic; dropping to 0 only under the map lock */
    uint64_t ino;
    pthread_mutex_t lock;
    pthread_cond_t done;       /* a slice left the list */
    struct wslice *head, *tail;
    unsigned nslices;
    uint64_t next_seq;
    int err;                   /* remembered background failure */
    bool commit_queued, committing;
    struct pool_task commit_task;
    struct chunk_store *cs;
};

struct chunk_writer {
    struct chunk_store *cs;
    pthread_mutex_t lock; /* the map */
    struct wfile *buckets[WR_BUCKETS];
    pthread_mutex_t tick_lock;
    pthread_cond_t tick;
    bool stop;     /* protected by tick_lock */
    bool pressure; /* protected by tick_lock */
    pthread_t flusher;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* --- the inode map ---------------------------------------------------- */

static struct wfile **wr_bucket(struct chunk_writer *w, uint64_t ino)
{
    return &w->buckets[(ino * 0x9E3779B97F4A7C15ULL >> 32) % WR_BUCKETS];
}

/* The inode's wfile with a reference, created when `create`. */
static struct wfile *wfile_get(struct chunk_writer *w, uint64_t ino, bool create)
{
    pthread_mutex_lock(&w->lock);
    struct wfile *f = *wr_bucket(w, ino);
    while (f && f->ino != ino)
        f = f->hnext;
    if (!f && create && (f = calloc(1, sizeof(*f)))) {
        f->ino = ino;
        f->cs = w->cs;
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->done, NULL);
        f->hnext = *wr_bucket(w, ino);
        *wr_bucket(w, ino) = f;
    }
    if (f)
        __atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&w->lock);
    return f;
}

static void wfile_put(struct chunk_writer *w, struct wfile *f)
{
    pthread_mutex_lock(&w->lock);
    bool gone = false;
    if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_lock(&f->lock);
        gone = !f->head && !f->commit_queued && !f->committing && !f->err;
        pthread_mutex_unlock(&f->lock);
        if (gone) {
            struct wfile **pp = wr_bucket(w, f->ino);
            while (*pp != f)
                pp = &(*pp)->hnext;
            *pp = f->hnext;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (gone) {
        pthread_cond_destroy(&f->done);
        pthread_mutex_destroy(&f->lock);
        free(f);
    }
}

/* References to every wfile (for the flusher and flush_all); *out is
 * malloc'ed, release each with wfile_put. */
static size_t wfile_all(struct chunk_writer *w, struct wfile ***out)
{
    size_t n = 0, cap = 0;
    struct wfile **v = NULL;
    pthread_mutex_lock(&w->lock);
    for (int b = 0; b < WR_BUCKETS; b++) {
        for (struct wfile *f = w->buckets[b]; f; f = f->hnext) {
            if (n == cap) {
                struct wfile **nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
                if (!nv)
                    goto out;
                v = nv;
            }
            __atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
            v[n++] = f;
        }
    }
out:
    pthread_mutex_unlock(&w->lock);
    *out = v;
    return n;
}

/* --- slices ----------------------------------------------------------- */

static uint32_t block_size(const struct wfile *f)
{
    return f->cs->cfg.block_size;
}

static void slice_free(struct chunk_store *cs, struct wslice *s)
{
    for (uint32_t k = 0; k < s->maxblocks; k++) {
        if (s->data[k]) {
            mem_buf_free(&cs->mem, s->data[k], s->cap[k]);
            mem_release(&cs->mem, s->cap[k]);
        }
    }
    free(s->data);
    free(s->cap);
    free(s->tasks);
    free(s);
}

static int slice_new(struct wfile *f, uint32_t indx, uint32_t pos, struct wslice **out)
{
    struct chunk_store *cs = f->cs;
    struct wslice *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->maxblocks = (uint32_t)((META_CHUNK_SIZE - pos + block_size(f) - 1) / block_size(f));
    s->data = calloc(s->maxblocks, sizeof(*s->data));
    s->cap = calloc(s->maxblocks, sizeof(*s->cap));
    s->tasks = calloc(s->maxblocks, sizeof(*s->tasks));
    int rc = s->data && s->cap && s->tasks ? cs->hooks.new_slice_id(cs->hooks.arg, &s->id) : -ENOMEM;
    if (rc < 0) {
        slice_free(cs, s);
        return rc;
    }
    s->f = f;
    s->indx = indx;
    s->pos = pos;
    s->seq = f->next_seq++;
    s->created_ns = s->touched_ns = now_ns();
    s->prev = f->tail;
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    f->nslices++;
    *out = s;
    return 0;
}

static void slice_unlink(struct wfile *f, struct wslice *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        f->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        f->tail = s->prev;
    f->nslices--;
    pthread_cond_broadcast(&f->done);
}

static void commit_run(struct pool_task *t);

/* Queues the inode's commit task unless one is queued or running. */
static void commit_schedule(struct wfile *f)
{
    if (f->commit_queued || f->committing)
        return;
    f->commit_queued = true;
    /* no map lock here (lock order): f is alive, it has slices */
    __atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
    f->commit_task.run = commit_run;
    pool_submit(f->cs->uploads, &f->commit_task);
}

static void upload_run(struct pool_task *t);

/* Queues uploads of blocks [nsubmitted, upto). Caller holds f->lock. */
static void slice_submit(struct wslice *s, uint32_t upto)
{
    struct chunk_store *cs = s->f->cs;
    for (uint32_t k = s->nsubmitted; k < upto; k++) {
        struct upload_task *u = &s->tasks[k];
        *u = (struct upload_task){.task.run = upload_run, .s = s, .index = k,
                                  .bsize = cs_block_len(cs, s->len, k)};
        __atomic_fetch_add(&cs->n_inflight, 1, __ATOMIC_RELAXED);
        pool_submit(cs->uploads, &u->task);
    }
    if (upto > s->nsubmitted)
        s->nsubmitted = upto;
}

static void slice_freeze(struct wslice *s)
{
    if (s->frozen)
        return;
    s->frozen = true;
    slice_submit(s, (uint32_t)(((uint64_t)s->len + block_size(s->f) - 1) / block_size(s->f)));
    if (s->nuploaded == s->nsubmitted)
        commit_schedule(s->f);
}

/* --- upload and commit (upload pool threads) --------------------------- */

static void upload_run(struct pool_task *t)
{
    struct upload_task *u = (struct upload_task *)t;
    struct wslice *s = u->s;
    struct wfile *f = s->f;
    struct chunk_store *cs = f->cs;
    char *data = s->data[u->index]; /* immutable now (invariant 1) */
    size_t cap = s->cap[u->index];

    int rc = cs_store_block(cs, s->id, u->index, data, u->bsize);
    if (rc == 0) {
        cs_count(&cs->n_uploaded);
        bcache_insert(cs->bc, s->id, u->index, u->bsize, data, cap); /* read-back is free */
    } else {
        mem_buf_free(&f->cs->mem, data, cap);
        mem_release(&cs->mem, cap);
    }
    pthread_mutex_lock(&f->lock);
    s->data[u->index] = NULL;
    if (rc < 0 && !s->err)
        s->err = rc;
    if (++s->nuploaded == s->nsubmitted && s->frozen)
        commit_schedule(f);
    pthread_mutex_unlock(&f->lock);
    __atomic_fetch_sub(&cs->n_inflight, 1, __ATOMIC_RELAXED);
    mem_kick(&cs->mem); /* freed or evictable now: wake writers waiting for memory */
}

static bool slice_ready(const struct wslice *s)
{
    return s->frozen && s->nuploaded == s->nsubmitted;
}

/* The oldest slice that may be committed now: ready, and no older slice
 * of its chunk still pending (invariant 3). Caller holds f->lock. */
static struct wslice *commit_next(struct wfile *f)
{
    uint32_t blocked[16];
    size_t nblocked = 0;
    for (struct wslice *s = f->head; s; s = s->next) {
        bool behind = false;
        for (size_t i = 0; i < nblocked && !behind; i++)
            behind = blocked[i] == s->indx;
        if (!behind && slice_ready(s))
            return s;
        if (!behind) {
            if (nblocked == sizeof(blocked) / sizeof(blocked[0]))
                return NULL;
            blocked[nblocked++] = s->indx;
        }
    }
    return NULL;
}

static void commit_run(struct pool_task *t)
{
    struct wfile *f = (struct wfile *)((char *)t - offsetof(struct wfile, commit_task));
    struct chunk_store *cs = f->cs;
    struct wslice *s;

    pthread_mutex_lock(&f->lock);
    f->commit_queued = false;
    f->committing = true;
    while ((s = commit_next(f))) {
        int rc = s->err;
        if (rc == 0 && s->len > 0) {
            struct meta_slice ms = {.pos = s->pos, .id = s->id, .size = s->len, .off = 0, .len = s->len};
            pthread_mutex_unlock(&f->lock);
            rc = cs->hooks.commit(cs->hooks.arg, f->ino, s->indx, &ms);
            pthread_mutex_lock(&f->lock);
            if (rc == 0) {
                cs_count(&cs->n_committed);
                compact_log_commit(cs->compact, f->ino, s->indx);
            }
        }
        if (rc < 0 && !f->err)
            f->err = rc;
        slice_unlink(f, s);
        slice_free(cs, s);
    }
    f->committing = false;
    pthread_mutex_unlock(&f->lock);
    wfile_put(cs->writer, f);
}

/* --- writing (caller threads) ----------------------------------------- */

static bool overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

/* An open slice of chunk `indx` that [coff, coff+n) may extend, or NULL.
 * Older open slices beyond the newest few are frozen on the way. */
static struct wslice *slice_find(struct wfile *f, uint32_t indx, uint32_t coff, uint32_t n)
{
    int seen = 0;
    for (struct wslice *s = f->tail; s; s = s->prev) {
        if (s->indx != indx)
            continue;
        if (!s->frozen) {
            uint32_t lo = s->pos + s->nsubmitted * block_size(f), hi = s->pos + s->len;
            if (coff >= lo && coff <= hi)
                return s;
            if (seen >= WR_OPEN_PER_CHUNK)
                slice_freeze(s);
        }
        if (overlaps(coff, n, s->pos, s->len))
            return NULL; /* a newer slice covers part of it: start one on top */
        seen++;
    }
    return NULL;
}

/* Makes block k of s hold at least `need` bytes, drawing on *credit (bytes
 * already reserved). -EAGAIN: the caller must reserve `*want` more bytes
 * with f->lock dropped, then retry. */
static int block_fit(struct wfile *f, struct wslice *s, uint32_t k, size_t need, uint64_t *credit, size_t *want)
{
    size_t cap = s->cap[k];
    if (s->data[k] && cap >= need)
        return 0;
    /* small writes start small and double (mremap moves no data); a
     * slice that already filled a block, or a big write, takes a whole
     * block at once */
    size_t grow = cap ? cap * 2 : k > 0 || need >= block_size(f) / 4 ? block_size(f) : WR_MIN_BUF;
    if (grow > block_size(f))
        grow = block_size(f);
    size_t ncap = mem_buf_cap(need > grow ? need : grow);
    uint64_t extra = ncap - cap;
    if (*credit < extra && !mem_try_reserve(&f->cs->mem, extra - *credit)) {
        *want = extra - *credit;
        return -EAGAIN;
    }
    if (*credit < extra)
        *credit = extra; /* the try above reserved the difference */
    char *p = s->data[k] ? mem_buf_grow(s->data[k], cap, ncap) : mem_buf_alloc(&f->cs->mem, ncap, false);
    if (!p)
        return -ENOMEM;
    *credit -= extra;
    s->data[k] = p;
    s->cap[k] = ncap;
    return 0;
}

/* Copies up to one block's worth of [coff, coff+n) of chunk indx into a
 * slice; returns bytes taken, or -errno / -EAGAIN as block_fit. */
static ssize_t write_piece(struct wfile *f, uint32_t indx, uint32_t coff, const char *buf, uint32_t n,
                           uint64_t *credit, size_t *want)
{
    uint32_t bs = block_size(f);
    struct wslice *s = slice_find(f, indx, coff, n);
    if (!s) {
        int rc = slice_new(f, indx, coff, &s);
        if (rc < 0)
            return rc;
    }
    uint32_t p = coff - s->pos, k = p / bs, bo = p % bs;
    uint32_t m = bs - bo < n ? bs - bo : n;
    int rc = block_fit(f, s, k, (size_t)bo + m, credit, want);
    if (rc < 0)
        return rc;
    memcpy(s->data[k] + bo, buf, m);
    if (p + m > s->len)
        s->len = p + m;
    s->touched_ns = now_ns();
    if (s->len / bs > s->nsubmitted)
        slice_submit(s, s->len / bs);
    if (s->pos + s->len == META_CHUNK_SIZE)
        slice_freeze(s);
    return m;
}

static void freeze_all(struct wfile *f)
{
    for (struct wslice *s = f->head; s; s = s->next)
        slice_freeze(s);
}

/* Writes [off, off+len) with f->lock held; may drop it to wait for memory
 * or for the inode's pending slices to drain. */
static int write_locked(struct wfile *f, uint64_t off, const char *buf, size_t len)
{
    uint64_t credit = 0;
    int rc = 0;
    while (len > 0 && rc == 0) {
        while (f->nslices >= WR_MAX_SLICES) {
            freeze_all(f);
            pthread_cond_wait(&f->done, &f->lock);
        }
        uint32_t indx = (uint32_t)(off >> META_CHUNK_BITS), coff = (uint32_t)(off & (META_CHUNK_SIZE - 1));
        uint32_t n = META_CHUNK_SIZE - coff < len ? (uint32_t)(META_CHUNK_SIZE - coff) : (uint32_t)len;
        size_t want = 0;
        ssize_t m = write_piece(f, indx, coff, buf, n, &credit, &want);
        if (m == -EAGAIN) {
            pthread_mutex_unlock(&f->lock);
            mem_reserve(&f->cs->mem, want);
            pthread_mutex_lock(&f->lock);
            credit += want;
            continue;
        }
        if (m < 0) {
            rc = (int)m;
            break;
        }
        off += (uint64_t)m;
        buf += m;
        len -= (size_t)m;
    }
    mem_release(&f->cs->mem, credit);
    return rc;
}

int chunk_write(struct chunk_store *cs, uint64_t ino, uint64_t off, const char *buf, size_t len)
{
    struct wfile *f = wfile_get(cs->writer, ino, len > 0);
    if (!f)
        return len > 0 ? -ENOMEM : 0;
    pthread_mutex_lock(&f->lock);
    int rc = f->err;
    f->err = 0;
    if (rc == 0)
        rc = write_locked(f, off, buf, len);
    pthread_mutex_unlock(&f->lock);
    wfile_put(cs->writer, f);
    return rc;
}

/* Freezes the inode's slices and waits until those existing now are
 * committed or dropped; returns (and clears) the remembered error. */
static int flush_file(struct wfile *f)
{
    pthread_mutex_lock(&f->lock);
    uint64_t upto = f->next_seq;
    freeze_all(f);
    while (f->head && f->head->seq < upto)
        pthread_cond_wait(&f->done, &f->lock);
    int rc = f->err;
    f->err = 0;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int chunk_flush(struct chunk_store *cs, uint64_t ino)
{
    struct wfile *f = wfile_get(cs->writer, ino, false);
    if (!f)
        return 0;
    int rc = flush_file(f);
    wfile_put(cs->writer, f);
    return rc;
}

int chunk_flush_all(struct chunk_store *cs)
{
    struct wfile **v;
    size_t n = wfile_all(cs->writer, &v);
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = flush_file(v[i]);
        if (rc < 0 && !first)
            first = rc;
        wfile_put(cs->writer, v[i]);
    }
    free(v);
    return first;
}

bool chunk_dirty(struct chunk_store *cs, uint64_t ino, uint64_t *pending_len)
{
    struct wfile *f = wfile_get(cs->writer, ino, false);
    uint64_t end = 0;
    bool dirty = false;
    if (f) {
        pthread_mutex_lock(&f->lock);
        dirty = f->head != NULL;
        for (struct wslice *s = f->head; s; s = s->next) {
            uint64_t e = ((uint64_t)s->indx << META_CHUNK_BITS) + s->pos + s->len;
            if (e > end)
                end = e;
        }
        pthread_mutex_unlock(&f->lock);
        wfile_put(cs->writer, f);
    }
    if (pending_len)
        *pending_len = end;
    return dirty;
}

/* --- the flusher thread ----------------------------------------------- */

/* Freezes the inode's slices that are idle or old (all when `all`). */
static void flusher_visit(struct wfile *f, bool all, int64_t now)
{
    pthread_mutex_lock(&f->lock);
    for (struct wslice *s = f->head; s; s = s->next) {
        if (!s->frozen && (all || now - s->touched_ns >= WR_IDLE_NS || now - s->created_ns >= WR_AGE_NS))
            slice_freeze(s);
    }
    pthread_mutex_unlock(&f->lock);
}

static void *flusher_main(void *arg)
{
    struct chunk_writer *w = arg;
    pthread_mutex_lock(&w->tick_lock);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WR_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!w->pressure)
            pthread_cond_timedwait(&w->tick, &w->tick_lock, &ts);
        bool all = w->pressure;
        w->pressure = false;
        pthread_mutex_unlock(&w->tick_lock);

        struct wfile **v;
        size_t n = wfile_all(w, &v);
        int64_t now = now_ns();
        for (size_t i = 0; i < n; i++) {
            flusher_visit(v[i], all, now);
            wfile_put(w, v[i]);
        }
        free(v);
        pthread_mutex_lock(&w->tick_lock);
    }
    pthread_mutex_unlock(&w->tick_lock);
    return NULL;
}

/* chunk_mem pressure callback: a writer waits and the cache had nothing
 * left to give. Uploads in flight will free memory; when there are none,
 * the memory is stuck in open slices, which must be frozen and uploaded.
 * (Freezing on every wait would cut sequential writes into small
 * slices.) */
static void writer_pressure(void *arg)
{
    struct chunk_writer *w = arg;
    if (__atomic_load_n(&w->cs->n_inflight, __ATOMIC_RELAXED) > 0)
        return;
    pthread_mutex_lock(&w->tick_lock);
    w->pressure = true;
    pthread_cond_signal(&w->tick);
    pthread_mutex_unlock(&w->tick_lock);
}

int writer_new(struct chunk_store *cs, struct chunk_writer **out)
{
    struct chunk_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->cs = cs;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->tick_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->tick, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&w->flusher, NULL, flusher_main, w);
    if (rc != 0) {
        pthread_cond_destroy(&w->tick);
        pthread_mutex_destroy(&w->tick_lock);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return -rc;
    }
    cs->mem.pressure = writer_pressure;
    cs->mem.pressure_arg = w;
    *out = w;
    return 0;
}

void writer_stop(struct chunk_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->tick_lock);
    w->stop = true;
    pthread_cond_signal(&w->tick);
    pthread_mutex_unlock(&w->tick_lock);
    pthread_join(w->flusher, NULL);
    w->cs->mem.pressure = NULL;
    chunk_flush_all(w->cs); /* errors are lost here: see chunk_store_free */
}

void writer_free(struct chunk_writer *w)
{
    if (!w)
        return;
    /* commit tasks are done (the upload pool is gone): what is left are
     * wfiles holding an error nobody asked for */
    for (int b = 0; b < WR_BUCKETS; b++) {
        for (struct wfile *f = w->buckets[b], *n; f; f = n) {
            n = f->hnext;
            pthread_cond_destroy(&f->done);
            pthread_mutex_destroy(&f->lock);
            free(f);
        }
    }
    pthread_cond_destroy(&w->tick);
    pthread_mutex_destroy(&w->tick_lock);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
