/* SPDX-License-Identifier: Apache-2.0
 *
 * A running mount (see mount.h). Layers are opened bottom-up and closed
 * top-down; the chunk store is flushed before the session closes so that
 * everything an application wrote and closed is committed first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuse/metrics.h"
#include "fuse/mount.h"
#include "fuse/supervisor.h"
#include "vfs/vfs_journal.h"
#include "meta/format.h"
#include "meta/trash.h"
#include "object/store.h"

#define HOUSEKEEPING_PERIOD_S 2
#define TRASH_PURGE_TICKS 1800 /* hourly */
#define SESSION_EXPIRY_NS (60LL * 1000000000LL)
#define DEFAULT_BUFFER_SIZE (300ULL << 20)

struct mount_state {
    const struct mount_config *cfg;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    struct store *obj;
    struct chunk_store *cs;
    struct vfs *v;
    struct vfs_journal *journal;
    struct vfs_stats stats; /* counted by the FUSE handlers */
    struct metrics_server *metrics_unix; /* for tidefs stats, in the state dir */
    struct metrics_server *metrics_tcp;  /* --metrics ADDR */
    char state_dir[320];                 /* "" unless we created it */
    pthread_t housekeeper;
    bool housekeeper_running;
    pthread_mutex_t lock; /* protects stopping */
    pthread_cond_t stop_cond;
    bool stopping;
    mount_ready_fn ready;
    void *ready_arg;
};

int mount_resolve_subdir(const struct meta_ops *ops, struct meta *m, const char *subdir, uint64_t *ino)
{
    char *copy = strdup(subdir);
    if (!copy)
        return -ENOMEM;
    uint64_t cur = META_ROOT_INO;
    int rc = 0;
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part && rc == 0; part = strtok_r(NULL, "/", &save)) {
        struct meta_attr a;
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            rc = -EINVAL;
            break;
        }
        rc = ops->lookup(m, cur, part, &a);
        if (rc == 0 && !S_ISDIR(a.mode))
            rc = -ENOTDIR;
        cur = a.ino;
    }
    free(copy);
    if (rc == 0)
        *ino = cur;
    return rc;
}

static int hook_new_slice_id(void *arg, uint64_t *id)
{
    struct mount_state *s = arg;
    return s->ops->new_slice_id(s->m, id);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int hook_commit(void *arg, uint64_t ino, uint32_t indx, const struct meta_slice *sl)
{
    struct mount_state *s = arg;
    struct meta_attr out;
    int rc = s->ops->write(s->m, ino, indx, sl, now_ns(), &out);
    if (rc == 0 && s->v)
        vfs_layout_changed(s->v, ino);
    return rc;
}

static enum chunk_compress compress_of(const char *name)
{
    if (strcmp(name, "lz4") == 0)
        return CHUNK_COMPRESS_LZ4;
    if (strcmp(name, "zstd") == 0)
        return CHUNK_COMPRESS_ZSTD;
    return CHUNK_COMPRESS_NONE;
}

static int open_data(struct mount_state *s, char *why, size_t whylen)
{
    const struct format *f = &s->fmt;
    const struct mount_config *c = s->cfg;
    struct store_options so = {.storage = f->storage, .bucket = f->bucket, .access_key = f->access_key,
                               .secret_key = f->secret_key, .session_token = f->session_token,
                               .region = f->region, .max_uploads = c->max_uploads,
                               .max_downloads = c->max_downloads, .put_timeout_s = c->put_timeout_s,
                               .get_timeout_s = c->get_timeout_s, .io_retries = c->io_retries};
    int rc = store_open(&so, &s->obj, why, whylen);
    if (rc)
        return rc;
    struct chunk_config cc = {.volume = f->name, .block_size = f->block_size, .compress = compress_of(f->compress),
                              .buffer_size = c->buffer_size ? c->buffer_size : DEFAULT_BUFFER_SIZE,
                              .cache_dir = c->cache_dir, .cache_size = c->cache_size,
                              .max_uploads = c->max_uploads, .max_downloads = c->max_downloads,
                              .free_space_ratio = c->free_space_ratio, .writeback = c->writeback,
                              .max_readahead = c->max_readahead};
    struct chunk_meta_hooks hooks = {s, hook_new_slice_id, hook_commit};
    rc = chunk_store_new(&cc, s->obj, &hooks, &s->cs);
    if (rc)
        snprintf(why, whylen, "cannot start the data path: %s", strerror(-rc));
    return rc;
}

static int open_session(struct mount_state *s, char *why, size_t whylen)
{
    char host[256] = "unknown";
    gethostname(host, sizeof(host) - 1);
    const char *mp = s->cfg->mountpoint ? s->cfg->mountpoint : "(handed-over fd)";
    struct meta_session_info info = {host, mp, TIDEFS_VERSION, (uint32_t)getpid()};
    int rc = s->ops->clean_sessions(s->m, SESSION_EXPIRY_NS);
    if (rc == 0) {
        uint64_t sid;
        rc = s->ops->new_session(s->m, &info, &sid);
    }
    if (rc)
        snprintf(why, whylen, "cannot register the mount session: %s", strerror(-rc));
    return rc;
}

/* Deleted files older than the volume's trash days leave /.trash. */
static void purge_trash(struct mount_state *s)
{
    uint64_t n = 0;
    int rc = trash_purge(s->ops, s->m, now_ns(), false, &n);
    if (rc && rc != -ENOSYS)
        fprintf(stderr, "tidefs: purging the trash failed: %s\n", strerror(-rc));
}

static void reopen_session(struct mount_state *s)
{
    char why[128];
    s->ops->close_session(s->m); /* forgets the stale id; nothing left to drop */
    if (open_session(s, why, sizeof(why)) != 0)
        fprintf(stderr, "tidefs: %s\n", why);
}

static void *housekeeping(void *arg)
{
    struct mount_state *s = arg;
    unsigned ticks = 0;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += HOUSEKEEPING_PERIOD_S;
        pthread_cond_timedwait(&s->stop_cond, &s->lock, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        if (!s->cfg->read_only && s->ops->heartbeat(s->m) == -ENOENT)
            reopen_session(s); /* someone cleaned it while we were stalled */
        vfs_housekeeping(s->v);
        if (++ticks % 30 == 0)
            s->ops->clean_sessions(s->m, SESSION_EXPIRY_NS);
        if (ticks % TRASH_PURGE_TICKS == 1 && !s->cfg->read_only && s->fmt.trash_days > 0)
            purge_trash(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void stop_housekeeping(struct mount_state *s)
{
    if (!s->housekeeper_running)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->stop_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->housekeeper, NULL);
    s->housekeeper_running = false;
}

static void fs_ready(void *arg, int rc)
{
    struct mount_state *s = arg;
    s->ready(s->ready_arg, rc, rc ? "the kernel refused the FUSE mount (see the log)" : NULL);
}

/* Before serving: what a killed predecessor acknowledged but had not
 * committed is committed now, so the application's next fsync is true. */
static int open_journal(struct mount_state *s, char *why, size_t whylen)
{
    int n = vfs_journal_replay(s->cfg->journal_dir, s->cs);
    if (n < 0) {
        snprintf(why, whylen, "cannot replay the write journal in %s: %s", s->cfg->journal_dir, strerror(-n));
        return n;
    }
    if (n > 0)
        fprintf(stderr, "tidefs: replayed %d acknowledged writes of a previous daemon\n", n);
    int rc = vfs_journal_new(s->cfg->journal_dir, s->cs, &s->journal);
    if (rc) {
        snprintf(why, whylen, "cannot create the write journal in %s: %s", s->cfg->journal_dir, strerror(-rc));
        return rc;
    }
    vfs_set_journal(s->v, s->journal);
    return 0;
}

static int open_all(struct mount_state *s, char *why, size_t whylen)
{
    int rc = meta_open_url(s->cfg->meta_url, &s->ops, &s->m);
    if (rc) {
        snprintf(why, whylen, "cannot open the metadata engine: %s", strerror(-rc));
        return rc;
    }
    char *json = NULL;
    rc = s->ops->get_setting(s->m, "format", &json);
    if (rc == 0)
        rc = format_from_json(json, &s->fmt);
    free(json);
    if (rc) {
        snprintf(why, whylen, "not a formatted tidefs volume: %s", strerror(-rc));
        return rc;
    }
    struct vfs_config vc = {.read_only = s->cfg->read_only, .root_ino = META_ROOT_INO};
    if (s->cfg->subdir && (rc = mount_resolve_subdir(s->ops, s->m, s->cfg->subdir, &vc.root_ino)) != 0) {
        snprintf(why, whylen, "--subdir %s: %s", s->cfg->subdir, strerror(-rc));
        return rc;
    }
    if ((rc = open_data(s, why, whylen)) != 0)
        return rc;
    if ((rc = vfs_new(&vc, s->ops, s->m, s->cs, &s->fmt, &s->v)) != 0)
        return rc;
    if (s->cfg->journal_dir && !s->cfg->read_only && (rc = open_journal(s, why, whylen)) != 0)
        return rc;
    if (!s->cfg->read_only && (rc = open_session(s, why, whylen)) != 0)
        return rc;
    if (pthread_create(&s->housekeeper, NULL, housekeeping, s) == 0)
        s->housekeeper_running = true;
    return 0;
}

/* The unix socket in the mount's state directory (what `tidefs stats`
 * finds) and the --metrics TCP listener, each on its own thread so a
 * slow scraper never delays the other. Neither is worth failing a mount
 * for: the mount command already checked --metrics; a problem is logged. */
static void start_metrics(struct mount_state *s)
{
    char why[300], dir[320], sock[400];
    const char *mp = s->cfg->mountpoint;
    if (mp && mp[0] == '/') {
        supervisor_dir(mp, dir, sizeof(dir));
        mkdir("/run/tidefs", 0755);
        if (mkdir(dir, 0700) == 0)
            snprintf(s->state_dir, sizeof(s->state_dir), "%s", dir);
        snprintf(sock, sizeof(sock), "%s/%s", dir, METRICS_SOCKET_NAME);
        if (metrics_start(&s->stats, s->cs, sock, NULL, &s->metrics_unix, why, sizeof(why)) != 0)
            fprintf(stderr, "tidefs: no metrics socket, tidefs stats will not see this mount: %s\n", why);
    }
    if (s->cfg->metrics_addr &&
        metrics_start(&s->stats, s->cs, NULL, s->cfg->metrics_addr, &s->metrics_tcp, why, sizeof(why)) != 0)
        fprintf(stderr, "tidefs: --metrics: %s\n", why);
}

static void stop_metrics(struct mount_state *s)
{
    metrics_stop(s->metrics_tcp);
    metrics_stop(s->metrics_unix);
    s->metrics_tcp = s->metrics_unix = NULL;
    if (s->state_dir[0])
        rmdir(s->state_dir);
}

static int close_all(struct mount_state *s)
{
    stop_metrics(s);
    stop_housekeeping(s);
    int rc = s->v ? vfs_flush_all(s->v) : 0;
    if (rc)
        fprintf(stderr, "tidefs: flushing buffered writes at unmount failed: %s\n", strerror(-rc));
    if (s->v && !s->cfg->read_only) {
        vfs_housekeeping(s->v);
        s->ops->close_session(s->m);
    }
    vfs_free(s->v);
    vfs_journal_free(s->journal, rc);
    chunk_store_free(s->cs);
    store_free(s->obj);
    if (s->m)
        s->ops->close(s->m);
    format_clear(&s->fmt);
    return rc;
}

int mount_run(const struct mount_config *cfg, mount_ready_fn ready, void *arg)
{
    struct mount_state s = {.cfg = cfg, .ready = ready, .ready_arg = arg};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.stop_cond, NULL);
    char why[512] = "";
    int rc = open_all(&s, why, sizeof(why));
    if (rc) {
        ready(arg, rc, why);
    } else {
        char fsname[96];
        snprintf(fsname, sizeof(fsname), "tidefs:%s", s.fmt.name);
        struct fs_options fo = {.mountpoint = cfg->mountpoint, .fsname = fsname, .fuse_opts = cfg->fuse_opts,
                                .read_only = cfg->read_only, .attr_timeout = cfg->attr_timeout,
                                .entry_timeout = cfg->entry_timeout, .read_ahead_kb = 1024,
                                .fuse_fd = cfg->fuse_fd, .fd_socket = cfg->fd_socket,
                                .no_resend = cfg->no_resend, .stats = &s.stats};
        start_metrics(&s);
        rc = fs_serve(s.v, &fo, fs_ready, &s);
    }
    int crc = close_all(&s);
    pthread_cond_destroy(&s.stop_cond);
    pthread_mutex_destroy(&s.lock);
    return rc ? rc : crc;
}
