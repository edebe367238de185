/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of the S3 store's pure parts (the network parts are tested
 * against a real server in daemon/tests/s3/):
 *   1. bucket URLs: path style, prefixes, virtual-hosted AWS names, region
 *      choice, refusals (credentials in the URL, no bucket, bad scheme);
 *   2. XML: <Error> documents (with entities, with a declaration, and a
 *      body that is not one), ListObjectsV2 pages with continuation;
 *   3. the errno mapping (403, 404, NoSuchKey, NoSuchBucket, timeouts);
 *   4. the retry policy: what is retried, the attempt limit, delays within
 *      the capped exponential bound, the worst-case total;
 *   5. piece sums: round trip over split buffers, a flipped bit detected,
 *      a ranged window, malformed sums refused.
 */
#include <errno.h>
#include <stdlib.h>

#include "object/s3_checksum.h"
#include "object/s3_endpoint.h"
#include "object/s3_errno.h"
#include "object/s3_retry.h"
#include "object/s3_xml.h"
#include "tests/unit/unit.h"

static int test_endpoint_path_style(void)
{
    struct s3_endpoint ep;
    char err[256], path[256];

    unsetenv("AWS_REGION");
    TEST_ASSERT(s3_endpoint_parse("http://127.0.0.1:8333/vol1/a/b/", NULL, &ep, err, sizeof(err)) == 0);
    TEST_EXPECT(strcmp(ep.base, "http://127.0.0.1:8333") == 0);
    TEST_EXPECT(strcmp(ep.host, "127.0.0.1:8333") == 0);
    TEST_EXPECT(strcmp(ep.bucket, "vol1") == 0);
    TEST_EXPECT(strcmp(ep.key_prefix, "a/b/") == 0);
    TEST_EXPECT(strcmp(ep.region, "us-east-1") == 0);
    TEST_EXPECT(!ep.virtual_hosted);
    TEST_ASSERT(s3_endpoint_path(&ep, "k/1", path, sizeof(path)) == 0);
    TEST_EXPECT(strcmp(path, "/vol1/a/b/k/1") == 0);
    TEST_ASSERT(s3_endpoint_path(&ep, NULL, path, sizeof(path)) == 0);
    TEST_EXPECT(strcmp(path, "/vol1") == 0);
    TEST_ASSERT(s3_endpoint_parse("https://s3.example.com/vol2", "eu-west-3", &ep, err, sizeof(err)) == 0);
    TEST_EXPECT(strcmp(ep.key_prefix, "") == 0 && strcmp(ep.region, "eu-west-3") == 0);
    return 0;
}

static int test_endpoint_virtual_hosted(void)
{
    struct s3_endpoint ep;
    char err[256], path[256];

    unsetenv("AWS_REGION");
    TEST_ASSERT(s3_endpoint_parse("https://my-bucket.s3.eu-central-1.amazonaws.com/pre", NULL, &ep, err,
                                  sizeof(err)) == 0);
    TEST_EXPECT(ep.virtual_hosted);
    TEST_EXPECT(strcmp(ep.bucket, "my-bucket") == 0);
    TEST_EXPECT(strcmp(ep.region, "eu-central-1") == 0);
    TEST_EXPECT(strcmp(ep.key_prefix, "pre/") == 0);
    TEST_ASSERT(s3_endpoint_path(&ep, "x", path, sizeof(path)) == 0);
    TEST_EXPECT(strcmp(path, "/pre/x") == 0);
    TEST_ASSERT(s3_endpoint_parse("https://b12.s3.amazonaws.com", NULL, &ep, err, sizeof(err)) == 0);
    TEST_EXPECT(ep.virtual_hosted && strcmp(ep.region, "us-east-1") == 0 && strcmp(ep.bucket, "b12") == 0);
    setenv("AWS_REGION", "ap-south-1", 1);
    TEST_ASSERT(s3_endpoint_parse("https://b12.s3.amazonaws.com", NULL, &ep, err, sizeof(err)) == 0);
    TEST_EXPECT(strcmp(ep.region, "ap-south-1") == 0);
    unsetenv("AWS_REGION");
    return 0;
}

static int test_endpoint_refusals(void)
{
    struct s3_endpoint ep;
    char err[256];

    TEST_EXPECT(s3_endpoint_parse("ftp://h/b", NULL, &ep, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(strstr(err, "http://") != NULL);
    TEST_EXPECT(s3_endpoint_parse("http://key:S3CR3Tvalue@h/bkt", NULL, &ep, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(strstr(err, "credentials") != NULL && strstr(err, "S3CR3T") == NULL);
    TEST_EXPECT(s3_endpoint_parse("http://h:9000/", NULL, &ep, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(strstr(err, "no bucket") != NULL);
    TEST_EXPECT(s3_endpoint_parse("http://h/b", NULL, &ep, err, sizeof(err)) == -EINVAL); /* too short */
    TEST_EXPECT(s3_endpoint_parse("http://h/bkt?x=1", NULL, &ep, err, sizeof(err)) == -EINVAL);
    return 0;
}

static int test_xml_error(void)
{
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                      "<Message>Please reduce your request rate &amp; retry &#8364;</Message></Error>";
    char code[64], msg[128];

    TEST_ASSERT(s3_xml_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg)) == 1);
    TEST_EXPECT(strcmp(code, "SlowDown") == 0);
    TEST_EXPECT(strcmp(msg, "Please reduce your request rate & retry \xe2\x82\xac") == 0);
    doc = "<ListBucketResult><Name>x</Name></ListBucketResult>";
    TEST_EXPECT(s3_xml_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg)) == 0);
    TEST_EXPECT(s3_xml_error("", 0, code, sizeof(code), msg, sizeof(msg)) == 0);
    doc = "<Error><Message>no code</Message></Error>";
    TEST_EXPECT(s3_xml_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg)) == 1);
    TEST_EXPECT(strcmp(code, "UnknownError") == 0);
    return 0;
}

struct collected {
    char keys[8][64];
    uint64_t sizes[8];
    int64_t mtimes[8];
    int n, stop_at;
};

static int collect(void *arg, const char *key, uint64_t size, int64_t mtime_ns)
{
    struct collected *c = arg;

    snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
    c->sizes[c->n] = size;
    c->mtimes[c->n] = mtime_ns;
    c->n++;
    return c->n == c->stop_at;
}

static int test_xml_list(void)
{
    const char *doc =
        "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;b</Key><LastModified>2009-10-12T17:50:30.500Z</LastModified><ETag>\"x\"</ETag>"
        "<Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/c</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified><Size>0</Size></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "</ListBucketResult>";
    struct collected c = {.stop_at = -1};
    struct s3_xml_list_page page;

    TEST_ASSERT(s3_xml_list(doc, strlen(doc), collect, &c, &page) == 0);
    TEST_EXPECT(c.n == 2 && page.count == 2);
    TEST_EXPECT(strcmp(c.keys[0], "p/a&b") == 0 && c.sizes[0] == 434234);
    TEST_EXPECT(c.mtimes[0] == 1255369830500000000LL);
    TEST_EXPECT(strcmp(c.keys[1], "p/c") == 0 && c.sizes[1] == 0);
    TEST_EXPECT(page.truncated && !page.stopped);
    TEST_EXPECT(strcmp(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=") == 0);
    c = (struct collected){.stop_at = 1};
    TEST_ASSERT(s3_xml_list(doc, strlen(doc), collect, &c, &page) == 0);
    TEST_EXPECT(c.n == 1 && page.stopped);
    TEST_EXPECT(s3_xml_list("<Error/>", 8, collect, &c, &page) == -EIO);
    return 0;
}

static struct s3_outcome outcome(CURLcode cc, long status, const char *code)
{
    struct s3_outcome o = {cc, status, "", 0};

    snprintf(o.code, sizeof(o.code), "%s", code);
    return o;
}

static int test_errno_mapping(void)
{
    struct s3_outcome o = outcome(CURLE_OK, 403, "");

    TEST_EXPECT(s3_status_to_errno(&o) == EACCES);
    o = outcome(CURLE_OK, 404, "");
    TEST_EXPECT(s3_status_to_errno(&o) == ENOENT);
    o = outcome(CURLE_OK, 404, "NoSuchBucket");
    TEST_EXPECT(s3_status_to_errno(&o) == ENXIO);
    o = outcome(CURLE_OK, 400, "SignatureDoesNotMatch");
    TEST_EXPECT(s3_status_to_errno(&o) == EACCES);
    o = outcome(CURLE_OK, 503, "SlowDown");
    TEST_EXPECT(s3_status_to_errno(&o) == EIO);
    o = outcome(CURLE_OK, 200, "InternalError"); /* 200 with an <Error> body */
    TEST_EXPECT(s3_status_to_errno(&o) == EIO);
    o = outcome(CURLE_OPERATION_TIMEDOUT, 0, "");
    TEST_EXPECT(s3_status_to_errno(&o) == ETIMEDOUT);
    o = outcome(CURLE_OK, 200, "");
    TEST_EXPECT(s3_status_to_errno(&o) == 0);
    o.corrupt = 1;
    TEST_EXPECT(s3_status_to_errno(&o) == EIO);
    return 0;
}

static int test_retry_policy(void)
{
    struct s3_retry_policy p = {10, 100, 5000};
    uint64_t rng = 42;
    unsigned d;
    struct s3_outcome retried[] = {outcome(CURLE_OK, 500, ""),          outcome(CURLE_OK, 502, ""),
                                   outcome(CURLE_OK, 503, "SlowDown"),  outcome(CURLE_OK, 504, ""),
                                   outcome(CURLE_OK, 429, ""),          outcome(CURLE_OK, 400, "RequestTimeout"),
                                   outcome(CURLE_OK, 200, "SlowDown"),  outcome(CURLE_RECV_ERROR, 0, ""),
                                   outcome(CURLE_COULDNT_CONNECT, 0, ""), outcome(CURLE_OPERATION_TIMEDOUT, 0, "")};
    struct s3_outcome final[] = {outcome(CURLE_OK, 400, "InvalidArgument"), outcome(CURLE_OK, 403, ""),
                                 outcome(CURLE_OK, 404, "NoSuchKey"), outcome(CURLE_OK, 200, ""),
                                 outcome(CURLE_OK, 409, "")};

    for (size_t i = 0; i < sizeof(retried) / sizeof(retried[0]); i++)
        TEST_EXPECT(s3_retry_next(&p, &retried[i], 1, &rng, &d) == 1);
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
        TEST_EXPECT(s3_retry_next(&p, &final[i], 1, &rng, &d) == 0);
    retried[0].corrupt = 1;
    TEST_EXPECT(s3_retry_next(&p, &retried[0], 10, &rng, &d) == 1);
    TEST_EXPECT(s3_retry_next(&p, &retried[0], 11, &rng, &d) == 0); /* 1 + 10 attempts */
    for (int a = 1; a <= 10; a++) {
        unsigned cap = 100u << (a - 1) < 5000 ? 100u << (a - 1) : 5000, max = 0;
        for (int k = 0; k < 200; k++) {
            TEST_ASSERT(s3_retry_next(&p, &retried[2], a, &rng, &d) == 1);
            TEST_EXPECT(d <= cap);
            max = d > max ? d : max;
        }
        TEST_EXPECT(max > cap / 2); /* full jitter spreads over the range */
    }
    TEST_EXPECT(s3_retry_max_total_delay_ms(&p) == 100 + 200 + 400 + 800 + 1600 + 3200 + 4 * 5000);
    return 0;
}

static int test_piece_sums(void)
{
    size_t len = 3 * S3_PIECE_SIZE + 1000;
    unsigned char *buf = malloc(len);
    char sums[S3_SUMS_VALUE_MAX];

    TEST_ASSERT(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    TEST_ASSERT(s3_sums_encode(buf, len, sums) == 0);
    struct iovec whole[3] = {{buf, 100}, {buf + 100, len - 5000}, {buf + len - 4900, 4900}};
    TEST_EXPECT(s3_sums_verify(sums, len, 0, whole, 3) == 0);
    struct iovec window[1] = {{buf + S3_PIECE_SIZE, S3_PIECE_SIZE}}; /* one middle piece */
    TEST_EXPECT(s3_sums_verify(sums, len, S3_PIECE_SIZE, window, 1) == 0);
    struct iovec tail[1] = {{buf + 3 * S3_PIECE_SIZE, 1000}}; /* the short last piece */
    TEST_EXPECT(s3_sums_verify(sums, len, 3 * S3_PIECE_SIZE, tail, 1) == 0);
    buf[S3_PIECE_SIZE + 77] ^= 0x10;
    TEST_EXPECT(s3_sums_verify(sums, len, 0, whole, 3) == -EIO);
    TEST_EXPECT(s3_sums_verify(sums, len, S3_PIECE_SIZE, window, 1) == -EIO);
    TEST_EXPECT(s3_sums_verify(sums, len, 1, window, 1) == -EINVAL);      /* unaligned */
    TEST_EXPECT(s3_sums_verify("v1:AAA", len, 0, whole, 3) == -EINVAL);   /* malformed */
    TEST_EXPECT(s3_sums_verify(sums, len + S3_PIECE_SIZE, 0, whole, 3) == -EINVAL); /* other size */
    TEST_EXPECT(s3_sums_encode(buf, S3_SUMS_MAX_SIZE + 1, sums) == -EFBIG);
    TEST_EXPECT(s3_crc32c(0, "123456789", 9) == 0xE3069283u); /* the CRC-32C check value */
    free(buf);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_endpoint_path_style), UNIT_TEST(test_endpoint_virtual_hosted),
          UNIT_TEST(test_endpoint_refusals), UNIT_TEST(test_xml_error), UNIT_TEST(test_xml_list),
          UNIT_TEST(test_errno_mapping), UNIT_TEST(test_retry_policy), UNIT_TEST(test_piece_sums))
