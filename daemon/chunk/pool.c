/* SPDX-License-Identifier: Apache-2.0
 *
 * Worker thread pool (see pool_i.h). One mutex guards the queue; workers
 * sleep on a condition variable while it is empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "chunk/pool_i.h"

struct chunk_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pool_task *head, *tail; /* protected by lock */
    bool stopping;                 /* protected by lock */
    int nthreads;
    pthread_t *threads;
};

static void *pool_worker(void *arg)
{
    struct chunk_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct pool_task *t = p->head;
        if (!t) {
            if (p->stopping)
                break;
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        t->run(t);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_new(int nthreads, struct chunk_pool **out)
{
    struct chunk_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
    if (!p->threads) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (; p->nthreads < nthreads; p->nthreads++) {
        int rc = pthread_create(&p->threads[p->nthreads], NULL, pool_worker, p);
        if (rc != 0) {
            pool_free(p);
            return -rc;
        }
    }
    *out = p;
    return 0;
}

void pool_free(struct chunk_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

void pool_submit(struct chunk_pool *p, struct pool_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}
