/* SPDX-License-Identifier: Apache-2.0
 *
 * Starting a libfuse 3.14 session on a FUSE connection mounted by someone
 * else: process the connection's INIT (the kernel's real one, or a
 * synthetic copy when taking over) before the request loop runs, then put
 * the /dev/fuse file under the session. handoff_session.h explains why this
 * shape (no custom io, no patched libfuse, no race with loop threads).
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include "handoff/handoff_i.h"
#include "handoff/handoff_session.h"

#define FUSE_MISC_MAJOR 10
#define FUSE_MISC_MINOR 229
/* The unique of the synthetic INIT: its answer never reaches the kernel. */
#define SYNTHETIC_UNIQUE 0x7464667300000000ULL
/* What libfuse reads with: FUSE_MAX_MAX_PAGES pages plus a header page. The
 * kernel refuses reads into buffers smaller than one full request. */
#define READ_BUF_SIZE (256 * 4096 + 4096)

int handoff_notify_resend(int fuse_fd)
{
    struct fuse_out_header h = {.len = sizeof(h), .error = HANDOFF_FUSE_NOTIFY_RESEND, .unique = 0};
    ssize_t n = write(fuse_fd, &h, sizeof(h));
    if (n < 0)
        return -errno;
    return n == (ssize_t)sizeof(h) ? 0 : -EIO;
}

static int check_fuse_fd(int fd, struct handoff_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        handoff_err_set(err, "fd %d: %s", fd, strerror(errno));
        return -errno;
    }
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(FUSE_MISC_MAJOR, FUSE_MISC_MINOR)) {
        handoff_err_set(err, "fd %d is not an open /dev/fuse", fd);
        return -ENODEV;
    }
    /* O_NONBLOCK belongs to the shared open file: libfuse's loop wants it off. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
        handoff_err_set(err, "fd %d: fcntl: %s", fd, strerror(errno));
        return -errno;
    }
    return 0;
}

/* Lets libfuse process one INIT request and catches its answer on sp1. */
static int run_init(struct fuse_session *se, void *req, size_t len, int sp1, uint64_t unique,
                    struct handoff_init *state, char *reply, size_t *reply_len, struct handoff_err *err)
{
    struct fuse_buf fb = {.size = len, .mem = req, .fd = -1};
    fuse_session_process_buf(se, &fb);
    ssize_t n = recv(sp1, reply, *reply_len, MSG_DONTWAIT);
    if (n < 0) {
        handoff_err_set(err, "libfuse did not answer FUSE_INIT");
        return -EPROTO;
    }
    *reply_len = (size_t)n;
    int rc = handoff_init_parse_reply(reply, (size_t)n, unique, state);
    if (rc != 0)
        handoff_err_set(err, "libfuse's answer to FUSE_INIT is an error or malformed: %s", strerror(-rc));
    return rc;
}

/* Waits for and reads the connection's first request (the kernel's INIT on
 * a fresh connection). */
static ssize_t read_first(int fuse_fd, char *buf, size_t cap, struct handoff_err *err)
{
    int64_t deadline = handoff_deadline(HANDOFF_INIT_WAIT_MS);
    for (;;) {
        int w = handoff_wait(fuse_fd, POLLIN, deadline);
        if (w == 0) {
            handoff_err_set(err, "no FUSE_INIT within %d ms: the connection was initialised before and its INIT "
                                 "state is lost (remount needed)", HANDOFF_INIT_WAIT_MS);
            return -ETIMEDOUT;
        }
        ssize_t n = w < 0 ? w : read(fuse_fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
            continue;
        handoff_err_set(err, "reading FUSE_INIT: %s", strerror(errno));
        return errno == ENODEV ? -ENOTCONN : -errno;
    }
}

static int start_fresh(struct fuse_session *se, int fuse_fd, int sp1, struct handoff_init *negotiated,
                       struct handoff_err *err)
{
    /* A daemon that read INIT and died leaves it in the processing queue:
     * a resend brings it back. Harmless when there is nothing to resend,
     * and rejected (ignored) by kernels without FUSE_NOTIFY_RESEND. */
    (void)handoff_notify_resend(fuse_fd);
    char *buf = malloc(READ_BUF_SIZE);
    if (!buf)
        return -ENOMEM;
    uint64_t unique = 0;
    char reply[256];
    size_t reply_len = sizeof(reply);
    ssize_t n = read_first(fuse_fd, buf, READ_BUF_SIZE, err);
    int rc = n < 0 ? (int)n : handoff_init_parse_request(buf, (size_t)n, negotiated, &unique);
    if (n >= 0 && rc != 0)
        handoff_err_set(err, "the connection was initialised before (first request is opcode %u, not INIT) and "
                             "its INIT state is lost (remount needed)", ((struct fuse_in_header *)buf)->opcode);
    if (rc == 0)
        rc = run_init(se, buf, (size_t)n, sp1, unique, negotiated, reply, &reply_len, err);
    if (rc == 0 && write(fuse_fd, reply, reply_len) != (ssize_t)reply_len) {
        rc = -errno;
        handoff_err_set(err, "passing the INIT answer to the kernel: %s", strerror(errno));
    }
    free(buf);
    return rc;
}

static int start_resume(struct fuse_session *se, const struct handoff_init *init, int sp1,
                        struct handoff_init *negotiated, struct handoff_err *err)
{
    union {
        char bytes[HANDOFF_INIT_REQUEST_SIZE];
        uint64_t align;
    } req;
    char reply[256];
    size_t reply_len = sizeof(reply);
    struct handoff_init got = *init;
    size_t len = handoff_init_build_request(init, SYNTHETIC_UNIQUE, req.bytes);
    int rc = run_init(se, req.bytes, len, sp1, SYNTHETIC_UNIQUE, &got, reply, &reply_len, err);
    if (rc != 0)
        return rc;
    char why[200];
    rc = handoff_init_compare_out(init, &got, why, sizeof(why));
    if (rc != 0) {
        handoff_err_set(err, "this daemon negotiates a different FUSE INIT than the connection has (%s)", why);
        return rc;
    }
    *negotiated = *init;
    return 0;
}

/* Gives the session a socketpair end as its fd; *sp1 gets the other end. */
static int mount_on_socketpair(struct fuse_session *se, int *sp1, struct handoff_err *err)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        handoff_err_set(err, "socketpair: %s", strerror(errno));
        return -errno;
    }
    char path[32];
    snprintf(path, sizeof(path), "/dev/fd/%d", sp[0]);
    if (fuse_session_mount(se, path) != 0) {
        close(sp[0]);
        close(sp[1]);
        handoff_err_set(err, "libfuse refused to use %s", path);
        return -EINVAL;
    }
    *sp1 = sp[1];
    return 0;
}

int handoff_session_start(struct fuse_session *se, int fuse_fd, const struct handoff_init *init, unsigned flags,
                          struct handoff_init *negotiated, struct handoff_err *err)
{
    int sp1 = -1;
    handoff_err_set(err, "%s", "");
    int rc = check_fuse_fd(fuse_fd, err);
    if (rc == 0)
        rc = mount_on_socketpair(se, &sp1, err);
    if (rc == 0)
        rc = init ? start_resume(se, init, sp1, negotiated, err) : start_fresh(se, fuse_fd, sp1, negotiated, err);
    /* The session's fd slot now gets the /dev/fuse file, atomically. */
    if (rc == 0 && dup3(fuse_fd, fuse_session_fd(se), O_CLOEXEC) < 0) {
        rc = -errno;
        handoff_err_set(err, "dup3: %s", strerror(errno));
    }
    if (sp1 >= 0)
        close(sp1);
    close(fuse_fd);
    if (rc == 0 && init && (flags & HANDOFF_START_RESEND) && handoff_init_has_resend(init))
        rc = handoff_notify_resend(fuse_session_fd(se));
    if (rc == 0)
        handoff_err_set(err, "%s", "");
    else if (err && err->text[0] == '\0')
        handoff_err_set(err, "resend notification failed: %s", strerror(-rc));
    return rc;
}
