/* SPDX-License-Identifier: Apache-2.0
 *
 * POSIX byte-range lock records shared by every engine (see plock.h): the
 * 24-byte big-endian record encoding and the split/merge of one owner's
 * ranges when a lock or unlock is applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "meta/plock.h"

int plock_push(struct plock_set *s, int type, uint64_t start, uint64_t end, uint32_t pid)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        if (cap > PLOCK_MAX_RECS)
            return -ENOLCK;
        struct meta_plock *r = realloc(s->r, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        s->r = r;
        s->cap = cap;
    }
    s->r[s->n++] = (struct meta_plock){.type = type, .start = start, .end = end, .pid = pid};
    return 0;
}

int plock_decode(const unsigned char *p, size_t len, struct plock_set *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i + PLOCK_REC <= len; i += PLOCK_REC) {
        uint64_t f[4] = {0};
        const int width[4] = {4, 4, 8, 8};
        for (int k = 0, at = 0; k < 4; at += width[k++])
            for (int b = 0; b < width[k]; b++)
                f[k] = f[k] << 8 | p[i + at + b];
        rc = plock_push(s, (int)f[0], f[2], f[3], (uint32_t)f[1]);
    }
    return rc;
}

unsigned char *plock_encode(const struct plock_set *s)
{
    unsigned char *out = malloc(s->n * PLOCK_REC + 1), *p = out;
    for (size_t i = 0; out && i < s->n; i++) {
        uint64_t f[4] = {(uint32_t)s->r[i].type, s->r[i].pid, s->r[i].start, s->r[i].end};
        const int width[4] = {4, 4, 8, 8};
        for (int k = 0; k < 4; k++)
            for (int b = width[k] - 1; b >= 0; b--)
                *p++ = (unsigned char)(f[k] >> (8 * b));
    }
    return out;
}

bool plock_overlaps(const struct meta_plock *a, const struct meta_plock *b)
{
    return a->start <= b->end && b->start <= a->end;
}

static int by_start(const void *x, const void *y)
{
    const struct meta_plock *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* own ranges after applying lk (any type, F_UNLCK included) */
int plock_apply(const struct plock_set *own, const struct meta_plock *lk, struct plock_set *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < own->n; i++) {
        const struct meta_plock *r = &own->r[i];
        if (!plock_overlaps(r, lk)) {
            rc = plock_push(out, r->type, r->start, r->end, r->pid);
            continue;
        }
        if (r->start < lk->start)
            rc = plock_push(out, r->type, r->start, lk->start - 1, r->pid);
        if (rc == 0 && r->end > lk->end)
            rc = plock_push(out, r->type, lk->end + 1, r->end, r->pid);
    }
    if (rc == 0 && lk->type != F_UNLCK)
        rc = plock_push(out, lk->type, lk->start, lk->end, lk->pid);
    if (rc)
        return rc;
    if (out->n > 1)
        qsort(out->r, out->n, sizeof(*out->r), by_start);
    size_t w = 0; /* merge touching ranges of one type */
    for (size_t i = 0; i < out->n; i++) {
        struct meta_plock *prev = w ? &out->r[w - 1] : NULL;
        if (prev && prev->type == out->r[i].type && prev->end != UINT64_MAX && prev->end + 1 >= out->r[i].start) {
            if (out->r[i].end > prev->end)
                prev->end = out->r[i].end;
            continue;
        }
        out->r[w++] = out->r[i];
    }
    out->n = w;
    return 0;
}

