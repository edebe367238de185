// SPDX-License-Identifier: Apache-2.0
/*
 * metaloop: single-threaded metadata rate of one directory, for `make bench`.
 *
 * Creates COUNT empty files (open O_CREAT|O_EXCL + close, as `touch` does),
 * stats each once, waits 1.5 s so that FUSE's 1 s attribute and entry caches
 * have expired, stats each again (every stat now reaches the daemon), unlinks
 * each, and prints one line per phase:
 *   create OPS_PER_SEC
 *   stat OPS_PER_SEC
 *   stat_uncached OPS_PER_SEC
 *   unlink OPS_PER_SEC
 * In C so that the figures measure the filesystem, not an interpreter.
 * Exits non-zero on the first failed call, naming it.
 *
 * Usage: metaloop DIR COUNT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum metaloop_phase {
    METALOOP_CREATE,
    METALOOP_STAT,
    METALOOP_STAT_UNCACHED,
    METALOOP_UNLINK,
};

static const char *const metaloop_names[] = { "create", "stat", "stat_uncached",
                                              "unlink" };

static double metaloop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One operation of phase on path. Returns 0 or -errno. */
static int metaloop_op(enum metaloop_phase phase, const char *path)
{
    struct stat st;
    int fd;
    switch (phase) {
    case METALOOP_CREATE:
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || close(fd))
            return -errno;
        return 0;
    case METALOOP_STAT:
    case METALOOP_STAT_UNCACHED:
        if (stat(path, &st))
            return -errno;
        return st.st_size == 0 && S_ISREG(st.st_mode) ? 0 : -EBADMSG;
    case METALOOP_UNLINK:
        return unlink(path) ? -errno : 0;
    }
    return -EINVAL;
}

/* Runs phase over count files; prints its rate. Returns 0 or -errno. */
static int metaloop_run(enum metaloop_phase phase, const char *dir, long count)
{
    char path[4096];
    if (phase == METALOOP_STAT_UNCACHED) {
        struct timespec wait = { 1, 500000000L }; /* > the 1 s FUSE TTLs */
        nanosleep(&wait, NULL);
    }
    double start = metaloop_now();
    for (long i = 0; i < count; i++) {
        snprintf(path, sizeof(path), "%s/m%07ld", dir, i);
        int rc = metaloop_op(phase, path);
        if (rc) {
            fprintf(stderr, "metaloop: %s %s: %s\n", metaloop_names[phase],
                    path, strerror(-rc));
            return rc;
        }
    }
    double secs = metaloop_now() - start;
    printf("%s %.0f\n", metaloop_names[phase], (double)count / secs);
    return 0;
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3) {
        fprintf(stderr, "usage: metaloop DIR COUNT\n");
        return 2;
    }
    long count = strtol(argv[2], &end, 10);
    if (*end || count <= 0 || count > 9999999) {
        fprintf(stderr, "metaloop: bad COUNT '%s' (want 1..9999999)\n", argv[2]);
        return 2;
    }
    if (strlen(argv[1]) > 4000) {
        fprintf(stderr, "metaloop: DIR is too long\n");
        return 2;
    }
    for (int p = METALOOP_CREATE; p <= METALOOP_UNLINK; p++)
        if (metaloop_run((enum metaloop_phase)p, argv[1], count))
            return 1;
    return 0;
}
