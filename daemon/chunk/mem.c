/* SPDX-License-Identifier: Apache-2.0
 *
 * Memory accounting for block data (see mem_i.h). One mutex guards the
 * counter; the hot paths take it once per block, not per byte or page.
 */
#include <sys/mman.h>
#include <time.h>

#include "chunk/mem_i.h"

#define MEM_PAGE 4096u

void mem_init(struct chunk_mem *m, uint64_t limit, size_t block_cap)
{
    *m = (struct chunk_mem){.limit = limit, .spare_cap = block_cap};
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void mem_destroy(struct chunk_mem *m)
{
    for (int i = 0; i < m->nspare; i++)
        munmap(m->spare[i], m->spare_cap);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
}

static void mem_add_locked(struct chunk_mem *m, uint64_t n)
{
    m->used += n;
    if (m->used > m->peak)
        m->peak = m->used;
}

static bool mem_fits_locked(const struct chunk_mem *m, uint64_t n)
{
    return m->used + n <= m->limit || m->used == 0;
}

void mem_reserve(struct chunk_mem *m, uint64_t n)
{
    pthread_mutex_lock(&m->lock);
    while (!mem_fits_locked(m, n)) {
        uint64_t need = m->used + n - m->limit;
        pthread_mutex_unlock(&m->lock);
        uint64_t freed = m->reclaim ? m->reclaim(m->reclaim_arg, need) : 0;
        if (freed < need && m->pressure)
            m->pressure(m->pressure_arg);
        pthread_mutex_lock(&m->lock);
        if (mem_fits_locked(m, n) || freed >= need)
            continue;
        /* uploads finishing broadcast; the timeout re-tries reclaim */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
    }
    mem_add_locked(m, n);
    pthread_mutex_unlock(&m->lock);
}

bool mem_try_reserve(struct chunk_mem *m, uint64_t n)
{
    pthread_mutex_lock(&m->lock);
    bool ok = m->used + n <= m->limit;
    if (ok)
        mem_add_locked(m, n);
    pthread_mutex_unlock(&m->lock);
    return ok;
}

void mem_charge(struct chunk_mem *m, uint64_t n)
{
    pthread_mutex_lock(&m->lock);
    mem_add_locked(m, n);
    pthread_mutex_unlock(&m->lock);
}

void mem_charge_fit(struct chunk_mem *m, uint64_t n)
{
    if (mem_try_reserve(m, n))
        return;
    uint64_t used = mem_used(m);
    if (m->reclaim && used + n > m->limit)
        m->reclaim(m->reclaim_arg, used + n - m->limit);
    mem_charge(m, n);
}

void mem_release(struct chunk_mem *m, uint64_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&m->lock);
    m->used -= n;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

void mem_kick(struct chunk_mem *m)
{
    pthread_mutex_lock(&m->lock);
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

uint64_t mem_used(struct chunk_mem *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t u = m->used;
    pthread_mutex_unlock(&m->lock);
    return u;
}

uint64_t mem_peak(struct chunk_mem *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t p = m->peak;
    pthread_mutex_unlock(&m->lock);
    return p;
}

size_t mem_buf_cap(size_t n)
{
    return n ? (n + MEM_PAGE - 1) & ~(size_t)(MEM_PAGE - 1) : MEM_PAGE;
}

void *mem_buf_alloc(struct chunk_mem *m, size_t cap, bool populate)
{
    if (cap == m->spare_cap) {
        void *p = NULL;
        pthread_mutex_lock(&m->lock);
        if (m->nspare > 0)
            p = m->spare[--m->nspare];
        pthread_mutex_unlock(&m->lock);
        if (p)
            return p;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0);
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *mem_buf_grow(void *p, size_t old_cap, size_t new_cap)
{
    void *q = mremap(p, old_cap, new_cap, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? NULL : q;
}

void mem_buf_free(struct chunk_mem *m, void *p, size_t cap)
{
    if (!p)
        return;
    if (cap == m->spare_cap) {
        pthread_mutex_lock(&m->lock);
        /* spares are resident too: keep one only while charged memory
         * (this buffer's charge still included) and spares fit the limit */
        bool kept = m->nspare < MEM_SPARE && m->used + (uint64_t)m->nspare * cap <= m->limit;
        if (kept)
            m->spare[m->nspare++] = p;
        pthread_mutex_unlock(&m->lock);
        if (kept)
            return;
    }
    munmap(p, cap);
}
