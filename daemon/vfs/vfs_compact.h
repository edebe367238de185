/* SPDX-License-Identifier: Apache-2.0
 *
 * Background slice compaction: files rewritten in place many times end up
 * with chunks made of many small slices, each read resolving all of them
 * and each small slice costing a GET. The chunks this mount committed to
 * are looked at on every housekeeping tick, and one with many slices is
 * rewritten as a single slice; the old slices go to the engine's deletion
 * queue, whose blocks housekeeping then deletes.
 */
#ifndef TIDEFS_VFS_COMPACT_H
#define TIDEFS_VFS_COMPACT_H

#include "vfs/vfs.h"

/* Compacts the candidate chunks that need it; returns how many were
 * compacted, or -errno of the first failure (the others are still tried). */
int vfs_compact_some(struct vfs *v);

#endif
