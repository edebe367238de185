/* SPDX-License-Identifier: Apache-2.0
 *
 * Internals of the FUSE adapter shared by fs_ops.c and fs_readdir.c.
 */
#ifndef TIDEFS_FS_I_H
#define TIDEFS_FS_I_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fuse/fs.h"

struct fs_ctx *ctx_of(fuse_req_t req);
struct vfs *vfs_of(fuse_req_t req);
void stat_from_attr(struct stat *st, const struct meta_attr *a);

/* Sets the mount's readahead once; must run after FUSE_INIT was answered,
 * which resets it (any request but INIT itself proves that). */
void fs_tune_readahead(struct fs_ctx *ctx);

/* First line of every handler: counts the request and its handler time
 * (taken when the handler returns, whichever way) in the mount's stats.
 * The stats pointer is read before the reply frees req. */
#define FS_COUNT(req, op)                                                                  \
    struct vfs_stats_timer fs_timer_ __attribute__((cleanup(vfs_stats_end), unused)) = \
        vfs_stats_begin(ctx_of(req)->stats, op)

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
