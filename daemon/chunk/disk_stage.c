/* SPDX-License-Identifier: Apache-2.0
 *
 * Writeback staging area (see disk_stage_i.h). Paths mirror the disk
 * cache's: <root>/<id/1e6>/<id/1e3>/<id>_<index>_<bsize>. The directory
 * entry of a staged file is made durable too (fsync of its directory), or
 * a power cut could lose a block whose slice metadata already refers to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk/disk_cache_i.h"
#include "chunk/disk_stage_i.h"

struct disk_stage {
    char *root; /* <dir>/<volume>/rawstaging; owned */
    atomic_ulong seq;
    atomic_ulong count;
};

static int ds_path(const struct disk_stage *ds, char *buf, size_t len, uint64_t id, uint32_t index,
                   uint32_t bsize)
{
    int n = snprintf(buf, len, "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "_%" PRIu32 "_%" PRIu32, ds->root,
                     id / 1000000, id / 1000, id, index, bsize);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int dstage_new(const char *dir, const char *volume, struct disk_stage **out)
{
    struct disk_stage *ds = calloc(1, sizeof(*ds));
    if (!ds || asprintf(&ds->root, "%s/%s/rawstaging", dir, volume) < 0) {
        free(ds);
        return -ENOMEM;
    }
    *out = ds;
    return 0;
}

void dstage_free(struct disk_stage *ds)
{
    if (!ds)
        return;
    free(ds->root);
    free(ds);
}

static void sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int dstage_put(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize, const char *buf)
{
    char path[PATH_MAX];
    int rc = ds_path(ds, path, sizeof(path), id, index, bsize);
    if (rc == 0)
        rc = dcache_file_write(path, atomic_fetch_add(&ds->seq, 1), bsize, buf, true);
    if (rc == 0) {
        sync_dir_of(path);
        atomic_fetch_add(&ds->count, 1);
    }
    return rc;
}

int dstage_get(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize, char *buf)
{
    char path[PATH_MAX];
    int rc = ds_path(ds, path, sizeof(path), id, index, bsize);
    return rc < 0 ? -ENOENT : dcache_file_read(path, bsize, buf);
}

int dstage_remove(struct disk_stage *ds, uint64_t id, uint32_t index, uint32_t bsize)
{
    char path[PATH_MAX];
    if (ds_path(ds, path, sizeof(path), id, index, bsize) < 0 || unlink(path) < 0)
        return -ENOENT;
    atomic_fetch_sub(&ds->count, 1);
    return 0;
}

static void ds_scan_dir(struct disk_stage *ds, const char *path, int depth, dstage_fn fn, void *arg)
{
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (depth < 2) {
            char sub[PATH_MAX];
            int n = snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            if (n > 0 && (size_t)n < sizeof(sub))
                ds_scan_dir(ds, sub, depth + 1, fn, arg);
            continue;
        }
        uint64_t id;
        uint32_t index, bsize;
        int used = 0;
        if (sscanf(de->d_name, "%" SCNu64 "_%" SCNu32 "_%" SCNu32 "%n", &id, &index, &bsize, &used) != 3 ||
            de->d_name[used] != '\0') {
            unlinkat(dirfd(d), de->d_name, 0); /* temp file of a crashed stage: never committed */
            continue;
        }
        atomic_fetch_add(&ds->count, 1);
        fn(arg, id, index, bsize);
    }
    closedir(d);
}

void dstage_scan(struct disk_stage *ds, dstage_fn fn, void *arg)
{
    ds_scan_dir(ds, ds->root, 0, fn, arg);
}

uint64_t dstage_count(struct disk_stage *ds)
{
    return atomic_load(&ds->count);
}
