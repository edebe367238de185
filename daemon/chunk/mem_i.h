/* SPDX-License-Identifier: Apache-2.0
 *
 * Memory for block data, and its accounting against --buffer-size. Every
 * write buffer, cached block and readahead block is charged here. Writers
 * and block loads reserve (and wait while the budget is spent, first
 * asking the block cache to give memory back); a reservation is always
 * granted when nothing is reserved, so a read progresses. Compression
 * buffers charge unconditionally (they are short-lived).
 *
 * Block buffers are mmap'ed, not malloc'ed: glibc would keep freed 4 MiB
 * heap blocks mapped, and the daemon's RSS must follow the accounting.
 * A few freed full-block buffers are kept for reuse (MEM_SPARE, while
 * they and the charged memory fit the budget) because faulting in and
 * zeroing fresh pages for every block costs more than the copy into them.
 */
#ifndef TIDEFS_MEM_I_H
#define TIDEFS_MEM_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_SPARE 4

struct chunk_mem {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t limit;
    uint64_t used; /* protected by lock */
    uint64_t peak; /* protected by lock */
    /* Gives back up to `need` bytes (the block cache evicting); returns
     * the bytes freed. Called without lock held. */
    uint64_t (*reclaim)(void *arg, uint64_t need);
    void *reclaim_arg;
    /* Told that a writer is waiting and nothing could be reclaimed (the
     * writer's flusher then freezes open slices so uploads free memory). */
    void (*pressure)(void *arg);
    void *pressure_arg;
    size_t spare_cap;           /* the one buffer size kept for reuse */
    void *spare[MEM_SPARE];     /* protected by lock */
    int nspare;                 /* protected by lock */
};

/* `block_cap`: the buffer size worth recycling (a full block's). */
void mem_init(struct chunk_mem *m, uint64_t limit, size_t block_cap);
void mem_destroy(struct chunk_mem *m);

/* Reserves n bytes, waiting while over the limit. A reservation larger
 * than the whole limit is granted when nothing else is reserved. */
void mem_reserve(struct chunk_mem *m, uint64_t n);
/* Reserves n bytes only if that stays within the limit. */
bool mem_try_reserve(struct chunk_mem *m, uint64_t n);
/* Reserves n bytes regardless of the limit (reads must progress). */
void mem_charge(struct chunk_mem *m, uint64_t n);
/* Like mem_charge, but first asks the cache to make room when the charge
 * would go over the limit. */
void mem_charge_fit(struct chunk_mem *m, uint64_t n);
void mem_release(struct chunk_mem *m, uint64_t n);
/* Wakes waiting writers to retry reclaiming (memory became evictable). */
void mem_kick(struct chunk_mem *m);
uint64_t mem_used(struct chunk_mem *m);
uint64_t mem_peak(struct chunk_mem *m);

/* Page-granular buffers; the size charged for a buffer is mem_buf_cap(n).
 * `populate` pre-faults the pages when the caller will fill them all. */
size_t mem_buf_cap(size_t n);
void *mem_buf_alloc(struct chunk_mem *m, size_t cap, bool populate);
/* Grows a buffer, keeping its content; NULL on failure (old kept). */
void *mem_buf_grow(void *p, size_t old_cap, size_t new_cap);
void mem_buf_free(struct chunk_mem *m, void *p, size_t cap); /* accepts NULL */

#endif
