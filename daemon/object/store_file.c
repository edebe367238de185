/* SPDX-License-Identifier: Apache-2.0
 *
 * The "file" object store: objects are files under a local directory (the
 * bucket), a key's '/' separators becoming subdirectories. put is atomic
 * and durable before it returns (temp file in the same directory, fsync,
 * rename, fsync of the directory, and of the parents of directories it
 * creates), because upload-then-commit relies on a committed slice's
 * blocks surviving a power loss. Temp files are named ".tidefs-tmp.*" and
 * are never listed. Concurrent puts into one directory share directory
 * fsyncs (group commit), since the blocks of a slice land side by side.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "object/store_i.h"

#define FILE_TMP_PREFIX ".tidefs-tmp."
#define DIRSYNC_SLOTS 64
#define FILE_DIRECT_ALIGN 4096

/* Group commit of one directory's fsyncs: a put that renamed into `dir`
 * takes ticket ++requested and is durable once `done` reaches it; one
 * thread at a time runs fsync for everyone who asked before it started. */
struct dirsync {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *dir;          /* the directory this slot serves now; owned */
    int users;          /* threads inside dirsync(); the slot is re-aimed only at 0 */
    bool syncing;
    uint64_t requested; /* all protected by lock */
    uint64_t done;
};

struct file_store {
    struct store base;
    char *root;            /* absolute, no trailing '/'; owned */
    atomic_ulong tmp_seq;  /* makes temp names unique within the process */
    struct dirsync sync[DIRSYNC_SLOTS];
};

static struct file_store *fs_of(struct store *s)
{
    return (struct file_store *)s;
}

/* A key is a relative path of non-empty components, none "." or "..". */
static int key_valid(const char *key)
{
    if (!key || !key[0] || key[0] == '/')
        return 0;
    const char *p = key;
    while (*p) {
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (*e == '\0')
            break;
        p = e + 1;
        if (*p == '\0')
            return 0; /* trailing '/' */
    }
    return 1;
}

static int key_path(struct file_store *fs, const char *key, char *path, size_t pathlen)
{
    if (!key_valid(key))
        return -EINVAL;
    int n = snprintf(path, pathlen, "%s/%s", fs->root, key);
    return n < 0 || (size_t)n >= pathlen ? -ENAMETOOLONG : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static uint64_t path_hash(const char *p)
{
    uint64_t h = 1469598103934665603ULL;
    while (*p)
        h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
    return h;
}

/* Makes every rename into `dir` done before this call durable. */
static int dirsync(struct file_store *fs, const char *dir)
{
    struct dirsync *d = &fs->sync[path_hash(dir) % DIRSYNC_SLOTS];
    pthread_mutex_lock(&d->lock);
    if (!d->dir || strcmp(d->dir, dir) != 0) {
        char *copy = d->users == 0 ? strdup(dir) : NULL;
        if (!copy) { /* slot busy with another directory: sync alone */
            pthread_mutex_unlock(&d->lock);
            return fsync_dir(dir);
        }
        free(d->dir);
        d->dir = copy;
        d->requested = d->done = 0;
    }
    d->users++;
    uint64_t ticket = ++d->requested;
    int rc = 0;
    while (d->done < ticket && rc == 0) {
        if (d->syncing) {
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        d->syncing = true;
        uint64_t upto = d->requested;
        pthread_mutex_unlock(&d->lock);
        rc = fsync_dir(dir);
        pthread_mutex_lock(&d->lock);
        d->syncing = false;
        if (rc == 0)
            d->done = upto; /* a failure leaves the others to try themselves */
        pthread_cond_broadcast(&d->cond);
    }
    d->users--;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* Creates the missing directories of `dir` below `base` (which must
 * exist), making each creation durable by syncing its parent. */
static int mkdir_below(const char *base, const char *dir)
{
    char buf[PATH_MAX];
    size_t blen = strlen(base);

    if (strlen(dir) >= sizeof(buf))
        return -ENAMETOOLONG;
    if (strlen(dir) <= blen)
        return 0;
    strcpy(buf, dir);
    for (char *p = buf + blen + 1;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        /* on EEXIST another thread may still be syncing its creation:
         * sync the parent anyway (this path is rare) */
        if (mkdir(buf, 0755) == 0 || errno == EEXIST) {
            char *last = strrchr(buf, '/');
            *last = '\0';
            int rc = fsync_dir(buf);
            *last = '/';
            if (rc < 0)
                return rc;
        } else {
            return -errno;
        }
        if (!slash)
            break;
        *slash = '/';
        p = slash + 1;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes buf[0..len) to a new file; the first `direct` bytes (a multiple
 * of FILE_DIRECT_ALIGN) with O_DIRECT when fd has it, the rest buffered. */
static int write_direct(int fd, const char *buf, size_t len, size_t direct)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || !(fl & O_DIRECT))
        return write_all(fd, buf, len);
    int rc = write_all(fd, buf, direct);
    if (rc == -EINVAL) { /* the device wants another alignment */
        if (fcntl(fd, F_SETFL, fl & ~O_DIRECT) < 0 || ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
            return -errno;
        return write_all(fd, buf, len);
    }
    if (rc == 0 && direct < len) {
        if (fcntl(fd, F_SETFL, fl & ~O_DIRECT) < 0)
            return -errno;
        rc = write_all(fd, buf + direct, len - direct);
    }
    return rc;
}

/* Opens a fresh temp file next to `path`; creates missing directories. */
static int open_tmp(struct file_store *fs, const char *path, char *tmp, size_t tmplen, int extra)
{
    const char *slash = strrchr(path, '/');
    int n = snprintf(tmp, tmplen, "%.*s/" FILE_TMP_PREFIX "%d.%lu", (int)(slash - path), path, (int)getpid(),
                     atomic_fetch_add(&fs->tmp_seq, 1));
    if (n < 0 || (size_t)n >= tmplen)
        return -ENAMETOOLONG;
    for (int attempt = 0;; attempt++) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | extra, 0644);
        if (fd >= 0)
            return fd;
        if (errno == EINVAL && extra) { /* no O_DIRECT here (tmpfs) */
            unlink(tmp);
            extra = 0;
            continue;
        }
        if (errno != ENOENT || attempt > 0)
            return -errno;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
        int rc = mkdir_below(fs->root, dir);
        if (rc < 0)
            return rc;
    }
}

static int file_put(struct store *s, const char *key, const void *buf, size_t len)
{
    struct file_store *fs = fs_of(s);
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = key_path(fs, key, path, sizeof(path));
    if (rc < 0)
        return rc;
    /* Page-aligned whole pages go around the page cache: the data is
     * on its way to disk anyway (fsync), and copying it into the cache
     * cost more CPU than the rest of the write path together. */
    size_t direct = ((uintptr_t)buf % FILE_DIRECT_ALIGN) == 0 ? len & ~(size_t)(FILE_DIRECT_ALIGN - 1) : 0;
    int fd = open_tmp(fs, path, tmp, sizeof(tmp), direct ? O_DIRECT : 0);
    if (fd < 0)
        return fd;
    rc = write_direct(fd, buf, len, direct);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    *strrchr(path, '/') = '\0';
    return dirsync(fs, path);
}

static int file_get(struct store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got)
{
    char path[PATH_MAX];
    int rc = key_path(fs_of(s), key, path, sizeof(path));
    *got = 0;
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* ask for the whole range at once: left to itself the kernel reads a
     * cold file in readahead-window steps, waiting for each */
    if (len > 256 * 1024)
        posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    *got = done;
    return rc;
}

static int file_head(struct store *s, const char *key, uint64_t *size)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = key_path(fs_of(s), key, path, sizeof(path));
    if (rc < 0)
        return rc;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int file_del(struct store *s, const char *key)
{
    char path[PATH_MAX];
    int rc = key_path(fs_of(s), key, path, sizeof(path));
    if (rc < 0)
        return rc;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* --- list ------------------------------------------------------------- */

struct list_walk {
    const char *prefix;
    const char *start_after; /* NULL = none */
    store_list_fn fn;
    void *arg;
};

/* One directory entry; `sortkey` is the name, plus '/' for a directory, so
 * that sorting entries sorts the keys beneath them lexically. */
struct list_ent {
    char *sortkey;
    int is_dir;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct list_ent *)a)->sortkey, ((const struct list_ent *)b)->sortkey);
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Reads the entries of `dir`; *out malloc'ed with its sortkeys. */
static int read_entries(const char *dir, struct list_ent **out, size_t *nout)
{
    DIR *d = opendir(dir);
    struct list_ent *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;

    *out = NULL;
    *nout = 0;
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                                     has_prefix(de->d_name, FILE_TMP_PREFIX)))
            continue;
        int is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            is_dir = S_ISDIR(st.st_mode);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct list_ent *ne = realloc(ents, cap * sizeof(*ents));
            if (!ne) {
                rc = -ENOMEM;
                break;
            }
            ents = ne;
        }
        size_t len = strlen(de->d_name);
        char *k = malloc(len + 2);
        if (!k) {
            rc = -ENOMEM;
            break;
        }
        memcpy(k, de->d_name, len);
        k[len] = is_dir ? '/' : '\0';
        k[len + 1] = '\0';
        ents[n].sortkey = k;
        ents[n++].is_dir = is_dir;
    }
    closedir(d);
    if (n > 1)
        qsort(ents, n, sizeof(*ents), ent_cmp);
    *out = ents;
    *nout = n;
    return rc;
}

static void free_entries(struct list_ent *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ents[i].sortkey);
    free(ents);
}

/* Whether a directory whose keys all begin with `dkey` (ending in '/')
 * can hold a key wanted by the walk. */
static int dir_wanted(const struct list_walk *w, const char *dkey)
{
    if (!has_prefix(dkey, w->prefix) && !has_prefix(w->prefix, dkey))
        return 0;
    if (w->start_after && strcmp(dkey, w->start_after) < 0 && !has_prefix(w->start_after, dkey))
        return 0; /* every key below sorts before start_after */
    return 1;
}

static int walk_dir(const struct list_walk *w, const char *root, const char *rel);

static int walk_file(const struct list_walk *w, const char *root, const char *key)
{
    char path[PATH_MAX];
    struct stat st;

    if (!has_prefix(key, w->prefix) || (w->start_after && strcmp(key, w->start_after) <= 0))
        return 0;
    int n = snprintf(path, sizeof(path), "%s/%s", root, key);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno; /* deleted meanwhile */
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return w->fn(w->arg, key, (uint64_t)st.st_size, mtime) ? 1 : 0;
}

/* Walks directory `rel` ("" or ending in '/'); 1 = stopped by fn. */
static int walk_dir(const struct list_walk *w, const char *root, const char *rel)
{
    char dir[PATH_MAX], key[PATH_MAX];
    struct list_ent *ents;
    size_t n;

    int dlen = snprintf(dir, sizeof(dir), "%s/%s", root, rel);
    if (dlen < 0 || (size_t)dlen >= sizeof(dir))
        return 0;
    int rc = read_entries(dir, &ents, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int len = snprintf(key, sizeof(key), "%s%s", rel, ents[i].sortkey);
        if (len < 0 || (size_t)len >= sizeof(key))
            continue;
        if (ents[i].is_dir)
            rc = dir_wanted(w, key) ? walk_dir(w, root, key) : 0;
        else
            rc = walk_file(w, root, key);
    }
    free_entries(ents, n);
    return rc;
}

static int file_list(struct store *s, const char *prefix, const char *start_after, store_list_fn fn, void *arg)
{
    struct file_store *fs = fs_of(s);
    struct list_walk w = {prefix ? prefix : "", start_after, fn, arg};
    char rel[PATH_MAX];

    /* start at the deepest directory the prefix names completely */
    const char *slash = strrchr(w.prefix, '/');
    size_t rlen = slash ? (size_t)(slash - w.prefix + 1) : 0;
    if (rlen >= sizeof(rel))
        return -ENAMETOOLONG;
    memcpy(rel, w.prefix, rlen);
    rel[rlen] = '\0';
    if (rlen && !dir_wanted(&w, rel))
        return 0;
    int rc = walk_dir(&w, fs->root, rel);
    return rc > 0 ? 0 : rc;
}

/* --- open / check ------------------------------------------------------ */

static int mkdir_all(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        if (c == '\0')
            return 0;
        *p = c;
    }
}

static int file_check(struct store *s, char *err, size_t errlen)
{
    struct file_store *fs = fs_of(s);
    char key[64], back[16];
    size_t got = 0;
    const char probe[] = "tidefs-probe";

    int rc = mkdir_all(fs->root);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create directory %s: %s", fs->root, strerror(-rc));
        return rc;
    }
    snprintf(key, sizeof(key), "tidefs-check-%d-%lld", (int)getpid(), (long long)time(NULL));
    rc = file_put(s, key, probe, sizeof(probe));
    if (rc < 0) {
        snprintf(err, errlen, "cannot write to %s: %s", fs->root, strerror(-rc));
        return rc;
    }
    rc = file_get(s, key, 0, sizeof(back), back, &got);
    if (rc == 0 && (got != sizeof(probe) || memcmp(back, probe, got) != 0))
        rc = -EIO;
    if (rc < 0) {
        file_del(s, key);
        snprintf(err, errlen, "cannot read back a probe object in %s: %s", fs->root, strerror(-rc));
        return rc;
    }
    rc = file_del(s, key);
    if (rc < 0)
        snprintf(err, errlen, "cannot delete a probe object in %s: %s", fs->root, strerror(-rc));
    return rc;
}

/* Absolute form of `dir` without trailing '/', so a later chdir (the
 * daemon goes to "/") changes nothing. */
static char *absolute_dir(const char *dir)
{
    char cwd[PATH_MAX], *out;
    size_t len = strlen(dir);

    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (dir[0] == '/')
        return strndup(dir, len);
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    if (asprintf(&out, "%s/%.*s", strcmp(cwd, "/") ? cwd : "", (int)len, dir) < 0)
        return NULL;
    return out;
}

static int file_open(const struct store_options *opt, struct store **out)
{
    if (!opt->bucket || !opt->bucket[0])
        return -EINVAL;
    struct file_store *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    fs->root = absolute_dir(opt->bucket);
    if (!fs->root) {
        free(fs);
        return errno ? -errno : -ENOMEM;
    }
    for (int i = 0; i < DIRSYNC_SLOTS; i++) {
        pthread_mutex_init(&fs->sync[i].lock, NULL);
        pthread_cond_init(&fs->sync[i].cond, NULL);
    }
    *out = &fs->base;
    return 0;
}

static void file_free(struct store *s)
{
    if (!s)
        return;
    struct file_store *fs = fs_of(s);
    for (int i = 0; i < DIRSYNC_SLOTS; i++) {
        pthread_cond_destroy(&fs->sync[i].cond);
        pthread_mutex_destroy(&fs->sync[i].lock);
        free(fs->sync[i].dir);
    }
    free(fs->root);
    free(fs);
}

const struct store_ops store_file_ops = {
    .name = "file",
    .open = file_open,
    .free = file_free,
    .put = file_put,
    .get = file_get,
    .head = file_head,
    .del = file_del,
    .list = file_list,
    .check = file_check,
};
