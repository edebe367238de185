/* SPDX-License-Identifier: Apache-2.0
 *
 * The bulk interface of the Redis engine for `tidefs load` (meta/dump.h):
 * the keys of meta_redis_i.h written as given, each call one MULTI/EXEC.
 * Slice reference counts are rebuilt from the loaded chunks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/dump.h"
#include "meta/meta_redis_i.h"

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

static int get_counter_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return mr_counter_get(tx, a->name, false, &a->value);
}

static int rd_get_counter(struct meta *m, const char *name, int64_t *out)
{
    struct bulk_args a = {.name = name};
    int rc = mr_read(m, get_counter_fn, &a);
    *out = a.value;
    return rc;
}

static int set_counter_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return mr_queue(tx, "SET %s %lld", a->name, (long long)a->value);
}

static int rd_set_counter(struct meta *m, const char *name, int64_t value)
{
    struct bulk_args a = {.name = name, .value = value};
    return mr_txn(m, set_counter_fn, &a);
}

static int node_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    int rc = mr_attr_put(tx, a->attr);
    if (rc == 0 && a->target)
        rc = mr_queue(tx, "SET s%llu %b", (unsigned long long)a->attr->ino, a->target, strlen(a->target));
    return rc;
}

static int rd_load_node(struct meta *m, const struct meta_attr *attr, const char *target)
{
    struct bulk_args a = {.attr = attr, .target = target};
    return mr_txn(m, node_fn, &a);
}

static int entry_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    char text[64];
    int n = snprintf(text, sizeof(text), "%llu:%u:%llu", (unsigned long long)a->ino, a->type,
                     (unsigned long long)a->cookie);
    size_t len = strlen(a->name);
    int rc = mr_queue(tx, "HSET d%llu %b %b", (unsigned long long)a->parent, a->name, len, text, (size_t)n);
    if (rc == 0)
        rc = mr_queue(tx, "ZADD z%llu %llu %b", (unsigned long long)a->parent, (unsigned long long)a->cookie,
                      a->name, len);
    return rc;
}

static int rd_load_entry(struct meta *m, uint64_t parent, const char *name, uint64_t ino, uint32_t type,
                         uint64_t cookie)
{
    struct bulk_args a = {.parent = parent, .name = name, .ino = ino, .type = type, .cookie = cookie};
    return mr_txn(m, entry_fn, &a);
}

static int xattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return mr_queue(tx, "HSET x%llu %s %b", (unsigned long long)a->ino, a->name, a->data ? a->data : "", a->size);
}

static int rd_load_xattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size)
{
    struct bulk_args a = {.ino = ino, .name = name, .data = value, .size = size};
    return mr_txn(m, xattr_fn, &a);
}

static int chunk_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    unsigned char *blob = malloc(a->size * MR_SLICE_REC + 1);
    if (!blob)
        return -ENOMEM;
    for (size_t i = 0; i < a->size; i++)
        mr_slice_encode(&a->slices[i], blob + i * MR_SLICE_REC);
    unsigned long long ino = a->ino;
    int rc = mr_queue(tx, "SET c%llu_%u %b", ino, a->indx, blob, a->size * MR_SLICE_REC);
    free(blob);
    if (rc == 0)
        rc = mr_queue(tx, "ZADD k%llu %u %u", ino, a->indx, a->indx);
    for (size_t i = 0; rc == 0 && i < a->size; i++)
        if (a->slices[i].id)
            rc = mr_queue(tx, "HINCRBY sliceRef %llu 1", (unsigned long long)a->slices[i].id);
    return rc;
}

static int rd_load_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n)
{
    struct bulk_args a = {.ino = ino, .indx = indx, .slices = s, .size = n};
    return mr_txn(m, chunk_fn, &a);
}

static int delslice_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct bulk_args *a = arg;
    return mr_queue(tx, "ZADD delSlices %llu %llu:%u", (unsigned long long)a->ino, (unsigned long long)a->ino,
                    (unsigned)a->size);
}

static int rd_load_deleted_slice(struct meta *m, uint64_t id, uint32_t size)
{
    struct bulk_args a = {.ino = id, .size = size};
    return mr_txn(m, delslice_fn, &a);
}

const struct meta_bulk_ops meta_redis_bulk = {
    .get_counter = rd_get_counter,
    .set_counter = rd_set_counter,
    .load_node = rd_load_node,
    .load_entry = rd_load_entry,
    .load_xattr = rd_load_xattr,
    .load_chunk = rd_load_chunk,
    .load_deleted_slice = rd_load_deleted_slice,
};
