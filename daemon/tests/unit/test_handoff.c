/* SPDX-License-Identifier: Apache-2.0
 *
 * The fd hand-off protocol on real unix sockets: a valid message, every kind
 * of malformed one (no fd, two or many fds, fds on the body, bad JSON,
 * oversize, bad magic, cut short, deadline, wrong peer uid), the socket's
 * permissions, and a stress run of 10,000 malformed messages against a
 * serving thread that must reject them all without leaking an fd and still
 * accept a valid hand-off afterwards.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "tests/unit/unit.h"

/* ---- helpers ---- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One sendmsg of bytes with nfds copies of fd attached (nfds may be 0). */
static int raw_send(int s, const void *bytes, size_t len, int fd, int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 32)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)bytes, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        for (int i = 0; i < nfds; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
    }
    return sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* Header + body in buf; returns the frame length. */
static size_t frame(char *buf, const char *magic, uint32_t announced, const char *body)
{
    uint32_t be = htonl(announced);
    memcpy(buf, magic, 4);
    memcpy(buf + 4, &be, 4);
    size_t blen = strlen(body);
    memcpy(buf + 8, body, blen);
    return 8 + blen;
}

static const char *valid_json = "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"vol\"}";

/* Sends a frame with nfds fds on one end of a socketpair and receives it on
 * the other; returns handoff_recv's result. */
static int roundtrip_raw(const char *magic, uint32_t announced, const char *body, int nfds, int timeout_ms)
{
    int sp[2], p[2];
    char buf[HANDOFF_MSG_MAX + 64];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0 || pipe2(p, O_CLOEXEC) != 0)
        return -999;
    size_t len = frame(buf, magic, announced, body);
    int rc = raw_send(sp[0], buf, len, p[0], nfds);
    close(sp[0]);
    close(p[0]);
    close(p[1]);
    struct handoff_msg msg;
    struct handoff_err err;
    handoff_msg_init(&msg);
    if (rc == 0)
        rc = handoff_recv(sp[1], timeout_ms, &msg, &err);
    TEST_EXPECT(rc == 0 || msg.fd == -1);
    handoff_msg_clear(&msg);
    close(sp[1]);
    return rc;
}

/* ---- single messages ---- */

static int test_valid_message(void)
{
    int sp[2], p[2];
    TEST_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 && pipe2(p, O_CLOEXEC) == 0);
    struct handoff_msg out, in;
    struct handoff_err err;
    handoff_msg_init(&out);
    handoff_msg_init(&in);
    out.type = HANDOFF_MSG_FUSE_FD;
    strcpy(out.volume, "vol-1");
    strcpy(out.mountpoint, "/var/lib/tidefs/mnt/vol-1");
    out.max_read = 1 << 20;
    out.generation = 3;
    out.has_init = true;
    out.init.in.major = out.init.out.major = 7;
    out.init.in.minor = 44;
    out.init.out.max_write = 1 << 20;
    out.settings = json_pack("{s:s,s:i}", "meta", "sqlite3:///x.db", "cache_mb", 512);
    out.fd = p[0];
    TEST_ASSERT(handoff_send(sp[0], &out, 1000, &err) == 0);
    TEST_ASSERT(handoff_recv(sp[1], 1000, &in, &err) == 0);
    TEST_EXPECT(in.type == HANDOFF_MSG_FUSE_FD && strcmp(in.volume, "vol-1") == 0);
    TEST_EXPECT(strcmp(in.mountpoint, out.mountpoint) == 0 && in.max_read == 1u << 20 && in.generation == 3);
    TEST_EXPECT(in.has_init && in.init.in.minor == 44 && in.init.out.max_write == 1u << 20);
    TEST_EXPECT(json_equal(in.settings, out.settings));
    TEST_EXPECT(in.fd >= 0 && in.fd != p[0] && (fcntl(in.fd, F_GETFD) & FD_CLOEXEC));
    /* the received fd is the same pipe */
    TEST_EXPECT(write(p[1], "x", 1) == 1);
    char c = 0;
    TEST_EXPECT(read(in.fd, &c, 1) == 1 && c == 'x');
    handoff_msg_clear(&in);
    TEST_EXPECT(in.fd == -1 && in.settings == NULL);
    out.fd = -1;
    handoff_msg_clear(&out);
    close(p[0]);
    close(p[1]);
    close(sp[0]);
    close(sp[1]);
    return 0;
}

static int test_send_needs_fd(void)
{
    struct handoff_msg m;
    handoff_msg_init(&m);
    m.type = HANDOFF_MSG_FUSE_FD;
    strcpy(m.volume, "v");
    TEST_EXPECT(handoff_send(-1, &m, 100, NULL) == -EBADF);
    return 0;
}

static int test_no_fd(void)
{
    int before = count_fds();
    TEST_EXPECT(roundtrip_raw("tdfh", (uint32_t)strlen(valid_json), valid_json, 0, 1000) == -EBADF);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

static int test_two_fds(void)
{
    int before = count_fds();
    TEST_EXPECT(roundtrip_raw("tdfh", (uint32_t)strlen(valid_json), valid_json, 2, 1000) == -ETOOMANYREFS);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

static int test_many_fds_truncated_control(void)
{
    int before = count_fds();
    TEST_EXPECT(roundtrip_raw("tdfh", (uint32_t)strlen(valid_json), valid_json, 30, 1000) == -ETOOMANYREFS);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

/* A second fd riding on the body, not the header, is still seen. */
static int test_fd_on_body(void)
{
    int sp[2], p[2], before = count_fds();
    char hdr[8];
    TEST_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 && pipe2(p, O_CLOEXEC) == 0);
    frame(hdr, "tdfh", (uint32_t)strlen(valid_json), "");
    TEST_ASSERT(raw_send(sp[0], hdr, 8, p[0], 1) == 0);
    TEST_ASSERT(raw_send(sp[0], valid_json, strlen(valid_json), p[1], 1) == 0);
    struct handoff_msg m;
    handoff_msg_init(&m);
    TEST_EXPECT(handoff_recv(sp[1], 1000, &m, NULL) == -ETOOMANYREFS);
    close(sp[0]);
    close(sp[1]);
    close(p[0]);
    close(p[1]);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

static int test_bad_json(void)
{
    static const char *bad[] = {
        "{\"v\":1,\"type\":\"fuse-fd\"",                                   /* cut */
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\"} x",               /* trailing bytes */
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"volume\":\"w\"}", /* duplicate key */
        "{\"v\":2,\"type\":\"fuse-fd\",\"volume\":\"v\"}",                 /* version */
        "{\"v\":1,\"type\":\"mount\",\"volume\":\"v\"}",                   /* type */
        "{\"v\":1,\"type\":\"fuse-fd\"}",                                  /* no volume */
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"\"}",                  /* empty volume */
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"a\\u0001b\"}",         /* control char */
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"max_read\":-1}",
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"generation\":4294967296}",
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"settings\":[1]}",
        "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"init\":{\"in\":{}}}",
        "[1,2,3]",
        "\"just a string\"",
    };
    int before = count_fds();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = roundtrip_raw("tdfh", (uint32_t)strlen(bad[i]), bad[i], 1, 1000);
        if (rc != -EBADMSG)
            fprintf(stderr, "bad JSON #%zu gave %d\n", i, rc);
        TEST_EXPECT(rc == -EBADMSG);
    }
    TEST_EXPECT(count_fds() == before);
    return 0;
}

static int test_error_text_names_problem(void)
{
    const char *body = "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":\"v\",\"max_read\":\"big\"}";
    struct handoff_msg m;
    struct handoff_err err;
    handoff_msg_init(&m);
    TEST_EXPECT(handoff_msg_decode(body, strlen(body), &m, &err) == -EBADMSG);
    TEST_EXPECT(strstr(err.text, "max_read") != NULL && strchr(err.text, '\n') == NULL);
    return 0;
}

static int test_oversize(void)
{
    int before = count_fds();
    TEST_EXPECT(roundtrip_raw("tdfh", HANDOFF_MSG_MAX + 1, "{}", 1, 1000) == -EMSGSIZE);
    TEST_EXPECT(roundtrip_raw("tdfh", 0xffffffffu, "{}", 1, 1000) == -EMSGSIZE);
    TEST_EXPECT(count_fds() == before);
    /* and the sender refuses to build one */
    struct handoff_msg m;
    handoff_msg_init(&m);
    m.type = HANDOFF_MSG_FUSE_FD;
    strcpy(m.volume, "v");
    char *big = malloc(HANDOFF_MSG_MAX + 1);
    TEST_ASSERT(big);
    memset(big, 'a', HANDOFF_MSG_MAX);
    big[HANDOFF_MSG_MAX] = '\0';
    m.settings = json_pack("{s:s}", "blob", big);
    free(big);
    m.fd = 0;
    TEST_EXPECT(handoff_send(-1, &m, 100, NULL) == -EMSGSIZE);
    m.fd = -1;
    handoff_msg_clear(&m);
    return 0;
}

static int test_bad_magic(void)
{
    TEST_EXPECT(roundtrip_raw("HTTP", (uint32_t)strlen(valid_json), valid_json, 1, 1000) == -EPROTO);
    return 0;
}

static int test_cut_short_and_empty(void)
{
    int before = count_fds();
    /* announces more than it sends, then closes */
    TEST_EXPECT(roundtrip_raw("tdfh", (uint32_t)strlen(valid_json) + 10, valid_json, 1, 1000) == -EBADMSG);
    int sp[2];
    TEST_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    close(sp[0]);
    struct handoff_msg m;
    handoff_msg_init(&m);
    TEST_EXPECT(handoff_recv(sp[1], 1000, &m, NULL) == -ENOMSG);
    close(sp[1]);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

static int test_deadline(void)
{
    int sp[2], p[2], before = count_fds();
    char buf[64];
    TEST_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 && pipe2(p, O_CLOEXEC) == 0);
    /* header and fd arrive, the body never does, the peer stays connected */
    frame(buf, "tdfh", 100, "");
    TEST_ASSERT(raw_send(sp[0], buf, 8, p[0], 1) == 0);
    struct handoff_msg m;
    struct handoff_err err;
    handoff_msg_init(&m);
    int64_t t0 = now_ms();
    TEST_EXPECT(handoff_recv(sp[1], 200, &m, &err) == -ETIMEDOUT);
    int64_t took = now_ms() - t0;
    TEST_EXPECT(took >= 190 && took < 2000);
    close(sp[0]);
    close(sp[1]);
    close(p[0]);
    close(p[1]);
    TEST_EXPECT(count_fds() == before);
    return 0;
}

/* ---- sockets ---- */

static char tmpdir[64];

static int make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_handoff.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -errno;
}

static void remove_tmpdir(const char *sub)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s/sock", tmpdir, sub);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
    rmdir(p);
}

static int test_listen_permissions(void)
{
    char path[160], dir[128];
    struct stat st;
    int lfd;
    struct handoff_err err;
    TEST_ASSERT(make_tmpdir() == 0);
    snprintf(dir, sizeof(dir), "%s/d", tmpdir);
    snprintf(path, sizeof(path), "%s/sock", dir);
    TEST_ASSERT(handoff_listen(path, geteuid(), getegid(), &lfd, &err) == 0);
    TEST_EXPECT(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);
    TEST_EXPECT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600);
    close(lfd);
    /* a stale socket is replaced */
    TEST_EXPECT(handoff_listen(path, geteuid(), getegid(), &lfd, &err) == 0);
    close(lfd);
    unlink(path);
    /* a regular file is not */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(f);
    TEST_EXPECT(handoff_listen(path, geteuid(), getegid(), &lfd, &err) == -EEXIST);
    unlink(path);
    /* a directory others can enter is refused */
    chmod(dir, 0755);
    TEST_EXPECT(handoff_listen(path, geteuid(), getegid(), &lfd, &err) == -EPERM);
    TEST_EXPECT(strstr(err.text, "0755") != NULL);
    remove_tmpdir("d");
    /* too long for sun_path */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    TEST_EXPECT(handoff_listen(longp, geteuid(), getegid(), &lfd, &err) == -ENAMETOOLONG);
    TEST_EXPECT(handoff_listen("", geteuid(), getegid(), &lfd, &err) == -EINVAL);
    rmdir(tmpdir);
    return 0;
}

static int test_wrong_uid(void)
{
    char path[128];
    int lfd, c1, c2, s;
    struct handoff_err err;
    TEST_ASSERT(make_tmpdir() == 0);
    snprintf(path, sizeof(path), "%s/d/sock", tmpdir);
    TEST_ASSERT(handoff_listen(path, geteuid(), getegid(), &lfd, &err) == 0);
    int before = count_fds();
    /* the client insists on a server of another uid */
    TEST_EXPECT(handoff_connect(path, geteuid() + 1, 1000, &c1, &err) == -EACCES);
    TEST_EXPECT(strstr(err.text, "uid") != NULL);
    TEST_EXPECT(handoff_accept(lfd, geteuid(), 1000, &s, NULL, &err) == 0);
    close(s);
    /* the server allows only another uid */
    TEST_ASSERT(handoff_connect(path, geteuid(), 1000, &c2, &err) == 0);
    TEST_EXPECT(handoff_accept(lfd, geteuid() + 1, 1000, &s, NULL, &err) == -EACCES);
    char b;
    TEST_EXPECT(read(c2, &b, 1) == 0); /* the server hung up on us */
    close(c2);
    TEST_EXPECT(count_fds() == before);
    TEST_EXPECT(handoff_accept(lfd, geteuid(), 50, &s, NULL, &err) == -ETIMEDOUT);
    close(lfd);
    remove_tmpdir("d");
    rmdir(tmpdir);
    return 0;
}

/* ---- stress: 10,000 malformed messages against a serving thread ---- */

struct stress {
    int lfd;
    atomic_int rejects;
    atomic_int accepted;
    int reject_kinds[256]; /* by errno */
};

static int stress_on_msg(struct handoff_msg *msg, void *arg)
{
    struct stress *st = arg;
    if (msg->fd >= 0 && strcmp(msg->volume, "good") == 0)
        atomic_fetch_add(&st->accepted, 1);
    return 1; /* the valid message ends the run */
}

static void stress_on_reject(int err, const char *why, void *arg)
{
    struct stress *st = arg;
    (void)why;
    if (-err > 0 && -err < 256)
        st->reject_kinds[-err] = 1;
    atomic_fetch_add(&st->rejects, 1);
}

static void *stress_server(void *arg)
{
    struct stress *st = arg;
    static const struct handoff_server_ops ops = {stress_on_msg, stress_on_reject};
    intptr_t rc = handoff_serve(st->lfd, geteuid(), 100, &ops, st);
    return (void *)rc;
}

static int send_malformed(const char *path, int kind, int pipefd)
{
    static const char *bad_json = "{\"v\":1,\"type\":\"fuse-fd\",\"volume\":";
    char buf[256];
    int s;
    if (handoff_connect(path, geteuid(), 5000, &s, NULL) != 0)
        return -1;
    int rc = 0;
    switch (kind % 9) {
    case 0: rc = raw_send(s, buf, frame(buf, "tdfh", (uint32_t)strlen(valid_json), valid_json), pipefd, 0); break;
    case 1: rc = raw_send(s, buf, frame(buf, "tdfh", (uint32_t)strlen(valid_json), valid_json), pipefd, 2); break;
    case 2: rc = raw_send(s, buf, frame(buf, "tdfh", (uint32_t)strlen(bad_json), bad_json), pipefd, 1); break;
    case 3: rc = raw_send(s, buf, frame(buf, "tdfh", HANDOFF_MSG_MAX + 1, ""), pipefd, 1); break;
    case 4: rc = raw_send(s, buf, frame(buf, "xxxx", (uint32_t)strlen(valid_json), valid_json), pipefd, 1); break;
    case 5: rc = raw_send(s, buf, frame(buf, "tdfh", 200, valid_json), pipefd, 1); break; /* cut short */
    case 6: break;                                                                      /* says nothing */
    case 7: rc = raw_send(s, buf, frame(buf, "tdfh", (uint32_t)strlen(valid_json), valid_json), pipefd, 20); break;
    case 8: rc = raw_send(s, "td", 2, pipefd, 1); break; /* partial header */
    }
    close(s);
    return rc;
}

static int test_stress_malformed(void)
{
    char path[128];
    struct stress st = {.lfd = -1};
    struct handoff_err err;
    int p[2];
    TEST_ASSERT(make_tmpdir() == 0);
    snprintf(path, sizeof(path), "%s/d/sock", tmpdir);
    TEST_ASSERT(handoff_listen(path, geteuid(), getegid(), &st.lfd, &err) == 0);
    TEST_ASSERT(pipe2(p, O_CLOEXEC) == 0);
    pthread_t th;
    TEST_ASSERT(pthread_create(&th, NULL, stress_server, &st) == 0);
    int before = count_fds();
    const int n = 10000;
    for (int i = 0; i < n; i++)
        TEST_ASSERT(send_malformed(path, i, p[0]) == 0);
    int64_t until = now_ms() + 20000;
    while (atomic_load(&st.rejects) < n && now_ms() < until)
        usleep(1000);
    TEST_EXPECT(atomic_load(&st.rejects) == n);
    TEST_EXPECT(count_fds() == before);
    int kinds[] = {EBADF, ETOOMANYREFS, EBADMSG, EMSGSIZE, EPROTO, ENOMSG};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        TEST_EXPECT(st.reject_kinds[kinds[i]]);
    /* a valid hand-off still works */
    int s;
    struct handoff_msg m;
    handoff_msg_init(&m);
    m.type = HANDOFF_MSG_FUSE_FD;
    strcpy(m.volume, "good");
    m.fd = p[0];
    TEST_ASSERT(handoff_connect(path, geteuid(), 1000, &s, &err) == 0);
    TEST_EXPECT(handoff_send(s, &m, 1000, &err) == 0);
    void *ret;
    pthread_join(th, &ret);
    close(s);
    TEST_EXPECT((intptr_t)ret == 1 && atomic_load(&st.accepted) == 1);
    TEST_EXPECT(atomic_load(&st.rejects) == n);
    close(p[0]);
    close(p[1]);
    close(st.lfd);
    remove_tmpdir("d");
    rmdir(tmpdir);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_valid_message), UNIT_TEST(test_send_needs_fd), UNIT_TEST(test_no_fd),
          UNIT_TEST(test_two_fds), UNIT_TEST(test_many_fds_truncated_control), UNIT_TEST(test_fd_on_body),
          UNIT_TEST(test_bad_json), UNIT_TEST(test_error_text_names_problem), UNIT_TEST(test_oversize),
          UNIT_TEST(test_bad_magic), UNIT_TEST(test_cut_short_and_empty), UNIT_TEST(test_deadline),
          UNIT_TEST(test_listen_permissions), UNIT_TEST(test_wrong_uid), UNIT_TEST(test_stress_malformed))
