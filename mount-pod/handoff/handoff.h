/* SPDX-License-Identifier: Apache-2.0
 *
 * The fd hand-off protocol: how a FUSE connection (an open /dev/fuse file)
 * travels between the process that mounted it (the privileged "keeper": the
 * CSI node plugin, `tidefs-fuse-helper`, the local supervisor) and the
 * process that serves it (the daemon, possibly unprivileged).
 *
 * Transport: a unix stream socket at a filesystem path (never the abstract
 * namespace), mode 0600 inside a directory of mode 0700. One message is
 *
 *     "tdfh" | u32 big-endian length | length bytes of JSON
 *
 * sent with exactly one fd attached by SCM_RIGHTS. A receiver rejects
 * anything else (no fd, two or more fds, truncated control data, bad magic,
 * oversize, bad or incomplete JSON, a wrong peer uid, no complete message
 * within the deadline) and closes every fd that arrived with the bad message.
 * docs/handoff.md has the message schema and the conversation.
 *
 * Conventions: every int function returns 0 or -errno; `struct handoff_err`
 * arguments may be NULL and, on failure, receive one line naming the problem.
 * No function keeps state between calls: all state is in the arguments.
 */
#ifndef TIDEFS_HANDOFF_H
#define TIDEFS_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "handoff/handoff_init.h"

#define HANDOFF_MAGIC "tdfh"
#define HANDOFF_HEADER_SIZE 8
#define HANDOFF_MSG_MAX 65536 /* hard cap on the JSON of one message */
#define HANDOFF_VERSION 1
#define HANDOFF_VOLUME_MAX 255
#define HANDOFF_PATH_MAX 4095

/* Why the last call failed, one line; text is "" on success. */
struct handoff_err {
    char text[256];
};

enum handoff_msg_type {
    HANDOFF_MSG_NONE = 0,
    HANDOFF_MSG_FUSE_FD, /* keeper -> daemon: "serve this connection" */
    HANDOFF_MSG_SERVING, /* daemon -> keeper: "I serve it; here is its INIT state" */
};

/* One decoded message. Initialise with handoff_msg_init(), release with
 * handoff_msg_clear(). */
struct handoff_msg {
    enum handoff_msg_type type;
    char volume[HANDOFF_VOLUME_MAX + 1];   /* required, printable, 1..255 bytes */
    char mountpoint[HANDOFF_PATH_MAX + 1]; /* "" when not given */
    uint32_t max_read;                     /* the mount's max_read; 0 when not given */
    uint32_t generation;                   /* how many daemons got this fd before */
    int32_t pid;                           /* sender's pid (SERVING); 0 when not given */
    bool has_init;                         /* the connection's INIT state is known */
    struct handoff_init init;
    json_t *settings; /* owned; a JSON object passed through untouched, or NULL */
    int fd;           /* owned after handoff_recv(); borrowed by handoff_send(); -1 = none */
};

void handoff_msg_init(struct handoff_msg *msg);
/* Closes msg->fd, drops msg->settings and re-initialises; NULL is fine. */
void handoff_msg_clear(struct handoff_msg *msg);

/* JSON text of msg without the fd. *out is allocated; caller frees it with
 * free(). -EMSGSIZE when it would exceed HANDOFF_MSG_MAX. */
int handoff_msg_encode(const struct handoff_msg *msg, char **out, size_t *out_len, struct handoff_err *err);
/* Parses JSON text into msg (msg->fd untouched); -EBADMSG naming the bad
 * field or the JSON syntax error. msg must be initialised; on failure it is
 * left cleared. */
int handoff_msg_decode(const char *text, size_t len, struct handoff_msg *msg, struct handoff_err *err);

/* ---- sockets ---- */

/* Creates the listening socket at `path`: its directory is created with mode
 * 0700 when missing (the parent must exist) or must already be a real
 * directory with no group/other permission bits, owned by us or `owner`;
 * a stale socket at `path` is replaced, anything else there is refused; the
 * socket gets mode 0600. Directory and socket are chowned to owner:group
 * (pass geteuid()/getegid() for "nobody else") so an unprivileged peer of
 * that uid can connect. *lfd is close-on-exec; caller closes it. */
int handoff_listen(const char *path, uid_t owner, gid_t group, int *lfd, struct handoff_err *err);

/* Waits up to timeout_ms (-1: forever) for a connection on lfd, accepts it
 * and checks the peer's uid (SO_PEERCRED) against peer_uid: -EACCES (and the
 * connection closed) when it differs, -ETIMEDOUT when none came, -EAGAIN for
 * a transient accept failure (retry). *cfd: caller closes it; *peer_pid may
 * be NULL. */
int handoff_accept(int lfd, uid_t peer_uid, int timeout_ms, int *cfd, pid_t *peer_pid, struct handoff_err *err);

/* Connects to the socket at path, retrying while it does not exist yet or
 * refuses, for up to timeout_ms; then checks that the server's uid is
 * server_uid (-EACCES otherwise). *fd: caller closes it. */
int handoff_connect(const char *path, uid_t server_uid, int timeout_ms, int *fd, struct handoff_err *err);

/* Sends msg with msg->fd attached (borrowed: still the caller's afterwards;
 * -EBADF when msg->fd < 0). The whole message must be written within
 * timeout_ms (-1: no limit). Never raises SIGPIPE. */
int handoff_send(int sock, const struct handoff_msg *msg, int timeout_ms, struct handoff_err *err);

/* Receives one complete message within timeout_ms (-1: no limit) into msg,
 * which must be initialised; the caller then owns msg->fd and frees with
 * handoff_msg_clear(). Reads no byte past the message. Errors (msg left
 * cleared, every fd that came with the message closed):
 *   -ENOMSG       peer closed before sending anything
 *   -EBADMSG      message cut short, or its JSON is bad / misses a field
 *   -EPROTO       not a hand-off message (bad magic)
 *   -EMSGSIZE     announced length over HANDOFF_MSG_MAX (body not read)
 *   -EBADF        no fd attached
 *   -ETOOMANYREFS two or more fds attached, or control data truncated
 *   -ETIMEDOUT    no complete message within timeout_ms */
int handoff_recv(int sock, int timeout_ms, struct handoff_msg *msg, struct handoff_err *err);

/* ---- a server that receives messages (e.g. a daemon that listens) ---- */

struct handoff_server_ops {
    /* A valid message from an allowed peer. msg is borrowed for the call; to
     * keep the fd or settings, take them (set msg->fd = -1 / settings = NULL).
     * Returning non-zero stops handoff_serve(), which returns that value. */
    int (*on_msg)(struct handoff_msg *msg, void *arg);
    /* A rejected connection or message (may be NULL): err is the -errno. */
    void (*on_reject)(int err, const char *why, void *arg);
};

/* Accepts connections on lfd forever, one message per connection, each
 * within timeout_ms of its accept; every rejection is reported and the
 * server goes on. Returns on_msg's non-zero value, or -errno when lfd itself
 * fails (not a listening socket). */
int handoff_serve(int lfd, uid_t peer_uid, int timeout_ms, const struct handoff_server_ops *ops, void *arg);

/* handoff_accept() then handoff_recv() on one connection, then closes it. */
int handoff_serve_one(int lfd, uid_t peer_uid, int timeout_ms, struct handoff_msg *msg, struct handoff_err *err);

#endif
