/* SPDX-License-Identifier: Apache-2.0
 *
 * The FUSE adapter: the low-level operations table over the VFS, and the
 * session that mounts (or adopts an already-mounted /dev/fuse fd) and runs
 * the multi-threaded request loop. This is the only place where -errno
 * becomes a FUSE reply.
 */
#ifndef TIDEFS_FS_H
#define TIDEFS_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "vfs/vfs.h"
#include "vfs/vfs_stats.h"

struct fs_options {
    const char *mountpoint; /* borrowed */
    const char *fsname;     /* shown in /proc/mounts, borrowed */
    const char *fuse_opts;  /* extra -o options, may be NULL; borrowed */
    bool read_only;
    double attr_timeout;  /* seconds */
    double entry_timeout; /* seconds */
    unsigned max_threads;
    unsigned read_ahead_kb; /* written to the mount's bdi, 0 = leave */
    /* Serve a connection someone else mounted instead of mounting:
     * fuse_fd >= 0 is an inherited /dev/fuse fd (fresh, never INITed);
     * fd_socket names a keeper's hand-off socket (mount-pod/handoff) that
     * gives the fd and, on a takeover, its INIT state. */
    int fuse_fd;
    const char *fd_socket;
    bool no_resend; /* a smooth upgrade: the previous daemon still answers */
    struct vfs_stats *stats; /* borrowed, may be NULL: counts every request */
};

/* Called once the mount is live (rc 0) or failed (rc -errno). */
typedef void (*fs_ready_fn)(void *arg, int rc);

/* Mounts `o->mountpoint` and serves requests with `v` (borrowed) until the
 * filesystem is unmounted or a SIGTERM/SIGINT/SIGHUP arrives. Returns 0 on
 * a clean exit, -errno otherwise (after calling ready with that error if
 * the mount never came up). */
int fs_serve(struct vfs *v, const struct fs_options *o, fs_ready_fn ready, void *arg);

/* The device number (major:minor) of the newest mount on `mountpoint`
 * (absolute), from /proc/self/mountinfo, without touching the mount;
 * -ENOENT when nothing is mounted there. */
int fs_mount_dev(const char *mountpoint, unsigned *maj, unsigned *min);

/* The operations table (fs_ops.c); userdata is a struct fs_ctx. */
struct fs_ctx {
    struct vfs *v; /* borrowed */
    double attr_timeout;
    double entry_timeout;
    const char *mountpoint; /* borrowed */
    unsigned read_ahead_kb;
    int read_ahead_set; /* atomic: tuned once, after FUSE_INIT */
    struct vfs_stats *stats; /* borrowed, may be NULL */
};
struct fuse_lowlevel_ops;
const struct fuse_lowlevel_ops *fs_lowlevel_ops(void);

#endif
