/* SPDX-License-Identifier: Apache-2.0
 *
 * Hand-off sockets: listening at a path (0600 socket in a 0700 directory,
 * owned by the one uid allowed to connect), accepting and connecting with a
 * peer-uid check (SO_PEERCRED), and the deadline helpers the wire code uses.
 * Paths only: a C string cannot name the abstract namespace (leading NUL),
 * and sun_path's 108-byte limit is enforced rather than silently truncated.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_i.h"

int64_t handoff_deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
}

int handoff_remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - handoff_deadline(0);
    return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

int handoff_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, handoff_remaining_ms(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        return n;
    }
}

static int fill_addr(const char *path, struct sockaddr_un *sa, struct handoff_err *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    size_t len = path ? strlen(path) : 0;
    if (len == 0) {
        handoff_err_set(err, "hand-off socket path is empty");
        return -EINVAL;
    }
    if (len >= sizeof(sa->sun_path)) {
        handoff_err_set(err, "hand-off socket path is %zu bytes, over the %zu byte limit of a unix socket", len,
                        sizeof(sa->sun_path) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(sa->sun_path, path, len);
    return 0;
}

/* The directory part of path ("." when none) into dir[cap]. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    snprintf(dir, cap, "%.*s", (int)n, path);
}

static int prepare_dir(const char *dir, uid_t owner, gid_t group, struct handoff_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        handoff_err_set(err, "cannot create socket directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        handoff_err_set(err, "cannot stat socket directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        handoff_err_set(err, "socket directory %s is not a directory (a symlink?)", dir);
        return -ENOTDIR;
    }
    if ((st.st_mode & 077) != 0 || (st.st_uid != geteuid() && st.st_uid != owner)) {
        handoff_err_set(err, "socket directory %s has mode %04o owner %u; need 0700 owned by %u", dir,
                        (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)owner);
        return -EPERM;
    }
    if ((st.st_uid != owner || st.st_gid != group) && lchown(dir, owner, group) != 0) {
        handoff_err_set(err, "cannot chown socket directory %s to %u:%u: %s", dir, (unsigned)owner,
                        (unsigned)group, strerror(errno));
        return -errno;
    }
    return 0;
}

static int remove_stale(const char *path, struct handoff_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        handoff_err_set(err, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        handoff_err_set(err, "cannot remove stale socket %s: %s", path, strerror(errno));
        return -errno;
    }
    return 0;
}

/* Bind, then tighten: the 0700 directory keeps everyone out until the socket
 * has its final mode and owner, so there is no window to exploit. */
static int bind_listen(const struct sockaddr_un *sa, const char *path, uid_t owner, gid_t group,
                       struct handoff_err *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        handoff_err_set(err, "socket: %s", strerror(errno));
        return -errno;
    }
    int rc = 0;
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || chmod(path, 0600) != 0 ||
        ((owner != geteuid() || group != getegid()) && lchown(path, owner, group) != 0) || listen(fd, 64) != 0) {
        rc = -errno;
        handoff_err_set(err, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}

int handoff_listen(const char *path, uid_t owner, gid_t group, int *lfd, struct handoff_err *err)
{
    struct sockaddr_un sa;
    char dir[sizeof(sa.sun_path)];
    int rc = fill_addr(path, &sa, err);
    if (rc != 0)
        return rc;
    dir_of(path, dir, sizeof(dir));
    rc = prepare_dir(dir, owner, group, err);
    if (rc == 0)
        rc = remove_stale(path, err);
    if (rc != 0)
        return rc;
    int fd = bind_listen(&sa, path, owner, group, err);
    if (fd < 0)
        return fd;
    *lfd = fd;
    return 0;
}

static int check_peer(int fd, uid_t want, pid_t *pid, struct handoff_err *err)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        handoff_err_set(err, "SO_PEERCRED: %s", strerror(errno));
        return -errno;
    }
    if (cred.uid != want) {
        handoff_err_set(err, "peer pid %d has uid %u, only uid %u is allowed", (int)cred.pid, (unsigned)cred.uid,
                        (unsigned)want);
        return -EACCES;
    }
    if (pid)
        *pid = cred.pid;
    return 0;
}

int handoff_accept(int lfd, uid_t peer_uid, int timeout_ms, int *cfd, pid_t *peer_pid, struct handoff_err *err)
{
    int rc = handoff_wait(lfd, POLLIN, handoff_deadline(timeout_ms));
    if (rc <= 0) {
        handoff_err_set(err, "no connection within %d ms", timeout_ms);
        return rc == 0 ? -ETIMEDOUT : rc;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        handoff_err_set(err, "accept: %s", strerror(errno));
        if (rc == -EBADF || rc == -EINVAL || rc == -ENOTSOCK || rc == -EOPNOTSUPP)
            return rc;
        return -EAGAIN; /* aborted connection, EMFILE, ...: the listener is fine */
    }
    rc = check_peer(fd, peer_uid, peer_pid, err);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *cfd = fd;
    return 0;
}

static int try_connect(const struct sockaddr_un *sa, int *fd)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
        int rc = -errno;
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int handoff_connect(const char *path, uid_t server_uid, int timeout_ms, int *fd, struct handoff_err *err)
{
    struct sockaddr_un sa;
    int rc = fill_addr(path, &sa, err);
    if (rc != 0)
        return rc;
    int64_t deadline = handoff_deadline(timeout_ms);
    int s = -1;
    /* The server may not be listening yet (it starts beside us): retry the
     * "not there yet" errors every 10 ms until the deadline. */
    while ((rc = try_connect(&sa, &s)) == -ENOENT || rc == -ECONNREFUSED || rc == -EAGAIN) {
        if (handoff_remaining_ms(deadline) == 0)
            break;
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc != 0) {
        handoff_err_set(err, "cannot connect to %s: %s", path, strerror(-rc));
        return rc;
    }
    rc = check_peer(s, server_uid, NULL, err);
    if (rc != 0) {
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}
