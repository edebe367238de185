/* SPDX-License-Identifier: Apache-2.0
 *
 * Allocation-free slice resolution for the read path: chunk_read resolves
 * the chunk's slices on every call, into a caller-provided (usually stack)
 * array, so a read costs no malloc for the common few-slice chunk.
 */
#ifndef TIDEFS_SLICE_I_H
#define TIDEFS_SLICE_I_H

#include "chunk/chunk.h"

/* Segments that resolving n slices can produce at most. */
static inline size_t slice_resolve_cap(size_t n)
{
    return 4 * n + 2;
}

/* chunk_resolve into `out`, which holds slice_resolve_cap(n) segments. */
int slice_resolve_into(const struct meta_slice *slices, size_t n, struct chunk_segment *out, size_t *nout);

#endif
