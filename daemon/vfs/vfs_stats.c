/* SPDX-License-Identifier: Apache-2.0
 *
 * Lock-free mount counters (see vfs_stats.h). Relaxed ordering: each
 * counter only has to be exact on its own.
 */
#include <time.h>

#include "vfs/vfs_stats.h"

static const char *const op_names[VFS_OP_COUNT] = {
    [VFS_OP_LOOKUP] = "lookup",         [VFS_OP_FORGET] = "forget",
    [VFS_OP_GETATTR] = "getattr",       [VFS_OP_SETATTR] = "setattr",
    [VFS_OP_READLINK] = "readlink",     [VFS_OP_MKNOD] = "mknod",
    [VFS_OP_MKDIR] = "mkdir",           [VFS_OP_SYMLINK] = "symlink",
    [VFS_OP_LINK] = "link",             [VFS_OP_UNLINK] = "unlink",
    [VFS_OP_RMDIR] = "rmdir",           [VFS_OP_RENAME] = "rename",
    [VFS_OP_OPEN] = "open",             [VFS_OP_CREATE] = "create",
    [VFS_OP_READ] = "read",             [VFS_OP_WRITE] = "write",
    [VFS_OP_FLUSH] = "flush",           [VFS_OP_RELEASE] = "release",
    [VFS_OP_FSYNC] = "fsync",           [VFS_OP_OPENDIR] = "opendir",
    [VFS_OP_READDIR] = "readdir",       [VFS_OP_READDIRPLUS] = "readdirplus",
    [VFS_OP_RELEASEDIR] = "releasedir", [VFS_OP_FSYNCDIR] = "fsyncdir",
    [VFS_OP_STATFS] = "statfs",         [VFS_OP_SETXATTR] = "setxattr",
    [VFS_OP_GETXATTR] = "getxattr",     [VFS_OP_LISTXATTR] = "listxattr",
    [VFS_OP_REMOVEXATTR] = "removexattr", [VFS_OP_GETLK] = "getlk",
    [VFS_OP_SETLK] = "setlk",           [VFS_OP_FLOCK] = "flock",
    [VFS_OP_FALLOCATE] = "fallocate",   [VFS_OP_COPY_FILE_RANGE] = "copy_file_range",
};

const char *vfs_op_name(enum vfs_op op)
{
    return (unsigned)op < VFS_OP_COUNT ? op_names[op] : "unknown";
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vfs_stats_add_read(struct vfs_stats *s, uint64_t bytes)
{
    if (s)
        __atomic_fetch_add(&s->read_bytes, bytes, __ATOMIC_RELAXED);
}

void vfs_stats_add_written(struct vfs_stats *s, uint64_t bytes)
{
    if (s)
        __atomic_fetch_add(&s->written_bytes, bytes, __ATOMIC_RELAXED);
}

void vfs_stats_snapshot(const struct vfs_stats *s, struct vfs_stats *out)
{
    for (int i = 0; i < VFS_OP_COUNT; i++) {
        out->ops[i].count = __atomic_load_n(&s->ops[i].count, __ATOMIC_RELAXED);
        out->ops[i].ns = __atomic_load_n(&s->ops[i].ns, __ATOMIC_RELAXED);
    }
    out->read_bytes = __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED);
    out->written_bytes = __atomic_load_n(&s->written_bytes, __ATOMIC_RELAXED);
}

struct vfs_stats_timer vfs_stats_begin(struct vfs_stats *s, enum vfs_op op)
{
    struct vfs_stats_timer t = {s, op, s ? mono_ns() : 0};
    return t;
}

void vfs_stats_end(struct vfs_stats_timer *t)
{
    if (!t->s || (unsigned)t->op >= VFS_OP_COUNT)
        return;
    struct vfs_op_stats *o = &t->s->ops[t->op];
    __atomic_fetch_add(&o->ns, mono_ns() - t->t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&o->count, 1, __ATOMIC_RELAXED);
}
