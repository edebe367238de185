/* SPDX-License-Identifier: Apache-2.0
 *
 * csi_volume against the real SQLite metadata engine: PV directories,
 * recursive delete of big and deep trees, symlink-free resolution, the
 * capacity seam, and opening by secrets (name check, unformatted volume).
 */
#include "csi_volume.h"
#include "meta/format.h"
#include "meta/meta.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/tidefs-csi-volume-XXXXXX";
static char url[256];

static int format_volume(void)
{
    const struct meta_ops *ops;
    struct meta *m;
    struct format f;
    char *json;
    int rc;

    format_init_defaults(&f);
    snprintf(f.name, sizeof(f.name), "testvol");
    free(f.bucket);
    f.bucket = strdup(dir);
    json = format_to_json(&f, false);
    format_clear(&f);
    rc = meta_open_url(url, &ops, &m);
    if (rc == 0)
        rc = ops->init(m, json, false);
    ops->close(m);
    free(json);
    return rc;
}

static int setup(void)
{
    if (!mkdtemp(dir))
        return -errno;
    snprintf(url, sizeof(url), "sqlite3://%s/meta.db", dir);
    return format_volume();
}

/* a raw engine connection to build trees the way the daemon would */
struct raw {
    const struct meta_ops *ops;
    struct meta *m;
    struct meta_ctx ctx;
};

static uint64_t mk(struct raw *r, uint64_t parent, const char *name, uint32_t mode, const char *target)
{
    struct meta_attr a;

    if (r->ops->mknod(r->m, &r->ctx, parent, name, mode, 0, target, &a) != 0)
        return 0;
    return a.ino;
}

static int test_open_checks_name_and_format(void)
{
    struct csi_volume *v = NULL;
    char err[256], other[300];

    TEST_ASSERT(csi_volume_open(url, "testvol", &v, err, sizeof(err)) == 0);
    csi_volume_close(v);
    TEST_EXPECT(csi_volume_open(url, "othervol", &v, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(strstr(err, "name") != NULL && strstr(err, url) == NULL);
    snprintf(other, sizeof(other), "sqlite3://%s/empty.db", dir);
    TEST_EXPECT(csi_volume_open(other, NULL, &v, err, sizeof(err)) == -ENOMEDIUM);
    TEST_EXPECT(csi_volume_open("nosuch://x", NULL, &v, err, sizeof(err)) == -EINVAL);
    return 0;
}

static int test_mkdir_is_idempotent(void)
{
    struct csi_volume *v;
    char err[256];
    bool created;

    TEST_ASSERT(csi_volume_open(url, NULL, &v, err, sizeof(err)) == 0);
    TEST_EXPECT(csi_volume_mkdir(v, "pv-a", &created) == 0 && created);
    TEST_EXPECT(csi_volume_mkdir(v, "pv-a", &created) == 0 && !created);
    TEST_EXPECT(csi_volume_dir_exists(v, "pv-a") == 0);
    TEST_EXPECT(csi_volume_dir_exists(v, "pv-none") == -ENOENT);
    csi_volume_close(v);
    return 0;
}

static int test_rmtree_big_and_deep(void)
{
    struct raw r = {.ctx = {0, 0, 1}};
    struct csi_volume *v;
    char err[256], name[32];
    uint64_t pv, d;
    bool created;

    TEST_ASSERT(meta_open_url(url, &r.ops, &r.m) == 0);
    TEST_ASSERT(csi_volume_open(url, NULL, &v, err, sizeof(err)) == 0);
    TEST_ASSERT(csi_volume_mkdir(v, "pv-big", &created) == 0);
    struct meta_attr a;

    TEST_ASSERT(r.ops->lookup(r.m, META_ROOT_INO, "pv-big", &a) == 0);
    pv = a.ino;
    for (int i = 0; i < 700; i++) { /* several readdir batches */
        snprintf(name, sizeof(name), "f%d", i);
        TEST_ASSERT(mk(&r, pv, name, S_IFREG | 0644, NULL));
    }
    TEST_ASSERT(mk(&r, pv, "link", S_IFLNK | 0777, "/etc/passwd"));
    d = pv;
    for (int i = 0; i < 300; i++) { /* deep chain with a file at each level */
        d = mk(&r, d, "d", S_IFDIR | 0755, NULL);
        TEST_ASSERT(d && mk(&r, d, "x", S_IFREG | 0644, NULL));
    }
    TEST_EXPECT(csi_volume_rmtree(v, "pv-big") == 0);
    TEST_EXPECT(csi_volume_dir_exists(v, "pv-big") == -ENOENT);
    TEST_EXPECT(csi_volume_rmtree(v, "pv-big") == 0); /* absent: fine */
    /* the rest of the volume is untouched */
    TEST_EXPECT(csi_volume_dir_exists(v, "pv-a") == 0);
    csi_volume_close(v);
    r.ops->close(r.m);
    return 0;
}

static int test_resolve_refuses_symlinks(void)
{
    struct raw r = {.ctx = {0, 0, 1}};
    struct csi_volume *v;
    char err[256];
    uint64_t top, ino;

    TEST_ASSERT(meta_open_url(url, &r.ops, &r.m) == 0);
    TEST_ASSERT(csi_volume_open(url, NULL, &v, err, sizeof(err)) == 0);
    top = mk(&r, META_ROOT_INO, "res", S_IFDIR | 0755, NULL);
    TEST_ASSERT(top && mk(&r, top, "sub", S_IFDIR | 0755, NULL));
    TEST_ASSERT(mk(&r, top, "esc", S_IFLNK | 0777, "/"));
    TEST_ASSERT(mk(&r, top, "file", S_IFREG | 0644, NULL));
    TEST_EXPECT(csi_volume_resolve(v, "/", &ino) == 0 && ino == META_ROOT_INO);
    TEST_EXPECT(csi_volume_resolve(v, "/res/sub", &ino) == 0 && ino != top);
    TEST_EXPECT(csi_volume_resolve(v, "/res/esc", &ino) == -ELOOP);
    TEST_EXPECT(csi_volume_resolve(v, "/res/esc/sub", &ino) == -ELOOP);
    TEST_EXPECT(csi_volume_resolve(v, "/res/file", &ino) == -ENOTDIR);
    TEST_EXPECT(csi_volume_resolve(v, "/res/none", &ino) == -ENOENT);
    csi_volume_close(v);
    r.ops->close(r.m);
    return 0;
}

static int test_quota_seam(void)
{
    struct csi_volume *v;
    char err[256];
    uint64_t b = 0;

    TEST_ASSERT(csi_volume_open(url, NULL, &v, err, sizeof(err)) == 0);
    bool created;

    TEST_EXPECT(csi_volume_quota_get(v, "pv-q", &b) == -ENOENT);
    TEST_EXPECT(csi_volume_quota_set(v, "pv-q", 1) == -ENOENT); /* a quota needs its directory */
    TEST_ASSERT(csi_volume_mkdir(v, "pv-q", &created) == 0);
    TEST_EXPECT(csi_volume_quota_get(v, "pv-q", &b) == -ENOENT);
    TEST_EXPECT(csi_volume_quota_set(v, "pv-q", 5ULL << 30) == 0);
    TEST_EXPECT(csi_volume_quota_get(v, "pv-q", &b) == 0 && b == 5ULL << 30);
    TEST_EXPECT(csi_volume_quota_set(v, "pv-q", 0) == 0);
    TEST_EXPECT(csi_volume_quota_get(v, "pv-q", &b) == 0 && b == 0);
    TEST_EXPECT(csi_volume_quota_clear(v, "pv-q") == 0);
    TEST_EXPECT(csi_volume_quota_get(v, "pv-q", &b) == -ENOENT);
    TEST_EXPECT(csi_volume_quota_clear(v, "pv-q") == 0);
    csi_volume_close(v);
    return 0;
}

static int test_setup(void)
{
    TEST_ASSERT(setup() == 0);
    return 0;
}

static int test_cleanup(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    TEST_EXPECT(system(cmd) == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_setup), UNIT_TEST(test_open_checks_name_and_format), UNIT_TEST(test_mkdir_is_idempotent),
          UNIT_TEST(test_rmtree_big_and_deep), UNIT_TEST(test_resolve_refuses_symlinks), UNIT_TEST(test_quota_seam),
          UNIT_TEST(test_cleanup))
