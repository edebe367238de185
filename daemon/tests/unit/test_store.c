/* SPDX-License-Identifier: Apache-2.0
 *
 * The object store dispatcher and the "file" backend, on a real temp dir:
 *  1. unknown storage type is refused with a reason
 *  2. put/get/head/del round trip, ranged and short gets, ENOENT cases
 *  3. put replaces atomically and leaves no temp files behind
 *  4. list: lexical order across subdirectories, prefix, start_after, stop
 *  5. invalid keys are refused
 *  6. check creates the directory and leaves it empty
 *  7. page-aligned puts (written around the page cache) with a short tail
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "object/store.h"
#include "unit.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *open_tmp_store(char *dir)
{
    struct store *s = NULL;
    char err[256];
    strcpy(dir, "/tmp/tidefs-store-XXXXXX");
    if (!mkdtemp(dir))
        return NULL;
    struct store_options opt = {.storage = "file", .bucket = dir};
    if (store_open(&opt, &s, err, sizeof(err)) < 0)
        return NULL;
    return s;
}

static int test_unknown_storage(void)
{
    struct store *s = (struct store *)1;
    char err[256] = "";
    struct store_options opt = {.storage = "ftp", .bucket = "/tmp"};
    TEST_EXPECT(store_open(&opt, &s, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(s == NULL);
    TEST_EXPECT(strstr(err, "ftp") != NULL);
    return 0;
}

static int test_put_get(void)
{
    char dir[64], buf[64];
    size_t got;
    uint64_t size;
    struct store *s = open_tmp_store(dir);
    TEST_ASSERT(s);
    TEST_EXPECT(store_put(s, "vol/chunks/0/0/1_0_10", "0123456789", 10) == 0);
    TEST_EXPECT(store_get(s, "vol/chunks/0/0/1_0_10", 0, 10, buf, &got) == 0 && got == 10);
    TEST_EXPECT(memcmp(buf, "0123456789", 10) == 0);
    TEST_EXPECT(store_get(s, "vol/chunks/0/0/1_0_10", 3, 4, buf, &got) == 0 && got == 4);
    TEST_EXPECT(memcmp(buf, "3456", 4) == 0);
    TEST_EXPECT(store_get(s, "vol/chunks/0/0/1_0_10", 8, 60, buf, &got) == 0 && got == 2);
    TEST_EXPECT(store_get(s, "vol/chunks/0/0/1_0_10", 20, 5, buf, &got) == 0 && got == 0);
    TEST_EXPECT(store_head(s, "vol/chunks/0/0/1_0_10", &size) == 0 && size == 10);
    TEST_EXPECT(store_get(s, "vol/missing", 0, 5, buf, &got) == -ENOENT);
    TEST_EXPECT(store_head(s, "vol/missing", &size) == -ENOENT);
    TEST_EXPECT(store_head(s, "vol/chunks", &size) == -ENOENT); /* a directory is no object */
    TEST_EXPECT(store_del(s, "vol/chunks/0/0/1_0_10") == 0);
    TEST_EXPECT(store_del(s, "vol/chunks/0/0/1_0_10") == 0);
    TEST_EXPECT(store_head(s, "vol/chunks/0/0/1_0_10", &size) == -ENOENT);
    TEST_EXPECT(store_put(s, "empty", "", 0) == 0);
    TEST_EXPECT(store_head(s, "empty", &size) == 0 && size == 0);
    store_free(s);
    rm_rf(dir);
    return 0;
}

static int count_fn(void *arg, const char *key, uint64_t size, int64_t mtime)
{
    (void)key, (void)size, (void)mtime;
    (*(int *)arg)++;
    return 0;
}

static int test_put_replaces(void)
{
    char dir[64], buf[16];
    size_t got;
    int n = 0;
    struct store *s = open_tmp_store(dir);
    TEST_ASSERT(s);
    TEST_EXPECT(store_put(s, "a/b", "first", 5) == 0);
    TEST_EXPECT(store_put(s, "a/b", "2nd", 3) == 0);
    TEST_EXPECT(store_get(s, "a/b", 0, sizeof(buf), buf, &got) == 0 && got == 3 && !memcmp(buf, "2nd", 3));
    TEST_EXPECT(store_list(s, "", NULL, count_fn, &n) == 0 && n == 1);
    char path[128];
    snprintf(path, sizeof(path), "%s/a", dir);
    struct stat st;
    TEST_EXPECT(stat(path, &st) == 0 && st.st_nlink == 2); /* no stray temp dirs */
    store_free(s);
    rm_rf(dir);
    return 0;
}

struct collect {
    char keys[32][64];
    int n;
    int stop_after;
};

static int collect_fn(void *arg, const char *key, uint64_t size, int64_t mtime)
{
    struct collect *c = arg;
    (void)size;
    if (mtime <= 0)
        return 1;
    snprintf(c->keys[c->n++], 64, "%s", key);
    return c->stop_after && c->n >= c->stop_after;
}

static int test_list(void)
{
    char dir[64];
    struct store *s = open_tmp_store(dir);
    static const char *const keys[] = {"v/c/1_0_5", "v/c.b", "v/c/2_0_5", "v/c/10_0_5", "v/d", "v/c0",
                                        "w/x/y/z", "v/a"};
    static const char *const sorted[] = {"v/a", "v/c.b", "v/c/10_0_5", "v/c/1_0_5", "v/c/2_0_5", "v/c0",
                                         "v/d", "w/x/y/z"};
    TEST_ASSERT(s);
    for (size_t i = 0; i < 8; i++)
        TEST_ASSERT(store_put(s, keys[i], "x", 1) == 0);

    struct collect c = {0};
    TEST_EXPECT(store_list(s, "", NULL, collect_fn, &c) == 0 && c.n == 8);
    for (int i = 0; i < c.n && i < 8; i++)
        TEST_EXPECT(strcmp(c.keys[i], sorted[i]) == 0);

    memset(&c, 0, sizeof(c));
    TEST_EXPECT(store_list(s, "v/c", NULL, collect_fn, &c) == 0 && c.n == 5);
    TEST_EXPECT(c.n == 5 && !strcmp(c.keys[0], "v/c.b") && !strcmp(c.keys[4], "v/c0"));

    memset(&c, 0, sizeof(c));
    TEST_EXPECT(store_list(s, "v/c/", "v/c/10_0_5", collect_fn, &c) == 0 && c.n == 2);
    TEST_EXPECT(c.n == 2 && !strcmp(c.keys[0], "v/c/1_0_5"));

    memset(&c, 0, sizeof(c));
    TEST_EXPECT(store_list(s, "", "v/c/2_0_5", collect_fn, &c) == 0 && c.n == 3);
    TEST_EXPECT(c.n == 3 && !strcmp(c.keys[0], "v/c0") && !strcmp(c.keys[2], "w/x/y/z"));

    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    TEST_EXPECT(store_list(s, "", NULL, collect_fn, &c) == 0 && c.n == 2);

    memset(&c, 0, sizeof(c));
    TEST_EXPECT(store_list(s, "nothing/here/", NULL, collect_fn, &c) == 0 && c.n == 0);
    store_free(s);
    rm_rf(dir);
    return 0;
}

static int test_bad_keys(void)
{
    char dir[64];
    struct store *s = open_tmp_store(dir);
    TEST_ASSERT(s);
    static const char *const bad[] = {"", "/abs", "a//b", "a/../b", "..", "a/./b", "trail/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        TEST_EXPECT(store_put(s, bad[i], "x", 1) == -EINVAL);
    store_free(s);
    rm_rf(dir);
    return 0;
}

static int test_check(void)
{
    char dir[64], sub[128], err[256] = "";
    struct store *s = NULL;
    int n = 0;
    strcpy(dir, "/tmp/tidefs-store-XXXXXX");
    TEST_ASSERT(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/deep/bucket/", dir);
    struct store_options opt = {.bucket = sub};
    TEST_ASSERT(store_open(&opt, &s, err, sizeof(err)) == 0);
    TEST_EXPECT(store_check(s, err, sizeof(err)) == 0);
    TEST_EXPECT(store_list(s, "", NULL, count_fn, &n) == 0 && n == 0);
    store_free(s);

    /* a bucket path below a regular file cannot work */
    snprintf(sub, sizeof(sub), "%s/file", dir);
    FILE *f = fopen(sub, "w");
    TEST_ASSERT(f);
    fclose(f);
    snprintf(sub, sizeof(sub), "%s/file/bucket", dir);
    TEST_ASSERT(store_open(&opt, &s, err, sizeof(err)) == 0);
    TEST_EXPECT(store_check(s, err, sizeof(err)) == -ENOTDIR);
    TEST_EXPECT(strstr(err, "file/bucket") != NULL);
    store_free(s);
    rm_rf(dir);
    return 0;
}

static int test_aligned_put(void)
{
    char dir[64];
    struct store *s = open_tmp_store(dir);
    TEST_ASSERT(s);
    size_t cap = 1 << 20;
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *back = malloc(cap);
    TEST_ASSERT(buf != MAP_FAILED && back);
    for (size_t i = 0; i < cap; i++)
        buf[i] = (char)(i * 7 + i / 4096);
    static const size_t lens[] = {4096, 3 * 4096 + 100, 1 << 20, 4095};
    for (size_t k = 0; k < 4; k++) {
        size_t got = 0;
        uint64_t size = 0;
        TEST_EXPECT(store_put(s, "v/aligned", buf, lens[k]) == 0);
        TEST_EXPECT(store_head(s, "v/aligned", &size) == 0 && size == lens[k]);
        TEST_EXPECT(store_get(s, "v/aligned", 0, cap, back, &got) == 0 && got == lens[k]);
        TEST_EXPECT(memcmp(buf, back, lens[k]) == 0);
    }
    munmap(buf, cap);
    free(back);
    store_free(s);
    rm_rf(dir);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_aligned_put), UNIT_TEST(test_unknown_storage), UNIT_TEST(test_put_get), UNIT_TEST(test_put_replaces),
          UNIT_TEST(test_list), UNIT_TEST(test_bad_keys), UNIT_TEST(test_check))
