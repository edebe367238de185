/* SPDX-License-Identifier: Apache-2.0
 *
 * Slice compaction (see vfs_compact.h). A chunk is compacted when it has
 * COMPACT_QUIET_SLICES slices and took no commit for a second, or
 * COMPACT_BUSY_SLICES even while being written (so that a file rewritten
 * without pause still reads fast). The copy covers the chunk from its
 * first to its last byte of data (holes in between become zeros) and is
 * swapped in only if the chunk kept its records meanwhile (appends are
 * fine: they stay on top); otherwise the copy is deleted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs_compact.h"
#include "vfs/vfs_i.h"

#define COMPACT_QUIET_SLICES 5
#define COMPACT_BUSY_SLICES 100
#define COMPACT_BATCH 64

/* The chunk range holding data: [*pos, *pos + *len); false when none. */
static bool data_extent(const struct meta_slice *s, size_t n, uint32_t *pos, uint32_t *len)
{
    struct chunk_segment *segs = NULL;
    size_t nseg = 0;
    if (chunk_resolve(s, n, &segs, &nseg) != 0)
        return false;
    int64_t first = -1, end = -1;
    for (size_t i = 0; i < nseg; i++) {
        if (segs[i].id == 0)
            continue;
        if (first < 0)
            first = segs[i].pos;
        end = (int64_t)segs[i].pos + segs[i].len;
    }
    free(segs);
    if (first < 0)
        return false;
    *pos = (uint32_t)first;
    *len = (uint32_t)(end - first);
    return true;
}

static int compact_chunk(struct vfs *v, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n)
{
    uint32_t pos, len;
    uint64_t id;
    if (!data_extent(s, n, &pos, &len))
        return 0;
    int rc = v->ops->new_slice_id(v->m, &id);
    if (rc == 0)
        rc = chunk_compact_copy(v->cs, indx, s, n, id, pos, len);
    struct meta_slice repl = {.pos = pos, .id = id, .size = len, .off = 0, .len = len};
    if (rc == 0)
        rc = v->ops->compact_chunk(v->m, ino, indx, s, n, &repl, 1);
    if (rc == 0) {
        vfs_layout_changed(v, ino);
        return 1;
    }
    if (id)
        chunk_delete_slice(v->cs, id, len); /* whatever of it was uploaded */
    return rc == -ESTALE || rc == -ENOENT ? 0 : rc;
}

static int compact_candidate(struct vfs *v, const struct chunk_ref *c)
{
    struct meta_slice *s = NULL;
    size_t n = 0;
    int rc = v->ops->read_chunk(v->m, c->ino, c->indx, &s, &n);
    if (rc == 0 && n >= (c->quiet ? COMPACT_QUIET_SLICES : COMPACT_BUSY_SLICES))
        rc = compact_chunk(v, c->ino, c->indx, s, n);
    free(s);
    return rc == -ENOENT ? 0 : rc;
}

int vfs_compact_some(struct vfs *v)
{
    if (v->cfg.read_only || !v->ops->compact_chunk)
        return 0;
    struct chunk_ref refs[COMPACT_BATCH];
    size_t n = chunk_compact_candidates(v->cs, refs, COMPACT_BATCH);
    int done = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = compact_candidate(v, &refs[i]);
        if (rc > 0)
            done += rc;
        else if (rc < 0 && !first)
            first = rc;
        if (rc < 0)
            fprintf(stderr, "tidefs: compaction of inode %llu chunk %u failed: %s\n",
                    (unsigned long long)refs[i].ino, refs[i].indx, strerror(-rc));
    }
    return first ? first : done;
}
