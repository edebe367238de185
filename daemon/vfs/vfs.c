/* SPDX-License-Identifier: Apache-2.0
 *
 * VFS namespace operations: thin joins of the metadata engine with the
 * --subdir inode translation, read-only enforcement, and the data path
 * where a namespace change touches data (truncate flushes buffered writes
 * first, so a slice committed later can never resurrect cut-off bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs_i.h"

int vfs_new(const struct vfs_config *cfg, const struct meta_ops *ops, struct meta *m, struct chunk_store *cs,
            const struct format *fmt, struct vfs **out)
{
    struct vfs *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->cfg = *cfg;
    if (v->cfg.root_ino == 0)
        v->cfg.root_ino = META_ROOT_INO;
    v->ops = ops;
    v->m = m;
    v->cs = cs;
    v->fmt = fmt;
    pthread_mutex_init(&v->lock, NULL);
    ops->set_is_open(m, vfs_inode_is_open, v);
    *out = v;
    return 0;
}

void vfs_free(struct vfs *v)
{
    if (!v)
        return;
    v->ops->set_is_open(v->m, NULL, NULL);
    vfs_inode_table_free(v);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

void vfs_set_journal(struct vfs *v, struct vfs_journal *j)
{
    v->journal = j;
}

uint64_t vfs_to_meta(const struct vfs *v, uint64_t ino)
{
    return ino == META_ROOT_INO ? v->cfg.root_ino : ino;
}

uint64_t vfs_from_meta(const struct vfs *v, uint64_t ino)
{
    return ino == v->cfg.root_ino ? META_ROOT_INO : ino;
}

void vfs_attr_out(struct vfs *v, struct meta_attr *a)
{
    uint64_t pending = 0;
    if (S_ISREG(a->mode) && chunk_dirty(v->cs, a->ino, &pending) && pending > a->size)
        a->size = pending;
    a->ino = vfs_from_meta(v, a->ino);
    a->parent = vfs_from_meta(v, a->parent);
}

static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return -ENOENT;
    if (n > META_NAME_MAX)
        return -ENAMETOOLONG;
    return 0;
}

int vfs_lookup(struct vfs *v, uint64_t parent, const char *name, struct meta_attr *out)
{
    int rc = check_name(name);
    if (rc)
        return rc;
    uint64_t p = vfs_to_meta(v, parent);
    if (p == v->cfg.root_ino && strcmp(name, "..") == 0)
        return vfs_getattr(v, parent, out);
    rc = v->ops->lookup(v->m, p, name, out);
    if (rc == 0)
        vfs_attr_out(v, out);
    return rc;
}

int vfs_getattr(struct vfs *v, uint64_t ino, struct meta_attr *out)
{
    int rc = v->ops->getattr(v->m, vfs_to_meta(v, ino), out);
    if (rc == 0)
        vfs_attr_out(v, out);
    return rc;
}

int vfs_setattr(struct vfs *v, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
                struct meta_attr *out)
{
    if (v->cfg.read_only)
        return -EROFS;
    uint64_t mi = vfs_to_meta(v, ino);
    if (to_set & META_SET_SIZE) {
        int rc = chunk_flush(v->cs, mi);
        if (rc)
            return rc;
    }
    int rc = v->ops->setattr(v->m, ctx, mi, to_set, in, out);
    if (rc == 0) {
        if (to_set & META_SET_SIZE) {
            chunk_invalidate(v->cs, mi);
            vfs_layout_changed(v, mi);
        }
        vfs_attr_out(v, out);
    }
    return rc;
}

int vfs_mknod(struct vfs *v, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
              uint64_t rdev, const char *target, struct meta_attr *out)
{
    if (v->cfg.read_only)
        return -EROFS;
    int rc = check_name(name);
    if (rc)
        return rc;
    if (target && strlen(target) >= META_SYMLINK_MAX)
        return -ENAMETOOLONG;
    rc = v->ops->mknod(v->m, ctx, vfs_to_meta(v, parent), name, mode, rdev, target, out);
    if (rc == 0)
        vfs_attr_out(v, out);
    return rc;
}

int vfs_link(struct vfs *v, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out)
{
    if (v->cfg.read_only)
        return -EROFS;
    int rc = check_name(new_name);
    if (rc)
        return rc;
    rc = v->ops->link(v->m, vfs_to_meta(v, ino), vfs_to_meta(v, new_parent), new_name, out);
    if (rc == 0)
        vfs_attr_out(v, out);
    return rc;
}

int vfs_unlink(struct vfs *v, uint64_t parent, const char *name)
{
    if (v->cfg.read_only)
        return -EROFS;
    int rc = check_name(name);
    return rc ? rc : v->ops->unlink(v->m, vfs_to_meta(v, parent), name);
}

int vfs_rmdir(struct vfs *v, uint64_t parent, const char *name)
{
    if (v->cfg.read_only)
        return -EROFS;
    int rc = check_name(name);
    return rc ? rc : v->ops->rmdir(v->m, vfs_to_meta(v, parent), name);
}

int vfs_rename(struct vfs *v, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
               unsigned flags)
{
    if (v->cfg.read_only)
        return -EROFS;
    int rc = check_name(name);
    if (rc == 0)
        rc = check_name(new_name);
    if (rc)
        return rc;
    if (flags & ~(unsigned)(META_RENAME_NOREPLACE | META_RENAME_EXCHANGE))
        return -EINVAL;
    return v->ops->rename(v->m, vfs_to_meta(v, parent), name, vfs_to_meta(v, new_parent), new_name, flags);
}

int vfs_readlink(struct vfs *v, uint64_t ino, char **out)
{
    return v->ops->readlink(v->m, vfs_to_meta(v, ino), out);
}

/* Adapts entries to FUSE numbering before they reach the caller. */
struct readdir_ctx {
    struct vfs *v;
    meta_dirent_fn fn;
    void *arg;
};

static int readdir_entry(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    struct readdir_ctx *c = arg;
    struct meta_attr a = *attr;
    vfs_attr_out(c->v, &a);
    return c->fn(c->arg, name, &a, next);
}

int vfs_readdir(struct vfs *v, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg)
{
    struct readdir_ctx c = {v, fn, arg};
    return v->ops->readdir(v->m, vfs_to_meta(v, ino), off, plus, readdir_entry, &c);
}

/* A --subdir mount shows its directory's quota, when it has one. */
int vfs_statfs(struct vfs *v, struct meta_statfs *out)
{
    if (v->cfg.root_ino != META_ROOT_INO && v->ops->statfs_dir)
        return v->ops->statfs_dir(v->m, v->cfg.root_ino, out);
    return v->ops->statfs(v->m, out);
}

/* The kernel hands FUSE every xattr name; the namespaces Linux knows are
 * stored as they are, except system.* (POSIX ACLs and friends), which we
 * do not implement and must not pretend to. Unknown namespaces get
 * EOPNOTSUPP, like on a local filesystem. */
static int check_xattr_name(const char *name, bool set)
{
    static const char *const stored[] = {"user.", "trusted.", "security."};
    size_t n = strlen(name);
    if (n == 0 || n > META_XATTR_NAME_MAX)
        return n ? -ERANGE : -EINVAL;
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++)
        if (strncmp(name, stored[i], strlen(stored[i])) == 0 && n > strlen(stored[i]))
            return 0;
    if (strncmp(name, "system.", 7) == 0)
        return set ? -EOPNOTSUPP : -ENODATA;
    return -EOPNOTSUPP;
}

ssize_t vfs_getxattr(struct vfs *v, uint64_t ino, const char *name, void *buf, size_t size)
{
    int rc = check_xattr_name(name, false);
    return rc ? rc : v->ops->getxattr(v->m, vfs_to_meta(v, ino), name, buf, size);
}

int vfs_setxattr(struct vfs *v, uint64_t ino, const char *name, const void *value, size_t size, int flags)
{
    int rc = check_xattr_name(name, true);
    if (rc)
        return rc;
    if (v->cfg.read_only)
        return -EROFS;
    if (size > META_XATTR_SIZE_MAX)
        return -E2BIG;
    return v->ops->setxattr(v->m, vfs_to_meta(v, ino), name, value, size, flags);
}

ssize_t vfs_listxattr(struct vfs *v, uint64_t ino, char *buf, size_t size)
{
    return v->ops->listxattr(v->m, vfs_to_meta(v, ino), buf, size);
}

int vfs_removexattr(struct vfs *v, uint64_t ino, const char *name)
{
    int rc = check_xattr_name(name, true);
    if (rc)
        return rc == -EOPNOTSUPP && strncmp(name, "system.", 7) == 0 ? -ENODATA : rc;
    if (v->cfg.read_only)
        return -EROFS;
    return v->ops->removexattr(v->m, vfs_to_meta(v, ino), name);
}

int vfs_fsyncdir(struct vfs *v, uint64_t ino)
{
    (void)ino;
    return v->ops->sync(v->m);
}
