/* SPDX-License-Identifier: Apache-2.0
 *
 * The processes serving a mount point (the tidefs mount daemon, its
 * supervisor and workers), found by their command lines in /proc, so that
 * `tidefs umount --flush` can wait for them to finish after unmounting.
 */
#ifndef TIDEFS_MOUNT_PIDS_H
#define TIDEFS_MOUNT_PIDS_H

#include <stddef.h>
#include <sys/types.h>

/* Fills up to `max` pids of tidefs mount processes serving `mountpoint`
 * (any spelling: arguments are resolved against each process's cwd);
 * returns how many. */
size_t mount_pids_find(const char *mountpoint, pid_t *out, size_t max);

/* Waits until none of the pids is alive (zombies count as gone). */
void mount_pids_wait(const pid_t *pids, size_t n);

#endif
