/* SPDX-License-Identifier: Apache-2.0
 *
 * Serving a FUSE connection someone else mounted, with libfuse 3.14's
 * low-level API, and taking one over after the previous daemon died.
 *
 * The kernel sends FUSE_INIT once per connection and libfuse answers EIO to
 * everything until it has processed an INIT. handoff_session_start() makes a
 * session ready to serve an fd in both cases, before the request loop runs:
 *
 *  - fresh connection (init == NULL): it reads the kernel's real FUSE_INIT,
 *    lets libfuse answer it, records both sides in *negotiated (send that to
 *    the keeper: it is what the next daemon needs) and passes the answer on
 *    to the kernel;
 *  - taking over (init != NULL): it feeds libfuse a synthetic FUSE_INIT
 *    built from init->in, checks that libfuse's answer equals init->out (the
 *    state the kernel already acts on; -EPROTO naming the first differing
 *    field otherwise) and throws that answer away: the kernel never asked.
 *
 * How: libfuse takes its fd from a "/dev/fd/N" mountpoint. N is first one
 * end of a private socketpair, so the INIT answer lands where we can read
 * it; then dup3() puts the /dev/fuse file in slot N. After that the session
 * is an ordinary libfuse session (splice, multi-threaded loop, notifications
 * all work) and nothing of ours sits on the request path.
 *
 * Use (see docs/handoff.md):
 *     se = fuse_session_new(&args, &ops, sizeof(ops), userdata);
 *     rc = handoff_session_start(se, fd, saved_or_NULL, HANDOFF_START_RESEND, &negotiated, &err);
 *     ... report negotiated to the keeper ...
 *     fuse_session_loop_mt(se, cfg);          (clone_fd must stay 0)
 */
#ifndef TIDEFS_HANDOFF_SESSION_H
#define TIDEFS_HANDOFF_SESSION_H

#include "handoff/handoff.h"
#include "handoff/handoff_init.h"

struct fuse_session;

/* Flags for handoff_session_start(). */
#define HANDOFF_START_RESEND 1u /* after a crash: ask the kernel to resend what the dead daemon had read */

/* How long a fresh start waits for the kernel's FUSE_INIT. */
#define HANDOFF_INIT_WAIT_MS 10000

/* Prepares `se` (new, never mounted, its loop not started) to serve
 * fuse_fd. Takes ownership of fuse_fd in every case: on success the session
 * owns the connection (fuse_session_destroy() closes it; the fd number is
 * fuse_session_fd(se), not fuse_fd); on failure it is closed. `init` is
 * borrowed. With HANDOFF_START_RESEND and a kernel that has FUSE_HAS_RESEND,
 * requests the previous daemon had read but not answered are queued again;
 * use it only when that daemon is gone (a live one would answer them too).
 * A fresh start always tries a resend first, which recovers an INIT that a
 * daemon read and died on. Errors: -ENODEV fuse_fd is not /dev/fuse;
 * -EPROTO INIT mismatch, or the connection was already initialised and its
 * INIT state is lost (a remount is the only way out); -ETIMEDOUT no INIT
 * came; -ENOTCONN the connection is gone; others from the system. */
int handoff_session_start(struct fuse_session *se, int fuse_fd, const struct handoff_init *init, unsigned flags,
                          struct handoff_init *negotiated, struct handoff_err *err);

/* Writes a FUSE_NOTIFY_RESEND notification to fuse_fd (borrowed): the
 * kernel moves every request read from this connection but not answered
 * back to its queue, with bit 63 set in `unique`. Needs Linux 6.9+
 * (protocol 7.40); -EINVAL from older kernels. */
int handoff_notify_resend(int fuse_fd);

#endif
