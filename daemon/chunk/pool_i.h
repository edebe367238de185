/* SPDX-License-Identifier: Apache-2.0
 *
 * A fixed pool of worker threads running queued tasks in FIFO order. Tasks
 * are intrusive (the caller embeds a struct pool_task in its own object),
 * so submitting never allocates and never fails.
 */
#ifndef TIDEFS_POOL_I_H
#define TIDEFS_POOL_I_H

struct pool_task {
    struct pool_task *next;
    void (*run)(struct pool_task *t); /* owns the task once called */
};

struct chunk_pool;

/* Caller frees with pool_free(), which runs every queued task first. */
int pool_new(int nthreads, struct chunk_pool **out);
void pool_free(struct chunk_pool *p);
/* Queues t; it must stay valid until t->run is called. */
void pool_submit(struct chunk_pool *p, struct pool_task *t);

#endif
