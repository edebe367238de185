/* SPDX-License-Identifier: Apache-2.0
 *
 * SQL plumbing of the SQLite engine: the per-connection prepared-statement
 * cache, stepping with contention detection, binding by a type string, the
 * one SQLite -> errno translation, and the row helpers for `node` and
 * `counter` that every operation uses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meta/meta_sqlite_i.h"

int sqlite_rc_to_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EAGAIN; /* msq_txn retries; never reaches a caller */
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_TOOBIG:
        return -E2BIG;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_NOTADB:
        return -EINVAL; /* the file is not a database */
    case SQLITE_INTERRUPT:
        return -EINTR;
    default:
        return -EIO;
    }
}

static size_t stmt_slot(const char *sql)
{
    uintptr_t h = (uintptr_t)sql;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 40) & (MSQ_STMT_SLOTS - 1);
}

sqlite3_stmt *msq_prep(struct msq_conn *c, const char *sql)
{
    size_t i = stmt_slot(sql);
    for (size_t n = 0; n < MSQ_STMT_SLOTS; n++, i = (i + 1) & (MSQ_STMT_SLOTS - 1)) {
        struct msq_stmt_slot *s = &c->stmts[i];
        if (s->sql == sql) {
            sqlite3_reset(s->st);
            sqlite3_clear_bindings(s->st);
            return s->st;
        }
        if (s->sql)
            continue;
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
        if (rc != SQLITE_OK) {
            if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                c->busy = true;
            c->prep_err = sqlite_rc_to_errno(rc);
            if (c->prep_err == 0 || c->prep_err == -EEXIST)
                c->prep_err = -EIO;
            s->st = NULL;
            return NULL;
        }
        s->sql = sql;
        return s->st;
    }
    c->prep_err = -ENOMEM; /* more distinct statements than slots: a bug */
    return NULL;
}

int msq_step(struct msq_conn *c, sqlite3_stmt *st)
{
    if (!st)
        return c->prep_err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        c->busy = true;
    return sqlite_rc_to_errno(rc);
}

static void bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 1; *types; types++, i++) {
        switch (*types) {
        case 'I':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'i':
            sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 't':
            sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int len = va_arg(ap, int);
            sqlite3_bind_blob(st, i, p ? p : "", len, SQLITE_STATIC);
            break;
        }
        default:
            sqlite3_bind_null(st, i);
            break;
        }
    }
}

int msq_query(struct msq_conn *c, sqlite3_stmt **out, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = msq_prep(c, sql);
    if (st) {
        va_list ap;
        va_start(ap, types);
        bind_args(st, types, ap);
        va_end(ap);
    }
    if (out)
        *out = st;
    return msq_step(c, st);
}

int msq_exec(struct msq_conn *c, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = msq_prep(c, sql);
    if (st) {
        va_list ap;
        va_start(ap, types);
        bind_args(st, types, ap);
        va_end(ap);
    }
    int rc = msq_step(c, st);
    return rc > 0 ? 0 : rc;
}

int64_t msq_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t msq_align4k(uint64_t n)
{
    return (n + 4095) & ~4095ULL;
}


void msq_attr_from_row(sqlite3_stmt *st, int col, struct meta_attr *out)
{
    out->ino = (uint64_t)sqlite3_column_int64(st, col);
    out->mode = (uint32_t)sqlite3_column_int64(st, col + 1);
    out->uid = (uint32_t)sqlite3_column_int64(st, col + 2);
    out->gid = (uint32_t)sqlite3_column_int64(st, col + 3);
    out->nlink = (uint32_t)sqlite3_column_int64(st, col + 4);
    out->size = (uint64_t)sqlite3_column_int64(st, col + 5);
    out->rdev = (uint64_t)sqlite3_column_int64(st, col + 6);
    out->atime = sqlite3_column_int64(st, col + 7);
    out->mtime = sqlite3_column_int64(st, col + 8);
    out->ctime = sqlite3_column_int64(st, col + 9);
    out->parent = (uint64_t)sqlite3_column_int64(st, col + 10);
}

int msq_attr_get(struct msq_conn *c, uint64_t ino, struct meta_attr *out)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT " MSQ_ATTR_COLS " FROM node WHERE inode = ?", "I", ino);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    msq_attr_from_row(st, 0, out);
    sqlite3_reset(st);
    return 0;
}

int msq_attr_put(struct msq_conn *c, const struct meta_attr *a)
{
    return msq_exec(c,
                    "INSERT INTO node (" MSQ_ATTR_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(inode) DO UPDATE SET mode = excluded.mode, uid = excluded.uid, "
                    "gid = excluded.gid, nlink = excluded.nlink, length = excluded.length, rdev = excluded.rdev, "
                    "atime = excluded.atime, mtime = excluded.mtime, ctime = excluded.ctime, "
                    "parent = excluded.parent",
                    "IIIIIIIIIII", a->ino, (int64_t)a->mode, (int64_t)a->uid, (int64_t)a->gid,
                    (int64_t)a->nlink, a->size, a->rdev, a->atime, a->mtime, a->ctime, a->parent);
}

int msq_counter_get(struct msq_conn *c, const char *name, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT value FROM counter WHERE name = ?", "t", name);
    if (rc < 0)
        return rc;
    *out = rc ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return 0;
}

int msq_counter_add(struct msq_conn *c, const char *name, int64_t delta)
{
    if (delta == 0)
        return 0;
    return msq_exec(c,
                    "INSERT INTO counter (name, value) VALUES (?1, ?2) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + ?2",
                    "tI", name, delta);
}

int msq_check_space(struct meta *m, struct msq_conn *c, int64_t delta)
{
    uint64_t cap = atomic_load(&m->capacity);
    if (delta <= 0 || cap == 0)
        return 0;
    int64_t used;
    int rc = msq_counter_get(c, "usedSpace", &used);
    if (rc)
        return rc;
    return (uint64_t)used + (uint64_t)delta > cap ? -ENOSPC : 0;
}

int msq_batch_take(struct msq_conn *c, struct msq_batch *b, const char *name, uint64_t size, uint64_t *out)
{
    if (b->next >= b->end) {
        sqlite3_stmt *st;
        int rc = msq_query(c, &st, "UPDATE counter SET value = value + ? WHERE name = ? RETURNING value", "It",
                           (int64_t)size, name);
        if (rc <= 0)
            return rc ? rc : -EIO; /* no counter: not formatted */
        b->end = (uint64_t)sqlite3_column_int64(st, 0);
        b->next = b->end - size;
        b->fresh = true;
        sqlite3_reset(st);
    }
    *out = b->next++;
    return 0;
}

void msq_batch_settle(struct msq_batch *b, bool failed)
{
    if (failed && b->fresh)
        b->next = b->end = 0; /* its counter update was rolled back */
    b->fresh = false;
}

int msq_has_schema(struct msq_conn *c)
{
    return msq_query(c, NULL, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'setting'", "");
}
