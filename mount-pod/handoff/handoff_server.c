/* SPDX-License-Identifier: Apache-2.0
 *
 * A receiving server: accept a connection, check the peer's uid, take one
 * message, close. Used by a daemon that listens for its fd (mountpoint-s3
 * style) and by tests. Whatever a peer sends, the server answers by closing
 * that connection and goes on to the next; it never leaks an fd (see the
 * invariants in handoff_wire.c).
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_i.h"

int handoff_serve_one(int lfd, uid_t peer_uid, int timeout_ms, struct handoff_msg *msg, struct handoff_err *err)
{
    int cfd;
    int rc = handoff_accept(lfd, peer_uid, -1, &cfd, NULL, err);
    if (rc != 0)
        return rc;
    rc = handoff_recv(cfd, timeout_ms, msg, err);
    close(cfd);
    return rc;
}

static bool listener_broken(int rc)
{
    return rc == -EBADF || rc == -EINVAL || rc == -ENOTSOCK || rc == -EOPNOTSUPP;
}

/* One connection: accept (a broken listener is fatal: *fatal set), then
 * one message. */
static int serve_conn(int lfd, uid_t peer_uid, int timeout_ms, struct handoff_msg *msg, struct handoff_err *err,
                      bool *fatal)
{
    int cfd;
    int rc = handoff_accept(lfd, peer_uid, -1, &cfd, NULL, err);
    *fatal = rc != 0 && listener_broken(rc);
    if (rc != 0)
        return rc;
    rc = handoff_recv(cfd, timeout_ms, msg, err);
    close(cfd);
    return rc;
}

int handoff_serve(int lfd, uid_t peer_uid, int timeout_ms, const struct handoff_server_ops *ops, void *arg)
{
    for (;;) {
        struct handoff_msg msg;
        struct handoff_err err = {""};
        bool fatal;
        handoff_msg_init(&msg);
        int rc = serve_conn(lfd, peer_uid, timeout_ms, &msg, &err, &fatal);
        if (rc == 0) {
            rc = ops->on_msg(&msg, arg);
            handoff_msg_clear(&msg);
            if (rc != 0)
                return rc;
            continue;
        }
        if (fatal)
            return rc;
        if (ops->on_reject)
            ops->on_reject(rc, err.text, arg);
        if (rc == -EAGAIN) {
            /* e.g. EMFILE: give the process a moment instead of spinning */
            struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}
