/* SPDX-License-Identifier: Apache-2.0
 *
 * The node plugin's record of each publication: which volume, sub-path and
 * mode it mounted on a target path. One small file per target in the state
 * directory (written atomically, 0600), so that a restarted plugin still
 * answers repeated NodePublish / NodeGetVolumeStats calls correctly.
 */
#ifndef TIDEFS_CSI_PUBSTATE_H
#define TIDEFS_CSI_PUBSTATE_H

#include "csi_validate.h"

#include <limits.h>
#include <stdbool.h>

struct csi_pubstate {
    char target[PATH_MAX];
    char volume_id[CSI_NAME_MAX + 1];
    char subdir[CSI_NAME_MAX + 1];
    bool readonly;
};

/* 0, -ENOENT when no record exists for target, -EIO when it is corrupt */
int csi_pubstate_load(const char *dir, const char *target, struct csi_pubstate *out);
int csi_pubstate_save(const char *dir, const struct csi_pubstate *st);
int csi_pubstate_remove(const char *dir, const char *target); /* 0 when absent */

#endif
