/* SPDX-License-Identifier: Apache-2.0
 *
 * The local supervisor (see supervisor.h). One process, no threads: a poll
 * loop over the keeper's listening socket, the held FUSE connection (which
 * reports POLLERR once the mount is gone) and a signalfd (SIGCHLD for
 * workers, SIGHUP for an upgrade request, SIGTERM/SIGINT to stop).
 *
 * Worker lifecycle:
 *   start_worker()  fork + exec `tidefs mount --fuse-fd-socket SOCK ...`
 *   serve_daemon()  the worker took the fd and reported "serving"
 *   reap()          a worker exited: the mount still alive means a crash,
 *                   so start_worker() again, asking for a resend of what
 *                   the dead worker had read
 *   upgrade()       SIGHUP: start a worker from the new binary without
 *                   resend; once it serves, the old one gets SIGTERM,
 *                   flushes and exits; then a resend recovers any request
 *                   the old one read but dropped while exiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse/supervisor.h"
#include "handoff/handoff.h"
#include "handoff/handoff_keeper.h"
#include "handoff/handoff_mount.h"
#include "handoff/handoff_session.h"

#define SUPERVISOR_RUN_DIR "/run/tidefs"
#define MAX_WORKER_ARGS 96
#define STOP_WAIT_S 30
#define UPGRADE_WAIT_S 60

struct supervisor {
    const struct supervisor_config *cfg;
    char dir[256];
    char sock[320];
    char journal[320];
    char exe[PATH_MAX];     /* binary of the current worker */
    char new_exe[PATH_MAX]; /* binary of an upgrade in progress */
    struct handoff_keeper *k;
    int lfd, sfd;
    pid_t worker, upgrading, retiring;
    time_t started;
    bool ready_sent;
    supervisor_ready_fn ready;
    void *ready_arg;
};

static void log_line(const char *fmt, const char *a, long b)
{
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    fprintf(stderr, "%s tidefs supervisor[%d]: ", when, (int)getpid());
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

void supervisor_dir(const char *mountpoint, char *buf, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: a stable, short name */
    for (const char *p = mountpoint; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(buf, len, "%s/%016llx", SUPERVISOR_RUN_DIR, (unsigned long long)h);
}

static void report(struct supervisor *s, int rc, const char *why)
{
    if (s->ready_sent)
        return;
    s->ready_sent = true;
    s->ready(s->ready_arg, rc, why);
}

static void write_file(const char *dir, const char *name, const char *text);
static pid_t supervisor_pid(const char *dir);

/* worker.pid lets `tidefs mount` tell whether it is a newer binary */
static void record_worker(struct supervisor *s)
{
    char text[32];
    snprintf(text, sizeof(text), "%d\n", (int)s->worker);
    write_file(s->dir, "worker.pid", text);
}

static pid_t start_worker(struct supervisor *s, const char *exe, bool resend)
{
    char *argv[MAX_WORKER_ARGS];
    int n = 0;
    argv[n++] = (char *)exe;
    argv[n++] = (char *)"mount";
    argv[n++] = (char *)"--fuse-fd-socket";
    argv[n++] = s->sock;
    if (!resend)
        argv[n++] = (char *)"--no-resend";
    argv[n++] = (char *)"--journal-dir";
    argv[n++] = s->journal;
    for (char *const *o = s->cfg->worker_opts; o && *o && n < MAX_WORKER_ARGS - 4; o++)
        argv[n++] = *o;
    argv[n++] = (char *)"--";
    argv[n++] = (char *)s->cfg->meta_url;
    argv[n++] = (char *)s->cfg->mountpoint;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(exe, argv);
        fprintf(stderr, "tidefs supervisor: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    if (pid > 0)
        log_line("started worker %s, pid %ld", exe, pid);
    return pid;
}

static bool mount_alive(struct supervisor *s)
{
    struct pollfd p = {.fd = handoff_keeper_fd(s->k)};
    return poll(&p, 1, 0) == 0 || !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[400], tmp[410];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

static void upgrade_done(struct supervisor *s, bool ok, long pid)
{
    char text[64];
    snprintf(text, sizeof(text), "%s %ld\n", ok ? "ok" : "failed", pid);
    write_file(s->dir, "upgrade.done", text);
}

static void serve_daemon(struct supervisor *s)
{
    struct handoff_keeper_event ev = {0};
    struct handoff_err err = {""};
    int rc = handoff_keeper_serve_one(s->k, s->lfd, 0, &ev, &err);
    if (rc == -ETIMEDOUT || rc == -EAGAIN)
        return;
    if (rc) {
        log_line("a hand-off failed: %s%ld", err.text, 0);
        return;
    }
    report(s, 0, NULL);
    if (ev.pid == s->upgrading && s->upgrading) {
        log_line("upgrade: new worker %s serves; retiring pid %ld", s->new_exe, s->worker);
        if (s->worker > 0)
            kill(s->worker, SIGTERM);
        s->retiring = s->worker;
        s->worker = s->upgrading;
        s->upgrading = 0;
        memcpy(s->exe, s->new_exe, sizeof(s->exe));
        record_worker(s);
        upgrade_done(s, true, s->worker);
    }
}

static void restart_after_crash(struct supervisor *s, int status)
{
    log_line("worker crashed (%s %ld); starting a new one on the same connection",
             WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status)
                                                                                  : WEXITSTATUS(status));
    if (time(NULL) - s->started < 2)
        sleep(1); /* a worker that dies at once must not spin the CPU */
    s->started = time(NULL);
    s->worker = start_worker(s, s->exe, true);
    record_worker(s);
}

/* Returns false once the supervisor has nothing left to do. */
static bool reap(struct supervisor *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == s->retiring) {
            s->retiring = 0;
            handoff_notify_resend(handoff_keeper_fd(s->k));
        } else if (pid == s->upgrading) {
            s->upgrading = 0;
            log_line("upgrade: worker %s exited before serving (pid %ld); keeping the old one", s->new_exe, pid);
            upgrade_done(s, false, pid);
        } else if (pid == s->worker) {
            s->worker = 0;
            if (!s->ready_sent) {
                report(s, -EIO, "the filesystem daemon exited before serving the mount (see the log)");
                return false;
            }
            if (!mount_alive(s))
                return false;
            restart_after_crash(s, status);
        }
    }
    return s->worker > 0 || mount_alive(s);
}

static void upgrade(struct supervisor *s)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/upgrade", s->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    bool ok = fgets(s->new_exe, sizeof(s->new_exe), f) != NULL;
    fclose(f);
    unlink(path);
    s->new_exe[strcspn(s->new_exe, "\n")] = '\0';
    if (!ok || s->upgrading || access(s->new_exe, X_OK) != 0) {
        upgrade_done(s, false, 0);
        return;
    }
    s->upgrading = start_worker(s, s->new_exe, false);
}

static void stop(struct supervisor *s)
{
    pid_t w[3] = {s->worker, s->upgrading, s->retiring};
    for (int i = 0; i < 3; i++)
        if (w[i] > 0)
            kill(w[i], SIGTERM);
    for (int i = 0; i < 3; i++) {
        for (int t = 0; w[i] > 0 && t < STOP_WAIT_S * 10 && waitpid(w[i], NULL, WNOHANG) == 0; t++)
            usleep(100000);
    }
    struct handoff_err err;
    if (mount_alive(s))
        handoff_fuse_unmount(s->cfg->mountpoint, &err);
}

static int handle_signal(struct supervisor *s)
{
    struct signalfd_siginfo si;
    if (read(s->sfd, &si, sizeof(si)) != sizeof(si))
        return 0;
    if (si.ssi_signo == SIGCHLD)
        return reap(s) ? 0 : 1;
    if (si.ssi_signo == SIGHUP) {
        upgrade(s);
        return 0;
    }
    log_line("signal %s%ld: stopping the worker and unmounting", "", (long)si.ssi_signo);
    stop(s);
    return 1;
}

static int loop(struct supervisor *s)
{
    for (;;) {
        struct pollfd p[3] = {{.fd = s->lfd, .events = POLLIN}, {.fd = handoff_keeper_fd(s->k)},
                              {.fd = s->sfd, .events = POLLIN}};
        if (poll(p, 3, 1000) < 0 && errno != EINTR)
            return -errno;
        if (p[2].revents && handle_signal(s))
            return 0;
        if (p[0].revents)
            serve_daemon(s);
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            /* unmounted: the worker sees the end too, flushes and exits;
             * waiting for it lets its journal go before the state dir */
            log_line("the mount %s is gone; exiting%ld", s->cfg->mountpoint, 0);
            for (int t = 0; s->worker > 0 && t < STOP_WAIT_S * 10 && waitpid(s->worker, NULL, WNOHANG) == 0; t++)
                usleep(100000);
            return 0;
        }
    }
}

static int blocked_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static int setup(struct supervisor *s, char *why, size_t whylen)
{
    struct handoff_err err = {""};
    supervisor_dir(s->cfg->mountpoint, s->dir, sizeof(s->dir));
    /* the socket is this supervisor's own: a new mount on the same path may
     * start while the previous supervisor is still cleaning up */
    snprintf(s->sock, sizeof(s->sock), "%s/keeper-%d.sock", s->dir, (int)getpid());
    snprintf(s->journal, sizeof(s->journal), "%s/journal", s->dir);
    mkdir(SUPERVISOR_RUN_DIR, 0755);
    if ((mkdir(s->dir, 0700) != 0 && errno != EEXIST) || chmod(s->dir, 0700) != 0) {
        snprintf(why, whylen, "cannot create %s: %s", s->dir, strerror(errno));
        return -errno;
    }
    ssize_t n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
    s->exe[n > 0 ? n : 0] = '\0';
    int fuse_fd;
    struct handoff_mount_opts mo = {.fsname = s->cfg->fsname, .read_only = s->cfg->read_only, .read_ahead_kb = 1024};
    int rc = handoff_fuse_mount(s->cfg->mountpoint, &mo, &fuse_fd, &err);
    struct handoff_keeper_config kc = {.volume = s->cfg->fsname, .mountpoint = s->cfg->mountpoint,
                                       .max_read = 1U << 20, .daemon_uid = getuid()};
    if (rc == 0)
        rc = handoff_keeper_new(fuse_fd, &kc, &s->k, &err);
    unlink(s->sock);
    if (rc == 0)
        rc = handoff_listen(s->sock, getuid(), getgid(), &s->lfd, &err);
    if (rc) {
        snprintf(why, whylen, "%s", err.text);
        if (s->k)
            handoff_fuse_unmount(s->cfg->mountpoint, &err);
        return rc;
    }
    char pid[32];
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    write_file(s->dir, "supervisor.pid", pid);
    write_file(s->dir, "meta-url", s->cfg->meta_url); /* password-free: see cmd_mount */
    return 0;
}

int supervisor_run(const struct supervisor_config *cfg, supervisor_ready_fn ready, void *arg)
{
    struct supervisor s = {.cfg = cfg, .lfd = -1, .ready = ready, .ready_arg = arg};
    char why[300] = "";
    s.sfd = blocked_signals();
    int rc = s.sfd < 0 ? -errno : setup(&s, why, sizeof(why));
    if (rc) {
        report(&s, rc, why[0] ? why : strerror(-rc));
    } else {
        s.started = time(NULL);
        s.worker = start_worker(&s, s.exe, true);
        record_worker(&s);
        rc = s.worker > 0 ? loop(&s) : -errno;
        report(&s, rc ? rc : -EIO, "the supervisor stopped before the mount was served");
    }
    if (s.lfd >= 0) {
        close(s.lfd);
        unlink(s.sock);
    }
    /* the shared state files go only while they are still ours */
    static const char *const state_files[] = {"worker.pid", "meta-url", "upgrade", "upgrade.done", "supervisor.pid"};
    for (size_t i = 0; s.dir[0] && supervisor_pid(s.dir) == getpid() && i < 5; i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", s.dir, state_files[i]);
        unlink(path);
    }
    rmdir(s.journal); /* only when every worker committed all it journaled */
    rmdir(s.dir);
    handoff_keeper_free(s.k);
    if (s.sfd >= 0)
        close(s.sfd);
    return rc;
}

static pid_t supervisor_pid(const char *dir)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/supervisor.pid", dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/* Whether the worker runs the very file `exe` is (same inode, even if the
 * path was since replaced). */
static bool worker_runs(const char *dir, const char *exe)
{
    char path[400], link[64];
    snprintf(path, sizeof(path), "%s/worker.pid", dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
    struct stat a, b;
    return pid > 0 && stat(link, &a) == 0 && stat(exe, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Whether the supervisor serves the volume at meta_url. */
static bool same_volume(const char *dir, const char *meta_url)
{
    char path[400], url[4096] = "";
    snprintf(path, sizeof(path), "%s/meta-url", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(url, 1, sizeof(url) - 1, f);
    fclose(f);
    url[n] = '\0';
    return strcmp(url, meta_url) == 0;
}

int supervisor_request_upgrade(const char *mountpoint, const char *meta_url, const char *exe, char *why,
                               size_t whylen)
{
    char dir[256], done[300];
    supervisor_dir(mountpoint, dir, sizeof(dir));
    pid_t pid = supervisor_pid(dir);
    if (!pid)
        return -ESRCH;
    if (!same_volume(dir, meta_url))
        return -EBUSY;
    if (worker_runs(dir, exe))
        return -EALREADY;
    snprintf(done, sizeof(done), "%s/upgrade.done", dir);
    unlink(done);
    char text[PATH_MAX + 2];
    snprintf(text, sizeof(text), "%s\n", exe);
    write_file(dir, "upgrade", text);
    kill(pid, SIGHUP);
    for (int t = 0; t < UPGRADE_WAIT_S * 10; t++) {
        FILE *f = fopen(done, "re");
        if (!f) {
            usleep(100000);
            continue;
        }
        char state[16] = "";
        long wpid = 0;
        int got = fscanf(f, "%15s %ld", state, &wpid);
        fclose(f);
        if (got >= 1 && strcmp(state, "ok") == 0) {
            snprintf(why, whylen, "worker pid %ld now serves %s", wpid, mountpoint);
            return 0;
        }
        snprintf(why, whylen, "the new worker did not take over (see the log); the old one keeps serving");
        return -EIO;
    }
    snprintf(why, whylen, "the supervisor did not answer within %d s", UPGRADE_WAIT_S);
    return -ETIMEDOUT;
}
