/* SPDX-License-Identifier: Apache-2.0
 *
 * Paths inside a volume, on any engine through meta_ops only: resolving
 * "/a/b" to an inode (no symlinks followed) and naming an inode by its
 * path (walking its parent pointers, finding each name by listing the
 * parent). Used by the operator's commands (quota, fsck, restore, info).
 */
#ifndef TIDEFS_META_PATH_H
#define TIDEFS_META_PATH_H

#include "meta/meta.h"

/* Resolves an absolute or relative-to-root path; "" and "/" are the root.
 * "." components are skipped, ".." is refused (-EINVAL). A symlink in
 * the middle is -ELOOP; the last component may be anything. *out gets the
 * node's attributes. */
int meta_path_resolve(const struct meta_ops *ops, struct meta *m, const char *path, struct meta_attr *out);

/* The path of inode `ino` ("/a/b"), malloc'ed into *out (caller frees).
 * An unlinked inode is "(unlinked inode N)"; the trash shows as
 * "/.trash/...". -errno when the engine fails. */
int meta_path_of(const struct meta_ops *ops, struct meta *m, uint64_t ino, char **out);

#endif
