/* SPDX-License-Identifier: Apache-2.0
 *
 * Slice resolution: a chunk's slices (oldest first) each paint their
 * window over the chunk, newer on top; what stays visible is a sorted list
 * of non-overlapping segments, with the gaps no slice covers (and id-0
 * hole slices) reading as zeros. Pure; unit tested against a byte model.
 *
 * Invariant while painting: out[0..n) is sorted by pos, non-overlapping,
 * and may have gaps; gaps are filled with id-0 segments at the end.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/slice_i.h"

static struct chunk_segment seg_of(const struct meta_slice *s)
{
    struct chunk_segment g = {.pos = s->pos, .len = s->len, .id = s->id};
    if (s->id) {
        g.size = s->size;
        g.off = s->off;
    }
    return g;
}

/* The part of `g` in [from, to) (which must intersect it). */
static struct chunk_segment seg_cut(struct chunk_segment g, uint32_t from, uint32_t to)
{
    uint32_t end = g.pos + g.len;
    uint32_t a = from > g.pos ? from : g.pos;
    uint32_t b = to < end ? to : end;
    if (g.id)
        g.off += a - g.pos;
    g.pos = a;
    g.len = b - a;
    return g;
}

/* Paints `s` over out[0..*n): the segments it overlaps (indexes i..j-1)
 * are replaced by their uncovered left part, s, and their right part. */
static void paint(struct chunk_segment *out, size_t *n, struct chunk_segment s)
{
    uint32_t end = s.pos + s.len;
    size_t i = 0, j;
    while (i < *n && out[i].pos + out[i].len <= s.pos)
        i++;
    j = i;
    while (j < *n && out[j].pos < end)
        j++;

    struct chunk_segment mid[3];
    size_t m = 0;
    if (j > i && out[i].pos < s.pos)
        mid[m++] = seg_cut(out[i], out[i].pos, s.pos);
    mid[m++] = s;
    if (j > i && out[j - 1].pos + out[j - 1].len > end)
        mid[m++] = seg_cut(out[j - 1], end, out[j - 1].pos + out[j - 1].len);

    memmove(&out[i + m], &out[j], (*n - j) * sizeof(*out));
    memcpy(&out[i], mid, m * sizeof(*out));
    *n = *n - (j - i) + m;
}

/* Fills gaps with zeros from the back (in place) and merges neighbouring
 * zero segments. */
static size_t fill_gaps(struct chunk_segment *out, size_t n)
{
    size_t gaps = 0;
    for (size_t k = 0; k < n; k++)
        gaps += out[k].pos > (k ? out[k - 1].pos + out[k - 1].len : 0);
    size_t w = n + gaps;
    for (size_t k = n; k-- > 0;) {
        uint32_t prev_end = k ? out[k - 1].pos + out[k - 1].len : 0;
        out[--w] = out[k];
        if (out[k].pos > prev_end)
            out[--w] = (struct chunk_segment){.pos = prev_end, .len = out[k].pos - prev_end};
    }
    n += gaps;
    size_t r = 0;
    for (size_t k = 0; k < n; k++) {
        if (r && out[k].id == 0 && out[r - 1].id == 0)
            out[r - 1].len += out[k].len;
        else
            out[r++] = out[k];
    }
    return r;
}

int slice_resolve_into(const struct meta_slice *slices, size_t n, struct chunk_segment *out, size_t *nout)
{
    size_t cnt = 0;
    for (size_t k = 0; k < n; k++) {
        const struct meta_slice *s = &slices[k];
        if ((uint64_t)s->pos + s->len > META_CHUNK_SIZE)
            return -EINVAL;
        if (s->id && (uint64_t)s->off + s->len > s->size)
            return -EINVAL;
        if (s->len)
            paint(out, &cnt, seg_of(s));
    }
    *nout = fill_gaps(out, cnt);
    return 0;
}

int chunk_resolve(const struct meta_slice *slices, size_t n, struct chunk_segment **out, size_t *nout)
{
    struct chunk_segment *segs = malloc(slice_resolve_cap(n) * sizeof(*segs));
    *out = NULL;
    *nout = 0;
    if (!segs)
        return -ENOMEM;
    int rc = slice_resolve_into(slices, n, segs, nout);
    if (rc < 0) {
        free(segs);
        return rc;
    }
    *out = segs;
    return 0;
}

bool chunk_range_is_hole(const struct meta_slice *slices, size_t n, uint32_t off, size_t len)
{
    struct chunk_segment stack[64], *segs = stack;
    size_t nseg = 0;
    if (slice_resolve_cap(n) > 64 && !(segs = malloc(slice_resolve_cap(n) * sizeof(*segs))))
        return false;
    bool hole = slice_resolve_into(slices, n, segs, &nseg) == 0;
    uint64_t end = (uint64_t)off + len;
    for (size_t i = 0; hole && i < nseg; i++) {
        if (segs[i].id && segs[i].pos < end && segs[i].pos + segs[i].len > off)
            hole = false;
    }
    if (segs != stack)
        free(segs);
    return hole;
}
