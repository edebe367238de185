/* SPDX-License-Identifier: Apache-2.0
 *
 * The INIT state of a FUSE connection: JSON round trip and validation, the
 * raw FUSE_INIT request and reply the resume path builds and parses, the
 * comparison that refuses a daemon negotiating differently, and the
 * FUSE_HAS_RESEND test.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <stdlib.h>

#include "handoff/handoff_init.h"
#include "tests/unit/unit.h"

static struct handoff_init sample(void)
{
    struct handoff_init s = {
        .in = {.major = 7, .minor = 44, .max_readahead = 131072, .flags = 0x73fffffb, .flags2 = 0xfff},
        .out = {.major = 7, .minor = 31, .max_readahead = 131072, .flags = 0x40409029, .flags2 = 0x2,
                .max_background = 64, .congestion_threshold = 48, .max_write = 1 << 20, .time_gran = 1,
                .max_pages = 256, .map_alignment = 0},
    };
    return s;
}

static int test_json_round_trip(void)
{
    struct handoff_init a = sample(), b;
    json_t *j = handoff_init_to_json(&a);
    TEST_ASSERT(j != NULL);
    TEST_EXPECT(json_integer_value(json_object_get(json_object_get(j, "out"), "max_pages")) == 256);
    TEST_EXPECT(handoff_init_from_json(j, &b, NULL, 0) == 0);
    TEST_EXPECT(memcmp(&a, &b, sizeof(a)) == 0);
    json_decref(j);
    return 0;
}

static int reject(const char *text, const char *needle)
{
    struct handoff_init b;
    char why[200] = "";
    json_t *j = json_loads(text, 0, NULL);
    int rc = handoff_init_from_json(j, &b, why, sizeof(why));
    json_decref(j);
    if (rc != -EBADMSG || !strstr(why, needle)) {
        fprintf(stderr, "%s -> %d \"%s\"\n", text, rc, why);
        return -1;
    }
    return 0;
}

static int test_json_rejects(void)
{
    struct handoff_init a = sample();
    json_t *j = handoff_init_to_json(&a);
    json_t *out = json_object_get(j, "out");
    char *good = json_dumps(j, 0);
    TEST_ASSERT(good != NULL);
    json_object_set_new(out, "max_pages", json_integer(70000)); /* u16 */
    char *t1 = json_dumps(j, 0);
    json_object_set_new(out, "max_pages", json_integer(-1));
    char *t2 = json_dumps(j, 0);
    json_object_set_new(out, "max_pages", json_string("256"));
    char *t3 = json_dumps(j, 0);
    json_object_del(out, "max_pages");
    char *t4 = json_dumps(j, 0);
    TEST_EXPECT(reject(t1, "max_pages") == 0);
    TEST_EXPECT(reject(t2, "max_pages") == 0);
    TEST_EXPECT(reject(t3, "max_pages") == 0);
    TEST_EXPECT(reject(t4, "max_pages") == 0);
    TEST_EXPECT(reject("{\"in\":{}}", "init.in.major") == 0);
    TEST_EXPECT(reject("{\"out\":{}}", "init.in") == 0);
    TEST_EXPECT(reject("[]", "not an object") == 0);
    free(good);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    json_decref(j);
    return 0;
}

static int test_major_must_be_7(void)
{
    struct handoff_init a = sample(), b;
    a.in.major = 8;
    json_t *j = handoff_init_to_json(&a);
    TEST_EXPECT(handoff_init_from_json(j, &b, NULL, 0) == -EBADMSG);
    json_decref(j);
    return 0;
}

static int test_request_round_trip(void)
{
    struct handoff_init a = sample(), b = {0};
    union {
        char bytes[HANDOFF_INIT_REQUEST_SIZE];
        uint64_t align;
    } req;
    uint64_t unique = 0;
    size_t len = handoff_init_build_request(&a, 42, req.bytes);
    TEST_EXPECT(len == sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in));
    TEST_EXPECT(handoff_init_parse_request(req.bytes, len, &b, &unique) == 0);
    TEST_EXPECT(unique == 42 && memcmp(&a.in, &b.in, sizeof(a.in)) == 0);
    /* not INIT, wrong length, too short */
    struct fuse_in_header *h = (struct fuse_in_header *)req.bytes;
    h->opcode = FUSE_LOOKUP;
    TEST_EXPECT(handoff_init_parse_request(req.bytes, len, &b, NULL) == -EPROTO);
    h->opcode = FUSE_INIT;
    TEST_EXPECT(handoff_init_parse_request(req.bytes, len - 1, &b, NULL) == -EPROTO);
    TEST_EXPECT(handoff_init_parse_request(req.bytes, 20, &b, NULL) == -EPROTO);
    return 0;
}

/* Kernels before 7.36 send a 16-byte fuse_init_in and no flags2. */
static int test_short_old_request(void)
{
    union {
        char bytes[64];
        uint64_t align;
    } req;
    struct fuse_in_header h = {.len = sizeof(h) + 16, .opcode = FUSE_INIT, .unique = 2};
    uint32_t body[4] = {7, 27, 65536, 0x1234};
    memcpy(req.bytes, &h, sizeof(h));
    memcpy(req.bytes + sizeof(h), body, sizeof(body));
    struct handoff_init b;
    TEST_EXPECT(handoff_init_parse_request(req.bytes, h.len, &b, NULL) == 0);
    TEST_EXPECT(b.in.minor == 27 && b.in.flags == 0x1234 && b.in.flags2 == 0);
    return 0;
}

static int test_reply_parse(void)
{
    struct handoff_init a = sample(), b = {0};
    union {
        char bytes[sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out)];
        uint64_t align;
    } rep;
    struct fuse_out_header h = {.len = sizeof(rep), .unique = 7};
    struct fuse_init_out o = {.major = 7, .minor = 31, .max_readahead = 131072, .flags = 0x40409029,
                              .max_background = 64, .congestion_threshold = 48, .max_write = 1 << 20,
                              .time_gran = 1, .max_pages = 256, .flags2 = 0x2};
    memcpy(rep.bytes, &h, sizeof(h));
    memcpy(rep.bytes + sizeof(h), &o, sizeof(o));
    TEST_EXPECT(handoff_init_parse_reply(rep.bytes, sizeof(rep), 7, &b) == 0);
    TEST_EXPECT(memcmp(&a.out, &b.out, sizeof(a.out)) == 0);
    TEST_EXPECT(handoff_init_parse_reply(rep.bytes, sizeof(rep), 8, &b) == -EPROTO);
    TEST_EXPECT(handoff_init_parse_reply(rep.bytes, 10, 7, &b) == -EPROTO);
    h.error = -EPROTO;
    h.len = sizeof(h);
    memcpy(rep.bytes, &h, sizeof(h));
    TEST_EXPECT(handoff_init_parse_reply(rep.bytes, sizeof(h), 7, &b) == -EPROTO);
    h.error = -EIO;
    memcpy(rep.bytes, &h, sizeof(h));
    TEST_EXPECT(handoff_init_parse_reply(rep.bytes, sizeof(h), 7, &b) == -EIO);
    return 0;
}

static int test_compare(void)
{
    struct handoff_init a = sample(), b = sample();
    char why[200] = "";
    TEST_EXPECT(handoff_init_compare_out(&a, &b, why, sizeof(why)) == 0);
    b.out.max_write = 131072;
    TEST_EXPECT(handoff_init_compare_out(&a, &b, why, sizeof(why)) == -EPROTO);
    TEST_EXPECT(strstr(why, "max_write") != NULL);
    b = sample();
    b.out.flags2 ^= 1;
    TEST_EXPECT(handoff_init_compare_out(&a, &b, why, sizeof(why)) == -EPROTO);
    TEST_EXPECT(strstr(why, "flags2") != NULL);
    /* `in` does not take part: the kernel acts on `out` only */
    b = sample();
    b.in.max_readahead = 1;
    TEST_EXPECT(handoff_init_compare_out(&a, &b, NULL, 0) == 0);
    return 0;
}

static int test_has_resend(void)
{
    struct handoff_init a = sample();
    a.in.flags = FUSE_INIT_EXT;
    a.in.flags2 = (uint32_t)(HANDOFF_FUSE_HAS_RESEND >> 32);
    TEST_EXPECT(handoff_init_has_resend(&a));
    a.in.flags = 0; /* flags2 means nothing without INIT_EXT */
    TEST_EXPECT(!handoff_init_has_resend(&a));
    a.in.flags = FUSE_INIT_EXT;
    a.in.flags2 = 0;
    TEST_EXPECT(!handoff_init_has_resend(&a));
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_json_round_trip), UNIT_TEST(test_json_rejects), UNIT_TEST(test_major_must_be_7),
          UNIT_TEST(test_request_round_trip), UNIT_TEST(test_short_old_request), UNIT_TEST(test_reply_parse),
          UNIT_TEST(test_compare), UNIT_TEST(test_has_resend))
