/* SPDX-License-Identifier: Apache-2.0
 *
 * Sessions in the Redis engine: one per mount, with its heartbeat (hash
 * `sessions`) and a JSON description (hash `sessionInfo`). Ending a session
 * (close_session for our own, or clean_sessions for the expired ones of any
 * host: a crashed client's) deletes the orphans it kept open (its set
 * sustained<sid>) and drops its flock and POSIX locks (found through its set
 * locked<sid>), in one transaction, as the SQLite engine does.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_redis_i.h"

/* drops session sid's fields from one lock hash */
static int drop_locks(struct mr_tx *tx, const char *prefix, const char *ino, uint64_t sid)
{
    char key[MR_KEY_MAX * 2], mine[32];
    snprintf(key, sizeof(key), "%s%s", prefix, ino);
    int n = snprintf(mine, sizeof(mine), "%llu_", (unsigned long long)sid);
    redisReply *r = mr_wcmd(tx, key, "HKEYS %s", key);
    int rc = mr_check(tx, r);
    for (size_t i = 0; rc == 0 && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (strncmp(r->element[i]->str, mine, (size_t)n) == 0)
            rc = mr_queue(tx, "HDEL %s %b", key, r->element[i]->str, r->element[i]->len);
    return rc;
}

/* Ends session sid: its orphans are deleted, its locks dropped. */
static int end_session(struct mr_tx *tx, uint64_t sid)
{
    char skey[MR_KEY_MAX], lkey[MR_KEY_MAX];
    mr_key(skey, "sustained", sid);
    mr_key(lkey, "locked", sid);
    redisReply *r = mr_wcmd(tx, skey, "SMEMBERS %s", skey);
    int rc = mr_check(tx, r);
    for (size_t i = 0; rc == 0 && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        struct meta_attr a;
        uint64_t ino = strtoull(r->element[i]->str, NULL, 10);
        rc = mr_attr_get(tx, ino, &a);
        if (rc == 0 && a.nlink == 0)
            rc = mr_node_delete(tx, ino);
        if (rc == -ENOENT)
            rc = 0;
    }
    r = rc ? NULL : mr_wcmd(tx, lkey, "SMEMBERS %s", lkey);
    if (rc == 0)
        rc = mr_check(tx, r);
    for (size_t i = 0; rc == 0 && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        rc = drop_locks(tx, "lockf", r->element[i]->str, sid);
        if (rc == 0)
            rc = drop_locks(tx, "lockp", r->element[i]->str, sid);
    }
    unsigned long long s = sid;
    if (rc == 0)
        rc = mr_queue(tx, "DEL %s %s", skey, lkey);
    if (rc == 0)
        rc = mr_queue(tx, "HDEL sessions %llu", s);
    if (rc == 0)
        rc = mr_queue(tx, "HDEL sessionInfo %llu", s);
    return rc;
}

struct new_session_args {
    char *json;
    uint64_t sid;
};

static int new_session_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct new_session_args *a = arg;
    redisReply *r = mr_cmd(tx, "HEXISTS setting format");
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (!r->integer)
        return -EIO; /* not formatted */
    if (!a->sid) { /* a retried attempt keeps its number */
        r = mr_cmd(tx, "INCR nextSession");
        rc = mr_check(tx, r);
        if (rc)
            return rc;
        a->sid = (uint64_t)r->integer - 1;
    }
    unsigned long long sid = a->sid;
    rc = mr_queue(tx, "HSET sessions %llu %lld", sid, (long long)mr_now());
    return rc ? rc : mr_queue(tx, "HSET sessionInfo %llu %s", sid, a->json);
}

int mr_new_session(struct meta *m, const struct meta_session_info *info, uint64_t *sid)
{
    if (!info)
        return -EINVAL;
    if (atomic_load(&m->sid))
        return -EEXIST;
    json_t *j = json_pack("{s:s?, s:s?, s:s?, s:I}", "host", info->host, "mountpoint", info->mountpoint,
                          "version", info->version, "pid", (json_int_t)info->pid);
    struct new_session_args a = {j ? json_dumps(j, JSON_COMPACT) : NULL, 0};
    json_decref(j);
    if (!a.json)
        return -ENOMEM;
    int rc = mr_txn(m, new_session_fn, &a);
    free(a.json);
    if (rc == 0) {
        atomic_store(&m->sid, a.sid);
        *sid = a.sid;
    }
    return rc;
}

static int heartbeat_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)arg;
    unsigned long long sid = atomic_load(&m->sid);
    redisReply *r = mr_wcmd(tx, "sessions", "HEXISTS sessions %llu", sid);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (!r->integer)
        return -ENOENT; /* cleaned as expired by another process */
    rc = mr_queue(tx, "HSET sessions %llu %lld", sid, (long long)mr_now());
    return rc ? rc : mr_load_limits(m, tx);
}

int mr_heartbeat(struct meta *m)
{
    if (!atomic_load(&m->sid))
        return -EINVAL;
    return mr_txn(m, heartbeat_fn, NULL);
}

static int close_session_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)arg;
    return end_session(tx, atomic_load(&m->sid));
}

int mr_close_session(struct meta *m)
{
    if (!atomic_load(&m->sid))
        return 0;
    int rc = mr_txn(m, close_session_fn, NULL);
    if (rc == 0)
        atomic_store(&m->sid, 0);
    return rc;
}

struct session_row {
    uint64_t sid;
    int64_t heartbeat;
    char *info;
};

struct list_args {
    struct session_row *rows;
    size_t n;
};

static void list_clear(struct list_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rows[i].info);
    free(a->rows);
    a->rows = NULL;
    a->n = 0;
}

static int by_sid(const void *x, const void *y)
{
    const struct session_row *a = x, *b = y;
    return a->sid < b->sid ? -1 : a->sid > b->sid;
}

static int list_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct list_args *a = arg;
    list_clear(a);
    redisReply *hb = mr_cmd(tx, "HGETALL sessions");
    int rc = mr_check(tx, hb);
    redisReply *info = rc ? NULL : mr_cmd(tx, "HGETALL sessionInfo");
    if (rc == 0)
        rc = mr_check(tx, info);
    if (rc)
        return rc;
    a->rows = calloc(hb->elements / 2 + 1, sizeof(*a->rows));
    if (!a->rows)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < hb->elements; i += 2) {
        struct session_row *r = &a->rows[a->n];
        const char *text = "{}";
        for (size_t k = 0; k + 1 < info->elements; k += 2)
            if (strcmp(info->element[k]->str, hb->element[i]->str) == 0)
                text = info->element[k + 1]->str;
        r->info = strdup(text);
        if (!r->info)
            return -ENOMEM;
        r->sid = strtoull(hb->element[i]->str, NULL, 10);
        r->heartbeat = strtoll(hb->element[i + 1]->str, NULL, 10);
        a->n++;
    }
    qsort(a->rows, a->n, sizeof(*a->rows), by_sid);
    return 0;
}

int mr_list_sessions(struct meta *m, meta_session_fn fn, void *arg)
{
    struct list_args a = {0};
    int rc = mr_read(m, list_fn, &a);
    for (size_t i = 0; rc == 0 && i < a.n; i++)
        if (fn(arg, a.rows[i].sid, a.rows[i].heartbeat, a.rows[i].info))
            break;
    list_clear(&a);
    return rc;
}

static int clean_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    int64_t before = mr_now() - *(int64_t *)arg;
    uint64_t mine = atomic_load(&m->sid);
    redisReply *r = mr_wcmd(tx, "sessions", "HGETALL sessions");
    int rc = mr_check(tx, r);
    for (size_t i = 0; rc == 0 && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        uint64_t sid = strtoull(r->element[i]->str, NULL, 10);
        if (sid != mine && strtoll(r->element[i + 1]->str, NULL, 10) < before)
            rc = end_session(tx, sid);
    }
    return rc;
}

int mr_clean_sessions(struct meta *m, int64_t expiry_ns)
{
    if (expiry_ns < 0)
        return -EINVAL;
    return mr_txn(m, clean_fn, &expiry_ns);
}
