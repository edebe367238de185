/* SPDX-License-Identifier: Apache-2.0
 *
 * The read-side layout cache of an open file: its length and the slice
 * lists of the chunks being read, so that a sequential read costs no
 * engine query per FUSE request. Consistency: the cache starts empty at
 * every open (close-to-open across mounts) and this mount drops it on
 * every change it makes (slice commit, truncate, fallocate). A fill that
 * raced with an invalidation is not stored (generation check).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs_i.h"

void vfs_layout_init(struct vfs_layout *l)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
}

static void drop_chunks(struct vfs_layout *l)
{
    for (int i = 0; i < VFS_CACHED_CHUNKS; i++) {
        free(l->chunk[i].slices);
        l->chunk[i].slices = NULL;
        l->chunk[i].valid = false;
    }
}

void vfs_layout_clear(struct vfs_layout *l)
{
    drop_chunks(l);
    pthread_mutex_destroy(&l->lock);
}

void vfs_layout_invalidate(struct vfs_layout *l)
{
    pthread_mutex_lock(&l->lock);
    l->gen++;
    l->length_valid = false;
    drop_chunks(l);
    pthread_mutex_unlock(&l->lock);
}

void vfs_layout_changed(struct vfs *v, uint64_t meta_ino)
{
    struct vfs_inode *node = vfs_inode_get(v, meta_ino);
    if (node)
        vfs_layout_invalidate(&node->layout);
}

int vfs_layout_length(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint64_t *len)
{
    struct vfs_layout *l = node ? &node->layout : NULL;
    uint64_t gen = 0;
    if (l) {
        pthread_mutex_lock(&l->lock);
        bool hit = l->length_valid;
        *len = l->length;
        gen = l->gen;
        pthread_mutex_unlock(&l->lock);
        if (hit)
            return 0;
    }
    struct meta_attr a;
    int rc = v->ops->getattr(v->m, mi, &a);
    if (rc)
        return rc;
    *len = a.size;
    if (l) {
        pthread_mutex_lock(&l->lock);
        if (l->gen == gen) {
            l->length = a.size;
            l->length_valid = true;
        }
        pthread_mutex_unlock(&l->lock);
    }
    return 0;
}

static int copy_slices(const struct meta_slice *src, size_t n, struct meta_slice **out, size_t *nout)
{
    *out = malloc(n ? n * sizeof(*src) : 1);
    if (!*out)
        return -ENOMEM;
    if (n)
        memcpy(*out, src, n * sizeof(*src));
    *nout = n;
    return 0;
}

/* Looks the chunk up; on a hit copies it out. Called with l->lock held. */
static bool lookup_locked(struct vfs_layout *l, uint32_t indx, struct meta_slice **out, size_t *n, int *rc)
{
    for (int i = 0; i < VFS_CACHED_CHUNKS; i++) {
        if (l->chunk[i].valid && l->chunk[i].indx == indx) {
            l->chunk[i].used = ++l->clock;
            *rc = copy_slices(l->chunk[i].slices, l->chunk[i].n, out, n);
            return true;
        }
    }
    return false;
}

static void store_locked(struct vfs_layout *l, uint32_t indx, struct meta_slice *slices, size_t n)
{
    int victim = 0;
    for (int i = 1; i < VFS_CACHED_CHUNKS; i++)
        if (!l->chunk[i].valid || (l->chunk[victim].valid && l->chunk[i].used < l->chunk[victim].used))
            victim = i;
    free(l->chunk[victim].slices);
    l->chunk[victim].slices = slices;
    l->chunk[victim].n = n;
    l->chunk[victim].indx = indx;
    l->chunk[victim].valid = true;
    l->chunk[victim].used = ++l->clock;
}

int vfs_layout_chunk(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint32_t indx, struct meta_slice **out,
                     size_t *n)
{
    struct vfs_layout *l = node ? &node->layout : NULL;
    uint64_t gen = 0;
    int rc = 0;
    if (l) {
        pthread_mutex_lock(&l->lock);
        bool hit = lookup_locked(l, indx, out, n, &rc);
        gen = l->gen;
        pthread_mutex_unlock(&l->lock);
        if (hit)
            return rc;
    }
    rc = v->ops->read_chunk(v->m, mi, indx, out, n);
    if (rc == -ENOENT) {
        free(*out);
        rc = copy_slices(NULL, 0, out, n);
    }
    if (rc || !l)
        return rc;
    struct meta_slice *keep;
    size_t nkeep;
    if (copy_slices(*out, *n, &keep, &nkeep) != 0)
        return 0;
    pthread_mutex_lock(&l->lock);
    if (l->gen == gen)
        store_locked(l, indx, keep, nkeep);
    else
        free(keep);
    pthread_mutex_unlock(&l->lock);
    return 0;
}
