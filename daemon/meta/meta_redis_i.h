/* SPDX-License-Identifier: Apache-2.0
 *
 * Private to the Redis metadata engine (meta_redis*.c): the engine handle,
 * the connection pool, the optimistic transaction runner, the key schema,
 * the value encodings and the server-side (Lua) scripts.
 *
 * Key schema (one Redis database per volume; integers in decimal):
 *   setting            HASH name -> value ("format" is the volume's JSON)
 *   nextInode nextEdge nextSlice nextSession usedSpace totalInodes   counters
 *   i<ino>             STRING, the 64-byte attribute record (mr_attr_encode)
 *   d<ino>             HASH name -> "<ino>:<type>:<cookie>" (lookup by name)
 *   z<ino>             ZSET name scored by its cookie (readdir order; cookies
 *                      come from nextEdge, are never reused and survive rename)
 *   s<ino>             STRING symlink target
 *   x<ino>             HASH xattr name -> value
 *   k<ino>             ZSET of the chunk indexes that exist (member = score)
 *   c<ino>_<indx>      STRING of appended 24-byte slice records (as SQLite's)
 *   sliceRef           HASH slice id -> references
 *   delSlices          ZSET "<id>:<size>" scored by id: blocks to delete
 *   lockf<ino>         HASH "<sid>_<owner>" -> flock type
 *   lockp<ino>         HASH "<sid>_<owner>" -> POSIX lock records
 *   locked<sid>        SET of inodes where session sid holds locks
 *   sessions           HASH sid -> heartbeat (ns)
 *   sessionInfo        HASH sid -> JSON description
 *   sustained<sid>     SET of unlinked inodes kept open by session sid
 *   q<ino>             HASH of directory ino's quota: ms mi (limits, 0 =
 *                      none), us ui (its subtree's usage, HINCRBY'ed)
 *   quotaDirs          SET of the directories that have a quota
 *   quotaGen           counter bumped by every quota set/delete (caches)
 *   i<META_TRASH_INO>  the trash directory (no entry in the root); d/z of it
 *                      hold the hour directories (meta_redis_trash.c)
 *
 * Invariants:
 *  1. Every operation is one optimistic transaction (mr_txn): the body WATCHes
 *     each key it reads, queues its writes, and the runner sends them as one
 *     MULTI/EXEC. EXEC refused (a watched key changed) reruns the whole body
 *     after a random backoff; a broken connection is reopened and the body
 *     rerun. Both are bounded by MR_RETRY_LIMIT_NS, then -EIO. Bodies must
 *     have no side effects outside Redis except what the runner undoes.
 *  2. A connection is used by one thread at a time (taken from the pool for
 *     one operation).
 *  3. Numbers (inodes, cookies, slice ids) come from INCRBY on a counter in
 *     batches, outside any transaction: a number is never handed out twice,
 *     one taken by a transaction that is retried or fails is simply unused.
 *  4. Counters read for limits (usedSpace, totalInodes) are WATCHed only when
 *     a limit is set, so unlimited volumes do not serialise every write.
 */
#ifndef TIDEFS_META_REDIS_I_H
#define TIDEFS_META_REDIS_I_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "meta/meta.h"

#define MR_MAX_CONNS 64
#define MR_INO_BATCH 1024
#define MR_EDGE_BATCH 1024
#define MR_SLICE_BATCH 4096
#define MR_SLICE_REC 24
#define MR_ATTR_REC 64
#define MR_RETRY_LIMIT_NS 30000000000LL /* then give up with -EIO */
#define MR_SPACE_UNLIMITED (1ULL << 50)  /* as the SQLite engine */
#define MR_INODES_UNLIMITED (1ULL << 40)

enum mr_script {
    MR_LUA_LOOKUP,
    MR_LUA_READDIR,
    MR_LUA_UNREF,
    MR_LUA_COUNT,
};

struct mr_conn {
    redisContext *ctx; /* NULL while disconnected */
    struct mr_conn *next_free;
};

/* numbers handed out from a counter, `size` at a time */
struct mr_batch {
    pthread_mutex_t lock;
    uint64_t next, end;
};

struct meta {
    /* from the URL; password never printed */
    char *host;
    int port;
    int db;
    char *user;
    char *password;
    char *shown; /* "host:port/db" for messages */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct mr_conn *free_conns; /* protected by pool_lock */
    unsigned nconns;            /* protected by pool_lock */

    char sha[MR_LUA_COUNT][41]; /* SHA1 of each script, for EVALSHA */

    pthread_mutex_t cb_lock; /* protects is_open, is_open_arg */
    meta_is_open_fn is_open;
    void *is_open_arg;

    struct mr_batch ino_batch, edge_batch, slice_batch;

    _Atomic bool down;    /* the server is unreachable (said once per outage) */
    _Atomic uint64_t sid; /* this handle's session, 0 = none */
    _Atomic uint64_t capacity;
    _Atomic uint64_t inode_limit;
    _Atomic int trash_days; /* 0 = removals delete at once */

    /* Which directories have quotas (meta_redis_quota.c), as of counter
     * quotaGen = quota_gen (-1: reload). Protected by quota_lock. */
    pthread_mutex_t quota_lock;
    int64_t quota_gen;
    uint64_t *quota_dirs; /* sorted, owned */
    size_t nquota_dirs;
};

/* A quota usage change queued by this attempt (HINCRBY applies it at EXEC),
 * so that a second change of the same quota in one transaction checks its
 * limit against the usage the first one leaves. */
struct mr_qdelta {
    uint64_t ino;
    int64_t space, inodes;
};

/* One attempt of a transaction: the replies it read (freed by the runner)
 * and the writes it queued. */
struct mr_tx {
    struct meta *m;
    struct mr_conn *c;
    bool broken;  /* the connection failed: reconnect and rerun */
    bool watched; /* a WATCH was sent */
    redisReply **replies;
    size_t nreplies, capreplies;
    char **cmds; /* formatted RESP commands queued for MULTI/EXEC */
    size_t *cmdlens;
    size_t ncmds, capcmds;
    bool readonly; /* mr_read: nothing watched, nothing queued */
    struct mr_qdelta *qd; /* owned; freed by the runner */
    size_t nqd, capqd;
};

typedef int (*mr_fn)(struct meta *m, struct mr_tx *tx, void *arg);

/* Runs fn as one transaction (see invariant 1). Returns fn's result (which
 * may be a positive count) or -errno. Writes are applied only when fn >= 0. */
int mr_txn(struct meta *m, mr_fn fn, void *arg);
/* As mr_txn for bodies that only read: no WATCH, no MULTI/EXEC (several
 * reads may see different moments, as the SQLite engine's MSQ_READ). */
int mr_read(struct meta *m, mr_fn fn, void *arg);

/* Sends a command now and returns its reply (owned by tx), or NULL when the
 * connection broke (tx->broken set). An error reply is returned as such. */
redisReply *mr_cmd(struct mr_tx *tx, const char *fmt, ...);
/* WATCH the key (not in read-only transactions), then GET it: the value or
 * a NIL reply; NULL when broken. */
redisReply *mr_wget(struct mr_tx *tx, const char *key);
/* WATCH key (not in read-only transactions) and send a command in the
 * same round trip; its reply as mr_cmd's. */
redisReply *mr_wcmd(struct mr_tx *tx, const char *key, const char *fmt, ...);
/* WATCH a key (a no-op in read-only transactions); 0 or -EIO. */
int mr_watch(struct mr_tx *tx, const char *key);
/* Queues a write command for the transaction's MULTI/EXEC. */
int mr_queue(struct mr_tx *tx, const char *fmt, ...);
/* Runs a script now (EVALSHA, loading it when Redis lost it). */
redisReply *mr_eval(struct mr_tx *tx, enum mr_script s, int nkeys, int argc, const char **argv, const size_t *lens);
/* Queues a script for MULTI/EXEC (as EVAL: always known to the server). */
int mr_queue_eval(struct mr_tx *tx, enum mr_script s, int nkeys, int argc, const char **argv, const size_t *lens);
/* -EIO (or the broken-connection marker) for a reply that is NULL or an
 * error; 0 otherwise. */
int mr_check(struct mr_tx *tx, const redisReply *r);

/* the Lua source of each script */
const char *mr_script_source(enum mr_script s);

/* connections (meta_redis_conn.c) */
int mr_url_parse(const char *url, struct meta *m);
int mr_connect(struct meta *m, redisContext **out, char *why, size_t whylen);
int mr_server_checks(struct meta *m, redisContext *ctx);
struct mr_conn *mr_pool_get(struct meta *m);
void mr_pool_put(struct meta *m, struct mr_conn *c);
void mr_pool_close(struct meta *m);

int64_t mr_now(void);
/* key names: prefix immediately followed by the number */
#define MR_KEY_MAX 64
void mr_key(char out[MR_KEY_MAX], const char *prefix, uint64_t n);
uint64_t mr_align4k(uint64_t n);

/* encodings */
void mr_attr_encode(const struct meta_attr *a, unsigned char out[MR_ATTR_REC]);
int mr_attr_decode(const char *p, size_t len, struct meta_attr *a);
void mr_slice_encode(const struct meta_slice *s, unsigned char out[MR_SLICE_REC]);
void mr_slice_decode(const unsigned char in[MR_SLICE_REC], struct meta_slice *s);

/* rows shared by the operation files */
int mr_attr_get(struct mr_tx *tx, uint64_t ino, struct meta_attr *out); /* watched */
int mr_attr_put(struct mr_tx *tx, const struct meta_attr *a);
/* a counter's value (watched when `watch`), 0 when absent */
int mr_counter_get(struct mr_tx *tx, const char *name, bool watch, int64_t *out);
int mr_counter_add(struct mr_tx *tx, const char *name, int64_t delta);
int mr_check_space(struct mr_tx *tx, int64_t delta);
int mr_batch_take(struct mr_tx *tx, struct mr_batch *b, const char *name, uint64_t size, uint64_t *out);
int mr_load_limits(struct meta *m, struct mr_tx *tx);

int mr_node_orphaned(struct mr_tx *tx, uint64_t ino);
int mr_node_delete(struct mr_tx *tx, uint64_t ino);
int mr_chunks_drop(struct mr_tx *tx, uint64_t ino, uint64_t first);
int mr_chunk_hole(struct mr_tx *tx, uint64_t ino, uint64_t indx, uint32_t pos, uint32_t len);
int mr_set_length(struct mr_tx *tx, struct meta_attr *a, uint64_t len);

/* Directory quotas (meta_redis_quota.c), write transactions only; as
 * msq_quota_adjust/move/forget of the SQLite engine. */
int mr_quota_adjust(struct mr_tx *tx, uint64_t dir, int64_t dspace, int64_t dinodes);
int mr_quota_move(struct mr_tx *tx, const struct meta_attr *node, uint64_t from, uint64_t to);
int mr_quota_forget(struct mr_tx *tx, uint64_t dir);
uint64_t mr_node_space(const struct meta_attr *a);
void mr_quota_cache_free(struct meta *m);

/* The trash (meta_redis_trash.c), as the SQLite engine's msq_trash_*. */
int mr_trash_wanted(struct mr_tx *tx, const struct meta_attr *p);
int mr_trash_move(struct mr_tx *tx, uint64_t parent, const char *name, struct meta_attr *n);
int mr_trash_check_target(struct mr_tx *tx, const struct meta_attr *p);
int mr_trash_lookup(struct mr_tx *tx, struct meta_attr *out);
/* a new directory entry with a fresh readdir cookie (meta_redis_ns.c) */
int mr_edge_add(struct mr_tx *tx, uint64_t parent, const char *name, uint64_t ino, uint32_t mode);

/* the operations, by file */
int mr_lookup(struct meta *m, uint64_t parent, const char *name, struct meta_attr *out);
int mr_getattr(struct meta *m, uint64_t ino, struct meta_attr *out);
int mr_setattr(struct meta *m, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
               struct meta_attr *out);
int mr_mknod(struct meta *m, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
             uint64_t rdev, const char *target, struct meta_attr *out);
int mr_link(struct meta *m, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out);
int mr_unlink(struct meta *m, uint64_t parent, const char *name);
int mr_rmdir(struct meta *m, uint64_t parent, const char *name);
int mr_rename(struct meta *m, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
              unsigned flags);
int mr_readlink(struct meta *m, uint64_t ino, char **out);
int mr_readdir(struct meta *m, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg);
int mr_release_orphan(struct meta *m, uint64_t ino);

ssize_t mr_getxattr(struct meta *m, uint64_t ino, const char *name, void *buf, size_t size);
int mr_setxattr(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size, int flags);
ssize_t mr_listxattr(struct meta *m, uint64_t ino, char *buf, size_t size);
int mr_removexattr(struct meta *m, uint64_t ino, const char *name);

int mr_new_slice_id(struct meta *m, uint64_t *id);
int mr_read_chunk(struct meta *m, uint64_t ino, uint32_t indx, struct meta_slice **out, size_t *n);
int mr_compact_chunk(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *old, size_t nold,
                     const struct meta_slice *repl, size_t nrepl);
int mr_write(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, int64_t mtime_ns,
             struct meta_attr *out);
int mr_fallocate(struct meta *m, uint64_t ino, int mode, uint64_t off, uint64_t len, struct meta_attr *out);
int mr_list_deleted_slices(struct meta *m, size_t max, meta_slice_fn fn, void *arg);
int mr_ack_deleted_slice(struct meta *m, uint64_t id, uint32_t size);

int mr_flock(struct meta *m, uint64_t ino, uint64_t owner, int type);
int mr_getlk(struct meta *m, uint64_t ino, uint64_t owner, struct meta_plock *lk);
int mr_setlk(struct meta *m, uint64_t ino, uint64_t owner, const struct meta_plock *lk);

int mr_quota_set(struct meta *m, uint64_t ino, uint64_t max_space, uint64_t max_inodes);
int mr_quota_get(struct meta *m, uint64_t ino, struct meta_quota *out);
int mr_quota_list(struct meta *m, meta_quota_fn fn, void *arg);
int mr_quota_delete(struct meta *m, uint64_t ino);
int mr_statfs_dir(struct meta *m, uint64_t ino, struct meta_statfs *out);
int mr_statfs(struct meta *m, struct meta_statfs *out);
int mr_list_chunks(struct meta *m, meta_chunk_fn fn, void *arg);
int mr_chunk_drop_slice(struct meta *m, uint64_t ino, uint32_t indx, uint64_t id);
int mr_destroy(struct meta *m);

int mr_new_session(struct meta *m, const struct meta_session_info *info, uint64_t *sid);
int mr_heartbeat(struct meta *m);
int mr_close_session(struct meta *m);
int mr_list_sessions(struct meta *m, meta_session_fn fn, void *arg);
int mr_clean_sessions(struct meta *m, int64_t expiry_ns);

#endif
