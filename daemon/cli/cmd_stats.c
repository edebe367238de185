/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs stats: a live per-second view of one mount, read from the
 * metrics socket its daemon keeps in the mount's state directory
 * (/run/tidefs/<hash>/metrics.sock, see fuse/metrics.h): the same
 * Prometheus text that `mount --metrics` serves, turned into rates.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_ops.h"
#include "fuse/metrics.h"
#include "fuse/supervisor.h"

#define STATS_TIMEOUT_MS 3000
#define STATS_TOP_OPS 5

static const char stats_help[] =
    "Usage: tidefs stats [--count N] MOUNTPOINT\n\n"
    "Show a tidefs mount's activity once a second until Ctrl-C: FUSE operations per second\n"
    "(the busiest by type), MiB/s read and written, the share of block loads served by the\n"
    "disk cache, and object store GETs and PUTs per second.\n\n"
    "Options:\n"
    "  --count N    stop after N lines\n"
    "  -h, --help   show this help\n\n"
    "Example:\n"
    "  tidefs stats /mnt/vol\n";

struct sample {
    double t; /* monotonic seconds */
    char op[VFS_OP_COUNT][24];
    double ops[VFS_OP_COUNT];
    int nops;
    double rd, wr, hits, get, put;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One GET /metrics over the unix socket; the body, malloc'ed. */
static int fetch(const char *sock, char **body)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    int rc = buf && send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1) ? 0 : -EIO;
    struct pollfd p = {fd, POLLIN, 0};
    while (rc == 0 && poll(&p, 1, STATS_TIMEOUT_MS) == 1) {
        if (used + 1 >= cap) {
            char *grown = cap <= METRICS_MAX_BODY ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                rc = -EFBIG;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    char *start = NULL;
    if (rc == 0) {
        buf[used] = '\0';
        start = strstr(buf, "\r\n\r\n");
        if (!start || strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
            rc = -EPROTO;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    memmove(buf, start + 4, strlen(start + 4) + 1);
    *body = buf;
    return 0;
}

/* Picks the counters the view needs out of the exposition text. */
static void parse(char *text, struct sample *s)
{
    static const char op_prefix[] = "tidefs_fuse_ops_total{op=\"";
    memset(s, 0, sizeof(*s));
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        if (line[0] == '#' || !sp)
            continue;
        double v = strtod(sp + 1, NULL);
        *sp = '\0';
        if (strncmp(line, op_prefix, sizeof(op_prefix) - 1) == 0 && s->nops < VFS_OP_COUNT) {
            snprintf(s->op[s->nops], sizeof(s->op[0]), "%.*s", (int)strcspn(line + sizeof(op_prefix) - 1, "\""),
                     line + sizeof(op_prefix) - 1);
            s->ops[s->nops++] = v;
        } else if (strcmp(line, "tidefs_fuse_read_bytes_total") == 0) {
            s->rd = v;
        } else if (strcmp(line, "tidefs_fuse_written_bytes_total") == 0) {
            s->wr = v;
        } else if (strcmp(line, "tidefs_cache_hits_total") == 0) {
            s->hits = v;
        } else if (strncmp(line, "tidefs_object_requests_total{", 29) == 0) {
            *(strstr(line, "\"put\"") ? &s->put : &s->get) += v; /* get and ranged_get */
        }
    }
}

static int take(const char *sock, struct sample *s)
{
    char *body = NULL;
    int rc = fetch(sock, &body);
    if (rc == 0) {
        parse(body, s);
        s->t = mono_s();
    }
    free(body);
    return rc;
}

/* "12:00:01  ops/s 950 (read 800 getattr 100 ...)  read 100.0 MiB/s ..." */
static void print_rates(const struct sample *a, const struct sample *b)
{
    double dt = b->t - a->t > 0.001 ? b->t - a->t : 0.001, total = 0, rate[VFS_OP_COUNT];
    for (int i = 0; i < b->nops; i++)
        total += rate[i] = i < a->nops ? (b->ops[i] - a->ops[i]) / dt : 0;
    char when[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
    char busiest[256] = "";
    size_t len = 0;
    bool used[VFS_OP_COUNT] = {false};
    for (int k = 0; k < STATS_TOP_OPS; k++) {
        int best = -1;
        for (int i = 0; i < b->nops; i++)
            if (!used[i] && rate[i] >= 0.5 && (best < 0 || rate[i] > rate[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        len += (size_t)snprintf(busiest + len, sizeof(busiest) - len, "%s%s %.0f", len ? " " : " (", b->op[best],
                                rate[best]);
    }
    double loads = (b->hits - a->hits) + (b->get - a->get);
    char hit[16] = "-";
    if (loads > 0)
        snprintf(hit, sizeof(hit), "%.1f%%", 100.0 * (b->hits - a->hits) / loads);
    printf("%s  ops/s %.0f%s%s  read %.1f MiB/s  write %.1f MiB/s  cache hit %s  GET %.0f/s  PUT %.0f/s\n", when,
           total, busiest, len ? ")" : "", (b->rd - a->rd) / dt / 1048576.0, (b->wr - a->wr) / dt / 1048576.0, hit, (b->get - a->get) / dt,
           (b->put - a->put) / dt);
    fflush(stdout);
}

/* The metrics socket of the tidefs mount at `path`; one-line error. */
static int find_socket(const char *path, char *sock, size_t len)
{
    char real[PATH_MAX], dir[320], *type = NULL;
    if (!realpath(path, real)) {
        cli_error("stats", "%s: %s", path, strerror(errno));
        return -errno;
    }
    bool ours = cli_is_mountpoint(real, &type) && type && strcmp(type, "fuse.tidefs") == 0;
    free(type);
    if (!ours) {
        cli_error("stats", "%s is not a tidefs mount point", real);
        return -EINVAL;
    }
    supervisor_dir(real, dir, sizeof(dir));
    snprintf(sock, len, "%s/%s", dir, METRICS_SOCKET_NAME);
    return 0;
}

/* Sleeps about a second; false when Ctrl-C came. */
static bool pause_second(void)
{
    for (int i = 0; i < 10 && !ops_interrupted(); i++)
        usleep(100000);
    return !ops_interrupted();
}

static int run(const char *sock, uint64_t count)
{
    struct sample prev, cur, first;
    int rc = take(sock, &prev);
    if (rc) {
        cli_error("stats", "cannot read the mount's metrics at %s: %s", sock, strerror(-rc));
        return CLI_EXIT_FAIL;
    }
    first = prev;
    uint64_t lines = 0;
    while ((count == 0 || lines < count) && pause_second()) {
        if ((rc = take(sock, &cur)) != 0) {
            cli_error("stats", "the mount's metrics went away (%s): %s", sock, strerror(-rc));
            return CLI_EXIT_FAIL;
        }
        print_rates(&prev, &cur);
        prev = cur;
        lines++;
    }
    if (ops_interrupted() || count == 0)
        printf("%llu lines over %.0f s: %.1f MiB read, %.1f MiB written\n", (unsigned long long)lines,
               prev.t - first.t, (prev.rd - first.rd) / 1048576.0, (prev.wr - first.wr) / 1048576.0);
    return CLI_EXIT_OK;
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    uint64_t count = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(stats_help, stdout);
            return CLI_EXIT_OK;
        }
        if (opt == '?' || opt == ':')
            return cli_bad_option("stats", opt, argv);
        if (cli_parse_uint(optarg, UINT32_MAX, &count) != 0 || count == 0) {
            cli_error("stats", "invalid value '%s' for --count (a number of lines, at least 1)", optarg);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("stats", "expected one MOUNTPOINT (see tidefs stats --help)");
        return CLI_EXIT_USAGE;
    }
    char sock[400];
    if (find_socket(argv[optind], sock, sizeof(sock)) != 0)
        return CLI_EXIT_FAIL;
    ops_catch_interrupts();
    return run(sock, count);
}
