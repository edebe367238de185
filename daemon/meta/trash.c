/* SPDX-License-Identifier: Apache-2.0
 *
 * Trash purge and restore through the engine interface (see trash.h).
 * Entry names are "<parent ino>-<ino>-<name>": the restore parses the
 * parent and the name back; the inode part keeps names unique.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meta/format.h"
#include "meta/path.h"
#include "meta/rmr.h"
#include "meta/trash.h"

#define HOUR_NS (3600LL * 1000000000LL)
#define DAY_NS (24 * HOUR_NS)

bool trash_parse_hour(const char *s, int64_t *t)
{
    struct tm tm = {0};
    const char *end = strlen(s) == 13 ? strptime(s, "%Y-%m-%d-%H", &tm) : NULL;
    if (!end || *end)
        return false;
    *t = (int64_t)timegm(&tm) * 1000000000LL;
    return true;
}

/* A listing of one directory, names and attributes copied out. */
struct names {
    char **v;
    struct meta_attr *a;
    size_t n, cap;
    int err;
};

static int collect(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)next;
    struct names *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof(*v));
        struct meta_attr *a = v ? realloc(l->a, cap * sizeof(*a)) : NULL;
        if (v)
            l->v = v;
        if (!v || !a) {
            l->err = -ENOMEM;
            return 1;
        }
        l->a = a;
        l->cap = cap;
    }
    l->v[l->n] = strdup(name);
    if (!l->v[l->n])
        return (l->err = -ENOMEM), 1;
    l->a[l->n++] = *attr;
    return 0;
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l->a);
}

static int list_dir(const struct meta_ops *ops, struct meta *m, uint64_t dir, struct names *out)
{
    int rc = ops->readdir(m, dir, 0, true, collect, out);
    return rc ? rc : out->err;
}

static int trash_days(const struct meta_ops *ops, struct meta *m, int *days)
{
    char *json = NULL;
    struct format f;
    int rc = ops->get_setting(m, "format", &json);
    if (rc == 0)
        rc = format_from_json(json, &f);
    free(json);
    if (rc == 0)
        *days = f.trash_days;
    if (rc == 0)
        format_clear(&f);
    return rc;
}

static int purge_hour(const struct meta_ops *ops, struct meta *m, const char *hour, uint64_t ino, bool dry_run,
                      uint64_t *purged)
{
    struct names l = {0};
    int rc = list_dir(ops, m, ino, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = dry_run ? 0 : meta_remove_tree(ops, m, ino, l.v[i], NULL, NULL);
        *purged += rc == 0;
    }
    names_free(&l);
    if (rc == 0 && !dry_run)
        rc = ops->rmdir(m, META_TRASH_INO, hour);
    return rc == -ENOENT ? 0 : rc;
}

int trash_purge(const struct meta_ops *ops, struct meta *m, int64_t now_ns, bool dry_run, uint64_t *purged)
{
    struct meta_attr t;
    struct names hours = {0};
    int days = 0;
    *purged = 0;
    int rc = ops->getattr(m, META_TRASH_INO, &t);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    rc = trash_days(ops, m, &days);
    if (rc == 0)
        rc = list_dir(ops, m, META_TRASH_INO, &hours);
    for (size_t i = 0; rc == 0 && i < hours.n; i++) {
        int64_t start;
        bool expired = trash_parse_hour(hours.v[i], &start) &&
                       (days <= 0 || start + HOUR_NS <= now_ns - (int64_t)days * DAY_NS);
        if (expired && S_ISDIR(hours.a[i].mode))
            rc = purge_hour(ops, m, hours.v[i], hours.a[i].ino, dry_run, purged);
    }
    names_free(&hours);
    return rc;
}

/* --- restore -------------------------------------------------------------- */

/* "<parent>-<ino>-<name>": the parent and a pointer to the name. */
static bool parse_entry(const char *entry, uint64_t *parent, const char **name)
{
    uint64_t ino;
    int used = 0;
    if (sscanf(entry, "%" SCNu64 "-%" SCNu64 "-%n", parent, &ino, &used) != 2 || used == 0)
        return false;
    *name = entry + used;
    return **name != '\0';
}

/* 0 when dir is a live directory outside the trash, else -ENOENT. */
static int usable_parent(const struct meta_ops *ops, struct meta *m, uint64_t dir)
{
    struct meta_attr a, up;
    int rc = ops->getattr(m, dir, &a);
    if (rc == 0 && (!S_ISDIR(a.mode) || a.nlink == 0 || dir == META_TRASH_INO || a.parent == META_TRASH_INO))
        rc = -ENOENT;
    if (rc == 0 && dir != META_ROOT_INO && ops->getattr(m, a.parent, &up) == 0 && up.parent == META_TRASH_INO)
        rc = -ENOENT; /* itself a trashed directory, not restored yet */
    return rc;
}

struct restore_ctx {
    const struct meta_ops *ops;
    struct meta *m;
    uint64_t hour;
    trash_restore_fn fn;
    void *arg;
    struct trash_restore_report *out;
};

/* One entry: 1 = settled (restored or refused for good), 0 = try later. */
static int restore_one(struct restore_ctx *c, const char *entry, bool last_pass)
{
    uint64_t parent;
    const char *name;
    if (!parse_entry(entry, &parent, &name)) {
        c->out->kept++;
        c->fn(c->arg, entry, NULL, -EINVAL);
        return 1;
    }
    int rc = usable_parent(c->ops, c->m, parent);
    if (rc == -ENOENT && !last_pass)
        return 0;
    if (rc == 0)
        rc = c->ops->rename(c->m, c->hour, entry, parent, name, META_RENAME_NOREPLACE);
    char *dest = NULL;
    if (rc == 0 && meta_path_of(c->ops, c->m, parent, &dest) == 0) {
        char *full = NULL;
        if (asprintf(&full, "%s%s%s", dest, strcmp(dest, "/") ? "/" : "", name) >= 0) {
            free(dest);
            dest = full;
        }
    }
    c->out->restored += rc == 0;
    c->out->kept += rc != 0;
    c->fn(c->arg, entry, rc == 0 ? (dest ? dest : name) : NULL, rc);
    free(dest);
    return 1;
}

int trash_restore(const struct meta_ops *ops, struct meta *m, const char *hour, trash_restore_fn fn, void *arg,
                  struct trash_restore_report *out)
{
    int64_t t;
    struct meta_attr h;
    memset(out, 0, sizeof(*out));
    if (!trash_parse_hour(hour, &t))
        return -EINVAL;
    int rc = ops->lookup(m, META_TRASH_INO, hour, &h);
    if (rc)
        return rc == -ENOENT || rc == -ENOTDIR ? -ENOENT : rc;
    struct names l = {0};
    rc = list_dir(ops, m, h.ino, &l);
    bool *done = rc == 0 ? calloc(l.n + 1, sizeof(*done)) : NULL;
    if (rc == 0 && !done)
        rc = -ENOMEM;
    struct restore_ctx c = {ops, m, h.ino, fn, arg, out};
    /* passes until nothing moves: a directory restored in one pass lets
     * its files follow in the next; the last pass settles the rest */
    for (bool progress = true, last = false; rc == 0 && (progress || !last);) {
        last = !progress;
        progress = false;
        for (size_t i = 0; i < l.n; i++)
            if (!done[i] && (done[i] = restore_one(&c, l.v[i], last)))
                progress = true;
    }
    free(done);
    names_free(&l);
    if (rc == 0 && out->kept == 0)
        ops->rmdir(m, META_TRASH_INO, hour); /* best effort: the hour is empty */
    return rc;
}
