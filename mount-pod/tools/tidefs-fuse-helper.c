/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs-fuse-helper: the privileged half of an fd hand-off, for tests and
 * for running a tidefs daemon without privileges outside Kubernetes. It
 * mounts a tidefs FUSE filesystem on a /dev/fuse fd it opened itself, then
 * keeps that fd and hands it (with the connection's INIT state once a daemon
 * reported it) to every daemon that connects to its socket. A daemon may be
 * killed and replaced at any time; the mount stays. SIGTERM/SIGINT detach
 * the mount and exit; the helper also exits when the mount goes away.
 *
 *   tidefs-fuse-helper --mountpoint DIR --socket PATH [--volume NAME]
 *       [--daemon-uid UID] [--daemon-gid GID] [--max-read BYTES]
 *       [--read-ahead-kb N] [--settings FILE.json] [--state-file FILE.json]
 *       [--read-only]
 *
 * --state-file receives the connection's INIT state (JSON, written
 * atomically) when the first daemon reports it.
 * Prints "ready" on stdout once the socket listens; one line per event on
 * stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_keeper.h"
#include "handoff/handoff_mount.h"

struct helper_cfg {
    const char *mountpoint;
    const char *socket;
    const char *volume;
    const char *settings_file;
    const char *state_file;
    uid_t daemon_uid;
    gid_t daemon_gid;
    struct handoff_mount_opts mount;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tidefs-fuse-helper --mountpoint DIR --socket PATH [--volume NAME] [--daemon-uid UID]\n"
               "           [--daemon-gid GID] [--max-read BYTES] [--read-ahead-kb N] [--settings FILE.json]\n"
               "           [--state-file FILE.json] [--read-only]\n");
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-') {
        fprintf(stderr, "tidefs-fuse-helper: %s needs an unsigned integer, got \"%s\"\n", opt, s);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_opt(struct helper_cfg *c, int opt, const char *arg)
{
    uint32_t v = 0;
    switch (opt) {
    case 'm': c->mountpoint = arg; return 0;
    case 's': c->socket = arg; return 0;
    case 'v': c->volume = arg; return 0;
    case 'S': c->settings_file = arg; return 0;
    case 'T': c->state_file = arg; return 0;
    case 'r': c->mount.read_only = true; return 0;
    case 'u': return parse_u32("--daemon-uid", arg, &v) ? -EINVAL : (c->daemon_uid = v, 0);
    case 'g': return parse_u32("--daemon-gid", arg, &v) ? -EINVAL : (c->daemon_gid = v, 0);
    case 'M': return parse_u32("--max-read", arg, &c->mount.max_read);
    case 'R': return parse_u32("--read-ahead-kb", arg, &c->mount.read_ahead_kb);
    default: usage(stderr); return -EINVAL;
    }
}

static int parse_args(int argc, char **argv, struct helper_cfg *c)
{
    static const struct option opts[] = {
        {"mountpoint", required_argument, NULL, 'm'}, {"socket", required_argument, NULL, 's'},
        {"volume", required_argument, NULL, 'v'},     {"daemon-uid", required_argument, NULL, 'u'},
        {"daemon-gid", required_argument, NULL, 'g'}, {"max-read", required_argument, NULL, 'M'},
        {"read-ahead-kb", required_argument, NULL, 'R'}, {"settings", required_argument, NULL, 'S'},
        {"state-file", required_argument, NULL, 'T'}, {"read-only", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    *c = (struct helper_cfg){.volume = "tidefs", .mount = {.read_ahead_kb = 1024}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (parse_opt(c, opt, optarg) != 0)
            return -EINVAL;
    if (optind != argc || !c->mountpoint || !c->socket) {
        fprintf(stderr, "tidefs-fuse-helper: --mountpoint and --socket are required, and nothing else\n");
        usage(stderr);
        return -EINVAL;
    }
    return 0;
}

static json_t *load_settings(const char *path)
{
    json_error_t jerr;
    json_t *s = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!s || !json_is_object(s)) {
        fprintf(stderr, "tidefs-fuse-helper: --settings %s: %s\n", path, s ? "not a JSON object" : jerr.text);
        json_decref(s);
        return NULL;
    }
    return s;
}

static void log_event(const struct handoff_keeper *k, int rc, const struct handoff_keeper_event *ev,
                      const char *why)
{
    struct handoff_init init;
    if (rc != 0) {
        fprintf(stderr, "tidefs-fuse-helper: hand-off refused or failed: %s\n", why);
        return;
    }
    handoff_keeper_init_state(k, &init);
    fprintf(stderr,
            "tidefs-fuse-helper: hand-off #%u to pid %d: serving%s (protocol %u.%u, flags 0x%x/0x%x, "
            "max_write %u)\n",
            ev->generation, (int)ev->pid, ev->learned_init ? ", INIT state learned" : "", init.out.major,
            init.out.minor, init.out.flags, init.out.flags2, init.out.max_write);
}

/* Writes the INIT state to path atomically (a temporary file renamed). */
static void save_state(const struct handoff_keeper *k, const char *path)
{
    struct handoff_init init;
    char tmp[PATH_MAX];
    if (!path || !handoff_keeper_init_state(k, &init))
        return;
    json_t *j = handoff_init_to_json(&init);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!j || json_dump_file(j, tmp, JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "tidefs-fuse-helper: cannot write the INIT state to %s\n", path);
    json_decref(j);
}

/* Serves daemons until a signal or the end of the mount. */
static int serve(struct handoff_keeper *k, int lfd, int sfd, const char *state_file)
{
    for (;;) {
        struct pollfd p[3] = {{.fd = lfd, .events = POLLIN}, {.fd = handoff_keeper_fd(k)}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (p[2].revents) {
            fprintf(stderr, "tidefs-fuse-helper: signal: detaching the mount and exiting\n");
            return 1;
        }
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "tidefs-fuse-helper: the FUSE connection ended (unmounted or aborted)\n");
            return 0;
        }
        if (p[0].revents) {
            struct handoff_keeper_event ev;
            struct handoff_err err = {""};
            int rc = handoff_keeper_serve_one(k, lfd, 0, &ev, &err);
            if (rc != -ETIMEDOUT && rc != -EAGAIN)
                log_event(k, rc, &ev, err.text);
            if (rc == 0 && ev.learned_init)
                save_state(k, state_file);
        }
    }
}

static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static int run(const struct helper_cfg *c, json_t *settings)
{
    struct handoff_err err = {""};
    int fuse_fd, lfd, sfd = signal_fd();
    struct handoff_keeper *k = NULL;
    if (sfd < 0 || handoff_fuse_mount(c->mountpoint, &c->mount, &fuse_fd, &err) != 0) {
        fprintf(stderr, "tidefs-fuse-helper: %s\n", sfd < 0 ? strerror(errno) : err.text);
        return 1;
    }
    struct handoff_keeper_config kc = {.volume = c->volume, .mountpoint = c->mountpoint,
                                       .max_read = c->mount.max_read, .settings = settings,
                                       .daemon_uid = c->daemon_uid};
    int rc = handoff_keeper_new(fuse_fd, &kc, &k, &err);
    if (rc == 0)
        rc = handoff_listen(c->socket, c->daemon_uid, c->daemon_gid, &lfd, &err);
    if (rc != 0) {
        fprintf(stderr, "tidefs-fuse-helper: %s\n", err.text);
        handoff_fuse_unmount(c->mountpoint, NULL);
        handoff_keeper_free(k);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    rc = serve(k, lfd, sfd, c->state_file);
    if (rc == 1 && handoff_fuse_unmount(c->mountpoint, &err) != 0)
        fprintf(stderr, "tidefs-fuse-helper: %s\n", err.text);
    unlink(c->socket);
    close(lfd);
    close(sfd);
    handoff_keeper_free(k);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct helper_cfg c;
    if (parse_args(argc, argv, &c) != 0)
        return 2;
    json_t *settings = NULL;
    if (c.settings_file && !(settings = load_settings(c.settings_file)))
        return 2;
    int rc = run(&c, settings);
    json_decref(settings);
    return rc;
}
