/* SPDX-License-Identifier: Apache-2.0
 *
 * The trash, on any engine (the engines move removed files into it, see
 * META_TRASH_INO in meta.h): purging hours older than the volume's trash
 * days, and `tidefs restore` putting an hour's entries back where they
 * came from. Both work through meta_ops only; removing inside the trash
 * deletes for real, so a purged file's slices are freed as usual.
 */
#ifndef TIDEFS_META_TRASH_H
#define TIDEFS_META_TRASH_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/meta.h"

/* Removes every hour directory whose whole hour is older than the volume's
 * trash days at `now_ns` (all of them when the trash is off), with what is
 * in it. dry_run only counts. *purged: entries (not hours) removed or
 * that would be. 0 when there is no trash. */
int trash_purge(const struct meta_ops *ops, struct meta *m, int64_t now_ns, bool dry_run, uint64_t *purged);

/* Called for each entry of the hour: `dest` is the path it went back to,
 * or NULL with rc saying why it stayed (-EEXIST: the name is taken;
 * -ENOENT: its directory is gone). */
typedef void (*trash_restore_fn)(void *arg, const char *entry, const char *dest, int rc);

struct trash_restore_report {
    uint64_t restored, kept;
};

/* Puts the entries of trash hour `hour` (YYYY-MM-DD-HH) back under their
 * old names in their old directories, directories first so that their
 * files can follow; an empty hour directory is removed. -ENOENT when the
 * hour has no trash, -EINVAL for a malformed hour. */
int trash_restore(const struct meta_ops *ops, struct meta *m, const char *hour, trash_restore_fn fn, void *arg,
                  struct trash_restore_report *out);

/* Whether s is a trash hour name "YYYY-MM-DD-HH"; its start in *t (UTC). */
bool trash_parse_hour(const char *s, int64_t *t);

#endif
