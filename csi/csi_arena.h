/* SPDX-License-Identifier: Apache-2.0
 *
 * A per-call allocation arena: handlers build their protobuf-c response
 * (nested messages, strings, arrays) from it, and the server frees it all at
 * once after packing. This keeps ownership of response pieces trivial.
 */
#ifndef TIDEFS_CSI_ARENA_H
#define TIDEFS_CSI_ARENA_H

#include <stddef.h>

struct csi_arena {
    struct csi_arena_block *head; /* owned list of allocations */
};

/* Zeroed memory owned by the arena, or NULL on out-of-memory. */
void *csi_arena_alloc(struct csi_arena *a, size_t size);
/* A copy of s owned by the arena, or NULL on out-of-memory. */
char *csi_arena_strdup(struct csi_arena *a, const char *s);
/* Frees everything; the arena is empty and reusable afterwards. */
void csi_arena_free(struct csi_arena *a);

/* A protobuf-c message of `type` from the arena, set up by its generated
 * `init` function; NULL on out-of-memory. */
#define CSI_NEW(a, type, init)                                                                                         \
    ({                                                                                                                 \
        type *new_ = csi_arena_alloc((a), sizeof(type));                                                               \
        if (new_)                                                                                                      \
            init(new_);                                                                                                \
        new_;                                                                                                          \
    })

#endif
