/* SPDX-License-Identifier: Apache-2.0
 *
 * `tidefs fsck` (see fsck.h): a depth-first walk through readdirplus, one
 * HEAD per block of every slice a file's chunks use, and the repair of
 * lost slices into holes. Directories are listed whole before descending,
 * so no listing is held open while the store is asked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chunk/chunk.h"
#include "meta/fsck.h"
#include "meta/path.h"

#define FSCK_MAX_DEPTH 4096
#define PROBLEM_MAX 600

struct fsck_ctx {
    const struct meta_ops *ops;
    struct meta *m;
    const struct format *fmt;
    struct store *st;
    bool repair;
    const struct fsck_hooks *hooks;
    struct fsck_report *r;
};

struct lost {
    uint32_t indx;
    uint64_t id;
};

static bool stopping(struct fsck_ctx *f)
{
    if (f->hooks && f->hooks->stop && f->hooks->stop(f->hooks->arg))
        f->r->stopped = true;
    return f->r->stopped;
}

/* 0 = every block is there, 1 = broken (problem set), or -errno. */
static int check_slice(struct fsck_ctx *f, const struct meta_slice *s, char *problem)
{
    uint32_t bs = f->fmt->block_size;
    bool compressed = strcmp(f->fmt->compress, "none") != 0;
    for (uint32_t b = 0; (uint64_t)b * bs < s->size; b++) {
        char key[512];
        uint32_t len = s->size - b * bs < bs ? s->size - b * bs : bs;
        uint64_t got = 0;
        chunk_block_key(key, sizeof(key), f->fmt->name, s->id, b, len);
        int rc = store_head(f->st, key, &got);
        f->r->blocks++;
        if (rc == -ENOENT) {
            f->r->missing++;
            snprintf(problem, PROBLEM_MAX, "missing block %s", key);
            return 1;
        }
        if (rc)
            return rc;
        if (compressed ? got == 0 : got != len) {
            f->r->bad_size++;
            snprintf(problem, PROBLEM_MAX, "block %s has %llu bytes, expected %s%u", key,
                     (unsigned long long)got, compressed ? "some (compressed) of " : "", len);
            return 1;
        }
    }
    return 0;
}

static bool seen_before(const struct meta_slice *s, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (s[j].id == s[i].id)
            return true;
    return false;
}

/* Checks chunk indx of a file, appending its lost slices to *lost. */
static int check_chunk(struct fsck_ctx *f, uint64_t ino, uint32_t indx, const char *path, struct lost **lost,
                       size_t *nlost)
{
    struct meta_slice *s = NULL;
    size_t n = 0;
    int rc = f->ops->read_chunk(f->m, ino, indx, &s, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char problem[PROBLEM_MAX];
        if (!s[i].id || seen_before(s, i))
            continue;
        f->r->slices++;
        rc = check_slice(f, &s[i], problem);
        if (rc != 1)
            continue;
        rc = 0;
        if (f->hooks && f->hooks->broken)
            f->hooks->broken(f->hooks->arg, path, ino, indx, s[i].id, problem);
        struct lost *grown = realloc(*lost, (*nlost + 1) * sizeof(**lost));
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        *lost = grown;
        (*lost)[(*nlost)++] = (struct lost){indx, s[i].id};
    }
    free(s);
    return rc;
}

static void repair_file(struct fsck_ctx *f, uint64_t ino, const char *path, const struct lost *lost, size_t n)
{
    if (f->hooks && f->hooks->confirm && !f->hooks->confirm(f->hooks->arg, path))
        return;
    for (size_t i = 0; i < n; i++) {
        int rc = f->ops->chunk_drop_slice ? f->ops->chunk_drop_slice(f->m, ino, lost[i].indx, lost[i].id)
                                          : -ENOTSUP;
        f->r->repaired_slices += rc == 0;
        f->r->repair_failures += rc != 0;
        if (f->hooks && f->hooks->repaired)
            f->hooks->repaired(f->hooks->arg, path, lost[i].id, rc);
    }
}

static int check_file(struct fsck_ctx *f, const struct meta_attr *a, const char *path)
{
    struct lost *lost = NULL;
    size_t nlost = 0;
    int rc = 0;
    uint64_t chunks = (a->size + META_CHUNK_SIZE - 1) >> META_CHUNK_BITS;
    f->r->files++;
    if (f->hooks && f->hooks->progress)
        f->hooks->progress(f->hooks->arg, 1);
    for (uint64_t i = 0; i < chunks && rc == 0 && !stopping(f); i++)
        rc = check_chunk(f, a->ino, (uint32_t)i, path, &lost, &nlost);
    if (nlost)
        f->r->broken_files++;
    if (rc == 0 && nlost && f->repair)
        repair_file(f, a->ino, path, lost, nlost);
    free(lost);
    return rc;
}

/* --- the walk --------------------------------------------------------------- */

struct entry {
    char *name;
    struct meta_attr attr;
};

struct listing {
    struct entry *v;
    size_t n, cap;
    int err;
};

static int collect(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)next;
    struct listing *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct entry *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->err = -ENOMEM;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = strdup(name);
    l->v[l->n].attr = *attr;
    if (!l->v[l->n].name) {
        l->err = -ENOMEM;
        return 1;
    }
    l->n++;
    return 0;
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
}

static int walk(struct fsck_ctx *f, const struct meta_attr *a, const char *path, int depth);

static int walk_dir(struct fsck_ctx *f, uint64_t ino, const char *path, int depth)
{
    struct listing l = {0};
    f->r->dirs++;
    int rc = f->ops->readdir(f->m, ino, 0, true, collect, &l);
    rc = rc ? rc : l.err;
    for (size_t i = 0; rc == 0 && i < l.n && !stopping(f); i++) {
        char *child = NULL;
        if (asprintf(&child, "%s/%s", strcmp(path, "/") == 0 ? "" : path, l.v[i].name) < 0)
            rc = -ENOMEM;
        else
            rc = walk(f, &l.v[i].attr, child, depth + 1);
        free(child);
    }
    listing_free(&l);
    return rc;
}

static int walk(struct fsck_ctx *f, const struct meta_attr *a, const char *path, int depth)
{
    if (depth > FSCK_MAX_DEPTH)
        return -ELOOP;
    if (S_ISDIR(a->mode))
        return walk_dir(f, a->ino, path, depth);
    return S_ISREG(a->mode) ? check_file(f, a, path) : 0;
}

int fsck_run(const struct meta_ops *ops, struct meta *m, const struct format *fmt, struct store *st,
             const char *path, bool repair, const struct fsck_hooks *hooks, struct fsck_report *out)
{
    struct fsck_ctx f = {ops, m, fmt, st, repair, hooks, out};
    struct meta_attr a;
    memset(out, 0, sizeof(*out));
    int rc = meta_path_resolve(ops, m, path, &a);
    if (rc == 0)
        rc = walk(&f, &a, path && *path ? path : "/", 0);
    bool whole = rc == 0 && a.ino == META_ROOT_INO && !out->stopped;
    if (whole && ops->getattr(m, META_TRASH_INO, &a) == 0)
        rc = walk(&f, &a, "/" META_TRASH_NAME, 1);
    return rc;
}
