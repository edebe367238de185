/* SPDX-License-Identifier: Apache-2.0
 *
 * `tidefs fsck`: walks the tree (from the root, or a sub-path) and checks
 * that every block of every slice a file uses exists in the object store
 * with the right size (exact when the volume stores blocks uncompressed;
 * compressed blocks only need to exist and not be empty). Broken files are
 * reported by path. Repair turns each lost slice of a chunk into a hole of
 * the same extent (meta_ops.chunk_drop_slice): the file keeps its length
 * and every byte that still exists, the lost range reads as zeros instead
 * of failing with EIO. Nothing else is changed.
 */
#ifndef TIDEFS_META_FSCK_H
#define TIDEFS_META_FSCK_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/format.h"
#include "meta/meta.h"
#include "object/store.h"

struct fsck_hooks {
    void *arg;
    /* a broken slice of a file: problem is "missing block <key>" or
     * "block <key> has N bytes, expected M" */
    void (*broken)(void *arg, const char *path, uint64_t ino, uint32_t indx, uint64_t slice, const char *problem);
    /* asked before repairing each broken file; NULL = repair without asking */
    bool (*confirm)(void *arg, const char *path);
    void (*repaired)(void *arg, const char *path, uint64_t slice, int rc);
    void (*progress)(void *arg, uint64_t files);
    bool (*stop)(void *arg);
};

struct fsck_report {
    uint64_t dirs, files, slices, blocks;
    uint64_t missing, bad_size;  /* blocks */
    uint64_t broken_files;
    uint64_t repaired_slices, repair_failures;
    bool stopped;
};

/* Checks the subtree at `path` ("/" = everything, the trash included).
 * 0 or -errno (a metadata or store failure other than a missing block). */
int fsck_run(const struct meta_ops *ops, struct meta *m, const struct format *fmt, struct store *st,
             const char *path, bool repair, const struct fsck_hooks *hooks, struct fsck_report *out);

#endif
