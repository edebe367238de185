/* SPDX-License-Identifier: Apache-2.0
 *
 * One owner's POSIX byte-range locks on one inode, as the engines store
 * them: records of type, pid, start, end (24 bytes, big-endian), and the
 * range arithmetic of applying a lock or unlock (split, then merge touching
 * ranges of one type). Engine-independent, so SQLite and Redis agree.
 */
#ifndef TIDEFS_PLOCK_H
#define TIDEFS_PLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

#define PLOCK_REC 24
#define PLOCK_MAX_RECS 100000 /* ranges one owner may hold on one inode */

struct plock_set {
    struct meta_plock *r; /* owned; free() */
    size_t n, cap;
};

/* Appends a range; -ENOLCK past PLOCK_MAX_RECS, -ENOMEM. */
int plock_push(struct plock_set *s, int type, uint64_t start, uint64_t end, uint32_t pid);
/* Appends the records of an encoded blob of len bytes. */
int plock_decode(const unsigned char *p, size_t len, struct plock_set *s);
/* The encoding of s (s->n * PLOCK_REC bytes); caller frees; NULL on OOM. */
unsigned char *plock_encode(const struct plock_set *s);
bool plock_overlaps(const struct meta_plock *a, const struct meta_plock *b);
/* out = own's ranges after applying lk (any type, F_UNLCK included). */
int plock_apply(const struct plock_set *own, const struct meta_plock *lk, struct plock_set *out);

#endif
