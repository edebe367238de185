/* SPDX-License-Identifier: Apache-2.0
 *
 * Slice compaction in the Redis engine (meta_ops.compact_chunk), with the
 * SQLite engine's semantics: one optimistic transaction WATCHes the chunk
 * key, checks that it still starts with the records the compactor read,
 * and queues the new value and the reference moves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_redis_i.h"

struct compact_args {
    uint64_t ino;
    uint32_t indx;
    const struct meta_slice *old, *repl;
    size_t nold, nrepl;
};

static unsigned char *encode_all(const struct meta_slice *s, size_t n)
{
    unsigned char *b = malloc(n ? n * MR_SLICE_REC : 1);
    for (size_t i = 0; b && i < n; i++)
        mr_slice_encode(&s[i], b + i * MR_SLICE_REC);
    return b;
}

/* one reference of slice s dropped; the script queues it for deletion
 * when none is left (as meta_redis_data.c) */
static int unref_one(struct mr_tx *tx, const struct meta_slice *s)
{
    char id[24], size[16];
    snprintf(id, sizeof(id), "%" PRIu64, s->id);
    snprintf(size, sizeof(size), "%u", s->size);
    const char *argv[] = {"sliceRef", "delSlices", id, size, "1"};
    return mr_queue_eval(tx, MR_LUA_UNREF, 2, 5, argv, NULL);
}

static int queue_swap(struct mr_tx *tx, const struct compact_args *a, const char *key, const unsigned char *cur,
                      size_t len)
{
    size_t oldlen = a->nold * MR_SLICE_REC, newlen = a->nrepl * MR_SLICE_REC;
    unsigned char *old = encode_all(a->old, a->nold), *next = malloc(newlen + len - oldlen + 1);
    unsigned char *repl = encode_all(a->repl, a->nrepl);
    int rc = old && repl && next ? 0 : -ENOMEM;
    if (rc == 0 && memcmp(cur, old, oldlen) != 0)
        rc = -ESTALE;
    if (rc == 0) {
        memcpy(next, repl, newlen);
        memcpy(next + newlen, cur + oldlen, len - oldlen);
        rc = mr_queue(tx, "SET %s %b", key, next, newlen + len - oldlen);
    }
    for (size_t i = 0; rc == 0 && i < a->nrepl; i++)
        if (a->repl[i].id)
            rc = mr_queue(tx, "HINCRBY sliceRef %llu 1", (unsigned long long)a->repl[i].id);
    for (size_t i = 0; rc == 0 && i < a->nold; i++)
        if (a->old[i].id)
            rc = unref_one(tx, &a->old[i]);
    free(old);
    free(repl);
    free(next);
    return rc;
}

static int compact_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct compact_args *a = arg;
    char key[MR_KEY_MAX * 2];
    snprintf(key, sizeof(key), "c%llu_%u", (unsigned long long)a->ino, a->indx);
    redisReply *r = mr_wget(tx, key);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING || r->len < a->nold * MR_SLICE_REC)
        return -ESTALE;
    return queue_swap(tx, a, key, (const unsigned char *)r->str, r->len);
}

int mr_compact_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *old, size_t nold,
                     const struct meta_slice *repl, size_t nrepl)
{
    if (nold == 0)
        return -EINVAL;
    struct compact_args a = {ino, indx, old, repl, nold, nrepl};
    return mr_txn(m, compact_fn, &a);
}
