/* SPDX-License-Identifier: Apache-2.0
 *
 * The bulk interface of the SQLite engine for `tidefs load` (meta/dump.h):
 * raw rows written as given, each call one write transaction. Slice
 * reference counts are rebuilt from the loaded chunks (refs = number of
 * records naming the slice), which is what the operations keep them at.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/dump.h"
#include "meta/meta_sqlite_i.h"

struct bulk_args {
    const char *name;
    int64_t value;
    const struct meta_attr *attr;
    const char *target;
    uint64_t ino, parent, cookie;
    uint32_t type;
    const void *data;
    size_t size;
    const struct meta_slice *slices;
    uint32_t indx;
};

static int get_counter_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return msq_counter_get(c, a->name, &a->value);
}

static int sq_get_counter(struct meta *m, const char *name, int64_t *out)
{
    struct bulk_args a = {.name = name};
    int rc = msq_txn(m, MSQ_READ, get_counter_fn, &a);
    *out = a.value;
    return rc;
}

static int set_counter_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return msq_exec(c,
                    "INSERT INTO counter (name, value) VALUES (?1, ?2) "
                    "ON CONFLICT(name) DO UPDATE SET value = ?2",
                    "tI", a->name, a->value);
}

static int sq_set_counter(struct meta *m, const char *name, int64_t value)
{
    struct bulk_args a = {.name = name, .value = value};
    return msq_txn(m, MSQ_WRITE, set_counter_fn, &a);
}

static int node_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    int rc = msq_attr_put(c, a->attr);
    if (rc == 0 && a->target)
        rc = msq_exec(c, "INSERT OR REPLACE INTO symlink (inode, target) VALUES (?, ?)", "Ib", a->attr->ino,
                      a->target, (int)strlen(a->target));
    return rc;
}

static int sq_load_node(struct meta *m, const struct meta_attr *attr, const char *target)
{
    struct bulk_args a = {.attr = attr, .target = target};
    return msq_txn(m, MSQ_WRITE, node_fn, &a);
}

static int entry_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return msq_exec(c, "INSERT OR REPLACE INTO edge (parent, name, id, inode, type) VALUES (?, ?, ?, ?, ?)",
                    "IbIII", a->parent, a->name, (int)strlen(a->name), a->cookie, a->ino, (int64_t)a->type);
}

static int sq_load_entry(struct meta *m, uint64_t parent, const char *name, uint64_t ino, uint32_t type,
                         uint64_t cookie)
{
    struct bulk_args a = {.parent = parent, .name = name, .ino = ino, .type = type, .cookie = cookie};
    return msq_txn(m, MSQ_WRITE, entry_fn, &a);
}

static int xattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return msq_exec(c, "INSERT OR REPLACE INTO xattr (inode, name, value) VALUES (?, ?, ?)", "Itb", a->ino,
                    a->name, a->data, (int)a->size);
}

static int sq_load_xattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size)
{
    struct bulk_args a = {.ino = ino, .name = name, .data = value, .size = size};
    return msq_txn(m, MSQ_WRITE, xattr_fn, &a);
}

static int chunk_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    unsigned char *blob = malloc(a->size * MSQ_SLICE_REC + 1);
    if (!blob)
        return -ENOMEM;
    for (size_t i = 0; i < a->size; i++)
        msq_slice_encode(&a->slices[i], blob + i * MSQ_SLICE_REC);
    int rc = msq_exec(c, "INSERT OR REPLACE INTO chunk (inode, indx, slices) VALUES (?, ?, ?)", "IIb", a->ino,
                      (int64_t)a->indx, blob, (int)(a->size * MSQ_SLICE_REC));
    free(blob);
    for (size_t i = 0; rc == 0 && i < a->size; i++)
        if (a->slices[i].id)
            rc = msq_exec(c,
                          "INSERT INTO slice_ref (id, size, refs) VALUES (?, ?, 1) "
                          "ON CONFLICT(id) DO UPDATE SET refs = refs + 1",
                          "II", a->slices[i].id, (int64_t)a->slices[i].size);
    return rc;
}

static int sq_load_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n)
{
    struct bulk_args a = {.ino = ino, .indx = indx, .slices = s, .size = n};
    return msq_txn(m, MSQ_WRITE, chunk_fn, &a);
}

static int delslice_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return msq_exec(c, "INSERT OR IGNORE INTO delslices (id, size, deleted) VALUES (?, ?, ?)", "III", a->ino,
                    (int64_t)a->size, msq_now());
}

static int sq_load_deleted_slice(struct meta *m, uint64_t id, uint32_t size)
{
    struct bulk_args a = {.ino = id, .size = size};
    return msq_txn(m, MSQ_WRITE, delslice_fn, &a);
}

const struct meta_bulk_ops meta_sqlite_bulk = {
    .get_counter = sq_get_counter,
    .set_counter = sq_set_counter,
    .load_node = sq_load_node,
    .load_entry = sq_load_entry,
    .load_xattr = sq_load_xattr,
    .load_chunk = sq_load_chunk,
    .load_deleted_slice = sq_load_deleted_slice,
};
