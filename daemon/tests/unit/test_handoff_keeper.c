/* SPDX-License-Identifier: Apache-2.0
 *
 * The keeper's conversation with daemons, on real sockets, with a pipe
 * standing in for the /dev/fuse file (the keeper only holds and passes it):
 * the first daemon's report teaches the keeper the INIT state, later
 * daemons receive it; a report about another file, a differing INIT, no
 * report and a wrong uid are refused, and no fd leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_keeper.h"
#include "tests/unit/unit.h"

enum daemon_mode { REPORT_SAME, REPORT_OTHER_FILE, REPORT_OTHER_INIT, NO_REPORT };

struct fake_daemon {
    const char *path;
    enum daemon_mode mode;
    struct handoff_msg got; /* what the keeper sent (fd closed) */
    int rc;
};

static struct handoff_init sample(void)
{
    struct handoff_init s = {.in = {.major = 7, .minor = 44, .flags = 0x40000000, .flags2 = 0x80},
                             .out = {.major = 7, .minor = 31, .max_write = 1 << 20, .max_pages = 256}};
    return s;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static int daemon_report(struct fake_daemon *d, int s)
{
    struct handoff_msg rep;
    int other[2] = {-1, -1};
    handoff_msg_init(&rep);
    rep.type = HANDOFF_MSG_SERVING;
    strcpy(rep.volume, d->got.volume);
    rep.has_init = true;
    rep.init = sample();
    if (d->mode == REPORT_OTHER_INIT)
        rep.init.out.max_write = 4096;
    rep.fd = d->got.fd;
    if (d->mode == REPORT_OTHER_FILE && pipe2(other, O_CLOEXEC) == 0)
        rep.fd = other[0];
    int rc = handoff_send(s, &rep, 1000, NULL);
    if (other[0] >= 0) {
        close(other[0]);
        close(other[1]);
    }
    return rc;
}

static void *daemon_main(void *arg)
{
    struct fake_daemon *d = arg;
    int s;
    handoff_msg_init(&d->got);
    d->rc = handoff_connect(d->path, geteuid(), 2000, &s, NULL);
    if (d->rc != 0)
        return NULL;
    d->rc = handoff_recv(s, 2000, &d->got, NULL);
    if (d->rc == 0 && d->mode != NO_REPORT)
        d->rc = daemon_report(d, s);
    if (d->rc == 0 && d->mode != NO_REPORT) {
        char b;
        d->rc = read(s, &b, 1) == 0 ? 0 : -EPROTO; /* the keeper closes after the report */
    }
    close(s);
    close(d->got.fd);
    d->got.fd = -1;
    return NULL;
}

/* Runs one fake daemon against one keeper conversation. */
static int converse(struct handoff_keeper *k, int lfd, const char *path, enum daemon_mode mode,
                    struct fake_daemon *d, struct handoff_keeper_event *ev)
{
    pthread_t th;
    *d = (struct fake_daemon){.path = path, .mode = mode};
    if (pthread_create(&th, NULL, daemon_main, d) != 0)
        return -999;
    int rc = handoff_keeper_serve_one(k, lfd, 2000, ev, NULL);
    pthread_join(th, NULL);
    return rc;
}

static int test_keeper_conversations(void)
{
    char dir[] = "/tmp/test_keeper.XXXXXX", path[64];
    int p[2], lfd;
    TEST_ASSERT(mkdtemp(dir) != NULL && pipe2(p, O_CLOEXEC) == 0);
    snprintf(path, sizeof(path), "%s/s/sock", dir);
    TEST_ASSERT(handoff_listen(path, geteuid(), getegid(), &lfd, NULL) == 0);
    json_t *settings = json_pack("{s:s}", "meta", "redis://x");
    struct handoff_keeper_config cfg = {.volume = "vol", .mountpoint = "/mnt/v", .max_read = 1 << 20,
                                        .settings = settings, .daemon_uid = geteuid(), .report_timeout_ms = 500};
    struct handoff_keeper *k;
    TEST_ASSERT(handoff_keeper_new(p[0], &cfg, &k, NULL) == 0);
    json_decref(settings); /* the keeper has its own copy */
    int before = count_fds();
    struct fake_daemon d;
    struct handoff_keeper_event ev;
    struct handoff_init init;
    TEST_EXPECT(!handoff_keeper_init_state(k, &init));

    TEST_EXPECT(converse(k, lfd, path, REPORT_SAME, &d, &ev) == 0 && d.rc == 0);
    TEST_EXPECT(ev.reported && ev.learned_init && ev.generation == 0 && ev.pid == getpid());
    TEST_EXPECT(!d.got.has_init && strcmp(d.got.volume, "vol") == 0 && d.got.max_read == 1u << 20);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(d.got.settings, "meta")), "redis://x") == 0);
    TEST_EXPECT(handoff_keeper_init_state(k, &init) && init.out.max_write == 1u << 20);
    handoff_msg_clear(&d.got);

    TEST_EXPECT(converse(k, lfd, path, REPORT_SAME, &d, &ev) == 0 && d.rc == 0);
    TEST_EXPECT(ev.reported && !ev.learned_init && ev.generation == 1);
    TEST_EXPECT(d.got.has_init && d.got.generation == 1 && d.got.init.in.minor == 44);
    handoff_msg_clear(&d.got);

    TEST_EXPECT(converse(k, lfd, path, REPORT_OTHER_FILE, &d, &ev) == -EBADF);
    handoff_msg_clear(&d.got);
    TEST_EXPECT(converse(k, lfd, path, REPORT_OTHER_INIT, &d, &ev) == -EPROTO);
    handoff_msg_clear(&d.got);
    TEST_EXPECT(converse(k, lfd, path, NO_REPORT, &d, &ev) == -ENOMSG);
    handoff_msg_clear(&d.got);
    TEST_EXPECT(handoff_keeper_init_state(k, &init) && init.out.max_write == 1u << 20);
    TEST_EXPECT(count_fds() == before);

    handoff_keeper_free(k);
    close(p[1]);
    close(lfd);
    unlink(path);
    snprintf(path, sizeof(path), "%s/s", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
}

static int test_keeper_refuses_other_uid(void)
{
    char dir[] = "/tmp/test_keeper.XXXXXX", path[64];
    int p[2], lfd;
    TEST_ASSERT(mkdtemp(dir) != NULL && pipe2(p, O_CLOEXEC) == 0);
    snprintf(path, sizeof(path), "%s/s/sock", dir);
    TEST_ASSERT(handoff_listen(path, geteuid(), getegid(), &lfd, NULL) == 0);
    struct handoff_keeper_config cfg = {.volume = "vol", .daemon_uid = geteuid() + 1};
    struct handoff_keeper *k;
    TEST_ASSERT(handoff_keeper_new(p[0], &cfg, &k, NULL) == 0);
    struct fake_daemon d;
    TEST_EXPECT(converse(k, lfd, path, REPORT_SAME, &d, NULL) == -EACCES);
    TEST_EXPECT(d.rc == -ENOMSG); /* the daemon got nothing, no fd */
    handoff_keeper_free(k);
    close(p[1]);
    close(lfd);
    unlink(path);
    snprintf(path, sizeof(path), "%s/s", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
}

static int test_keeper_config_checked(void)
{
    int p[2];
    struct handoff_keeper *k;
    struct handoff_err err;
    TEST_ASSERT(pipe2(p, O_CLOEXEC) == 0);
    struct handoff_keeper_config cfg = {.volume = ""};
    TEST_EXPECT(handoff_keeper_new(p[0], &cfg, &k, &err) == -EINVAL); /* and p[0] is closed */
    TEST_EXPECT(fcntl(p[0], F_GETFD) == -1 && errno == EBADF);
    close(p[1]);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_keeper_conversations), UNIT_TEST(test_keeper_refuses_other_uid),
          UNIT_TEST(test_keeper_config_checked))
