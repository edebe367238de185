/* SPDX-License-Identifier: Apache-2.0
 *
 * Live counters of a mount for `tidefs stats` and the Prometheus endpoint:
 * requests and handler time per FUSE operation, bytes read and written.
 * Lock-free (relaxed atomic adds) so that counting never makes one request
 * wait for another; readers take a snapshot whose counters are each exact
 * but not taken at one instant together (fine for rates).
 */
#ifndef TIDEFS_VFS_STATS_H
#define TIDEFS_VFS_STATS_H

#include <stdint.h>

enum vfs_op {
    VFS_OP_LOOKUP, VFS_OP_FORGET, VFS_OP_GETATTR, VFS_OP_SETATTR, VFS_OP_READLINK, VFS_OP_MKNOD,
    VFS_OP_MKDIR, VFS_OP_SYMLINK, VFS_OP_LINK, VFS_OP_UNLINK, VFS_OP_RMDIR, VFS_OP_RENAME,
    VFS_OP_OPEN, VFS_OP_CREATE, VFS_OP_READ, VFS_OP_WRITE, VFS_OP_FLUSH, VFS_OP_RELEASE,
    VFS_OP_FSYNC, VFS_OP_OPENDIR, VFS_OP_READDIR, VFS_OP_READDIRPLUS, VFS_OP_RELEASEDIR,
    VFS_OP_FSYNCDIR, VFS_OP_STATFS, VFS_OP_SETXATTR, VFS_OP_GETXATTR, VFS_OP_LISTXATTR,
    VFS_OP_REMOVEXATTR, VFS_OP_GETLK, VFS_OP_SETLK, VFS_OP_FLOCK, VFS_OP_FALLOCATE,
    VFS_OP_COPY_FILE_RANGE,
    VFS_OP_COUNT
};

/* "lookup", "copy_file_range", ...: the label value in metrics. */
const char *vfs_op_name(enum vfs_op op);

struct vfs_op_stats {
    uint64_t count;
    uint64_t ns; /* handler time, summed */
};

/* Zero-initialised ({0}) is ready to use; embed it where it outlives
 * every thread that counts into it. */
struct vfs_stats {
    struct vfs_op_stats ops[VFS_OP_COUNT];
    uint64_t read_bytes;    /* returned by read */
    uint64_t written_bytes; /* accepted by write and copy_file_range */
};

void vfs_stats_add_read(struct vfs_stats *s, uint64_t bytes);
void vfs_stats_add_written(struct vfs_stats *s, uint64_t bytes);

/* Copies every counter with atomic loads. */
void vfs_stats_snapshot(const struct vfs_stats *s, struct vfs_stats *out);

/* Times one handler: begin on entry, end when it returns (fs_ops.c ends
 * it with the cleanup attribute, so early returns are counted too). A
 * NULL stats counts nothing. */
struct vfs_stats_timer {
    struct vfs_stats *s;
    enum vfs_op op;
    uint64_t t0;
};
struct vfs_stats_timer vfs_stats_begin(struct vfs_stats *s, enum vfs_op op);
void vfs_stats_end(struct vfs_stats_timer *t);

#endif
