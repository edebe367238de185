/* SPDX-License-Identifier: Apache-2.0
 *
 * Namespace operations of the SQLite engine: lookup, getattr, setattr,
 * mknod (every type, symlinks included), link, unlink, rmdir, rename with
 * RENAME_NOREPLACE/RENAME_EXCHANGE, readlink, paged readdir, and the
 * open-but-unlinked (orphan) life cycle. Each is one transaction; getattr and
 * lookup are one indexed SELECT on a pooled connection without the writer
 * lock. Names are stored and compared as blobs (bytes, no collation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta/meta_sqlite_i.h"

#define READDIR_PAGE 128
#define MAX_DEPTH 100000 /* bound of the parent walk of rename's loop check */

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
static int get_dir(struct msq_conn *c, uint64_t ino, struct meta_attr *out)
{
    int rc = msq_attr_get(c, ino, out);
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
};

/* 1 = found, 0 = absent, or -errno */
static int get_edge(struct msq_conn *c, uint64_t parent, const char *name, struct edge *out)
{
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT inode, type FROM edge WHERE parent = ? AND name = ?", "Ib", parent, name,
                       (int)strlen(name));
    if (rc <= 0)
        return rc;
    out->parent = parent;
    out->name = name;
    out->ino = (uint64_t)sqlite3_column_int64(st, 0);
    out->type = (uint32_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 1;
}

int msq_edge_add(struct meta *m, struct msq_conn *c, uint64_t parent, const char *name, uint64_t ino, uint32_t mode)
{
    uint64_t id;
    int rc = msq_batch_take(c, &m->edge_batch, "nextEdge", MSQ_EDGE_BATCH, &id);
    if (rc)
        return rc;
    return msq_exec(c, "INSERT INTO edge (parent, name, id, inode, type) VALUES (?, ?, ?, ?, ?)", "IbIII", parent,
                    name, (int)strlen(name), id, ino, (int64_t)(mode & S_IFMT));
}

static int del_edge(struct msq_conn *c, const struct edge *e)
{
    return msq_exec(c, "DELETE FROM edge WHERE parent = ? AND name = ?", "Ib", e->parent, e->name,
                    (int)strlen(e->name));
}

/* points the entry e at another inode, keeping its cookie */
static int set_edge(struct msq_conn *c, const struct edge *e, uint64_t ino, uint32_t type)
{
    return msq_exec(c, "UPDATE edge SET inode = ?, type = ? WHERE parent = ? AND name = ?", "IIIb", ino,
                    (int64_t)type, e->parent, e->name, (int)strlen(e->name));
}

static int dir_is_empty(struct msq_conn *c, uint64_t ino)
{
    int rc = msq_query(c, NULL, "SELECT 1 FROM edge WHERE parent = ? LIMIT 1", "I", ino);
    return rc < 0 ? rc : rc == 0;
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

int msq_node_orphaned(struct meta *m, struct msq_conn *c, uint64_t ino)
{
    if (m->is_open && m->is_open(m->is_open_arg, ino))
        return msq_exec(c, "INSERT OR IGNORE INTO sustained (sid, inode) VALUES (?, ?)", "II", m->sid, ino);
    return msq_node_delete(c, ino);
}

/* --- lookup, getattr -------------------------------------------------- */

struct lookup_args {
    uint64_t parent;
    const char *name;
    struct meta_attr *out;
};

static int lookup_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct lookup_args *a = arg;
    if (strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0) {
        int rc = get_dir(c, a->parent, a->out);
        if (rc == 0 && a->name[1] == '.')
            rc = msq_attr_get(c, a->out->parent, a->out);
        return rc;
    }
    if (is_trash_name(a->parent, a->name))
        return msq_trash_lookup(c, a->out);
    /* One statement, so one snapshot and one set of locks, also for a miss
     * (every create starts with one): the parent's mode says why. */
    sqlite3_stmt *st;
    int rc = msq_query(c, &st,
                       "SELECT p.mode, " MSQ_ATTR_COLS_N " FROM node p LEFT JOIN edge e"
                       " ON e.parent = p.inode AND e.name = ?2 LEFT JOIN node n ON n.inode = e.inode"
                       " WHERE p.inode = ?1",
                       "Ib", a->parent, a->name, (int)strlen(a->name));
    if (rc <= 0)
        return rc ? rc : -ENOENT; /* no parent */
    uint32_t pmode = (uint32_t)sqlite3_column_int64(st, 0);
    bool found = sqlite3_column_type(st, 1) != SQLITE_NULL;
    if (found)
        msq_attr_from_row(st, 1, a->out);
    sqlite3_reset(st);
    return found ? 0 : S_ISDIR(pmode) ? -ENOENT : -ENOTDIR;
}

int msq_lookup(struct meta *m, uint64_t parent, const char *name, struct meta_attr *out)
{
    int rc = check_name(name);
    struct lookup_args a = {parent, name, out};
    return rc ? rc : msq_txn(m, MSQ_READ, lookup_fn, &a);
}

struct attr_args {
    uint64_t ino;
    struct meta_attr *out;
};

static int getattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct attr_args *a = arg;
    return msq_attr_get(c, a->ino, a->out);
}

int msq_getattr(struct meta *m, uint64_t ino, struct meta_attr *out)
{
    struct attr_args a = {ino, out};
    return msq_txn(m, MSQ_READ, getattr_fn, &a);
}

/* --- setattr ---------------------------------------------------------- */

struct setattr_args {
    uint64_t ino;
    int to_set;
    const struct meta_attr *in;
    struct meta_attr *out;
};

static int setattr_size(struct meta *m, struct msq_conn *c, struct meta_attr *a, uint64_t size, int64_t now)
{
    if (S_ISDIR(a->mode))
        return -EISDIR;
    if (!S_ISREG(a->mode))
        return -EINVAL;
    if (size == a->size)
        return 0;
    a->mtime = now;
    return msq_set_length(m, c, a, size);
}

static int setattr_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct setattr_args *s = arg;
    struct meta_attr *a = s->out;
    int rc = msq_attr_get(c, s->ino, a);
    if (rc)
        return rc;
    int64_t now = msq_now();
    if (s->to_set & META_SET_SIZE) {
        rc = setattr_size(m, c, a, s->in->size, now);
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
    return s->to_set ? msq_attr_put(c, a) : 0;
}

int msq_setattr(struct meta *m, const struct meta_ctx *ctx, uint64_t ino, int to_set, const struct meta_attr *in,
                struct meta_attr *out)
{
    (void)ctx; /* permission and setgid-clearing checks are the kernel's */
    if (to_set && !in)
        return -EINVAL;
    struct setattr_args a = {ino, to_set, in, out};
    return msq_txn(m, to_set ? MSQ_WRITE : MSQ_READ, setattr_fn, &a);
}

/* --- mknod ------------------------------------------------------------ */

struct mknod_args {
    const struct meta_ctx *ctx;
    uint64_t parent;
    const char *name;
    uint32_t mode;
    uint64_t rdev;
    const char *target;
    struct meta_attr *out;
};

static int check_inode_limit(struct meta *m, struct msq_conn *c)
{
    uint64_t limit = atomic_load(&m->inode_limit);
    if (!limit)
        return 0;
    int64_t used;
    int rc = msq_counter_get(c, "totalInodes", &used);
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

static int mknod_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct mknod_args *a = arg;
    struct meta_attr p, n;
    struct edge e;
    int rc = get_dir(c, a->parent, &p);
    if (rc == 0)
        rc = get_edge(c, a->parent, a->name, &e);
    if (rc)
        return rc > 0 ? -EEXIST : rc;
    uint64_t ino;
    rc = msq_trash_check_target(c, &p);
    if (rc == 0)
        rc = check_inode_limit(m, c);
    if (rc == 0)
        rc = msq_quota_adjust(m, c, a->parent, 0, 1);
    if (rc == 0)
        rc = msq_batch_take(c, &m->ino_batch, "nextInode", MSQ_INO_BATCH, &ino);
    if (rc)
        return rc;
    int64_t now = msq_now();
    new_attr(a, &p, ino, now, &n);
    rc = msq_attr_put(c, &n);
    if (rc == 0)
        rc = msq_edge_add(m, c, a->parent, a->name, ino, n.mode);
    if (rc == 0 && S_ISLNK(n.mode))
        rc = msq_exec(c, "INSERT INTO symlink (inode, target) VALUES (?, ?)", "Ib", ino, a->target,
                      (int)n.size);
    if (rc == 0)
        rc = msq_counter_add(c, "totalInodes", 1);
    if (rc)
        return rc;
    touch_dir(&p, now);
    p.nlink += S_ISDIR(n.mode) ? 1 : 0;
    *a->out = n;
    return msq_attr_put(c, &p);
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

int msq_mknod(struct meta *m, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
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
    return rc ? rc : msq_txn(m, MSQ_WRITE, mknod_fn, &a);
}

/* --- link, unlink, rmdir ---------------------------------------------- */

struct link_args {
    uint64_t ino;
    uint64_t parent;
    const char *name;
    struct meta_attr *out;
};

static int link_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct link_args *a = arg;
    struct meta_attr p, *n = a->out;
    struct edge e;
    int rc = msq_attr_get(c, a->ino, n);
    if (rc)
        return rc;
    if (S_ISDIR(n->mode))
        return -EPERM;
    if (n->nlink == 0)
        return -ENOENT; /* an open but unlinked file cannot come back */
    rc = get_dir(c, a->parent, &p);
    if (rc == 0)
        rc = get_edge(c, a->parent, a->name, &e);
    if (rc)
        return rc > 0 ? -EEXIST : rc;
    rc = msq_trash_check_target(c, &p);
    if (rc)
        return rc;
    int64_t now = msq_now();
    n->nlink++;
    n->ctime = now;
    touch_dir(&p, now);
    rc = msq_edge_add(m, c, a->parent, a->name, a->ino, n->mode);
    if (rc == 0)
        rc = msq_attr_put(c, n);
    return rc ? rc : msq_attr_put(c, &p);
}

int msq_link(struct meta *m, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out)
{
    int rc = check_name(new_name);
    if (rc == 0 && is_dot(new_name))
        rc = -EEXIST;
    if (rc == 0 && is_trash_name(new_parent, new_name))
        rc = -EPERM;
    struct link_args a = {ino, new_parent, new_name, out};
    return rc ? rc : msq_txn(m, MSQ_WRITE, link_fn, &a);
}

/* Node n loses its last name, entry `name` of directory p (the edge is
 * already gone): its usage leaves the quotas above p, a directory's own
 * quota goes, and it moves to the trash when `may_trash` and the volume
 * keeps one (*trashed; n written back), else its link count becomes 0
 * (the caller writes n and deletes or keeps it as an orphan). */
static int last_link_gone(struct meta *m, struct msq_conn *c, const struct meta_attr *p, const char *name,
                          struct meta_attr *n, bool may_trash, bool *trashed)
{
    *trashed = false;
    int rc = msq_quota_adjust(m, c, p->ino, -(int64_t)msq_node_space(n), -1);
    if (rc == 0 && S_ISDIR(n->mode))
        rc = msq_quota_forget(m, c, n->ino);
    int want = rc ? rc : may_trash ? msq_trash_wanted(m, c, p) : 0;
    if (want < 0)
        return want;
    if (want) {
        *trashed = true;
        return msq_trash_move(m, c, p->ino, name, n);
    }
    n->nlink = 0;
    return 0;
}

struct remove_args {
    uint64_t parent;
    const char *name;
    bool dir;
};

static int remove_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct remove_args *a = arg;
    struct meta_attr p, n;
    struct edge e;
    int rc = msq_attr_get(c, a->parent, &p);
    if (rc == 0 && !S_ISDIR(p.mode))
        rc = -ENOTDIR;
    if (rc == 0)
        rc = get_edge(c, a->parent, a->name, &e);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    if (a->dir && !S_ISDIR(e.type))
        return -ENOTDIR;
    if (!a->dir && S_ISDIR(e.type))
        return -EISDIR;
    if (e.ino == META_ROOT_INO)
        return -EBUSY;
    if (a->dir) {
        rc = dir_is_empty(c, e.ino);
        if (rc <= 0)
            return rc ? rc : -ENOTEMPTY;
    }
    rc = msq_attr_get(c, e.ino, &n);
    if (rc == 0)
        rc = del_edge(c, &e);
    if (rc)
        return rc;
    int64_t now = msq_now();
    bool trashed = false;
    n.ctime = now;
    if (a->dir || n.nlink <= 1)
        rc = last_link_gone(m, c, &p, a->name, &n, true, &trashed);
    else
        n.nlink--;
    if (rc)
        return rc;
    p.nlink -= a->dir ? 1 : 0;
    touch_dir(&p, now);
    rc = msq_attr_put(c, &p);
    if (rc == 0 && !trashed)
        rc = msq_attr_put(c, &n);
    if (rc == 0 && !trashed && n.nlink == 0)
        rc = msq_node_orphaned(m, c, n.ino);
    return rc;
}

int msq_unlink(struct meta *m, uint64_t parent, const char *name)
{
    int rc = check_name(name);
    if (rc == 0 && is_dot(name))
        rc = -EISDIR;
    if (rc == 0 && is_trash_name(parent, name))
        rc = -EPERM;
    struct remove_args a = {parent, name, false};
    return rc ? rc : msq_txn(m, MSQ_WRITE, remove_fn, &a);
}

int msq_rmdir(struct meta *m, uint64_t parent, const char *name)
{
    int rc = check_name(name);
    if (rc == 0 && strcmp(name, ".") == 0)
        rc = -EINVAL;
    if (rc == 0 && strcmp(name, "..") == 0)
        rc = -ENOTEMPTY;
    if (rc == 0 && is_trash_name(parent, name))
        rc = -EPERM;
    struct remove_args a = {parent, name, true};
    return rc ? rc : msq_txn(m, MSQ_WRITE, remove_fn, &a);
}

/* --- rename ----------------------------------------------------------- */

struct rename_args {
    uint64_t parent;
    const char *name;
    uint64_t new_parent;
    const char *new_name;
    unsigned flags;
};

/* 1 when `anc` is `ino` or one of its ancestors */
static int is_ancestor(struct msq_conn *c, uint64_t anc, uint64_t ino)
{
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
        if (ino == anc)
            return 1;
        if (ino == META_ROOT_INO)
            return 0;
        struct meta_attr a;
        int rc = msq_attr_get(c, ino, &a);
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

static int put_parents(struct msq_conn *c, struct rename_state *r)
{
    touch_dir(&r->sp, r->now);
    touch_dir(r->dp, r->now);
    int rc = msq_attr_put(c, &r->sp);
    if (rc == 0 && r->dp != &r->sp)
        rc = msq_attr_put(c, r->dp);
    return rc;
}

static int rename_exchange(struct meta *m, struct msq_conn *c, struct rename_state *r)
{
    struct meta_attr s, d;
    int rc = msq_attr_get(c, r->se.ino, &s);
    if (rc == 0)
        rc = msq_attr_get(c, r->de.ino, &d);
    if (rc == 0 && r->dp != &r->sp)
        rc = msq_quota_move(m, c, &s, r->sp.ino, r->dp->ino);
    if (rc == 0 && r->dp != &r->sp)
        rc = msq_quota_move(m, c, &d, r->dp->ino, r->sp.ino);
    if (rc == 0)
        rc = set_edge(c, &r->se, r->de.ino, r->de.type);
    if (rc == 0)
        rc = set_edge(c, &r->de, r->se.ino, r->se.type);
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
    rc = msq_attr_put(c, &s);
    if (rc == 0)
        rc = msq_attr_put(c, &d);
    return rc ? rc : put_parents(c, r);
}

/* The entry being replaced loses a link, like unlink/rmdir. */
static int rename_replace(struct meta *m, struct msq_conn *c, struct rename_state *r, struct meta_attr *victim,
                          bool *trashed)
{
    int rc = msq_attr_get(c, r->de.ino, victim);
    if (rc == 0)
        rc = del_edge(c, &r->de);
    if (rc)
        return rc;
    victim->ctime = r->now;
    if (S_ISDIR(victim->mode) || victim->nlink <= 1)
        rc = last_link_gone(m, c, r->dp, r->de.name, victim, !r->src_in_trash, trashed);
    else
        victim->nlink--;
    if (S_ISDIR(victim->mode))
        r->dp->nlink--;
    if (rc || *trashed)
        return rc;
    return msq_attr_put(c, victim);
}

static int rename_move(struct meta *m, struct msq_conn *c, struct rename_args *a, struct rename_state *r)
{
    struct meta_attr s, victim = {0};
    bool trashed = false;
    int rc = r->has_dst ? rename_replace(m, c, r, &victim, &trashed) : 0;
    if (rc == 0)
        rc = msq_attr_get(c, r->se.ino, &s);
    if (rc == 0)
        rc = msq_quota_move(m, c, &s, a->parent, a->new_parent);
    if (rc == 0)
        rc = msq_exec(c, "UPDATE edge SET parent = ?, name = ? WHERE parent = ? AND name = ?", "IbIb",
                      a->new_parent, a->new_name, (int)strlen(a->new_name), a->parent, a->name,
                      (int)strlen(a->name));
    if (rc)
        return rc;
    if (S_ISDIR(s.mode) && r->dp != &r->sp)
        move_dir_link(&r->sp, r->dp, &s);
    s.parent = a->new_parent;
    s.ctime = r->now;
    rc = msq_attr_put(c, &s);
    if (rc == 0)
        rc = put_parents(c, r);
    if (rc == 0 && r->has_dst && !trashed && victim.nlink == 0)
        rc = msq_node_orphaned(m, c, victim.ino);
    return rc;
}

/* Every refusal of POSIX rename(2) and renameat2(2), in the kernel's order
 * where it matters. 1 = nothing to do (the same file under both names). */
static int rename_check(struct msq_conn *c, struct rename_args *a, struct rename_state *r)
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
        rc = is_ancestor(c, r->se.ino, a->new_parent);
    if (rc == 0 && dst_dir && (a->flags & META_RENAME_EXCHANGE) && a->parent != a->new_parent)
        rc = is_ancestor(c, r->de.ino, a->parent);
    if (rc)
        return rc > 0 ? -EINVAL : rc;
    if (!r->has_dst || (a->flags & META_RENAME_EXCHANGE))
        return 0;
    if (src_dir && !dst_dir)
        return -ENOTDIR;
    if (!src_dir && dst_dir)
        return -EISDIR;
    if (dst_dir) {
        rc = dir_is_empty(c, r->de.ino);
        return rc < 0 ? rc : rc ? 0 : -ENOTEMPTY;
    }
    return 0;
}

static int rename_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    struct rename_args *a = arg;
    struct rename_state r = {.now = msq_now()};
    r.dp = a->parent == a->new_parent ? &r.sp : &r.dp_own;
    int rc = msq_attr_get(c, a->parent, &r.sp);
    if (rc == 0 && !S_ISDIR(r.sp.mode))
        rc = -ENOTDIR;
    if (rc == 0 && r.dp != &r.sp)
        rc = get_dir(c, a->new_parent, r.dp);
    if (rc == 0)
        rc = get_edge(c, a->parent, a->name, &r.se);
    if (rc <= 0)
        return rc ? rc : -ENOENT;
    rc = get_edge(c, a->new_parent, a->new_name, &r.de);
    if (rc < 0)
        return rc;
    r.has_dst = rc > 0;
    rc = rename_check(c, a, &r);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (r.dp->nlink == 0)
        return -ENOENT; /* target directory was removed */
    rc = msq_trash_check_target(c, r.dp); /* nothing moves into the trash */
    if (rc == 0) {
        rc = msq_trash_check_target(c, &r.sp); /* out of it is a restore */
        r.src_in_trash = rc == -EPERM;
        if (r.src_in_trash)
            rc = (a->flags & META_RENAME_EXCHANGE) ? -EPERM : 0;
    }
    if (rc)
        return rc;
    if (a->flags & META_RENAME_EXCHANGE)
        return rename_exchange(m, c, &r);
    return rename_move(m, c, a, &r);
}

int msq_rename(struct meta *m, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
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
    return rc ? rc : msq_txn(m, MSQ_WRITE, rename_fn, &a);
}

/* --- readlink, readdir ------------------------------------------------ */

struct readlink_args {
    uint64_t ino;
    char **out;
};

static int readlink_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct readlink_args *a = arg;
    sqlite3_stmt *st;
    int rc = msq_query(c, &st, "SELECT target FROM symlink WHERE inode = ?", "I", a->ino);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        struct meta_attr n;
        rc = msq_attr_get(c, a->ino, &n);
        return rc ? rc : -EINVAL; /* not a symlink */
    }
    int len = sqlite3_column_bytes(st, 0);
    *a->out = malloc((size_t)len + 1);
    if (!*a->out)
        return -ENOMEM;
    memcpy(*a->out, sqlite3_column_blob(st, 0), (size_t)len);
    (*a->out)[len] = '\0';
    return 0;
}

int msq_readlink(struct meta *m, uint64_t ino, char **out)
{
    struct readlink_args a = {ino, out};
    *out = NULL;
    return msq_txn(m, MSQ_READ, readlink_fn, &a);
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

static void dirent_from_row(sqlite3_stmt *st, bool plus, struct dirent_row *r)
{
    r->cookie = (uint64_t)sqlite3_column_int64(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 1);
    len = len > META_NAME_MAX ? META_NAME_MAX : len;
    memcpy(r->name, sqlite3_column_blob(st, 1), len);
    r->name[len] = '\0';
    if (plus) {
        msq_attr_from_row(st, 2, &r->attr);
    } else {
        r->attr = (struct meta_attr){.ino = (uint64_t)sqlite3_column_int64(st, 2),
                                     .mode = (uint32_t)sqlite3_column_int64(st, 3)};
    }
}

/* One page of entries after a->off, copied out so that the caller's
 * callback runs with no statement or connection held. */
static int readdir_page_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct readdir_args *a = arg;
    sqlite3_stmt *st;
    int rc;
    if (a->plus)
        rc = msq_query(c, &st,
                       "SELECT e.id, e.name, " MSQ_ATTR_COLS_N " FROM edge e JOIN node n ON n.inode = e.inode"
                       " WHERE e.parent = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                       "IIi", a->ino, a->off, READDIR_PAGE);
    else
        rc = msq_query(c, &st,
                       "SELECT id, name, inode, type FROM edge WHERE parent = ? AND id > ? ORDER BY id LIMIT ?",
                       "IIi", a->ino, a->off, READDIR_PAGE);
    for (a->n = 0; rc > 0; rc = msq_step(c, st))
        dirent_from_row(st, a->plus, &a->rows[a->n++]);
    return rc;
}

static int readdir_check_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    struct meta_attr d;
    int rc = msq_attr_get(c, *(uint64_t *)arg, &d);
    return rc ? rc : S_ISDIR(d.mode) ? 0 : -ENOTDIR;
}

int msq_readdir(struct meta *m, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg)
{
    int rc = msq_txn(m, MSQ_READ, readdir_check_fn, &ino);
    if (rc)
        return rc;
    struct readdir_args a = {ino, off, plus, calloc(READDIR_PAGE, sizeof(struct dirent_row)), 0};
    if (!a.rows)
        return -ENOMEM;
    bool stop = false;
    while (!stop) {
        rc = msq_txn(m, MSQ_READ, readdir_page_fn, &a);
        if (rc)
            break;
        for (size_t i = 0; i < a.n && !stop; i++)
            stop = fn(arg, a.rows[i].name, &a.rows[i].attr, a.rows[i].cookie) != 0;
        stop = stop || a.n < READDIR_PAGE;
        a.off = a.n ? a.rows[a.n - 1].cookie : a.off;
    }
    free(a.rows);
    return rc;
}

/* --- orphans ---------------------------------------------------------- */

static int release_fn(struct meta *m, struct msq_conn *c, void *arg)
{
    (void)m;
    uint64_t ino = *(uint64_t *)arg;
    struct meta_attr n;
    int rc = msq_attr_get(c, ino, &n);
    if (rc == 0 && n.nlink == 0)
        rc = msq_node_delete(c, ino);
    if (rc == -ENOENT || rc == 0)
        rc = msq_exec(c, "DELETE FROM sustained WHERE inode = ?", "I", ino);
    return rc;
}

int msq_release_orphan(struct meta *m, uint64_t ino)
{
    return msq_txn(m, MSQ_WRITE, release_fn, &ino);
}
