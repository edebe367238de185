/* SPDX-License-Identifier: Apache-2.0
 *
 * Disk block cache (see disk_cache_i.h).
 *
 * File: <root>/<id/1e6>/<id/1e3>/<id>_<index>_<bsize>, holding the bsize
 * data bytes then a trailer: the CRC-32C of every 64 KiB segment of the
 * data (little endian) and the magic "TDC2". Per-segment checksums let a
 * small random read verify just the segments it reads instead of the whole
 * block. Not fsynced: a torn file after a crash fails its checksum (or its
 * size) and is dropped.
 *
 * Locking: `lock` protects the index (hash + LRU + bytes); file I/O runs
 * outside it. An entry is indexed before its file is complete, so a get
 * that races a put just misses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "object/crc32c.h"
#include "chunk/disk_cache_i.h"

#define DC_SEG (64u << 10)
#define DC_MAGIC "TDC2"
#define DC_MAX_SEGS 1024 /* a 64 MiB block (a whole chunk) */
#define DC_MAP_MIN (128u << 10)

struct dc_ent {
    struct dc_ent *hnext;
    struct dc_ent *lprev, *lnext; /* lru.lnext is the most recent */
    uint64_t id;
    uint32_t index;
    uint32_t bsize;
};

struct disk_cache {
    char *root; /* <dir>/<volume>/raw; owned */
    uint64_t capacity;
    double free_ratio;       /* keep this share of the file system free */
    atomic_llong checked_ns; /* last free-space check (monotonic) */
    atomic_bool low_space;   /* result of that check */
    atomic_ulong tmp_seq;
    pthread_mutex_t lock;
    struct dc_ent **buckets; /* protected by lock, like all below */
    size_t nbuckets;
    size_t count;
    struct dc_ent lru;
    uint64_t bytes;
};

static uint32_t dc_nsegs(uint32_t bsize)
{
    return (bsize + DC_SEG - 1) / DC_SEG;
}

static uint64_t dc_file_size(uint32_t bsize)
{
    return (uint64_t)bsize + 4ull * dc_nsegs(bsize) + 4;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether data[0..n) (segments first.. of a block of bsize) matches the
 * trailer's checksums `crcs` (for those segments). */
static bool dc_segs_ok(const char *data, size_t n, const unsigned char *crcs)
{
    for (size_t off = 0, i = 0; off < n; off += DC_SEG, i++) {
        size_t len = n - off < DC_SEG ? n - off : DC_SEG;
        if (crc32c(0, data + off, len) != get_le32(crcs + 4 * i))
            return false;
    }
    return true;
}
static size_t dc_slot(const struct disk_cache *dc, uint64_t id, uint32_t index)
{
    uint64_t h = (id * 0x9E3779B97F4A7C15ULL) ^ (index * 0xC2B2AE3D27D4EB4FULL);
    return (size_t)((h ^ (h >> 31)) % dc->nbuckets);
}

static int dc_path(const struct disk_cache *dc, char *buf, size_t len, uint64_t id, uint32_t index, uint32_t bsize)
{
    int n = snprintf(buf, len, "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "_%" PRIu32 "_%" PRIu32, dc->root,
                     id / 1000000, id / 1000, id, index, bsize);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* --- index (callers hold dc->lock) ------------------------------------ */

static struct dc_ent *dc_find(struct disk_cache *dc, uint64_t id, uint32_t index)
{
    for (struct dc_ent *e = dc->buckets[dc_slot(dc, id, index)]; e; e = e->hnext) {
        if (e->id == id && e->index == index)
            return e;
    }
    return NULL;
}

static void dc_lru_unlink(struct dc_ent *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
}

static void dc_lru_front(struct disk_cache *dc, struct dc_ent *e)
{
    e->lnext = dc->lru.lnext;
    e->lprev = &dc->lru;
    dc->lru.lnext->lprev = e;
    dc->lru.lnext = e;
}

static void dc_grow(struct disk_cache *dc)
{
    size_t nb = dc->nbuckets * 2;
    struct dc_ent **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    struct dc_ent **old = dc->buckets;
    size_t oldn = dc->nbuckets;
    dc->buckets = b;
    dc->nbuckets = nb;
    for (size_t i = 0; i < oldn; i++) {
        for (struct dc_ent *e = old[i], *n; e; e = n) {
            n = e->hnext;
            size_t s = dc_slot(dc, e->id, e->index);
            e->hnext = b[s];
            b[s] = e;
        }
    }
    free(old);
}

static struct dc_ent *dc_add(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize)
{
    struct dc_ent *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->id = id;
    e->index = index;
    e->bsize = bsize;
    if (dc->count >= dc->nbuckets)
        dc_grow(dc);
    size_t s = dc_slot(dc, id, index);
    e->hnext = dc->buckets[s];
    dc->buckets[s] = e;
    dc_lru_front(dc, e);
    dc->count++;
    dc->bytes += dc_file_size(bsize);
    return e;
}

static void dc_remove(struct disk_cache *dc, struct dc_ent *e)
{
    struct dc_ent **pp = &dc->buckets[dc_slot(dc, e->id, e->index)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    dc_lru_unlink(e);
    dc->count--;
    dc->bytes -= dc_file_size(e->bsize);
}

/* Evicts until `need` more bytes fit; victims' paths are unlinked after
 * the lock is dropped. Caller holds dc->lock; returns the victim list. */
static struct dc_ent *dc_make_room(struct disk_cache *dc, uint64_t need)
{
    struct dc_ent *victims = NULL;
    while (dc->bytes + need > dc->capacity && dc->lru.lprev != &dc->lru) {
        struct dc_ent *v = dc->lru.lprev;
        dc_remove(dc, v);
        v->hnext = victims;
        victims = v;
    }
    return victims;
}

/* Removes the files of victims returned by dc_make_room and frees them;
 * called without the lock. */
static void dc_unlink_victims(struct disk_cache *dc, struct dc_ent *victims)
{
    for (struct dc_ent *v = victims, *n; v; v = n) {
        char vp[PATH_MAX];
        n = v->hnext;
        if (dc_path(dc, vp, sizeof(vp), v->id, v->index, v->bsize) == 0)
            unlink(vp);
        free(v);
    }
}

/* --- startup scan ----------------------------------------------------- */

static int mkdir_p(const char *path)
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
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        if (!c)
            return 0;
        *p = c;
    }
}

/* Indexes one file found by the scan; removes leftovers and junk. */
static void dc_scan_file(struct disk_cache *dc, int dfd, const char *name)
{
    uint64_t id;
    uint32_t index, bsize;
    int used = 0;
    struct stat st;

    if (sscanf(name, "%" SCNu64 "_%" SCNu32 "_%" SCNu32 "%n", &id, &index, &bsize, &used) != 3 ||
        name[used] != '\0' || fstatat(dfd, name, &st, 0) < 0 || (uint64_t)st.st_size != dc_file_size(bsize) ||
        dc_find(dc, id, index)) {
        unlinkat(dfd, name, 0); /* temp file of a crashed put, or junk */
        return;
    }
    dc_add(dc, id, index, bsize);
}

static void dc_scan_dir(struct disk_cache *dc, const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        if (depth < 2) {
            char sub[PATH_MAX];
            int n = snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            if (n > 0 && (size_t)n < sizeof(sub))
                dc_scan_dir(dc, sub, depth + 1);
        } else {
            dc_scan_file(dc, dirfd(d), de->d_name);
        }
    }
    closedir(d);
}

int dcache_new(const char *dir, const char *volume, uint64_t capacity, double free_ratio, struct disk_cache **out)
{
    struct disk_cache *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return -ENOMEM;
    dc->capacity = capacity;
    dc->free_ratio = free_ratio;
    dc->nbuckets = 1024;
    dc->buckets = calloc(dc->nbuckets, sizeof(*dc->buckets));
    dc->lru.lnext = dc->lru.lprev = &dc->lru;
    pthread_mutex_init(&dc->lock, NULL);
    int rc = -ENOMEM;
    if (dc->buckets && asprintf(&dc->root, "%s/%s/raw", dir, volume) >= 0)
        rc = mkdir_p(dc->root);
    else
        dc->root = NULL;
    if (rc < 0) {
        dcache_free(dc);
        return rc;
    }
    dc_scan_dir(dc, dc->root, 0);
    dc_unlink_victims(dc, dc_make_room(dc, 0)); /* a smaller --cache-size than last time */
    *out = dc;
    return 0;
}

void dcache_free(struct disk_cache *dc)
{
    if (!dc)
        return;
    for (struct dc_ent *e = dc->lru.lnext, *n; e != &dc->lru; e = n) {
        n = e->lnext;
        free(e);
    }
    pthread_mutex_destroy(&dc->lock);
    free(dc->buckets);
    free(dc->root);
    free(dc);
}

/* --- get / put / drop ------------------------------------------------- */

/* Reads exactly n bytes at off; -EIO when the file is shorter. */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r <= 0)
            return -EIO;
        got += (size_t)r;
    }
    return 0;
}

/* Opens a cache file and checks its size and magic; the fd or -errno. */
static int dc_open_checked(const char *path, uint32_t bsize)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    struct stat st;
    char magic[4];
    if (dc_nsegs(bsize) > DC_MAX_SEGS || fstat(fd, &st) < 0 || (uint64_t)st.st_size != dc_file_size(bsize) ||
        pread_all(fd, magic, 4, (off_t)dc_file_size(bsize) - 4) < 0 || memcmp(magic, DC_MAGIC, 4) != 0) {
        close(fd);
        return -EIO;
    }
    return fd;
}

int dcache_file_read(const char *path, uint32_t bsize, char *buf)
{
    unsigned char crcs[4 * DC_MAX_SEGS];
    int fd = dc_open_checked(path, bsize);
    if (fd < 0)
        return fd;
    int rc = pread_all(fd, buf, bsize, 0);
    if (rc == 0)
        rc = pread_all(fd, crcs, 4 * dc_nsegs(bsize), bsize);
    close(fd);
    return rc == 0 && dc_segs_ok(buf, bsize, crcs) ? 0 : -EIO;
}

int dcache_file_read_range(const char *path, uint32_t bsize, uint32_t off, uint32_t len, char *dst)
{
    unsigned char crcs[4 * DC_MAX_SEGS];
    if ((uint64_t)off + len > bsize || len == 0)
        return -EINVAL;
    uint32_t s0 = off / DC_SEG, s1 = (off + len - 1) / DC_SEG;
    uint32_t a = s0 * DC_SEG, b = (s1 + 1) * DC_SEG < bsize ? (s1 + 1) * DC_SEG : bsize;
    /* big ranges in a mapping of their own: malloc would keep them in
     * per-thread arenas, outside the memory budget */
    bool mapped = b - a > DC_MAP_MIN;
    char *tmp = mapped ? mmap(NULL, b - a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : malloc(b - a);
    if (tmp == MAP_FAILED)
        tmp = NULL;
    int fd = tmp ? dc_open_checked(path, bsize) : -ENOMEM;
    int rc = fd < 0 ? fd : pread_all(fd, tmp, b - a, a);
    if (rc == 0)
        rc = pread_all(fd, crcs, 4 * (s1 - s0 + 1), (off_t)bsize + 4 * s0);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && !dc_segs_ok(tmp, b - a, crcs))
        rc = -EIO;
    if (rc == 0)
        memcpy(dst, tmp + (off - a), len);
    if (mapped && tmp)
        munmap(tmp, b - a);
    else
        free(tmp);
    return rc;
}

int dcache_get_range(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, uint32_t off, uint32_t len,
                     char *dst)
{
    char path[PATH_MAX];
    if (dc_path(dc, path, sizeof(path), id, index, bsize) < 0)
        return -ENOENT;
    pthread_mutex_lock(&dc->lock);
    struct dc_ent *e = dc_find(dc, id, index);
    if (e) {
        dc_lru_unlink(e);
        dc_lru_front(dc, e);
    }
    pthread_mutex_unlock(&dc->lock);
    if (!e)
        return -ENOENT;
    int rc = dcache_file_read_range(path, bsize, off, len, dst);
    if (rc < 0 && rc != -EINVAL && rc != -ENOMEM)
        dcache_drop(dc, id, index, bsize);
    return rc < 0 ? -ENOENT : 0;
}

int dcache_get(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, char *buf)
{
    char path[PATH_MAX];
    if (dc_path(dc, path, sizeof(path), id, index, bsize) < 0)
        return -ENOENT;
    pthread_mutex_lock(&dc->lock);
    struct dc_ent *e = dc_find(dc, id, index);
    if (e) {
        dc_lru_unlink(e);
        dc_lru_front(dc, e);
    }
    pthread_mutex_unlock(&dc->lock);
    if (!e)
        return -ENOENT;
    int rc = dcache_file_read(path, bsize, buf);
    if (rc < 0) /* damaged, or gone: unindex it (and remove what is left) */
        dcache_drop(dc, id, index, bsize);
    return rc < 0 ? -ENOENT : 0;
}

int dcache_file_write(const char *path, uint64_t seq, uint32_t bsize, const char *buf, bool durable)
{
    char tmp[PATH_MAX + 32];
    unsigned char trailer[4 * DC_MAX_SEGS + 4];
    uint32_t nsegs = dc_nsegs(bsize);
    if (nsegs > DC_MAX_SEGS)
        return -EINVAL;
    for (uint32_t i = 0; i < nsegs; i++) {
        uint32_t len = bsize - i * DC_SEG < DC_SEG ? bsize - i * DC_SEG : DC_SEG;
        uint32_t c = crc32c(0, buf + (size_t)i * DC_SEG, len);
        for (int k = 0; k < 4; k++)
            trailer[4 * i + k] = (unsigned char)(c >> (8 * k));
    }
    memcpy(trailer + 4 * nsegs, DC_MAGIC, 4);

    snprintf(tmp, sizeof(tmp), "%s.tmp%" PRIu64, path, seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
        mkdir_p(dir);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return -errno;
    struct iovec iov[2] = {{(void *)buf, bsize}, {trailer, 4 * nsegs + 4}};
    ssize_t n = pwritev(fd, iov, 2, 0);
    int rc = n == (ssize_t)dc_file_size(bsize) ? 0 : n < 0 ? -errno : -EIO;
    if (rc == 0 && durable && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* Whether the file system holding the cache has less free space than
 * free_ratio asks for; checked at most once a second. */
static bool dc_low_space(struct disk_cache *dc)
{
    if (dc->free_ratio <= 0)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (now - atomic_load(&dc->checked_ns) < 1000000000LL)
        return atomic_load(&dc->low_space);
    atomic_store(&dc->checked_ns, now);
    struct statvfs sv;
    bool low = statvfs(dc->root, &sv) == 0 && sv.f_blocks > 0 &&
               (double)sv.f_bavail < dc->free_ratio * (double)sv.f_blocks;
    atomic_store(&dc->low_space, low);
    return low;
}

void dcache_put(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize, const char *buf)
{
    char path[PATH_MAX];
    if (dc_file_size(bsize) > dc->capacity || dc_path(dc, path, sizeof(path), id, index, bsize) < 0)
        return;
    bool low = dc_low_space(dc);
    pthread_mutex_lock(&dc->lock);
    if (dc_find(dc, id, index)) {
        pthread_mutex_unlock(&dc->lock);
        return;
    }
    /* the disk is fuller than --free-space-ratio allows: give back a few
     * blocks' worth (down to nothing over time) and cache nothing new */
    uint64_t keep = dc->bytes > 4 * dc_file_size(bsize) ? dc->bytes - 4 * dc_file_size(bsize) : 0;
    struct dc_ent *victims = dc_make_room(dc, !low ? dc_file_size(bsize) : keep < dc->capacity ? dc->capacity - keep : 0);
    struct dc_ent *e = low ? NULL : dc_add(dc, id, index, bsize);
    pthread_mutex_unlock(&dc->lock);

    dc_unlink_victims(dc, victims);
    if (e && dcache_file_write(path, atomic_fetch_add(&dc->tmp_seq, 1), bsize, buf, false) < 0) {
        dcache_drop(dc, id, index, bsize);
        return;
    }
    /* evicted while being written: its unlink came before our rename */
    pthread_mutex_lock(&dc->lock);
    bool gone = e && dc_find(dc, id, index) != e;
    pthread_mutex_unlock(&dc->lock);
    if (gone)
        unlink(path);
}

void dcache_drop(struct disk_cache *dc, uint64_t id, uint32_t index, uint32_t bsize)
{
    char path[PATH_MAX];
    pthread_mutex_lock(&dc->lock);
    struct dc_ent *e = dc_find(dc, id, index);
    if (e)
        dc_remove(dc, e);
    pthread_mutex_unlock(&dc->lock);
    if (!e)
        return;
    free(e);
    if (dc_path(dc, path, sizeof(path), id, index, bsize) == 0)
        unlink(path);
}

bool dcache_has(struct disk_cache *dc, uint64_t id, uint32_t index)
{
    pthread_mutex_lock(&dc->lock);
    bool found = dc_find(dc, id, index) != NULL;
    pthread_mutex_unlock(&dc->lock);
    return found;
}

uint64_t dcache_bytes(struct disk_cache *dc)
{
    pthread_mutex_lock(&dc->lock);
    uint64_t b = dc->bytes;
    pthread_mutex_unlock(&dc->lock);
    return b;
}
