/* SPDX-License-Identifier: Apache-2.0
 *
 * The open-file table: which inodes have open handles in this process, with
 * their read state. The metadata engine asks it (vfs_inode_is_open) whether
 * an inode whose last link goes away must be kept until its last close.
 * Handle values carry only the open flags (see vfs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "vfs/vfs_i.h"

#define FH_MAGIC (1ULL << 40)

uint64_t vfs_fh_encode(int flags)
{
    return FH_MAGIC | (uint32_t)flags;
}

int vfs_fh_flags(uint64_t fh)
{
    return (int)(uint32_t)fh;
}

static struct vfs_inode **bucket(struct vfs *v, uint64_t ino)
{
    return &v->table[(ino * 0x9E3779B97F4A7C15ULL) >> 52 & (VFS_INODE_BUCKETS - 1)];
}

static struct vfs_inode *find_locked(struct vfs *v, uint64_t ino)
{
    for (struct vfs_inode *n = *bucket(v, ino); n; n = n->next)
        if (n->ino == ino)
            return n;
    return NULL;
}

struct vfs_inode *vfs_inode_ref(struct vfs *v, uint64_t ino)
{
    pthread_mutex_lock(&v->lock);
    struct vfs_inode *n = find_locked(v, ino);
    if (!n) {
        n = calloc(1, sizeof(*n));
        if (!n)
            abort();
        n->ino = ino;
        n->reader = chunk_reader_new(v->cs, ino);
        vfs_layout_init(&n->layout);
        struct vfs_inode **b = bucket(v, ino);
        n->next = *b;
        *b = n;
    }
    n->opens++;
    pthread_mutex_unlock(&v->lock);
    return n;
}

bool vfs_inode_unref(struct vfs *v, uint64_t ino)
{
    struct vfs_inode *gone = NULL;
    pthread_mutex_lock(&v->lock);
    for (struct vfs_inode **p = bucket(v, ino); *p; p = &(*p)->next) {
        if ((*p)->ino != ino)
            continue;
        if (--(*p)->opens == 0) {
            gone = *p;
            *p = gone->next;
        }
        break;
    }
    pthread_mutex_unlock(&v->lock);
    if (!gone)
        return false;
    bool unlinked = gone->unlinked;
    chunk_reader_free(gone->reader);
    vfs_layout_clear(&gone->layout);
    free(gone);
    return unlinked;
}

struct vfs_inode *vfs_inode_get(struct vfs *v, uint64_t ino)
{
    pthread_mutex_lock(&v->lock);
    struct vfs_inode *n = find_locked(v, ino);
    pthread_mutex_unlock(&v->lock);
    return n;
}

/* The engine calls this only when a link count drops to 0, and keeps the
 * inode as an orphan when it returns true: the mark lets vfs_release skip
 * the orphan check (a metadata read per close) for every other file. A
 * mark left by a transaction that was rolled back only costs that check. */
bool vfs_inode_is_open(void *arg, uint64_t ino)
{
    struct vfs *v = arg;
    pthread_mutex_lock(&v->lock);
    struct vfs_inode *n = find_locked(v, ino);
    if (n)
        n->unlinked = true;
    pthread_mutex_unlock(&v->lock);
    return n != NULL;
}

void vfs_inode_table_free(struct vfs *v)
{
    for (size_t i = 0; i < VFS_INODE_BUCKETS; i++) {
        while (v->table[i]) {
            struct vfs_inode *n = v->table[i];
            v->table[i] = n->next;
            chunk_reader_free(n->reader);
            vfs_layout_clear(&n->layout);
            free(n);
        }
    }
}
