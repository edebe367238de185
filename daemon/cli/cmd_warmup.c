/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs warmup: fills the caches of a mount by reading files through it
 * (directories recursively) with a few threads, so that later reads are
 * served from the local disk cache. The kernel's copy of each file is
 * dropped as it is read, so the reads reach the daemon and its cache, and
 * warming a big tree does not evict everything else from the page cache.
 * Shows a progress line on a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define WARM_BUF (1u << 20)
#define WARM_MAX_THREADS 64

static const char warmup_help[] =
    "Usage: tidefs warmup [OPTIONS] PATH...\n\n"
    "Read the files under each PATH (a file or a directory, recursively) through the\n"
    "mount so that their blocks land in the mount's cache (--cache-dir).\n\n"
    "Options:\n"
    "  -p, --threads N   files read in parallel (default 4)\n"
    "  -q, --quiet       no progress line\n"
    "  -h, --help        show this help\n\n"
    "Example:\n"
    "  tidefs warmup -p 8 /mnt/vol/datasets/train\n";

static const struct option warmup_options[] = {
    {"threads", required_argument, NULL, 'p'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct warm {
    char **files; /* owned */
    size_t nfiles, cap, next;
    uint64_t total, done_bytes; /* protected by lock, like next and the rest */
    size_t done_files, failed;
    pthread_mutex_t lock;
};

static int add_file(struct warm *w, const char *path, uint64_t size)
{
    if (w->nfiles == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        char **nf = realloc(w->files, nc * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        w->files = nf;
        w->cap = nc;
    }
    if (!(w->files[w->nfiles] = strdup(path)))
        return -ENOMEM;
    w->nfiles++;
    w->total += size;
    return 0;
}

/* Collects the regular files under path; reports what it cannot read. */
static int collect(struct warm *w, const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        cli_error("warmup", "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (S_ISREG(st.st_mode))
        return add_file(w, path, (uint64_t)st.st_size);
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        cli_error("warmup", "%s: %s", path, strerror(errno));
        return -errno;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub))
            continue;
        rc = collect(w, sub);
        if (rc == -ENOENT || rc == -EACCES)
            rc = 0; /* reported; the rest is still worth warming */
    }
    closedir(d);
    return rc;
}

static void read_one(struct warm *w, const char *path, char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : 0;
    off_t off = 0;
    while (fd >= 0 && (n = pread(fd, buf, WARM_BUF, off)) > 0) {
        off += n;
        pthread_mutex_lock(&w->lock);
        w->done_bytes += (uint64_t)n;
        pthread_mutex_unlock(&w->lock);
    }
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    pthread_mutex_lock(&w->lock);
    w->done_files++;
    if (n < 0) {
        w->failed++;
        cli_error("warmup", "%s: %s", path, strerror(errno));
    }
    pthread_mutex_unlock(&w->lock);
}

static void *worker(void *arg)
{
    struct warm *w = arg;
    char *buf = malloc(WARM_BUF);
    while (buf) {
        pthread_mutex_lock(&w->lock);
        size_t i = w->next < w->nfiles ? w->next++ : w->nfiles;
        pthread_mutex_unlock(&w->lock);
        if (i == w->nfiles)
            break;
        read_one(w, w->files[i], buf);
    }
    free(buf);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(struct warm *w, double t0, bool last)
{
    pthread_mutex_lock(&w->lock);
    uint64_t b = w->done_bytes;
    size_t f = w->done_files;
    pthread_mutex_unlock(&w->lock);
    double secs = now_s() - t0, pct = w->total ? 100.0 * (double)b / (double)w->total : 100.0;
    fprintf(stderr, "\rwarming up: %zu/%zu files, %.1f/%.1f MiB (%3.0f%%), %.1f MiB/s   %s", f, w->nfiles,
            b / 1048576.0, w->total / 1048576.0, pct, secs > 0 ? b / 1048576.0 / secs : 0.0, last ? "\n" : "");
}

static int run(struct warm *w, int threads, bool show)
{
    pthread_t th[WARM_MAX_THREADS];
    int n = 0;
    double t0 = now_s();
    for (; n < threads; n++)
        if (pthread_create(&th[n], NULL, worker, w) != 0)
            break;
    if (n == 0)
        return -EAGAIN;
    while (show) {
        pthread_mutex_lock(&w->lock);
        bool done = w->done_files == w->nfiles;
        pthread_mutex_unlock(&w->lock);
        progress(w, t0, done);
        if (done)
            break;
        usleep(200000);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (!show)
        printf("warmed up %zu files, %.1f MiB in %.1f s\n", w->nfiles, w->done_bytes / 1048576.0, now_s() - t0);
    return 0;
}

int cmd_warmup(int argc, char **argv)
{
    uint64_t threads = 4;
    bool quiet = false;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:p:qh", warmup_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(warmup_help, stdout);
            return CLI_EXIT_OK;
        }
        if (opt == 'q') {
            quiet = true;
        } else if (opt == 'p') {
            if (cli_parse_uint(optarg, WARM_MAX_THREADS, &threads) != 0 || threads == 0) {
                cli_error("warmup", "invalid value '%s' for --threads (1 to %d)", optarg, WARM_MAX_THREADS);
                return CLI_EXIT_USAGE;
            }
        } else {
            return cli_bad_option("warmup", opt, argv);
        }
    }
    if (optind >= argc) {
        cli_error("warmup", "expected PATH... (see tidefs warmup --help)");
        return CLI_EXIT_USAGE;
    }
    struct warm w = {0};
    pthread_mutex_init(&w.lock, NULL);
    int rc = 0, bad = 0;
    for (int i = optind; i < argc && rc != -ENOMEM; i++) {
        rc = collect(&w, argv[i]);
        bad += rc < 0 && rc != -ENOMEM;
    }
    if (rc == -ENOMEM)
        cli_error("warmup", "out of memory listing the files");
    else
        rc = run(&w, (int)threads, !quiet && isatty(STDERR_FILENO));
    for (size_t i = 0; i < w.nfiles; i++)
        free(w.files[i]);
    free(w.files);
    pthread_mutex_destroy(&w.lock);
    return rc == 0 && w.failed == 0 && bad == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
