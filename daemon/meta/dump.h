/* SPDX-License-Identifier: Apache-2.0
 *
 * `tidefs dump` / `tidefs load`: a volume's metadata as a stream of JSON
 * lines, engine-independent, so a volume moves between engines (SQLite ->
 * Redis -> SQLite gives back an identical tree: inode numbers, attributes
 * and times, entries with their readdir cookies, symlinks, xattrs, slices,
 * deleted slices, counters and the format). Not dumped: sessions, locks and
 * open-but-unlinked files (a volume is dumped while nothing mounts it).
 *
 * The dump walks the tree through the ordinary meta_ops; the load writes
 * through the bulk table below, which each engine provides beside its ops
 * (meta_sqlite_dump.c, meta_redis_dump.c) so meta.h stays unchanged.
 */
#ifndef TIDEFS_DUMP_H
#define TIDEFS_DUMP_H

#include <stdio.h>

#include "meta/meta.h"

/* Raw writes that bypass the operations' rules, for a freshly init'ed
 * volume that nothing mounts. All return 0 or -errno. */
struct meta_bulk_ops {
    int (*get_counter)(struct meta *m, const char *name, int64_t *out); /* 0 when absent */
    int (*set_counter)(struct meta *m, const char *name, int64_t value);
    /* the node with all its attributes; target for symlinks, else NULL */
    int (*load_node)(struct meta *m, const struct meta_attr *a, const char *target);
    int (*load_entry)(struct meta *m, uint64_t parent, const char *name, uint64_t ino, uint32_t type,
                      uint64_t cookie);
    int (*load_xattr)(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size);
    /* a chunk's slices, oldest first; each non-hole slice gains a reference */
    int (*load_chunk)(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n);
    int (*load_deleted_slice)(struct meta *m, uint64_t id, uint32_t size);
};

extern const struct meta_bulk_ops meta_sqlite_bulk;
extern const struct meta_bulk_ops meta_redis_bulk;

/* The bulk table of an engine, or NULL. */
const struct meta_bulk_ops *meta_bulk_for(const struct meta_ops *ops);

/* Writes the volume at url to out. Progress goes to stderr when it is a
 * terminal; errors are one line on stderr (the URL's password masked).
 * 0 or -errno. */
int meta_dump(const char *url, FILE *out);
/* Loads a dump into the volume at url, which must not be formatted yet. */
int meta_load(const char *url, FILE *in);

#endif
