/* SPDX-License-Identifier: Apache-2.0
 *
 * The local mounter: runs `tidefs mount -d` as a child of the node plugin
 * and `tidefs umount` to undo it. Secrets go to the child through a clean
 * environment, never argv (which any user can read in /proc).
 */
#include "csi_mounter.h"

#include "csi_log.h"
#include "csi_redact.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_TIMEOUT_MS 60000
#define MOUNT_WAIT_MS 10000
#define ERR_TAIL 512

struct mounter_local {
    struct csi_mounter base; /* first: the interface */
    const char *tidefs_bin;
    char log_dir[4096];
};

/* ---- /proc/self/mountinfo ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
    char *w = s;

    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
            r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

struct mount_entry {
    unsigned minor; /* of the device: the FUSE connection number */
    char fstype[64];
};

/* Finds path in mountinfo: 1 and *e filled, 0 when not a mount point. */
static int find_mount(const char *path, struct mount_entry *e)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    int found = 0;

    if (!f)
        return -errno;
    while (!found && getline(&line, &cap, f) > 0) {
        char *save = NULL, *fields[5], *sep = strstr(line, " - ");
        unsigned major = 0;

        fields[0] = strtok_r(line, " ", &save);
        /* id parent major:minor root mount-point ... " - " fstype ... */
        for (int i = 1; i < 5 && fields[i - 1]; i++)
            fields[i] = strtok_r(NULL, " ", &save);
        if (!fields[0] || !fields[4] || !sep)
            continue;
        unescape_octal(fields[4]);
        if (strcmp(fields[4], path) != 0)
            continue;
        found = 1;
        if (e) {
            memset(e, 0, sizeof(*e));
            sscanf(fields[2], "%u:%u", &major, &e->minor);
            sscanf(sep + 3, "%63s", e->fstype);
        }
    }
    free(line);
    fclose(f);
    return found;
}

int csi_is_mount_point(const char *path)
{
    return find_mount(path, NULL);
}

/* ---- running a child ---- */

struct child_out {
    int status; /* wait status, valid when rc == 0 */
    char tail[ERR_TAIL]; /* last stderr bytes, NUL-terminated */
};

static void keep_tail(struct child_out *o, const char *buf, size_t n)
{
    size_t have = strlen(o->tail);

    if (n >= sizeof(o->tail) - 1) {
        buf += n - (sizeof(o->tail) - 1);
        n = sizeof(o->tail) - 1;
        have = 0;
    } else if (have + n >= sizeof(o->tail)) {
        size_t drop = have + n - (sizeof(o->tail) - 1);

        memmove(o->tail, o->tail + drop, have - drop);
        have -= drop;
    }
    memcpy(o->tail + have, buf, n);
    o->tail[have + n] = '\0';
}

static void drain(int fd, struct child_out *o)
{
    char buf[1024];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        keep_tail(o, buf, (size_t)n);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Waits for pid while collecting its stderr. The daemonized grandchild of
 * `mount -d` may keep the pipe open, so the child's exit, not EOF, ends
 * the wait. */
static int wait_child(pid_t pid, int fd, struct child_out *o)
{
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        pid_t w = waitpid(pid, &o->status, WNOHANG);

        if (w == pid) {
            drain(fd, o);
            return 0;
        }
        if (w < 0 && errno != EINTR)
            return -errno;
        if (elapsed_ms(&t0) > CHILD_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &o->status, 0);
            return -ETIMEDOUT;
        }
        if (poll(&p, 1, 50) > 0) {
            if (p.revents & POLLIN)
                drain(fd, o);
            else /* EOF or error: stop polling, keep waiting */
                usleep(20000);
        }
    }
}

static int run_child(char *const argv[], char *const envp[], struct child_out *o)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    int fds[2], rc;
    pid_t pid;

    memset(o, 0, sizeof(*o));
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawnattr_init(&attr);
    /* the plugin blocks SIGTERM/SIGINT for sigwait: the child must not
     * inherit that, nor our session (a signal to us is not one to it) */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return -rc;
    }
    rc = wait_child(pid, fds[0], o);
    close(fds[0]);
    return rc;
}

/* "tidefs mount failed (exit 1): <last line of its stderr>" */
static void child_error(const char *what, int rc, struct child_out *o, const char *const *secrets, size_t ns,
                        char *err, size_t errlen)
{
    char *nl;

    while ((nl = strrchr(o->tail, '\n')) && nl[1] == '\0')
        *nl = '\0';
    nl = strrchr(o->tail, '\n');
    csi_scrub(o->tail, secrets, ns);
    if (rc)
        snprintf(err, errlen, "%s failed: %s", what, strerror(-rc));
    else if (WIFEXITED(o->status))
        snprintf(err, errlen, "%s failed (exit %d): %s", what, WEXITSTATUS(o->status), nl ? nl + 1 : o->tail);
    else
        snprintf(err, errlen, "%s killed by signal %d", what, WTERMSIG(o->status));
}

/* ---- META-URL password ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Splits "scheme://user:pass@host/..." into url "scheme://user@host/..."
 * and the percent-decoded password; URLs without one are copied as is. */
static int split_password(const char *metaurl, char **url, char **password)
{
    const char *auth = strstr(metaurl, "://");
    const char *end, *at, *colon;

    *password = NULL;
    *url = strdup(metaurl);
    if (!*url)
        return -ENOMEM;
    if (!auth)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    at = memrchr(auth, '@', (size_t)(end - auth));
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return 0;
    *password = calloc(1, (size_t)(at - colon));
    if (!*password)
        return -ENOMEM;
    size_t w = 0;

    for (const char *p = colon + 1; p < at; p++) {
        if (*p == '%' && at - p > 2 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            (*password)[w++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            (*password)[w++] = *p;
        }
    }
    memmove(*url + (colon - metaurl), *url + (at - metaurl), strlen(at) + 1);
    return 0;
}

static unsigned long long fnv1a(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- probing a FUSE mount without hanging ---- */

#define PROBE_TIMEOUT_MS 5000

struct probe_result {
    int err;
    struct statvfs sv;
};

/* statvfs in a child process: a hung daemon blocks the caller of any
 * syscall on its mount, and only a child can be killed out of that wait
 * (FUSE request waits are killable). -ETIMEDOUT when no answer came. */
static int probe_statvfs(const char *path, struct statvfs *out)
{
    struct probe_result r = {0};
    struct pollfd p;
    int fds[2], rc;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (pid == 0) {
        if (statvfs(path, &r.sv) != 0)
            r.err = errno;
        _exit(write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    p = (struct pollfd){.fd = fds[0], .events = POLLIN};
    rc = poll(&p, 1, PROBE_TIMEOUT_MS);
    if (rc <= 0) {
        kill(pid, SIGKILL);
        rc = -ETIMEDOUT;
    } else {
        rc = read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r) ? -r.err : -EIO;
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (rc == 0)
        *out = r.sv;
    return rc;
}

/* Tears down a FUSE mount whose daemon is dead or hung: abort the kernel
 * connection (its waiters fail, the daemon exits) and detach the mount. */
static int force_unmount(const char *target, const struct mount_entry *me)
{
    char path[96];
    int fd;

    snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", me->minor);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "1", 1) != 1)
            csi_log(CSI_LOG_WARN, "cannot abort FUSE connection %u: %s", me->minor, strerror(errno));
        close(fd);
    }
    if (umount2(target, MNT_DETACH) != 0)
        return -errno;
    csi_log(CSI_LOG_WARN, "detached the dead or hung mount at %s", target);
    return 0;
}

/* ---- the interface ---- */

static int wait_mounted(const char *target)
{
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (csi_is_mount_point(target) != 1) {
        if (elapsed_ms(&t0) > MOUNT_WAIT_MS)
            return -ETIMEDOUT;
        usleep(50000);
    }
    return 0;
}

/* env[] gets at most 4 malloc'ed "K=V" strings and a NULL */
static int build_env(char **env, const char *password, const struct csi_mount_req *req)
{
    /* the names the daemon's S3 store reads (docs/s3.md) */
    const char *keys[] = {"META_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"};
    const char *vals[] = {password, req->access_key, req->secret_key};
    size_t n = 0;

    env[n] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (!env[n++])
        return -ENOMEM;
    for (size_t i = 0; i < 3; i++) {
        if (!vals[i] || !*vals[i])
            continue;
        if (asprintf(&env[n], "%s=%s", keys[i], vals[i]) < 0) {
            env[n] = NULL;
            return -ENOMEM;
        }
        n++;
    }
    return 0;
}

static int local_unpublish(struct csi_mounter *base, const char *target, char *err, size_t errlen);

static int local_publish(struct csi_mounter *base, const struct csi_mount_req *req, char *err, size_t errlen)
{
    struct mounter_local *mt = (struct mounter_local *)base;
    char *url = NULL, *password = NULL, *env[5] = {0}, logpath[4200];
    const char *secrets[4];
    struct child_out out;
    int rc, argc = 0;
    const char *argv[16];

    rc = split_password(req->metaurl, &url, &password);
    if (rc == 0)
        rc = build_env(env, password, req);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(logpath, sizeof(logpath), "%s/%016llx.log", mt->log_dir, fnv1a(req->target));
    argv[argc++] = mt->tidefs_bin;
    argv[argc++] = "mount";
    argv[argc++] = "-d";
    argv[argc++] = "--log";
    argv[argc++] = logpath;
    argv[argc++] = "--subdir";
    argv[argc++] = req->subdir;
    if (req->readonly)
        argv[argc++] = "--read-only";
    argv[argc++] = url;
    argv[argc++] = req->target;
    argv[argc] = NULL;
    csi_log(CSI_LOG_INFO, "mounting volume %s subdir %s on %s%s (daemon log %s)", req->volume_id, req->subdir,
            req->target, req->readonly ? " read-only" : "", logpath);
    rc = run_child((char *const *)argv, env, &out);
    secrets[0] = password;
    secrets[1] = req->access_key;
    secrets[2] = req->secret_key;
    secrets[3] = req->metaurl;
    if (rc || !WIFEXITED(out.status) || WEXITSTATUS(out.status) != 0) {
        child_error("tidefs mount", rc, &out, secrets, 4, err, errlen);
        rc = rc ? rc : -EIO;
        goto out;
    }
    rc = wait_mounted(req->target);
    if (rc)
        snprintf(err, errlen, "tidefs mount exited but %s is not a mount point", req->target);
out:
    if (rc && csi_is_mount_point(req->target) == 1) { /* e.g. the daemon hung after mounting */
        char why[256];

        if (local_unpublish(base, req->target, why, sizeof(why)) != 0)
            csi_log(CSI_LOG_ERROR, "cannot undo the failed mount on %s: %s", req->target, why);
    }
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(url);
    free(password);
    return rc;
}

static int local_unpublish(struct csi_mounter *base, const char *target, char *err, size_t errlen)
{
    struct mounter_local *mt = (struct mounter_local *)base;
    char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char *env[] = {path_env, NULL};
    const char *argv[] = {mt->tidefs_bin, "umount", target, NULL};
    struct mount_entry me;
    struct child_out out;
    struct statvfs sv;
    int rc = find_mount(target, &me);

    if (rc <= 0)
        return rc;
    rc = run_child((char *const *)argv, env, &out);
    if (csi_is_mount_point(target) == 0)
        return 0;
    if (strncmp(me.fstype, "fuse", 4) == 0) {
        int probe = probe_statvfs(target, &sv);

        if ((probe == -ENOTCONN || probe == -ETIMEDOUT) && force_unmount(target, &me) == 0)
            return 0;
    }
    child_error("tidefs umount", rc, &out, NULL, 0, err, errlen);
    return -EBUSY;
}

static int local_stat(struct csi_mounter *base, const char *target, struct csi_mount_stat *out)
{
    struct statvfs sv;
    int rc = csi_is_mount_point(target);

    (void)base;
    if (rc <= 0)
        return rc == 0 ? -ENOENT : rc;
    rc = probe_statvfs(target, &sv);
    if (rc)
        return rc;
    out->bytes_total = (uint64_t)sv.f_blocks * sv.f_frsize;
    out->bytes_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    out->bytes_used = out->bytes_total - (uint64_t)sv.f_bfree * sv.f_frsize;
    out->inodes_total = sv.f_files;
    out->inodes_avail = sv.f_favail;
    out->inodes_used = sv.f_files - sv.f_ffree;
    return 0;
}

static void local_destroy(struct csi_mounter *base)
{
    free(base);
}

static const struct csi_mounter_ops local_ops = {
    .publish = local_publish,
    .unpublish = local_unpublish,
    .stat = local_stat,
    .destroy = local_destroy,
};

int csi_mounter_local_new(const char *tidefs_bin, const char *log_dir, struct csi_mounter **out)
{
    struct mounter_local *mt = calloc(1, sizeof(*mt));

    if (!mt)
        return -ENOMEM;
    mt->base.ops = &local_ops;
    mt->tidefs_bin = tidefs_bin;
    snprintf(mt->log_dir, sizeof(mt->log_dir), "%s", log_dir);
    *out = &mt->base;
    return 0;
}
