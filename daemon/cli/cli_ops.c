/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers of the operator's commands (see cli_ops.h): sizes, progress,
 * interrupts, confirmations, the object store, and the volume behind a
 * mount point (found from the command line of the daemon serving it, as
 * the session records live inside the volume we are looking for).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_ops.h"
#include "meta/format.h"
#include "meta/path.h"

char *ops_size(uint64_t bytes, char buf[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, 32, "%.1f %s", v, units[u]);
    return buf;
}

int ops_require(const char *cmd, const struct meta_ops *ops, const void *fn)
{
    if (fn)
        return 0;
    cli_error(cmd, "the %s metadata engine does not support this yet", ops->scheme);
    return -ENOTSUP;
}

/* The one flag a signal handler may set: polled by long loops. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

void ops_catch_interrupts(void)
{
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool ops_interrupted(void)
{
    return interrupted != 0;
}

bool ops_confirm(const char *question)
{
    FILE *tty = fopen("/dev/tty", "r+e");
    if (!tty)
        return false;
    fprintf(tty, "%s [y/N] ", question);
    fflush(tty);
    char line[16] = "";
    bool yes = fgets(line, sizeof(line), tty) && (line[0] == 'y' || line[0] == 'Y');
    fclose(tty);
    return yes;
}

/* --- progress ------------------------------------------------------------ */

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void ops_progress_start(struct ops_progress *p, const char *label, uint64_t total)
{
    const char *period = getenv("TIDEFS_PROGRESS_PERIOD"); /* seconds between plain lines */
    *p = (struct ops_progress){.label = label, .total = total, .tty = isatty(STDERR_FILENO) == 1,
                               .period_s = period && atoi(period) > 0 ? atoi(period) : 5};
    clock_gettime(CLOCK_MONOTONIC, &p->last);
}

static void draw(struct ops_progress *p)
{
    if (!p->tty) {
        if (p->total)
            fprintf(stderr, "%s: %llu/%llu\n", p->label, (unsigned long long)p->done,
                    (unsigned long long)p->total);
        else
            fprintf(stderr, "%s: %llu\n", p->label, (unsigned long long)p->done);
        return;
    }
    char bar[31];
    int fill = p->total ? (int)(30 * (p->done > p->total ? 1.0 : (double)p->done / (double)p->total)) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : (p->total ? '.' : ' ');
    bar[30] = '\0';
    if (p->total)
        fprintf(stderr, "\r%s [%s] %llu/%llu", p->label, bar, (unsigned long long)p->done,
                (unsigned long long)p->total);
    else
        fprintf(stderr, "\r%s: %llu", p->label, (unsigned long long)p->done);
    p->drawn = true;
}

void ops_progress_add(struct ops_progress *p, uint64_t n)
{
    p->done += n;
    if (since(&p->last) < (p->tty ? 0.1 : p->period_s))
        return;
    clock_gettime(CLOCK_MONOTONIC, &p->last);
    draw(p);
}

void ops_progress_end(struct ops_progress *p)
{
    if (p->tty) {
        draw(p);
        fputc('\n', stderr);
    }
}

/* --- stores ----------------------------------------------------------------- */

int ops_open_store(const char *cmd, const struct format *f, struct store **out)
{
    struct store_options so = {.storage = f->storage, .bucket = f->bucket, .access_key = f->access_key,
                               .secret_key = f->secret_key, .session_token = f->session_token,
                               .region = f->region, .io_retries = -1};
    char err[256] = "";
    int rc = store_open(&so, out, err, sizeof(err));
    if (rc)
        cli_error(cmd, "cannot open the object store: %s", *err ? err : strerror(-rc));
    return rc;
}

/* --- the volume behind a mount point -------------------------------------- */

/* The tidefs mount point holding `real` (longest prefix), malloc'ed. */
static char *mount_of(const char *real)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL, *best = NULL;
    size_t cap = 0, bestlen = 0;
    while (f && getline(&line, &cap, f) > 0) {
        char mp[PATH_MAX], type[64];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || sscanf(dash + 3, "%63s", type) != 1)
            continue;
        size_t n = strlen(mp);
        bool under = strncmp(real, mp, n) == 0 && (real[n] == '\0' || real[n] == '/' || n == 1);
        if (strcmp(type, "fuse.tidefs") != 0 || !under || n < bestlen)
            continue;
        free(best);
        best = strdup(mp);
        bestlen = n;
    }
    free(line);
    if (f)
        fclose(f);
    return best;
}

#define CMDLINE_MAX 65536

/* The NUL-separated argv of process `pid` into buf (cap bytes, NUL
 * terminated); its length in *len. */
static int read_cmdline(const char *pid, char *buf, size_t cap, size_t *len)
{
    char path[300];
    snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
    FILE *f = fopen(path, "re");
    *len = 0;
    if (!f)
        return -errno;
    *len = fread(buf, 1, cap - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return *len ? 0 : -ENOENT;
}

/* From a `tidefs mount ... META-URL MOUNTPOINT` command line: the URL and
 * the --subdir when its last argument is `mp`. */
static bool parse_mount_args(char *buf, size_t len, const char *mp, char **url, char **subdir)
{
    char *args[256];
    int n = 0;
    for (size_t off = 0; off < len && n < 256; off += strlen(buf + off) + 1)
        args[n++] = buf + off;
    if (n < 4 || strcmp(args[1], "mount") != 0)
        return false;
    char real[PATH_MAX];
    if (!realpath(args[n - 1], real) || strcmp(real, mp) != 0)
        return false;
    *url = strdup(args[n - 2]);
    *subdir = strdup("");
    for (int i = 2; i < n - 2; i++) {
        const char *v = strcmp(args[i], "--subdir") == 0 ? args[i + 1]
                        : strncmp(args[i], "--subdir=", 9) == 0 ? args[i] + 9 : NULL;
        if (v) {
            free(*subdir);
            *subdir = strdup(v);
        }
    }
    return *url && *subdir;
}

static bool find_daemon(const char *mp, char **url, char **subdir)
{
    DIR *d = opendir("/proc");
    char *buf = malloc(CMDLINE_MAX);
    struct dirent *e;
    bool found = false;
    while (d && buf && !found && (e = readdir(d)) != NULL) {
        size_t len = 0;
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && read_cmdline(e->d_name, buf, CMDLINE_MAX, &len) == 0)
            found = parse_mount_args(buf, len, mp, url, subdir);
    }
    free(buf);
    if (d)
        closedir(d);
    return found;
}

int ops_volume_of_path(const char *cmd, const char *path, char **url, char **subdir, char **mountpoint)
{
    char real[PATH_MAX];
    *url = *subdir = *mountpoint = NULL;
    if (!realpath(path, real)) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char *mp = mount_of(real);
    if (!mp) {
        cli_error(cmd, "%s is not inside a tidefs mount", path);
        return -EINVAL;
    }
    const char *env = getenv("TIDEFS_META_URL");
    bool found = env && *env ? (*url = strdup(env)) && (*subdir = strdup("")) : find_daemon(mp, url, subdir);
    if (!found) {
        cli_error(cmd, "cannot find the daemon serving %s to learn its META-URL (set TIDEFS_META_URL)", mp);
        free(*url);
        free(*subdir);
        free(mp);
        *url = *subdir = NULL;
        return -ENOENT;
    }
    *mountpoint = mp;
    return 0;
}

int ops_open_path(const char *cmd, const char *path, const struct meta_ops **ops, struct meta **m,
                  struct format *fmt, uint64_t *ino)
{
    char *url, *subdir, *mp;
    struct stat st;
    if (lstat(path, &st) != 0) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return -errno;
    }
    int rc = ops_volume_of_path(cmd, path, &url, &subdir, &mp);
    if (rc)
        return rc;
    rc = cli_open_volume(cmd, url, ops, m, fmt);
    *ino = st.st_ino;
    if (rc == 0 && st.st_ino == META_ROOT_INO && *subdir) { /* the root of a --subdir mount */
        struct meta_attr a;
        rc = meta_path_resolve(*ops, *m, subdir, &a);
        *ino = a.ino;
        if (rc) {
            cli_error(cmd, "--subdir %s of %s: %s", subdir, mp, strerror(-rc));
            cli_close_volume(*ops, *m, fmt);
        }
    }
    free(url);
    free(subdir);
    free(mp);
    return rc;
}
