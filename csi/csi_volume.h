/* SPDX-License-Identifier: Apache-2.0
 *
 * The tidefs volume operations the CSI plugin needs, done directly on the
 * metadata engine (daemon/meta/meta.h) with no FUSE mount: open a volume
 * from CSI secrets, create /<pv> idempotently, delete a directory tree in
 * metadata, resolve a sub-path without following symlinks, and the
 * per-directory capacity (quota) of a PV. Kept in one module so it can move
 * into libtidefs unchanged.
 *
 * Capacity: the csi_volume_quota_* functions are the one seam between the
 * CSI plugin and directory quotas: a PV's capacity is the byte limit of
 * the directory quota of /<pv> (issue 6), enforced by every mount with
 * EDQUOT and shown by df on the PV. Engines without quotas: -ENOTSUP.
 */
#ifndef TIDEFS_CSI_VOLUME_H
#define TIDEFS_CSI_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct csi_volume; /* one open metadata connection; opaque */

/* Opens the volume whose META-URL is `metaurl` (borrowed). When
 * `expected_name` is non-NULL and non-empty it must equal the formatted
 * volume name. Errors: -EINVAL bad url or name mismatch, -ENOMEDIUM not
 * formatted, other -errno from the engine; err gets a one-line reason that
 * never contains the URL (it may hold a password). Caller closes. */
int csi_volume_open(const char *metaurl, const char *expected_name, struct csi_volume **out, char *err,
                    size_t errlen);
void csi_volume_close(struct csi_volume *v); /* accepts NULL */

/* mkdir /<name> (mode 0777, owner root); *created tells whether it was
 * new. An existing directory is fine; an existing non-directory -ENOTDIR. */
int csi_volume_mkdir(struct csi_volume *v, const char *name, bool *created);

/* 0 when /<name> exists and is a directory, -ENOENT, -ENOTDIR. */
int csi_volume_dir_exists(struct csi_volume *v, const char *name);

/* Removes /<name> and everything under it, in metadata. 0 when it did not
 * exist. Not atomic: a crash leaves a smaller tree that a retry removes. */
int csi_volume_rmtree(struct csi_volume *v, const char *name);

/* Resolves the absolute in-volume path `subpath` ("/" or "/a/b", already
 * validated) to a directory inode without following symlinks: -ELOOP on a
 * symlink component, -ENOTDIR, -ENOENT. */
int csi_volume_resolve(struct csi_volume *v, const char *subpath, uint64_t *ino);

/* Directory capacity of the PV /<name>, in bytes; 0 means unlimited.
 * get: -ENOENT when none is recorded. set: records or raises/lowers it.
 * clear: forgets it (0 when there was none). */
int csi_volume_quota_get(struct csi_volume *v, const char *name, uint64_t *bytes);
int csi_volume_quota_set(struct csi_volume *v, const char *name, uint64_t bytes);
int csi_volume_quota_clear(struct csi_volume *v, const char *name);

#endif
