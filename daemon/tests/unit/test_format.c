/* SPDX-License-Identifier: Apache-2.0
 *
 * A volume's format settings (meta/format.c). Covers:
 *   1. defaults: storage file, 4 MiB blocks, no compression, trash 0,
 *      unlimited capacity/inodes, a fresh v4 uuid each time
 *   2. JSON round trip of every field; secrets masked on request
 *   3. parsing: absent keys keep defaults, unknown keys ignored, wrong types,
 *      over-long strings, duplicates and non-objects refused
 *   4. validation of every field with its one-line reason
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/format.h"
#include "tests/unit/unit.h"

static void valid_format(struct format *f)
{
    format_init_defaults(f);
    strcpy(f->name, "my-vol-1");
    f->bucket = strdup("/var/tidefs/data");
}

/* 1 */
static int test_defaults(void)
{
    struct format a, b;
    format_init_defaults(&a);
    format_init_defaults(&b);
    TEST_EXPECT(strcmp(a.storage, "file") == 0 && strcmp(a.compress, "none") == 0);
    TEST_EXPECT(a.block_size == 4U << 20 && a.trash_days == 0 && a.capacity == 0 && a.inodes == 0);
    TEST_EXPECT(a.version == FORMAT_VERSION && a.bucket == NULL && a.secret_key == NULL);
    TEST_EXPECT(strlen(a.uuid) == 36 && a.uuid[14] == '4' && strchr("89ab", a.uuid[19]) != NULL);
    TEST_EXPECT(strcmp(a.uuid, b.uuid) != 0);
    format_clear(&a);
    format_clear(&b);
    format_clear(NULL);
    return 0;
}

/* 2 */
static int test_round_trip(void)
{
    struct format f, g;
    valid_format(&f);
    strcpy(f.storage, "s3");
    strcpy(f.compress, "zstd");
    f.access_key = strdup("AKID");
    f.secret_key = strdup("s3cr3t-value");
    f.session_token = strdup("tok3n-value");
    f.region = strdup("eu-west-1");
    f.block_size = 1U << 20;
    f.trash_days = 3;
    f.capacity = 5ULL << 40;
    f.inodes = 123456789;
    char *j = format_to_json(&f, false);
    TEST_ASSERT(j != NULL);
    TEST_EXPECT(format_from_json(j, &g) == 0);
    TEST_EXPECT(strcmp(g.name, f.name) == 0 && strcmp(g.uuid, f.uuid) == 0 && strcmp(g.storage, "s3") == 0);
    TEST_EXPECT(g.bucket && strcmp(g.bucket, f.bucket) == 0 && g.access_key && strcmp(g.access_key, "AKID") == 0);
    TEST_EXPECT(g.secret_key && strcmp(g.secret_key, "s3cr3t-value") == 0);
    TEST_EXPECT(g.session_token && strcmp(g.session_token, "tok3n-value") == 0);
    TEST_EXPECT(g.region && strcmp(g.region, "eu-west-1") == 0 && strcmp(g.compress, "zstd") == 0);
    TEST_EXPECT(g.block_size == 1U << 20 && g.trash_days == 3 && g.capacity == 5ULL << 40);
    TEST_EXPECT(g.inodes == 123456789 && g.version == FORMAT_VERSION);
    format_clear(&g);
    free(j);
    j = format_to_json(&f, true);
    TEST_ASSERT(j != NULL);
    TEST_EXPECT(strstr(j, "s3cr3t") == NULL && strstr(j, "tok3n") == NULL && strstr(j, "****") != NULL);
    TEST_EXPECT(strstr(j, "AKID") != NULL);
    free(j);
    format_clear(&f);
    return 0;
}

/* 3 */
static int test_parse(void)
{
    struct format f;
    TEST_EXPECT(format_from_json("{\"name\":\"abc\",\"extra\":[1,2]}", &f) == 0);
    TEST_EXPECT(strcmp(f.name, "abc") == 0 && f.block_size == 4U << 20 && strcmp(f.storage, "file") == 0);
    TEST_EXPECT(f.uuid[0] == '\0' && f.bucket == NULL);
    format_clear(&f);
    TEST_EXPECT(format_from_json("{\"bucket\":null}", &f) == 0 && f.bucket == NULL);
    format_clear(&f);
    const char *bad[] = {
        NULL,
        "",
        "[]",
        "\"x\"",
        "{",
        "{\"block_size\":\"4M\"}",
        "{\"block_size\":-1}",
        "{\"capacity\":1.5}",
        "{\"name\":5}",
        "{\"bucket\":5}",
        "{\"compress\":\"zstd-extreme\"}",
        "{\"name\":\"a\",\"name\":\"b\"}",
        "{\"uuid\":\"0123456789012345678901234567890123456789\"}",
        "{\"trash_days\":-2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = format_from_json(bad[i], &f);
        TEST_EXPECT(rc == -EINVAL);
        if (rc != -EINVAL)
            fprintf(stderr, "accepted: %s\n", bad[i] ? bad[i] : "(null)");
        format_clear(&f);
    }
    char name[100] = "{\"name\":\"";
    memset(name + 9, 'a', 64);
    strcpy(name + 73, "\"}");
    TEST_EXPECT(format_from_json(name, &f) == -EINVAL);
    format_clear(&f);
    return 0;
}

/* 4 */
static int expect_reason(struct format *f, const char *words)
{
    char err[200] = "";
    int rc = format_validate(f, err, sizeof(err));
    if (rc != -EINVAL || !strstr(err, words) || strchr(err, '\n')) {
        fprintf(stderr, "validate: rc=%d err=\"%s\", wanted \"%s\"\n", rc, err, words);
        return 1;
    }
    return 0;
}

static int test_validate(void)
{
    struct format f;
    char err[200];
    valid_format(&f);
    TEST_EXPECT(format_validate(&f, err, sizeof(err)) == 0);
    const char *ok_names[] = {"abc", "a-b", "vol-01", "0123456789012345678901234567890123456789012345678901234567890ab"};
    for (size_t i = 0; i < 4; i++) {
        strcpy(f.name, ok_names[i]);
        TEST_EXPECT(format_validate(&f, err, sizeof(err)) == 0);
    }
    const char *bad_names[] = {"ab", "Abc", "a_b", "a.b", "a b", ""};
    for (size_t i = 0; i < 6; i++) {
        strcpy(f.name, bad_names[i]);
        TEST_EXPECT(expect_reason(&f, "invalid volume name") == 0);
    }
    strcpy(f.name, "good");
    uint32_t ok_bs[] = {64U << 10, 128U << 10, 4U << 20, 16U << 20};
    for (size_t i = 0; i < 4; i++) {
        f.block_size = ok_bs[i];
        TEST_EXPECT(format_validate(&f, err, sizeof(err)) == 0);
    }
    uint32_t bad_bs[] = {0, 32U << 10, 32U << 20, (4U << 20) + 1, 3U << 20};
    for (size_t i = 0; i < 5; i++) {
        f.block_size = bad_bs[i];
        TEST_EXPECT(expect_reason(&f, "block size") == 0);
    }
    f.block_size = 4U << 20;
    strcpy(f.compress, "lz4");
    TEST_EXPECT(format_validate(&f, err, sizeof(err)) == 0);
    strcpy(f.compress, "gzip");
    TEST_EXPECT(expect_reason(&f, "unknown compression \"gzip\"") == 0);
    strcpy(f.compress, "none");
    strcpy(f.storage, "ftp");
    TEST_EXPECT(expect_reason(&f, "unknown storage \"ftp\"") == 0);
    strcpy(f.storage, "file");
    f.trash_days = -1;
    TEST_EXPECT(expect_reason(&f, "trash days") == 0);
    f.trash_days = 0;
    f.version = FORMAT_VERSION + 1;
    TEST_EXPECT(expect_reason(&f, "format version") == 0);
    f.version = FORMAT_VERSION;
    strcpy(f.uuid, "not-a-uuid");
    TEST_EXPECT(expect_reason(&f, "invalid uuid") == 0);
    strcpy(f.uuid, "01234567-89ab-4def-8123-456789ABCDEF");
    TEST_EXPECT(expect_reason(&f, "invalid uuid") == 0);
    strcpy(f.uuid, "01234567-89ab-4def-8123-456789abcdef");
    TEST_EXPECT(format_validate(&f, err, sizeof(err)) == 0);
    free(f.bucket);
    f.bucket = NULL;
    TEST_EXPECT(expect_reason(&f, "needs a bucket") == 0);
    TEST_EXPECT(format_validate(&f, NULL, 0) == -EINVAL);
    format_clear(&f);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_defaults), UNIT_TEST(test_round_trip), UNIT_TEST(test_parse), UNIT_TEST(test_validate))
