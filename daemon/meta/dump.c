/* SPDX-License-Identifier: Apache-2.0
 *
 * Engine-independent dump and load of a volume's metadata (meta/dump.h) as
 * JSON lines, written and read one line at a time so that neither side
 * holds the volume in memory:
 *
 *   {"tidefs_dump": 1, "format": "<the format JSON>"}
 *   {"node": {ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime,
 *             parent}, "symlink": S, "xattrs": [[name, hex]], "chunks":
 *             [[indx, [[pos, id, size, off, len], ...]], ...]}
 *   {"entry": [parent, name, ino, type, cookie]}
 *   {"deleted_slice": [id, size]}
 *   {"counters": {"nextInode": N, ...}}
 *   {"end": {"nodes": N, "entries": M}}
 *
 * Names and symlink targets that are not UTF-8 are written as {"hex": ...}.
 * Directories are walked breadth-first through readdirplus, so each
 * directory's entries come in cookie order; a file with several links is
 * written once. The "end" line makes a cut-off dump detectable.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/dump.h"
#include "meta/meta_redis.h"
#include "meta/meta_sqlite.h"

#define DUMP_VERSION 1
#define DUMP_DELETED_MAX 100000

static const char *const dump_counters[] = {"nextInode", "nextEdge",  "nextSlice",
                                            "nextSession", "usedSpace", "totalInodes"};

const struct meta_bulk_ops *meta_bulk_for(const struct meta_ops *ops)
{
    if (ops == &meta_sqlite_ops)
        return &meta_sqlite_bulk;
    if (ops == &meta_redis_ops)
        return &meta_redis_bulk;
    return NULL;
}

/* "scheme://host..." with any password replaced by "****" */
static void shown_url(const char *url, char *out, size_t len)
{
    const char *sep = strstr(url, "://"), *at = sep ? strchr(sep + 3, '@') : NULL;
    const char *colon = at ? memchr(sep + 3, ':', (size_t)(at - sep - 3)) : NULL;
    if (colon)
        snprintf(out, len, "%.*s:****%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
}

/* --- byte strings in JSON ---------------------------------------------------- */

static json_t *hex_json(const void *p, size_t n)
{
    char *hex = malloc(n * 2 + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + i * 2, 3, "%02x", ((const unsigned char *)p)[i]);
    json_t *j = json_stringn(hex, n * 2);
    free(hex);
    return j;
}

static json_t *bytes_json(const char *p, size_t n)
{
    json_t *s = json_stringn(p, n); /* NULL when not UTF-8 */
    return s ? s : json_pack("{s:o}", "hex", hex_json(p, n));
}

/* *out malloc'ed, NUL-terminated; -EINVAL when j is neither form */
static int hex_decode(const char *hex, char **out, size_t *n)
{
    size_t len = strlen(hex);
    if (len % 2)
        return -EINVAL;
    *out = malloc(len / 2 + 1);
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(*out);
            *out = NULL;
            return -EINVAL;
        }
        (*out)[i] = (char)v;
    }
    (*out)[len / 2] = '\0';
    *n = len / 2;
    return 0;
}

static int bytes_from_json(const json_t *j, char **out, size_t *n)
{
    if (json_is_string(j)) {
        *n = json_string_length(j);
        *out = malloc(*n + 1);
        if (!*out)
            return -ENOMEM;
        memcpy(*out, json_string_value(j), *n + 1);
        return 0;
    }
    json_t *hex = json_object_get(j, "hex");
    return json_is_string(hex) ? hex_decode(json_string_value(hex), out, n) : -EINVAL;
}

/* --- dump ---------------------------------------------------------------------- */

struct dumper {
    const struct meta_ops *ops;
    struct meta *m;
    FILE *out;
    uint64_t *queue; /* directories still to list */
    size_t qhead, qtail, qcap;
    uint64_t *linked; /* files with nlink > 1 already written (sorted) */
    size_t nlinked, caplinked;
    unsigned long nodes, entries;
    bool progress;
    int err;
};

static int put_line(struct dumper *d, json_t *j)
{
    if (!j)
        return -ENOMEM;
    int rc = json_dumpf(j, d->out, JSON_COMPACT | JSON_ENSURE_ASCII) || fputc('\n', d->out) == EOF ? -EIO : 0;
    json_decref(j);
    return rc;
}

static json_t *attr_json(const struct meta_attr *a)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ino", (json_int_t)a->ino, "mode",
                     (json_int_t)a->mode, "uid", (json_int_t)a->uid, "gid", (json_int_t)a->gid, "nlink",
                     (json_int_t)a->nlink, "size", (json_int_t)a->size, "rdev", (json_int_t)a->rdev, "atime",
                     (json_int_t)a->atime, "mtime", (json_int_t)a->mtime, "ctime", (json_int_t)a->ctime,
                     "parent", (json_int_t)a->parent);
}

static int add_xattrs(struct dumper *d, uint64_t ino, json_t *node)
{
    char *names = NULL;
    ssize_t len = d->ops->listxattr(d->m, ino, NULL, 0);
    if (len <= 0)
        return (int)len;
    names = malloc((size_t)len);
    if (!names)
        return -ENOMEM;
    len = d->ops->listxattr(d->m, ino, names, (size_t)len);
    json_t *list = json_array();
    int rc = len < 0 ? (int)len : 0;
    char value[META_XATTR_SIZE_MAX];
    for (ssize_t off = 0; rc == 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
        ssize_t n = d->ops->getxattr(d->m, ino, names + off, value, sizeof(value));
        if (n < 0)
            rc = (int)n;
        else
            json_array_append_new(list, json_pack("[s, o]", names + off, hex_json(value, (size_t)n)));
    }
    free(names);
    json_object_set_new(node, "xattrs", list);
    return rc;
}

static int add_chunks(struct dumper *d, const struct meta_attr *a, json_t *node)
{
    json_t *chunks = json_array();
    uint64_t nchunks = a->size ? ((a->size - 1) >> META_CHUNK_BITS) + 1 : 0;
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < nchunks; i++) {
        struct meta_slice *s = NULL;
        size_t n = 0;
        rc = d->ops->read_chunk(d->m, a->ino, (uint32_t)i, &s, &n);
        json_t *list = n ? json_array() : NULL;
        for (size_t k = 0; k < n; k++)
            json_array_append_new(list, json_pack("[I, I, I, I, I]", (json_int_t)s[k].pos, (json_int_t)s[k].id,
                                                  (json_int_t)s[k].size, (json_int_t)s[k].off,
                                                  (json_int_t)s[k].len));
        if (list)
            json_array_append_new(chunks, json_pack("[I, o]", (json_int_t)i, list));
        free(s);
    }
    json_object_set_new(node, "chunks", chunks);
    return rc;
}

static int dump_node(struct dumper *d, const struct meta_attr *a)
{
    json_t *node = json_pack("{s:o}", "node", attr_json(a));
    int rc = node ? 0 : -ENOMEM;
    if (rc == 0 && S_ISLNK(a->mode)) {
        char *target = NULL;
        rc = d->ops->readlink(d->m, a->ino, &target);
        if (rc == 0)
            json_object_set_new(node, "symlink", bytes_json(target, strlen(target)));
        free(target);
    }
    if (rc == 0)
        rc = add_xattrs(d, a->ino, node);
    if (rc == 0 && S_ISREG(a->mode))
        rc = add_chunks(d, a, node);
    if (rc) {
        json_decref(node);
        return rc;
    }
    d->nodes++;
    if (d->progress && d->nodes % 1000 == 0)
        fprintf(stderr, "\rtidefs dump: %lu nodes, %lu entries", d->nodes, d->entries);
    return put_line(d, node);
}

static int push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        uint64_t *p = realloc(*v, c * sizeof(*p));
        if (!p)
            return -ENOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* true the first time a hard-linked file is met (linear: such files are few) */
static bool first_link(struct dumper *d, uint64_t ino)
{
    for (size_t i = 0; i < d->nlinked; i++)
        if (d->linked[i] == ino)
            return false;
    if (push(&d->linked, &d->nlinked, &d->caplinked, ino))
        d->err = -ENOMEM;
    return true;
}

static int dump_entry(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    struct dumper *d = arg;
    uint64_t parent = d->queue[d->qhead - 1];
    json_t *e = json_pack("{s:[I, o, I, I, I]}", "entry", (json_int_t)parent, bytes_json(name, strlen(name)),
                          (json_int_t)attr->ino, (json_int_t)(attr->mode & S_IFMT), (json_int_t)next);
    int rc = put_line(d, e);
    d->entries++;
    if (rc == 0 && S_ISDIR(attr->mode))
        rc = push(&d->queue, &d->qtail, &d->qcap, attr->ino);
    else if (rc == 0 && (attr->nlink <= 1 || first_link(d, attr->ino)))
        rc = dump_node(d, attr);
    if (rc)
        d->err = rc;
    return rc ? 1 : 0;
}

static int dump_tree(struct dumper *d)
{
    int rc = push(&d->queue, &d->qtail, &d->qcap, META_ROOT_INO);
    while (rc == 0 && d->qhead < d->qtail) {
        uint64_t dir = d->queue[d->qhead++];
        struct meta_attr a;
        rc = d->ops->getattr(d->m, dir, &a);
        if (rc == 0)
            rc = dump_node(d, &a);
        if (rc == 0)
            rc = d->ops->readdir(d->m, dir, 0, true, dump_entry, d);
        if (rc == 0)
            rc = d->err;
    }
    return rc;
}

static int dump_deleted(void *arg, uint64_t id, uint32_t size)
{
    struct dumper *d = arg;
    int rc = put_line(d, json_pack("{s:[I, I]}", "deleted_slice", (json_int_t)id, (json_int_t)size));
    if (rc)
        d->err = rc;
    return rc ? 1 : 0;
}

static int dump_tail(struct dumper *d, const struct meta_bulk_ops *bulk)
{
    int rc = d->ops->list_deleted_slices(d->m, DUMP_DELETED_MAX, dump_deleted, d);
    if (rc == 0)
        rc = d->err;
    json_t *counters = json_object();
    for (size_t i = 0; rc == 0 && i < sizeof(dump_counters) / sizeof(dump_counters[0]); i++) {
        int64_t v;
        rc = bulk->get_counter(d->m, dump_counters[i], &v);
        json_object_set_new(counters, dump_counters[i], json_integer(v));
    }
    if (rc) {
        json_decref(counters);
        return rc;
    }
    rc = put_line(d, json_pack("{s:o}", "counters", counters));
    if (rc == 0)
        rc = put_line(d, json_pack("{s:{s:I, s:I}}", "end", "nodes", (json_int_t)d->nodes, "entries",
                                   (json_int_t)d->entries));
    return rc;
}

static int open_engine(const char *url, const char *cmd, const struct meta_ops **ops, struct meta **m,
                       const struct meta_bulk_ops **bulk)
{
    char shown[512];
    shown_url(url, shown, sizeof(shown));
    int rc = meta_open_url(url, ops, m);
    if (rc) {
        fprintf(stderr, "tidefs %s: cannot open metadata engine at %s: %s\n", cmd, shown, strerror(-rc));
        return rc;
    }
    *bulk = meta_bulk_for(*ops);
    if (!*bulk) {
        fprintf(stderr, "tidefs %s: the engine of %s has no bulk interface\n", cmd, shown);
        (*ops)->close(*m);
        return -EOPNOTSUPP;
    }
    return 0;
}

int meta_dump(const char *url, FILE *out)
{
    struct dumper d = {.out = out, .progress = isatty(STDERR_FILENO)};
    const struct meta_bulk_ops *bulk;
    int rc = open_engine(url, "dump", &d.ops, &d.m, &bulk);
    if (rc)
        return rc;
    char *format = NULL;
    rc = d.ops->get_setting(d.m, "format", &format);
    if (rc == -ENOENT)
        fprintf(stderr, "tidefs dump: the volume is not formatted\n");
    if (rc == 0)
        rc = put_line(&d, json_pack("{s:i, s:s}", "tidefs_dump", DUMP_VERSION, "format", format));
    free(format);
    if (rc == 0)
        rc = dump_tree(&d);
    if (rc == 0)
        rc = dump_tail(&d, bulk);
    if (rc == 0 && fflush(out) != 0)
        rc = -EIO;
    if (d.progress)
        fprintf(stderr, "\rtidefs dump: %lu nodes, %lu entries%s\n", d.nodes, d.entries, rc ? "" : ", done");
    if (rc && rc != -ENOENT)
        fprintf(stderr, "tidefs dump: %s\n", strerror(-rc));
    free(d.queue);
    free(d.linked);
    d.ops->close(d.m);
    return rc;
}

/* --- load ---------------------------------------------------------------------- */

struct loader {
    const struct meta_ops *ops;
    const struct meta_bulk_ops *bulk;
    struct meta *m;
    unsigned long line, nodes, entries;
    bool started, ended, progress;
};

static uint64_t juint(const json_t *j)
{
    return (uint64_t)json_integer_value(j);
}

static int load_attr(const json_t *j, struct meta_attr *a)
{
    json_int_t v[11];
    if (json_unpack((json_t *)j, "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ino", &v[0], "mode",
                    &v[1], "uid", &v[2], "gid", &v[3], "nlink", &v[4], "size", &v[5], "rdev", &v[6], "atime",
                    &v[7], "mtime", &v[8], "ctime", &v[9], "parent", &v[10]))
        return -EINVAL;
    *a = (struct meta_attr){(uint64_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3], (uint32_t)v[4],
                            (uint64_t)v[5], (uint64_t)v[6], v[7],          v[8],          v[9],
                            (uint64_t)v[10]};
    return 0;
}

static int load_chunks(struct loader *l, uint64_t ino, const json_t *chunks)
{
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c)
    {
        const json_t *list = json_array_get(c, 1);
        size_t n = json_array_size(list);
        struct meta_slice *s = calloc(n ? n : 1, sizeof(*s));
        if (!s)
            return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
            const json_t *r = json_array_get(list, k);
            s[k] = (struct meta_slice){(uint32_t)juint(json_array_get(r, 0)), juint(json_array_get(r, 1)),
                                       (uint32_t)juint(json_array_get(r, 2)), (uint32_t)juint(json_array_get(r, 3)),
                                       (uint32_t)juint(json_array_get(r, 4))};
        }
        int rc = l->bulk->load_chunk(l->m, ino, (uint32_t)juint(json_array_get(c, 0)), s, n);
        free(s);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_node(struct loader *l, const json_t *line)
{
    struct meta_attr a;
    int rc = load_attr(json_object_get(line, "node"), &a);
    char *target = NULL;
    size_t n;
    const json_t *sym = json_object_get(line, "symlink");
    if (rc == 0 && sym)
        rc = bytes_from_json(sym, &target, &n);
    if (rc == 0)
        rc = l->bulk->load_node(l->m, &a, target);
    free(target);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(line, "xattrs"), i, x)
    {
        char *value = NULL;
        if (rc == 0)
            rc = hex_decode(json_string_value(json_array_get(x, 1)) ?: "?", &value, &n);
        if (rc == 0)
            rc = l->bulk->load_xattr(l->m, a.ino, json_string_value(json_array_get(x, 0)) ?: "", value, n);
        free(value);
    }
    if (rc == 0)
        rc = load_chunks(l, a.ino, json_object_get(line, "chunks"));
    l->nodes++;
    return rc;
}

static int load_entry(struct loader *l, const json_t *e)
{
    char *name = NULL;
    size_t n;
    int rc = json_array_size(e) == 5 ? bytes_from_json(json_array_get(e, 1), &name, &n) : -EINVAL;
    if (rc == 0)
        rc = l->bulk->load_entry(l->m, juint(json_array_get(e, 0)), name, juint(json_array_get(e, 2)),
                                 (uint32_t)juint(json_array_get(e, 3)), juint(json_array_get(e, 4)));
    free(name);
    l->entries++;
    return rc;
}

static int load_counters(struct loader *l, const json_t *c)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)c, name, v)
    {
        int rc = l->bulk->set_counter(l->m, name, json_integer_value(v));
        if (rc)
            return rc;
    }
    return 0;
}

static int load_line(struct loader *l, const json_t *j)
{
    const json_t *v;
    if (!l->started) {
        const char *format = NULL;
        int version = 0;
        if (json_unpack((json_t *)j, "{s:i, s:s}", "tidefs_dump", &version, "format", &format) ||
            version != DUMP_VERSION)
            return -EINVAL;
        l->started = true;
        int rc = l->ops->init(l->m, format, false);
        if (rc == -EEXIST)
            fprintf(stderr, "tidefs load: the target volume is already formatted: load only into an empty one\n");
        return rc;
    }
    if ((v = json_object_get(j, "node")))
        return load_node(l, j);
    if ((v = json_object_get(j, "entry")))
        return load_entry(l, v);
    if ((v = json_object_get(j, "deleted_slice")))
        return l->bulk->load_deleted_slice(l->m, juint(json_array_get(v, 0)), (uint32_t)juint(json_array_get(v, 1)));
    if ((v = json_object_get(j, "counters")))
        return load_counters(l, v);
    if ((v = json_object_get(j, "end"))) {
        l->ended = juint(json_object_get(v, "nodes")) == l->nodes && juint(json_object_get(v, "entries")) == l->entries;
        return l->ended ? 0 : -EINVAL;
    }
    return -EINVAL;
}

int meta_load(const char *url, FILE *in)
{
    struct loader l = {.progress = isatty(STDERR_FILENO)};
    int rc = open_engine(url, "load", &l.ops, &l.m, &l.bulk);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t cap = 0;
    while (rc == 0 && !l.ended && getline(&buf, &cap, in) > 0) {
        l.line++;
        json_error_t err;
        json_t *j = json_loads(buf, 0, &err);
        rc = j ? load_line(&l, j) : -EINVAL;
        json_decref(j);
        if (rc == -EINVAL)
            fprintf(stderr, "tidefs load: line %lu is not a valid tidefs dump record\n", l.line);
        if (l.progress && l.line % 1000 == 0)
            fprintf(stderr, "\rtidefs load: %lu nodes, %lu entries", l.nodes, l.entries);
    }
    free(buf);
    if (rc == 0 && !l.ended) {
        fprintf(stderr, "tidefs load: the dump ends early (no end record after line %lu)\n", l.line);
        rc = -EINVAL;
    }
    if (l.progress)
        fprintf(stderr, "\rtidefs load: %lu nodes, %lu entries%s\n", l.nodes, l.entries, rc ? "" : ", done");
    if (rc && rc != -EINVAL && rc != -EEXIST)
        fprintf(stderr, "tidefs load: %s\n", strerror(-rc));
    l.ops->close(l.m);
    return rc;
}
