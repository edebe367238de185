/* SPDX-License-Identifier: Apache-2.0
 *
 * The s3 store against a real S3-compatible server (SeaweedFS, started by
 * run.sh) through the fault proxy (faultproxy.py), driving store_*() of
 * libtidefs directly and counting attempts at the proxy:
 *   1. basics: check() creates the bucket; put/get/head/del; ranged gets;
 *      reads at and past the end; missing objects; list with continuation
 *      (> 1000 keys), prefixes and start_after; key-prefix isolation;
 *   2. 20% of PUTs answered 503 SlowDown: every object stored and read
 *      back intact; attempts per request never above 1 + io_retries;
 *   3. 10% each of 500, 502, 504, 429 and connection resets on all
 *      requests: same;
 *   4. 400, 403, 404: exactly one attempt, the error within 1 s;
 *   5. a GET stalled mid-body: timed out and retried, within
 *      timeout x attempts + backoff;
 *   6. a flipped bit in GET bodies (whole and ranged): never returned;
 *      with every body flipped the get fails with EIO;
 *   7. a 200 whose body is an <Error>: retried;
 *   8. 100% 503 for a period: EIO within the documented bound, then the
 *      same store works again.
 * Environment: TIDEFS_S3_PROXY (http://127.0.0.1:PORT of the proxy),
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Prints "N passed, N failed".
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "object/store.h"
#include "tests/unit/unit.h"

#define BUCKET "tidefs-s3-test"
#define THREADS 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *proxy_url(void)
{
    const char *p = getenv("TIDEFS_S3_PROXY");
    if (!p) {
        fprintf(stderr, "test_s3_store: TIDEFS_S3_PROXY is not set (run daemon/tests/s3/run.sh)\n");
        exit(2);
    }
    return p;
}

static size_t sink_json(char *p, size_t sz, size_t n, void *arg)
{
    FILE *f = arg;
    return fwrite(p, sz, n, f);
}

/* POSTs body (or GETs when NULL) to the proxy's control path; returns the
 * answer as JSON (caller decrefs) or NULL. */
static json_t *control(const char *path, const char *body)
{
    char url[256], *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CURL *h = curl_easy_init();
    json_t *j = NULL;

    snprintf(url, sizeof(url), "%s%s", proxy_url(), path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_json);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) == CURLE_OK) {
        fclose(f);
        f = NULL;
        j = json_loads(buf, 0, NULL);
    }
    if (f)
        fclose(f);
    curl_easy_cleanup(h);
    free(buf);
    return j;
}

static void set_rules(const char *rules)
{
    json_decref(control("/__proxy/reset", "{}"));
    json_decref(control("/__proxy/rules", rules));
}

/* The largest number of attempts the proxy saw for any one request path
 * (each test uses each key once per method), and the total. */
static int max_attempts(const char *method, int *total)
{
    json_t *s = control("/__proxy/stats", NULL), *reqs = json_object_get(s, "requests"), *v;
    const char *k;
    int max = 0;
    size_t ml = strlen(method);

    *total = 0;
    json_object_foreach(reqs, k, v)
    {
        int n = (int)json_integer_value(v);
        if (strncmp(k, method, ml) == 0 && k[ml] == ' ') {
            *total += n;
            max = n > max ? n : max;
        }
    }
    json_decref(s);
    return max;
}

static struct store *open_store(const char *prefix, int retries, int get_timeout_s)
{
    char url[512], err[256];
    struct store_options o = {.storage = "s3", .bucket = url, .io_retries = retries,
                              .get_timeout_s = get_timeout_s, .put_timeout_s = 10};
    struct store *s = NULL;

    snprintf(url, sizeof(url), "%s/" BUCKET "/%s", proxy_url(), prefix);
    if (store_open(&o, &s, err, sizeof(err)) != 0)
        fprintf(stderr, "store_open: %s\n", err);
    return s;
}

static void fill(char *buf, size_t len, unsigned seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)x;
    }
}

/* ---- parallel put + verified get of many objects ---- */

struct batch {
    struct store *s;
    const char *tag;
    int n;
    size_t size;
    int phase; /* 0 = put, 1 = get */
    atomic_int next;
    atomic_int put_fail, get_fail, mismatch;
};

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    char *buf = malloc(b->size), *back = malloc(b->size), key[128];
    int i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
        int idx = i;
        size_t got = 0;
        snprintf(key, sizeof(key), "%s/obj-%05d", b->tag, idx);
        fill(buf, b->size, (unsigned)idx + 1);
        if (b->phase == 0) {
            if (store_put(b->s, key, buf, b->size) != 0)
                atomic_fetch_add(&b->put_fail, 1);
            continue;
        }
        if (store_get(b->s, key, 0, b->size, back, &got) != 0)
            atomic_fetch_add(&b->get_fail, 1);
        else if (got != b->size || memcmp(buf, back, b->size) != 0)
            atomic_fetch_add(&b->mismatch, 1);
    }
    free(buf);
    free(back);
    return NULL;
}

/* Puts n objects, then (once all are stored) gets and compares them,
 * THREADS wide. */
static void run_batch(struct batch *b)
{
    pthread_t t[THREADS];

    for (b->phase = 0; b->phase < 2; b->phase++) {
        atomic_store(&b->next, 0);
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, batch_worker, b);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
    }
}

/* ---- 1. basics ---- */

struct listed {
    int n;
    char first[128], last[128];
    int ordered;
};

static int on_list(void *arg, const char *key, uint64_t size, int64_t mtime)
{
    struct listed *l = arg;
    (void)size;
    (void)mtime;
    if (l->n && strcmp(key, l->last) <= 0)
        l->ordered = 0;
    if (!l->n)
        snprintf(l->first, sizeof(l->first), "%s", key);
    snprintf(l->last, sizeof(l->last), "%s", key);
    l->n++;
    return 0;
}

static int test_basics(void)
{
    struct store *s = open_store("basics", 10, 10);
    char err[256] = "", buf[200000], back[200000];
    size_t got;
    uint64_t size;

    TEST_ASSERT(s);
    set_rules("[]");
    TEST_ASSERT(store_check(s, err, sizeof(err)) == 0);
    fill(buf, sizeof(buf), 7);
    TEST_ASSERT(store_put(s, "a/one", buf, sizeof(buf)) == 0);
    TEST_EXPECT(store_head(s, "a/one", &size) == 0 && size == sizeof(buf));
    TEST_EXPECT(store_get(s, "a/one", 0, sizeof(back), back, &got) == 0 && got == sizeof(buf));
    TEST_EXPECT(memcmp(buf, back, sizeof(buf)) == 0);
    /* ranged reads at odd offsets, across piece boundaries, and the end */
    static const uint64_t offs[] = {1, 65535, 65536, 100000, 199990};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        memset(back, 0, 5000);
        TEST_EXPECT(store_get(s, "a/one", offs[i], 5000, back, &got) == 0);
        size_t want = sizeof(buf) - offs[i] < 5000 ? sizeof(buf) - offs[i] : 5000;
        TEST_EXPECT(got == want && memcmp(back, buf + offs[i], want) == 0);
    }
    TEST_EXPECT(store_get(s, "a/one", sizeof(buf), 10, back, &got) == 0 && got == 0);
    TEST_EXPECT(store_get(s, "a/one", sizeof(buf) + 100, 10, back, &got) == 0 && got == 0);
    TEST_EXPECT(store_get(s, "a/missing", 0, 10, back, &got) == -ENOENT);
    TEST_EXPECT(store_head(s, "a/missing", &size) == -ENOENT);
    TEST_EXPECT(store_put(s, "a/empty", "", 0) == 0);
    TEST_EXPECT(store_get(s, "a/empty", 0, 10, back, &got) == 0 && got == 0);
    TEST_EXPECT(store_head(s, "a/empty", &size) == 0 && size == 0);
    TEST_EXPECT(store_del(s, "a/one") == 0);
    TEST_EXPECT(store_del(s, "a/one") == 0); /* deleting a missing object succeeds */
    TEST_EXPECT(store_get(s, "a/one", 0, 10, back, &got) == -ENOENT);
    TEST_EXPECT(store_put(s, "/abs", buf, 1) == -EINVAL);
    store_free(s);
    return 0;
}

static int test_list(void)
{
    struct store *s = open_store("listing", 10, 10), *other = open_store("other", 10, 10);
    struct batch b = {.tag = "l", .n = 1003, .size = 10};
    struct listed l = {.ordered = 1};
    double t0 = now_s();

    TEST_ASSERT(s && other);
    set_rules("[]");
    b.s = s;
    run_batch(&b);
    TEST_ASSERT(b.put_fail == 0 && b.get_fail == 0 && b.mismatch == 0);
    TEST_EXPECT(store_put(other, "l/obj-00000", "x", 1) == 0); /* another prefix: not listed */
    TEST_EXPECT(store_list(s, "l/", NULL, on_list, &l) == 0);
    TEST_EXPECT(l.n == 1003 && l.ordered);
    TEST_EXPECT(strcmp(l.first, "l/obj-00000") == 0 && strcmp(l.last, "l/obj-01002") == 0);
    l = (struct listed){.ordered = 1};
    TEST_EXPECT(store_list(s, "l/", "l/obj-00999", on_list, &l) == 0);
    TEST_EXPECT(l.n == 3 && strcmp(l.first, "l/obj-01000") == 0);
    l = (struct listed){.ordered = 1};
    TEST_EXPECT(store_list(s, "l/obj-0100", NULL, on_list, &l) == 0 && l.n == 3);
    printf("  list: 1003 puts + gets + 3 listings in %.2f s\n", now_s() - t0);
    store_free(s);
    store_free(other);
    return 0;
}

/* ---- 2, 3: transient faults ---- */

static int transient(const char *tag, const char *rules, int n, size_t size)
{
    struct store *s = open_store(tag, 10, 10);
    struct batch b = {.tag = "t", .n = n, .size = size};
    int total_put, total_get, max_put, max_get;
    double t0 = now_s();

    TEST_ASSERT(s);
    set_rules(rules);
    b.s = s;
    run_batch(&b);
    max_put = max_attempts("PUT", &total_put);
    max_get = max_attempts("GET", &total_get);
    printf("  %s: %d x %zu KiB put+get in %.2f s; PUT attempts %d (max %d per object), GET attempts %d (max %d)\n",
           tag, n, size >> 10, now_s() - t0, total_put, max_put, total_get, max_get);
    TEST_EXPECT(b.put_fail == 0 && b.get_fail == 0 && b.mismatch == 0);
    TEST_EXPECT(max_put <= 11 && max_get <= 11);
    TEST_EXPECT(total_put > n); /* faults were injected and retried */
    store_free(s);
    return 0;
}

static int test_slowdown_puts(void)
{
    return transient("slowdown",
                     "[{\"method\":\"PUT\",\"prob\":0.2,\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\"}]",
                     200, 256 << 10);
}

static int test_mixed_errors(void)
{
    return transient("mixed",
                     "[{\"prob\":0.1,\"action\":\"status\",\"status\":500,\"code\":\"InternalError\"},"
                     "{\"prob\":0.1,\"action\":\"status\",\"status\":502,\"code\":\"BadGateway\"},"
                     "{\"prob\":0.1,\"action\":\"status\",\"status\":504,\"code\":\"GatewayTimeout\"},"
                     "{\"prob\":0.1,\"action\":\"status\",\"status\":429,\"code\":\"TooManyRequests\"},"
                     "{\"prob\":0.1,\"action\":\"reset\"}]",
                     200, 256 << 10);
}

/* ---- 4. final errors: one attempt ---- */

static int one_final(struct store *s, int status, const char *code, int want)
{
    char rules[256], buf[100];
    int total, rc;
    size_t got;
    double t0;

    snprintf(rules, sizeof(rules), "[{\"action\":\"status\",\"status\":%d,\"code\":\"%s\"}]", status, code);
    set_rules(rules);
    t0 = now_s();
    rc = store_put(s, "final/x", "data", 4);
    double put_s = now_s() - t0;
    TEST_EXPECT(rc == want);
    TEST_EXPECT(max_attempts("PUT", &total) == 1 && total == 1);
    TEST_EXPECT(put_s < 1.0);
    t0 = now_s();
    rc = store_get(s, "final/x", 0, sizeof(buf), buf, &got);
    TEST_EXPECT(rc == want && now_s() - t0 < 1.0);
    TEST_EXPECT(max_attempts("GET", &total) == 1 && total == 1);
    printf("  HTTP %d %s: errno %d after 1 attempt in %.3f s\n", status, code, -rc, put_s);
    return 0;
}

static int test_final_errors(void)
{
    struct store *s = open_store("final", 10, 10);

    TEST_ASSERT(s);
    one_final(s, 400, "InvalidArgument", -EINVAL);
    one_final(s, 403, "AccessDenied", -EACCES);
    one_final(s, 404, "NoSuchKey", -ENOENT);
    store_free(s);
    return 0;
}

/* ---- 5. stalled body ---- */

static int test_stalled_get(void)
{
    struct store *s = open_store("stall", 3, 2);
    char *buf = malloc(1 << 20), *back = malloc(1 << 20);
    size_t got = 0;
    int total;
    double t0, took;

    TEST_ASSERT(s && buf && back);
    set_rules("[]");
    fill(buf, 1 << 20, 5);
    TEST_ASSERT(store_put(s, "stall/x", buf, 1 << 20) == 0);
    set_rules("[{\"method\":\"GET\",\"limit\":1,\"action\":\"stall\",\"stall_s\":20}]");
    t0 = now_s();
    TEST_EXPECT(store_get(s, "stall/x", 0, 1 << 20, back, &got) == 0);
    took = now_s() - t0;
    TEST_EXPECT(got == (1 << 20) && memcmp(buf, back, got) == 0);
    TEST_EXPECT(max_attempts("GET", &total) == 2);
    TEST_EXPECT(took >= 2.0 && took < 2.0 * 4 + 0.1 + 0.2 + 0.4 + 1.0);
    printf("  stalled GET: retried after the 2 s timeout, done in %.2f s (%d attempts)\n", took, total);
    /* every attempt stalls: fails with ETIMEDOUT within timeout x attempts + delays */
    set_rules("[{\"method\":\"GET\",\"action\":\"stall\",\"stall_s\":20}]");
    t0 = now_s();
    TEST_EXPECT(store_get(s, "stall/x", 0, 1 << 20, back, &got) == -ETIMEDOUT);
    took = now_s() - t0;
    /* the documented bound, 4 x 2 s + 0.7 s of backoff, and 0.5 s for
     * scheduling on a loaded machine */
    TEST_EXPECT(took < 2.0 * 4 + 0.7 + 0.5);
    TEST_EXPECT(max_attempts("GET", &total) == 4);
    printf("  always-stalled GET: ETIMEDOUT after %d attempts in %.2f s (bound %.1f s)\n", total, took,
           2.0 * 4 + 0.7);
    free(buf);
    free(back);
    store_free(s);
    return 0;
}

/* ---- 6. flipped bits ---- */

static int test_flipped_bits(void)
{
    struct store *s = open_store("flip", 4, 10);
    size_t n = 3 << 20, got = 0;
    char *buf = malloc(n), *back = malloc(n);
    int total;

    TEST_ASSERT(s && buf && back);
    set_rules("[]");
    fill(buf, n, 9);
    TEST_ASSERT(store_put(s, "flip/x", buf, n) == 0);
    set_rules("[{\"method\":\"GET\",\"limit\":2,\"action\":\"flip\"}]");
    TEST_EXPECT(store_get(s, "flip/x", 0, n, back, &got) == 0);
    TEST_EXPECT(got == n && memcmp(buf, back, n) == 0);
    TEST_EXPECT(max_attempts("GET", &total) == 3);
    set_rules("[{\"method\":\"GET\",\"limit\":1,\"action\":\"flip\"}]");
    TEST_EXPECT(store_get(s, "flip/x", 123456, 300000, back, &got) == 0);
    TEST_EXPECT(got == 300000 && memcmp(buf + 123456, back, got) == 0);
    TEST_EXPECT(max_attempts("GET", &total) == 2);
    set_rules("[{\"method\":\"GET\",\"action\":\"flip\"}]");
    TEST_EXPECT(store_get(s, "flip/x", 0, n, back, &got) == -EIO);
    TEST_EXPECT(max_attempts("GET", &total) == 5);
    printf("  flipped bits: detected and retried; always flipped -> EIO after %d attempts\n", total);
    free(buf);
    free(back);
    store_free(s);
    return 0;
}

/* ---- 7. 200 with an <Error> body ---- */

static int test_error_200(void)
{
    struct store *s = open_store("err200", 10, 10);
    char back[16];
    size_t got = 0;
    int total;

    TEST_ASSERT(s);
    set_rules("[{\"method\":\"PUT\",\"limit\":2,\"action\":\"error200\",\"code\":\"InternalError\"}]");
    TEST_EXPECT(store_put(s, "e/x", "0123456789", 10) == 0);
    TEST_EXPECT(max_attempts("PUT", &total) == 3);
    TEST_EXPECT(store_get(s, "e/x", 0, sizeof(back), back, &got) == 0 && got == 10);
    TEST_EXPECT(memcmp(back, "0123456789", 10) == 0);
    store_free(s);
    return 0;
}

/* ---- 8. outage ---- */

static int test_outage(void)
{
    struct store *s = open_store("outage", 4, 2);
    char back[16];
    size_t got = 0;
    int total;
    /* every request is answered 503 at once, so only the backoff counts:
     * 4 retries wait at most 0.1 + 0.2 + 0.4 + 0.8 s; 1 s of slack */
    double t0, took, bound = 0.1 + 0.2 + 0.4 + 0.8 + 1.0;

    TEST_ASSERT(s);
    set_rules("[{\"action\":\"status\",\"status\":503,\"code\":\"ServiceUnavailable\"}]");
    t0 = now_s();
    TEST_EXPECT(store_put(s, "o/x", "abc", 3) == -EIO);
    took = now_s() - t0;
    TEST_EXPECT(took < bound);
    TEST_EXPECT(max_attempts("PUT", &total) == 5);
    printf("  outage: PUT -> EIO after %d attempts in %.2f s (bound %.1f s)\n", total, took, bound);
    set_rules("[]");
    TEST_EXPECT(store_put(s, "o/x", "abc", 3) == 0);
    TEST_EXPECT(store_get(s, "o/x", 0, sizeof(back), back, &got) == 0 && got == 3);
    store_free(s);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_basics), UNIT_TEST(test_list), UNIT_TEST(test_slowdown_puts), UNIT_TEST(test_mixed_errors),
          UNIT_TEST(test_final_errors), UNIT_TEST(test_stalled_get), UNIT_TEST(test_flipped_bits),
          UNIT_TEST(test_error_200), UNIT_TEST(test_outage))
