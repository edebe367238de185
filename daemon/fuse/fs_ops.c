/* SPDX-License-Identifier: Apache-2.0
 *
 * FUSE low-level handlers. Each handler unpacks the request, calls one VFS
 * function (which returns 0/-errno) and replies exactly once. Inode numbers
 * are the VFS's stable ids, so forget has nothing to release.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuse/fs_i.h"

#define FS_IO_BUF (1u << 20) /* max FUSE request: 256 pages */
#define FS_BLKSIZE 4096

struct fs_ctx *ctx_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

struct vfs *vfs_of(fuse_req_t req)
{
    return ctx_of(req)->v;
}

static struct meta_ctx caller_of(fuse_req_t req)
{
    const struct fuse_ctx *c = fuse_req_ctx(req);
    struct meta_ctx m = {c->uid, c->gid, (uint32_t)c->pid};
    return m;
}

static void ts_from_ns(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
    if (ts->tv_nsec < 0) {
        ts->tv_sec--;
        ts->tv_nsec += 1000000000;
    }
}

static int64_t ns_from_ts(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void stat_from_attr(struct stat *st, const struct meta_attr *a)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_rdev = a->rdev;
    st->st_size = (off_t)a->size;
    st->st_blksize = FS_BLKSIZE;
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    ts_from_ns(&st->st_atim, a->atime);
    ts_from_ns(&st->st_mtim, a->mtime);
    ts_from_ns(&st->st_ctim, a->ctime);
}

static void reply_entry(fuse_req_t req, int rc, const struct meta_attr *a)
{
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    struct fuse_entry_param e = {0};
    e.ino = a->ino;
    e.generation = 1;
    stat_from_attr(&e.attr, a);
    e.attr_timeout = ctx_of(req)->attr_timeout;
    e.entry_timeout = ctx_of(req)->entry_timeout;
    fuse_reply_entry(req, &e);
}

static void reply_attr(fuse_req_t req, int rc, const struct meta_attr *a)
{
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    struct stat st;
    stat_from_attr(&st, a);
    fuse_reply_attr(req, &st, ctx_of(req)->attr_timeout);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    FS_COUNT(req, VFS_OP_LOOKUP);
    struct meta_attr a;
    reply_entry(req, vfs_lookup(vfs_of(req), parent, name, &a), &a);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    FS_COUNT(req, VFS_OP_FORGET);
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    FS_COUNT(req, VFS_OP_FORGET);
    (void)count;
    (void)forgets;
    fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_GETATTR);
    (void)fi;
    struct meta_attr a;
    reply_attr(req, vfs_getattr(vfs_of(req), ino, &a), &a);
}

static int setattr_flags(int to_set)
{
    static const struct {
        int fuse, meta;
    } map[] = {
        {FUSE_SET_ATTR_MODE, META_SET_MODE},         {FUSE_SET_ATTR_UID, META_SET_UID},
        {FUSE_SET_ATTR_GID, META_SET_GID},           {FUSE_SET_ATTR_SIZE, META_SET_SIZE},
        {FUSE_SET_ATTR_ATIME, META_SET_ATIME},       {FUSE_SET_ATTR_MTIME, META_SET_MTIME},
        {FUSE_SET_ATTR_ATIME_NOW, META_SET_ATIME_NOW}, {FUSE_SET_ATTR_MTIME_NOW, META_SET_MTIME_NOW},
        {FUSE_SET_ATTR_CTIME, META_SET_CTIME},
    };
    int out = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (to_set & map[i].fuse)
            out |= map[i].meta;
    return out;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_SETATTR);
    (void)fi;
    struct meta_attr in = {0}, out;
    in.mode = st->st_mode;
    in.uid = st->st_uid;
    in.gid = st->st_gid;
    in.size = (uint64_t)st->st_size;
    in.atime = ns_from_ts(&st->st_atim);
    in.mtime = ns_from_ts(&st->st_mtim);
    in.ctime = ns_from_ts(&st->st_ctim);
    struct meta_ctx c = caller_of(req);
    reply_attr(req, vfs_setattr(vfs_of(req), &c, ino, setattr_flags(to_set), &in, &out), &out);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
    FS_COUNT(req, VFS_OP_READLINK);
    char *target = NULL;
    int rc = vfs_readlink(vfs_of(req), ino, &target);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fuse_reply_readlink(req, target);
    free(target);
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
                      const char *target)
{
    struct meta_attr a;
    struct meta_ctx c = caller_of(req);
    reply_entry(req, vfs_mknod(vfs_of(req), &c, parent, name, mode, rdev, target, &a), &a);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    FS_COUNT(req, VFS_OP_MKNOD);
    make_node(req, parent, name, mode, rdev, NULL);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    FS_COUNT(req, VFS_OP_MKDIR);
    make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    FS_COUNT(req, VFS_OP_SYMLINK);
    make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    FS_COUNT(req, VFS_OP_LINK);
    struct meta_attr a;
    reply_entry(req, vfs_link(vfs_of(req), ino, newparent, newname, &a), &a);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    FS_COUNT(req, VFS_OP_UNLINK);
    fuse_reply_err(req, -vfs_unlink(vfs_of(req), parent, name));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    FS_COUNT(req, VFS_OP_RMDIR);
    fuse_reply_err(req, -vfs_rmdir(vfs_of(req), parent, name));
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    FS_COUNT(req, VFS_OP_RENAME);
    fuse_reply_err(req, -vfs_rename(vfs_of(req), parent, name, newparent, newname, flags));
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_OPEN);
    fs_tune_readahead(ctx_of(req));
    uint64_t fh;
    int rc = vfs_open(vfs_of(req), ino, fi->flags, &fh);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fi->fh = fh;
    fuse_reply_open(req, fi);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_CREATE);
    struct meta_attr a;
    uint64_t fh;
    fs_tune_readahead(ctx_of(req));
    struct meta_ctx c = caller_of(req);
    int rc = vfs_create(vfs_of(req), &c, parent, name, mode, fi->flags, &a, &fh);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fi->fh = fh;
    struct fuse_entry_param e = {0};
    e.ino = a.ino;
    e.generation = 1;
    stat_from_attr(&e.attr, &a);
    e.attr_timeout = ctx_of(req)->attr_timeout;
    e.entry_timeout = ctx_of(req)->entry_timeout;
    fuse_reply_create(req, &e, fi);
}

/* One reusable read buffer per loop thread: a fresh 1 MiB allocation per
 * request costs page faults that halve throughput (fuse-ceiling.md). */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_key_init(void)
{
    pthread_key_create(&read_buf_key, free);
}

static char *thread_read_buf(size_t size)
{
    if (size > FS_IO_BUF)
        return NULL;
    pthread_once(&read_buf_once, read_buf_key_init);
    char *buf = pthread_getspecific(read_buf_key);
    if (!buf) {
        if (posix_memalign((void **)&buf, 4096, FS_IO_BUF))
            return NULL;
        pthread_setspecific(read_buf_key, buf);
    }
    return buf;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_READ);
    char *big = NULL;
    char *buf = thread_read_buf(size);
    if (!buf) {
        buf = big = malloc(size);
        if (!buf)
            return (void)fuse_reply_err(req, ENOMEM);
    }
    const char *data;
    ssize_t n = vfs_read(vfs_of(req), ino, fi->fh, (uint64_t)off, size, buf, &data);
    if (n < 0) {
        fuse_reply_err(req, (int)-n);
    } else {
        vfs_stats_add_read(ctx_of(req)->stats, (uint64_t)n);
        fuse_reply_buf(req, data, (size_t)n);
    }
    free(big);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_WRITE);
    ssize_t n = vfs_write(vfs_of(req), ino, fi->fh, (uint64_t)off, buf, size);
    if (n < 0)
        return (void)fuse_reply_err(req, (int)-n);
    vfs_stats_add_written(ctx_of(req)->stats, (uint64_t)n);
    fuse_reply_write(req, (size_t)n);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_FLUSH);
    fuse_reply_err(req, -vfs_flush(vfs_of(req), ino, fi->fh, fi->lock_owner));
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_RELEASE);
    uint64_t flock_owner = fi->flock_release ? fi->lock_owner : 0;
    fuse_reply_err(req, -vfs_release(vfs_of(req), ino, fi->fh, flock_owner));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_FSYNC);
    (void)fi;
    fuse_reply_err(req, -vfs_fsync(vfs_of(req), ino, datasync != 0));
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_FSYNCDIR);
    (void)datasync;
    (void)fi;
    fuse_reply_err(req, -vfs_fsyncdir(vfs_of(req), ino));
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    FS_COUNT(req, VFS_OP_STATFS);
    (void)ino;
    struct meta_statfs s;
    int rc = vfs_statfs(vfs_of(req), &s);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    struct statvfs st = {0};
    st.f_bsize = FS_BLKSIZE;
    st.f_frsize = FS_BLKSIZE;
    st.f_blocks = s.total_space / FS_BLKSIZE;
    st.f_bfree = s.avail_space / FS_BLKSIZE;
    st.f_bavail = st.f_bfree;
    st.f_files = s.total_inodes;
    st.f_ffree = s.avail_inodes;
    st.f_favail = s.avail_inodes;
    st.f_namemax = META_NAME_MAX;
    fuse_reply_statfs(req, &st);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                        int flags)
{
    FS_COUNT(req, VFS_OP_SETXATTR);
    fuse_reply_err(req, -vfs_setxattr(vfs_of(req), ino, name, value, size, flags));
}

static void reply_xattr_result(fuse_req_t req, ssize_t n, size_t size, const char *buf)
{
    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    FS_COUNT(req, VFS_OP_GETXATTR);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf)
        return (void)fuse_reply_err(req, ENOMEM);
    reply_xattr_result(req, vfs_getxattr(vfs_of(req), ino, name, buf, size), size, buf);
    free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    FS_COUNT(req, VFS_OP_LISTXATTR);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf)
        return (void)fuse_reply_err(req, ENOMEM);
    reply_xattr_result(req, vfs_listxattr(vfs_of(req), ino, buf, size), size, buf);
    free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    FS_COUNT(req, VFS_OP_REMOVEXATTR);
    fuse_reply_err(req, -vfs_removexattr(vfs_of(req), ino, name));
}

static bool req_interrupted(void *arg)
{
    return fuse_req_interrupted(arg) != 0;
}

static void plock_from_flock(struct meta_plock *lk, const struct flock *fl)
{
    lk->type = fl->l_type;
    lk->start = (uint64_t)fl->l_start;
    lk->end = fl->l_len == 0 ? UINT64_MAX : (uint64_t)(fl->l_start + fl->l_len - 1);
    lk->pid = (uint32_t)fl->l_pid;
}

static void fs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl)
{
    FS_COUNT(req, VFS_OP_GETLK);
    struct meta_plock lk;
    plock_from_flock(&lk, fl);
    int rc = vfs_getlk(vfs_of(req), ino, fi->lock_owner, &lk);
    if (rc)
        return (void)fuse_reply_err(req, -rc);
    fl->l_type = (short)lk.type;
    if (lk.type != F_UNLCK) {
        fl->l_start = (off_t)lk.start;
        fl->l_len = lk.end == UINT64_MAX ? 0 : (off_t)(lk.end - lk.start + 1);
        fl->l_pid = (pid_t)lk.pid;
    }
    fuse_reply_lock(req, fl);
}

static void fs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl, int sleep)
{
    FS_COUNT(req, VFS_OP_SETLK);
    struct meta_plock lk;
    plock_from_flock(&lk, fl);
    if (lk.pid == 0)
        lk.pid = (uint32_t)fuse_req_ctx(req)->pid;
    int rc = vfs_setlk(vfs_of(req), ino, fi->lock_owner, &lk, sleep != 0, req_interrupted, req);
    fuse_reply_err(req, -rc);
}

static void fs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    FS_COUNT(req, VFS_OP_FLOCK);
    fuse_reply_err(req, -vfs_flock(vfs_of(req), ino, fi->lock_owner, op, req_interrupted, req));
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    FS_COUNT(req, VFS_OP_FALLOCATE);
    (void)fi;
    if (off < 0 || len <= 0)
        return (void)fuse_reply_err(req, EINVAL);
    fuse_reply_err(req, -vfs_fallocate(vfs_of(req), ino, mode, (uint64_t)off, (uint64_t)len));
}

static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
                               fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
                               int flags)
{
    FS_COUNT(req, VFS_OP_COPY_FILE_RANGE);
    (void)fi_in;
    (void)fi_out;
    if (flags)
        return (void)fuse_reply_err(req, EINVAL);
    ssize_t n = vfs_copy_range(vfs_of(req), ino_in, (uint64_t)off_in, ino_out, (uint64_t)off_out, len);
    if (n < 0)
        return (void)fuse_reply_err(req, (int)-n);
    vfs_stats_add_written(ctx_of(req)->stats, (uint64_t)n);
    fuse_reply_write(req, (size_t)n);
}


static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    conn->max_write = FS_IO_BUF;
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    conn->time_gran = 1;
    unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS |
                    FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_ASYNC_DIO |
                    FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_AUTO_INVAL_DATA;
    conn->want |= want & conn->capable;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .readlink = fs_readlink,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .symlink = fs_symlink,
    .link = fs_link,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .rename = fs_rename,
    .open = fs_open,
    .create = fs_create,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .fsync = fs_fsync,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .fsyncdir = fs_fsyncdir,
    .statfs = fs_statfs,
    .setxattr = fs_setxattr,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .removexattr = fs_removexattr,
    .getlk = fs_getlk,
    .setlk = fs_setlk,
    .flock = fs_flock,
    .fallocate = fs_fallocate,
    .copy_file_range = fs_copy_file_range,
};

const struct fuse_lowlevel_ops *fs_lowlevel_ops(void)
{
    return &fs_ops;
}
