/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs mount: checks everything it can before mounting (volume formatted,
 * mount point present, empty and not mounted, flag values), then serves
 * the volume in the foreground or, with -d, in a background process that
 * reports back through a pipe once the mount is live, so the command's
 * exit status says whether the mount really came up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fuse/metrics.h"
#include "fuse/mount.h"
#include "fuse/supervisor.h"

#define MAX_WORKER_OPTS 64

static const char mount_help[] =
    "Usage: tidefs mount [OPTIONS] META-URL MOUNTPOINT\n\n"
    "Mount the volume at META-URL on MOUNTPOINT (an empty directory).\n\n"
    "Options:\n"
    "  -d, --background     run in the background once the mount is ready\n"
    "  --log FILE           log file in the background (default /var/log/tidefs.log as root)\n"
    "  --cache-dir DIR[:DIR...]  local disk cache for blocks, spread over the dirs (default: none)\n"
    "  --cache-size SIZE    disk cache limit per dir (bare number = MiB; default 100G)\n"
    "  --free-space-ratio R keep this share of each cache disk free (default 0.1)\n"
    "  --writeback          stage written blocks in the cache dir and upload them in the\n"
    "                       background (a restart uploads what is left; see umount --flush)\n"
    "  --max-readahead SIZE readahead per open file (bare number = MiB; default 16 blocks)\n"
    "  --buffer-size SIZE   memory for read and write buffers (bare number = MiB; default 300)\n"
    "  --attr-cache SEC     kernel attribute cache timeout (default 1)\n"
    "  --entry-cache SEC    kernel entry cache timeout (default 1)\n"
    "  --read-only          mount read-only\n"
    "  --subdir PATH        mount only this directory of the volume\n"
    "  --max-uploads N      parallel block uploads (default 20)\n"
    "  --max-downloads N    parallel block downloads (default 200)\n"
    "  --put-timeout SEC    timeout of one object upload attempt (default 60)\n"
    "  --get-timeout SEC    timeout of one object download attempt (default 60)\n"
    "  --io-retries N       attempts after the first for a failed object request (default 10)\n"
    "  --metrics ADDR       serve Prometheus metrics on HOST:PORT (a bare PORT listens on 127.0.0.1)\n"
    "  --journal-dir DIR    journal acknowledged writes under DIR so that a daemon taking over\n"
    "                       after a crash commits them first (set by the supervisor)\n"
    "  --fuse-fd N          serve an already mounted /dev/fuse fd inherited as N (MOUNTPOINT optional)\n"
    "  --fuse-fd-socket P   get the /dev/fuse fd (and its INIT state) from the keeper listening on\n"
    "                       unix socket P; needs no privilege (MOUNTPOINT optional)\n"
    "  --no-supervisor      with -d: run the daemon itself in the background, without the\n"
    "                       supervisor that replaces a crashed daemon on the same mount\n"
    "  -o OPTS              extra FUSE mount options (comma separated; 'nonempty' allows a non-empty\n"
    "                       mount point)\n"
    "  -h, --help           show this help\n\n"
    "Examples:\n"
    "  tidefs mount -d sqlite3:///var/lib/tidefs/vol.db /mnt/vol\n"
    "  tidefs mount --subdir /projects/a --read-only sqlite3:///srv/meta.db /mnt/a\n";

enum {
    OPT_LOG = 256, OPT_CACHE_DIR, OPT_CACHE_SIZE, OPT_BUFFER, OPT_ATTR, OPT_ENTRY, OPT_RO, OPT_SUBDIR,
    OPT_UPLOADS, OPT_DOWNLOADS, OPT_FUSE_FD, OPT_FD_SOCKET, OPT_NO_RESEND, OPT_NO_SUPERVISOR,
    OPT_FREE_RATIO, OPT_WRITEBACK, OPT_READAHEAD,
    OPT_PUT_TIMEOUT, OPT_GET_TIMEOUT, OPT_IO_RETRIES, OPT_JOURNAL_DIR, OPT_METRICS,
};

static const struct option mount_options[] = {
    {"background", no_argument, NULL, 'd'},         {"log", required_argument, NULL, OPT_LOG},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR}, {"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
    {"buffer-size", required_argument, NULL, OPT_BUFFER},  {"attr-cache", required_argument, NULL, OPT_ATTR},
    {"entry-cache", required_argument, NULL, OPT_ENTRY},   {"read-only", no_argument, NULL, OPT_RO},
    {"subdir", required_argument, NULL, OPT_SUBDIR},       {"max-uploads", required_argument, NULL, OPT_UPLOADS},
    {"max-downloads", required_argument, NULL, OPT_DOWNLOADS}, {"help", no_argument, NULL, 'h'},
    {"fuse-fd", required_argument, NULL, OPT_FUSE_FD},     {"fuse-fd-socket", required_argument, NULL, OPT_FD_SOCKET},
    {"no-resend", no_argument, NULL, OPT_NO_RESEND},       {"no-supervisor", no_argument, NULL, OPT_NO_SUPERVISOR},
    {"put-timeout", required_argument, NULL, OPT_PUT_TIMEOUT}, {"get-timeout", required_argument, NULL, OPT_GET_TIMEOUT},
    {"io-retries", required_argument, NULL, OPT_IO_RETRIES},
    {"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
    {"free-space-ratio", required_argument, NULL, OPT_FREE_RATIO}, {"writeback", no_argument, NULL, OPT_WRITEBACK},
    {"max-readahead", required_argument, NULL, OPT_READAHEAD},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {NULL, 0, NULL, 0},
};

struct mount_args {
    struct mount_config cfg;
    bool background;
    const char *log;
    char *fuse_opts; /* owned */
    char *url;       /* owned: META-URL without its password */
    bool nonempty;
    bool no_supervisor;
    char *worker_opts[MAX_WORKER_OPTS]; /* borrowed from argv: the options a worker repeats */
    int nworker_opts;
    char fsname[96];
    char mountpoint[PATH_MAX];
};

/* Appends -o options for libfuse; "nonempty" is ours (libfuse 3 refuses
 * it) and only relaxes the empty-mount-point check. */
static int add_fuse_opts(struct mount_args *a, const char *opts)
{
    char *copy = strdup(opts), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    for (char *o = strtok_r(copy, ",", &save); o && rc == 0; o = strtok_r(NULL, ",", &save)) {
        if (strcmp(o, "nonempty") == 0) {
            a->nonempty = true;
            continue;
        }
        char *joined = NULL;
        if (asprintf(&joined, "%s%s%s", a->fuse_opts ? a->fuse_opts : "", a->fuse_opts ? "," : "", o) < 0)
            rc = -ENOMEM;
        free(a->fuse_opts);
        a->fuse_opts = joined;
    }
    free(copy);
    return rc;
}

/* A share in [0, 1); 0 turns the free-space check off (stored as -1). */
static int parse_ratio(const char *val, double *out)
{
    char *end;
    errno = 0;
    double r = strtod(val, &end);
    if (errno || end == val || *end || !(r >= 0 && r < 1))
        return -EINVAL;
    *out = r > 0 ? r : -1;
    return 0;
}

static int apply_option(struct mount_args *a, int opt, const char *val)
{
    struct mount_config *c = &a->cfg;
    uint64_t n;
    int rc = 0;
    switch (opt) {
    case 'd': a->background = true; break;
    case 'o': rc = add_fuse_opts(a, val); break;
    case OPT_LOG: a->log = val; break;
    case OPT_CACHE_DIR: c->cache_dir = val; break;
    case OPT_CACHE_SIZE: rc = cli_parse_size(val, 1ULL << 20, &c->cache_size); break;
    case OPT_BUFFER:
        rc = cli_parse_size(val, 1ULL << 20, &c->buffer_size);
        if (rc == 0 && c->buffer_size < (32ULL << 20))
            rc = -EINVAL;
        break;
    case OPT_ATTR: rc = cli_parse_seconds(val, &c->attr_timeout); break;
    case OPT_ENTRY: rc = cli_parse_seconds(val, &c->entry_timeout); break;
    case OPT_RO: c->read_only = true; break;
    case OPT_SUBDIR: c->subdir = val; break;
    case OPT_UPLOADS:
        rc = cli_parse_uint(val, 1000, &n);
        c->max_uploads = (int)n;
        break;
    case OPT_DOWNLOADS:
        rc = cli_parse_uint(val, 10000, &n);
        c->max_downloads = (int)n;
        break;
    case OPT_FUSE_FD:
        rc = cli_parse_uint(val, 1 << 20, &n);
        if (rc == 0 && fcntl((int)n, F_GETFD) < 0)
            rc = -EBADF;
        c->fuse_fd = (int)n;
        break;
    case OPT_FD_SOCKET: c->fd_socket = val; break;
    case OPT_NO_RESEND: c->no_resend = true; break;
    case OPT_JOURNAL_DIR: c->journal_dir = val; break;
    case OPT_PUT_TIMEOUT:
    case OPT_GET_TIMEOUT:
        rc = cli_parse_uint(val, 86400, &n);
        if (rc == 0 && n == 0)
            rc = -EINVAL;
        *(opt == OPT_PUT_TIMEOUT ? &c->put_timeout_s : &c->get_timeout_s) = (int)n;
        break;
    case OPT_IO_RETRIES:
        rc = cli_parse_uint(val, 100, &n);
        c->io_retries = (int)n;
        break;
    case OPT_NO_SUPERVISOR: a->no_supervisor = true; break;
    case OPT_FREE_RATIO: rc = parse_ratio(val, &c->free_space_ratio); break;
    case OPT_WRITEBACK: c->writeback = true; break;
    case OPT_READAHEAD: rc = cli_parse_size(val, 1ULL << 20, &c->max_readahead); break;
    case OPT_METRICS: c->metrics_addr = val; break;
    default: rc = -EINVAL;
    }
    if ((opt == OPT_UPLOADS || opt == OPT_DOWNLOADS) && rc == 0 && n == 0)
        rc = -EINVAL;
    return rc;
}

/* A worker of the supervisor (or a mount pod's daemon) serves a mount
 * someone else set up and checked. */
static bool handed_over(const struct mount_args *a)
{
    return a->cfg.fuse_fd >= 0 || a->cfg.fd_socket;
}

static int parse_args(int argc, char **argv, struct mount_args *a)
{
    a->cfg.attr_timeout = 1.0;
    a->cfg.entry_timeout = 1.0;
    a->cfg.max_uploads = 20;
    a->cfg.max_downloads = 200;
    a->cfg.cache_size = 100ULL << 30;
    a->cfg.fuse_fd = -1;
    a->cfg.io_retries = -1;
    optind = 1;
    opterr = 0;
    int opt, before = optind;
    while ((opt = getopt_long(argc, argv, "+:dho:", mount_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(mount_help, stdout);
            return 1;
        }
        if (opt == '?' || opt == ':')
            return -cli_bad_option("mount", opt, argv);
        bool for_worker = opt != 'd' && opt != OPT_NO_SUPERVISOR && opt != OPT_LOG;
        for (int i = before; for_worker && i < optind && a->nworker_opts < MAX_WORKER_OPTS - 1; i++)
            a->worker_opts[a->nworker_opts++] = argv[i];
        before = optind;
        if (apply_option(a, opt, optarg)) {
            cli_error("mount", "invalid value '%s' for %s", optarg, cli_option_name(mount_options, opt));
            return -CLI_EXIT_USAGE;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    char why[300];
    if (a->cfg.metrics_addr && metrics_parse_addr(a->cfg.metrics_addr, &ss, &sslen, why, sizeof(why)) != 0) {
        cli_error("mount", "--metrics: %s", why);
        return -CLI_EXIT_USAGE;
    }
    if (a->cfg.writeback && !a->cfg.cache_dir) {
        cli_error("mount", "--writeback needs --cache-dir (blocks are staged there)");
        return -CLI_EXIT_USAGE;
    }
    bool handed = a->cfg.fuse_fd >= 0 || a->cfg.fd_socket;
    if (a->cfg.fuse_fd >= 0 && a->cfg.fd_socket) {
        cli_error("mount", "--fuse-fd and --fuse-fd-socket exclude each other");
        return -CLI_EXIT_USAGE;
    }
    if (argc - optind != 2 && !(handed && argc - optind == 1)) {
        cli_error("mount", "expected META-URL and MOUNTPOINT (see tidefs mount --help)");
        return -CLI_EXIT_USAGE;
    }
    a->url = cli_hide_password(argv[optind]);
    a->cfg.meta_url = a->url;
    a->cfg.fuse_opts = a->fuse_opts;
    return 0;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static int check_mountpoint(struct mount_args *a, const char *path)
{
    struct stat st;
    char *type = NULL;
    if (cli_is_mountpoint(path, &type)) {
        cli_error("mount", "%s is already mounted (%s); unmount it first", path, type ? type : "?");
        free(type);
        return -EBUSY;
    }
    if (stat(path, &st) != 0) {
        cli_error("mount", "mount point %s: %s", path, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_error("mount", "mount point %s is not a directory", path);
        return -ENOTDIR;
    }
    if (!a->nonempty && !dir_is_empty(path)) {
        cli_error("mount", "mount point %s is not empty (use -o nonempty to mount over it anyway)", path);
        return -ENOTEMPTY;
    }
    if (!realpath(path, a->mountpoint))
        return -errno;
    a->cfg.mountpoint = a->mountpoint;
    return 0;
}

/* After the upgrade check (an upgraded daemon shares the port): the
 * --metrics address must be free now, or the mount is refused. */
static int check_metrics(const struct mount_args *a)
{
    char why[300];
    if (!a->cfg.metrics_addr || handed_over(a) || metrics_check_addr(a->cfg.metrics_addr, why, sizeof(why)) == 0)
        return 0;
    cli_error("mount", "--metrics: %s", why);
    return -EADDRINUSE;
}

/* Opens the volume once before forking: the user learns about a bad URL,
 * an unformatted volume or a missing --subdir from this command itself. */
static int check_volume(struct mount_args *a)
{
    const struct mount_config *c = &a->cfg;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    int rc = cli_open_volume("mount", c->meta_url, &ops, &m, &fmt);
    if (rc)
        return rc;
    uint64_t ino;
    if (c->subdir && (rc = mount_resolve_subdir(ops, m, c->subdir, &ino)) != 0)
        cli_error("mount", "--subdir %s: %s in the volume", c->subdir,
                  rc == -ENOTDIR ? "not a directory" : strerror(-rc));
    snprintf(a->fsname, sizeof(a->fsname), "tidefs:%s", fmt.name);
    cli_close_volume(ops, m, &fmt);
    return rc;
}

/* `tidefs mount` on a mount point its supervisor already serves: replace
 * the worker with this binary (a smooth upgrade). 1 when there is no
 * supervisor there, else the exit status. */
static int try_upgrade(const char *path, const char *meta_url)
{
    char *type = NULL, real[PATH_MAX], exe[PATH_MAX], why[300] = "";
    bool ours = cli_is_mountpoint(path, &type) && type && strcmp(type, "fuse.tidefs") == 0;
    free(type);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (!ours || !realpath(path, real) || n <= 0)
        return 1;
    exe[n] = '\0';
    int rc = supervisor_request_upgrade(real, meta_url, exe, why, sizeof(why));
    if (rc == -ESRCH || rc == -EALREADY || rc == -EBUSY)
        return 1; /* not ours to upgrade: "already mounted" follows */
    if (rc) {
        cli_error("mount", "upgrade of %s failed: %s", real, why);
        return CLI_EXIT_FAIL;
    }
    printf("tidefs: upgraded: %s\n", why);
    return CLI_EXIT_OK;
}

struct ready_pipe {
    int fd; /* write end, -1 in the foreground */
    bool sent;
};

static void report_ready(void *arg, int rc, const char *why)
{
    struct ready_pipe *p = arg;
    if (p->sent)
        return;
    p->sent = true;
    if (rc)
        fprintf(stderr, "tidefs mount: %s\n", why ? why : strerror(-rc));
    if (p->fd < 0)
        return;
    char msg[600];
    int n = snprintf(msg, sizeof(msg), "%d %s", rc, why ? why : "");
    if (write(p->fd, msg, (size_t)n) < 0)
        fprintf(stderr, "tidefs mount: cannot report to the parent: %s\n", strerror(errno));
    close(p->fd);
    p->fd = -1;
}

static const char *default_log(void)
{
    return getuid() == 0 ? "/var/log/tidefs.log" : "/tmp/tidefs.log";
}

/* In the child: detach from the terminal and send output to the log. */
static void detach(const char *log)
{
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
}

/* Parent side: wait for the child's verdict. */
static int wait_ready(int fd, pid_t child)
{
    char msg[600] = "";
    ssize_t n = read(fd, msg, sizeof(msg) - 1);
    close(fd);
    if (n > 0 && strncmp(msg, "0 ", 2) == 0)
        return CLI_EXIT_OK;
    if (n <= 0) {
        int status = 0;
        waitpid(child, &status, 0);
        cli_error("mount", "the mount process exited before the mount was ready (see the log)");
        return CLI_EXIT_FAIL;
    }
    char *why = strchr(msg, ' ');
    cli_error("mount", "%s", why && why[1] ? why + 1 : "mount failed");
    return CLI_EXIT_FAIL;
}

static int serve(struct mount_args *a)
{
    if (!a->background) {
        struct ready_pipe p = {-1, false};
        return mount_run(&a->cfg, report_ready, &p) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return CLI_EXIT_FAIL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("mount", "fork: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (pid > 0) {
        close(fds[1]);
        return wait_ready(fds[0], pid);
    }
    close(fds[0]);
    detach(a->log ? a->log : default_log());
    struct ready_pipe p = {fds[1], false};
    int rc;
    if (a->no_supervisor) {
        rc = mount_run(&a->cfg, report_ready, &p);
    } else {
        a->worker_opts[a->nworker_opts] = NULL;
        struct supervisor_config sc = {.mountpoint = a->cfg.mountpoint, .fsname = a->fsname,
                                       .read_only = a->cfg.read_only, .worker_opts = a->worker_opts,
                                       .meta_url = a->cfg.meta_url};
        rc = supervisor_run(&sc, report_ready, &p);
    }
    report_ready(&p, rc ? rc : -EIO, "mount ended before it was ready");
    _exit(rc ? CLI_EXIT_FAIL : CLI_EXIT_OK);
}

int cmd_mount(int argc, char **argv)
{
    struct mount_args a = {0};
    int rc = parse_args(argc, argv, &a);
    bool handed = a.cfg.fuse_fd >= 0 || a.cfg.fd_socket;
    if (rc == 0 && handed && argv[optind + 1])
        a.cfg.mountpoint = argv[optind + 1]; /* informational: someone else mounted it */
    if (rc == 0 && !handed) {
        int up = try_upgrade(argv[optind + 1], a.cfg.meta_url);
        if (up != 1) {
            free(a.fuse_opts);
            free(a.url);
            return up;
        }
    }
    if (rc == 0 && ((!handed && check_mountpoint(&a, argv[optind + 1]) != 0) || check_metrics(&a) != 0 ||
                    check_volume(&a) != 0))
        rc = -CLI_EXIT_FAIL;
    if (rc == 0)
        rc = serve(&a);
    else
        rc = rc > 0 ? CLI_EXIT_OK : -rc;
    free(a.fuse_opts);
    free(a.url);
    return rc;
}
