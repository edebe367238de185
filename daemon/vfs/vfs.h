/* SPDX-License-Identifier: Apache-2.0
 *
 * The VFS joins the metadata engine (namespace, layout) and the data path
 * (chunk store) into filesystem operations on stable inode numbers. It is
 * independent of FUSE: fuse/fs_ops.c calls these and converts -errno into
 * replies. Every function returns 0 or -errno unless stated otherwise.
 *
 * Open files are tracked per inode (struct vfs_inode in vfs_i.h), not per
 * handle: a file handle value only encodes the open flags, so a daemon that
 * takes over a FUSE connection can serve handles it never issued.
 */
#ifndef TIDEFS_VFS_H
#define TIDEFS_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chunk/chunk.h"
#include "meta/format.h"
#include "meta/meta.h"

struct vfs;

struct vfs_config {
    bool read_only;
    uint64_t root_ino; /* meta inode shown as the root (--subdir), 1 = whole volume */
};

/* Borrows ops/m/cs/fmt, which must outlive the vfs. Registers the
 * open-file test with the engine. Caller frees with vfs_free(). */
int vfs_new(const struct vfs_config *cfg, const struct meta_ops *ops, struct meta *m, struct chunk_store *cs,
            const struct format *fmt, struct vfs **out);
void vfs_free(struct vfs *v); /* accepts NULL */

/* Journal acknowledged writes (supervised mounts, see vfs_journal.h);
 * j is borrowed and must outlive the vfs. */
struct vfs_journal;
void vfs_set_journal(struct vfs *v, struct vfs_journal *j);

/* Inode number translation for --subdir mounts (FUSE root is always 1). */
uint64_t vfs_to_meta(const struct vfs *v, uint64_t ino);
uint64_t vfs_from_meta(const struct vfs *v, uint64_t ino);

/* Namespace: inode numbers here are FUSE numbers; attrs come back in FUSE
 * numbering too, with pending (unflushed) writes reflected in size. */
int vfs_lookup(struct vfs *v, uint64_t parent, const char *name, struct meta_attr *out);
int vfs_getattr(struct vfs *v, uint64_t ino, struct meta_attr *out);
int vfs_setattr(struct vfs *v, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
                struct meta_attr *out);
int vfs_mknod(struct vfs *v, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
              uint64_t rdev, const char *target, struct meta_attr *out);
int vfs_link(struct vfs *v, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out);
int vfs_unlink(struct vfs *v, uint64_t parent, const char *name);
int vfs_rmdir(struct vfs *v, uint64_t parent, const char *name);
int vfs_rename(struct vfs *v, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
               unsigned flags);
int vfs_readlink(struct vfs *v, uint64_t ino, char **out); /* caller frees */
int vfs_readdir(struct vfs *v, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg);
int vfs_statfs(struct vfs *v, struct meta_statfs *out);

ssize_t vfs_getxattr(struct vfs *v, uint64_t ino, const char *name, void *buf, size_t size);
int vfs_setxattr(struct vfs *v, uint64_t ino, const char *name, const void *value, size_t size, int flags);
ssize_t vfs_listxattr(struct vfs *v, uint64_t ino, char *buf, size_t size);
int vfs_removexattr(struct vfs *v, uint64_t ino, const char *name);

/* Files. vfs_open/create return a handle value in *fh (encodes flags). */
int vfs_open(struct vfs *v, uint64_t ino, int flags, uint64_t *fh);
int vfs_create(struct vfs *v, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
               int flags, struct meta_attr *out, uint64_t *fh);
/* Reads up to size bytes at off into buf; returns bytes read (>= 0) or
 * -errno. When the whole range is a hole, *data points to shared zeros
 * and buf is untouched; otherwise *data = buf. */
ssize_t vfs_read(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t off, size_t size, char *buf,
                 const char **data);
ssize_t vfs_write(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t off, const char *buf, size_t size);
int vfs_flush(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t lock_owner);
int vfs_fsync(struct vfs *v, uint64_t ino, bool datasync);
int vfs_fsyncdir(struct vfs *v, uint64_t ino);
/* flock_owner: non-zero when the kernel asks to drop this owner's flock. */
int vfs_release(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t flock_owner);
int vfs_fallocate(struct vfs *v, uint64_t ino, int mode, uint64_t off, uint64_t len);
ssize_t vfs_copy_range(struct vfs *v, uint64_t ino_in, uint64_t off_in, uint64_t ino_out, uint64_t off_out,
                       size_t len);

/* Locks; `wait` makes setlk/flock block until granted or interrupted
 * (`interrupted` polled between attempts, may be NULL). */
int vfs_getlk(struct vfs *v, uint64_t ino, uint64_t owner, struct meta_plock *lk);
int vfs_setlk(struct vfs *v, uint64_t ino, uint64_t owner, const struct meta_plock *lk, bool wait,
              bool (*interrupted)(void *), void *arg);
int vfs_flock(struct vfs *v, uint64_t ino, uint64_t owner, int op, bool (*interrupted)(void *), void *arg);

/* This mount changed the file's layout (a slice committed): cached
 * layout of the inode (meta numbering) is dropped. */
void vfs_layout_changed(struct vfs *v, uint64_t meta_ino);

/* Background work (deleting freed slices' blocks); called periodically by
 * the session's housekeeping thread. */
int vfs_housekeeping(struct vfs *v);
/* Flush everything buffered (unmount). */
int vfs_flush_all(struct vfs *v);

/* Handle values encode the open flags: a daemon that takes over a FUSE
 * connection derives everything it needs from the value. */
uint64_t vfs_fh_encode(int flags);
int vfs_fh_flags(uint64_t fh);

#endif
