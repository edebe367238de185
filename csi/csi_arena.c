/* SPDX-License-Identifier: Apache-2.0
 *
 * The per-call arena: a singly linked list of zeroed allocations.
 */
#include "csi_arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct csi_arena_block {
    struct csi_arena_block *next;
    alignas(max_align_t) unsigned char data[];
};

void *csi_arena_alloc(struct csi_arena *a, size_t size)
{
    struct csi_arena_block *b = calloc(1, sizeof(*b) + size);

    if (!b)
        return NULL;
    b->next = a->head;
    a->head = b;
    return b->data;
}

char *csi_arena_strdup(struct csi_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = csi_arena_alloc(a, n);

    if (d)
        memcpy(d, s, n);
    return d;
}

void csi_arena_free(struct csi_arena *a)
{
    while (a->head) {
        struct csi_arena_block *next = a->head->next;

        free(a->head);
        a->head = next;
    }
}
