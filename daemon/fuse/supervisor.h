/* SPDX-License-Identifier: Apache-2.0
 *
 * The local supervisor behind `tidefs mount -d`: it mounts (the one
 * privileged step), keeps the /dev/fuse fd for the mount's whole life and
 * runs the filesystem daemon as a worker process that takes the fd through
 * the hand-off socket. A worker that crashes is replaced on the same fd
 * (applications see a pause, never ENOTCONN); `tidefs mount` of an already
 * supervised mount point with a newer binary replaces the worker smoothly.
 *
 * State lives in /run/tidefs/<hash of the mount point>/ (0700): the keeper
 * socket, the supervisor's pid, and the upgrade request.
 */
#ifndef TIDEFS_SUPERVISOR_H
#define TIDEFS_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Called once: 0 when the first worker serves the mount, or -errno and a
 * one-line reason. */
typedef void (*supervisor_ready_fn)(void *arg, int rc, const char *why);

struct supervisor_config {
    const char *mountpoint; /* absolute; borrowed */
    const char *fsname;     /* shown in /proc/mounts; borrowed */
    bool read_only;
    /* The worker's command line without the program, the hand-off flags,
     * META-URL and MOUNTPOINT: the user's mount options. Borrowed. */
    char *const *worker_opts;
    const char *meta_url; /* borrowed */
};

/* Runs the supervisor in this (already detached) process until the mount
 * ends. Returns 0 or -errno. */
int supervisor_run(const struct supervisor_config *cfg, supervisor_ready_fn ready, void *arg);

/* The state directory of a mount point: "/run/tidefs/<hash>". */
void supervisor_dir(const char *mountpoint, char *buf, size_t len);

/* Asks the supervisor of `mountpoint` to replace its worker with one
 * running `exe`; waits for it. 0, -ESRCH when no supervisor runs there,
 * -EBUSY when it serves another volume than meta_url (password-free),
 * -EALREADY when its worker already runs this very binary, or -errno with
 * a reason in why. */
int supervisor_request_upgrade(const char *mountpoint, const char *meta_url, const char *exe, char *why,
                               size_t whylen);

#endif
