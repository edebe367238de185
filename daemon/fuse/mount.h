/* SPDX-License-Identifier: Apache-2.0
 *
 * A running mount: opens the volume (engine, object store, chunk store,
 * VFS), registers a session, runs housekeeping (heartbeat, deletion of
 * freed blocks, cleanup of crashed sessions) and serves FUSE until
 * unmounted; then flushes and closes everything in reverse order.
 */
#ifndef TIDEFS_MOUNT_H
#define TIDEFS_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "fuse/fs.h"

struct mount_config {
    const char *meta_url;   /* borrowed; may carry a password */
    const char *mountpoint; /* borrowed, absolute */
    const char *subdir;     /* borrowed, NULL = whole volume */
    const char *cache_dir;  /* borrowed, NULL = no disk cache */
    const char *fuse_opts;  /* borrowed, extra -o options */
    uint64_t cache_size;
    uint64_t buffer_size;
    double free_space_ratio;  /* 0 = the data path's default (0.1) */
    bool writeback;           /* stage blocks in the cache dir, upload later */
    uint64_t max_readahead;   /* bytes; 0 = default */
    double attr_timeout;
    double entry_timeout;
    bool read_only;
    int max_uploads;
    int max_downloads;
    int put_timeout_s; /* 0 = the store's default */
    int get_timeout_s;
    int io_retries;    /* -1 = the store's default */
    int fuse_fd;           /* -1, or an inherited /dev/fuse fd to serve */
    const char *fd_socket; /* borrowed, NULL, or a keeper's hand-off socket */
    bool no_resend;        /* taking over from a live daemon (upgrade) */
    const char *journal_dir; /* borrowed, NULL, or where acknowledged writes are journaled */
    const char *metrics_addr; /* borrowed, NULL, or HOST:PORT to serve Prometheus metrics on */
};

/* Resolves `subdir` (a path inside the volume) to its inode; -ENOTDIR or
 * -ENOENT when it is not a directory of the volume. */
int mount_resolve_subdir(const struct meta_ops *ops, struct meta *m, const char *subdir, uint64_t *ino);

/* Runs the mount; `ready` is called once with 0 when the mount is live or
 * with -errno (and a one-line reason in `why`) when it failed to come up. */
typedef void (*mount_ready_fn)(void *arg, int rc, const char *why);
int mount_run(const struct mount_config *cfg, mount_ready_fn ready, void *arg);

#endif
