/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs bench: a quick performance check of a mounted volume, after
 * `juicefs bench`: big files written and read sequentially, small files
 * written and read, and stat, by N threads in a scratch directory under
 * PATH that is removed afterwards. Reports each phase's throughput and
 * mean latency; shows progress on a terminal. Reads drop the kernel's
 * copy of each file first, so they measure the daemon, not the page
 * cache (the daemon's own caches are part of what is measured).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define BENCH_MAX_THREADS 256
#define BENCH_RULE "+-------------------+-------------------+-----------------+-----------------+\n"

static const char bench_help[] =
    "Usage: tidefs bench [OPTIONS] PATH\n\n"
    "Measure a mounted volume: write and read big files, write and read small files,\n"
    "stat them, with N threads, in a scratch directory under PATH (removed after).\n\n"
    "Options:\n"
    "  --block-size SIZE       size of each read and write (bare number = MiB; default 1)\n"
    "  --big-file-size SIZE    size of each big file (bare number = MiB; default 1024)\n"
    "  --small-file-size SIZE  size of each small file (bare number = KiB; default 128)\n"
    "  --small-file-count N    small files per thread (default 100)\n"
    "  -p, --threads N         parallel threads, each with its own files (default 1)\n"
    "  -h, --help              show this help\n\n"
    "Example:\n"
    "  tidefs bench -p 4 /mnt/vol\n";

enum { OPT_BLOCK = 256, OPT_BIG, OPT_SMALL, OPT_COUNT };

static const struct option bench_options[] = {
    {"block-size", required_argument, NULL, OPT_BLOCK},   {"big-file-size", required_argument, NULL, OPT_BIG},
    {"small-file-size", required_argument, NULL, OPT_SMALL}, {"small-file-count", required_argument, NULL, OPT_COUNT},
    {"threads", required_argument, NULL, 'p'},            {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

enum phase_kind { WRITE_BIG, READ_BIG, WRITE_SMALL, READ_SMALL, STAT_SMALL, NPHASES };

static const char *const phase_names[NPHASES] = {"Write big file", "Read big file", "Write small file",
                                                 "Read small file", "Stat file"};

struct bench {
    char dir[PATH_MAX];
    uint64_t block, big, small, count, threads;
    enum phase_kind kind;
    atomic_uint_fast64_t ops, bytes, lat_ns; /* of the current phase */
    atomic_int failed;
};

struct worker_arg {
    struct bench *b;
    unsigned id;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One file written or read whole in `block` pieces; 0 or -errno. */
static int file_io(struct bench *b, const char *path, uint64_t size, bool write, char *buf)
{
    int fd = write ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (!write)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0;) {
        size_t n = size - off < b->block ? (size_t)(size - off) : (size_t)b->block;
        uint64_t t = now_ns();
        ssize_t got = write ? pwrite(fd, buf, n, (off_t)off) : pread(fd, buf, n, (off_t)off);
        if (got <= 0) {
            rc = got < 0 ? -errno : -EIO;
            break;
        }
        off += (uint64_t)got;
        atomic_fetch_add(&b->bytes, (uint64_t)got);
        if (size == b->big) { /* big files: latency per I/O */
            atomic_fetch_add(&b->lat_ns, now_ns() - t);
            atomic_fetch_add(&b->ops, 1);
        }
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno; /* close waits for the commit */
    return rc;
}

static int small_op(struct bench *b, const char *path, char *buf)
{
    uint64_t t = now_ns();
    struct stat st;
    int rc = b->kind == STAT_SMALL ? (stat(path, &st) == 0 ? 0 : -errno)
                                   : file_io(b, path, b->small, b->kind == WRITE_SMALL, buf);
    atomic_fetch_add(&b->lat_ns, now_ns() - t);
    atomic_fetch_add(&b->ops, 1);
    return rc;
}

static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct bench *b = a->b;
    char *buf = malloc(b->block), path[PATH_MAX + 64];
    if (!buf) {
        atomic_fetch_add(&b->failed, 1);
        return NULL;
    }
    memset(buf, 0x5a ^ (int)a->id, b->block);
    int rc = 0;
    if (b->kind == WRITE_BIG || b->kind == READ_BIG) {
        snprintf(path, sizeof(path), "%s/big.%u", b->dir, a->id);
        rc = file_io(b, path, b->big, b->kind == WRITE_BIG, buf);
    } else {
        for (uint64_t i = 0; i < b->count && rc == 0; i++) {
            snprintf(path, sizeof(path), "%s/small.%u.%llu", b->dir, a->id, (unsigned long long)i);
            rc = small_op(b, path, buf);
        }
    }
    if (rc < 0) {
        atomic_fetch_add(&b->failed, 1);
        cli_error("bench", "%s: %s: %s", phase_names[b->kind], path, strerror(-rc));
    }
    free(buf);
    return NULL;
}

static void show_progress(struct bench *b, uint64_t t0, bool last)
{
    bool big = b->kind == WRITE_BIG || b->kind == READ_BIG;
    uint64_t done = big ? atomic_load(&b->bytes) : atomic_load(&b->ops);
    uint64_t total = big ? b->big * b->threads : b->count * b->threads;
    double secs = (now_ns() - t0) / 1e9;
    fprintf(stderr, "\r%-17s %6.1f%%  %.1f s   %s", phase_names[b->kind], total ? 100.0 * done / total : 100.0,
            secs, last ? "\r\033[K" : "");
}

/* Runs one phase on all threads; its elapsed seconds, or < 0 on failure. */
static double run_phase(struct bench *b, enum phase_kind kind, bool tty)
{
    pthread_t th[BENCH_MAX_THREADS];
    struct worker_arg args[BENCH_MAX_THREADS];
    b->kind = kind;
    atomic_store(&b->ops, 0);
    atomic_store(&b->bytes, 0);
    atomic_store(&b->lat_ns, 0);
    uint64_t t0 = now_ns();
    unsigned n = 0;
    for (; n < b->threads; n++) {
        args[n] = (struct worker_arg){b, n};
        if (pthread_create(&th[n], NULL, worker, &args[n]) != 0)
            break;
    }
    if (tty) {
        struct timespec tick = {0, 200 * 1000000L};
        for (bool running = true; running;) {
            show_progress(b, t0, false);
            nanosleep(&tick, NULL);
            uint64_t goal = kind <= READ_BIG ? b->big * b->threads : b->count * b->threads;
            running = (kind <= READ_BIG ? atomic_load(&b->bytes) : atomic_load(&b->ops)) < goal &&
                      atomic_load(&b->failed) == 0;
        }
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (tty)
        show_progress(b, t0, true);
    double secs = (now_ns() - t0) / 1e9;
    return n < b->threads || atomic_load(&b->failed) ? -1 : secs;
}

static void report(struct bench *b, enum phase_kind kind, double secs)
{
    uint64_t ops = atomic_load(&b->ops), lat = atomic_load(&b->lat_ns);
    double ms = ops ? lat / 1e6 / (double)ops : 0;
    if (kind <= READ_BIG)
        printf("| %-17s | %11.1f MiB/s | %7.2f ms/IO   | %8.2f s/file |\n", phase_names[kind],
               atomic_load(&b->bytes) / 1048576.0 / secs, ms, secs);
    else
        printf("| %-17s | %9.1f files/s | %7.2f ms/file | %15s |\n", phase_names[kind], ops / secs, ms, "");
    fflush(stdout);
}

static void cleanup(struct bench *b)
{
    char path[PATH_MAX + 64];
    for (uint64_t t = 0; t < b->threads; t++) {
        snprintf(path, sizeof(path), "%s/big.%llu", b->dir, (unsigned long long)t);
        unlink(path);
        for (uint64_t i = 0; i < b->count; i++) {
            snprintf(path, sizeof(path), "%s/small.%llu.%llu", b->dir, (unsigned long long)t, (unsigned long long)i);
            unlink(path);
        }
    }
    rmdir(b->dir);
}

static int parse(int argc, char **argv, struct bench *b)
{
    *b = (struct bench){.block = 1 << 20, .big = 1ULL << 30, .small = 128 << 10, .count = 100, .threads = 1};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:p:h", bench_options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'h': fputs(bench_help, stdout); return 1;
        case OPT_BLOCK: rc = cli_parse_size(optarg, 1 << 20, &b->block); break;
        case OPT_BIG: rc = cli_parse_size(optarg, 1 << 20, &b->big); break;
        case OPT_SMALL: rc = cli_parse_size(optarg, 1 << 10, &b->small); break;
        case OPT_COUNT: rc = cli_parse_uint(optarg, 1 << 24, &b->count); break;
        case 'p': rc = cli_parse_uint(optarg, BENCH_MAX_THREADS, &b->threads); break;
        default: return -cli_bad_option("bench", opt, argv);
        }
        if (rc || (opt == 'p' && b->threads == 0) || (opt == OPT_BLOCK && (b->block == 0 || b->block > 64 << 20))) {
            cli_error("bench", "invalid value '%s' for %s", optarg, cli_option_name(bench_options, opt));
            return -CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("bench", "expected PATH (see tidefs bench --help)");
        return -CLI_EXIT_USAGE;
    }
    snprintf(b->dir, sizeof(b->dir), "%s/__tidefs_bench_%d", argv[optind], (int)getpid());
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    struct bench b;
    int rc = parse(argc, argv, &b);
    if (rc)
        return rc > 0 ? CLI_EXIT_OK : -rc;
    if (mkdir(b.dir, 0755) != 0) {
        cli_error("bench", "cannot create %s: %s", b.dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    bool tty = isatty(STDERR_FILENO);
    printf("tidefs bench: %llu thread(s), big files %.0f MiB, block %.0f KiB, small files %.0f KiB x %llu\n",
           (unsigned long long)b.threads, b.big / 1048576.0, b.block / 1024.0, b.small / 1024.0,
           (unsigned long long)b.count);
    printf(BENCH_RULE "| ITEM              | VALUE             | LATENCY         | COST            |\n" BENCH_RULE);
    int status = CLI_EXIT_OK;
    for (int k = 0; k < NPHASES; k++) {
        if ((k <= READ_BIG && b.big == 0) || (k > READ_BIG && b.count == 0))
            continue;
        double secs = run_phase(&b, (enum phase_kind)k, tty);
        if (secs < 0) {
            status = CLI_EXIT_FAIL;
            break;
        }
        report(&b, (enum phase_kind)k, secs);
    }
    printf(BENCH_RULE);
    cleanup(&b);
    return status;
}
