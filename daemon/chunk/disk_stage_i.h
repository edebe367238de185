/* SPDX-License-Identifier: Apache-2.0
 *
 * The writeback staging area (--writeback): blocks whose slice is already
 * committed to metadata but not yet uploaded, one file per block under
 * <dir>/<volume>/rawstaging/, in the disk cache's file format (data +
 * CRC-32C trailer) and fsynced before the commit, so a crash or kill -9
 * loses nothing: the next mount finds them (dstage_scan) and uploads them.
 * A staged file is removed once its block is in the object store.
 */
#ifndef TIDEFS_DISK_STAGE_I_H
#define TIDEFS_DISK_STAGE_I_H

#include <stdint.h>

struct disk_stage;

/* Caller frees with dstage_free() (accepts NULL). */
int dstage_new(const char *dir, const char *volume, struct disk_stage **out);
void dstage_free(struct disk_stage *ds);

/* Stores a block durably: 0 or -errno (the caller then uploads at once). */
int dstage_put(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize, const char *buf);
/* Reads a staged block: 0, -ENOENT (not staged) or -EIO (damaged). */
int dstage_get(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize, char *buf);
/* Removes a staged block: 0, or -ENOENT when it was not (or no longer)
 * staged, e.g. because its slice was deleted meanwhile. */
int dstage_remove(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize);

/* Calls fn for every block staged now (a previous run's leftovers). */
typedef void (*dstage_fn)(void *arg, uint64_t id, uint32_t index, uint32_t bsize);
void dstage_scan(struct disk_stage *ds, dstage_fn fn, void *arg);

/* Blocks staged and not yet removed. */
uint64_t dstage_count(struct disk_stage *ds);

#endif
