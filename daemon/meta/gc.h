/* SPDX-License-Identifier: Apache-2.0
 *
 * Garbage collection of the object store (`tidefs gc`): every object under
 * the volume's chunks/ prefix is compared with the metadata: the slices
 * referenced by any chunk (meta_ops.list_chunks) and the slices queued for
 * deletion. An object is
 *  - in use: its slice is referenced and its index/size fit the slice;
 *  - pending: its slice awaits deletion (a mount's housekeeping or
 *    `gc --delete` removes it);
 *  - leaked: anything else (an upload whose commit never happened, a
 *    crash between commit and delete, a foreign file). Only leaked objects
 *    older than min_age are reported as such; younger ones may belong to
 *    an upload whose commit is still coming.
 * With `delete`, leaked objects and pending slices are deleted.
 */
#ifndef TIDEFS_META_GC_H
#define TIDEFS_META_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/format.h"
#include "meta/meta.h"
#include "object/store.h"

struct gc_hooks {
    void *arg;
    /* a leaked object (deleted already when `deleted`) */
    void (*leak)(void *arg, const char *key, uint64_t size, int64_t mtime_ns, bool deleted);
    /* n more objects looked at */
    void (*progress)(void *arg, uint64_t n);
    /* polled: true stops the run early (Ctrl-C) */
    bool (*stop)(void *arg);
};

struct gc_report {
    uint64_t objects, bytes;         /* listed under chunks/ */
    uint64_t slices;                 /* distinct slices referenced by metadata */
    uint64_t leaked, leaked_bytes;   /* old enough to be garbage */
    uint64_t young;                  /* unreferenced but younger than min_age */
    uint64_t deleted, deleted_bytes; /* leaked objects removed (delete) */
    uint64_t pending_slices;         /* queued for deletion */
    uint64_t pending_deleted;        /* of those, removed now (delete) */
    uint64_t failures;               /* deletes that failed */
    bool stopped;                    /* hooks.stop said so */
};

/* Runs gc; 0 or -errno of a failed listing (report filled as far as it
 * got). `now_ns` is the reference time for ages. */
int gc_run(const struct meta_ops *ops, struct meta *m, const struct format *fmt, struct store *st, bool delete,
           int64_t min_age_ns, int64_t now_ns, const struct gc_hooks *hooks, struct gc_report *out);

/* Parses a block key's file name "<id>_<index>_<bsize>"; false if foreign. */
bool gc_parse_block_name(const char *name, uint64_t *id, uint32_t *index, uint32_t *bsize);

#endif
