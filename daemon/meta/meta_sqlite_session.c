/* SPDX-License-Identifier: Apache-2.0
 *
 * Sessions in the SQLite engine: one row per mount with its heartbeat and a
 * JSON description. Ending a session (close_session for our own, or
 * clean_sessions for expired ones of any process) deletes the orphans it kept
 * open (the `sustained` rows) and drops its flock and POSIX locks.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_sqlite_i.h"

struct id_list {
    uint64_t *v;
    size_t n, cap;
};

static int ids_push(struct id_list *l, uint64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return 0;
}

/* Collects column 0 of a query with up to two integer parameters (an
 * unused second one is ignored). */
static int ids_query(struct msq_conn *c, const char *sql, uint64_t p1, uint64_t p2, struct id_list *out)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, sql, "II", p1, p2);
    for (; rc > 0; rc = msq_step(c, st))
        rc = ids_push(out, (uint64_t)sqlite3_column_int64(st, 0)) ? -ENOMEM : 1;
    return rc;
}

/* Ends session sid: its orphans are deleted, its locks dropped. */
static int end_session(struct msq_conn *c, uint64_t sid)
{
    struct id_list orphans = {0};
    int rc = ids_query(c, "SELECT inode FROM sustained WHERE sid = ?", sid, 0, &orphans);
    for (size_t i = 0; rc == 0 && i < orphans.n; i++) {
        struct meta_attr a;
        rc = msq_attr_get(c, orphans.v[i], &a);
        if (rc == 0 && a.nlink == 0)
            rc = msq_node_delete(c, a.ino);
        if (rc == -ENOENT)
            rc = 0;
    }
    free(orphans.v);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM sustained WHERE sid = ?", "I", sid);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM flock WHERE sid = ?", "I", sid);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM plock WHERE sid = ?", "I", sid);
    if (rc == 0)
        rc = msq_exec(c, "DELETE FROM session WHERE sid = ?", "I", sid);
    return rc;
}

struct new_session_args {
    const struct meta_session_info *info;
    char *json;
    uint64_t sid;
};

static int new_session_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct new_session_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "UPDATE counter SET value = value + 1 WHERE name = 'nextSession' RETURNING value",
                       "");
    if (rc <= 0)
        return rc ? rc : -EIO; /* not formatted */
    a->sid = (uint64_t)sqlite3_column_int64(st, 0) - 1;
    sqlite3_reset(st);
    return msq_exec(c, "INSERT INTO session (sid, heartbeat, info) VALUES (?, ?, ?)", "IIt", a->sid, msq_now(),
                    a->json);
}

int msq_new_session(struct meta *m, const struct meta_session_info *info, uint64_t *sid)
{
    if (!info)
        return -EINVAL;
    if (atomic_load(&m->sid))
        return -EEXIST;
    json_t *j = json_pack("{s:s?, s:s?, s:s?, s:I}", "host", info->host, "mountpoint", info->mountpoint,
                          "version", info->version, "pid", (json_int_t)info->pid);
    struct new_session_args a = {info, j ? json_dumps(j, JSON_COMPACT) : NULL, 0};
    json_decref(j);
    if (!a.json)
        return -ENOMEM;
    int rc = msq_txn(m, MSQ_WRITE, new_session_fn, &a);
    free(a.json);
    if (rc == 0) {
        atomic_store(&m->sid, a.sid);
        *sid = a.sid;
    }
    return rc;
}

static int heartbeat_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)arg;
    int rc = msq_exec(c, "UPDATE session SET heartbeat = ? WHERE sid = ?", "II", msq_now(), atomic_load(&m->sid));
    if (rc == 0 && sqlite3_changes(c->db) == 0)
        return -ENOENT; /* cleaned as expired by another process */
    return rc ? rc : msq_load_limits(m, c);
}

int msq_heartbeat(struct meta *m)
{
    if (!atomic_load(&m->sid))
        return -EINVAL;
    return msq_txn(m, MSQ_WRITE, heartbeat_fn, NULL);
}

static int close_session_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)arg;
    return end_session(c, atomic_load(&m->sid));
}

int msq_close_session(struct meta *m)
{
    if (!atomic_load(&m->sid))
        return 0;
    int rc = msq_txn(m, MSQ_WRITE, close_session_fn, NULL);
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
    size_t n, cap;
};

static int list_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct list_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT sid, heartbeat, info FROM session ORDER BY sid", "");
    for (; rc > 0; rc = msq_step(c, st)) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 8;
            struct session_row *r = realloc(a->rows, cap * sizeof(*r));
            if (!r)
                return -ENOMEM;
            a->rows = r;
            a->cap = cap;
        }
        struct session_row *r = &a->rows[a->n];
        r->info = strdup((const char *)sqlite3_column_text(st, 2));
        if (!r->info)
            return -ENOMEM;
        r->sid = (uint64_t)sqlite3_column_int64(st, 0);
        r->heartbeat = sqlite3_column_int64(st, 1);
        a->n++;
    }
    return rc;
}

static void list_clear(struct list_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rows[i].info);
    a->n = 0;
}

/* the callback runs after the read, with no connection held */
static int list_reset_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    list_clear(arg);
    return list_fn(m, c, arg);
}

int msq_list_sessions(struct meta *m, meta_session_fn fn, void *arg)
{
    struct list_args a = {0};
    int rc = msq_txn(m, MSQ_READ, list_reset_fn, &a);
    for (size_t i = 0; rc == 0 && i < a.n; i++)
        if (fn(arg, a.rows[i].sid, a.rows[i].heartbeat, a.rows[i].info))
            break;
    list_clear(&a);
    free(a.rows);
    return rc;
}

static int clean_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    int64_t before = msq_now() - *(int64_t *)arg;
    struct id_list expired = {0};
    int rc = ids_query(c, "SELECT sid FROM session WHERE heartbeat < ? AND sid != ?", (uint64_t)before,
                       atomic_load(&m->sid), &expired);
    for (size_t i = 0; rc == 0 && i < expired.n; i++)
        rc = end_session(c, expired.v[i]);
    free(expired.v);
    return rc;
}

int msq_clean_sessions(struct meta *m, int64_t expiry_ns)
{
    if (expiry_ns < 0)
        return -EINVAL;
    return msq_txn(m, MSQ_WRITE, clean_fn, &expiry_ns);
}
