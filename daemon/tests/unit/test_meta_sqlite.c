/* SPDX-License-Identifier: Apache-2.0
 *
 * The SQLite metadata engine through its ops table, against a temporary
 * database file. Covers:
 *   1. META-URL dispatch: known/unknown/malformed schemes, missing directory
 *   2. init (-EEXIST unless force, force keeps the tree), settings; opening
 *      an unformatted, empty or foreign file changes nothing; file mode 0600
 *   3. mknod of every type, symlinks, name and parent errors
 *   4. lookup/getattr, "." and "..", -ENOTDIR
 *   5. setattr: chmod keeps the type, chown, explicit and _NOW times, ctime
 *   6. setgid directories: group and S_ISGID inheritance
 *   7. link: nlink, -EPERM on directories, -EEXIST
 *   8. unlink/rmdir: every error, link counts
 *   9. rename: move, replace, NOREPLACE, EXCHANGE, loops, same file
 *  10. readdir: paging by cookie, stability across changes, readdirplus,
 *      100,000 entries (with the create/stat/readdir rates printed)
 *  11. xattrs: CREATE/REPLACE, size query, ERANGE, ENODATA, E2BIG
 *  12. orphans: is_open keeps an unlinked inode until release_orphan
 *  13. write/read_chunk: slices, length, refs, bad slices
 *  14. truncate down/up: holes, dropped chunks, deleted slices, accounting
 *  15. fallocate: every mode and refusal
 *  16. capacity and inode limits (-ENOSPC) and statfs, unlimited statfs
 *  17. new_slice_id: unique and increasing across reopen
 *  18. flock: shared, exclusive, conversion, per owner
 *  19. POSIX locks: conflicts with pid, split on partial unlock, merge
 *  20. sessions: list, heartbeat, close releases locks, clean deletes orphans
 *  21. deleted slices: list and ack
 *  22. concurrency: threads creating and renaming in one directory
 *  23. contention: another connection holding the write lock is waited out
 *  24. durability: state survives close/reopen; sync() cost printed
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meta/format.h"
#include "meta/meta.h"
#include "meta/meta_sqlite.h"
#include "tests/unit/unit.h"

#define ROOT META_ROOT_INO
#define MiB (1ULL << 20)

struct fx {
    char dir[64];
    char url[128];
    const struct meta_ops *ops;
    struct meta *m;
};

static const struct meta_ctx user = {1000, 1000, 42};

static char *format_json(uint64_t capacity, uint64_t inodes)
{
    struct format f;
    format_init_defaults(&f);
    strcpy(f.name, "unit-test");
    f.bucket = strdup("/tmp/unit-bucket");
    f.capacity = capacity;
    f.inodes = inodes;
    char *j = format_to_json(&f, false);
    format_clear(&f);
    return j;
}

static int fx_reopen(struct fx *f)
{
    if (f->m)
        f->ops->close(f->m);
    f->m = NULL;
    return meta_open_url(f->url, &f->ops, &f->m);
}

static int fx_open_limits(struct fx *f, uint64_t capacity, uint64_t inodes)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->dir, "/tmp/test_meta_XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    snprintf(f->url, sizeof(f->url), "sqlite3://%s/meta.db", f->dir);
    int rc = fx_reopen(f);
    char *j = format_json(capacity, inodes);
    if (rc == 0)
        rc = f->ops->init(f->m, j, false);
    free(j);
    return rc;
}

static int fx_open(struct fx *f)
{
    return fx_open_limits(f, 0, 0);
}

static void fx_close(struct fx *f)
{
    if (f->m)
        f->ops->close(f->m);
    f->m = NULL;
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/meta.db%s", f->dir, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* creates parent/name of `mode`, returns its inode or 0 */
static uint64_t mk(struct fx *f, uint64_t parent, const char *name, uint32_t mode)
{
    struct meta_attr a;
    return f->ops->mknod(f->m, &user, parent, name, mode, 0, NULL, &a) ? 0 : a.ino;
}

static struct meta_attr attr_of(struct fx *f, uint64_t ino)
{
    struct meta_attr a = {0};
    f->ops->getattr(f->m, ino, &a);
    return a;
}

static int lookup_errno(struct fx *f, uint64_t parent, const char *name)
{
    struct meta_attr a;
    return f->ops->lookup(f->m, parent, name, &a);
}

/* 1 */
static int test_url_dispatch(void)
{
    const struct meta_ops *ops = NULL;
    struct meta *m = NULL;
    TEST_EXPECT(meta_engine_for_url("sqlite3:///tmp/x.db") == &meta_sqlite_ops);
    TEST_EXPECT(meta_engine_for_url("nosuch://x") == NULL);
    TEST_EXPECT(meta_engine_for_url("sqlite3:/x") == NULL);
    TEST_EXPECT(meta_engine_for_url("://x") == NULL);
    TEST_EXPECT(meta_engine_for_url("/tmp/x.db") == NULL);
    TEST_EXPECT(meta_engine_for_url(NULL) == NULL);
    TEST_EXPECT(meta_open_url("nosuch://x", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("sqlite3:/tmp/x", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("sqlite3://", &ops, &m) == -EINVAL);
    TEST_EXPECT(meta_open_url("sqlite3:///nonexistent-dir-xyz/meta.db", &ops, &m) == -ENOENT);
    TEST_EXPECT(meta_open_url("sqlite3:///etc/passwd/meta.db", &ops, &m) == -ENOTDIR);
    TEST_EXPECT(m == NULL);

    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    /* a relative path works too */
    char cwd[512];
    TEST_ASSERT(getcwd(cwd, sizeof(cwd)) != NULL);
    TEST_ASSERT(chdir(f.dir) == 0);
    TEST_EXPECT(meta_open_url("sqlite3://meta.db", &ops, &m) == 0);
    TEST_EXPECT(ops == &meta_sqlite_ops);
    struct meta_attr a;
    TEST_EXPECT(m && ops->getattr(m, ROOT, &a) == 0);
    if (m)
        ops->close(m);
    TEST_ASSERT(chdir(cwd) == 0);
    fx_close(&f);
    return 0;
}

/* 2 */
static int test_init_settings(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    char *j = format_json(0, 0), *out = NULL;
    TEST_EXPECT(f.ops->init(f.m, j, false) == -EEXIST);
    TEST_EXPECT(f.ops->init(f.m, "not json", true) == -EINVAL);
    uint64_t ino = mk(&f, ROOT, "keep", S_IFREG | 0644);
    TEST_EXPECT(f.ops->init(f.m, j, true) == 0);
    TEST_EXPECT(lookup_errno(&f, ROOT, "keep") == 0);
    TEST_EXPECT(attr_of(&f, ino).ino == ino);
    TEST_EXPECT(f.ops->get_setting(f.m, "format", &out) == 0);
    TEST_EXPECT(out && strcmp(out, j) == 0);
    free(out);
    out = NULL;
    TEST_EXPECT(f.ops->get_setting(f.m, "nope", &out) == -ENOENT);
    TEST_EXPECT(f.ops->set_setting(f.m, "k", "v1") == 0);
    TEST_EXPECT(f.ops->set_setting(f.m, "k", "v2") == 0);
    TEST_EXPECT(f.ops->get_setting(f.m, "k", &out) == 0 && out && strcmp(out, "v2") == 0);
    free(out);
    TEST_EXPECT(f.ops->set_setting(f.m, "format", "{broken") == -EINVAL);
    struct meta_attr root = attr_of(&f, ROOT);
    TEST_EXPECT(root.mode == (S_IFDIR | 0777) && root.nlink == 2 && root.parent == ROOT);
    free(j);
    fx_close(&f);

    /* an unformatted database: no settings, no root */
    struct fx g;
    memset(&g, 0, sizeof(g));
    strcpy(g.dir, "/tmp/test_meta_XXXXXX");
    TEST_ASSERT(mkdtemp(g.dir));
    snprintf(g.url, sizeof(g.url), "sqlite3://%s/meta.db", g.dir);
    TEST_ASSERT(fx_reopen(&g) == 0);
    TEST_EXPECT(g.ops->get_setting(g.m, "format", &out) == -ENOENT);
    TEST_EXPECT(g.ops->getattr(g.m, ROOT, &root) == -ENOENT);
    fx_close(&g);
    return 0;
}

static int read_file(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    int n = (int)fread(buf, 1, size, fp);
    fclose(fp);
    return n;
}

/* status and mount open and look; they must not touch what is not ours */
static int check_untouched(const char *dir, const char *url)
{
    char path[160], before[65536], after[65536];
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    int n0 = read_file(path, before, sizeof(before));
    const struct meta_ops *ops;
    struct meta *m;
    char *out = NULL;
    struct meta_attr a;
    TEST_ASSERT(meta_open_url(url, &ops, &m) == 0);
    TEST_EXPECT(ops->get_setting(m, "format", &out) == -ENOENT);
    TEST_EXPECT(ops->getattr(m, ROOT, &a) < 0);
    ops->close(m);
    TEST_EXPECT(read_file(path, after, sizeof(after)) == n0 && memcmp(before, after, (size_t)(n0 > 0 ? n0 : 0)) == 0);
    return 0;
}

static int test_open_never_writes(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    char path[160];
    snprintf(path, sizeof(path), "%s/meta.db", f.dir);
    struct stat st;
    TEST_EXPECT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    fx_close(&f);

    memset(&f, 0, sizeof(f));
    strcpy(f.dir, "/tmp/test_meta_XXXXXX");
    TEST_ASSERT(mkdtemp(f.dir));
    snprintf(f.url, sizeof(f.url), "sqlite3://%s/meta.db", f.dir);
    snprintf(path, sizeof(path), "%s/meta.db", f.dir);
    TEST_EXPECT(check_untouched(f.dir, f.url) == 0); /* missing: not created */
    TEST_EXPECT(access(path, F_OK) == -1);
    FILE *fp = fopen(path, "w"); /* empty */
    TEST_ASSERT(fp);
    fclose(fp);
    TEST_EXPECT(check_untouched(f.dir, f.url) == 0);
    sqlite3 *db; /* someone else's database */
    TEST_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    TEST_ASSERT(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    TEST_EXPECT(check_untouched(f.dir, f.url) == 0);
    fp = fopen(path, "w"); /* not a database at all */
    TEST_ASSERT(fp);
    fputs("this is not a database, it is a text file of some length that sqlite will reject\n", fp);
    fclose(fp);
    const struct meta_ops *ops;
    struct meta *m = NULL;
    TEST_EXPECT(meta_open_url(f.url, &ops, &m) == -EINVAL && m == NULL);
    fx_close(&f);
    return 0;
}

/* 3 */
static int test_mknod_types(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    struct meta_attr a, root0 = attr_of(&f, ROOT);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "file", S_IFREG | 0640, 0, NULL, &a) == 0);
    TEST_EXPECT(a.mode == (S_IFREG | 0640) && a.nlink == 1 && a.size == 0 && a.uid == 1000 && a.gid == 1000);
    TEST_EXPECT(a.parent == ROOT && a.ino > ROOT && a.mtime == a.ctime && a.atime == a.ctime);
    uint64_t file = a.ino;
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "dir", S_IFDIR | 0755, 0, NULL, &a) == 0);
    TEST_EXPECT(a.mode == (S_IFDIR | 0755) && a.nlink == 2);
    struct meta_attr root = attr_of(&f, ROOT);
    TEST_EXPECT(root.nlink == root0.nlink + 1 && root.mtime >= root0.mtime && root.ctime == root.mtime);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "fifo", S_IFIFO | 0600, 0, NULL, &a) == 0 && S_ISFIFO(a.mode));
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "sock", S_IFSOCK | 0600, 0, NULL, &a) == 0 && S_ISSOCK(a.mode));
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "chr", S_IFCHR | 0600, 0x0501, NULL, &a) == 0);
    TEST_EXPECT(S_ISCHR(a.mode) && a.rdev == 0x0501);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "blk", S_IFBLK | 0600, 0x0802, NULL, &a) == 0);
    TEST_EXPECT(S_ISBLK(a.mode) && attr_of(&f, a.ino).rdev == 0x0802);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "plain", 0644, 0, NULL, &a) == 0 && S_ISREG(a.mode));
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "ln", S_IFLNK | 0777, 0, "some/target", &a) == 0);
    TEST_EXPECT(S_ISLNK(a.mode) && a.size == strlen("some/target"));
    char *t = NULL;
    TEST_EXPECT(f.ops->readlink(f.m, a.ino, &t) == 0 && t && strcmp(t, "some/target") == 0);
    free(t);
    TEST_EXPECT(f.ops->readlink(f.m, file, &t) == -EINVAL);
    TEST_EXPECT(f.ops->readlink(f.m, 999999, &t) == -ENOENT);

    char longname[300];
    memset(longname, 'x', sizeof(longname));
    longname[256] = '\0';
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, longname, S_IFREG | 0644, 0, NULL, &a) == -ENAMETOOLONG);
    longname[255] = '\0';
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, longname, S_IFREG | 0644, 0, NULL, &a) == 0);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "file", S_IFREG | 0644, 0, NULL, &a) == -EEXIST);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "file", S_IFDIR | 0755, 0, NULL, &a) == -EEXIST);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, ".", S_IFREG | 0644, 0, NULL, &a) == -EEXIST);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "", S_IFREG | 0644, 0, NULL, &a) == -EINVAL);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "a/b", S_IFREG | 0644, 0, NULL, &a) == -EINVAL);
    TEST_EXPECT(f.ops->mknod(f.m, &user, file, "x", S_IFREG | 0644, 0, NULL, &a) == -ENOTDIR);
    TEST_EXPECT(f.ops->mknod(f.m, &user, 999999, "x", S_IFREG | 0644, 0, NULL, &a) == -ENOENT);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "l2", S_IFLNK | 0777, 0, NULL, &a) == -EINVAL);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "l2", S_IFLNK | 0777, 0, "", &a) == -EINVAL);
    char *big = malloc(META_SYMLINK_MAX + 2);
    memset(big, 'y', META_SYMLINK_MAX + 1);
    big[META_SYMLINK_MAX + 1] = '\0';
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "l2", S_IFLNK | 0777, 0, big, &a) == -ENAMETOOLONG);
    free(big);
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "odd", 0170000 | 0644, 0, NULL, &a) == -EINVAL);
    fx_close(&f);
    return 0;
}

/* 4 */
static int test_lookup_getattr(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "d", S_IFDIR | 0755), x = mk(&f, d, "x", S_IFREG | 0644);
    struct meta_attr a;
    TEST_EXPECT(f.ops->lookup(f.m, d, "x", &a) == 0 && a.ino == x && a.parent == d);
    TEST_EXPECT(f.ops->lookup(f.m, d, "y", &a) == -ENOENT);
    TEST_EXPECT(f.ops->lookup(f.m, x, "y", &a) == -ENOTDIR);
    TEST_EXPECT(f.ops->lookup(f.m, 999999, "y", &a) == -ENOENT);
    TEST_EXPECT(f.ops->lookup(f.m, d, ".", &a) == 0 && a.ino == d);
    TEST_EXPECT(f.ops->lookup(f.m, d, "..", &a) == 0 && a.ino == ROOT);
    TEST_EXPECT(f.ops->lookup(f.m, ROOT, "..", &a) == 0 && a.ino == ROOT);
    TEST_EXPECT(f.ops->getattr(f.m, 999999, &a) == -ENOENT);
    fx_close(&f);
    return 0;
}

/* 5 */
static int test_setattr(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644), d = mk(&f, ROOT, "d", S_IFDIR | 0755);
    struct meta_attr in = {0}, out, before = attr_of(&f, x);
    usleep(2000);
    in.mode = S_IFDIR | 04755; /* type bits in the request are ignored */
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_MODE, &in, &out) == 0);
    TEST_EXPECT(out.mode == (S_IFREG | 04755) && out.ctime > before.ctime && out.mtime == before.mtime);
    in.uid = 7;
    in.gid = 8;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_UID | META_SET_GID, &in, &out) == 0);
    TEST_EXPECT(out.uid == 7 && out.gid == 8 && attr_of(&f, x).uid == 7);
    in.atime = 1000000000LL;
    in.mtime = 2000000000LL;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_ATIME | META_SET_MTIME, &in, &out) == 0);
    TEST_EXPECT(out.atime == 1000000000LL && out.mtime == 2000000000LL && out.ctime > 2000000000LL);
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_ATIME_NOW, &in, &out) == 0);
    TEST_EXPECT(out.atime > 2000000000LL && out.mtime == 2000000000LL);
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_MTIME_NOW | META_SET_MTIME, &in, &out) == 0);
    TEST_EXPECT(out.mtime > 2000000000LL);
    in.ctime = 3000000000LL;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_CTIME, &in, &out) == 0 && out.ctime == 3000000000LL);
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, 0, NULL, &out) == 0 && out.ctime == 3000000000LL);
    in.size = 10;
    TEST_EXPECT(f.ops->setattr(f.m, &user, d, META_SET_SIZE, &in, &out) == -EISDIR);
    TEST_EXPECT(f.ops->setattr(f.m, &user, 999999, META_SET_MODE, &in, &out) == -ENOENT);
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &out) == 0 && out.size == 10);
    TEST_EXPECT(out.mtime == out.ctime && out.mtime > 3000000000LL);
    in.mode = 0700;
    TEST_EXPECT(f.ops->setattr(f.m, &user, d, META_SET_MODE, &in, &out) == 0 && out.mode == (S_IFDIR | 0700));
    fx_close(&f);
    return 0;
}

/* 6 */
static int test_setgid_dirs(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "sg", S_IFDIR | 0775);
    struct meta_attr in = {.mode = 02775, .gid = 555}, a;
    TEST_ASSERT(f.ops->setattr(f.m, &user, d, META_SET_MODE | META_SET_GID, &in, &a) == 0);
    TEST_EXPECT(f.ops->mknod(f.m, &user, d, "f", S_IFREG | 0644, 0, NULL, &a) == 0);
    TEST_EXPECT(a.gid == 555 && a.uid == 1000 && !(a.mode & S_ISGID));
    TEST_EXPECT(f.ops->mknod(f.m, &user, d, "sub", S_IFDIR | 0755, 0, NULL, &a) == 0);
    TEST_EXPECT(a.gid == 555 && (a.mode & S_ISGID) && (a.mode & 0777) == 0755);
    uint64_t sub = a.ino;
    TEST_EXPECT(f.ops->mknod(f.m, &user, sub, "deeper", S_IFDIR | 0700, 0, NULL, &a) == 0);
    TEST_EXPECT(a.gid == 555 && (a.mode & S_ISGID));
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "plain", S_IFDIR | 0755, 0, NULL, &a) == 0);
    TEST_EXPECT(a.gid == 1000 && !(a.mode & S_ISGID));
    fx_close(&f);
    return 0;
}

/* 7 */
static int test_link(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644), d = mk(&f, ROOT, "d", S_IFDIR | 0755);
    struct meta_attr a;
    TEST_EXPECT(f.ops->link(f.m, x, d, "x2", &a) == 0 && a.nlink == 2 && a.ino == x);
    TEST_EXPECT(f.ops->lookup(f.m, d, "x2", &a) == 0 && a.ino == x && a.nlink == 2);
    TEST_EXPECT(f.ops->link(f.m, x, d, "x2", &a) == -EEXIST);
    TEST_EXPECT(f.ops->link(f.m, d, ROOT, "d2", &a) == -EPERM);
    TEST_EXPECT(f.ops->link(f.m, 999999, ROOT, "n", &a) == -ENOENT);
    TEST_EXPECT(f.ops->link(f.m, x, x, "n", &a) == -ENOTDIR);
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "x") == 0);
    TEST_EXPECT(attr_of(&f, x).nlink == 1);
    TEST_EXPECT(f.ops->unlink(f.m, d, "x2") == 0);
    TEST_EXPECT(f.ops->getattr(f.m, x, &a) == -ENOENT);
    fx_close(&f);
    return 0;
}

/* 8 */
static int test_unlink_rmdir(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "d", S_IFDIR | 0755), x = mk(&f, d, "x", S_IFREG | 0644);
    mk(&f, ROOT, "e", S_IFDIR | 0755);
    uint32_t root_links = attr_of(&f, ROOT).nlink;
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "nope") == -ENOENT);
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "d") == -EISDIR);
    TEST_EXPECT(f.ops->unlink(f.m, x, "a") == -ENOTDIR);
    TEST_EXPECT(f.ops->rmdir(f.m, d, "x") == -ENOTDIR);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, "d") == -ENOTEMPTY);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, "nope") == -ENOENT);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, ".") == -EINVAL);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, "..") == -ENOTEMPTY);
    TEST_EXPECT(f.ops->rmdir(f.m, 999999, "x") == -ENOENT);
    TEST_EXPECT(f.ops->unlink(f.m, d, "x") == 0);
    TEST_EXPECT(f.ops->getattr(f.m, x, &(struct meta_attr){0}) == -ENOENT);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, "d") == 0);
    TEST_EXPECT(f.ops->rmdir(f.m, ROOT, "e") == 0);
    TEST_EXPECT(attr_of(&f, ROOT).nlink == root_links - 2);
    TEST_EXPECT(f.ops->getattr(f.m, d, &(struct meta_attr){0}) == -ENOENT);
    struct meta_statfs s;
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.used_inodes == 1);
    fx_close(&f);
    return 0;
}

/* 9 */
static int test_rename(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t a = mk(&f, ROOT, "a", S_IFDIR | 0755), b = mk(&f, ROOT, "b", S_IFDIR | 0755);
    uint64_t x = mk(&f, a, "x", S_IFREG | 0644), y = mk(&f, a, "y", S_IFREG | 0644);
    uint64_t sub = mk(&f, a, "sub", S_IFDIR | 0755), inner = mk(&f, sub, "inner", S_IFDIR | 0755);
    uint64_t empty = mk(&f, b, "empty", S_IFDIR | 0755), full = mk(&f, b, "full", S_IFDIR | 0755);
    mk(&f, full, "child", S_IFREG | 0644);
    struct meta_attr at;

    /* plain move and rename within a directory */
    TEST_EXPECT(f.ops->rename(f.m, a, "x", b, "x", 0) == 0);
    TEST_EXPECT(f.ops->lookup(f.m, b, "x", &at) == 0 && at.ino == x && at.parent == b);
    TEST_EXPECT(lookup_errno(&f, a, "x") == -ENOENT);
    TEST_EXPECT(f.ops->rename(f.m, b, "x", b, "x1", 0) == 0 && lookup_errno(&f, b, "x1") == 0);
    TEST_EXPECT(f.ops->rename(f.m, b, "nope", b, "z", 0) == -ENOENT);
    /* file over file: the victim goes away */
    TEST_EXPECT(f.ops->rename(f.m, a, "y", b, "x1", 0) == 0);
    TEST_EXPECT(f.ops->lookup(f.m, b, "x1", &at) == 0 && at.ino == y);
    TEST_EXPECT(f.ops->getattr(f.m, x, &at) == -ENOENT);
    /* directory errors */
    TEST_EXPECT(f.ops->rename(f.m, a, "sub", b, "x1", 0) == -ENOTDIR);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "empty", 0) == -EISDIR);
    TEST_EXPECT(f.ops->rename(f.m, a, "sub", b, "full", 0) == -ENOTEMPTY);
    TEST_EXPECT(f.ops->rename(f.m, ROOT, "a", sub, "a", 0) == -EINVAL);
    TEST_EXPECT(f.ops->rename(f.m, ROOT, "a", inner, "a", 0) == -EINVAL);
    TEST_EXPECT(f.ops->rename(f.m, ROOT, "a", a, "self", 0) == -EINVAL);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "empty", META_RENAME_NOREPLACE) == -EEXIST);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "nope", META_RENAME_EXCHANGE) == -ENOENT);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "z", 3) == -EINVAL);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "z", 4) == -EINVAL);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "..", 0) == -EBUSY);
    TEST_EXPECT(f.ops->rename(f.m, y, "q", b, "z", 0) == -ENOTDIR);
    /* empty dir over dir across parents: link counts follow */
    uint32_t na = attr_of(&f, a).nlink, nb = attr_of(&f, b).nlink;
    TEST_EXPECT(f.ops->rename(f.m, a, "sub", b, "empty", 0) == 0);
    TEST_EXPECT(attr_of(&f, a).nlink == na - 1 && attr_of(&f, b).nlink == nb);
    TEST_EXPECT(attr_of(&f, sub).parent == b && f.ops->getattr(f.m, empty, &at) == -ENOENT);
    TEST_EXPECT(f.ops->lookup(f.m, sub, "..", &at) == 0 && at.ino == b);
    /* same file under both names: nothing happens */
    TEST_EXPECT(f.ops->link(f.m, y, b, "y2", &at) == 0);
    TEST_EXPECT(f.ops->rename(f.m, b, "x1", b, "y2", 0) == 0);
    TEST_EXPECT(lookup_errno(&f, b, "x1") == 0 && attr_of(&f, y).nlink == 2);
    /* exchange a file and a directory across parents */
    uint64_t fa = mk(&f, a, "fa", S_IFREG | 0644);
    na = attr_of(&f, a).nlink;
    nb = attr_of(&f, b).nlink;
    TEST_EXPECT(f.ops->rename(f.m, a, "fa", b, "full", META_RENAME_EXCHANGE) == 0);
    TEST_EXPECT(f.ops->lookup(f.m, a, "fa", &at) == 0 && at.ino == full && at.parent == a);
    TEST_EXPECT(f.ops->lookup(f.m, b, "full", &at) == 0 && at.ino == fa && at.parent == b);
    TEST_EXPECT(attr_of(&f, a).nlink == na + 1 && attr_of(&f, b).nlink == nb - 1);
    TEST_EXPECT(f.ops->lookup(f.m, full, "..", &at) == 0 && at.ino == a);
    /* exchange two directories in one parent */
    TEST_EXPECT(f.ops->rename(f.m, b, "empty", b, "full", META_RENAME_EXCHANGE) == 0);
    TEST_EXPECT(f.ops->lookup(f.m, b, "empty", &at) == 0 && at.ino == fa);
    TEST_EXPECT(f.ops->lookup(f.m, b, "full", &at) == 0 && at.ino == sub);
    /* exchange must not create a loop either */
    TEST_EXPECT(f.ops->rename(f.m, ROOT, "b", sub, "inner", META_RENAME_EXCHANGE) == -EINVAL);
    fx_close(&f);
    return 0;
}

/* 10 */
struct listing {
    size_t n, max;
    uint64_t last;
    char names[64][16];
    bool plus_ok;
};

static int collect(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    struct listing *l = arg;
    if (l->n >= l->max)
        return 1;
    if (l->n < 64)
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
    if (next <= l->last || attr->ino == 0 || !(attr->mode & S_IFMT))
        l->plus_ok = false;
    l->last = next;
    l->n++;
    return 0;
}

static int count_plus(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)name;
    struct listing *l = arg;
    if (attr->nlink == 0 || attr->ctime == 0 || next <= l->last)
        l->plus_ok = false;
    l->last = next;
    l->n++;
    return 0;
}

static int test_readdir_paging(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "d", S_IFDIR | 0755);
    char name[32];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "e%d", i);
        TEST_ASSERT(mk(&f, d, name, S_IFREG | 0644));
    }
    struct listing l = {.max = 4, .plus_ok = true};
    TEST_EXPECT(f.ops->readdir(f.m, d, 0, false, collect, &l) == 0 && l.n == 4);
    TEST_EXPECT(strcmp(l.names[0], "e0") == 0 && strcmp(l.names[3], "e3") == 0);
    uint64_t cookie = l.last;
    /* changes between pages: a listed entry removed, an unlisted one
     * renamed, new ones added; none of the others is skipped or repeated */
    TEST_EXPECT(f.ops->unlink(f.m, d, "e1") == 0);
    TEST_EXPECT(f.ops->rename(f.m, d, "e5", d, "e5b", 0) == 0);
    TEST_EXPECT(f.ops->unlink(f.m, d, "e7") == 0);
    TEST_EXPECT(mk(&f, d, "new", S_IFREG | 0644));
    struct listing r = {.max = 100, .last = cookie, .plus_ok = true};
    TEST_EXPECT(f.ops->readdir(f.m, d, cookie, false, collect, &r) == 0);
    TEST_EXPECT(r.n == 6 && r.plus_ok);
    TEST_EXPECT(strcmp(r.names[0], "e4") == 0 && strcmp(r.names[1], "e5b") == 0);
    TEST_EXPECT(strcmp(r.names[2], "e6") == 0 && strcmp(r.names[5], "new") == 0);
    struct listing p = {.max = 100, .plus_ok = true};
    TEST_EXPECT(f.ops->readdir(f.m, d, 0, true, count_plus, &p) == 0 && p.n == 9 && p.plus_ok);
    struct listing none = {.max = 100};
    TEST_EXPECT(f.ops->readdir(f.m, d, r.last, false, collect, &none) == 0 && none.n == 0);
    uint64_t file = mk(&f, d, "file", S_IFREG | 0644);
    TEST_EXPECT(f.ops->readdir(f.m, file, 0, false, collect, &none) == -ENOTDIR);
    TEST_EXPECT(f.ops->readdir(f.m, 999999, 0, false, collect, &none) == -ENOENT);
    fx_close(&f);
    return 0;
}

static int test_readdir_100k(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "big", S_IFDIR | 0755);
    enum { N = 100000 };
    char name[32];
    struct meta_attr a;
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "file-%06d", i);
        TEST_ASSERT(f.ops->mknod(f.m, &user, d, name, S_IFREG | 0644, 0, NULL, &a) == 0);
    }
    double t1 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "file-%06d", i);
        TEST_ASSERT(f.ops->lookup(f.m, d, name, &a) == 0);
    }
    double t2 = now_s();
    uint64_t ino0 = a.ino - N + 1;
    for (int i = 0; i < N; i++)
        TEST_ASSERT(f.ops->getattr(f.m, ino0 + (uint64_t)i, &a) == 0);
    double t3 = now_s();
    struct listing l = {.plus_ok = true};
    TEST_EXPECT(f.ops->readdir(f.m, d, 0, true, count_plus, &l) == 0);
    double t4 = now_s();
    TEST_EXPECT(l.n == N && l.plus_ok);
    printf("meta_sqlite single thread: %.0f mknod/s, %.0f lookup/s, %.0f getattr/s, %.0f readdirplus entries/s\n",
           N / (t1 - t0), N / (t2 - t1), N / (t3 - t2), N / (t4 - t3));
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "file-%06d", i);
        TEST_ASSERT(f.ops->unlink(f.m, d, name) == 0);
    }
    printf("meta_sqlite single thread: %.0f unlink/s\n", 1000 / (now_s() - t4));
    fx_close(&f);
    return 0;
}

/* 11 */
static int test_xattr(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    char buf[64];
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.a", buf, sizeof(buf)) == -ENODATA);
    TEST_EXPECT(f.ops->getxattr(f.m, 999999, "user.a", buf, sizeof(buf)) == -ENOENT);
    int64_t c0 = attr_of(&f, x).ctime;
    usleep(1000);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.a", "hello", 5, 0) == 0);
    TEST_EXPECT(attr_of(&f, x).ctime > c0);
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.a", NULL, 0) == 5);
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.a", buf, 4) == -ERANGE);
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.a", buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.a", "x", 1, META_XATTR_CREATE) == -EEXIST);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.b", "x", 1, META_XATTR_REPLACE) == -ENODATA);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.a", "bye", 3, META_XATTR_REPLACE) == 0);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.b", "", 0, META_XATTR_CREATE) == 0);
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.b", buf, sizeof(buf)) == 0);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.c", "x", 1, 3) == -EINVAL);
    TEST_EXPECT(f.ops->setxattr(f.m, 999999, "user.c", "x", 1, 0) == -ENOENT);
    char *huge = calloc(1, META_XATTR_SIZE_MAX + 1);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.h", huge, META_XATTR_SIZE_MAX + 1, 0) == -E2BIG);
    TEST_EXPECT(f.ops->setxattr(f.m, x, "user.h", huge, META_XATTR_SIZE_MAX, 0) == 0);
    free(huge);
    char longname[300];
    memset(longname, 'n', sizeof(longname));
    longname[256] = '\0';
    TEST_EXPECT(f.ops->setxattr(f.m, x, longname, "x", 1, 0) == -ERANGE);
    TEST_EXPECT(f.ops->getxattr(f.m, x, longname, buf, sizeof(buf)) == -ERANGE);
    /* "user.a\0user.b\0user.h\0" */
    TEST_EXPECT(f.ops->listxattr(f.m, x, NULL, 0) == 21);
    TEST_EXPECT(f.ops->listxattr(f.m, x, buf, 20) == -ERANGE);
    TEST_EXPECT(f.ops->listxattr(f.m, x, buf, sizeof(buf)) == 21 && memcmp(buf, "user.a\0user.b\0user.h", 21) == 0);
    TEST_EXPECT(f.ops->removexattr(f.m, x, "user.a") == 0);
    TEST_EXPECT(f.ops->removexattr(f.m, x, "user.a") == -ENODATA);
    TEST_EXPECT(f.ops->removexattr(f.m, 999999, "user.a") == -ENOENT);
    TEST_EXPECT(f.ops->listxattr(f.m, x, buf, sizeof(buf)) == 14);
    uint64_t y = mk(&f, ROOT, "y", S_IFREG | 0644);
    TEST_EXPECT(f.ops->listxattr(f.m, y, buf, sizeof(buf)) == 0);
    TEST_EXPECT(f.ops->listxattr(f.m, 999999, buf, sizeof(buf)) == -ENOENT);
    fx_close(&f);
    return 0;
}

/* 12 */
struct open_set {
    uint64_t ino[4];
    int calls;
};

static bool is_open_cb(void *arg, uint64_t ino)
{
    struct open_set *s = arg;
    s->calls++;
    for (int i = 0; i < 4; i++)
        if (s->ino[i] == ino)
            return true;
    return false;
}

static int count_slices(void *arg, uint64_t id, uint32_t size)
{
    (void)id;
    (void)size;
    (*(int *)arg)++;
    return 0;
}

static int deleted_slices(struct fx *f)
{
    int n = 0;
    f->ops->list_deleted_slices(f->m, 1000, count_slices, &n);
    return n;
}

static int write_slice(struct fx *f, uint64_t ino, uint32_t indx, uint32_t pos, uint32_t len)
{
    struct meta_slice s = {.pos = pos, .size = len, .off = 0, .len = len};
    struct meta_attr a;
    int rc = f->ops->new_slice_id(f->m, &s.id);
    return rc ? rc : f->ops->write(f->m, ino, indx, &s, 123456789, &a);
}

static int test_orphans(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    struct open_set open = {{0}, 0};
    f.ops->set_is_open(f.m, is_open_cb, &open);
    uint64_t sid;
    struct meta_session_info info = {"host", "/mnt", "test", 1};
    TEST_ASSERT(f.ops->new_session(f.m, &info, &sid) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644), y = mk(&f, ROOT, "y", S_IFREG | 0644);
    uint64_t z = mk(&f, ROOT, "z", S_IFREG | 0644);
    TEST_ASSERT(write_slice(&f, x, 0, 0, 1000) == 0 && write_slice(&f, y, 0, 0, 1000) == 0);
    open.ino[0] = x;
    open.ino[1] = z;
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "x") == 0 && open.calls == 1);
    struct meta_attr a;
    TEST_EXPECT(f.ops->getattr(f.m, x, &a) == 0 && a.nlink == 0 && a.size == 1000);
    TEST_EXPECT(lookup_errno(&f, ROOT, "x") == -ENOENT);
    TEST_EXPECT(deleted_slices(&f) == 0);
    TEST_EXPECT(write_slice(&f, x, 0, 1000, 10) == 0); /* still writable */
    TEST_EXPECT(f.ops->link(f.m, x, ROOT, "back", &a) == -ENOENT);
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "y") == 0); /* not open: gone now */
    TEST_EXPECT(f.ops->getattr(f.m, y, &a) == -ENOENT && deleted_slices(&f) == 1);
    TEST_EXPECT(f.ops->release_orphan(f.m, x) == 0);
    TEST_EXPECT(f.ops->getattr(f.m, x, &a) == -ENOENT && deleted_slices(&f) == 3);
    TEST_EXPECT(f.ops->release_orphan(f.m, x) == 0); /* idempotent */
    /* replaced by rename while open */
    uint64_t w = mk(&f, ROOT, "w", S_IFREG | 0644);
    TEST_EXPECT(f.ops->rename(f.m, ROOT, "w", ROOT, "z", 0) == 0);
    TEST_EXPECT(f.ops->getattr(f.m, z, &a) == 0 && a.nlink == 0);
    TEST_EXPECT(f.ops->lookup(f.m, ROOT, "z", &a) == 0 && a.ino == w);
    /* release of a still linked file does nothing */
    TEST_EXPECT(f.ops->release_orphan(f.m, w) == 0 && f.ops->getattr(f.m, w, &a) == 0);
    /* closing the session deletes what it kept */
    TEST_EXPECT(f.ops->close_session(f.m) == 0);
    TEST_EXPECT(f.ops->getattr(f.m, z, &a) == -ENOENT);
    struct meta_statfs s;
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.used_inodes == 2 && s.used_space == 0);
    f.ops->set_is_open(f.m, NULL, NULL);
    fx_close(&f);
    return 0;
}

/* 13 */
static int test_write_read_chunk(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644), d = mk(&f, ROOT, "d", S_IFDIR | 0755);
    struct meta_slice s1 = {.pos = 0, .size = 8192, .off = 0, .len = 8192}, *sl = NULL;
    struct meta_slice s2 = {.pos = 4096, .size = 100, .off = 10, .len = 50};
    TEST_ASSERT(f.ops->new_slice_id(f.m, &s1.id) == 0 && f.ops->new_slice_id(f.m, &s2.id) == 0);
    struct meta_attr a;
    TEST_EXPECT(f.ops->write(f.m, x, 0, &s1, 111, &a) == 0 && a.size == 8192 && a.mtime == 111 && a.ctime == 111);
    TEST_EXPECT(f.ops->write(f.m, x, 0, &s2, 222, &a) == 0 && a.size == 8192 && a.mtime == 222);
    TEST_EXPECT(f.ops->write(f.m, x, 2, &s2, 333, &a) == 0 && a.size == 2 * META_CHUNK_SIZE + 4096 + 50);
    size_t n = 0;
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 2);
    TEST_EXPECT(sl && sl[0].id == s1.id && sl[0].size == 8192 && sl[1].id == s2.id && sl[1].pos == 4096);
    TEST_EXPECT(sl && sl[1].off == 10 && sl[1].len == 50 && sl[1].size == 100);
    free(sl);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 1, &sl, &n) == 0 && n == 0 && sl == NULL);
    struct meta_slice bad = {.pos = META_CHUNK_SIZE - 10, .id = 5, .size = 20, .off = 0, .len = 20};
    TEST_EXPECT(f.ops->write(f.m, x, 0, &bad, 1, &a) == -EINVAL);
    bad = (struct meta_slice){.pos = 0, .id = 5, .size = 20, .off = 10, .len = 20};
    TEST_EXPECT(f.ops->write(f.m, x, 0, &bad, 1, &a) == -EINVAL);
    bad.len = 0;
    TEST_EXPECT(f.ops->write(f.m, x, 0, &bad, 1, &a) == -EINVAL);
    TEST_EXPECT(f.ops->write(f.m, d, 0, &s1, 1, &a) == -EISDIR);
    TEST_EXPECT(f.ops->write(f.m, 999999, 0, &s1, 1, &a) == -ENOENT);
    struct meta_statfs st;
    TEST_EXPECT(f.ops->statfs(f.m, &st) == 0 && st.used_space == 2 * META_CHUNK_SIZE + 8192);
    /* s2 is referenced twice: deleting the file frees every slice once */
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "x") == 0 && deleted_slices(&f) == 2);
    TEST_EXPECT(f.ops->statfs(f.m, &st) == 0 && st.used_space == 0);
    fx_close(&f);
    return 0;
}

/* 14 */
static int test_truncate(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    TEST_ASSERT(write_slice(&f, x, 0, 0, 1 << 20) == 0);
    TEST_ASSERT(write_slice(&f, x, 1, 0, 1 << 20) == 0);
    TEST_ASSERT(write_slice(&f, x, 3, 0, 4096) == 0);
    struct meta_attr in = {.size = 1000}, a;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &a) == 0 && a.size == 1000);
    struct meta_slice *sl = NULL;
    size_t n = 0;
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 2);
    TEST_EXPECT(sl && sl[1].id == 0 && sl[1].pos == 1000 && sl[1].len == META_CHUNK_SIZE - 1000);
    free(sl);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 1, &sl, &n) == 0 && n == 0);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 3, &sl, &n) == 0 && n == 0);
    TEST_EXPECT(deleted_slices(&f) == 2);
    struct meta_statfs st;
    TEST_EXPECT(f.ops->statfs(f.m, &st) == 0 && st.used_space == 4096);
    in.size = 5 * META_CHUNK_SIZE;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &a) == 0 && a.size == 5 * META_CHUNK_SIZE);
    TEST_EXPECT(f.ops->statfs(f.m, &st) == 0 && st.used_space == 5 * META_CHUNK_SIZE);
    /* to a chunk boundary: that chunk goes entirely, no hole needed */
    TEST_ASSERT(write_slice(&f, x, 1, 0, 4096) == 0);
    in.size = META_CHUNK_SIZE;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &a) == 0);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 1, &sl, &n) == 0 && n == 0 && deleted_slices(&f) == 3);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 2);
    free(sl);
    in.size = 0;
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &a) == 0 && a.size == 0);
    TEST_EXPECT(deleted_slices(&f) == 4 && f.ops->statfs(f.m, &st) == 0 && st.used_space == 0);
    uint64_t fifo = mk(&f, ROOT, "fifo", S_IFIFO | 0644);
    TEST_EXPECT(f.ops->setattr(f.m, &user, fifo, META_SET_SIZE, &in, &a) == -EINVAL);
    fx_close(&f);
    return 0;
}

/* 15 */
static int test_fallocate(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644), d = mk(&f, ROOT, "d", S_IFDIR | 0755);
    uint64_t fifo = mk(&f, ROOT, "p", S_IFIFO | 0644);
    struct meta_attr a;
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0, 0, 10000, &a) == 0 && a.size == 10000);
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0, 0, 100, &a) == 0 && a.size == 10000);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_KEEP_SIZE, 0, 1 << 20, &a) == 0 && a.size == 10000);
    TEST_ASSERT(write_slice(&f, x, 0, 0, 10000) == 0);
    int punch = META_FALLOC_PUNCH_HOLE | META_FALLOC_KEEP_SIZE;
    TEST_EXPECT(f.ops->fallocate(f.m, x, punch, 100, 200, &a) == 0 && a.size == 10000);
    struct meta_slice *sl = NULL;
    size_t n = 0;
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 2);
    TEST_EXPECT(sl && sl[1].id == 0 && sl[1].pos == 100 && sl[1].len == 200);
    free(sl);
    /* punching past the end changes nothing */
    TEST_EXPECT(f.ops->fallocate(f.m, x, punch, 20000, 200, &a) == 0);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 2);
    free(sl);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_ZERO_RANGE, 9000, 2000, &a) == 0 && a.size == 11000);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 0, &sl, &n) == 0 && n == 3);
    TEST_EXPECT(sl && sl[2].id == 0 && sl[2].pos == 9000 && sl[2].len == 1000);
    free(sl);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_ZERO_RANGE | META_FALLOC_KEEP_SIZE, 0, 50000, &a) == 0);
    TEST_EXPECT(a.size == 11000);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_PUNCH_HOLE, 0, 10, &a) == -EOPNOTSUPP);
    TEST_EXPECT(f.ops->fallocate(f.m, x, punch | META_FALLOC_ZERO_RANGE, 0, 10, &a) == -EOPNOTSUPP);
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0x08 /* COLLAPSE_RANGE */, 0, 4096, &a) == -EOPNOTSUPP);
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0x20 /* INSERT_RANGE */, 0, 4096, &a) == -EOPNOTSUPP);
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0, 0, 0, &a) == -EINVAL);
    TEST_EXPECT(f.ops->fallocate(f.m, d, 0, 0, 10, &a) == -EISDIR);
    TEST_EXPECT(f.ops->fallocate(f.m, fifo, 0, 0, 10, &a) == -ENODEV);
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0, UINT64_MAX - 5, 10, &a) == -EFBIG);
    /* a chunk-spanning zero range puts one hole per existing chunk */
    TEST_ASSERT(write_slice(&f, x, 1, 0, 4096) == 0);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_ZERO_RANGE, META_CHUNK_SIZE - 100, 200, &a) == 0);
    TEST_EXPECT(f.ops->read_chunk(f.m, x, 1, &sl, &n) == 0 && n == 2 && sl && sl[1].pos == 0 && sl[1].len == 100);
    free(sl);
    fx_close(&f);
    return 0;
}

/* 16 */
static int test_limits_statfs(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    struct meta_statfs s;
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0);
    TEST_EXPECT(s.total_space == (1ULL << 50) && s.avail_space == s.total_space && s.used_space == 0);
    TEST_EXPECT(s.used_inodes == 1 && s.total_inodes > 1000000000ULL && s.avail_inodes == s.total_inodes - 1);
    fx_close(&f);

    TEST_ASSERT(fx_open_limits(&f, 10 * MiB, 4) == 0);
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.total_space == 10 * MiB && s.avail_space == 10 * MiB);
    TEST_EXPECT(s.total_inodes == 4 && s.used_inodes == 1 && s.avail_inodes == 3);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    TEST_EXPECT(write_slice(&f, x, 0, 0, 1000) == 0);
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.used_space == 4096 && s.avail_space == 10 * MiB - 4096);
    TEST_EXPECT(write_slice(&f, x, 0, 1000, 10 * MiB) == -ENOSPC);
    TEST_EXPECT(write_slice(&f, x, 0, 0, 4096) == 0); /* within the rounded size */
    TEST_EXPECT(write_slice(&f, x, 0, 4096, 10 * MiB - 4096) == 0);
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.avail_space == 0);
    TEST_EXPECT(write_slice(&f, x, 0, 0, 100) == 0); /* overwrite: no growth */
    struct meta_attr a, in = {.size = 10 * MiB + 1};
    TEST_EXPECT(f.ops->fallocate(f.m, x, 0, 0, 10 * MiB + 1, &a) == -ENOSPC);
    TEST_EXPECT(f.ops->fallocate(f.m, x, META_FALLOC_KEEP_SIZE, 0, 10 * MiB + 1, &a) == -ENOSPC);
    TEST_EXPECT(f.ops->setattr(f.m, &user, x, META_SET_SIZE, &in, &a) == -ENOSPC);
    TEST_EXPECT(mk(&f, ROOT, "y", S_IFREG | 0644) && mk(&f, ROOT, "z", S_IFDIR | 0755));
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "w", S_IFREG | 0644, 0, NULL, &a) == -ENOSPC);
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0 && s.used_inodes == 4 && s.avail_inodes == 0);
    TEST_EXPECT(f.ops->unlink(f.m, ROOT, "y") == 0);
    TEST_EXPECT(mk(&f, ROOT, "w", S_IFREG | 0644) != 0);
    /* a new format raises the limits at once */
    char *j = format_json(0, 0);
    TEST_EXPECT(f.ops->set_setting(f.m, "format", j) == 0);
    free(j);
    TEST_EXPECT(mk(&f, ROOT, "v", S_IFREG | 0644) != 0);
    TEST_EXPECT(write_slice(&f, x, 0, 0, 20 * MiB) == 0);
    fx_close(&f);
    return 0;
}

/* 17 */
static int test_slice_ids(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t prev = 0, id = 0;
    for (int i = 0; i < 10000; i++) {
        TEST_ASSERT(f.ops->new_slice_id(f.m, &id) == 0);
        TEST_ASSERT(id > prev);
        prev = id;
    }
    TEST_ASSERT(fx_reopen(&f) == 0);
    TEST_EXPECT(f.ops->new_slice_id(f.m, &id) == 0 && id > prev);
    fx_close(&f);
    return 0;
}

/* 18 */
static int test_flock(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_RDLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 2, F_RDLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 3, F_WRLCK) == -EAGAIN);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_WRLCK) == -EAGAIN); /* 2 still shares */
    TEST_EXPECT(f.ops->flock(f.m, x, 2, F_UNLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_WRLCK) == 0); /* upgrade */
    TEST_EXPECT(f.ops->flock(f.m, x, 2, F_RDLCK) == -EAGAIN);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_WRLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_RDLCK) == 0); /* downgrade */
    TEST_EXPECT(f.ops->flock(f.m, x, 2, F_RDLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 1, F_UNLCK) == 0 && f.ops->flock(f.m, x, 2, F_UNLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 3, F_WRLCK) == 0);
    TEST_EXPECT(f.ops->flock(f.m, x, 9, F_UNLCK) == 0); /* unlocking nothing is fine */
    TEST_EXPECT(f.ops->flock(f.m, x, 3, 77) == -EINVAL);
    TEST_EXPECT(f.ops->flock(f.m, 999999, 3, F_RDLCK) == -ENOENT);
    fx_close(&f);
    return 0;
}

/* 19 */
static struct meta_plock plk(int type, uint64_t start, uint64_t end, uint32_t pid)
{
    return (struct meta_plock){.type = type, .start = start, .end = end, .pid = pid};
}

static int test_plock(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    struct meta_plock lk = plk(F_WRLCK, 0, 99, 11);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == 0);
    lk = plk(F_RDLCK, 50, 60, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0);
    TEST_EXPECT(lk.type == F_WRLCK && lk.start == 0 && lk.end == 99 && lk.pid == 11);
    lk = plk(F_RDLCK, 50, 60, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 1, &lk) == 0 && lk.type == F_UNLCK); /* own locks never conflict */
    lk = plk(F_RDLCK, 100, UINT64_MAX, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.type == F_UNLCK);
    lk = plk(F_RDLCK, 50, 60, 22);
    TEST_EXPECT(f.ops->setlk(f.m, x, 2, &lk) == -EAGAIN);
    /* unlock the middle: the range splits, the hole is free */
    lk = plk(F_UNLCK, 40, 59, 11);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == 0);
    lk = plk(F_WRLCK, 40, 59, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.type == F_UNLCK);
    lk = plk(F_WRLCK, 30, 45, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.type == F_WRLCK && lk.start == 0 && lk.end == 39);
    lk = plk(F_WRLCK, 55, 70, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.start == 60 && lk.end == 99);
    lk = plk(F_RDLCK, 40, 59, 22);
    TEST_EXPECT(f.ops->setlk(f.m, x, 2, &lk) == 0);
    lk = plk(F_RDLCK, 45, 50, 33);
    TEST_EXPECT(f.ops->setlk(f.m, x, 3, &lk) == 0); /* readers share */
    lk = plk(F_WRLCK, 45, 45, 11);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == -EAGAIN);
    TEST_EXPECT(f.ops->getlk(f.m, x, 1, &lk) == 0 && lk.type == F_RDLCK && lk.pid != 11);
    /* owner 1 re-locks its freed middle: its ranges merge into 0..99 again */
    lk = plk(F_UNLCK, 0, UINT64_MAX, 22);
    TEST_EXPECT(f.ops->setlk(f.m, x, 2, &lk) == 0);
    TEST_EXPECT(f.ops->setlk(f.m, x, 3, &lk) == 0);
    lk = plk(F_WRLCK, 40, 59, 11);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == 0);
    lk = plk(F_RDLCK, 10, 10, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.start == 0 && lk.end == 99);
    /* a read lock inside a write lock of the same owner converts that part */
    lk = plk(F_RDLCK, 20, 29, 11);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == 0);
    lk = plk(F_RDLCK, 20, 29, 22);
    TEST_EXPECT(f.ops->setlk(f.m, x, 2, &lk) == 0);
    lk = plk(F_RDLCK, 19, 20, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == 0 && lk.type == F_WRLCK && lk.end == 19);
    lk = plk(F_WRLCK, 5, 1, 22);
    TEST_EXPECT(f.ops->setlk(f.m, x, 2, &lk) == -EINVAL);
    lk = plk(F_UNLCK, 0, 1, 22);
    TEST_EXPECT(f.ops->getlk(f.m, x, 2, &lk) == -EINVAL);
    lk = plk(F_RDLCK, 0, 1, 22);
    TEST_EXPECT(f.ops->setlk(f.m, 999999, 2, &lk) == -ENOENT);
    fx_close(&f);
    return 0;
}

/* 20 */
struct session_seen {
    int n;
    uint64_t sids[8];
    bool info_ok;
};

static int session_cb(void *arg, uint64_t sid, int64_t hb, const char *info)
{
    struct session_seen *s = arg;
    if (s->n < 8)
        s->sids[s->n] = sid;
    s->n++;
    s->info_ok = s->info_ok && hb > 0 && strstr(info, "\"mountpoint\":\"/mnt/a\"") != NULL;
    return 0;
}

static int test_sessions(void)
{
    struct fx f, g;
    TEST_ASSERT(fx_open(&f) == 0);
    g = f; /* a second handle on the same file plays another mount */
    g.m = NULL;
    TEST_ASSERT(meta_open_url(g.url, &g.ops, &g.m) == 0);
    struct meta_session_info info = {"h", "/mnt/a", "1.0", 77};
    uint64_t s1 = 0, s2 = 0;
    TEST_EXPECT(f.ops->heartbeat(f.m) == -EINVAL);
    TEST_EXPECT(f.ops->new_session(f.m, &info, &s1) == 0 && s1 > 0);
    TEST_EXPECT(f.ops->new_session(f.m, &info, &s1) == -EEXIST);
    TEST_EXPECT(g.ops->new_session(g.m, &info, &s2) == 0 && s2 > s1);
    struct session_seen seen = {.info_ok = true};
    TEST_EXPECT(f.ops->list_sessions(f.m, session_cb, &seen) == 0 && seen.n == 2 && seen.info_ok);
    TEST_EXPECT(seen.sids[0] == s1 && seen.sids[1] == s2);
    TEST_EXPECT(f.ops->heartbeat(f.m) == 0);

    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    struct meta_plock lk = plk(F_WRLCK, 0, 10, 5);
    /* the same owner number in two sessions is two owners */
    TEST_EXPECT(g.ops->setlk(g.m, x, 1, &lk) == 0 && g.ops->flock(g.m, x, 1, F_WRLCK) == 0);
    TEST_EXPECT(f.ops->setlk(f.m, x, 1, &lk) == -EAGAIN && f.ops->flock(f.m, x, 1, F_RDLCK) == -EAGAIN);
    /* g keeps an unlinked file open, then dies */
    struct open_set open = {{x}, 0};
    g.ops->set_is_open(g.m, is_open_cb, &open);
    TEST_EXPECT(g.ops->unlink(g.m, ROOT, "x") == 0);
    struct meta_attr a;
    TEST_EXPECT(f.ops->getattr(f.m, x, &a) == 0 && a.nlink == 0);
    usleep(20000);
    TEST_EXPECT(f.ops->heartbeat(f.m) == 0);
    TEST_EXPECT(f.ops->clean_sessions(f.m, 10000000) == 0); /* 10 ms */
    TEST_EXPECT(f.ops->getattr(f.m, x, &a) == -ENOENT);
    seen = (struct session_seen){.info_ok = true};
    TEST_EXPECT(f.ops->list_sessions(f.m, session_cb, &seen) == 0 && seen.n == 1 && seen.sids[0] == s1);
    TEST_EXPECT(g.ops->heartbeat(g.m) == -ENOENT);
    /* locks of the cleaned session are gone; ours go with close_session */
    uint64_t y = mk(&f, ROOT, "y", S_IFREG | 0644);
    TEST_EXPECT(f.ops->setlk(f.m, y, 1, &lk) == 0 && f.ops->flock(f.m, y, 1, F_WRLCK) == 0);
    TEST_EXPECT(f.ops->clean_sessions(f.m, 0) == 0); /* never our own */
    TEST_EXPECT(f.ops->heartbeat(f.m) == 0);
    TEST_EXPECT(f.ops->close_session(f.m) == 0);
    uint64_t s3;
    TEST_EXPECT(f.ops->new_session(f.m, &info, &s3) == 0 && s3 > s2);
    TEST_EXPECT(f.ops->setlk(f.m, y, 2, &lk) == 0 && f.ops->flock(f.m, y, 2, F_WRLCK) == 0);
    TEST_EXPECT(f.ops->clean_sessions(f.m, -1) == -EINVAL);
    g.ops->close(g.m);
    fx_close(&f);
    return 0;
}

/* 21 */
struct del_seen {
    uint64_t id[8];
    uint32_t size[8];
    int n;
};

static int del_cb(void *arg, uint64_t id, uint32_t size)
{
    struct del_seen *d = arg;
    if (d->n < 8) {
        d->id[d->n] = id;
        d->size[d->n] = size;
    }
    d->n++;
    return 0;
}

static int test_deleted_slices(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t x = mk(&f, ROOT, "x", S_IFREG | 0644);
    TEST_ASSERT(write_slice(&f, x, 0, 0, 111) == 0 && write_slice(&f, x, 0, 0, 222) == 0);
    TEST_ASSERT(write_slice(&f, x, 1, 0, 333) == 0);
    TEST_ASSERT(f.ops->unlink(f.m, ROOT, "x") == 0);
    struct del_seen d = {0};
    TEST_EXPECT(f.ops->list_deleted_slices(f.m, 2, del_cb, &d) == 0 && d.n == 2);
    TEST_EXPECT(d.size[0] == 111 && d.size[1] == 222 && d.id[0] < d.id[1]);
    TEST_EXPECT(f.ops->ack_deleted_slice(f.m, d.id[0], d.size[0]) == 0);
    TEST_EXPECT(f.ops->ack_deleted_slice(f.m, d.id[0], d.size[0]) == -ENOENT);
    TEST_EXPECT(f.ops->ack_deleted_slice(f.m, d.id[1], 1) == -ENOENT);
    d.n = 0;
    TEST_EXPECT(f.ops->list_deleted_slices(f.m, 100, del_cb, &d) == 0 && d.n == 2 && d.size[1] == 333);
    fx_close(&f);
    return 0;
}

/* 22 */
struct worker {
    struct fx *f;
    uint64_t dir;
    int id;
    int unexpected;
};

enum { WORKERS = 6, ROUNDS = 300 };

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char a[32], b[32], shared[32];
    struct meta_attr at;
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(a, sizeof(a), "w%d-%d", w->id, i);
        snprintf(b, sizeof(b), "w%d-%d-renamed", w->id, i);
        snprintf(shared, sizeof(shared), "shared-%d", i % 7);
        if (w->f->ops->mknod(w->f->m, &user, w->dir, a, S_IFREG | 0644, 0, NULL, &at))
            w->unexpected++;
        if (w->f->ops->rename(w->f->m, w->dir, a, w->dir, b, 0))
            w->unexpected++;
        if (w->f->ops->getattr(w->f->m, at.ino, &at))
            w->unexpected++;
        /* contended names: only EEXIST/ENOENT may happen */
        int rc = w->f->ops->mknod(w->f->m, &user, w->dir, shared, S_IFREG | 0644, 0, NULL, &at);
        if (rc && rc != -EEXIST)
            w->unexpected++;
        rc = w->f->ops->rename(w->f->m, w->dir, shared, w->dir, "shared-target", 0);
        if (rc && rc != -ENOENT)
            w->unexpected++;
        rc = w->f->ops->unlink(w->f->m, w->dir, "shared-target");
        if (rc && rc != -ENOENT)
            w->unexpected++;
    }
    return NULL;
}

static int count_entries(void *arg, const char *name, const struct meta_attr *attr, uint64_t next)
{
    (void)attr;
    (void)next;
    if (strstr(name, "-renamed"))
        (*(int *)arg)++;
    return 0;
}

static int test_concurrency(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "busy", S_IFDIR | 0755);
    pthread_t t[WORKERS];
    struct worker w[WORKERS];
    double t0 = now_s();
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){&f, d, i, 0};
        TEST_ASSERT(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    int unexpected = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        unexpected += w[i].unexpected;
    }
    printf("meta_sqlite %d threads: %.0f namespace ops/s\n", WORKERS, WORKERS * ROUNDS * 6 / (now_s() - t0));
    TEST_EXPECT(unexpected == 0);
    int renamed = 0;
    TEST_EXPECT(f.ops->readdir(f.m, d, 0, false, count_entries, &renamed) == 0 && renamed == WORKERS * ROUNDS);
    struct meta_statfs s;
    int shared_left = 0;
    char name[32];
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "shared-%d", i);
        shared_left += lookup_errno(&f, d, name) == 0;
    }
    shared_left += lookup_errno(&f, d, "shared-target") == 0;
    TEST_EXPECT(f.ops->statfs(f.m, &s) == 0);
    TEST_EXPECT(s.used_inodes == (uint64_t)(2 + WORKERS * ROUNDS + shared_left));
    fx_close(&f);
    return 0;
}

/* 23 */
struct holder {
    const char *path;
    int rc;
};

static void *hold_write_lock(void *arg)
{
    struct holder *h = arg;
    sqlite3 *db = NULL;
    h->rc = sqlite3_open(h->path, &db);
    if (h->rc == SQLITE_OK)
        h->rc = sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE counter SET value = value WHERE name = 'usedSpace'",
                             NULL, NULL, NULL);
    usleep(700000); /* longer than the engine's busy_timeout */
    if (h->rc == SQLITE_OK)
        h->rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static int test_contention(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/meta.db", f.dir);
    struct holder h = {path, 0};
    pthread_t t;
    TEST_ASSERT(pthread_create(&t, NULL, hold_write_lock, &h) == 0);
    usleep(100000);
    double t0 = now_s();
    struct meta_attr a;
    TEST_EXPECT(f.ops->getattr(f.m, ROOT, &a) == 0); /* readers are not blocked */
    double t1 = now_s();
    TEST_EXPECT(f.ops->mknod(f.m, &user, ROOT, "waited", S_IFREG | 0644, 0, NULL, &a) == 0);
    double t2 = now_s();
    pthread_join(t, NULL);
    TEST_EXPECT(h.rc == SQLITE_OK);
    TEST_EXPECT(t1 - t0 < 0.1 && t2 - t1 > 0.3);
    TEST_EXPECT(lookup_errno(&f, ROOT, "waited") == 0);
    fx_close(&f);
    return 0;
}

/* 24 */
static int test_durability(void)
{
    struct fx f;
    TEST_ASSERT(fx_open(&f) == 0);
    uint64_t d = mk(&f, ROOT, "d", S_IFDIR | 0755), x = mk(&f, d, "x", S_IFREG | 0644);
    TEST_ASSERT(write_slice(&f, x, 0, 0, 5000) == 0);
    TEST_ASSERT(f.ops->setxattr(f.m, x, "user.k", "v", 1, 0) == 0);
    enum { SYNCS = 200 };
    double t0 = now_s();
    for (int i = 0; i < SYNCS; i++) {
        TEST_ASSERT(mk(&f, d, "", 0) == 0); /* an invalid name changes nothing */
        char name[32];
        snprintf(name, sizeof(name), "s%d", i);
        TEST_ASSERT(mk(&f, d, name, S_IFREG | 0644) != 0);
        TEST_ASSERT(f.ops->sync(f.m) == 0);
    }
    double t1 = now_s();
    for (int i = 0; i < SYNCS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%d", i);
        TEST_ASSERT(mk(&f, d, name, S_IFREG | 0644) != 0);
    }
    double t2 = now_s();
    printf("meta_sqlite: mknod+sync %.0f us, mknod alone %.0f us\n", (t1 - t0) / SYNCS * 1e6,
           (t2 - t1) / SYNCS * 1e6);
    TEST_ASSERT(fx_reopen(&f) == 0);
    struct meta_attr a;
    TEST_EXPECT(f.ops->lookup(f.m, d, "x", &a) == 0 && a.ino == x && a.size == 5000);
    char buf[8];
    TEST_EXPECT(f.ops->getxattr(f.m, x, "user.k", buf, sizeof(buf)) == 1);
    /* inode numbers keep growing after a reopen: never reused */
    uint64_t y = mk(&f, d, "y", S_IFREG | 0644);
    TEST_EXPECT(y > x);
    fx_close(&f);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_url_dispatch), UNIT_TEST(test_init_settings), UNIT_TEST(test_open_never_writes), UNIT_TEST(test_mknod_types),
          UNIT_TEST(test_lookup_getattr), UNIT_TEST(test_setattr), UNIT_TEST(test_setgid_dirs), UNIT_TEST(test_link),
          UNIT_TEST(test_unlink_rmdir), UNIT_TEST(test_rename), UNIT_TEST(test_readdir_paging),
          UNIT_TEST(test_readdir_100k), UNIT_TEST(test_xattr), UNIT_TEST(test_orphans),
          UNIT_TEST(test_write_read_chunk), UNIT_TEST(test_truncate), UNIT_TEST(test_fallocate),
          UNIT_TEST(test_limits_statfs), UNIT_TEST(test_slice_ids), UNIT_TEST(test_flock), UNIT_TEST(test_plock),
          UNIT_TEST(test_sessions), UNIT_TEST(test_deleted_slices), UNIT_TEST(test_concurrency),
          UNIT_TEST(test_contention), UNIT_TEST(test_durability))
