/* SPDX-License-Identifier: Apache-2.0
 *
 * Recursive removal through the engine interface (see rmr.h). A directory
 * is emptied by listing a page of entries from its start, removing them,
 * and listing again until nothing is left: removed entries disappear from
 * the listing, so no cookie bookkeeping is needed and entries added
 * meanwhile are removed too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/rmr.h"

#define RMR_PAGE 256
#define RMR_MAX_DEPTH 4096

struct rmr_ctx {
    const struct meta_ops *ops;
    struct meta *m;
    const struct rmr_hooks *hooks;
    uint64_t removed;
};

struct page {
    size_t n;
    char *names[RMR_PAGE];
    uint64_t ino[RMR_PAGE];
    uint32_t mode[RMR_PAGE];
    int err;
};

static int take(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)next;
    struct page *p = arg;
    p->names[p->n] = strdup(name);
    if (!p->names[p->n]) {
        p->err = -ENOMEM;
        return 1;
    }
    p->ino[p->n] = attr->ino;
    p->mode[p->n++] = attr->mode;
    return p->n == RMR_PAGE;
}

static void page_clear(struct page *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->names[i]);
    p->n = 0;
}

static int remove_one(struct rmr_ctx *r, uint64_t parent, const char *name, uint64_t ino, uint32_t mode,
                      int depth);

static int empty_dir(struct rmr_ctx *r, uint64_t dir, int depth)
{
    struct page *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (;;) {
        rc = r->ops->readdir(r->m, dir, 0, false, take, p);
        rc = rc ? rc : p->err;
        if (rc || p->n == 0)
            break;
        for (size_t i = 0; rc == 0 && i < p->n; i++)
            rc = remove_one(r, dir, p->names[i], p->ino[i], p->mode[i], depth + 1);
        page_clear(p);
        if (rc)
            break;
    }
    page_clear(p);
    free(p);
    return rc;
}

static int remove_one(struct rmr_ctx *r, uint64_t parent, const char *name, uint64_t ino, uint32_t mode,
                      int depth)
{
    if (r->hooks && r->hooks->stop && r->hooks->stop(r->hooks->arg))
        return -EINTR;
    if (depth > RMR_MAX_DEPTH)
        return -ELOOP;
    int rc = S_ISDIR(mode) ? empty_dir(r, ino, depth) : 0;
    if (rc == 0)
        rc = S_ISDIR(mode) ? r->ops->rmdir(r->m, parent, name) : r->ops->unlink(r->m, parent, name);
    if (rc == -ENOENT)
        rc = 0; /* someone else removed it meanwhile */
    if (rc == 0) {
        r->removed++;
        if (r->hooks && r->hooks->progress)
            r->hooks->progress(r->hooks->arg, 1);
    }
    return rc;
}

int meta_remove_tree(const struct meta_ops *ops, struct meta *m, uint64_t parent, const char *name,
                     const struct rmr_hooks *hooks, uint64_t *removed)
{
    struct rmr_ctx r = {ops, m, hooks, 0};
    struct meta_attr a;
    int rc = ops->lookup(m, parent, name, &a);
    if (rc == 0)
        rc = remove_one(&r, parent, name, a.ino, a.mode, 0);
    if (removed)
        *removed = r.removed;
    return rc;
}
