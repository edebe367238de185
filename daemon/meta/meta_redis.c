/* SPDX-License-Identifier: Apache-2.0
 *
 * The Redis metadata engine: opening redis://[user:password@]host[:port]
 * [/db], volume settings and init, statfs, sync, the encodings of inode
 * attributes and slice records, counters and number batches, and the ops
 * table. The operations live in meta_redis_ns.c (namespace),
 * meta_redis_xattr.c, meta_redis_data.c (chunks, slices),
 * meta_redis_lock.c and meta_redis_session.c; the transaction runner in
 * meta_redis_txn.c. Semantics are those of the SQLite engine, operation by
 * operation (errnos, cookies, link counts, limits, statfs defaults).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/format.h"
#include "meta/meta_redis.h"
#include "meta/meta_redis_i.h"

/* --- encodings ------------------------------------------------------------- */

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* mode, uid, gid, nlink u32; size, rdev u64; atime, mtime, ctime i64;
 * parent u64; big-endian. The inode number is the key's. */
void mr_attr_encode(const struct meta_attr *a, unsigned char out[MR_ATTR_REC])
{
    put_be(out, a->mode, 4);
    put_be(out + 4, a->uid, 4);
    put_be(out + 8, a->gid, 4);
    put_be(out + 12, a->nlink, 4);
    put_be(out + 16, a->size, 8);
    put_be(out + 24, a->rdev, 8);
    put_be(out + 32, (uint64_t)a->atime, 8);
    put_be(out + 40, (uint64_t)a->mtime, 8);
    put_be(out + 48, (uint64_t)a->ctime, 8);
    put_be(out + 56, a->parent, 8);
}

int mr_attr_decode(const char *p, size_t len, struct meta_attr *a)
{
    if (len != MR_ATTR_REC)
        return -EIO; /* not ours: corrupt or foreign data */
    const unsigned char *u = (const unsigned char *)p;
    a->mode = (uint32_t)get_be(u, 4);
    a->uid = (uint32_t)get_be(u + 4, 4);
    a->gid = (uint32_t)get_be(u + 8, 4);
    a->nlink = (uint32_t)get_be(u + 12, 4);
    a->size = get_be(u + 16, 8);
    a->rdev = get_be(u + 24, 8);
    a->atime = (int64_t)get_be(u + 32, 8);
    a->mtime = (int64_t)get_be(u + 40, 8);
    a->ctime = (int64_t)get_be(u + 48, 8);
    a->parent = get_be(u + 56, 8);
    return 0;
}

/* pos u32, id u64, size u32, off u32, len u32, big-endian: the SQLite
 * engine's record, so dumps and tools read both alike */
void mr_slice_encode(const struct meta_slice *s, unsigned char out[MR_SLICE_REC])
{
    put_be(out, s->pos, 4);
    put_be(out + 4, s->id, 8);
    put_be(out + 12, s->size, 4);
    put_be(out + 16, s->off, 4);
    put_be(out + 20, s->len, 4);
}

void mr_slice_decode(const unsigned char in[MR_SLICE_REC], struct meta_slice *s)
{
    s->pos = (uint32_t)get_be(in, 4);
    s->id = get_be(in + 4, 8);
    s->size = (uint32_t)get_be(in + 12, 4);
    s->off = (uint32_t)get_be(in + 16, 4);
    s->len = (uint32_t)get_be(in + 20, 4);
}

/* --- rows ------------------------------------------------------------------ */

int mr_attr_get(struct mr_tx *tx, uint64_t ino, struct meta_attr *out)
{
    char key[MR_KEY_MAX];
    mr_key(key, "i", ino);
    redisReply *r = mr_wget(tx, key);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return -ENOENT;
    rc = mr_attr_decode(r->str, r->len, out);
    out->ino = ino;
    return rc;
}

int mr_attr_put(struct mr_tx *tx, const struct meta_attr *a)
{
    unsigned char rec[MR_ATTR_REC];
    mr_attr_encode(a, rec);
    return mr_queue(tx, "SET i%llu %b", (unsigned long long)a->ino, rec, (size_t)MR_ATTR_REC);
}

int mr_counter_get(struct mr_tx *tx, const char *name, bool watch, int64_t *out)
{
    redisReply *r = watch ? mr_wget(tx, name) : mr_cmd(tx, "GET %s", name);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    *out = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    return 0;
}

int mr_counter_add(struct mr_tx *tx, const char *name, int64_t delta)
{
    if (delta == 0)
        return 0;
    return mr_queue(tx, "INCRBY %s %lld", name, (long long)delta);
}

int mr_check_space(struct mr_tx *tx, int64_t delta)
{
    uint64_t cap = atomic_load(&tx->m->capacity);
    if (delta <= 0 || cap == 0)
        return 0;
    int64_t used;
    int rc = mr_counter_get(tx, "usedSpace", true, &used);
    if (rc)
        return rc;
    return (uint64_t)used + (uint64_t)delta > cap ? -ENOSPC : 0;
}

int mr_batch_take(struct mr_tx *tx, struct mr_batch *b, const char *name, uint64_t size, uint64_t *out)
{
    pthread_mutex_lock(&b->lock);
    int rc = 0;
    if (b->next >= b->end) {
        redisReply *r = mr_cmd(tx, "INCRBY %s %llu", name, (unsigned long long)size);
        rc = mr_check(tx, r);
        if (rc == 0 && r->type != REDIS_REPLY_INTEGER)
            rc = -EIO;
        if (rc == 0 && (uint64_t)r->integer == size)
            rc = -EIO; /* the counter did not exist: not formatted (undo below) */
        if (rc == 0) {
            b->end = (uint64_t)r->integer;
            b->next = b->end - size;
        } else if (r && r->type == REDIS_REPLY_INTEGER && (uint64_t)r->integer == size) {
            mr_cmd(tx, "DEL %s", name);
        }
    }
    if (rc == 0)
        *out = b->next++;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

static int apply_format(struct meta *m, const char *json)
{
    struct format f;
    int rc = format_from_json(json, &f);
    if (rc == 0) {
        atomic_store(&m->capacity, f.capacity);
        atomic_store(&m->inode_limit, f.inodes);
        atomic_store(&m->trash_days, f.trash_days);
    }
    format_clear(&f);
    return rc;
}

int mr_load_limits(struct meta *m, struct mr_tx *tx)
{
    redisReply *r = mr_cmd(tx, "HGET setting format");
    int rc = mr_check(tx, r);
    if (rc || r->type != REDIS_REPLY_STRING)
        return rc; /* not formatted yet: no limits */
    return apply_format(m, r->str);
}

/* --- open, close ------------------------------------------------------------- */

static int limits_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)arg;
    return mr_load_limits(m, tx);
}

static void mr_close(struct meta *m)
{
    if (!m)
        return;
    mr_pool_close(m);
    pthread_mutex_destroy(&m->pool_lock);
    pthread_cond_destroy(&m->pool_cond);
    pthread_mutex_destroy(&m->cb_lock);
    pthread_mutex_destroy(&m->ino_batch.lock);
    pthread_mutex_destroy(&m->edge_batch.lock);
    pthread_mutex_destroy(&m->slice_batch.lock);
    mr_quota_cache_free(m);
    pthread_mutex_destroy(&m->quota_lock);
    if (m->password)
        explicit_bzero(m->password, strlen(m->password));
    free(m->password);
    free(m->user);
    free(m->host);
    free(m->shown);
    free(m);
}

/* The first connection: says clearly why it cannot be made, checks the
 * server's settings, and becomes the pool's first. */
static int first_connection(struct meta *m)
{
    char why[256];
    redisContext *ctx = NULL;
    int rc = mr_connect(m, &ctx, why, sizeof(why));
    if (rc) {
        fprintf(stderr, "tidefs: redis %s: %s\n", m->shown, why);
        return rc;
    }
    rc = mr_server_checks(m, ctx);
    struct mr_conn *c = rc ? NULL : mr_pool_get(m);
    if (!c) {
        redisFree(ctx);
        return rc ? rc : -ENOMEM;
    }
    c->ctx = ctx;
    mr_pool_put(m, c);
    return 0;
}

static int mr_open(const char *url, struct meta **out)
{
    struct meta *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    pthread_mutex_init(&m->pool_lock, NULL);
    pthread_cond_init(&m->pool_cond, NULL);
    pthread_mutex_init(&m->cb_lock, NULL);
    pthread_mutex_init(&m->ino_batch.lock, NULL);
    pthread_mutex_init(&m->edge_batch.lock, NULL);
    pthread_mutex_init(&m->slice_batch.lock, NULL);
    pthread_mutex_init(&m->quota_lock, NULL);
    m->quota_gen = -1;
    int rc = mr_url_parse(url, m);
    if (rc == 0)
        rc = first_connection(m);
    if (rc == 0)
        rc = mr_read(m, limits_fn, NULL);
    if (rc) {
        mr_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void mr_set_is_open(struct meta *m, meta_is_open_fn fn, void *arg)
{
    pthread_mutex_lock(&m->cb_lock);
    m->is_open = fn;
    m->is_open_arg = arg;
    pthread_mutex_unlock(&m->cb_lock);
}

/* --- settings, init --------------------------------------------------------- */

struct setting_args {
    const char *name;
    const char *value;
    char **out;
    bool force;
};

static int get_setting_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct setting_args *a = arg;
    redisReply *r = mr_cmd(tx, "HGET setting %s", a->name);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return -ENOENT;
    *a->out = strndup(r->str, r->len);
    return *a->out ? 0 : -ENOMEM;
}

static int mr_get_setting(struct meta *m, const char *name, char **out)
{
    struct setting_args a = {.name = name, .out = out};
    *out = NULL;
    if (!name)
        return -EINVAL;
    int rc = mr_read(m, get_setting_fn, &a);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int set_setting_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct setting_args *a = arg;
    return mr_queue(tx, "HSET setting %s %s", a->name, a->value);
}

static int check_format(const char *json)
{
    struct format f;
    int rc = format_from_json(json, &f);
    format_clear(&f);
    return rc;
}

static int mr_set_setting(struct meta *m, const char *name, const char *value)
{
    if (!name || !*name || !value)
        return -EINVAL;
    bool is_format = strcmp(name, "format") == 0;
    int rc = is_format ? check_format(value) : 0;
    struct setting_args a = {.name = name, .value = value};
    if (rc == 0)
        rc = mr_txn(m, set_setting_fn, &a);
    if (rc == 0 && is_format)
        apply_format(m, value);
    return rc;
}

static int init_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct setting_args *a = arg;
    int rc = mr_watch(tx, "setting");
    redisReply *r = rc ? NULL : mr_cmd(tx, "HEXISTS setting format");
    if (rc == 0)
        rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->integer && !a->force)
        return -EEXIST;
    rc = mr_queue(tx, "HSET setting format %s", a->value);
    static const char *const counters[][2] = {{"nextInode", "2"},   {"nextEdge", "1"},  {"nextSlice", "1"},
                                              {"nextSession", "1"}, {"usedSpace", "0"}, {"totalInodes", "1"}};
    for (size_t i = 0; rc == 0 && i < sizeof(counters) / sizeof(counters[0]); i++)
        rc = mr_queue(tx, "SETNX %s %s", counters[i][0], counters[i][1]);
    struct meta_attr root;
    int got = rc ? rc : mr_attr_get(tx, META_ROOT_INO, &root);
    if (got == 0 || got != -ENOENT)
        return got; /* --force on a formatted volume keeps its tree */
    int64_t now = mr_now();
    root = (struct meta_attr){.ino = META_ROOT_INO, .mode = S_IFDIR | 0777, .nlink = 2, .size = 4096,
                              .atime = now, .mtime = now, .ctime = now, .parent = META_ROOT_INO};
    return mr_attr_put(tx, &root);
}

static int mr_init(struct meta *m, const char *format_json, bool force)
{
    if (!format_json)
        return -EINVAL;
    int rc = check_format(format_json);
    struct setting_args a = {.value = format_json, .force = force};
    if (rc == 0)
        rc = mr_txn(m, init_fn, &a);
    if (rc == 0)
        apply_format(m, format_json);
    return rc;
}

/* --- statfs, sync ------------------------------------------------------------ */

static int statfs_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct meta_statfs *out = arg;
    redisReply *r = mr_cmd(tx, "MGET usedSpace totalInodes");
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return -EIO;
    int64_t used = 0, inodes = 0;
    if (r->element[0]->type == REDIS_REPLY_STRING)
        used = strtoll(r->element[0]->str, NULL, 10);
    if (r->element[1]->type == REDIS_REPLY_STRING)
        inodes = strtoll(r->element[1]->str, NULL, 10);
    uint64_t cap = atomic_load(&m->capacity), ilimit = atomic_load(&m->inode_limit);
    out->used_space = used > 0 ? (uint64_t)used : 0;
    out->total_space = cap ? cap : MR_SPACE_UNLIMITED;
    if (!cap && out->used_space > out->total_space)
        out->total_space = out->used_space;
    out->avail_space = out->total_space > out->used_space ? out->total_space - out->used_space : 0;
    out->used_inodes = inodes > 0 ? (uint64_t)inodes : 0;
    out->total_inodes = ilimit ? ilimit : MR_INODES_UNLIMITED;
    if (!ilimit && out->used_inodes > out->total_inodes)
        out->total_inodes = out->used_inodes;
    out->avail_inodes = out->total_inodes > out->used_inodes ? out->total_inodes - out->used_inodes : 0;
    return 0;
}

int mr_statfs(struct meta *m, struct meta_statfs *out)
{
    return mr_read(m, statfs_fn, out);
}

/* Durability (docs/redis.md): a transaction is acknowledged by EXEC after
 * Redis applied it; with `appendfsync always` Redis has also written and
 * fsync'ed its append-only file before it replies, so every acknowledged
 * operation survives a crash of Redis or of its host, and sync() has
 * nothing left to force. Redis 7.0 has no command to fsync on demand
 * (WAITAOF is 7.2), so with `everysec` a power loss may lose about the last
 * second even after fsync: the engine says so at startup. When the server
 * has replicas, sync() also waits (WAIT, bounded) until they hold every
 * write of this connection's past, so a failover does not lose it. */
static int sync_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    (void)arg;
    redisReply *r = mr_cmd(tx, "INFO replication");
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "connected_slaves:") : NULL;
    long replicas = p ? strtol(p + strlen("connected_slaves:"), NULL, 10) : 0;
    if (replicas <= 0)
        return 0;
    r = mr_cmd(tx, "WAIT %ld %d", replicas, 5000);
    return mr_check(tx, r);
}

static int mr_sync(struct meta *m)
{
    return mr_read(m, sync_fn, NULL);
}

const struct meta_ops meta_redis_ops = {
    .scheme = "redis",
    .open = mr_open,
    .close = mr_close,
    .set_is_open = mr_set_is_open,
    .init = mr_init,
    .get_setting = mr_get_setting,
    .set_setting = mr_set_setting,
    .new_session = mr_new_session,
    .heartbeat = mr_heartbeat,
    .close_session = mr_close_session,
    .list_sessions = mr_list_sessions,
    .clean_sessions = mr_clean_sessions,
    .lookup = mr_lookup,
    .getattr = mr_getattr,
    .setattr = mr_setattr,
    .mknod = mr_mknod,
    .link = mr_link,
    .unlink = mr_unlink,
    .rmdir = mr_rmdir,
    .rename = mr_rename,
    .readlink = mr_readlink,
    .readdir = mr_readdir,
    .release_orphan = mr_release_orphan,
    .getxattr = mr_getxattr,
    .setxattr = mr_setxattr,
    .listxattr = mr_listxattr,
    .removexattr = mr_removexattr,
    .new_slice_id = mr_new_slice_id,
    .read_chunk = mr_read_chunk,
    .write = mr_write,
    .fallocate = mr_fallocate,
    .list_deleted_slices = mr_list_deleted_slices,
    .ack_deleted_slice = mr_ack_deleted_slice,
    .statfs = mr_statfs,
    .flock = mr_flock,
    .getlk = mr_getlk,
    .setlk = mr_setlk,
    .sync = mr_sync,
    .quota_set = mr_quota_set,
    .quota_get = mr_quota_get,
    .quota_list = mr_quota_list,
    .quota_delete = mr_quota_delete,
    .statfs_dir = mr_statfs_dir,
    .list_chunks = mr_list_chunks,
    .chunk_drop_slice = mr_chunk_drop_slice,
    .destroy = mr_destroy,
    .compact_chunk = mr_compact_chunk,
};

/* rediss:// shares the table: its open explains that this build has no TLS */
const struct meta_ops meta_rediss_ops = {
    .scheme = "rediss",
    .open = mr_open,
    .close = mr_close,
};
