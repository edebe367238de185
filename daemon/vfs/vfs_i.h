/* SPDX-License-Identifier: Apache-2.0
 *
 * VFS internals shared by vfs.c (namespace), vfs_io.c (data) and
 * vfs_lock.c (locks). Not part of the VFS API.
 */
#ifndef TIDEFS_VFS_I_H
#define TIDEFS_VFS_I_H

#include <pthread.h>

#include "vfs/vfs.h"
#include "vfs/vfs_journal.h"

#define VFS_INODE_BUCKETS 4096
#define VFS_CACHED_CHUNKS 4

/* Layout of an open file cached for reads (vfs_cache.c): its length and
 * the slice lists of a few chunks. Valid from open (close-to-open: every
 * open starts empty) until this mount changes the file (commit, truncate,
 * fallocate), which invalidates it. */
struct vfs_layout {
    pthread_mutex_t lock;
    uint64_t gen;    /* bumped by every invalidation */
    bool length_valid;
    uint64_t length;
    struct {
        bool valid;
        uint32_t indx;
        uint64_t used; /* LRU clock */
        struct meta_slice *slices; /* owned */
        size_t n;
    } chunk[VFS_CACHED_CHUNKS];
    uint64_t clock;
};

/* An inode with open handles in this process. Invariants:
 * (1) present in the table iff opens > 0;
 * (2) reader is created with the entry and freed when it leaves. */
struct vfs_inode {
    uint64_t ino;               /* meta numbering */
    unsigned opens;             /* protected by vfs->lock */
    bool plocked;               /* a POSIX lock was taken; set once, racy read ok */
    bool unlinked;              /* the engine asked is_open (last link gone): protected by vfs->lock */
    struct vfs_layout layout;
    struct chunk_reader *reader; /* owned */
    struct vfs_inode *next;     /* bucket chain, protected by vfs->lock */
};

struct vfs {
    struct vfs_config cfg;
    const struct meta_ops *ops; /* borrowed */
    struct meta *m;             /* borrowed */
    struct chunk_store *cs;     /* borrowed */
    const struct format *fmt;   /* borrowed */
    pthread_mutex_t lock;       /* protects the inode table */
    struct vfs_inode *table[VFS_INODE_BUCKETS];
    struct vfs_journal *journal; /* borrowed, NULL unless supervised */
};

/* Open-file table (vfs_handle.c). vfs_inode_get returns the entry, or NULL
 * when the inode is not open; the pointer stays valid while the caller
 * holds an open of it. */
struct vfs_inode *vfs_inode_ref(struct vfs *v, uint64_t ino);
/* Drops one open; returns true when it was the last and the file may be an
 * orphan (the engine asked vfs_inode_is_open about it while it was open). */
bool vfs_inode_unref(struct vfs *v, uint64_t ino);
struct vfs_inode *vfs_inode_get(struct vfs *v, uint64_t ino);
/* meta_is_open_fn; also marks the inode so that its last release checks
 * for an orphan. */
bool vfs_inode_is_open(void *arg, uint64_t ino);
void vfs_inode_table_free(struct vfs *v);

/* Layout cache (vfs_cache.c). get_* fill from the engine on a miss. */
void vfs_layout_init(struct vfs_layout *l);
void vfs_layout_clear(struct vfs_layout *l);
void vfs_layout_invalidate(struct vfs_layout *l);
int vfs_layout_length(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint64_t *len);
/* Copies the chunk's slices into *out (malloc'ed, caller frees). */
int vfs_layout_chunk(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint32_t indx, struct meta_slice **out,
                     size_t *n);

/* Attribute adjustment on the way out: FUSE numbering and pending size. */
void vfs_attr_out(struct vfs *v, struct meta_attr *a);

#endif
