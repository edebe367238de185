/* SPDX-License-Identifier: Apache-2.0
 *
 * Unit tests of object/sigv4.c against the AWS SigV4 test suite kept as data
 * in ../shared/testdata/sigv4 (beside the repository; found from the working
 * directory or the program's path, or $TIDEFS_SHARED; absent = failure).
 *   1. every applicable vector (all but the "-normalized" path cases, which
 *      S3 does not do), header form: canonical request, string to sign,
 *      signature, and the Authorization line of the signed request;
 *   2. the same vectors presigned into the query string;
 *   3. the S3 GET-with-Range example of the README (virtual-hosted bucket);
 *   4. URI encoding of keys (unreserved kept, '/' optional, UTF-8 %XX);
 *   5. missing fields are -EINVAL.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "object/sigv4.h"
#include "tests/unit/unit.h"

#define MAX_HEADERS 16

struct vector {
    char dir[PATH_MAX];
    char method[16];
    char *path; /* owned */
    char *query; /* owned, NULL = none */
    char *hdr_names[MAX_HEADERS], *hdr_values[MAX_HEADERS]; /* owned */
    struct sigv4_header headers[MAX_HEADERS];
    size_t nheaders;
    char body_sha[65];
    json_t *ctx; /* owned */
    int sign_body;
};

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Walks up from start looking for the repository root (daemon/object/store.h). */
static int find_from(const char *start, char *out, size_t outlen)
{
    char d[PATH_MAX], probe[PATH_MAX + 32];

    if (!realpath(start, d))
        return -1;
    for (;;) {
        snprintf(probe, sizeof(probe), "%s/daemon/object/store.h", d);
        if (access(probe, R_OK) == 0) {
            if ((size_t)snprintf(out, outlen, "%s/../shared/testdata/sigv4", d) >= outlen)
                return -1;
            return dir_exists(out) ? 0 : -1;
        }
        char *slash = strrchr(d, '/');
        if (!slash || slash == d)
            return -1;
        *slash = '\0';
    }
}

static const char *vectors_dir(void)
{
    static char dir[PATH_MAX]; /* written once, before any test reads it */
    char exe[PATH_MAX];
    const char *env = getenv("TIDEFS_SHARED");
    ssize_t n;

    if (dir[0])
        return dir;
    if (env) {
        snprintf(dir, sizeof(dir), "%s/testdata/sigv4", env);
        if (dir_exists(dir))
            return dir;
    }
    if (find_from(".", dir, sizeof(dir)) == 0)
        return dir;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        if (find_from(exe, dir, sizeof(dir)) == 0)
            return dir;
    }
    dir[0] = '\0';
    fprintf(stderr, "test_sigv4: SigV4 vectors not found: expected ../shared/testdata/sigv4 beside the "
                    "repository root (or $TIDEFS_SHARED/testdata/sigv4)\n");
    return NULL;
}

/* Reads a whole file; caller frees. NULL if absent. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char p[PATH_MAX + 64];
    FILE *f;
    char *buf;
    long n;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static void vector_free(struct vector *v)
{
    free(v->path);
    free(v->query);
    for (size_t i = 0; i < v->nheaders; i++) {
        free(v->hdr_names[i]);
        free(v->hdr_values[i]);
    }
    json_decref(v->ctx);
}

/* "GET /a b?x=1 HTTP/1.1": the target runs up to the last " HTTP/". */
static int parse_request_line(struct vector *v, const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    const char *end = memmem(line, len, " HTTP/", 6);
    const char *target, *q;

    if (!sp || !end || end <= sp || (size_t)(sp - line) >= sizeof(v->method))
        return -1;
    memcpy(v->method, line, (size_t)(sp - line));
    v->method[sp - line] = '\0';
    target = sp + 1;
    q = memchr(target, '?', (size_t)(end - target));
    v->path = strndup(target, (size_t)((q ? q : end) - target));
    if (q)
        v->query = strndup(q + 1, (size_t)(end - q - 1));
    return 0;
}

/* Header lines until a blank line; lines starting with blanks continue the
 * previous value (the signer collapses the whitespace). */
static int parse_headers(struct vector *v, const char **pp)
{
    const char *p = *pp;

    while (*p && *p != '\n') {
        size_t len = strcspn(p, "\n");
        if ((*p == ' ' || *p == '\t') && v->nheaders > 0) {
            char *prev = v->hdr_values[v->nheaders - 1], *joined = NULL;
            if (asprintf(&joined, "%s\n%.*s", prev, (int)len, p) < 0)
                return -1;
            free(prev);
            v->hdr_values[v->nheaders - 1] = joined;
        } else {
            const char *colon = memchr(p, ':', len);
            if (!colon || v->nheaders == MAX_HEADERS)
                return -1;
            v->hdr_names[v->nheaders] = strndup(p, (size_t)(colon - p));
            v->hdr_values[v->nheaders] = strndup(colon + 1, len - (size_t)(colon + 1 - p));
            v->nheaders++;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    *pp = *p == '\n' ? p + 1 : p;
    return 0;
}

static int vector_load(struct vector *v, const char *base, const char *name)
{
    json_error_t jerr;
    char p[PATH_MAX + 64];
    char *req;
    const char *cur;
    size_t len;
    int rc = -1;

    memset(v, 0, sizeof(*v));
    if ((size_t)snprintf(v->dir, sizeof(v->dir), "%s/%s", base, name) >= sizeof(v->dir))
        return -1;
    snprintf(p, sizeof(p), "%s/context.json", v->dir);
    v->ctx = json_load_file(p, 0, &jerr);
    req = slurp(v->dir, "request.txt", NULL);
    if (!v->ctx || !req)
        goto out;
    len = strcspn(req, "\n");
    if (parse_request_line(v, req, len) != 0)
        goto out;
    cur = req + len + (req[len] == '\n');
    if (parse_headers(v, &cur) != 0)
        goto out;
    sigv4_sha256_hex(cur, strlen(cur), v->body_sha);
    for (size_t i = 0; i < v->nheaders; i++)
        v->headers[i] = (struct sigv4_header){v->hdr_names[i], v->hdr_values[i]};
    v->sign_body = json_is_true(json_object_get(v->ctx, "sign_body"));
    rc = 0;
out:
    free(req);
    return rc;
}

static const char *ctx_str(const struct vector *v, const char *obj, const char *field)
{
    json_t *o = obj ? json_object_get(v->ctx, obj) : v->ctx;
    return json_string_value(json_object_get(o, field));
}

/* The vectors' time: 2015-08-30T12:36:00Z. */
static time_t ctx_time(const struct vector *v)
{
    struct tm tm = {0};
    const char *ts = ctx_str(v, NULL, "timestamp");

    if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return (time_t)-1;
    return timegm(&tm);
}

static struct sigv4_key ctx_key(const struct vector *v)
{
    struct sigv4_key k = {
        .access_key = ctx_str(v, "credentials", "access_key_id"),
        .secret_key = ctx_str(v, "credentials", "secret_access_key"),
        .session_token = ctx_str(v, "credentials", "token"),
        .region = ctx_str(v, NULL, "region"),
        .service = ctx_str(v, NULL, "service"),
    };
    /* "omit_session_token": the token is added after signing and is not
     * covered by the signature, so it is signed as if absent. */
    if (json_is_true(json_object_get(v->ctx, "omit_session_token")))
        k.session_token = NULL;
    return k;
}

/* Compares got with the expected file; prints both on mismatch. */
static int same_as_file(const struct vector *v, const char *file, const char *got)
{
    char *want = slurp(v->dir, file, NULL);
    int ok = want && got && strcmp(want, got) == 0;

    if (!ok)
        fprintf(stderr, "%s/%s differs:\n--- want\n%s\n--- got\n%s\n", v->dir, file, want ? want : "(missing)",
                got ? got : "(null)");
    free(want);
    return ok;
}

/* The Authorization line of header-signed-request.txt equals ours. */
static int same_authorization(const struct vector *v, const struct sigv4_signed *s)
{
    char *want = slurp(v->dir, "header-signed-request.txt", NULL);
    const char *line = want ? strstr(want, "\nAuthorization:") : NULL;
    const char *got = s->add_headers[s->nadd_headers - 1]; /* "Authorization: ..." */
    int ok = 0;

    if (line) {
        line += strlen("\nAuthorization:");
        size_t len = strcspn(line, "\n");
        ok = strlen(got) == len + strlen("Authorization: ") &&
             memcmp(got + strlen("Authorization: "), line, len) == 0;
    }
    if (!ok)
        fprintf(stderr, "%s: Authorization differs: got %s\n", v->dir, got);
    free(want);
    return ok;
}

static struct sigv4_request vector_request(const struct vector *v)
{
    return (struct sigv4_request){
        .method = v->method,
        .path = v->path,
        .query = v->query,
        .headers = v->headers,
        .nheaders = v->nheaders,
        .payload_hash = v->body_sha,
        .content_sha256_header = v->sign_body,
    };
}

static int check_header_form(const struct vector *v)
{
    struct sigv4_request rq = vector_request(v);
    struct sigv4_key k = ctx_key(v);
    struct sigv4_signed s;
    int ok;

    if (sigv4_sign(&rq, &k, ctx_time(v), &s) != 0) {
        fprintf(stderr, "%s: sigv4_sign failed\n", v->dir);
        return 0;
    }
    ok = same_as_file(v, "header-canonical-request.txt", s.canonical_request) &
         same_as_file(v, "header-string-to-sign.txt", s.string_to_sign) &
         same_as_file(v, "header-signature.txt", s.signature) & same_authorization(v, &s);
    sigv4_signed_free(&s);
    return ok;
}

static int check_query_form(const struct vector *v)
{
    struct sigv4_request rq = vector_request(v);
    struct sigv4_key k = ctx_key(v);
    struct sigv4_signed s;
    json_t *exp = json_object_get(v->ctx, "expiration_in_seconds");
    int ok;

    rq.content_sha256_header = 0; /* presigned requests carry no x-amz-* headers */
    if (sigv4_presign(&rq, &k, ctx_time(v), (unsigned)json_integer_value(exp), &s) != 0) {
        fprintf(stderr, "%s: sigv4_presign failed\n", v->dir);
        return 0;
    }
    ok = same_as_file(v, "query-canonical-request.txt", s.canonical_request) &
         same_as_file(v, "query-string-to-sign.txt", s.string_to_sign) &
         same_as_file(v, "query-signature.txt", s.signature);
    ok &= strstr(s.query, s.signature) != NULL;
    sigv4_signed_free(&s);
    return ok;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs check on every applicable vector; counts them into *n. */
static int for_each_vector(int (*check)(const struct vector *), int *n, int *skipped)
{
    const char *base = vectors_dir();
    char *names[128];
    size_t count = 0;
    struct dirent *e;
    DIR *d;
    int bad = 0;

    if (!base || !(d = opendir(base)))
        return -1;
    while ((e = readdir(d)) && count < 128)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "LICENSE") && strcmp(e->d_name, "README.md"))
            names[count++] = strdup(e->d_name);
    closedir(d);
    qsort(names, count, sizeof(names[0]), cmp_names);
    *n = *skipped = 0;
    for (size_t i = 0; i < count; i++) {
        struct vector v;
        if (ends_with(names[i], "-normalized")) {
            (*skipped)++; /* S3 never normalises paths */
        } else if (vector_load(&v, base, names[i]) != 0) {
            fprintf(stderr, "%s/%s: cannot parse\n", base, names[i]);
            bad++;
            vector_free(&v);
        } else {
            bad += !check(&v);
            (*n)++;
            vector_free(&v);
        }
        free(names[i]);
    }
    return bad;
}

static int test_vectors_header_form(void)
{
    int n, skipped, bad = for_each_vector(check_header_form, &n, &skipped);

    TEST_ASSERT(bad == 0);
    printf("sigv4 header form: %d vectors passed, %d normalized-path cases not applicable to S3\n", n,
           skipped);
    TEST_EXPECT(n >= 31); /* the suite's applicable cases; a missing one is a failure */
    return 0;
}

static int test_vectors_query_form(void)
{
    int n, skipped, bad = for_each_vector(check_query_form, &n, &skipped);

    TEST_ASSERT(bad == 0);
    printf("sigv4 query form: %d vectors passed\n", n);
    TEST_EXPECT(n >= 31);
    return 0;
}

static int test_s3_readme_example(void)
{
    struct sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
    struct sigv4_request rq = {"GET", "/test.txt", NULL, h, 2, SIGV4_EMPTY_SHA256, 1};
    struct sigv4_key k = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, "us-east-1",
                          "s3"};
    struct sigv4_signed s;
    struct tm tm = {.tm_year = 113, .tm_mon = 4, .tm_mday = 24};

    TEST_ASSERT(sigv4_sign(&rq, &k, timegm(&tm), &s) == 0);
    TEST_EXPECT(strcmp(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0);
    TEST_EXPECT(strcmp(s.amz_date, "20130524T000000Z") == 0);
    TEST_EXPECT(strstr(s.add_headers[s.nadd_headers - 1],
                       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") != NULL);
    sigv4_signed_free(&s);
    return 0;
}

static int test_uri_encode(void)
{
    char *a = sigv4_uri_encode("vol/chunks/0/1/12_0_4096", 24, 0);
    char *b = sigv4_uri_encode("a/b c+\xe1\x88\xb4~", 10, 1);

    TEST_ASSERT(a && b);
    TEST_EXPECT(strcmp(a, "vol/chunks/0/1/12_0_4096") == 0);
    TEST_EXPECT(strcmp(b, "a%2Fb%20c%2B%E1%88%B4~") == 0);
    free(a);
    free(b);
    return 0;
}

static int test_invalid(void)
{
    struct sigv4_header h[] = {{"Host", "h"}};
    struct sigv4_request rq = {"GET", "no-slash", NULL, h, 1, SIGV4_EMPTY_SHA256, 1};
    struct sigv4_key k = {"a", "b", NULL, "r", "s3"};
    struct sigv4_signed s;

    TEST_EXPECT(sigv4_sign(&rq, &k, 0, &s) == -EINVAL);
    rq.path = "/";
    k.secret_key = NULL;
    TEST_EXPECT(sigv4_sign(&rq, &k, 0, &s) == -EINVAL);
    sigv4_signed_free(&s);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_vectors_header_form), UNIT_TEST(test_vectors_query_form),
          UNIT_TEST(test_s3_readme_example), UNIT_TEST(test_uri_encode), UNIT_TEST(test_invalid))
