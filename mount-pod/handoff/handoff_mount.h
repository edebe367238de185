/* SPDX-License-Identifier: Apache-2.0
 *
 * The privileged side: open /dev/fuse and mount(2) a tidefs FUSE filesystem
 * on it, so that an unprivileged daemon can later be handed the fd. Needs
 * CAP_SYS_ADMIN (and access to /dev/fuse); nothing else in the hand-off
 * library does.
 */
#ifndef TIDEFS_HANDOFF_MOUNT_H
#define TIDEFS_HANDOFF_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "handoff/handoff.h"

struct handoff_mount_opts {
    const char *fsname;     /* mount source shown in /proc/mounts; NULL: "tidefs" */
    uint32_t max_read;      /* kernel max_read (bytes); 0: 1 MiB */
    uid_t user_id;          /* user_id= / group_id= (owner of the connection); 0 by default */
    gid_t group_id;
    bool read_only;         /* MS_RDONLY */
    unsigned read_ahead_kb; /* set the mount's bdi read_ahead_kb (unprivileged daemons can't); 0: leave */
};

/* Opens /dev/fuse and mounts it at mountpoint as type "fuse.tidefs" with
 * "fd=N,rootmode=40000,user_id=U,group_id=G,allow_other,
 * default_permissions,max_read=M" and MS_NOSUID|MS_NODEV. On success *fuse_fd
 * is the connection (close-on-exec; caller owns it: keep it open for as long
 * as the mount should survive daemon restarts). The kernel queues FUSE_INIT
 * at once; a daemon answers it after the hand-off. Errors: -errno of open or
 * mount, with the step named in err. opts may be NULL. */
int handoff_fuse_mount(const char *mountpoint, const struct handoff_mount_opts *opts, int *fuse_fd,
                       struct handoff_err *err);

/* Detaches the mount (MNT_DETACH: busy files keep working until closed).
 * -EINVAL when mountpoint is not a mount. */
int handoff_fuse_unmount(const char *mountpoint, struct handoff_err *err);

#endif
