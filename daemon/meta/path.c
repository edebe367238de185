/* SPDX-License-Identifier: Apache-2.0
 *
 * Volume paths <-> inodes through the engine interface (see path.h).
 * Naming an inode costs a parent listing per level: fine for reports
 * about a few files (broken files, quotas), not for bulk work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/path.h"

#define PATH_MAX_DEPTH 4096

int meta_path_resolve(const struct meta_ops *ops, struct meta *m, const char *path, struct meta_attr *out)
{
    char *copy = strdup(path ? path : "");
    if (!copy)
        return -ENOMEM;
    int rc = ops->getattr(m, META_ROOT_INO, out);
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part && rc == 0; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0)
            rc = -EINVAL;
        else if (!S_ISDIR(out->mode))
            rc = S_ISLNK(out->mode) ? -ELOOP : -ENOTDIR;
        else
            rc = ops->lookup(m, out->ino, part, out);
    }
    free(copy);
    return rc;
}

struct name_search {
    uint64_t ino;
    char name[META_NAME_MAX + 1];
    bool found;
};

static int match_entry(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)next;
    struct name_search *s = arg;
    if (attr->ino != s->ino)
        return 0;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->found = true;
    return 1;
}

/* Prepends "/name" to the path being built backwards in *buf. */
static int prepend(char **buf, const char *name)
{
    char *n = NULL;
    if (asprintf(&n, "/%s%s", name, *buf ? *buf : "") < 0)
        return -ENOMEM;
    free(*buf);
    *buf = n;
    return 0;
}

static int name_in_parent(const struct meta_ops *ops, struct meta *m, const struct meta_attr *a,
                          struct name_search *s)
{
    if (a->ino == META_TRASH_INO) {
        snprintf(s->name, sizeof(s->name), "%s", META_TRASH_NAME);
        s->found = true;
        return 0;
    }
    s->ino = a->ino;
    s->found = false;
    return ops->readdir(m, a->parent, 0, false, match_entry, s);
}

int meta_path_of(const struct meta_ops *ops, struct meta *m, uint64_t ino, char **out)
{
    char *buf = NULL;
    int rc = 0;
    *out = NULL;
    for (int depth = 0; ino != META_ROOT_INO && rc == 0; depth++) {
        struct meta_attr a;
        struct name_search s;
        rc = depth < PATH_MAX_DEPTH ? ops->getattr(m, ino, &a) : -ELOOP;
        if (rc == 0 && a.nlink == 0) {
            free(buf);
            return asprintf(out, "(unlinked inode %llu)", (unsigned long long)ino) < 0 ? -ENOMEM : 0;
        }
        if (rc == 0)
            rc = name_in_parent(ops, m, &a, &s);
        if (rc == 0 && !s.found)
            rc = -ENOENT; /* renamed meanwhile */
        if (rc == 0)
            rc = prepend(&buf, s.name);
        ino = a.parent;
    }
    if (rc == 0 && !buf)
        buf = strdup("/");
    if (rc == 0 && !buf)
        rc = -ENOMEM;
    if (rc)
        free(buf);
    else
        *out = buf;
    return rc;
}
