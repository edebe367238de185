/* SPDX-License-Identifier: Apache-2.0
 *
 * The metadata engine interface. A volume's namespace (inodes, directory
 * entries, symlinks, xattrs), its file layout (chunks -> slices), locks,
 * sessions, counters and settings live behind one `const struct meta_ops`
 * table chosen from the META-URL scheme (sqlite3://, redis://). Every call is
 * one whole-operation transaction: it either happens completely or not at all.
 *
 * Conventions:
 *  - every function returns 0 or -errno (the FUSE boundary converts);
 *  - inode numbers are stable ids and are the FUSE node ids; root is 1;
 *  - times are nanoseconds since the Unix epoch;
 *  - permission checks on access are done by the kernel (default_permissions);
 *    the engine enforces only what the kernel cannot see: setgid-directory
 *    inheritance, capacity/inode limits, RENAME_* semantics, ENOTEMPTY, ...
 *  - all functions are safe to call from many threads at once.
 */
#ifndef TIDEFS_META_H
#define TIDEFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define META_ROOT_INO 1ULL
#define META_CHUNK_BITS 26
#define META_CHUNK_SIZE (1ULL << META_CHUNK_BITS) /* 64 MiB */
#define META_NAME_MAX 255
#define META_SYMLINK_MAX 4096
#define META_XATTR_NAME_MAX 255
#define META_XATTR_SIZE_MAX 65536

struct meta; /* one open engine connection; opaque */

/* The caller of an operation: used for setgid inheritance, ownership of new
 * nodes and lock owners. */
struct meta_ctx {
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
};

struct meta_attr {
    uint64_t ino;
    uint32_t mode; /* file type bits (S_IFMT) | permission bits */
    uint32_t uid;
    uint32_t gid;
    uint32_t nlink;
    uint64_t size;  /* bytes for files, target length for symlinks */
    uint64_t rdev;  /* for S_IFCHR/S_IFBLK */
    int64_t atime;  /* ns */
    int64_t mtime;  /* ns */
    int64_t ctime;  /* ns */
    uint64_t parent; /* parent dir for dirs (hard-linked files: any parent) */
};

/* One contiguous write inside a chunk. The slice object `id` has `size`
 * bytes; bytes [off, off+len) of it appear at chunk offset `pos`.
 * id 0 is a hole (reads as zeros). Later slices in a chunk's list cover
 * earlier ones. */
struct meta_slice {
    uint32_t pos;
    uint64_t id;
    uint32_t size;
    uint32_t off;
    uint32_t len;
};

/* setattr: which fields of `in` to apply */
enum {
    META_SET_MODE = 1 << 0,
    META_SET_UID = 1 << 1,
    META_SET_GID = 1 << 2,
    META_SET_SIZE = 1 << 3, /* truncate up or down */
    META_SET_ATIME = 1 << 4,
    META_SET_MTIME = 1 << 5,
    META_SET_ATIME_NOW = 1 << 6,
    META_SET_MTIME_NOW = 1 << 7,
    META_SET_CTIME = 1 << 8,
};

/* rename flags: same values as the kernel's RENAME_NOREPLACE/EXCHANGE */
#define META_RENAME_NOREPLACE (1 << 0)
#define META_RENAME_EXCHANGE (1 << 1)

/* xattr flags: same values as XATTR_CREATE / XATTR_REPLACE */
#define META_XATTR_CREATE 1
#define META_XATTR_REPLACE 2

/* fallocate modes: same values as FALLOC_FL_* */
#define META_FALLOC_KEEP_SIZE 0x01
#define META_FALLOC_PUNCH_HOLE 0x02
#define META_FALLOC_ZERO_RANGE 0x10

struct meta_statfs {
    uint64_t total_space; /* capacity, or a large default when unlimited */
    uint64_t avail_space;
    uint64_t used_space;
    uint64_t total_inodes;
    uint64_t avail_inodes;
    uint64_t used_inodes;
};

/* A POSIX byte-range lock; end is inclusive, UINT64_MAX for "to EOF". */
struct meta_plock {
    int type; /* F_RDLCK, F_WRLCK or F_UNLCK */
    uint64_t start;
    uint64_t end;
    uint32_t pid; /* holder's pid, reported by getlk */
};

/* readdir callback: return 0 to continue, 1 to stop (buffer full). `attr`
 * is filled completely only for readdirplus; otherwise only ino and the
 * type bits of mode are valid. `next` is the cookie to resume after this
 * entry. */
typedef int (*meta_dirent_fn)(void *arg, const char *name, const struct meta_attr *attr, uint64_t next);

/* Called by the engine (inside its transaction) when an inode's link count
 * drops to 0: return true when the file is still open in this process, so
 * the engine keeps the inode (and its data) until meta_ops.release_orphan. */
typedef bool (*meta_is_open_fn)(void *arg, uint64_t ino);

struct meta_session_info {
    const char *host;
    const char *mountpoint;
    const char *version;
    uint32_t pid;
};

/* list callbacks for sessions and deleted slices; return 0 to continue */
typedef int (*meta_session_fn)(void *arg, uint64_t sid, int64_t heartbeat_ns, const char *info_json);
typedef int (*meta_slice_fn)(void *arg, uint64_t id, uint32_t size);

/* A directory quota (issue 6): limits (0 = none) and the usage of the
 * directory's whole subtree below it, counted as the volume's usage is
 * (regular files' lengths rounded up to 4 KiB; every inode under it, the
 * directory itself excluded). A file counts under the directory chain of
 * its `parent` (a hard-linked file under one of its parents only). */
struct meta_quota {
    uint64_t max_space;
    uint64_t max_inodes;
    uint64_t used_space;
    uint64_t used_inodes;
};

/* The trash (issue 6): with trash days set, a removed file or directory
 * moves to /.trash/<YYYY-MM-DD-HH>/<parent>-<ino>-<name> in the removing
 * transaction. .trash has this fixed inode, is reached by lookup in the
 * root only (never listed) and cannot be removed; nothing but removals
 * enters it; removing something inside it deletes it for real. */
#define META_TRASH_INO 0x7FFFFFFF10000000ULL
#define META_TRASH_NAME ".trash"

typedef int (*meta_quota_fn)(void *arg, uint64_t ino, const struct meta_quota *q);
/* a chunk's slices, oldest first; borrowed for the call */
typedef int (*meta_chunk_fn)(void *arg, uint64_t ino, uint32_t indx, const struct meta_slice *s, size_t n);

struct meta_ops {
    const char *scheme; /* "sqlite3", "redis" */

    /* Open the engine at `url` (borrowed). Caller frees with close(). */
    int (*open)(const char *url, struct meta **out);
    void (*close)(struct meta *m); /* accepts NULL */

    /* Register the open-file test used on unlink/rename-over. */
    void (*set_is_open)(struct meta *m, meta_is_open_fn fn, void *arg);

    /* Volume settings: an opaque JSON text (see format.h) under a name.
     * init creates the schema and root inode; fails with -EEXIST when the
     * volume is formatted unless `force`. get returns -ENOENT when absent;
     * *out is malloc'ed, caller frees. */
    int (*init)(struct meta *m, const char *format_json, bool force);
    int (*get_setting)(struct meta *m, const char *name, char **out);
    int (*set_setting)(struct meta *m, const char *name, const char *value);

    /* Sessions: one per mount. heartbeat every few seconds; sessions whose
     * heartbeat is older than the expiry are cleaned by clean_sessions
     * (their orphans deleted, their locks dropped). */
    int (*new_session)(struct meta *m, const struct meta_session_info *info, uint64_t *sid);
    int (*heartbeat)(struct meta *m);
    int (*close_session)(struct meta *m);
    int (*list_sessions)(struct meta *m, meta_session_fn fn, void *arg);
    int (*clean_sessions)(struct meta *m, int64_t expiry_ns);

    /* Namespace */
    int (*lookup)(struct meta *m, uint64_t parent, const char *name, struct meta_attr *out);
    int (*getattr)(struct meta *m, uint64_t ino, struct meta_attr *out);
    int (*setattr)(struct meta *m, const struct meta_ctx *ctx, uint64_t ino, int to_set,
                   const struct meta_attr *in, struct meta_attr *out);
    /* mknod creates a regular file, dir, fifo, socket, device or symlink
     * (mode carries the type; `target` is the symlink target, else NULL). */
    int (*mknod)(struct meta *m, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
                 uint64_t rdev, const char *target, struct meta_attr *out);
    int (*link)(struct meta *m, uint64_t ino, uint64_t new_parent, const char *new_name, struct meta_attr *out);
    int (*unlink)(struct meta *m, uint64_t parent, const char *name);
    int (*rmdir)(struct meta *m, uint64_t parent, const char *name);
    int (*rename)(struct meta *m, uint64_t parent, const char *name, uint64_t new_parent, const char *new_name,
                  unsigned flags);
    int (*readlink)(struct meta *m, uint64_t ino, char **out); /* caller frees */
    /* List entries after cookie `off` (0 = from the start); "." and ".."
     * are the caller's business. Cookies are stable: entries added or
     * removed meanwhile never make a listing skip or repeat others. */
    int (*readdir)(struct meta *m, uint64_t ino, uint64_t off, bool plus, meta_dirent_fn fn, void *arg);
    /* An open file whose link count reached 0 was closed for the last time */
    int (*release_orphan)(struct meta *m, uint64_t ino);

    /* Extended attributes. getxattr with size 0 returns the length only
     * (as a positive value), likewise listxattr (NUL-separated names). */
    ssize_t (*getxattr)(struct meta *m, uint64_t ino, const char *name, void *buf, size_t size);
    int (*setxattr)(struct meta *m, uint64_t ino, const char *name, const void *value, size_t size, int flags);
    ssize_t (*listxattr)(struct meta *m, uint64_t ino, char *buf, size_t size);
    int (*removexattr)(struct meta *m, uint64_t ino, const char *name);

    /* File layout */
    int (*new_slice_id)(struct meta *m, uint64_t *id);
    /* slices of chunk `indx`, oldest first; *out malloc'ed, caller frees */
    int (*read_chunk)(struct meta *m, uint64_t ino, uint32_t indx, struct meta_slice **out, size_t *n);
    /* Append one uploaded slice to chunk `indx`; grows the length to cover
     * it, sets mtime/ctime to `mtime_ns`; -ENOSPC/-EDQUOT past limits. */
    int (*write)(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *s, int64_t mtime_ns,
                 struct meta_attr *out);
    int (*fallocate)(struct meta *m, uint64_t ino, int mode, uint64_t off, uint64_t len, struct meta_attr *out);
    /* Deleted slices whose blocks may now be removed from the store, and
     * the acknowledgement once they are. */
    int (*list_deleted_slices)(struct meta *m, size_t max, meta_slice_fn fn, void *arg);
    int (*ack_deleted_slice)(struct meta *m, uint64_t id, uint32_t size);

    int (*statfs)(struct meta *m, struct meta_statfs *out);

    /* Locks. owner identifies the lock owner (FUSE lock_owner); flock and
     * POSIX locks are independent. Non-blocking: -EAGAIN on conflict (the
     * caller waits and retries for F_SETLKW / LOCK_EX without LOCK_NB). */
    int (*flock)(struct meta *m, uint64_t ino, uint64_t owner, int type);
    int (*getlk)(struct meta *m, uint64_t ino, uint64_t owner, struct meta_plock *lk);
    int (*setlk)(struct meta *m, uint64_t ino, uint64_t owner, const struct meta_plock *lk);

    /* Make every committed transaction durable against power loss. */
    int (*sync)(struct meta *m);

    /* --- the operator's toolkit (issue 6) ---------------------------- */

    /* Directory quotas. set creates the quota of directory `ino` (its usage
     * computed from the subtree now) or changes its limits; writes, mknod,
     * fallocate, truncate and renames into it then fail with -EDQUOT when
     * they would pass a limit of any quota'ed ancestor. get: -ENOENT when
     * the directory has none; delete likewise. */
    int (*quota_set)(struct meta *m, uint64_t ino, uint64_t max_space, uint64_t max_inodes);
    int (*quota_get)(struct meta *m, uint64_t ino, struct meta_quota *out);
    int (*quota_list)(struct meta *m, meta_quota_fn fn, void *arg);
    int (*quota_delete)(struct meta *m, uint64_t ino);
    /* statfs as seen from directory `ino` (a --subdir mount): the nearest
     * quota at or above it bounds the totals; none: as statfs. */
    int (*statfs_dir)(struct meta *m, uint64_t ino, struct meta_statfs *out);

    /* Every chunk of every inode, linked or not (gc, fsck); fn may stop
     * the listing by returning non-zero. */
    int (*list_chunks)(struct meta *m, meta_chunk_fn fn, void *arg);
    /* fsck --repair: every record of slice `id` in chunk (ino, indx)
     * becomes a hole of the same extent; the slice loses those
     * references (and is queued for deletion when none are left). */
    int (*chunk_drop_slice)(struct meta *m, uint64_t ino, uint32_t indx, uint64_t id);
    /* Deletes all metadata of the volume (destroy); the engine's storage
     * is left empty and unformatted. */
    int (*destroy)(struct meta *m);

    /* --- compaction (issue 5) ------------------------------------------ */

    /* If chunk (ino, indx) still begins with the `nold` records `old` (as
     * read_chunk returned them), replace those with the `nrepl` records
     * `repl`; records appended meanwhile stay on top. Old slices lose those
     * references (queued for deletion when none are left), new ones gain
     * one each. -ESTALE when the chunk changed otherwise (nothing done). */
    int (*compact_chunk)(struct meta *m, uint64_t ino, uint32_t indx, const struct meta_slice *old, size_t nold,
                         const struct meta_slice *repl, size_t nrepl);
};

/* The engine for `url`'s scheme, or NULL (unknown scheme). */
const struct meta_ops *meta_engine_for_url(const char *url);

/* Open the engine named by url: *ops and *m are set on success. Prints
 * nothing; returns -EINVAL for an unknown scheme or malformed url. */
int meta_open_url(const char *url, const struct meta_ops **ops, struct meta **m);

#endif
