// SPDX-License-Identifier: Apache-2.0
/*
 * nullfs: the FUSE ceiling of this machine, for `make bench`.
 *
 * A flat filesystem of all-zero files on the libfuse 3 low-level API with the
 * FUSE settings tidefs uses (multi-threaded loop, 1 MiB requests, 1 s
 * attr/entry TTLs). Every file is a size and nothing else: reads return zeros
 * from one preallocated buffer, writes are acknowledged and dropped (they only
 * extend the size). The root holds "zero", a sparse file of -o size=BYTES
 * (512 GiB by default); files can be created, stat'ed, truncated and unlinked,
 * so the same loops that measure tidefs measure the bare FUSE round trip here.
 *
 * Usage: nullfs [-f] [-s] [-o size=BYTES,timeout=SEC,direct_io,writeback] MNT
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NULLFS_ZERO_INO 2            /* the preexisting sparse file */
#define NULLFS_BUF_SIZE (1u << 20)   /* one FUSE request at max_pages 256 */
#define NULLFS_MAX_IOV 64            /* replies up to 64 MiB, never needed */

/* One regular file in the root directory. */
struct nullfs_file {
    uint64_t ino;
    char *name;          /* owned; NULL once unlinked */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    uint64_t size;
    uint64_t nlookup;    /* kernel references, see the forget contract */
    struct timespec mtime;
    struct timespec ctime;
};

struct nullfs_opts {
    char *size;          /* size of "zero", parsed by nullfs_parse_size() */
    double timeout;      /* attr and entry TTL in seconds */
    int direct_io;       /* set FOPEN_DIRECT_IO on every open */
    int writeback;       /* ask for the writeback cache */
};

struct nullfs {
    struct nullfs_opts opts;
    char *zeros;         /* owned; NULLFS_BUF_SIZE bytes, touched at start */
    pthread_mutex_t lock;
    void *by_name;       /* tsearch tree of linked files; protected by lock */
    void *by_ino;        /* tsearch tree of all live files; protected by lock */
    uint64_t next_ino;   /* protected by lock */
    uint64_t nfiles;     /* linked files; protected by lock */
};

static int nullfs_cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct nullfs_file *)a)->name,
                  ((const struct nullfs_file *)b)->name);
}

static int nullfs_cmp_ino(const void *a, const void *b)
{
    uint64_t x = ((const struct nullfs_file *)a)->ino;
    uint64_t y = ((const struct nullfs_file *)b)->ino;
    return (x > y) - (x < y);
}

static struct nullfs *nullfs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/* Caller holds fs->lock. Returns the file or NULL. */
static struct nullfs_file *nullfs_by_ino(struct nullfs *fs, fuse_ino_t ino)
{
    struct nullfs_file key = { .ino = ino };
    void *hit = tfind(&key, &fs->by_ino, nullfs_cmp_ino);
    return hit ? *(struct nullfs_file **)hit : NULL;
}

/* Caller holds fs->lock. Returns the file or NULL. */
static struct nullfs_file *nullfs_by_name(struct nullfs *fs, const char *name)
{
    struct nullfs_file key = { .name = (char *)name };
    void *hit = tfind(&key, &fs->by_name, nullfs_cmp_name);
    return hit ? *(struct nullfs_file **)hit : NULL;
}

static void nullfs_root_stat(struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = FUSE_ROOT_ID;
    st->st_mode = S_IFDIR | 0777;
    st->st_nlink = 2;
}

/* Caller holds fs->lock. */
static void nullfs_file_stat(const struct nullfs_file *f, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = f->ino;
    st->st_mode = f->mode;
    st->st_nlink = f->name ? 1 : 0;
    st->st_uid = f->uid;
    st->st_gid = f->gid;
    st->st_size = (off_t)f->size;
    st->st_blksize = NULLFS_BUF_SIZE;
    st->st_mtim = f->mtime;
    st->st_ctim = f->ctime;
    st->st_atim = f->mtime;
}

/* Fills st for ino; returns 0 or -ENOENT. */
static int nullfs_stat(struct nullfs *fs, fuse_ino_t ino, struct stat *st)
{
    if (ino == FUSE_ROOT_ID) {
        nullfs_root_stat(st);
        return 0;
    }
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_ino(fs, ino);
    if (f)
        nullfs_file_stat(f, st);
    pthread_mutex_unlock(&fs->lock);
    return f ? 0 : -ENOENT;
}

/* Caller holds fs->lock. Links a new empty file; returns it or NULL (ENOMEM). */
static struct nullfs_file *nullfs_link_new(struct nullfs *fs, const char *name,
                                           mode_t mode, const struct fuse_ctx *ctx)
{
    struct nullfs_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->name = strdup(name))) {
        free(f);
        return NULL;
    }
    f->ino = fs->next_ino++;
    f->mode = S_IFREG | (mode & 07777);
    f->uid = ctx ? ctx->uid : 0;
    f->gid = ctx ? ctx->gid : 0;
    clock_gettime(CLOCK_REALTIME, &f->mtime);
    f->ctime = f->mtime;
    if (!tsearch(f, &fs->by_name, nullfs_cmp_name) ||
        !tsearch(f, &fs->by_ino, nullfs_cmp_ino)) {
        tdelete(f, &fs->by_name, nullfs_cmp_name);
        free(f->name);
        free(f);
        return NULL;
    }
    fs->nfiles++;
    return f;
}

/* Caller holds fs->lock. Frees f once it is unlinked and forgotten. */
static void nullfs_maybe_free(struct nullfs *fs, struct nullfs_file *f)
{
    if (f->name || f->nlookup)
        return;
    tdelete(f, &fs->by_ino, nullfs_cmp_ino);
    free(f);
}

static void nullfs_fill_entry(struct nullfs *fs, struct fuse_entry_param *e,
                              const struct nullfs_file *f)
{
    memset(e, 0, sizeof(*e));
    e->ino = f->ino;
    e->attr_timeout = fs->opts.timeout;
    e->entry_timeout = fs->opts.timeout;
    nullfs_file_stat(f, &e->attr);
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct nullfs *fs = nullfs_of(req);
    struct fuse_entry_param e;
    if (parent != FUSE_ROOT_ID)
        return (void)fuse_reply_err(req, ENOENT);
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_name(fs, name);
    if (f) {
        f->nlookup++;
        nullfs_fill_entry(fs, &e, f);
    }
    pthread_mutex_unlock(&fs->lock);
    if (!f)
        return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_entry(req, &e);
}

static void nullfs_forget_one(struct nullfs *fs, fuse_ino_t ino, uint64_t n)
{
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_ino(fs, ino);
    if (f) {
        f->nlookup = f->nlookup > n ? f->nlookup - n : 0;
        nullfs_maybe_free(fs, f);
    }
    pthread_mutex_unlock(&fs->lock);
}

static void nullfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    nullfs_forget_one(nullfs_of(req), ino, nlookup);
    fuse_reply_none(req);
}

static void nullfs_forget_multi(fuse_req_t req, size_t count,
                                struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        nullfs_forget_one(nullfs_of(req), forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
                           struct fuse_file_info *fi)
{
    struct nullfs *fs = nullfs_of(req);
    struct stat st;
    (void)fi;
    int rc = nullfs_stat(fs, ino, &st);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fuse_reply_attr(req, &st, fs->opts.timeout);
}

/* Caller holds fs->lock. Applies the attributes a null file keeps. */
static void nullfs_apply_attr(struct nullfs_file *f, const struct stat *attr,
                              int to_set)
{
    if (to_set & FUSE_SET_ATTR_MODE)
        f->mode = S_IFREG | (attr->st_mode & 07777);
    if (to_set & FUSE_SET_ATTR_UID)
        f->uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID)
        f->gid = attr->st_gid;
    if (to_set & FUSE_SET_ATTR_SIZE)
        f->size = (uint64_t)attr->st_size;
    if (to_set & FUSE_SET_ATTR_MTIME)
        f->mtime = attr->st_mtim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
        clock_gettime(CLOCK_REALTIME, &f->mtime);
    clock_gettime(CLOCK_REALTIME, &f->ctime);
}

static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                           int to_set, struct fuse_file_info *fi)
{
    struct nullfs *fs = nullfs_of(req);
    struct stat st;
    (void)fi;
    if (ino == FUSE_ROOT_ID)
        return (void)fuse_reply_err(req, EPERM);
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_ino(fs, ino);
    if (f) {
        nullfs_apply_attr(f, attr, to_set);
        nullfs_file_stat(f, &st);
    }
    pthread_mutex_unlock(&fs->lock);
    if (!f)
        return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_attr(req, &st, fs->opts.timeout);
}

/* Creates name in the root; fills e. Returns 0 or -errno. */
static int nullfs_do_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                            mode_t mode, struct fuse_entry_param *e)
{
    struct nullfs *fs = nullfs_of(req);
    int rc = 0;
    if (parent != FUSE_ROOT_ID)
        return -ENOENT;
    if (!S_ISREG(mode) && (mode & S_IFMT))
        return -EPERM;
    if (strlen(name) > NAME_MAX)
        return -ENAMETOOLONG;
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_name(fs, name);
    if (f) {
        rc = -EEXIST;
    } else if (!(f = nullfs_link_new(fs, name, mode, fuse_req_ctx(req)))) {
        rc = -ENOMEM;
    } else {
        f->nlookup++;
        nullfs_fill_entry(fs, e, f);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

static void nullfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                          mode_t mode, struct fuse_file_info *fi)
{
    struct fuse_entry_param e;
    int rc = nullfs_do_create(req, parent, name, mode, &e);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fi->direct_io = nullfs_of(req)->opts.direct_io;
    fuse_reply_create(req, &e, fi);
}

static void nullfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                         mode_t mode, dev_t rdev)
{
    struct fuse_entry_param e;
    (void)rdev;
    int rc = nullfs_do_create(req, parent, name, mode, &e);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fuse_reply_entry(req, &e);
}

static void nullfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct nullfs *fs = nullfs_of(req);
    if (parent != FUSE_ROOT_ID)
        return (void)fuse_reply_err(req, ENOENT);
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_name(fs, name);
    if (f) {
        tdelete(f, &fs->by_name, nullfs_cmp_name);
        free(f->name);
        f->name = NULL;
        fs->nfiles--;
        nullfs_maybe_free(fs, f);
    }
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_err(req, f ? 0 : ENOENT);
}

static void nullfs_open(fuse_req_t req, fuse_ino_t ino,
                        struct fuse_file_info *fi)
{
    if (ino == FUSE_ROOT_ID)
        return (void)fuse_reply_err(req, EISDIR);
    fi->direct_io = nullfs_of(req)->opts.direct_io;
    fuse_reply_open(req, fi);
}

/* Returns the size of ino, or -ENOENT. */
static int64_t nullfs_size(struct nullfs *fs, fuse_ino_t ino)
{
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_ino(fs, ino);
    int64_t size = f ? (int64_t)f->size : -ENOENT;
    pthread_mutex_unlock(&fs->lock);
    return size;
}

/* Replies with n zero bytes, the one buffer repeated as often as needed. */
static void nullfs_reply_zeros(fuse_req_t req, struct nullfs *fs, size_t n)
{
    struct iovec iov[NULLFS_MAX_IOV];
    int count = 0;
    if (n > (size_t)NULLFS_MAX_IOV * NULLFS_BUF_SIZE)
        return (void)fuse_reply_err(req, EINVAL);
    while (n) {
        size_t len = n < NULLFS_BUF_SIZE ? n : NULLFS_BUF_SIZE;
        iov[count].iov_base = fs->zeros;
        iov[count++].iov_len = len;
        n -= len;
    }
    fuse_reply_iov(req, iov, count);
}

static void nullfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
    struct nullfs *fs = nullfs_of(req);
    (void)fi;
    int64_t fsize = nullfs_size(fs, ino);
    if (fsize < 0)
        return (void)fuse_reply_err(req, (int)-fsize);
    if (off >= fsize)
        return (void)fuse_reply_buf(req, NULL, 0);
    if ((uint64_t)(fsize - off) < size)
        size = (size_t)(fsize - off);
    nullfs_reply_zeros(req, fs, size);
}

static void nullfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                         size_t size, off_t off, struct fuse_file_info *fi)
{
    struct nullfs *fs = nullfs_of(req);
    (void)buf;
    (void)fi;
    pthread_mutex_lock(&fs->lock);
    struct nullfs_file *f = nullfs_by_ino(fs, ino);
    if (f && f->size < (uint64_t)off + size)
        f->size = (uint64_t)off + size;
    pthread_mutex_unlock(&fs->lock);
    if (!f)
        return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_write(req, size);
}

static void nullfs_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void nullfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                         struct fuse_file_info *fi)
{
    (void)datasync;
    nullfs_ok(req, ino, fi);
}

static void nullfs_opendir(fuse_req_t req, fuse_ino_t ino,
                           struct fuse_file_info *fi)
{
    if (ino != FUSE_ROOT_ID)
        return (void)fuse_reply_err(req, ENOTDIR);
    fuse_reply_open(req, fi);
}

/* State of one readdir reply while twalk_r visits files in inode order. */
struct nullfs_dirbuf {
    fuse_req_t req;
    char *buf;
    size_t size;
    size_t used;
    off_t after;         /* list inodes greater than this */
    int full;
};

static void nullfs_dirbuf_add(struct nullfs_dirbuf *d, const char *name,
                              fuse_ino_t ino, mode_t mode, off_t next)
{
    struct stat st = { .st_ino = ino, .st_mode = mode };
    size_t len = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used,
                                   name, &st, next);
    if (len > d->size - d->used)
        d->full = 1;
    else
        d->used += len;
}

static void nullfs_dirbuf_visit(const void *node, VISIT which, void *closure)
{
    const struct nullfs_file *f = *(struct nullfs_file *const *)node;
    struct nullfs_dirbuf *d = closure;
    if ((which != postorder && which != leaf) || d->full || !f->name)
        return;
    if ((off_t)f->ino > d->after)
        nullfs_dirbuf_add(d, f->name, f->ino, f->mode, (off_t)f->ino);
}

/* Offsets are inode numbers: stable while files come and go. */
static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
                           off_t off, struct fuse_file_info *fi)
{
    struct nullfs *fs = nullfs_of(req);
    struct nullfs_dirbuf d = { .req = req, .size = size, .after = off };
    (void)ino;
    (void)fi;
    if (!(d.buf = malloc(size)))
        return (void)fuse_reply_err(req, ENOMEM);
    if (off < 1)
        nullfs_dirbuf_add(&d, ".", FUSE_ROOT_ID, S_IFDIR, 1);
    if (off < 1 && !d.full)
        nullfs_dirbuf_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, 1);
    pthread_mutex_lock(&fs->lock);
    twalk_r(fs->by_ino, nullfs_dirbuf_visit, &d);
    pthread_mutex_unlock(&fs->lock);
    fuse_reply_buf(req, d.buf, d.used);
    free(d.buf);
}

static void nullfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv = {
        .f_bsize = NULLFS_BUF_SIZE, .f_frsize = 4096,
        .f_blocks = 1ull << 40, .f_bfree = 1ull << 40, .f_bavail = 1ull << 40,
        .f_files = 1ull << 32, .f_ffree = 1ull << 32, .f_favail = 1ull << 32,
        .f_namemax = NAME_MAX,
    };
    (void)ino;
    fuse_reply_statfs(req, &sv);
}

/* The same session settings as tidefs (daemon/fuse/fs_ops.c fs_init). */
static void nullfs_init(void *userdata, struct fuse_conn_info *conn)
{
    struct nullfs *fs = userdata;
    unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_ATOMIC_O_TRUNC |
                    FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
                    FUSE_CAP_ASYNC_DIO | FUSE_CAP_PARALLEL_DIROPS |
                    FUSE_CAP_AUTO_INVAL_DATA;
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    conn->want |= want & conn->capable;
    if (fs->opts.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    /* Replies come from memory; splicing was measured slower here. */
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                              FUSE_CAP_SPLICE_MOVE);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
    .init = nullfs_init,
    .lookup = nullfs_lookup,
    .forget = nullfs_forget,
    .forget_multi = nullfs_forget_multi,
    .getattr = nullfs_getattr,
    .setattr = nullfs_setattr,
    .mknod = nullfs_mknod,
    .create = nullfs_create,
    .unlink = nullfs_unlink,
    .open = nullfs_open,
    .read = nullfs_read,
    .write = nullfs_write,
    .flush = nullfs_ok,
    .release = nullfs_ok,
    .fsync = nullfs_fsync,
    .opendir = nullfs_opendir,
    .readdir = nullfs_readdir,
    .releasedir = nullfs_ok,
    .statfs = nullfs_statfs,
};

static const struct fuse_opt nullfs_opt_spec[] = {
    { "size=%s", offsetof(struct nullfs_opts, size), 0 },
    { "timeout=%lf", offsetof(struct nullfs_opts, timeout), 0 },
    { "direct_io", offsetof(struct nullfs_opts, direct_io), 1 },
    { "writeback", offsetof(struct nullfs_opts, writeback), 1 },
    FUSE_OPT_END
};

/* Parses BYTES with an optional K/M/G/T suffix (powers of 1024). */
static int nullfs_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (errno || end == s || *s == '-')
        return -EINVAL;
    switch (*end) {
    case 'T': case 't': shift += 10; /* fall through */
    case 'G': case 'g': shift += 10; /* fall through */
    case 'M': case 'm': shift += 10; /* fall through */
    case 'K': case 'k': shift += 10; end++; break;
    default: break;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)) || (v << shift) > INT64_MAX)
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Sets up the file tree and the zero buffer. Returns 0 or -errno. */
static int nullfs_setup(struct nullfs *fs)
{
    uint64_t size = 512ull << 30;
    if (fs->opts.size && nullfs_parse_size(fs->opts.size, &size)) {
        fprintf(stderr, "nullfs: bad size '%s' (want BYTES[K|M|G|T])\n",
                fs->opts.size);
        return -EINVAL;
    }
    if (fs->opts.timeout < 0) {
        fprintf(stderr, "nullfs: bad timeout %g (want seconds >= 0)\n",
                fs->opts.timeout);
        return -EINVAL;
    }
    /* Touch the buffer now so page faults never land in a measured read. */
    if (!(fs->zeros = malloc(NULLFS_BUF_SIZE)))
        return -ENOMEM;
    memset(fs->zeros, 0, NULLFS_BUF_SIZE);
    fs->next_ino = NULLFS_ZERO_INO;
    struct nullfs_file *zero = nullfs_link_new(fs, "zero", 0666, NULL);
    if (!zero)
        return -ENOMEM;
    zero->size = size;
    return 0;
}

static void nullfs_free_node(void *node)
{
    struct nullfs_file *f = node;
    free(f->name);
    free(f);
}

/* by_name holds the same nodes as by_ino, which owns them. */
static void nullfs_free_none(void *node)
{
    (void)node;
}

static void nullfs_teardown(struct nullfs *fs)
{
    tdestroy(fs->by_name, nullfs_free_none);
    tdestroy(fs->by_ino, nullfs_free_node);
    free(fs->zeros);
    free(fs->opts.size);
    pthread_mutex_destroy(&fs->lock);
}

/* Mounts, serves until unmounted, unmounts. Returns the exit status. */
static int nullfs_serve(struct nullfs *fs, struct fuse_args *args,
                        const struct fuse_cmdline_opts *cl)
{
    int rc = 1;
    struct fuse_session *se =
        fuse_session_new(args, &nullfs_ops, sizeof(nullfs_ops), fs);
    if (!se)
        return 1;
    if (fuse_set_signal_handlers(se))
        goto out_session;
    if (fuse_session_mount(se, cl->mountpoint))
        goto out_signals;
    fuse_daemonize(cl->foreground);
    if (cl->singlethread) {
        rc = fuse_session_loop(se) ? 1 : 0;
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(lc, (unsigned)cl->clone_fd);
        fuse_loop_cfg_set_max_threads(lc, cl->max_threads);
        fuse_loop_cfg_set_idle_threads(lc, cl->max_idle_threads);
        rc = fuse_session_loop_mt(se, lc) ? 1 : 0;
        fuse_loop_cfg_destroy(lc);
    }
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
    return rc;
}

static void nullfs_usage(const char *prog)
{
    printf("usage: %s [options] MOUNTPOINT\n"
           "  -o size=BYTES    size of the sparse file \"zero\" (default 512G)\n"
           "  -o timeout=SEC   attr/entry cache TTL (default 1.0, as tidefs)\n"
           "  -o direct_io     FOPEN_DIRECT_IO on every open\n"
           "  -o writeback     ask for the kernel writeback cache\n", prog);
    fuse_cmdline_help();
    fuse_lowlevel_help();
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct fuse_cmdline_opts cl = { 0 };
    struct nullfs fs = { .opts.timeout = 1.0 };
    int rc = 1;
    pthread_mutex_init(&fs.lock, NULL);
    if (fuse_parse_cmdline(&args, &cl) ||
        fuse_opt_parse(&args, &fs.opts, nullfs_opt_spec, NULL))
        goto out;
    if (cl.show_help || cl.show_version) {
        if (cl.show_help)
            nullfs_usage(argv[0]);
        else
            printf("nullfs on libfuse %s\n", fuse_pkgversion());
        rc = 0;
        goto out;
    }
    if (!cl.mountpoint) {
        fprintf(stderr, "nullfs: missing MOUNTPOINT (see --help)\n");
        goto out;
    }
    if (nullfs_setup(&fs) == 0)
        rc = nullfs_serve(&fs, &args, &cl);
out:
    nullfs_teardown(&fs);
    free(cl.mountpoint);
    fuse_opt_free_args(&args);
    return rc;
}
