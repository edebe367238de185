/* SPDX-License-Identifier: Apache-2.0
 *
 * CSI volume operations on the metadata engine, without a FUSE mount.
 */
#include "csi_volume.h"

#include "meta/format.h"
#include "meta/meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RMTREE_BATCH 256
#define RMTREE_MAX_DEPTH 65536
#define OPEN_RETRIES 10 /* about 5 s in all */

struct csi_volume {
    const struct meta_ops *ops;
    struct meta *m;
};

/* Opening can meet a transient -EAGAIN/-EBUSY (SQLite seen busy while a
 * daemon on the same database starts or stops): retry for a few seconds,
 * the CO would retry the whole call anyway, but slower. */
static int open_engine(const char *metaurl, struct csi_volume *v)
{
    useconds_t wait = 20000;
    int rc;

    for (int tries = 0;; tries++) {
        rc = meta_open_url(metaurl, &v->ops, &v->m);
        if ((rc != -EAGAIN && rc != -EBUSY) || tries == OPEN_RETRIES)
            return rc;
        usleep(wait);
        wait = wait < 640000 ? wait * 2 : wait;
    }
}

int csi_volume_open(const char *metaurl, const char *expected_name, struct csi_volume **out, char *err,
                    size_t errlen)
{
    struct csi_volume *v = calloc(1, sizeof(*v));
    char *json = NULL;
    int rc;

    if (!v)
        return -ENOMEM;
    rc = open_engine(metaurl, v);
    if (rc) {
        snprintf(err, errlen, "cannot open the metadata engine named by secret metaurl: %s", strerror(-rc));
        free(v);
        return rc == -EINVAL ? -EINVAL : rc;
    }
    rc = v->ops->get_setting(v->m, "format", &json);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "the tidefs volume named by secret metaurl is not formatted");
        rc = -ENOMEDIUM;
    } else if (rc) {
        snprintf(err, errlen, "cannot read the volume format: %s", strerror(-rc));
    } else if (expected_name && *expected_name) {
        struct format f;

        rc = format_from_json(json, &f);
        if (rc)
            snprintf(err, errlen, "the volume format cannot be parsed");
        else if (strcmp(f.name, expected_name) != 0) {
            snprintf(err, errlen, "secret name does not match the name of the volume at metaurl");
            rc = -EINVAL;
        }
        format_clear(&f);
    }
    free(json);
    if (rc) {
        csi_volume_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

void csi_volume_close(struct csi_volume *v)
{
    if (!v)
        return;
    v->ops->close(v->m);
    free(v);
}

static struct meta_ctx root_ctx(void)
{
    return (struct meta_ctx){.uid = 0, .gid = 0, .pid = (uint32_t)getpid()};
}

int csi_volume_mkdir(struct csi_volume *v, const char *name, bool *created)
{
    struct meta_ctx ctx = root_ctx();
    struct meta_attr attr;
    /* 0777: pods of any uid write into their PV; kubelet cannot chown a
     * FUSE volume for fsGroup */
    int rc = v->ops->mknod(v->m, &ctx, META_ROOT_INO, name, S_IFDIR | 0777, 0, NULL, &attr);

    *created = rc == 0;
    if (rc == -EEXIST)
        return csi_volume_dir_exists(v, name);
    return rc;
}

int csi_volume_dir_exists(struct csi_volume *v, const char *name)
{
    struct meta_attr attr;
    int rc = v->ops->lookup(v->m, META_ROOT_INO, name, &attr);

    if (rc)
        return rc;
    return S_ISDIR(attr.mode) ? 0 : -ENOTDIR;
}

/* ---- recursive delete ---- */

struct rm_frame {
    uint64_t parent;
    uint64_t ino;
    char name[META_NAME_MAX + 1];
};

struct rm_batch {
    size_t n;
    struct {
        char name[META_NAME_MAX + 1];
        uint64_t ino;
        bool dir;
    } e[RMTREE_BATCH];
};

static int collect_fn(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    struct rm_batch *b = arg;

    (void)next;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    snprintf(b->e[b->n].name, sizeof(b->e[b->n].name), "%s", name);
    b->e[b->n].ino = attr->ino;
    b->e[b->n].dir = S_ISDIR(attr->mode);
    return ++b->n == RMTREE_BATCH ? 1 : 0;
}

static int push_frame(struct rm_frame **stack, size_t *n, size_t *cap, uint64_t parent, uint64_t ino,
                      const char *name)
{
    if (*n == RMTREE_MAX_DEPTH)
        return -ELOOP;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct rm_frame *s = realloc(*stack, ncap * sizeof(*s));

        if (!s)
            return -ENOMEM;
        *stack = s;
        *cap = ncap;
    }
    (*stack)[*n].parent = parent;
    (*stack)[*n].ino = ino;
    snprintf((*stack)[*n].name, sizeof((*stack)[*n].name), "%s", name);
    (*n)++;
    return 0;
}

/* One step on the top directory: unlink a batch of its non-directories and
 * descend into its first subdirectory, or rmdir it when empty. */
static int rmtree_step(struct csi_volume *v, struct rm_batch *b, struct rm_frame **stack, size_t *n, size_t *cap)
{
    struct rm_frame top = (*stack)[*n - 1];
    int rc;

    b->n = 0;
    rc = v->ops->readdir(v->m, top.ino, 0, false, collect_fn, b);
    if (rc)
        return rc;
    if (b->n == 0) {
        rc = v->ops->rmdir(v->m, top.parent, top.name);
        (*n)--;
        return rc == -ENOENT ? 0 : rc;
    }
    size_t removed = 0;

    for (size_t i = 0; i < b->n; i++) {
        if (b->e[i].dir)
            return push_frame(stack, n, cap, top.ino, b->e[i].ino, b->e[i].name);
        rc = v->ops->unlink(v->m, top.ino, b->e[i].name);
        if (rc && rc != -ENOENT)
            return rc;
        removed += rc == 0;
    }
    /* entries that readdir lists but unlink cannot find: stop, don't spin */
    return removed ? 0 : -EIO;
}

int csi_volume_rmtree(struct csi_volume *v, const char *name)
{
    struct meta_attr attr;
    struct rm_frame *stack = NULL;
    size_t n = 0, cap = 0;
    struct rm_batch *b;
    int rc = v->ops->lookup(v->m, META_ROOT_INO, name, &attr);

    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    if (!S_ISDIR(attr.mode))
        return -ENOTDIR;
    b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    rc = push_frame(&stack, &n, &cap, META_ROOT_INO, attr.ino, name);
    while (rc == 0 && n > 0)
        rc = rmtree_step(v, b, &stack, &n, &cap);
    free(stack);
    free(b);
    return rc;
}

int csi_volume_resolve(struct csi_volume *v, const char *subpath, uint64_t *ino)
{
    char buf[4096];
    uint64_t cur = META_ROOT_INO;
    char *save = NULL;

    if (snprintf(buf, sizeof(buf), "%s", subpath) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        struct meta_attr attr;
        int rc = v->ops->lookup(v->m, cur, c, &attr);

        if (rc)
            return rc;
        if (S_ISLNK(attr.mode))
            return -ELOOP;
        if (!S_ISDIR(attr.mode))
            return -ENOTDIR;
        cur = attr.ino;
    }
    *ino = cur;
    return 0;
}

/* ---- capacity: the directory quota of /<name> (issue 6) ---- */

/* The directory /<name> and whether the engine has quotas at all. */
static int quota_dir(struct csi_volume *v, const char *name, uint64_t *ino)
{
    struct meta_attr attr;
    int rc;

    if (!v->ops->quota_get || !v->ops->quota_set || !v->ops->quota_delete)
        return -ENOTSUP;
    rc = v->ops->lookup(v->m, META_ROOT_INO, name, &attr);
    if (rc == 0 && !S_ISDIR(attr.mode))
        rc = -ENOTDIR;
    if (rc == 0)
        *ino = attr.ino;
    return rc;
}

int csi_volume_quota_get(struct csi_volume *v, const char *name, uint64_t *bytes)
{
    struct meta_quota q;
    uint64_t ino;
    int rc = quota_dir(v, name, &ino);

    if (rc == 0)
        rc = v->ops->quota_get(v->m, ino, &q);
    if (rc == 0)
        *bytes = q.max_space;
    return rc;
}

int csi_volume_quota_set(struct csi_volume *v, const char *name, uint64_t bytes)
{
    struct meta_quota q = {0};
    uint64_t ino;
    int rc = quota_dir(v, name, &ino);

    if (rc)
        return rc;
    rc = v->ops->quota_get(v->m, ino, &q);
    if (rc == 0 || rc == -ENOENT) /* an inode limit set by hand stays */
        rc = v->ops->quota_set(v->m, ino, bytes, q.max_inodes);
    return rc;
}

int csi_volume_quota_clear(struct csi_volume *v, const char *name)
{
    uint64_t ino;
    int rc = quota_dir(v, name, &ino);

    if (rc == 0)
        rc = v->ops->quota_delete(v->m, ino);
    return rc == -ENOENT ? 0 : rc; /* no directory or no quota: nothing to clear */
}
