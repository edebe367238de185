/* SPDX-License-Identifier: Apache-2.0
 *
 * The Redis metadata engine through its ops table, against a real
 * redis-server that this program starts on a free loopback port in a
 * temporary directory (appendonly yes, appendfsync always) and stops at
 * exit. Prints "SKIPPED" and exits 0 only when redis-server is not
 * installed. Covers:
 *   1. META-URL parsing: bad forms, rediss:// refused clearly, refused port
 *   2. differential: thousands of random operations applied to the SQLite
 *      engine and to the Redis engine side by side (same inputs, limits,
 *      is_open answers); every result, errno and attribute must match, and
 *      the whole trees (entries, cookies, attributes, xattrs, symlinks,
 *      slices, statfs, deleted slices) are compared every 100 operations
 *   3. two handles (two mounts): visibility, flock and POSIX lock conflicts
 *      across sessions, and clean_sessions of a crashed client dropping its
 *      locks and deleting its orphans
 *   4. passwords: from the URL, META_PASSWORD, META_PASSWORD_FILE; a wrong
 *      one is -EACCES; the password never appears in any message
 *   5. startup checks: an evicting policy is set to noeviction; appendonly
 *      no gives a warning naming the risk
 *   6. kill -9 of redis-server: an operation in flight waits, then succeeds
 *      once the server is back, with every acknowledged change still there
 *   7. concurrency: threads creating and renaming in one directory
 *   8. performance: creates and stats per second, 1 and 4 threads (printed)
 *   9. dump/load: SQLite -> Redis -> SQLite gives byte-identical dumps (every
 *      kind of node, hard links, non-UTF-8 names, binary xattrs, slices,
 *      deleted slices, counters); loading into a formatted volume or a cut
 *      dump fails cleanly
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meta/dump.h"
#include "meta/format.h"
#include "meta/meta.h"
#include "meta/meta_redis.h"
#include "meta/meta_sqlite.h"
#include "tests/unit/unit.h"

#define ROOT META_ROOT_INO
#define MiB (1ULL << 20)

/* --- the test's own redis-server -------------------------------------------- */

struct server {
    pid_t pid;
    int port;
    char dir[64];
};

static struct server srv; /* the fixture of this test program */

static void server_kill(int sig)
{
    if (srv.pid > 0) {
        kill(srv.pid, sig);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
    }
}

static void server_stop_at_exit(void)
{
    server_kill(SIGTERM);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    if (srv.dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", srv.dir);
}

static redisContext *raw_connect(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

static int server_start(void)
{
    char port[16], conf_dir[80];
    snprintf(port, sizeof(port), "%d", srv.port);
    snprintf(conf_dir, sizeof(conf_dir), "%s", srv.dir);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", conf_dir,
               "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
               "--maxmemory-policy", "noeviction", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -errno;
    srv.pid = pid;
    for (int i = 0; i < 100; i++) {
        redisContext *c = raw_connect();
        redisReply *r = c ? redisCommand(c, "PING") : NULL;
        bool up = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        redisFree(c);
        if (up)
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            srv.pid = 0;
            return -EADDRINUSE;
        }
        usleep(50000);
    }
    return -ETIMEDOUT;
}

/* Starts the server once; exits 0 with SKIPPED when it is not installed. */
static int server(void)
{
    if (srv.pid)
        return srv.port;
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        printf("SKIPPED: redis-server is not installed (scripts/deps.sh installs it)\n");
        exit(0);
    }
    strcpy(srv.dir, "/tmp/test_meta_redis_XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    atexit(server_stop_at_exit);
    srand((unsigned)getpid());
    for (int attempt = 0; attempt < 10; attempt++) {
        srv.port = 20000 + rand() % 20000;
        if (server_start() == 0)
            return srv.port;
    }
    return -1;
}

static int raw_cmd_ok(const char *cmd)
{
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, cmd) : NULL;
    int ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* --- engines ---------------------------------------------------------------- */

struct eng {
    const struct meta_ops *ops;
    struct meta *m;
    char url[160];
    char dir[64]; /* sqlite only */
};

static const struct meta_ctx user = {1000, 1000, 42};

static int trash_days_of_next_format; /* set by run_differential */

static char *format_json(uint64_t capacity, uint64_t inodes)
{
    struct format f;
    format_init_defaults(&f);
    strcpy(f.name, "unit-test");
    f.bucket = strdup("/tmp/unit-bucket");
    f.capacity = capacity;
    f.inodes = inodes;
    f.trash_days = trash_days_of_next_format;
    char *j = format_to_json(&f, false);
    format_clear(&f);
    return j;
}

static void redis_url(char *out, size_t len, int db)
{
    snprintf(out, len, "redis://127.0.0.1:%d/%d", srv.port, db);
}

static int flushdb(int db)
{
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, "SELECT %d", db) : NULL;
    freeReplyObject(r);
    r = c ? redisCommand(c, "FLUSHDB") : NULL;
    int ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -EIO;
}

static int eng_redis(struct eng *e, int db, uint64_t capacity, uint64_t inodes)
{
    memset(e, 0, sizeof(*e));
    if (server() < 0 || flushdb(db))
        return -EIO;
    redis_url(e->url, sizeof(e->url), db);
    int rc = meta_open_url(e->url, &e->ops, &e->m);
    char *j = format_json(capacity, inodes);
    if (rc == 0)
        rc = e->ops->init(e->m, j, false);
    free(j);
    return rc;
}

static int eng_sqlite(struct eng *e, uint64_t capacity, uint64_t inodes)
{
    memset(e, 0, sizeof(*e));
    strcpy(e->dir, "/tmp/test_meta_redis_sq_XXXXXX");
    if (!mkdtemp(e->dir))
        return -errno;
    snprintf(e->url, sizeof(e->url), "sqlite3://%s/meta.db", e->dir);
    int rc = meta_open_url(e->url, &e->ops, &e->m);
    char *j = format_json(capacity, inodes);
    if (rc == 0)
        rc = e->ops->init(e->m, j, false);
    free(j);
    return rc;
}

static void eng_close(struct eng *e)
{
    if (e->m)
        e->ops->close(e->m);
    e->m = NULL;
    if (e->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", e->dir);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mk(struct eng *e, uint64_t parent, const char *name, uint32_t mode)
{
    struct meta_attr a;
    return e->ops->mknod(e->m, &user, parent, name, mode, 0, NULL, &a) ? 0 : a.ino;
}

/* Runs fn with stderr sent to a temporary file; returns what was written
 * (malloc'ed). */
static char *capture_stderr(int (*fn)(void *), void *arg, int *rc)
{
    char path[] = "/tmp/test_meta_redis_err_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *rc = fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    if (text && pread(fd, text, (size_t)len, 0) != len)
        text[0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

struct open_args {
    const char *url;
    struct meta *m;
    const struct meta_ops *ops;
};

static int open_url(void *arg)
{
    struct open_args *a = arg;
    a->m = NULL;
    return meta_open_url(a->url, &a->ops, &a->m);
}

static void close_args(struct open_args *a)
{
    if (a->m)
        a->ops->close(a->m);
    a->m = NULL;
}

/* 1 */
static int test_url(void)
{
    TEST_ASSERT(server() > 0);
    const struct meta_ops *ops = NULL;
    struct meta *m = NULL;
    TEST_EXPECT(meta_engine_for_url("redis://127.0.0.1/1") == &meta_redis_ops);
    TEST_EXPECT(meta_engine_for_url("rediss://127.0.0.1/1") == &meta_rediss_ops);
    TEST_EXPECT(meta_open_url("redis://", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("redis://127.0.0.1:99999/1", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("redis://127.0.0.1:0/1", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("redis://127.0.0.1:6379/abc", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("redis://[::1/1", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("redis://u:%zz@127.0.0.1/1", &ops, &m) == -EINVAL);
    int rc = 0;
    struct open_args o = {"rediss://127.0.0.1:6379/1"};
    char *err = capture_stderr(open_url, &o, &rc);
    TEST_EXPECT(rc == -EPROTONOSUPPORT);
    TEST_EXPECT(err && strstr(err, "TLS") && strstr(err, "not supported by this build"));
    free(err);
    /* nothing listens on this port: refused at once, -EIO */
    int free_port = srv.port == 1 ? 2 : 1;
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/1", free_port);
    double t0 = now_s();
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    rc = meta_open_url(url, &ops, &m);
    dup2(saved, 2);
    close(saved);
    close(null);
    TEST_EXPECT(rc == -EIO);
    TEST_EXPECT(now_s() - t0 < 5);
    TEST_EXPECT(m == NULL);
    return 0;
}

/* --- 2: differential ------------------------------------------------------------ */

#define D_NAMES 6
#define D_MAX 512

struct diff {
    struct eng e[2]; /* 0 = sqlite, 1 = redis */
    uint64_t inos[D_MAX];
    size_t ninos;
    bool open[1 << 12]; /* is_open answers, by inode (small numbers) */
    unsigned seed;
    int ops_done, mismatches;
    char where[160];
};

static bool diff_is_open(void *arg, uint64_t ino)
{
    struct diff *d = arg;
    return ino < sizeof(d->open) && d->open[ino];
}

static unsigned rnd(struct diff *d, unsigned n)
{
    d->seed = d->seed * 1103515245u + 12345u;
    return (d->seed >> 8) % n;
}

static const char *rname(struct diff *d)
{
    static const char *const names[D_NAMES] = {"a", "b", "c", "dir x", "e\xc3\xa9", "f"};
    return names[rnd(d, D_NAMES)];
}

static uint64_t rino(struct diff *d)
{
    return rnd(d, 10) == 0 ? 999999 : d->inos[rnd(d, (unsigned)d->ninos)];
}

static void remember(struct diff *d, uint64_t ino)
{
    for (size_t i = 0; i < d->ninos; i++)
        if (d->inos[i] == ino)
            return;
    if (d->ninos < D_MAX)
        d->inos[d->ninos++] = ino;
}

static bool same_attr(const struct meta_attr *a, const struct meta_attr *b)
{
    return a->ino == b->ino && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->nlink == b->nlink &&
           a->size == b->size && a->rdev == b->rdev && a->parent == b->parent;
}

static void mismatch(struct diff *d, const char *what, long long x, long long y)
{
    if (d->mismatches++ < 20)
        fprintf(stderr, "differential op %d (%s): %s: sqlite %lld, redis %lld\n", d->ops_done, d->where, what, x, y);
}

static void cmp_rc(struct diff *d, long long a, long long b)
{
    if (a != b)
        mismatch(d, "result", a, b);
}

static void cmp_attr(struct diff *d, int rc, const struct meta_attr *a, const struct meta_attr *b)
{
    if (rc == 0 && !same_attr(a, b)) {
        mismatch(d, "attr.ino", (long long)a->ino, (long long)b->ino);
        mismatch(d, "attr.mode/nlink", (long long)a->mode * 1000 + a->nlink, (long long)b->mode * 1000 + b->nlink);
        mismatch(d, "attr.size", (long long)a->size, (long long)b->size);
    }
}

struct listing {
    char names[4096][META_NAME_MAX + 1];
    uint64_t cookies[4096];
    struct meta_attr attrs[4096];
    size_t n;
};

static int collect(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    struct listing *l = arg;
    if (l->n >= 4096)
        return 1;
    snprintf(l->names[l->n], META_NAME_MAX + 1, "%s", name);
    l->cookies[l->n] = next;
    l->attrs[l->n++] = *attr;
    return 0;
}

static void cmp_file_data(struct diff *d, uint64_t ino, const struct meta_attr *a)
{
    uint64_t chunks = a->size ? ((a->size - 1) >> META_CHUNK_BITS) + 1 : 0;
    for (uint32_t i = 0; i < chunks && i < 8; i++) {
        struct meta_slice *s[2] = {NULL, NULL};
        size_t n[2] = {0, 0};
        int rc[2];
        for (int k = 0; k < 2; k++)
            rc[k] = d->e[k].ops->read_chunk(d->e[k].m, ino, i, &s[k], &n[k]);
        cmp_rc(d, rc[0], rc[1]);
        if (n[0] != n[1])
            mismatch(d, "slice count", (long long)n[0], (long long)n[1]);
        for (size_t k = 0; n[0] == n[1] && k < n[0]; k++)
            if (s[0][k].pos != s[1][k].pos || s[0][k].id != s[1][k].id || s[0][k].size != s[1][k].size ||
                s[0][k].off != s[1][k].off || s[0][k].len != s[1][k].len)
                mismatch(d, "slice", (long long)ino, (long long)k);
        free(s[0]);
        free(s[1]);
    }
}

static void cmp_node_extras(struct diff *d, const struct meta_attr *a)
{
    char buf[2][1024];
    long long len[2];
    for (int k = 0; k < 2; k++)
        len[k] = d->e[k].ops->listxattr(d->e[k].m, a->ino, buf[k], sizeof(buf[k]));
    cmp_rc(d, len[0], len[1]);
    if (len[0] > 0 && len[0] == len[1] && memcmp(buf[0], buf[1], (size_t)len[0]))
        mismatch(d, "xattr names", a->ino, a->ino);
    if (S_ISLNK(a->mode)) {
        char *t[2] = {NULL, NULL};
        for (int k = 0; k < 2; k++)
            d->e[k].ops->readlink(d->e[k].m, a->ino, &t[k]);
        if (!t[0] || !t[1] || strcmp(t[0], t[1]))
            mismatch(d, "symlink", a->ino, a->ino);
        free(t[0]);
        free(t[1]);
    }
    if (S_ISREG(a->mode))
        cmp_file_data(d, a->ino, a);
}

static int collect_del(void *arg, uint64_t id, uint32_t size)
{
    struct listing *l = arg;
    if (l->n < 4096) {
        l->cookies[l->n] = id;
        l->attrs[l->n++].size = size;
    }
    return 0;
}

/* the whole tree, statfs and the deleted-slice queue, compared */
static void cmp_tree(struct diff *d)
{
    static struct listing l[2];
    uint64_t queue[D_MAX * 4];
    size_t head = 0, tail = 0;
    queue[tail++] = ROOT;
    snprintf(d->where, sizeof(d->where), "tree");
    while (head < tail) {
        uint64_t dir = queue[head++];
        int rc[2];
        for (int k = 0; k < 2; k++) {
            l[k].n = 0;
            rc[k] = d->e[k].ops->readdir(d->e[k].m, dir, 0, true, collect, &l[k]);
        }
        cmp_rc(d, rc[0], rc[1]);
        if (l[0].n != l[1].n) {
            mismatch(d, "entries", (long long)l[0].n, (long long)l[1].n);
            continue;
        }
        for (size_t i = 0; i < l[0].n; i++) {
            if (strcmp(l[0].names[i], l[1].names[i]) || l[0].cookies[i] != l[1].cookies[i])
                mismatch(d, "entry name/cookie", (long long)l[0].cookies[i], (long long)l[1].cookies[i]);
            cmp_attr(d, 0, &l[0].attrs[i], &l[1].attrs[i]);
            cmp_node_extras(d, &l[0].attrs[i]);
            if (S_ISDIR(l[0].attrs[i].mode) && tail < sizeof(queue) / sizeof(queue[0]))
                queue[tail++] = l[0].attrs[i].ino;
        }
    }
    struct meta_statfs s[2];
    for (int k = 0; k < 2; k++)
        d->e[k].ops->statfs(d->e[k].m, &s[k]);
    if (memcmp(&s[0], &s[1], sizeof(s[0])))
        mismatch(d, "statfs used space/inodes", (long long)(s[0].used_space + s[0].used_inodes),
                 (long long)(s[1].used_space + s[1].used_inodes));
    for (int k = 0; k < 2; k++) {
        l[k].n = 0;
        d->e[k].ops->list_deleted_slices(d->e[k].m, 4096, collect_del, &l[k]);
    }
    if (l[0].n != l[1].n || memcmp(l[0].cookies, l[1].cookies, l[0].n * sizeof(uint64_t)))
        mismatch(d, "deleted slices", (long long)l[0].n, (long long)l[1].n);
}

static void d_mknod(struct diff *d)
{
    static const uint32_t types[] = {S_IFREG, S_IFREG, S_IFDIR, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, 0};
    uint64_t parent = rino(d);
    const char *name = rname(d);
    uint32_t mode = types[rnd(d, 8)] | (rnd(d, 4) == 0 ? 02775 : 0644);
    const char *target = rnd(d, 8) ? "some/target" : "";
    struct meta_attr a[2];
    int rc[2];
    struct meta_ctx ctx = {1000 + rnd(d, 2), 1000 + rnd(d, 2), 7};
    snprintf(d->where, sizeof(d->where), "mknod %llu/%s mode %o", (unsigned long long)parent, name, mode);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->mknod(d->e[k].m, &ctx, parent, name, mode, 0x0801, target, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
    if (rc[0] == 0) {
        remember(d, a[0].ino);
        if (a[0].ino < sizeof(d->open) && rnd(d, 3) == 0)
            d->open[a[0].ino] = true;
    }
}

static void d_remove(struct diff *d)
{
    uint64_t parent = rino(d);
    const char *name = rname(d);
    int op = (int)rnd(d, 2), rc[2];
    snprintf(d->where, sizeof(d->where), "%s %llu/%s", op ? "rmdir" : "unlink", (unsigned long long)parent, name);
    for (int k = 0; k < 2; k++)
        rc[k] = op ? d->e[k].ops->rmdir(d->e[k].m, parent, name) : d->e[k].ops->unlink(d->e[k].m, parent, name);
    cmp_rc(d, rc[0], rc[1]);
}

static void d_link_rename(struct diff *d)
{
    uint64_t p1 = rino(d), p2 = rino(d), ino = rino(d);
    const char *n1 = rname(d), *n2 = rname(d);
    unsigned flags = rnd(d, 4);
    int rc[2];
    struct meta_attr a[2];
    bool link = rnd(d, 4) == 0;
    snprintf(d->where, sizeof(d->where), "%s %llu/%s -> %llu/%s flags %u", link ? "link" : "rename",
             (unsigned long long)p1, n1, (unsigned long long)p2, n2, flags);
    for (int k = 0; k < 2; k++)
        rc[k] = link ? d->e[k].ops->link(d->e[k].m, ino, p2, n2, &a[k])
                     : d->e[k].ops->rename(d->e[k].m, p1, n1, p2, n2, flags == 3 ? 0 : flags);
    cmp_rc(d, rc[0], rc[1]);
    if (link)
        cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
}

static void d_setattr(struct diff *d)
{
    uint64_t ino = rino(d);
    int to_set = (int)rnd(d, 1 << 9);
    struct meta_attr in = {.mode = rnd(d, 07777), .uid = rnd(d, 3), .gid = rnd(d, 3),
                           .size = rnd(d, 3) ? rnd(d, 1 << 20) : (uint64_t)rnd(d, 300) * MiB,
                           .atime = 5, .mtime = 6, .ctime = 7};
    struct meta_attr a[2];
    int rc[2];
    snprintf(d->where, sizeof(d->where), "setattr %llu 0x%x size %llu", (unsigned long long)ino, to_set,
             (unsigned long long)in.size);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->setattr(d->e[k].m, &user, ino, to_set, &in, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
}

static void d_write(struct diff *d)
{
    uint64_t ino = rino(d), id[2] = {0, 0};
    uint32_t indx = rnd(d, 3);
    for (int k = 0; k < 2; k++)
        d->e[k].ops->new_slice_id(d->e[k].m, &id[k]);
    if (id[0] != id[1])
        mismatch(d, "new_slice_id", (long long)id[0], (long long)id[1]);
    uint32_t len = 1 + rnd(d, 8 * (uint32_t)MiB), pos = rnd(d, (uint32_t)(META_CHUNK_SIZE - len));
    struct meta_slice s = {.pos = pos, .id = rnd(d, 6) ? id[0] : 0, .size = len + 100, .off = rnd(d, 100),
                           .len = len};
    struct meta_attr a[2];
    int rc[2];
    snprintf(d->where, sizeof(d->where), "write %llu chunk %u", (unsigned long long)ino, indx);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->write(d->e[k].m, ino, indx, &s, 42, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
    if (rnd(d, 4) == 0) { /* the same slice again: a second reference */
        for (int k = 0; k < 2; k++)
            rc[k] = d->e[k].ops->write(d->e[k].m, ino, (indx + 1) % 3, &s, 43, &a[k]);
        cmp_rc(d, rc[0], rc[1]);
    }
}

static void d_fallocate(struct diff *d)
{
    static const int modes[] = {0, META_FALLOC_KEEP_SIZE, META_FALLOC_PUNCH_HOLE | META_FALLOC_KEEP_SIZE,
                                META_FALLOC_ZERO_RANGE, META_FALLOC_ZERO_RANGE | META_FALLOC_KEEP_SIZE,
                                META_FALLOC_PUNCH_HOLE, 0x40};
    uint64_t ino = rino(d), off = (uint64_t)rnd(d, 200) * MiB + rnd(d, 4096), len = rnd(d, 100) * MiB + rnd(d, 3);
    int mode = modes[rnd(d, 7)], rc[2];
    struct meta_attr a[2];
    snprintf(d->where, sizeof(d->where), "fallocate %llu mode 0x%x", (unsigned long long)ino, mode);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->fallocate(d->e[k].m, ino, mode, off, len, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
}

static void d_xattr(struct diff *d)
{
    static const char *const names[] = {"user.a", "user.b", "trusted.c", ""};
    uint64_t ino = rino(d);
    const char *name = names[rnd(d, 4)];
    int op = (int)rnd(d, 4), flags = (int)rnd(d, 4);
    char value[64], out[2][64];
    snprintf(value, sizeof(value), "v%u", rnd(d, 1000));
    size_t size = rnd(d, 3) == 0 ? 0 : rnd(d, 2) ? sizeof(out[0]) : 1;
    long long rc[2];
    snprintf(d->where, sizeof(d->where), "xattr op %d %llu %s", op, (unsigned long long)ino, name);
    for (int k = 0; k < 2; k++) {
        const struct meta_ops *o = d->e[k].ops;
        struct meta *m = d->e[k].m;
        memset(out[k], 0, sizeof(out[k]));
        rc[k] = op == 0   ? o->setxattr(m, ino, name, value, strlen(value), flags)
                : op == 1 ? o->removexattr(m, ino, name)
                : op == 2 ? o->getxattr(m, ino, name, out[k], size)
                          : o->listxattr(m, ino, out[k], size);
    }
    cmp_rc(d, rc[0], rc[1]);
    if (rc[0] > 0 && memcmp(out[0], out[1], sizeof(out[0])))
        mismatch(d, "xattr value", rc[0], rc[1]);
}

static void d_lock(struct diff *d)
{
    static const int types[] = {F_RDLCK, F_WRLCK, F_UNLCK, 99};
    uint64_t ino = rino(d), owner = 1 + rnd(d, 3);
    int type = types[rnd(d, 4)], op = (int)rnd(d, 3), rc[2];
    struct meta_plock lk[2];
    uint64_t start = rnd(d, 100), end = rnd(d, 8) ? start + rnd(d, 100) : UINT64_MAX;
    snprintf(d->where, sizeof(d->where), "lock op %d %llu owner %llu type %d", op, (unsigned long long)ino,
             (unsigned long long)owner, type);
    for (int k = 0; k < 2; k++) {
        lk[k] = (struct meta_plock){.type = type, .start = start, .end = end, .pid = (uint32_t)owner * 10};
        const struct meta_ops *o = d->e[k].ops;
        rc[k] = op == 0   ? o->flock(d->e[k].m, ino, owner, type)
                : op == 1 ? o->setlk(d->e[k].m, ino, owner, &lk[k])
                          : o->getlk(d->e[k].m, ino, owner, &lk[k]);
    }
    cmp_rc(d, rc[0], rc[1]);
    if (rc[0] == 0 && op == 2 &&
        (lk[0].type != lk[1].type || lk[0].start != lk[1].start || lk[0].end != lk[1].end || lk[0].pid != lk[1].pid))
        mismatch(d, "getlk", lk[0].type, lk[1].type);
}

static void d_reads(struct diff *d)
{
    uint64_t ino = rino(d);
    const char *name = rnd(d, 6) ? rname(d) : rnd(d, 2) ? "." : "..";
    struct meta_attr a[2];
    int rc[2];
    snprintf(d->where, sizeof(d->where), "lookup %llu/%s", (unsigned long long)ino, name);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->lookup(d->e[k].m, ino, name, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->getattr(d->e[k].m, ino, &a[k]);
    cmp_rc(d, rc[0], rc[1]);
    cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
    char *t[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->readlink(d->e[k].m, ino, &t[k]);
    cmp_rc(d, rc[0], rc[1]);
    free(t[0]);
    free(t[1]);
    static struct listing l[2];
    uint64_t off = rnd(d, 3) ? 0 : rnd(d, 40);
    for (int k = 0; k < 2; k++) {
        l[k].n = 0;
        rc[k] = d->e[k].ops->readdir(d->e[k].m, ino, off, false, collect, &l[k]);
    }
    cmp_rc(d, rc[0], rc[1]);
    if (l[0].n != l[1].n)
        mismatch(d, "readdir from cookie", (long long)l[0].n, (long long)l[1].n);
    for (size_t i = 0; i < l[0].n && l[0].n == l[1].n; i++)
        if (l[0].attrs[i].ino != l[1].attrs[i].ino || l[0].attrs[i].mode != l[1].attrs[i].mode)
            mismatch(d, "readdir entry", (long long)l[0].attrs[i].ino, (long long)l[1].attrs[i].ino);
}

static int collect_quota(void *arg, uint64_t ino, const struct meta_quota *q)
{
    struct listing *l = arg;
    if (l->n >= 4096)
        return 1;
    l->attrs[l->n] = (struct meta_attr){.ino = ino, .size = q->used_space, .nlink = (uint32_t)q->used_inodes};
    l->cookies[l->n++] = q->max_space * 1000 + q->max_inodes;
    return 0;
}

/* issue 6: quotas (small limits, so that EDQUOT happens), statfs of a
 * directory, the trash's lookup */
static void d_quota(struct diff *d)
{
    uint64_t ino = rino(d);
    int op = (int)rnd(d, 4), rc[2];
    uint64_t ms = rnd(d, 3) ? (uint64_t)rnd(d, 64) * MiB : 0, mi = rnd(d, 3) ? rnd(d, 12) : 0;
    struct meta_quota q[2] = {{0}, {0}};
    struct meta_statfs st[2] = {{0}, {0}};
    struct meta_attr a[2];
    snprintf(d->where, sizeof(d->where), "quota op %d %llu", op, (unsigned long long)ino);
    for (int k = 0; k < 2; k++) {
        const struct meta_ops *o = d->e[k].ops;
        struct meta *m = d->e[k].m;
        rc[k] = op == 0   ? o->quota_set(m, ino, ms, mi)
                : op == 1 ? o->quota_delete(m, ino)
                : op == 2 ? o->statfs_dir(m, ino, &st[k])
                          : o->lookup(m, ROOT, META_TRASH_NAME, &a[k]);
        if (o->quota_get(m, ino, &q[k]) != 0)
            q[k].max_space = 7; /* none */
    }
    cmp_rc(d, rc[0], rc[1]);
    if (op == 3)
        cmp_attr(d, rc[0] | rc[1], &a[0], &a[1]);
    if (memcmp(&q[0], &q[1], sizeof(q[0])) || memcmp(&st[0], &st[1], sizeof(st[0])))
        mismatch(d, "quota used_space/inodes", (long long)(q[0].used_space + q[0].used_inodes),
                 (long long)(q[1].used_space + q[1].used_inodes));
    static struct listing l[2];
    for (int k = 0; k < 2; k++) {
        l[k].n = 0;
        rc[k] = d->e[k].ops->quota_list(d->e[k].m, collect_quota, &l[k]);
    }
    cmp_rc(d, rc[0], rc[1]);
    bool same = l[0].n == l[1].n;
    for (size_t i = 0; same && i < l[0].n; i++)
        same = same_attr(&l[0].attrs[i], &l[1].attrs[i]) && l[0].cookies[i] == l[1].cookies[i];
    if (!same)
        mismatch(d, "quota_list", (long long)l[0].n, (long long)l[1].n);
}

static void d_release(struct diff *d)
{
    uint64_t ino = rino(d);
    if (ino < sizeof(d->open))
        d->open[ino] = false;
    int rc[2];
    snprintf(d->where, sizeof(d->where), "release_orphan %llu", (unsigned long long)ino);
    for (int k = 0; k < 2; k++)
        rc[k] = d->e[k].ops->release_orphan(d->e[k].m, ino);
    cmp_rc(d, rc[0], rc[1]);
    if (rnd(d, 2)) { /* the block deleter acknowledges the oldest deleted slice */
        static struct listing l;
        l.n = 0;
        d->e[0].ops->list_deleted_slices(d->e[0].m, 1, collect_del, &l);
        for (int k = 0; k < 2 && l.n; k++)
            rc[k] = d->e[k].ops->ack_deleted_slice(d->e[k].m, l.cookies[0], (uint32_t)l.attrs[0].size);
        if (l.n)
            cmp_rc(d, rc[0], rc[1]);
    }
}

static int run_differential(unsigned seed, uint64_t capacity, uint64_t inodes, int trash_days, int nops)
{
    static struct diff d;
    memset(&d, 0, sizeof(d));
    d.seed = seed;
    trash_days_of_next_format = trash_days;
    TEST_ASSERT(eng_sqlite(&d.e[0], capacity, inodes) == 0);
    TEST_ASSERT(eng_redis(&d.e[1], 3, capacity, inodes) == 0);
    trash_days_of_next_format = 0;
    uint64_t sid[2];
    struct meta_session_info info = {"host", "/mnt", "test", 1};
    for (int k = 0; k < 2; k++) {
        d.e[k].ops->set_is_open(d.e[k].m, diff_is_open, &d);
        TEST_ASSERT(d.e[k].ops->new_session(d.e[k].m, &info, &sid[k]) == 0);
    }
    TEST_EXPECT(sid[0] == sid[1]);
    remember(&d, ROOT);
    void (*const ops[])(struct diff *) = {d_mknod,     d_mknod, d_mknod, d_remove, d_link_rename, d_link_rename,
                                          d_setattr,   d_write, d_write, d_fallocate, d_xattr,    d_xattr,
                                          d_lock,      d_reads, d_reads, d_release, d_quota, d_quota};
    for (d.ops_done = 0; d.ops_done < nops && d.mismatches == 0; d.ops_done++) {
        ops[rnd(&d, sizeof(ops) / sizeof(ops[0]))](&d);
        if (d.ops_done % 100 == 99)
            cmp_tree(&d);
    }
    cmp_tree(&d);
    /* ending the session deletes the orphans it kept: the same on both */
    for (int k = 0; k < 2; k++)
        TEST_EXPECT(d.e[k].ops->close_session(d.e[k].m) == 0);
    cmp_tree(&d);
    printf("differential (seed %u, capacity %llu MiB, inodes %llu, trash days %d): %d operations, %zu inodes,"
           " %d mismatches\n",
           seed, (unsigned long long)(capacity / MiB), (unsigned long long)inodes, trash_days, d.ops_done, d.ninos,
           d.mismatches);
    TEST_EXPECT(d.mismatches == 0);
    eng_close(&d.e[0]);
    eng_close(&d.e[1]);
    return 0;
}

/* 2 */
static int test_differential(void)
{
    TEST_ASSERT(server() > 0);
    TEST_EXPECT(run_differential(1, 0, 0, 0, 3000) == 0);
    TEST_EXPECT(run_differential(2, 400 * MiB, 60, 0, 3000) == 0);
    TEST_EXPECT(run_differential(3, 0, 0, 0, 3000) == 0);
    TEST_EXPECT(run_differential(4, 0, 0, 1, 3000) == 0);
    return 0;
}

/* --- 3: two handles --------------------------------------------------------------- */

static bool always_open(void *arg, uint64_t ino)
{
    (void)arg;
    (void)ino;
    return true;
}

static int test_two_handles(void)
{
    struct eng a, b;
    TEST_ASSERT(eng_redis(&a, 4, 0, 0) == 0);
    b = a;
    TEST_ASSERT(meta_open_url(a.url, &b.ops, &b.m) == 0);
    struct meta_session_info info = {"h", "/m", "t", 1};
    uint64_t sa, sb;
    TEST_ASSERT(a.ops->new_session(a.m, &info, &sa) == 0);
    TEST_ASSERT(b.ops->new_session(b.m, &info, &sb) == 0);
    TEST_EXPECT(sa != sb);
    uint64_t ino = mk(&a, ROOT, "shared", S_IFREG | 0644);
    TEST_ASSERT(ino);
    struct meta_attr got;
    TEST_EXPECT(b.ops->lookup(b.m, ROOT, "shared", &got) == 0 && got.ino == ino);
    /* flock: exclusive on A blocks B, shared on both works */
    TEST_EXPECT(a.ops->flock(a.m, ino, 1, F_WRLCK) == 0);
    TEST_EXPECT(b.ops->flock(b.m, ino, 1, F_RDLCK) == -EAGAIN);
    TEST_EXPECT(a.ops->flock(a.m, ino, 1, F_RDLCK) == 0);
    TEST_EXPECT(b.ops->flock(b.m, ino, 1, F_RDLCK) == 0);
    TEST_EXPECT(b.ops->flock(b.m, ino, 1, F_WRLCK) == -EAGAIN);
    /* POSIX: A's write lock on [0, 99] is seen by B's getlk with its pid */
    struct meta_plock lk = {F_WRLCK, 0, 99, 4242};
    TEST_EXPECT(a.ops->setlk(a.m, ino, 7, &lk) == 0);
    struct meta_plock q = {F_RDLCK, 50, 60, 1};
    TEST_EXPECT(b.ops->getlk(b.m, ino, 7, &q) == 0 && q.type == F_WRLCK && q.pid == 4242 && q.end == 99);
    struct meta_plock other = {F_RDLCK, 100, 200, 1};
    TEST_EXPECT(b.ops->setlk(b.m, ino, 7, &other) == 0);
    TEST_EXPECT(b.ops->setlk(b.m, ino, 7, &q) == -EAGAIN);
    /* A crashes holding its locks and an open unlinked file */
    a.ops->set_is_open(a.m, always_open, NULL);
    uint64_t orphan = mk(&a, ROOT, "orphan", S_IFREG | 0644);
    uint64_t sid;
    TEST_EXPECT(a.ops->new_slice_id(a.m, &sid) == 0);
    struct meta_slice s = {0, sid, 4096, 0, 4096};
    TEST_EXPECT(a.ops->write(a.m, orphan, 0, &s, 1, &got) == 0);
    TEST_EXPECT(a.ops->unlink(a.m, ROOT, "orphan") == 0);
    TEST_EXPECT(b.ops->getattr(b.m, orphan, &got) == 0 && got.nlink == 0);
    a.ops->close(a.m); /* no close_session: its heartbeat stops */
    a.m = NULL;
    usleep(20000);
    TEST_EXPECT(b.ops->clean_sessions(b.m, 10000000) == 0); /* 10 ms expiry */
    TEST_EXPECT(b.ops->getattr(b.m, orphan, &got) == -ENOENT);
    TEST_EXPECT(b.ops->flock(b.m, ino, 1, F_WRLCK) == 0);
    TEST_EXPECT(b.ops->setlk(b.m, ino, 7, &q) == 0);
    struct meta_statfs st;
    TEST_EXPECT(b.ops->statfs(b.m, &st) == 0 && st.used_inodes == 2 && st.used_space == 0);
    static struct listing del;
    TEST_EXPECT(b.ops->list_deleted_slices(b.m, 10, collect_del, &del) == 0 && del.n == 1 && del.cookies[0] == sid);
    TEST_EXPECT(b.ops->close_session(b.m) == 0);
    eng_close(&b);
    return 0;
}

/* --- 4, 5: passwords and startup checks ------------------------------------------- */

static int test_password(void)
{
    TEST_ASSERT(server() > 0);
    const char *secret = "s3cr3t-Pa55";
    char cmd[96], url[160], bad[160];
    snprintf(cmd, sizeof(cmd), "CONFIG SET requirepass %s", secret);
    TEST_ASSERT(raw_cmd_ok(cmd));
    redis_url(url, sizeof(url), 5);
    snprintf(bad, sizeof(bad), "redis://:wrong-%s@127.0.0.1:%d/5", secret, srv.port);
    struct open_args a = {url};
    int rc;
    char *err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == -EACCES);
    free(err);
    a.url = bad;
    err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == -EACCES);
    TEST_EXPECT(err && strstr(err, "authentication failed") && !strstr(err, secret));
    free(err);
    char good[160];
    snprintf(good, sizeof(good), "redis://:%s@127.0.0.1:%d/5", secret, srv.port);
    a.url = good;
    err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == 0 && err && !strstr(err, secret));
    free(err);
    close_args(&a);
    setenv("META_PASSWORD", secret, 1);
    a.url = url;
    TEST_EXPECT(open_url(&a) == 0);
    close_args(&a);
    unsetenv("META_PASSWORD");
    char file[] = "/tmp/test_meta_redis_pw_XXXXXX";
    int fd = mkstemp(file);
    TEST_ASSERT(fd >= 0);
    TEST_EXPECT(write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret) && write(fd, "\n", 1) == 1);
    close(fd);
    setenv("META_PASSWORD_FILE", file, 1);
    TEST_EXPECT(open_url(&a) == 0);
    /* a restart of the connection authenticates again by itself */
    struct meta_attr root;
    TEST_EXPECT(a.m && a.ops->getattr(a.m, ROOT, &root) == -ENOENT); /* db 5 is empty */
    close_args(&a);
    unlink(file);
    setenv("META_PASSWORD_FILE", "/nonexistent/pw", 1);
    err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == -ENOENT && err && strstr(err, "META_PASSWORD_FILE"));
    free(err);
    unsetenv("META_PASSWORD_FILE");
    /* put the server back as it was */
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, "AUTH %s", secret) : NULL;
    freeReplyObject(r);
    r = c ? redisCommand(c, "CONFIG SET requirepass %s", "") : NULL;
    TEST_EXPECT(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
    return 0;
}

static int test_startup_checks(void)
{
    TEST_ASSERT(server() > 0);
    char url[160];
    redis_url(url, sizeof(url), 6);
    TEST_ASSERT(raw_cmd_ok("CONFIG SET maxmemory-policy allkeys-lru"));
    struct open_args a = {url};
    int rc;
    char *err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == 0 && err && strstr(err, "allkeys-lru") && strstr(err, "noeviction"));
    free(err);
    close_args(&a);
    redisContext *c = raw_connect();
    redisReply *r = c ? redisCommand(c, "CONFIG GET maxmemory-policy") : NULL;
    TEST_EXPECT(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && strcmp(r->element[1]->str, "noeviction") == 0);
    freeReplyObject(r);
    redisFree(c);
    TEST_ASSERT(raw_cmd_ok("CONFIG SET appendonly no"));
    err = capture_stderr(open_url, &a, &rc);
    TEST_EXPECT(rc == 0 && err && strstr(err, "appendonly is no") && strstr(err, "loses"));
    free(err);
    close_args(&a);
    TEST_ASSERT(raw_cmd_ok("CONFIG SET appendonly yes"));
    for (int i = 0; i < 100; i++) { /* the rewrite that turns the AOF on */
        redisContext *rc2 = raw_connect();
        redisReply *info = rc2 ? redisCommand(rc2, "INFO persistence") : NULL;
        bool done = info && info->str && strstr(info->str, "aof_rewrite_in_progress:0") &&
                    strstr(info->str, "aof_enabled:1");
        freeReplyObject(info);
        redisFree(rc2);
        if (done)
            break;
        usleep(50000);
    }
    return 0;
}

/* --- 6: kill -9 of the server ------------------------------------------------------- */

static void *restart_later(void *arg)
{
    (void)arg;
    usleep(1500000);
    if (server_start() != 0)
        fprintf(stderr, "could not restart redis-server\n");
    return NULL;
}

static int test_server_restart(void)
{
    struct eng e;
    TEST_ASSERT(eng_redis(&e, 7, 0, 0) == 0);
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        TEST_ASSERT(mk(&e, ROOT, name, S_IFREG | 0644));
    }
    server_kill(SIGKILL);
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, restart_later, NULL) == 0);
    double t0 = now_s();
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the engine reports the outage: expected */
    uint64_t ino = mk(&e, ROOT, "after", S_IFREG | 0644);
    dup2(saved, 2);
    close(saved);
    close(null);
    double waited = now_s() - t0;
    pthread_join(t, NULL);
    TEST_EXPECT(ino != 0);
    TEST_EXPECT(waited >= 1.0 && waited < 15);
    struct meta_attr a;
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        TEST_EXPECT(e.ops->lookup(e.m, ROOT, name, &a) == 0);
    }
    TEST_EXPECT(e.ops->lookup(e.m, ROOT, "after", &a) == 0 && a.ino == ino);
    printf("kill -9 of redis-server: an operation waited %.1f s and then succeeded; 200 earlier creates kept\n",
           waited);
    eng_close(&e);
    return 0;
}

/* --- 7, 8: concurrency and rates ----------------------------------------------------- */

struct worker {
    struct eng *e;
    uint64_t dir;
    int id, n, failures;
    bool stat;
};

static void *create_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w%d-%d", w->id, i);
        struct meta_attr a;
        int rc = w->stat ? w->e->ops->lookup(w->e->m, w->dir, name, &a)
                         : w->e->ops->mknod(w->e->m, &user, w->dir, name, S_IFREG | 0644, 0, NULL, &a);
        if (rc)
            w->failures++;
    }
    return NULL;
}

static double run_workers(struct eng *e, uint64_t dir, int threads, int n, bool stat, int *failures)
{
    struct worker w[8];
    pthread_t t[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){e, dir, i, n, 0, stat};
        pthread_create(&t[i], NULL, create_worker, &w[i]);
    }
    *failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        *failures += w[i].failures;
    }
    return threads * n / (now_s() - t0);
}

static int count_entry(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)name;
    (void)attr;
    (void)next;
    (*(int *)arg)++;
    return 0;
}

static int test_concurrency(void)
{
    struct eng e;
    TEST_ASSERT(eng_redis(&e, 8, 0, 0) == 0);
    uint64_t dir = mk(&e, ROOT, "d", S_IFDIR | 0755);
    int failures;
    run_workers(&e, dir, 4, 500, false, &failures);
    TEST_EXPECT(failures == 0);
    int n = 0;
    TEST_EXPECT(e.ops->readdir(e.m, dir, 0, false, count_entry, &n) == 0 && n == 2000);
    /* renames between two directories from four threads */
    uint64_t other = mk(&e, ROOT, "o", S_IFDIR | 0755);
    struct meta_attr a;
    for (int i = 0; i < 4 * 500; i += 7) {
        char name[32];
        snprintf(name, sizeof(name), "w%d-%d", i % 4, i / 4);
        TEST_EXPECT(e.ops->rename(e.m, dir, name, other, name, 0) == 0);
    }
    int n1 = 0, n2 = 0;
    e.ops->readdir(e.m, dir, 0, false, count_entry, &n1);
    e.ops->readdir(e.m, other, 0, false, count_entry, &n2);
    TEST_EXPECT(n1 + n2 == 2000);
    struct meta_statfs st;
    TEST_EXPECT(e.ops->statfs(e.m, &st) == 0 && st.used_inodes == 2003);
    TEST_EXPECT(e.ops->getattr(e.m, dir, &a) == 0 && a.nlink == 2);
    eng_close(&e);
    return 0;
}

static int test_rates(void)
{
    struct eng e;
    TEST_ASSERT(eng_redis(&e, 9, 0, 0) == 0);
    int failures;
    uint64_t d1 = mk(&e, ROOT, "one", S_IFDIR | 0755), d4 = mk(&e, ROOT, "four", S_IFDIR | 0755);
    double c1 = run_workers(&e, d1, 1, 2000, false, &failures);
    TEST_EXPECT(failures == 0);
    double s1 = run_workers(&e, d1, 1, 2000, true, &failures);
    TEST_EXPECT(failures == 0);
    double c4 = run_workers(&e, d4, 4, 1000, false, &failures);
    TEST_EXPECT(failures == 0);
    double s4 = run_workers(&e, d4, 4, 1000, true, &failures);
    TEST_EXPECT(failures == 0);
    printf("redis engine on loopback (appendfsync always), one directory: creates/s %.0f (1 thread), %.0f (4 "
           "threads); lookups/s %.0f (1 thread), %.0f (4 threads)\n",
           c1, c4, s1, s4);
    eng_close(&e);
    return 0;
}

/* --- 9: dump and load ------------------------------------------------------------------ */

static char *dump_text(const char *url)
{
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    char *text = NULL;
    if (meta_dump(url, f) == 0) {
        long len = ftell(f);
        text = calloc(1, (size_t)len + 1);
        rewind(f);
        if (text && fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

static int load_text(const char *url, const char *text, size_t len)
{
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f)
        return -errno;
    int rc = meta_load(url, f);
    fclose(f);
    return rc;
}

static int build_tree(struct eng *e)
{
    struct meta_attr a;
    uint64_t dir = mk(e, ROOT, "dir", S_IFDIR | 02755), sub = mk(e, dir, "sub", S_IFDIR | 0700);
    uint64_t file = mk(e, dir, "file", S_IFREG | 0640), big = mk(e, ROOT, "big", S_IFREG | 0600);
    if (!dir || !sub || !file || !big)
        return -EIO;
    int rc = e->ops->mknod(e->m, &user, sub, "link", S_IFLNK, 0, "../file", &a);
    rc = rc ? rc : e->ops->mknod(e->m, &user, sub, "bad\xff\xfe name", S_IFIFO | 0644, 0, NULL, &a);
    rc = rc ? rc : e->ops->mknod(e->m, &user, ROOT, "tty", S_IFCHR | 0620, 0x0504, NULL, &a);
    rc = rc ? rc : e->ops->link(e->m, file, ROOT, "hard", &a);
    rc = rc ? rc : e->ops->link(e->m, file, sub, "hard2", &a);
    rc = rc ? rc : e->ops->setxattr(e->m, file, "user.bin", "\0\1\2\xff", 4, 0);
    rc = rc ? rc : e->ops->setxattr(e->m, dir, "user.text", "hello", 5, 0);
    for (int i = 0; rc == 0 && i < 6; i++) {
        uint64_t id;
        rc = e->ops->new_slice_id(e->m, &id);
        struct meta_slice s = {(uint32_t)i * 4096, id, 8192, 100, 4000};
        rc = rc ? rc : e->ops->write(e->m, i < 3 ? file : big, (uint32_t)i, &s, 1000 + i, &a);
    }
    struct meta_attr in = {.size = 70 * MiB};
    rc = rc ? rc : e->ops->setattr(e->m, &user, big, META_SET_SIZE, &in, &a); /* drops chunks: deleted slices */
    for (int i = 0; rc == 0 && i < 300; i++) { /* more than one readdir page, with holes in the cookies */
        char name[16];
        snprintf(name, sizeof(name), "n%03d", i);
        rc = mk(e, sub, name, S_IFREG | 0644) ? 0 : -EIO;
        if (rc == 0 && i % 3 == 0)
            rc = e->ops->unlink(e->m, sub, name);
    }
    return rc ? rc : e->ops->rename(e->m, sub, "n001", dir, "moved", 0);
}

static int test_dump_load(void)
{
    struct eng sq, rd, sq2;
    TEST_ASSERT(eng_sqlite(&sq, 0, 1000) == 0);
    TEST_ASSERT(build_tree(&sq) == 0);
    char *d1 = dump_text(sq.url);
    TEST_ASSERT(d1 != NULL);
    /* the target: an empty database, never formatted */
    TEST_ASSERT(flushdb(10) == 0);
    memset(&rd, 0, sizeof(rd));
    redis_url(rd.url, sizeof(rd.url), 10);
    TEST_EXPECT(load_text(rd.url, d1, strlen(d1)) == 0);
    char *d2 = dump_text(rd.url);
    TEST_EXPECT(d2 && strcmp(d1, d2) == 0);
    memset(&sq2, 0, sizeof(sq2));
    strcpy(sq2.dir, "/tmp/test_meta_redis_sq_XXXXXX");
    TEST_ASSERT(mkdtemp(sq2.dir));
    snprintf(sq2.url, sizeof(sq2.url), "sqlite3://%s/meta.db", sq2.dir);
    TEST_EXPECT(d2 && load_text(sq2.url, d2, strlen(d2)) == 0);
    char *d3 = dump_text(sq2.url);
    TEST_EXPECT(d3 && strcmp(d1, d3) == 0);
    size_t lines = 0;
    for (const char *p = d1; *p; p++)
        lines += *p == '\n';
    printf("dump/load: SQLite -> Redis -> SQLite, %zu JSON lines (%zu bytes), identical each way\n", lines,
           strlen(d1));
    /* the loaded Redis volume works: a create gets a fresh inode number */
    TEST_ASSERT(meta_open_url(rd.url, &rd.ops, &rd.m) == 0);
    struct meta_attr a, b;
    TEST_EXPECT(rd.ops->lookup(rd.m, ROOT, "hard", &a) == 0 && a.nlink == 3);
    uint64_t fresh = mk(&rd, ROOT, "fresh", S_IFREG | 0644);
    TEST_EXPECT(fresh && sq.ops->getattr(sq.m, fresh, &b) == -ENOENT);
    /* refusals: a formatted target, a dump cut short, garbage */
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    int formatted = load_text(rd.url, d1, strlen(d1));
    TEST_ASSERT(flushdb(11) == 0);
    char url11[160];
    redis_url(url11, sizeof(url11), 11);
    int cut = load_text(url11, d1, strlen(d1) / 2);
    TEST_ASSERT(flushdb(11) == 0);
    int garbage = load_text(url11, "hello\n", 6);
    dup2(saved, 2);
    close(saved);
    close(null);
    TEST_EXPECT(formatted == -EEXIST);
    TEST_EXPECT(cut == -EINVAL);
    TEST_EXPECT(garbage == -EINVAL);
    free(d1);
    free(d2);
    free(d3);
    eng_close(&sq);
    eng_close(&rd);
    eng_close(&sq2);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_url), UNIT_TEST(test_differential), UNIT_TEST(test_two_handles),
          UNIT_TEST(test_password), UNIT_TEST(test_startup_checks), UNIT_TEST(test_server_restart),
          UNIT_TEST(test_concurrency), UNIT_TEST(test_rates), UNIT_TEST(test_dump_load))
