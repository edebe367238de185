/* SPDX-License-Identifier: Apache-2.0
 *
 * Finding and waiting for the processes of a mount (see mount_pids.h). A
 * process qualifies when its program is tidefs or mount.tidefs, it runs
 * the mount command, and one of its arguments names the mount point.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/mount_pids.h"

#define CMDLINE_MAX 65536

/* Reads /proc/<pid>/cmdline; the argument count, args NUL-separated. */
static int read_cmdline(pid_t pid, char *buf, size_t cap, size_t *len)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    *len = (size_t)n;
    int argc = 0;
    for (ssize_t i = 0; i < n; i++)
        argc += buf[i] == '\0';
    return argc;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Whether `arg`, as process pid would resolve it, is `real`. */
static bool names_path(pid_t pid, const char *arg, const char *real)
{
    char path[PATH_MAX * 2], got[PATH_MAX];
    if (arg[0] == '/')
        snprintf(path, sizeof(path), "%s", arg);
    else
        snprintf(path, sizeof(path), "/proc/%d/cwd/%s", (int)pid, arg);
    return realpath(path, got) && strcmp(got, real) == 0;
}

static bool serves(pid_t pid, const char *real, char *buf)
{
    size_t len = 0;
    int argc = read_cmdline(pid, buf, CMDLINE_MAX, &len);
    if (argc < 2)
        return false;
    const char *prog = base_name(buf), *arg1 = buf + strlen(buf) + 1;
    bool helper = strcmp(prog, "mount.tidefs") == 0;
    if (!helper && !(strcmp(prog, "tidefs") == 0 && strcmp(arg1, "mount") == 0))
        return false;
    for (const char *a = arg1; a < buf + len; a += strlen(a) + 1)
        if (a[0] && names_path(pid, a, real))
            return true;
    return false;
}

size_t mount_pids_find(const char *mountpoint, pid_t *out, size_t max)
{
    char real[PATH_MAX];
    if (!realpath(mountpoint, real))
        return 0;
    char *buf = malloc(CMDLINE_MAX);
    DIR *d = opendir("/proc");
    size_t n = 0;
    struct dirent *e;
    while (buf && d && n < max && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        if (serves((pid_t)pid, real, buf))
            out[n++] = (pid_t)pid;
    }
    if (d)
        closedir(d);
    free(buf);
    return n;
}

static bool alive(pid_t pid)
{
    char p[64], stat[512];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *rp = strrchr(stat, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

void mount_pids_wait(const pid_t *pids, size_t n)
{
    struct timespec tick = {0, 100 * 1000000L};
    for (size_t i = 0; i < n; i++)
        while (alive(pids[i]))
            nanosleep(&tick, NULL);
}
