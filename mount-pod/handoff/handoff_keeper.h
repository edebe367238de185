/* SPDX-License-Identifier: Apache-2.0
 *
 * The keeper: the process that mounted a FUSE connection holds its fd for
 * the mount's whole life and hands it to whichever daemon connects, so that
 * a daemon crash or upgrade never ends the connection (applications see a
 * pause, never ENOTCONN). Used by tidefs-fuse-helper, the CSI node plugin
 * and the local supervisor.
 *
 * One conversation per connection (docs/handoff.md):
 *   daemon connects          keeper checks the daemon's uid (SO_PEERCRED)
 *   keeper -> daemon         "fuse-fd": volume, mount settings, INIT state
 *                            when known, generation; the fd
 *   daemon -> keeper         "serving": the INIT state it now runs with;
 *                            the fd again (proves which connection it holds)
 * The keeper learns the INIT state from the first daemon's report and gives
 * it to every later daemon.
 */
#ifndef TIDEFS_HANDOFF_KEEPER_H
#define TIDEFS_HANDOFF_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "handoff/handoff.h"
#include "handoff/handoff_init.h"

#define HANDOFF_REPORT_TIMEOUT_MS 10000

struct handoff_keeper_config {
    const char *volume;              /* required, 1..255 printable bytes */
    const char *mountpoint;          /* informational; may be NULL */
    uint32_t max_read;               /* the mount's max_read, passed on */
    const json_t *settings;          /* object passed to daemons; borrowed (the keeper keeps a copy); may be NULL */
    uid_t daemon_uid;                /* the only uid allowed to connect */
    int report_timeout_ms;           /* wait for a daemon's report; 0: HANDOFF_REPORT_TIMEOUT_MS */
    const struct handoff_init *init; /* INIT state when already known (keeper restarted); NULL: not yet */
};

struct handoff_keeper; /* opaque */

/* What one conversation did, for the caller's log. */
struct handoff_keeper_event {
    pid_t pid;           /* the daemon's pid */
    uint32_t generation; /* this hand-off's number, from 0 */
    bool reported;       /* the daemon said it is serving */
    bool learned_init;   /* its report gave the keeper the INIT state for the first time */
};

/* Takes ownership of fuse_fd in every case (closed on failure). *out: free
 * with handoff_keeper_free(), which closes the fd (ending the connection if
 * no daemon holds it). */
int handoff_keeper_new(int fuse_fd, const struct handoff_keeper_config *cfg, struct handoff_keeper **out,
                       struct handoff_err *err);
void handoff_keeper_free(struct handoff_keeper *k);

/* The held connection (borrowed): poll it with events 0 to learn, by
 * POLLERR, that the mount is gone. */
int handoff_keeper_fd(const struct handoff_keeper *k);
/* Copies the INIT state into *init; false when not known yet. */
bool handoff_keeper_init_state(const struct handoff_keeper *k, struct handoff_init *init);

/* Waits up to timeout_ms for a daemon on lfd and has one conversation with
 * it. 0 when the daemon reported it serves the connection; otherwise
 * -errno naming what went wrong (a wrong uid, a bad report, no report:
 * -ENOMSG) — the keeper is unchanged and ready for the next daemon. *ev may
 * be NULL. */
int handoff_keeper_serve_one(struct handoff_keeper *k, int lfd, int timeout_ms, struct handoff_keeper_event *ev,
                             struct handoff_err *err);

#endif
