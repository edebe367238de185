/* SPDX-License-Identifier: Apache-2.0
 *
 * Namespace operations of the Redis engine: lookup (one round trip, a Lua
 * script), getattr, setattr, mknod of every type, link, unlink, rmdir,
 * rename with RENAME_NOREPLACE/RENAME_EXCHANGE, readlink, paged readdir
 * (one script call per page) and the open-but-unlinked (orphan) life cycle.
 * Each is one optimistic transaction over the keys it reads; the rules,
 * their order and the errnos are the SQLite engine's (meta_sqlite_ns.c).
 * Names are bytes (no '/', no NUL), compared exactly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_redis_i.h"

#define READDIR_PAGE 128
#define MAX_DEPTH 100000 /* bound of the parent walk of rename's loop check */
#define EDGE_TEXT_MAX 64

static int check_name(const char *name)
{
    if (!name || !*name || strchr(name, '/'))
        return -EINVAL;
    return strlen(name) > META_NAME_MAX ? -ENAMETOOLONG : 0;
}

static bool is_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* A directory that can receive entries: -ENOENT, -ENOTDIR otherwise. */
static int get_dir(struct mr_tx *tx, uint64_t ino, struct meta_attr *out)
{
    int rc = mr_attr_get(tx, ino, out);
    if (rc)
        return rc;
    if (!S_ISDIR(out->mode))
        return -ENOTDIR;
    return out->nlink == 0 ? -ENOENT : 0; /* removed while open */
}

struct edge {
    uint64_t parent;
    const char *name; /* borrowed from the operation's arguments */
    uint64_t ino;
    uint32_t type;
    uint64_t cookie;
};

/* "<ino>:<type>:<cookie>" -> e; -EIO when malformed */
static int edge_parse(const char *s, size_t len, struct edge *e)
{
    char buf[EDGE_TEXT_MAX];
    if (len >= sizeof(buf))
        return -EIO;
    memcpy(buf, s, len);
    buf[len] = '\0';
    unsigned long long ino, cookie;
    unsigned type;
    if (sscanf(buf, "%llu:%u:%llu", &ino, &type, &cookie) != 3)
        return -EIO;
    e->ino = ino;
    e->type = type;
    e->cookie = cookie;
    return 0;
}

/* 1 = found, 0 = absent, or -errno. Watches the whole directory. */
static int get_edge(struct mr_tx *tx, uint64_t parent, const char *name, struct edge *out)
{
    char key[MR_KEY_MAX];
    mr_key(key, "d", parent);
    redisReply *r = mr_wcmd(tx, key, "HGET %s %b", key, name, strlen(name));
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    out->parent = parent;
    out->name = name;
    rc = edge_parse(r->str, r->len, out);
    return rc ? rc : 1;
}

static int put_edge(struct mr_tx *tx, uint64_t parent, const char *name, uint64_t ino, uint32_t type,
                    uint64_t cookie)
{
    char text[EDGE_TEXT_MAX];
    int n = snprintf(text, sizeof(text), "%llu:%u:%llu", (unsigned long long)ino, type & S_IFMT,
                     (unsigned long long)cookie);
    size_t len = strlen(name);
    int rc = mr_queue(tx, "HSET d%llu %b %b", (unsigned long long)parent, name, len, text, (size_t)n);
    if (rc == 0)
        rc = mr_queue(tx, "ZADD z%llu %llu %b", (unsigned long long)parent, (unsigned long long)cookie, name, len);
    return rc;
}

static int add_edge(struct mr_tx *tx, uint64_t parent, const char *name, uint64_t ino, uint32_t mode)
{
    uint64_t cookie;
    int rc = mr_batch_take(tx, &tx->m->edge_batch, "nextEdge", MR_EDGE_BATCH, &cookie);
    return rc ? rc : put_edge(tx, parent, name, ino, mode, cookie);
}

int mr_edge_add(struct mr_tx *tx, uint64_t parent, const char *name, uint64_t ino, uint32_t mode)
{
    return add_edge(tx, parent, name, ino, mode);
}

static int del_edge(struct mr_tx *tx, const struct edge *e)
{
    size_t len = strlen(e->name);
    int rc = mr_queue(tx, "HDEL d%llu %b", (unsigned long long)e->parent, e->name, len);
    if (rc == 0)
        rc = mr_queue(tx, "ZREM z%llu %b", (unsigned long long)e->parent, e->name, len);
    return rc;
}

/* points the entry e at another inode, keeping its cookie */
static int set_edge(struct mr_tx *tx, const struct edge *e, uint64_t ino, uint32_t type)
{
    return put_edge(tx, e->parent, e->name, ino, type, e->cookie);
}

static int dir_is_empty(struct mr_tx *tx, uint64_t ino)
{
    char key[MR_KEY_MAX];
    mr_key(key, "d", ino);
    redisReply *r = mr_wcmd(tx, key, "HLEN %s", key);
    int rc = mr_check(tx, r);
    return rc ? rc : r->integer == 0;
}

/* ".trash" in the root names the trash (no entry of its own). */
static bool is_trash_name(uint64_t parent, const char *name)
{
    return parent == META_ROOT_INO && strcmp(name, META_TRASH_NAME) == 0;
}

/* A directory entry was added or removed in p. */
static void touch_dir(struct meta_attr *p, int64_t now)
{
    p->mtime = p->ctime = now;
}

int mr_node_orphaned(struct mr_tx *tx, uint64_t ino)
{
    struct meta *m = tx->m;
    pthread_mutex_lock(&m->cb_lock);
    meta_is_open_fn fn = m->is_open;
    void *arg = m->is_open_arg;
    pthread_mutex_unlock(&m->cb_lock);
    if (fn && fn(arg, ino))
        return mr_queue(tx, "SADD sustained%llu %llu", (unsigned long long)atomic_load(&m->sid),
                        (unsigned long long)ino);
    return mr_node_delete(tx, ino);
}

/* --- lookup, getattr ------------------------------------------------------- */

struct lookup_args {
    uint64_t parent;
    const char *name;
    struct meta_attr *out;
};

static int lookup_dots(struct mr_tx *tx, struct lookup_args *a)
{
    int rc = get_dir(tx, a->parent, a->out);
    if (rc == 0 && a->name[1] == '.')
        rc = mr_attr_get(tx, a->out->parent, a->out);
    return rc;
}

static int lookup_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct lookup_args *a = arg;
    if (is_dot(a->name))
        return lookup_dots(tx, a);
    if (is_trash_name(a->parent, a->name))
        return mr_trash_lookup(tx, a->out);
    char dkey[MR_KEY_MAX], ikey[MR_KEY_MAX];
    mr_key(dkey, "d", a->parent);
    mr_key(ikey, "i", a->parent);
    const char *argv[] = {dkey, ikey, a->name};
    redisReply *r = mr_eval(tx, MR_LUA_LOOKUP, 2, 3, argv, NULL);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return -EIO;
    bool found = r->element[0]->type == REDIS_REPLY_STRING;
    if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING)
        return -ENOENT; /* the parent, or the entry's inode, is gone */
    struct meta_attr got;
    rc = mr_attr_decode(r->element[1]->str, r->element[1]->len, &got);
    if (rc)
        return rc;
    if (!found) /* a miss: say why */
        return S_ISDIR(got.mode) ? -ENOENT : -ENOTDIR;
    struct edge e;
    rc = edge_parse(r->element[0]->str, r->element[0]->len, &e);
    if (rc)
        return rc;
    got.ino = e.ino;
    *a->out = got;
    return 0;
}

int mr_lookup(struct meta *m, uint64_t parent, const char *name, struct meta_attr *out)
{
    int rc = check_name(name);
    struct lookup_args a = {parent, name, out};
    return rc ? rc : mr_read(m, lookup_fn, &a);
}

struct attr_args {
    uint64_t ino;
    struct meta_attr *out;
};

static int getattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct attr_args *a = arg;
    return mr_attr_get(tx, a->ino, a->out);
}

int mr_getattr(struct meta *m, uint64_t ino, struct meta_attr *out)
{
    struct attr_args a = {ino, out};
    return mr_read(m, getattr_fn, &a);
}

/* --- setattr --------------------------------------------------------------- */

struct setattr_args {
    uint64_t ino;
    int to_set;
    const struct meta_attr *in;
    struct meta_attr *out;
};

static int setattr_size(struct mr_tx *tx, struct meta_attr *a, uint64_t size, int64_t now)
{
    if (S_ISDIR(a->mode))
        return -EISDIR;
    if (!S_ISREG(a->mode))
        return -EINVAL;
    if (size == a->size)
        return 0;
    a->mtime = now;
    return mr_set_length(tx, a, size);
}

static int setattr_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct setattr_args *s = arg;
    struct meta_attr *a = s->out;
    int rc = mr_attr_get(tx, s->ino, a);
    if (rc)
        return rc;
    int64_t now = mr_now();
    if (s->to_set & META_SET_SIZE) {
        rc = setattr_size(tx, a, s->in->size, now);
        if (rc)
            return rc;
    }
    if (s->to_set & META_SET_UID)
        a->uid = s->in->uid;
    if (s->to_set & META_SET_GID)
        a->gid = s->in->gid;
    if (s->to_set & META_SET_MODE) /* the type never changes */
        a->mode = (a->mode & S_IFMT) | (s->in->mode & 07777);
    if (s->to_set & META_SET_ATIME_NOW)
        a->atime = now;
    else if (s->to_set & META_SET_ATIME)
        a->atime = s->in->atime;
    if (s->to_set & META_SET_MTIME_NOW)
        a->mtime = now;
    else if (s->to_set & META_SET_MTIME)
        a->mtime = s->in->mtime;
    if (s->to_set & META_SET_CTIME)
        a->ctime = s->in->ctime;
    else if (s->to_set)
        a->ctime = now;
    return s->to_set ? mr_attr_put(tx, a) : 0;
}

int mr_setattr(struct meta *m, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
               struct meta_attr *out)
{
    (void)ctx; /* permission and setgid-clearing checks are the kernel's */
    if (to_set && !in)
        return -EINVAL;
    struct setattr_args a = {ino, to_set, in, out};
    return to_set ? mr_txn(m, setattr_fn, &a) : mr_read(m, setattr_fn, &a);
}

/* --- mknod ----------------------------------------------------------------- */

struct mknod_args {
    const struct meta_ctx *ctx;
    uint64_t parent;
    const char *name;
    uint32_t mode;
    uint64_t rdev;
    const char *target;
    struct meta_attr *out;
};

static int check_inode_limit(struct mr_tx *tx)
{
    uint64_t limit = atomic_load(&tx->m->inode_limit);
    if (!limit)
        return 0;
    int64_t used;
    int rc = mr_counter_get(tx, "totalInodes", true, &used);
    return rc ? rc : (uint64_t)used + 1 > limit ? -ENOSPC : 0;
}

/* The new node's attributes: owner from the caller, group and setgid bit
 * inherited from a setgid parent (BSD semantics, as Linux does). */
static void new_attr(const struct mknod_args *a, const struct meta_attr *p, uint64_t ino, int64_t now,
                     struct meta_attr *n)
{
    uint32_t type = a->mode & S_IFMT;
    *n = (struct meta_attr){.ino = ino, .mode = a->mode, .uid = a->ctx ? a->ctx->uid : 0,
                            .gid = a->ctx ? a->ctx->gid : 0, .nlink = 1, .atime = now, .mtime = now,
                            .ctime = now, .parent = a->parent};
    if (p->mode & S_ISGID) {
        n->gid = p->gid;
        if (type == S_IFDIR)
            n->mode |= S_ISGID;
    }
    if (type == S_IFDIR) {
        n->nlink = 2;
        n->size = 4096;
    } else if (type == S_IFLNK) {
        n->mode = S_IFLNK | 0777;
        n->size = strlen(a->target);
    } else if (type == S_IFCHR || type == S_IFBLK) {
        n->rdev = a->rdev;
    }
}

static int mknod_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    struct mknod_args *a = arg;
    struct meta_attr p, n;
    struct edge e;
    int rc = get_dir(tx, a->parent, &p);
    if (rc == 0)
        rc = get_edge(tx, a->parent, a->name, &e);
    if (rc)
        return rc > 0 ? -EEXIST : rc;
    uint64_t ino;
    rc = mr_trash_check_target(tx, &p);
    if (rc == 0)
        rc = check_inode_limit(tx);
    if (rc == 0)
        rc = mr_quota_adjust(tx, a->parent, 0, 1);
    if (rc == 0)
        rc = mr_batch_take(tx, &m->ino_batch, "nextInode", MR_INO_BATCH, &ino);
    if (rc)
        return rc;
    int64_t now = mr_now();
    new_attr(a, &p, ino, now, &n);
    rc = mr_attr_put(tx, &n);
    if (rc == 0)
        rc = add_edge(tx, a->parent, a->name, ino, n.mode);
    if (rc == 0 && S_ISLNK(n.mode))
        rc = mr_queue(tx, "SET s%llu %b", (unsigned long long)ino, a->target, (size_t)n.size);
    if (rc == 0)
        rc = mr_counter_add(tx, "totalInodes", 1);
    if (rc)
        return rc;
    touch_dir(&p, now);
    p.nlink += S_ISDIR(n.mode) ? 1 : 0;
    *a->out = n;
    return mr_attr_put(tx, &p);
}

static int check_mknod(uint32_t mode, const char *target)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFCHR:
    case S_IFBLK:
        return 0;
    case S_IFLNK:
        if (!target || !*target)
            return -EINVAL;
        return strlen(target) > META_SYMLINK_MAX ? -ENAMETOOLONG : 0;
    default:
        return -EINVAL;
    }
}

int mr_mknod(struct meta *m, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
             uint64_t rdev, const char *target, struct meta_attr *out)
{
    if ((mode & S_IFMT) == 0)
        mode |= S_IFREG; /* mknod(2): type 0 is a regular file */
    int rc = check_name(name);
    if (rc == 0 && is_dot(name))
        rc = -EEXIST;
    if (rc == 0 && is_trash_name(parent, name))
        rc = -EPERM;
    if (rc == 0)
        rc = check_mknod(mode, target);
    struct mknod_args a = {ctx, parent, name, mode & (S_IFMT | 07777), rdev, target, out};
    return rc ? rc : mr_txn(m, mknod_fn, &a);
}

/* --- link, unlink, rmdir --------------------------------------------------- */

struct link_args {
    uint64_t ino;
    uint64_t parent;
    const char *name;
    struct meta_attr *out;
};

static int link_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct link_args *a = arg;
    struct meta_attr p, *n = a->out;
    struct edge e;
    int rc = mr_attr_get(tx, a->ino, n);
    if (rc)
        return rc;
    if (S_ISDIR(n->mode))
        return -EPERM;
    if (n->nlink == 0)
        return -ENOENT; /* an open but unlinked file cannot come back */
    rc = get_dir(tx, a->parent, &p);
    if (rc == 0)
        rc = get_edge(tx, a->parent, a->name, &e);
    if (rc)
        return rc > 0 ? -EEXIST : rc;
    rc = mr_trash_check_target(tx, &p);
    if (rc)
        return rc;
    int64_t now = mr_now();
    n->nlink++;
    n->ctime = now;
    touch_dir(&p, now);
    rc = add_edge(tx, a->parent, a->name, a->ino, n->mode);
    if (rc == 0)
        rc = mr_attr_put(tx, n);
    return rc ? rc : mr_attr_put(tx, &p);
}

int mr_link(struct meta *m, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out)
{
    int rc = check_name(new_name);
    if (rc == 0 && is_dot(new_name))
        rc = -EEXIST;
    if (rc == 0 && is_trash_name(new_parent, new_name))
        rc = -EPERM;
    struct link_args a = {ino, new_parent, new_name, out};
    return rc ? rc : mr_txn(m, link_fn, &a);
}

/* Node n loses its last name, entry `name` of directory p (the edge is
 * already gone): its usage leaves the quotas above p, a directory's own
 * quota goes, and it moves to the trash when `may_trash` and the volume
 * keeps one (*trashed; n written back), else its link count becomes 0
 * (the caller writes n and deletes or keeps it as an orphan). */
static int last_link_gone(struct mr_tx *tx, const struct meta_attr *p, const char *name, struct meta_attr *n,
                          bool may_trash, bool *trashed)
{
    *trashed = false;
    int rc = mr_quota_adjust(tx, p->ino, -(int64_t)mr_node_space(n), -1);
    if (rc == 0 && S_ISDIR(n->mode))
        rc = mr_quota_forget(tx, n->ino);
    int want = rc ? rc : may_trash ? mr_trash_wanted(tx, p) : 0;
    if (want < 0)
        return want;
    if (want) {
        *trashed = true;
        return mr_trash_move(tx, p->ino, name, n);
    }
    n->nlink = 0;
    return 0;
}

struct remove_args {
    uint64_t parent;
    const char *name;
    bool dir;
};

static int remove_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct remove_args *a = arg;
    struct meta_attr p, n;
    struct edge e;
    int rc = mr_attr_get(tx, a->parent, &p);
    if (rc == 0 && !S_ISDIR(p.mode))
        rc = -ENOTDIR;
    if (rc == 0)
        rc = get_edge(tx, a->parent, a->name, &e);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    if (a->dir && !S_ISDIR(e.type))
        return -ENOTDIR;
    if (!a->dir && S_ISDIR(e.type))
        return -EISDIR;
    if (e.ino == META_ROOT_INO)
        return -EBUSY;
    if (a->dir) {
        rc = dir_is_empty(tx, e.ino);
        if (rc <= 0)
            return rc ? rc : -ENOTEMPTY;
    }
    rc = mr_attr_get(tx, e.ino, &n);
    if (rc == 0)
        rc = del_edge(tx, &e);
    if (rc)
        return rc;
    int64_t now = mr_now();
    bool trashed = false;
    n.ctime = now;
    if (a->dir || n.nlink <= 1)
        rc = last_link_gone(tx, &p, a->name, &n, true, &trashed);
    else
        n.nlink--;
    if (rc)
        return rc;
    p.nlink -= a->dir ? 1 : 0;
    touch_dir(&p, now);
    rc = mr_attr_put(tx, &p);
    if (rc == 0 && !trashed)
        rc = mr_attr_put(tx, &n);
    if (rc == 0 && !trashed && n.nlink == 0)
        rc = mr_node_orphaned(tx, n.ino);
    return rc;
}

int mr_unlink(struct meta *m, uint64_t parent, const char *name)
{
    int rc = check_name(name);
    if (rc == 0 && is_dot(name))
        rc = -EISDIR;
    if (rc == 0 && is_trash_name(parent, name))
        rc = -EPERM;
    struct remove_args a = {parent, name, false};
    return rc ? rc : mr_txn(m, remove_fn, &a);
}

int mr_rmdir(struct meta *m, uint64_t parent, const char *name)
{
    int rc = check_name(name);
    if (rc == 0 && strcmp(name, ".") == 0)
        rc = -EINVAL;
    if (rc == 0 && strcmp(name, "..") == 0)
        rc = -ENOTEMPTY;
    if (rc == 0 && is_trash_name(parent, name))
        rc = -EPERM;
    struct remove_args a = {parent, name, true};
    return rc ? rc : mr_txn(m, remove_fn, &a);
}

/* --- rename ---------------------------------------------------------------- */

struct rename_args {
    uint64_t parent;
    const char *name;
    uint64_t new_parent;
    const char *new_name;
    unsigned flags;
};

/* 1 when `anc` is `ino` or one of its ancestors */
static int is_ancestor(struct mr_tx *tx, uint64_t anc, uint64_t ino)
{
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
        if (ino == anc)
            return 1;
        if (ino == META_ROOT_INO)
            return 0;
        struct meta_attr a;
        int rc = mr_attr_get(tx, ino, &a);
        if (rc)
            return rc;
        ino = a.parent;
    }
    return -ELOOP; /* a cycle in the parent pointers: corrupt */
}

/* The state of one rename, with the two parents possibly the same node. */
struct rename_state {
    struct meta_attr sp, dp_own;
    struct meta_attr *dp; /* &sp when both parents are the same directory */
    struct edge se, de;
    bool has_dst;
    bool src_in_trash; /* a victim is then deleted, not trashed */
    int64_t now;
};

/* A directory moving from sp to dp: its ".." link moves with it. */
static void move_dir_link(struct meta_attr *from, struct meta_attr *to, struct meta_attr *dir)
{
    from->nlink--;
    to->nlink++;
    dir->parent = to->ino;
}

static int put_parents(struct mr_tx *tx, struct rename_state *r)
{
    touch_dir(&r->sp, r->now);
    touch_dir(r->dp, r->now);
    int rc = mr_attr_put(tx, &r->sp);
    if (rc == 0 && r->dp != &r->sp)
        rc = mr_attr_put(tx, r->dp);
    return rc;
}

static int rename_exchange(struct mr_tx *tx, struct rename_state *r)
{
    struct meta_attr s, d;
    int rc = mr_attr_get(tx, r->se.ino, &s);
    if (rc == 0)
        rc = mr_attr_get(tx, r->de.ino, &d);
    if (rc == 0 && r->dp != &r->sp)
        rc = mr_quota_move(tx, &s, r->sp.ino, r->dp->ino);
    if (rc == 0 && r->dp != &r->sp)
        rc = mr_quota_move(tx, &d, r->dp->ino, r->sp.ino);
    if (rc == 0)
        rc = set_edge(tx, &r->se, r->de.ino, r->de.type);
    if (rc == 0)
        rc = set_edge(tx, &r->de, r->se.ino, r->se.type);
    if (rc)
        return rc;
    if (r->dp != &r->sp) {
        if (S_ISDIR(s.mode))
            move_dir_link(&r->sp, r->dp, &s);
        else
            s.parent = r->dp->ino;
        if (S_ISDIR(d.mode))
            move_dir_link(r->dp, &r->sp, &d);
        else
            d.parent = r->sp.ino;
    }
    s.ctime = d.ctime = r->now;
    rc = mr_attr_put(tx, &s);
    if (rc == 0)
        rc = mr_attr_put(tx, &d);
    return rc ? rc : put_parents(tx, r);
}

/* The entry being replaced loses a link, like unlink/rmdir. */
static int rename_replace(struct mr_tx *tx, struct rename_state *r, struct meta_attr *victim, bool *trashed)
{
    int rc = mr_attr_get(tx, r->de.ino, victim);
    if (rc == 0)
        rc = del_edge(tx, &r->de);
    if (rc)
        return rc;
    victim->ctime = r->now;
    if (S_ISDIR(victim->mode) || victim->nlink <= 1)
        rc = last_link_gone(tx, r->dp, r->de.name, victim, !r->src_in_trash, trashed);
    else
        victim->nlink--;
    if (S_ISDIR(victim->mode))
        r->dp->nlink--;
    if (rc || *trashed)
        return rc;
    return mr_attr_put(tx, victim);
}

static int rename_move(struct mr_tx *tx, struct rename_args *a, struct rename_state *r)
{
    struct meta_attr s, victim = {0};
    bool trashed = false;
    int rc = r->has_dst ? rename_replace(tx, r, &victim, &trashed) : 0;
    if (rc == 0)
        rc = mr_attr_get(tx, r->se.ino, &s);
    if (rc == 0)
        rc = mr_quota_move(tx, &s, a->parent, a->new_parent);
    if (rc == 0)
        rc = del_edge(tx, &r->se);
    if (rc == 0) /* the entry keeps its cookie */
        rc = put_edge(tx, a->new_parent, a->new_name, r->se.ino, r->se.type, r->se.cookie);
    if (rc)
        return rc;
    if (S_ISDIR(s.mode) && r->dp != &r->sp)
        move_dir_link(&r->sp, r->dp, &s);
    s.parent = a->new_parent;
    s.ctime = r->now;
    rc = mr_attr_put(tx, &s);
    if (rc == 0)
        rc = put_parents(tx, r);
    if (rc == 0 && r->has_dst && !trashed && victim.nlink == 0)
        rc = mr_node_orphaned(tx, victim.ino);
    return rc;
}

/* Every refusal of POSIX rename(2) and renameat2(2), in the kernel's order
 * where it matters. 1 = nothing to do (the same file under both names). */
static int rename_check(struct mr_tx *tx, struct rename_args *a, struct rename_state *r)
{
    bool src_dir = S_ISDIR(r->se.type), dst_dir = r->has_dst && S_ISDIR(r->de.type);
    if (!r->has_dst && (a->flags & META_RENAME_EXCHANGE))
        return -ENOENT;
    if (r->has_dst && (a->flags & META_RENAME_NOREPLACE))
        return -EEXIST;
    if (r->se.ino == META_ROOT_INO || (r->has_dst && r->de.ino == META_ROOT_INO))
        return -EBUSY;
    if (r->has_dst && r->de.ino == r->se.ino)
        return 1;
    int rc = 0;
    if (src_dir && a->parent != a->new_parent)
        rc = is_ancestor(tx, r->se.ino, a->new_parent);
    if (rc == 0 && dst_dir && (a->flags & META_RENAME_EXCHANGE) && a->parent != a->new_parent)
        rc = is_ancestor(tx, r->de.ino, a->parent);
    if (rc)
        return rc > 0 ? -EINVAL : rc;
    if (!r->has_dst || (a->flags & META_RENAME_EXCHANGE))
        return 0;
    if (src_dir && !dst_dir)
        return -ENOTDIR;
    if (!src_dir && dst_dir)
        return -EISDIR;
    if (dst_dir) {
        rc = dir_is_empty(tx, r->de.ino);
        return rc < 0 ? rc : rc ? 0 : -ENOTEMPTY;
    }
    return 0;
}

static int rename_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct rename_args *a = arg;
    struct rename_state r = {.now = mr_now()};
    r.dp = a->parent == a->new_parent ? &r.sp : &r.dp_own;
    int rc = mr_attr_get(tx, a->parent, &r.sp);
    if (rc == 0 && !S_ISDIR(r.sp.mode))
        rc = -ENOTDIR;
    if (rc == 0 && r.dp != &r.sp)
        rc = get_dir(tx, a->new_parent, r.dp);
    if (rc == 0)
        rc = get_edge(tx, a->parent, a->name, &r.se);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    rc = get_edge(tx, a->new_parent, a->new_name, &r.de);
    if (rc < 0)
        return rc;
    r.has_dst = rc > 0;
    rc = rename_check(tx, a, &r);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (r.dp->nlink == 0)
        return -ENOENT; /* target directory was removed */
    rc = mr_trash_check_target(tx, r.dp); /* nothing moves into the trash */
    if (rc == 0) {
        rc = mr_trash_check_target(tx, &r.sp); /* out of it is a restore */
        r.src_in_trash = rc == -EPERM;
        if (r.src_in_trash)
            rc = (a->flags & META_RENAME_EXCHANGE) ? -EPERM : 0;
    }
    if (rc)
        return rc;
    if (a->flags & META_RENAME_EXCHANGE)
        return rename_exchange(tx, &r);
    return rename_move(tx, a, &r);
}

int mr_rename(struct meta *m, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
              unsigned flags)
{
    unsigned both = META_RENAME_NOREPLACE | META_RENAME_EXCHANGE;
    if ((flags & ~both) || (flags & both) == both)
        return -EINVAL;
    int rc = check_name(name);
    if (rc == 0)
        rc = check_name(new_name);
    if (rc == 0 && (is_dot(name) || is_dot(new_name)))
        rc = -EBUSY;
    if (rc == 0 && (is_trash_name(parent, name) || is_trash_name(new_parent, new_name)))
        rc = -EPERM;
    struct rename_args a = {parent, name, new_parent, new_name, flags};
    return rc ? rc : mr_txn(m, rename_fn, &a);
}

/* --- readlink, readdir ----------------------------------------------------- */

struct readlink_args {
    uint64_t ino;
    char **out;
};

static int readlink_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct readlink_args *a = arg;
    redisReply *r = mr_cmd(tx, "GET s%llu", (unsigned long long)a->ino);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING) {
        struct meta_attr n;
        rc = mr_attr_get(tx, a->ino, &n);
        return rc ? rc : -EINVAL; /* not a symlink */
    }
    free(*a->out);
    *a->out = malloc(r->len + 1);
    if (!*a->out)
        return -ENOMEM;
    memcpy(*a->out, r->str, r->len);
    (*a->out)[r->len] = '\0';
    return 0;
}

int mr_readlink(struct meta *m, uint64_t ino, char **out)
{
    struct readlink_args a = {ino, out};
    *out = NULL;
    int rc = mr_read(m, readlink_fn, &a);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

struct dirent_row {
    char name[META_NAME_MAX + 1];
    uint64_t cookie;
    struct meta_attr attr;
};

struct readdir_args {
    uint64_t ino;
    uint64_t off; /* list after this cookie */
    bool plus;
    struct dirent_row *rows;
    size_t n;
};

/* name, entry[, attr] of one listed entry; false when it is skipped (its
 * inode vanished between the listing and the attribute read: never, as the
 * script reads both atomically, but a malformed row is not listed) */
static bool dirent_from_reply(redisReply **el, bool plus, struct dirent_row *row)
{
    struct edge e;
    if (el[0]->type != REDIS_REPLY_STRING || el[1]->type != REDIS_REPLY_STRING ||
        edge_parse(el[1]->str, el[1]->len, &e))
        return false;
    size_t len = el[0]->len > META_NAME_MAX ? META_NAME_MAX : el[0]->len;
    memcpy(row->name, el[0]->str, len);
    row->name[len] = '\0';
    row->cookie = e.cookie;
    if (!plus) {
        row->attr = (struct meta_attr){.ino = e.ino, .mode = e.type};
        return true;
    }
    if (el[2]->type != REDIS_REPLY_STRING || mr_attr_decode(el[2]->str, el[2]->len, &row->attr))
        return false;
    row->attr.ino = e.ino;
    return true;
}

/* One page of entries after a->off, copied out so that the caller's
 * callback runs with no connection held. */
static int readdir_page_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct readdir_args *a = arg;
    char zkey[MR_KEY_MAX], dkey[MR_KEY_MAX], off[24], page[16];
    mr_key(zkey, "z", a->ino);
    mr_key(dkey, "d", a->ino);
    snprintf(off, sizeof(off), "%" PRIu64, a->off);
    snprintf(page, sizeof(page), "%d", READDIR_PAGE);
    const char *argv[] = {zkey, dkey, off, page, a->plus ? "1" : "0"};
    redisReply *r = mr_eval(tx, MR_LUA_READDIR, 2, 5, argv, NULL);
    int rc = mr_check(tx, r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return -EIO;
    size_t width = a->plus ? 3 : 2;
    a->n = 0;
    for (size_t i = 0; i + width <= r->elements && a->n < READDIR_PAGE; i += width)
        if (dirent_from_reply(&r->element[i], a->plus, &a->rows[a->n]))
            a->n++;
    return (int)(r->elements / width); /* entries the page held */
}

static int readdir_check_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    (void)m;
    struct meta_attr d;
    int rc = mr_attr_get(tx, *(uint64_t *)arg, &d);
    return rc ? rc : S_ISDIR(d.mode) ? 0 : -ENOTDIR;
}

int mr_readdir(struct meta *m, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg)
{
    int rc = mr_read(m, readdir_check_fn, &ino);
    if (rc)
        return rc;
    struct readdir_args a = {ino, off, plus, calloc(READDIR_PAGE, sizeof(struct dirent_row)), 0};
    if (!a.rows)
        return -ENOMEM;
    bool stop = false;
    while (!stop) {
        int listed = mr_read(m, readdir_page_fn, &a);
        if (listed < 0) {
            rc = listed;
            break;
        }
        rc = 0;
        for (size_t i = 0; i < a.n && !stop; i++)
            stop = fn(arg, a.rows[i].name, &a.rows[i].attr, a.rows[i].cookie) != 0;
        stop = stop || listed < READDIR_PAGE;
        a.off = a.n ? a.rows[a.n - 1].cookie : a.off;
        if (a.n == 0)
            break; /* only malformed rows: do not loop on them */
    }
    free(a.rows);
    return rc;
}

/* --- orphans --------------------------------------------------------------- */

static int release_fn(struct meta *m, struct mr_tx *tx, void *arg)
{
    uint64_t ino = *(uint64_t *)arg;
    struct meta_attr n;
    int rc = mr_attr_get(tx, ino, &n);
    if (rc == 0 && n.nlink == 0)
        rc = mr_node_delete(tx, ino);
    if (rc == -ENOENT || rc == 0)
        rc = mr_queue(tx, "SREM sustained%llu %llu", (unsigned long long)atomic_load(&m->sid),
                      (unsigned long long)ino);
    return rc;
}

int mr_release_orphan(struct meta *m, uint64_t ino)
{
    return mr_txn(m, release_fn, &ino);
}
