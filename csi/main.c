/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs-csi: the CSI plugin of tidefs (driver csi.tidefs.io). Parses the
 * command line, takes the socket's lock file, serves Identity plus the
 * Controller and/or Node services until SIGTERM/SIGINT, then drains.
 */
#include "csi_log.h"
#include "csi_plugin.h"
#include "csi_server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <libgen.h>
#include <limits.h>
#include <protobuf-c/protobuf-c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TIDEFS_VERSION
#define TIDEFS_VERSION "0.0.0"
#endif
#ifndef TIDEFS_GITREV
#define TIDEFS_GITREV "unknown"
#endif

#define WORKERS 8 /* a slow mount holds one; Probe and stats must still get through */
#define DRAIN_MS 20000
#define MAX_METHODS 32

struct options {
    const char *endpoint;
    const char *node_id;
    const char *kubelet_dir;
    const char *tidefs_bin;
    const char *mounter; /* "local" or "pod" */
    struct csi_mounter_pod_config pod;
    int mode;
    int log_level;
    char socket_path[PATH_MAX];
    char kubelet_buf[PATH_MAX];
    char tidefs_buf[PATH_MAX];
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tidefs-csi --endpoint unix:///PATH --nodeid NAME [--mode controller|node|all]\n"
            "                  [--log-level N] [--kubelet-dir DIR] [--tidefs PATH] [--version] [--help]\n"
            "                  [--mounter local|pod] [--mount-pod-image IMAGE] [--mount-pod-namespace NS]\n"
            "                  [--mount-pod-priority-class NAME] [--mount-pod-uid UID]\n"
            "\n"
            "The CSI plugin of tidefs (driver " CSI_DRIVER_NAME ").\n"
            "  --endpoint URL     unix socket to serve, e.g. unix:///csi/csi.sock\n"
            "  --nodeid NAME      this node's name (required for the node service)\n"
            "  --mode MODE        controller, node or all (default all)\n"
            "  --log-level N      0 errors .. 5 everything (default 2); secrets are never logged\n"
            "  --kubelet-dir DIR  target paths must lie below it (default /var/lib/kubelet)\n"
            "  --tidefs PATH      the tidefs daemon (default: tidefs beside this program)\n"
            "  --mounter KIND     local: the daemon runs in this container (default); pod: in an\n"
            "                     unprivileged mount pod per volume (docs/mount-pod.md)\n"
            "  --mount-pod-image IMAGE           default: this plugin's own image\n"
            "  --mount-pod-namespace NS          default: this plugin's namespace\n"
            "  --mount-pod-priority-class NAME   default: none\n"
            "  --mount-pod-uid UID               the daemon's uid (default 65532)\n"
            "\n"
            "examples:\n"
            "  tidefs-csi --endpoint unix:///csi/csi.sock --nodeid $NODE_NAME --mode node\n"
            "  tidefs-csi --endpoint unix:///csi/csi.sock --nodeid ctl --mode controller --log-level 4\n");
}

static int fail_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "tidefs-csi: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int parse_mode(const char *s)
{
    return strcmp(s, "controller") == 0 ? CSI_MODE_CONTROLLER
           : strcmp(s, "node") == 0     ? CSI_MODE_NODE
           : strcmp(s, "all") == 0      ? CSI_MODE_ALL
                                        : 0;
}

/* "unix:///abs" or "unix:/abs" -> "/abs" */
static int parse_endpoint(const char *ep, char *out, size_t len)
{
    const char *path = strncmp(ep, "unix://", 7) == 0 ? ep + 7 : strncmp(ep, "unix:", 5) == 0 ? ep + 5 : NULL;

    if (!path || path[0] != '/' || strlen(path) >= len || strlen(path) > 100)
        return -EINVAL;
    snprintf(out, len, "%s", path);
    return 0;
}

/* the tidefs program installed beside us */
static void default_tidefs(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0) {
        snprintf(out, len, "/usr/local/bin/tidefs");
        return;
    }
    self[n] = '\0';
    snprintf(out, len, "%s/tidefs", dirname(self));
}

/* returns -1 to go on, else the exit code */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"nodeid", required_argument, NULL, 'n'},
        {"mode", required_argument, NULL, 'm'},     {"log-level", required_argument, NULL, 'l'},
        {"kubelet-dir", required_argument, NULL, 'k'}, {"tidefs", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},        {"help", no_argument, NULL, 'h'},
        {"mounter", required_argument, NULL, 'M'},  {"mount-pod-image", required_argument, NULL, 'I'},
        {"mount-pod-namespace", required_argument, NULL, 'N'},
        {"mount-pod-priority-class", required_argument, NULL, 'P'},
        {"mount-pod-uid", required_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;

    o->mode = CSI_MODE_ALL;
    o->log_level = CSI_LOG_INFO;
    o->kubelet_dir = "/var/lib/kubelet";
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            o->endpoint = optarg;
            break;
        case 'n':
            o->node_id = optarg;
            break;
        case 'm':
            if (!(o->mode = parse_mode(optarg)))
                return fail_usage("--mode must be controller, node or all, not", optarg);
            break;
        case 'l':
            o->log_level = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || o->log_level < 0 || o->log_level > CSI_LOG_MAX)
                return fail_usage("--log-level must be a number from 0 to 5, not", optarg);
            break;
        case 'k':
            o->kubelet_dir = optarg;
            break;
        case 't':
            o->tidefs_bin = optarg;
            break;
        case 'M':
            if (strcmp(optarg, "local") != 0 && strcmp(optarg, "pod") != 0)
                return fail_usage("--mounter must be local or pod, not", optarg);
            o->mounter = optarg;
            break;
        case 'I':
            o->pod.image = optarg;
            break;
        case 'N':
            o->pod.ns = optarg;
            break;
        case 'P':
            o->pod.priority_class = optarg;
            break;
        case 'U':
            o->pod.uid = (unsigned)strtoul(optarg, &end, 10);
            if (*end || end == optarg || o->pod.uid == 0 || optarg[0] == '-')
                return fail_usage("--mount-pod-uid must be a non-zero uid, not", optarg);
            break;
        case 'V':
            printf("tidefs-csi %s (git %s, gRPC core %s, protobuf-c %s)\n", TIDEFS_VERSION, TIDEFS_GITREV,
                   grpc_version_string(), protobuf_c_version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fail_usage("unknown option", NULL);
        }
    }
    if (optind < argc)
        return fail_usage("unexpected argument", argv[optind]);
    if (!o->endpoint)
        return fail_usage("--endpoint is required", NULL);
    if (parse_endpoint(o->endpoint, o->socket_path, sizeof(o->socket_path)))
        return fail_usage("--endpoint must be unix:///ABSOLUTE/PATH (at most 100 bytes), not", o->endpoint);
    if ((o->mode & CSI_MODE_NODE) && (!o->node_id || !*o->node_id))
        return fail_usage("--nodeid is required for the node service", NULL);
    if (o->kubelet_dir[0] != '/' || strlen(o->kubelet_dir) >= sizeof(o->kubelet_buf))
        return fail_usage("--kubelet-dir must be an absolute path, not", o->kubelet_dir);
    snprintf(o->kubelet_buf, sizeof(o->kubelet_buf), "%s", o->kubelet_dir);
    for (size_t n = strlen(o->kubelet_buf); n > 1 && o->kubelet_buf[n - 1] == '/'; n--)
        o->kubelet_buf[n - 1] = '\0';
    o->kubelet_dir = o->kubelet_buf;
    if (!o->tidefs_bin) {
        default_tidefs(o->tidefs_buf, sizeof(o->tidefs_buf));
        o->tidefs_bin = o->tidefs_buf;
    }
    return -1;
}

/* mkdir -p with mode for the missing parts */
static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* A second plugin on the same socket would silently steal it (gRPC
 * unlinks and rebinds): hold an exclusive lock beside it for our life. */
static int take_socket_lock(const char *socket_path)
{
    char dir[PATH_MAX], lock[PATH_MAX + 8];
    int fd, rc;

    snprintf(dir, sizeof(dir), "%s", socket_path);
    rc = mkdir_p(dirname(dir), 0750);
    if (rc) {
        fprintf(stderr, "tidefs-csi: cannot create the directory of %s: %s\n", socket_path, strerror(-rc));
        return -1;
    }
    snprintf(lock, sizeof(lock), "%s.lock", socket_path);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "tidefs-csi: cannot open lock file %s: %s\n", lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "tidefs-csi: another tidefs-csi is already serving %s (lock %s is held)\n", socket_path,
                lock);
        close(fd);
        return -1;
    }
    return fd;
}

static int setup_node(struct csi_plugin *p, const struct options *o)
{
    int rc;

    snprintf(p->state_dir, sizeof(p->state_dir), "%s/plugins/" CSI_DRIVER_NAME "/mounts", p->kubelet_dir);
    rc = mkdir_p(p->state_dir, 0700);
    if (rc) {
        fprintf(stderr, "tidefs-csi: cannot create state directory %s: %s\n", p->state_dir, strerror(-rc));
        return rc;
    }
    if (o->mounter && strcmp(o->mounter, "pod") == 0) {
        struct csi_mounter_pod_config pc = o->pod;
        char err[600] = "";

        pc.node_id = p->node_id;
        pc.kubelet_dir = p->kubelet_dir;
        pc.state_dir = p->state_dir;
        rc = csi_mounter_pod_new(&pc, &p->mounter, err, sizeof(err));
        if (rc)
            fprintf(stderr, "tidefs-csi: cannot set up the mount-pod mounter: %s\n", err);
        return rc;
    }
    rc = csi_mounter_local_new(p->tidefs_bin, p->state_dir, &p->mounter);
    if (rc)
        fprintf(stderr, "tidefs-csi: cannot set up the mounter: %s\n", strerror(-rc));
    return rc;
}

static const char *mode_name(int mode)
{
    return mode == CSI_MODE_ALL ? "all" : mode == CSI_MODE_NODE ? "node" : "controller";
}

static int serve(struct csi_plugin *p, const struct options *o, const sigset_t *sigs)
{
    struct csi_method methods[MAX_METHODS];
    struct csi_server_config cfg = {
        .socket_path = o->socket_path,
        .methods = methods,
        .n_methods = csi_plugin_methods(p->mode, methods, MAX_METHODS),
        .arg = p,
        .workers = WORKERS,
        .drain_ms = DRAIN_MS,
    };
    struct csi_server *srv;
    char err[512];
    int sig, rc;

    rc = csi_server_start(&cfg, &srv, err, sizeof(err));
    if (rc) {
        csi_log(CSI_LOG_ERROR, "%s", err);
        return 1;
    }
    csi_log(CSI_LOG_INFO, "serving %s %s (mode %s, node %s) on %s", CSI_DRIVER_NAME, TIDEFS_VERSION, mode_name(p->mode),
            p->node_id ? p->node_id : "-", o->socket_path);
    sigwait(sigs, &sig);
    csi_log(CSI_LOG_INFO, "%s: draining in-flight calls", strsignal(sig));
    csi_server_stop(srv);
    csi_log(CSI_LOG_INFO, "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct csi_plugin p = {0};
    sigset_t sigs;
    int rc = parse_args(argc, argv, &o), lockfd;

    if (rc >= 0)
        return rc;
    /* before grpc_init: gRPC's threads must inherit the blocked mask, or
     * SIGTERM lands on one of them instead of our sigwait (pitfall 4) */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    lockfd = take_socket_lock(o.socket_path);
    if (lockfd < 0)
        return 1;
    p.mode = o.mode;
    p.node_id = o.node_id;
    p.kubelet_dir = o.kubelet_dir;
    p.tidefs_bin = o.tidefs_bin;
    csi_inflight_init(&p.inflight);
    if ((p.mode & CSI_MODE_NODE) && setup_node(&p, &o) != 0) {
        csi_inflight_destroy(&p.inflight);
        close(lockfd);
        return 1;
    }
    grpc_init();
    csi_log_init(o.log_level);
    rc = serve(&p, &o, &sigs);
    grpc_shutdown();
    if (p.mounter)
        p.mounter->ops->destroy(p.mounter);
    csi_inflight_destroy(&p.inflight);
    close(lockfd);
    return rc;
}
