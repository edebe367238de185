/* SPDX-License-Identifier: Apache-2.0
 *
 * VFS data operations. Reads see this mount's own writes: an inode with
 * buffered writes is flushed (uploaded, then committed) before it is read,
 * so every read is served from committed slices only. close (flush) and
 * fsync wait for the commit; fsync also makes the metadata durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vfs/vfs_compact.h"
#include "vfs/vfs_i.h"

#define COPY_BUF (1u << 20)
#define DELETE_BATCH 1000
#define DELETE_BATCHES 10 /* per housekeeping tick: compaction frees many */

static bool wants_write(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static int truncate_to_zero(struct vfs *v, uint64_t mi)
{
    struct meta_attr in = {.size = 0}, out;
    struct meta_ctx ctx = {0};
    int rc = chunk_flush(v->cs, mi);
    if (rc == 0)
        rc = v->ops->setattr(v->m, &ctx, mi, META_SET_SIZE, &in, &out);
    if (rc == 0) {
        chunk_invalidate(v->cs, mi);
        vfs_layout_changed(v, mi);
    }
    return rc;
}

int vfs_open(struct vfs *v, uint64_t ino, int flags, uint64_t *fh)
{
    if (v->cfg.read_only && wants_write(flags))
        return -EROFS;
    uint64_t mi = vfs_to_meta(v, ino);
    struct meta_attr a;
    int rc = v->ops->getattr(v->m, mi, &a);
    if (rc)
        return rc;
    if (S_ISDIR(a.mode))
        return -EISDIR;
    if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY && a.size > 0) {
        rc = truncate_to_zero(v, mi);
        if (rc)
            return rc;
    }
    /* close-to-open: this open sees the file as it is now */
    vfs_layout_invalidate(&vfs_inode_ref(v, mi)->layout);
    *fh = vfs_fh_encode(flags);
    return 0;
}

int vfs_create(struct vfs *v, const struct meta_ctx *ctx, uint64_t parent, const char *name, uint32_t mode,
               int flags, struct meta_attr *out, uint64_t *fh)
{
    int rc = vfs_mknod(v, ctx, parent, name, S_IFREG | (mode & 07777), 0, NULL, out);
    if (rc)
        return rc;
    vfs_inode_ref(v, vfs_to_meta(v, out->ino));
    *fh = vfs_fh_encode(flags);
    return 0;
}

/* Shared zeros for reads that fall entirely in holes: answering from them
 * saves clearing a 1 MiB buffer per request. */
static const char zeros[1u << 20];

/* Reads [off, off+len) of one chunk into buf from committed slices; sets
 * *hole when the range is all zeros and buf was left untouched. */
static int read_chunk_range(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint32_t indx, uint32_t off,
                            size_t len, char *buf, bool *hole)
{
    struct meta_slice *slices = NULL;
    size_t n = 0;
    int rc = vfs_layout_chunk(v, node, mi, indx, &slices, &n);
    *hole = rc == 0 && (n == 0 || chunk_range_is_hole(slices, n, off, len));
    if (rc == 0 && !*hole)
        rc = chunk_read(v->cs, node ? node->reader : NULL, indx, slices, n, off, len, buf);
    free(slices);
    return rc;
}

/* Readahead does not stop at a chunk's end: when the reader wants the
 * start of the next chunk, its slices are looked up (through the layout
 * cache) and its first blocks prefetched. */
static void prefetch_next_chunk(struct vfs *v, struct vfs_inode *node, uint64_t mi, uint32_t indx, uint64_t length)
{
    uint32_t off, len;
    if (!chunk_reader_spill(node->reader, indx, &off, &len))
        return;
    uint64_t start = ((uint64_t)indx + 1) << META_CHUNK_BITS;
    if (start + off >= length)
        return;
    struct meta_slice *slices = NULL;
    size_t n = 0;
    if (vfs_layout_chunk(v, node, mi, indx + 1, &slices, &n) == 0)
        chunk_prefetch(v->cs, indx + 1, slices, n, off, len);
    free(slices);
}

ssize_t vfs_read(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t off, size_t size, char *buf,
                 const char **data)
{
    (void)fh;
    uint64_t mi = vfs_to_meta(v, ino);
    *data = buf;
    if (chunk_dirty(v->cs, mi, NULL)) {
        int rc = chunk_flush(v->cs, mi);
        if (rc)
            return rc;
    }
    struct vfs_inode *node = vfs_inode_get(v, mi);
    uint64_t length;
    int rc = vfs_layout_length(v, node, mi, &length);
    if (rc)
        return rc;
    if (off >= length)
        return 0;
    if (size > length - off)
        size = length - off;
    size_t done = 0, holes = 0; /* bytes of buf left untouched as holes */
    while (done < size) {
        uint64_t pos = off + done;
        uint32_t indx = (uint32_t)(pos >> META_CHUNK_BITS);
        uint32_t coff = (uint32_t)(pos & (META_CHUNK_SIZE - 1));
        size_t n = META_CHUNK_SIZE - coff;
        if (n > size - done)
            n = size - done;
        bool hole;
        rc = read_chunk_range(v, node, mi, indx, coff, n, buf + done, &hole);
        if (rc)
            return rc;
        if (node)
            prefetch_next_chunk(v, node, mi, indx, length);
        /* a hole next to data must be zeroed in buf; an all-hole request
         * is answered from the shared zeros instead */
        if (hole && (done > holes || size > sizeof(zeros)))
            memset(buf + done, 0, n);
        else if (hole)
            holes += n;
        else if (holes) {
            memset(buf, 0, holes);
            holes = 0;
        }
        done += n;
    }
    if (holes == done && done > 0)
        *data = zeros;
    return (ssize_t)done;
}

/* With a capacity set, refuse growth past it now rather than at commit. */
static int check_space(struct vfs *v, uint64_t mi, uint64_t end)
{
    if (!v->fmt || v->fmt->capacity == 0)
        return 0;
    struct meta_attr a;
    int rc = v->ops->getattr(v->m, mi, &a);
    if (rc)
        return rc;
    uint64_t pending = 0;
    chunk_dirty(v->cs, mi, &pending);
    uint64_t cur = a.size > pending ? a.size : pending;
    if (end <= cur)
        return 0;
    struct meta_statfs st;
    rc = v->ops->statfs(v->m, &st);
    if (rc)
        return rc;
    return end - cur > st.avail_space ? -ENOSPC : 0;
}

ssize_t vfs_write(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t off, const char *buf, size_t size)
{
    (void)fh;
    if (v->cfg.read_only)
        return -EROFS;
    uint64_t mi = vfs_to_meta(v, ino);
    if (off + size < off || off + size > (1ULL << 60))
        return -EFBIG;
    int rc = check_space(v, mi, off + size);
    if (rc == 0)
        rc = v->journal ? vfs_journal_write(v->journal, mi, off, buf, size)
                        : chunk_write(v->cs, mi, off, buf, size);
    return rc ? rc : (ssize_t)size;
}

int vfs_flush(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
    (void)fh;
    uint64_t mi = vfs_to_meta(v, ino);
    int rc = chunk_flush(v->cs, mi);
    /* close() drops the closer's POSIX locks on the file; skipped for
     * files never locked here, which saves a write per close */
    struct vfs_inode *node = vfs_inode_get(v, mi);
    if (!node || !node->plocked)
        return rc;
    struct meta_plock unlock = {.type = F_UNLCK, .start = 0, .end = UINT64_MAX};
    int lrc = v->ops->setlk(v->m, mi, lock_owner, &unlock);
    return rc ? rc : lrc;
}

int vfs_fsync(struct vfs *v, uint64_t ino, bool datasync)
{
    (void)datasync; /* a committed slice carries the length: same work */
    int rc = chunk_flush(v->cs, vfs_to_meta(v, ino));
    return rc ? rc : v->ops->sync(v->m);
}

int vfs_release(struct vfs *v, uint64_t ino, uint64_t fh, uint64_t flock_owner)
{
    (void)fh;
    uint64_t mi = vfs_to_meta(v, ino);
    if (flock_owner)
        v->ops->flock(v->m, mi, flock_owner, F_UNLCK);
    int rc = chunk_flush(v->cs, mi);
    if (!vfs_inode_unref(v, mi))
        return rc; /* still open, or never unlinked while open */
    struct meta_attr a;
    if (v->ops->getattr(v->m, mi, &a) == 0 && a.nlink == 0)
        v->ops->release_orphan(v->m, mi);
    return rc;
}

int vfs_fallocate(struct vfs *v, uint64_t ino, int mode, uint64_t off, uint64_t len)
{
    if (v->cfg.read_only)
        return -EROFS;
    uint64_t mi = vfs_to_meta(v, ino);
    if (!(mode & META_FALLOC_KEEP_SIZE)) {
        int rc = check_space(v, mi, off + len);
        if (rc)
            return rc;
    }
    int rc = chunk_flush(v->cs, mi);
    struct meta_attr out;
    if (rc == 0)
        rc = v->ops->fallocate(v->m, mi, mode, off, len, &out);
    if (rc == 0) {
        chunk_invalidate(v->cs, mi);
        vfs_layout_changed(v, mi);
    }
    return rc;
}

ssize_t vfs_copy_range(struct vfs *v, uint64_t ino_in, uint64_t off_in, uint64_t ino_out, uint64_t off_out,
                       size_t len)
{
    char *buf = malloc(COPY_BUF);
    if (!buf)
        return -ENOMEM;
    size_t done = 0;
    ssize_t rc = 0;
    while (done < len) {
        size_t want = len - done < COPY_BUF ? len - done : COPY_BUF;
        const char *data;
        rc = vfs_read(v, ino_in, 0, off_in + done, want, buf, &data);
        if (rc <= 0)
            break;
        ssize_t w = vfs_write(v, ino_out, 0, off_out + done, data, (size_t)rc);
        if (w < 0) {
            rc = w;
            break;
        }
        done += (size_t)rc;
    }
    free(buf);
    return done > 0 || rc >= 0 ? (ssize_t)done : rc;
}

/* Deletes the blocks of slices no file references any more. */
struct deleter {
    struct vfs *v;
    int failed;
    int seen; /* slices listed in this batch */
};

static int delete_one(void *arg, uint64_t id, uint32_t size)
{
    struct deleter *d = arg;
    d->seen++;
    if (chunk_delete_slice(d->v->cs, id, size) == 0)
        d->v->ops->ack_deleted_slice(d->v->m, id, size);
    else
        d->failed++;
    return 0;
}

int vfs_housekeeping(struct vfs *v)
{
    if (v->cfg.read_only)
        return 0;
    if (v->journal)
        vfs_journal_trim(v->journal);
    int crc = vfs_compact_some(v);
    struct deleter d = {v, 0, 0};
    int rc = 0;
    for (int i = 0; i < DELETE_BATCHES && rc == 0; i++) {
        d.seen = 0;
        rc = v->ops->list_deleted_slices(v->m, DELETE_BATCH, delete_one, &d);
        if (d.seen < DELETE_BATCH || d.failed)
            break;
    }
    return rc ? rc : d.failed ? -EIO : crc < 0 ? crc : 0;
}

int vfs_flush_all(struct vfs *v)
{
    return chunk_flush_all(v->cs);
}
