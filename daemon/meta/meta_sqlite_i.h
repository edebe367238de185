/* SPDX-License-Identifier: Apache-2.0
 *
 * Private to the SQLite metadata engine (meta_sqlite*.c): the engine handle,
 * the connection pool with its per-connection statement cache, the
 * transaction runner with busy retries, and small row helpers shared by the
 * namespace, data, lock and session files.
 *
 * Invariants:
 *  1. Every operation runs inside msq_txn(): a write operation holds
 *     meta.write_lock for its whole transaction (SQLite allows one writer;
 *     serialising in-process turns lock contention into a queue instead of
 *     SQLITE_BUSY storms); a read operation takes no engine lock at all and
 *     reads a WAL snapshot on its own pooled connection.
 *  2. A connection is used by one thread at a time (taken from the pool for
 *     one operation), so its statement cache needs no lock.
 *  3. SQLITE_BUSY/LOCKED set conn.busy; msq_txn then rolls back and runs the
 *     whole operation again with backoff. Operation bodies must therefore
 *     have no side effects outside the database except through the fields
 *     below that msq_txn knows how to undo (the inode batch).
 *  4. Inode, directory-entry and slice numbers come from the `counter`
 *     table in batches (struct msq_batch); a batch taken inside a
 *     transaction that rolls back is forgotten.
 */
#ifndef TIDEFS_META_SQLITE_I_H
#define TIDEFS_META_SQLITE_I_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "meta/meta.h"

#define MSQ_STMT_SLOTS 256 /* per-connection statement cache (power of 2) */
#define MSQ_MAX_CONNS 32
#define MSQ_INO_BATCH 1024
#define MSQ_SLICE_BATCH 4096
#define MSQ_EDGE_BATCH 1024
#define MSQ_SLICE_REC 24 /* bytes of one encoded slice record */
#define MSQ_SPACE_UNLIMITED (1ULL << 50)  /* 1 PiB shown when no capacity is set */
#define MSQ_INODES_UNLIMITED (1ULL << 40) /* shown when no inode limit is set */

struct msq_stmt_slot {
    const char *sql; /* the statement text's address is the key */
    sqlite3_stmt *st;
};

/* numbers handed out from a counter row, `size` at a time */
struct msq_batch {
    uint64_t next, end;
    bool fresh; /* taken in the running transaction */
};

struct msq_conn {
    sqlite3 *db;
    bool busy;    /* a step hit SQLITE_BUSY/LOCKED: retry the operation */
    int prep_err; /* -errno of the last failed prepare */
    struct msq_conn *next_free;
    struct msq_stmt_slot stmts[MSQ_STMT_SLOTS];
};

struct meta {
    char *path;     /* database file */
    char *wal_path; /* its write-ahead log, fsync'ed by sync() */

    pthread_mutex_t write_lock; /* one write transaction at a time */

    /* the background checkpointer (see meta_sqlite.c) */
    pthread_t ckpt_thread;
    bool ckpt_started;         /* the thread exists (to be joined) */
    _Atomic bool ckpt_alive;   /* the thread has its connection */
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    bool ckpt_wanted; /* protected by ckpt_lock */
    bool ckpt_stop;   /* protected by ckpt_lock */
    _Atomic int ckpt_base; /* WAL frames already checkpointed in this WAL generation */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct msq_conn *free_conns; /* protected by pool_lock */
    unsigned nconns;             /* protected by pool_lock */

    /* protected by write_lock */
    meta_is_open_fn is_open;
    void *is_open_arg;
    struct msq_batch ino_batch, edge_batch, slice_batch;

    _Atomic uint64_t sid; /* this handle's session, 0 = none; set by new/close_session */

    /* from the "format" setting; read without locks */
    _Atomic uint64_t capacity; /* bytes, 0 = unlimited */
    _Atomic uint64_t inode_limit;
    _Atomic int trash_days; /* 0 = removals delete at once */

    /* Which directories have quotas (meta_sqlite_quota.c): the inodes, as
     * of counter quotaGen = quota_gen (-1: reload). Quotas are rare, so a
     * write reads one counter and walks its ancestors only when this set
     * is non-empty. Protected by write_lock (only writers consult it). */
    int64_t quota_gen;
    uint64_t *quota_dirs; /* sorted, owned */
    size_t nquota_dirs;
};

/* column order of every SELECT that feeds msq_attr_from_row */
#define MSQ_ATTR_COLS "inode, mode, uid, gid, nlink, length, rdev, atime, mtime, ctime, parent"
#define MSQ_ATTR_COLS_N \
    "n.inode, n.mode, n.uid, n.gid, n.nlink, n.length, n.rdev, n.atime, n.mtime, n.ctime, n.parent"

enum msq_kind {
    MSQ_READ,      /* autocommit: the body is one statement, or tolerates several snapshots */
    MSQ_READ_SNAP, /* BEGIN DEFERRED: several statements, one snapshot */
    MSQ_WRITE,     /* write_lock + BEGIN IMMEDIATE */
};

typedef int (*msq_fn)(struct meta *m, struct msq_conn *c, void *arg);

/* Runs fn in a transaction of `kind`, retrying the whole of it while SQLite
 * reports contention (bounded: -EIO after about 30 s). Returns fn's result
 * (which may be a positive count) or -errno. Commits only when fn >= 0. */
int msq_txn(struct meta *m, enum msq_kind kind, msq_fn fn, void *arg);

/* The one translation of SQLite result codes to -errno. */
int sqlite_rc_to_errno(int rc);

/* The cached prepared statement for `sql` (a string literal: its address is
 * the cache key), reset and with bindings cleared; NULL when preparing failed
 * (then msq_step reports it). */
sqlite3_stmt *msq_prep(struct msq_conn *c, const char *sql);
/* 1 = a row, 0 = done, or -errno (marking c->busy on contention). */
int msq_step(struct msq_conn *c, sqlite3_stmt *st);
/* Prepare, bind by `types` ('I' int64_t/uint64_t, 'i' int, 't' text,
 * 'b' blob: pointer then int length, 'n' NULL) and step once. Returns 1 with
 * the statement at its first row (*out set when out != NULL), 0 when there
 * is none, or -errno. */
int msq_query(struct msq_conn *c, sqlite3_stmt **out, const char *sql, const char *types, ...);
/* As msq_query for statements without rows: 0 or -errno. */
int msq_exec(struct msq_conn *c, const char *sql, const char *types, ...);

int64_t msq_now(void);
uint64_t msq_align4k(uint64_t n);

/* rows of `node` and counters */
int msq_attr_get(struct msq_conn *c, uint64_t ino, struct meta_attr *out);
int msq_attr_put(struct msq_conn *c, const struct meta_attr *a);
void msq_attr_from_row(sqlite3_stmt *st, int col, struct meta_attr *out);
int msq_counter_get(struct msq_conn *c, const char *name, int64_t *out);
int msq_counter_add(struct msq_conn *c, const char *name, int64_t delta);
/* -ENOSPC when growing used space by `delta` bytes passes the capacity */
int msq_check_space(struct meta *m, struct msq_conn *c, int64_t delta);
/* The next number of counter `name` (write transactions only). */
int msq_batch_take(struct msq_conn *c, struct msq_batch *b, const char *name, uint64_t size, uint64_t *out);
/* After a write transaction: a batch taken by it is dropped if it failed. */
void msq_batch_settle(struct msq_batch *b, bool failed);

/* The link count of `ino` reached 0: keep it for its open handles (asking
 * is_open) or delete it with its data. Write transactions only. */
int msq_node_orphaned(struct meta *m, struct msq_conn *c, uint64_t ino);
/* Deletes the node, its chunks (slices unreferenced), symlink, xattrs and
 * locks, and updates the counters. */
int msq_node_delete(struct msq_conn *c, uint64_t ino);
/* Drops every chunk of ino with index >= first, unreferencing its slices. */
int msq_chunks_drop(struct msq_conn *c, uint64_t ino, uint64_t first);
/* Appends a hole over [pos, pos+len) of an existing chunk (none: no-op). */
int msq_chunk_hole(struct msq_conn *c, uint64_t ino, uint64_t indx, uint32_t pos, uint32_t len);
/* Sets a regular file's length: truncates down (holes, dropped chunks) or
 * extends, with the space accounting. Does not touch times. */
int msq_set_length(struct meta *m, struct msq_conn *c, struct meta_attr *a, uint64_t len);

/* Directory quotas (meta_sqlite_quota.c), write transactions only. A
 * usage change of (dspace bytes, dinodes) for something directly in
 * directory `dir`: applied to every quota at or above dir; -EDQUOT when a
 * growth passes one of their limits. */
int msq_quota_adjust(struct meta *m, struct msq_conn *c, uint64_t dir, int64_t dspace, int64_t dinodes);
/* `node` (a file, or a directory with its subtree) moves from directory
 * `from` to directory `to`: its usage leaves the quotas above `from` that
 * are not above `to` and joins the others (-EDQUOT). */
int msq_quota_move(struct meta *m, struct msq_conn *c, const struct meta_attr *node, uint64_t from, uint64_t to);
/* A directory is deleted: its quota, if any, goes with it. */
int msq_quota_forget(struct meta *m, struct msq_conn *c, uint64_t dir);
/* The space a node counts for: regular files' 4 KiB-rounded length. */
uint64_t msq_node_space(const struct meta_attr *a);
/* Drops one reference of slice s (queued for deletion at zero). */
int msq_unref_slice(struct msq_conn *c, const struct meta_slice *s);

/* The trash (meta_sqlite_trash.c), write transactions only. 1 when a
 * removal from directory p should go to the trash instead, 0 if not. */
int msq_trash_wanted(struct meta *m, struct msq_conn *c, const struct meta_attr *p);
/* Moves node n, entry `name` of directory `parent` (its edge already
 * removed, its quota usage already taken out by the caller), into the
 * trash directory of this hour; n->parent and n->ctime are updated and
 * written back. */
int msq_trash_move(struct meta *m, struct msq_conn *c, uint64_t parent, const char *name, struct meta_attr *n);
/* -EPERM when directory p is the trash or inside it (nothing is created
 * or moved there but by removals). */
int msq_trash_check_target(struct msq_conn *c, const struct meta_attr *p);
/* The trash directory's attributes; -ENOENT until something was trashed. */
int msq_trash_lookup(struct msq_conn *c, struct meta_attr *out);
/* A new directory entry (meta_sqlite_ns.c) with a fresh readdir cookie. */
int msq_edge_add(struct meta *m, struct msq_conn *c, uint64_t parent, const char *name, uint64_t ino, uint32_t mode);

/* slice records */
void msq_slice_encode(const struct meta_slice *s, unsigned char out[MSQ_SLICE_REC]);
void msq_slice_decode(const unsigned char in[MSQ_SLICE_REC], struct meta_slice *s);

/* 1 when the database has the engine's tables (init ran), else 0 */
int msq_has_schema(struct msq_conn *c);
/* Reads the capacity and inode limits from the "format" setting. */
int msq_load_limits(struct meta *m, struct msq_conn *c);

/* the operations, by file */
int msq_lookup(struct meta *m, uint64_t parent, const char *name, struct meta_attr *out);
int msq_getattr(struct meta *m, uint64_t ino, struct meta_attr *out);
int msq_setattr(struct meta *m, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
                struct meta_attr *out);
int msq_mknod(struct meta *m, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
              uint64_t rdev, const char *target, struct meta_attr *out);
int msq_link(struct meta *m, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out);
int msq_unlink(struct meta *m, uint64_t parent, const char *name);
int msq_rmdir(struct meta *m, uint64_t parent, const char *name);
int msq_rename(struct meta *m, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
               unsigned flags);
int msq_readlink(struct meta *m, uint64_t ino, char **out);
int msq_readdir(struct meta *m, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg);
int msq_release_orphan(struct meta *m, uint64_t ino);

ssize_t msq_getxattr(struct meta *m, uint64_t ino, const char *name, void *buf, size_t size);
int msq_setxattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size, int flags);
ssize_t msq_listxattr(struct meta *m, uint64_t ino, char *buf, size_t size);
int msq_removexattr(struct meta *m, uint64_t ino, const char *name);

int msq_new_slice_id(struct meta *m, uint64_t *id);
int msq_read_chunk(struct meta *m, uint64_t ino, uint32_t indx, struct meta_slice **out, size_t *n);
int msq_write(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, int64_t mtime_ns,
              struct meta_attr *out);
int msq_fallocate(struct meta *m, uint64_t ino, int mode, uint64_t off, uint64_t len, struct meta_attr *out);
int msq_list_deleted_slices(struct meta *m, size_t max, meta_slice_fn fn, void *arg);
int msq_ack_deleted_slice(struct meta *m, uint64_t id, uint32_t size);
int msq_statfs(struct meta *m, struct meta_statfs *out);

int msq_flock(struct meta *m, uint64_t ino, uint64_t owner, int type);
int msq_getlk(struct meta *m, uint64_t ino, uint64_t owner, struct meta_plock *lk);
int msq_setlk(struct meta *m, uint64_t ino, uint64_t owner, const struct meta_plock *lk);

int msq_quota_set(struct meta *m, uint64_t ino, uint64_t max_space, uint64_t max_inodes);
int msq_quota_get(struct meta *m, uint64_t ino, struct meta_quota *out);
int msq_quota_list(struct meta *m, meta_quota_fn fn, void *arg);
int msq_quota_delete(struct meta *m, uint64_t ino);
int msq_statfs_dir(struct meta *m, uint64_t ino, struct meta_statfs *out);
int msq_list_chunks(struct meta *m, meta_chunk_fn fn, void *arg);
int msq_chunk_drop_slice(struct meta *m, uint64_t ino, uint32_t indx, uint64_t id);
int msq_destroy(struct meta *m);
int msq_compact_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *old, size_t nold,
                      const struct meta_slice *repl, size_t nrepl);

int msq_new_session(struct meta *m, const struct meta_session_info *info, uint64_t *sid);
int msq_heartbeat(struct meta *m);
int msq_close_session(struct meta *m);
int msq_list_sessions(struct meta *m, meta_session_fn fn, void *arg);
int msq_clean_sessions(struct meta *m, int64_t expiry_ns);

#endif
