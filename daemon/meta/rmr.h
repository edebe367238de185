/* SPDX-License-Identifier: Apache-2.0
 *
 * Recursive removal in metadata (`tidefs rmr`, the trash purge): a tree is
 * emptied depth first through meta_ops.readdir/unlink/rmdir, page by page,
 * each removal its own transaction, so mounts keep working meanwhile and
 * an interrupted run leaves a smaller tree that a rerun finishes. With the
 * trash on, what is removed goes to the trash like any removal.
 */
#ifndef TIDEFS_META_RMR_H
#define TIDEFS_META_RMR_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/meta.h"

struct rmr_hooks {
    void *arg;
    void (*progress)(void *arg, uint64_t removed);
    bool (*stop)(void *arg); /* polled: true ends the run with -EINTR */
};

/* Removes entry `name` of directory `parent` and everything under it;
 * *removed counts the entries removed. hooks may be NULL. */
int meta_remove_tree(const struct meta_ops *ops, struct meta *m, uint64_t parent, const char *name,
                     const struct rmr_hooks *hooks, uint64_t *removed);

#endif
