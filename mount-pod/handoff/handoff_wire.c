/* SPDX-License-Identifier: Apache-2.0
 *
 * Hand-off framing on a unix stream socket: an 8-byte header ("tdfh" + u32
 * big-endian length), the JSON body, and exactly one fd by SCM_RIGHTS.
 *
 * The receiver's invariants, whatever the peer does:
 *  (1) it never reads past the announced end of the message, so a reply can
 *      follow on the same connection;
 *  (2) every fd that arrives is received close-on-exec (MSG_CMSG_CLOEXEC)
 *      and either handed to the caller (exactly one, valid message) or
 *      closed before returning; fds the kernel could not deliver because
 *      our control buffer was full (MSG_CTRUNC) were never installed;
 *  (3) fds may ride on any byte of the message, so control data is
 *      collected from every recvmsg(), not just the first;
 *  (4) one deadline bounds the whole message, not each read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_i.h"

#define FDS_SEEN_MAX 8 /* control room for this many fds; more sets MSG_CTRUNC */

/* ---- sending ---- */

static int send_all(int sock, struct iovec *iov, int iovcnt, int fd, int64_t deadline, struct handoff_err *err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    bool fd_sent = false;
    while (iovcnt > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        if (!fd_sent) {
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = handoff_wait(sock, POLLOUT, deadline);
            if (w <= 0) {
                handoff_err_set(err, "could not send the hand-off message in time");
                return w == 0 ? -ETIMEDOUT : w;
            }
            continue;
        }
        if (n < 0) {
            handoff_err_set(err, "sending hand-off message: %s", strerror(errno));
            return -errno;
        }
        fd_sent = true;
        for (; iovcnt > 0 && (size_t)n >= iov->iov_len; iov++, iovcnt--)
            n -= (ssize_t)iov->iov_len;
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

int handoff_send(int sock, const struct handoff_msg *msg, int timeout_ms, struct handoff_err *err)
{
    if (msg->fd < 0) {
        handoff_err_set(err, "a hand-off message needs an fd to carry");
        return -EBADF;
    }
    char *text;
    size_t len;
    int rc = handoff_msg_encode(msg, &text, &len, err);
    if (rc != 0)
        return rc;
    unsigned char hdr[HANDOFF_HEADER_SIZE];
    uint32_t be = htonl((uint32_t)len);
    memcpy(hdr, HANDOFF_MAGIC, 4);
    memcpy(hdr + 4, &be, 4);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {text, len}};
    rc = send_all(sock, iov, 2, msg->fd, handoff_deadline(timeout_ms), err);
    free(text);
    return rc;
}

/* ---- receiving ---- */

struct rx {
    int fds[FDS_SEEN_MAX];
    int nfds;      /* fds held in fds[] */
    int extra;     /* fds seen beyond one; all closed */
    bool ctrunc;   /* the kernel dropped fds that did not fit */
    size_t nbytes; /* total bytes read so far */
};

static void rx_close_all(struct rx *rx)
{
    for (int i = 0; i < rx->nfds; i++)
        close(rx->fds[i]);
    rx->nfds = 0;
}

/* Takes every fd out of the control data: the first is kept, the others are
 * closed at once so a flood of fds cannot exhaust our table. */
static void rx_collect(struct rx *rx, struct msghdr *mh)
{
    if (mh->msg_flags & MSG_CTRUNC)
        rx->ctrunc = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (rx->nfds == 0) {
                rx->fds[rx->nfds++] = fd;
            } else {
                close(fd);
                rx->extra++;
            }
        }
    }
}

/* Reads exactly len bytes into buf before the deadline. */
static int rx_read(int sock, struct rx *rx, char *buf, size_t len, int64_t deadline, struct handoff_err *err)
{
    size_t got = 0;
    while (got < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * FDS_SEEN_MAX)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {buf + got, len - got};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl)};
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = handoff_wait(sock, POLLIN, deadline);
            if (w <= 0) {
                handoff_err_set(err, "no complete hand-off message within the deadline (%zu bytes came)",
                                rx->nbytes);
                return w == 0 ? -ETIMEDOUT : w;
            }
            continue;
        }
        if (n < 0) {
            handoff_err_set(err, "receiving hand-off message: %s", strerror(errno));
            return -errno;
        }
        rx_collect(rx, &mh);
        if (n == 0) {
            if (rx->nbytes == 0) {
                handoff_err_set(err, "peer closed without sending a message");
                return -ENOMSG;
            }
            handoff_err_set(err, "hand-off message cut short after %zu bytes", rx->nbytes);
            return -EBADMSG;
        }
        got += (size_t)n;
        rx->nbytes += (size_t)n;
    }
    return 0;
}

static int rx_header(int sock, struct rx *rx, uint32_t *len, int64_t deadline, struct handoff_err *err)
{
    unsigned char hdr[HANDOFF_HEADER_SIZE];
    int rc = rx_read(sock, rx, (char *)hdr, sizeof(hdr), deadline, err);
    if (rc != 0)
        return rc;
    if (memcmp(hdr, HANDOFF_MAGIC, 4) != 0) {
        handoff_err_set(err, "not a tidefs hand-off message (bad magic)");
        return -EPROTO;
    }
    uint32_t be;
    memcpy(&be, hdr + 4, 4);
    *len = ntohl(be);
    if (*len > HANDOFF_MSG_MAX) {
        handoff_err_set(err, "hand-off message announces %u bytes, over the %d byte cap", *len, HANDOFF_MSG_MAX);
        return -EMSGSIZE;
    }
    if (*len == 0) {
        handoff_err_set(err, "hand-off message has an empty body");
        return -EBADMSG;
    }
    return 0;
}

static int rx_check_fds(const struct rx *rx, struct handoff_err *err)
{
    if (rx->ctrunc || rx->extra > 0) {
        handoff_err_set(err, "hand-off message carries %s%d fds, expected exactly 1", rx->ctrunc ? "over " : "",
                        rx->nfds + rx->extra);
        return -ETOOMANYREFS;
    }
    if (rx->nfds == 0) {
        handoff_err_set(err, "hand-off message carries no fd");
        return -EBADF;
    }
    return 0;
}

int handoff_recv(int sock, int timeout_ms, struct handoff_msg *msg, struct handoff_err *err)
{
    struct rx rx = {.nfds = 0};
    int64_t deadline = handoff_deadline(timeout_ms);
    uint32_t len = 0;
    char *body = NULL;
    handoff_msg_clear(msg);
    int rc = rx_header(sock, &rx, &len, deadline, err);
    if (rc == 0) {
        body = malloc(len);
        rc = body ? rx_read(sock, &rx, body, len, deadline, err) : -ENOMEM;
    }
    if (rc == 0)
        rc = rx_check_fds(&rx, err);
    if (rc == 0)
        rc = handoff_msg_decode(body, len, msg, err);
    free(body);
    if (rc != 0) {
        rx_close_all(&rx);
        return rc;
    }
    msg->fd = rx.fds[0];
    handoff_err_set(err, "%s", "");
    return 0;
}
