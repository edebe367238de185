/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs gc: finds objects in the store that no metadata references
 * (leaked), and slices waiting for deletion; deletes them only with
 * --delete. Also reports (and with --delete purges) trash older than the
 * volume's trash days. Progress on stderr, leaked keys and a summary on
 * stdout; Ctrl-C stops at once with the summary so far.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_ops.h"
#include "meta/gc.h"
#include "meta/trash.h"

static const char gc_help[] =
    "Usage: tidefs gc [--delete] [--age DURATION] META-URL\n\n"
    "List every object of the volume in its object store and compare with the metadata:\n"
    "objects no file references (leaked) and slices waiting for deletion are reported,\n"
    "and deleted only with --delete. Leaked objects younger than --age (default 1h) are\n"
    "left alone: they may be uploads whose commit is still coming. Trash older than the\n"
    "volume's trash days is purged with --delete too.\n\n"
    "Options:\n"
    "  --delete        delete leaked objects, pending slices and expired trash\n"
    "  --age DURATION  minimum age of a leaked object: 90s, 30m, 1h, 2d (default 1h)\n\n"
    "Examples:\n"
    "  tidefs gc sqlite3:///var/lib/tidefs/vol.db\n"
    "  tidefs gc --delete redis://127.0.0.1:6379/1\n";

struct gc_cli {
    struct ops_progress progress;
    int64_t now_ns;
};

static void on_leak(void *arg, const char *key, uint64_t size, int64_t mtime_ns, bool deleted)
{
    struct gc_cli *g = arg;
    char sz[32];
    printf("leaked%s: %s (%s, %lld s old)\n", deleted ? " (deleted)" : "", key, ops_size(size, sz),
           (long long)((g->now_ns - mtime_ns) / 1000000000LL));
}

static void on_progress(void *arg, uint64_t n)
{
    ops_progress_add(&((struct gc_cli *)arg)->progress, n);
}

static bool on_stop(void *arg)
{
    (void)arg;
    return ops_interrupted();
}

/* "90", "90s", "30m", "1h", "2d" -> nanoseconds */
static int parse_age(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || *s == '-')
        return -EINVAL;
    double mult = 1;
    if (*end && end[1])
        return -EINVAL;
    switch (*end) {
    case '\0':
    case 's':
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    default:
        return -EINVAL;
    }
    if (v * mult > 3.0e9)
        return -EINVAL;
    *out = (int64_t)(v * mult * 1e9);
    return 0;
}

static void summary(const struct gc_report *r, bool delete, int64_t age_ns, uint64_t trash)
{
    char b1[32], b2[32];
    printf("gc%s: %llu objects (%s) checked, %llu slices in use; %llu leaked (%s)", r->stopped ? " INTERRUPTED" : "",
           (unsigned long long)r->objects, ops_size(r->bytes, b1), (unsigned long long)r->slices,
           (unsigned long long)r->leaked, ops_size(r->leaked_bytes, b2));
    if (delete)
        printf(", %llu deleted", (unsigned long long)r->deleted);
    printf("; %llu younger than %llds kept; %llu slices pending deletion", (unsigned long long)r->young,
           (long long)(age_ns / 1000000000LL), (unsigned long long)r->pending_slices);
    if (delete)
        printf(", %llu deleted", (unsigned long long)r->pending_deleted);
    printf("; %llu expired trash entries%s", (unsigned long long)trash, delete ? " purged" : "");
    if (r->failures)
        printf("; %llu deletes FAILED", (unsigned long long)r->failures);
    printf("\n");
}

static int parse_args(int argc, char **argv, bool *delete, int64_t *age, const char **url)
{
    static const struct option opts[] = {{"delete", no_argument, NULL, 'd'},
                                         {"age", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'd') {
            *delete = true;
        } else if (c == 'a') {
            if (parse_age(optarg, age) != 0) {
                cli_error("gc", "invalid --age '%s' (e.g. 90s, 30m, 1h, 2d)", optarg);
                return CLI_EXIT_USAGE;
            }
        } else if (c == 'h') {
            fputs(gc_help, stdout);
            return -1;
        } else {
            return cli_bad_option("gc", c, argv);
        }
    }
    if (optind != argc - 1) {
        cli_error("gc", "expected META-URL (see tidefs gc --help)");
        return CLI_EXIT_USAGE;
    }
    *url = argv[optind];
    return 0;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int cmd_gc(int argc, char **argv)
{
    bool delete = false;
    int64_t age = 3600LL * 1000000000LL;
    const char *url = NULL;
    int rc = parse_args(argc, argv, &delete, &age, &url);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    struct store *st = NULL;
    if (cli_open_volume("gc", url, &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    rc = ops_require("gc", ops, (const void *)ops->list_chunks);
    if (rc == 0)
        rc = ops_open_store("gc", &fmt, &st);
    struct gc_cli g = {.now_ns = wall_ns()};
    struct gc_hooks hooks = {&g, on_leak, on_progress, on_stop};
    struct gc_report r = {0};
    uint64_t trash = 0;
    if (rc == 0) {
        ops_catch_interrupts();
        rc = trash_purge(ops, m, g.now_ns, !delete, &trash);
        ops_progress_start(&g.progress, "gc: objects", 0);
        if (rc == 0)
            rc = gc_run(ops, m, &fmt, st, delete, age, g.now_ns, &hooks, &r);
        ops_progress_end(&g.progress);
        if (rc)
            cli_error("gc", "%s", strerror(-rc));
        summary(&r, delete, age, trash);
    }
    store_free(st);
    cli_close_volume(ops, m, &fmt);
    if (rc == 0 && r.stopped)
        return 130;
    return rc || r.failures ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
