/* SPDX-License-Identifier: Apache-2.0
 *
 * The "s3" object store: any S3-compatible service, through s3_client.c.
 * put sends Content-MD5 and per-piece CRC-32C sums; get widens its range to
 * 64 KiB pieces so that every byte it returns was checked (see
 * s3_checksum.h), and a body failing a check is retried like a 503. list is
 * ListObjectsV2 with continuation; del of a missing object succeeds; check
 * creates the bucket when missing and round-trips a small object.
 * Credentials come from the options or else from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; they are never logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "object/s3_client.h"
#include "object/s3_xml.h"
#include "object/sigv4.h"
#include "object/store_i.h"

#define S3_DEFAULT_MAX_UPLOADS 20
#define S3_DEFAULT_MAX_DOWNLOADS 20
#define S3_DEFAULT_PUT_TIMEOUT_S 60
#define S3_DEFAULT_GET_TIMEOUT_S 60

struct s3_store {
    struct store base;
    struct s3_client *client; /* owned */
};

static struct s3_client *client_of(struct store *s)
{
    return ((struct s3_store *)s)->client;
}

/* One line on stderr for a failed request; never any header. */
static void log_failure(const char *op, const char *key, int rc, const struct s3_response *r)
{
    fprintf(stderr, "tidefs: s3: %s %s: %s (HTTP %ld%s%s%s%s) after %d attempt%s\n", op,
            key ? key : "(bucket)", strerror(-rc), r->out.status, r->out.code[0] ? " " : "", r->out.code,
            r->out.curl ? ", " : "", r->out.curl ? curl_easy_strerror(r->out.curl) : "", r->attempts,
            r->attempts == 1 ? "" : "s");
}

static int valid_key(const char *key)
{
    return key && key[0] && key[0] != '/' && strlen(key) < 1024;
}

static void pick_credentials(const struct store_options *opt, struct s3_client_config *cfg)
{
    if (opt->access_key && opt->access_key[0]) {
        cfg->access_key = opt->access_key;
        cfg->secret_key = opt->secret_key;
        cfg->session_token = opt->session_token;
    } else {
        cfg->access_key = getenv("AWS_ACCESS_KEY_ID");
        cfg->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
        cfg->session_token = getenv("AWS_SESSION_TOKEN");
    }
}

static int s3_open(const struct store_options *opt, struct store **out)
{
    struct s3_endpoint ep;
    struct s3_client_config cfg = {.ep = &ep};
    struct s3_store *st;
    char err[256];
    int rc;

    *out = NULL;
    if (s3_endpoint_parse(opt->bucket, opt->region, &ep, err, sizeof(err)) != 0) {
        fprintf(stderr, "tidefs: s3: %s\n", err);
        return -EINVAL;
    }
    pick_credentials(opt, &cfg);
    if (cfg.access_key && cfg.access_key[0] && !(cfg.secret_key && cfg.secret_key[0])) {
        fprintf(stderr, "tidefs: s3: an access key was given without a secret key\n");
        return -EINVAL;
    }
    cfg.retry = (struct s3_retry_policy){opt->io_retries >= 0 ? opt->io_retries : S3_RETRY_DEFAULT,
                                         S3_RETRY_BASE_MS, S3_RETRY_CAP_MS};
    cfg.put_timeout_ms = 1000 * (opt->put_timeout_s > 0 ? opt->put_timeout_s : S3_DEFAULT_PUT_TIMEOUT_S);
    cfg.get_timeout_ms = 1000 * (opt->get_timeout_s > 0 ? opt->get_timeout_s : S3_DEFAULT_GET_TIMEOUT_S);
    cfg.max_uploads = opt->max_uploads > 0 ? opt->max_uploads : S3_DEFAULT_MAX_UPLOADS;
    cfg.max_downloads = opt->max_downloads > 0 ? opt->max_downloads : S3_DEFAULT_MAX_DOWNLOADS;
    st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    rc = s3_client_new(&cfg, &st->client);
    if (rc) {
        free(st);
        return rc;
    }
    *out = &st->base;
    return 0;
}

static void s3_free(struct store *s)
{
    if (!s)
        return;
    s3_client_free(client_of(s));
    free(s);
}

static int s3_put(struct store *s, const char *key, const void *buf, size_t len)
{
    char md5[25], sums[S3_SUMS_VALUE_MAX];
    struct s3_request rq = {.method = "PUT", .key = key, .body = buf ? buf : "", .body_len = len,
                            .content_md5 = md5, .upload = 1, .xml_error_on_2xx = 1};
    struct s3_response r;
    int rc;

    if (!valid_key(key))
        return -EINVAL;
    s3_md5(rq.body, len, md5, NULL);
    if (s3_sums_encode(rq.body, len, sums) == 0)
        rq.sums = sums;
    rc = s3_client_perform(client_of(s), &rq, NULL, NULL, &r);
    if (rc)
        log_failure("PUT", key, rc, &r);
    s3_response_release(&r);
    return rc;
}

/* A ranged GET: the bytes before the caller's window go to head, the
 * window to the caller's buffer, the bytes after it to tail. */
struct get_state {
    uint64_t start;   /* first byte requested, a piece boundary */
    uint64_t off;     /* the caller's offset */
    size_t len;       /* the caller's length */
    struct iovec iov[3];
    uint64_t total;   /* object size, from Content-Range */
};

static int is_md5_hex(const char *etag)
{
    size_t n = strspn(etag, "0123456789abcdef");
    return n == 32 && etag[32] == '\0';
}

/* Content-Range "bytes A-B/T" must start at the requested offset. */
static int parse_range(const struct get_state *g, const struct s3_response *r, uint64_t *total)
{
    unsigned long long a, b, t;

    if (r->out.status == 200 && g->start == 0) {
        *total = r->received;
        return 0;
    }
    if (r->out.status != 206 || sscanf(r->content_range, "bytes %llu-%llu/%llu", &a, &b, &t) != 3 || a != g->start ||
        b < a || b - a + 1 != r->received || b >= t)
        return -1;
    *total = t;
    return 0;
}

/* The received part of the three buffers, in order. */
static int received_iov(const struct get_state *g, size_t received, struct iovec *out)
{
    int n = 0;

    for (int i = 0; i < 3 && received > 0; i++) {
        size_t take = g->iov[i].iov_len < received ? g->iov[i].iov_len : received;
        if (take)
            out[n++] = (struct iovec){g->iov[i].iov_base, take};
        received -= take;
    }
    return n;
}

static int validate_get(void *arg, const struct s3_request *rq, struct s3_response *r)
{
    struct get_state *g = arg;
    struct iovec got[3];
    int n, rc = 0;

    (void)rq;
    if (parse_range(g, r, &g->total) != 0) {
        r->out.corrupt = 1;
        return -EIO;
    }
    n = received_iov(g, r->received, got);
    if (r->sums[0])
        rc = s3_sums_verify(r->sums, g->total, g->start, got, n);
    else if (g->start == 0 && r->received == g->total && is_md5_hex(r->etag) && n > 0) {
        char hex[33];
        /* whole object of another writer: its ETag is its MD5 */
        void *all = n == 1 ? got[0].iov_base : NULL;
        if (all) {
            s3_md5(all, got[0].iov_len, NULL, hex);
            rc = strcmp(hex, r->etag) ? -EIO : 0;
        }
    }
    if (rc)
        r->out.corrupt = 1;
    return rc;
}

static int get_prepare(struct get_state *g, uint64_t off, size_t len, void *buf, char *range, size_t rlen)
{
    uint64_t end = off + len, aend = (end + S3_PIECE_SIZE - 1) / S3_PIECE_SIZE * S3_PIECE_SIZE;
    size_t headlen, taillen;
    char *extra;

    memset(g, 0, sizeof(*g));
    g->off = off;
    g->len = len;
    g->start = off / S3_PIECE_SIZE * S3_PIECE_SIZE;
    headlen = (size_t)(off - g->start);
    taillen = (size_t)(aend - end);
    extra = headlen + taillen ? malloc(headlen + taillen) : NULL;
    if (headlen + taillen && !extra)
        return -ENOMEM;
    g->iov[0] = (struct iovec){extra, headlen};
    g->iov[1] = (struct iovec){buf, len};
    g->iov[2] = (struct iovec){extra ? extra + headlen : NULL, taillen};
    snprintf(range, rlen, "bytes=%llu-%llu", (unsigned long long)g->start, (unsigned long long)aend - 1);
    return 0;
}

static int s3_get(struct store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got)
{
    struct get_state g;
    char range[64];
    struct s3_request rq = {.method = "GET", .key = key, .range = range, .sink = g.iov, .nsink = 3};
    struct s3_response r;
    int rc;

    *got = 0;
    if (!valid_key(key))
        return -EINVAL;
    if (len == 0)
        return 0;
    rc = get_prepare(&g, off, len, buf, range, sizeof(range));
    if (rc)
        return rc;
    rc = s3_client_perform(client_of(s), &rq, validate_get, &g, &r);
    if (rc == 0 && g.total > off)
        *got = g.total - off < len ? (size_t)(g.total - off) : len;
    if (rc == -EINVAL && r.out.status == 416)
        rc = 0; /* off at or past the end: nothing to read */
    if (rc && rc != -ENOENT)
        log_failure("GET", key, rc, &r);
    free(g.iov[0].iov_base);
    s3_response_release(&r);
    return rc;
}

static int s3_head(struct store *s, const char *key, uint64_t *size)
{
    struct s3_request rq = {.method = "HEAD", .key = key};
    struct s3_response r;
    int rc;

    if (!valid_key(key))
        return -EINVAL;
    rc = s3_client_perform(client_of(s), &rq, NULL, NULL, &r);
    if (rc == 0 && r.content_length < 0)
        rc = -EIO;
    if (rc == 0 && size)
        *size = (uint64_t)r.content_length;
    if (rc && rc != -ENOENT)
        log_failure("HEAD", key, rc, &r);
    s3_response_release(&r);
    return rc;
}

static int s3_del(struct store *s, const char *key)
{
    struct s3_request rq = {.method = "DELETE", .key = key, .xml_error_on_2xx = 1};
    struct s3_response r;
    int rc;

    if (!valid_key(key))
        return -EINVAL;
    rc = s3_client_perform(client_of(s), &rq, NULL, NULL, &r);
    if (rc == -ENOENT && strcmp(r.out.code, "NoSuchBucket") != 0)
        rc = 0;
    if (rc)
        log_failure("DELETE", key, rc, &r);
    s3_response_release(&r);
    return rc;
}

/* Strips the volume's key prefix from listed keys. */
struct list_state {
    const char *key_prefix;
    size_t plen;
    store_list_fn fn;
    void *arg;
};

static int list_entry(void *arg, const char *key, uint64_t size, int64_t mtime_ns)
{
    struct list_state *ls = arg;

    if (strncmp(key, ls->key_prefix, ls->plen) != 0)
        return 0;
    return ls->fn(ls->arg, key + ls->plen, size, mtime_ns);
}

/* "list-type=2&prefix=..&start-after=..|continuation-token=.." */
static char *list_query(const char *prefix, const char *start_after, const char *token)
{
    char *p = sigv4_uri_encode(prefix, strlen(prefix), 1), *q = NULL;
    char *a = start_after ? sigv4_uri_encode(start_after, strlen(start_after), 1) : NULL;
    char *t = token ? sigv4_uri_encode(token, strlen(token), 1) : NULL;

    if (p && (!start_after || a) && (!token || t) &&
        asprintf(&q, "list-type=2&max-keys=1000&prefix=%s%s%s%s%s", p, a ? "&start-after=" : "", a ? a : "",
                 t ? "&continuation-token=" : "", t ? t : "") < 0)
        q = NULL;
    free(p);
    free(a);
    free(t);
    return q;
}

static int list_page(struct s3_client *c, const char *query, struct list_state *ls, struct s3_xml_list_page *page)
{
    struct s3_request rq = {.method = "GET", .key = NULL, .query = query, .xml_error_on_2xx = 1};
    struct s3_response r;
    int rc = s3_client_perform(c, &rq, NULL, NULL, &r);

    if (rc == 0)
        rc = s3_xml_list(r.xml ? r.xml : "", r.xml_len, list_entry, ls, page);
    if (rc)
        log_failure("LIST", query, rc, &r);
    s3_response_release(&r);
    return rc;
}

static int s3_list(struct store *s, const char *prefix, const char *start_after, store_list_fn fn, void *arg)
{
    const struct s3_endpoint *ep = s3_client_endpoint(client_of(s));
    struct list_state ls = {ep->key_prefix, strlen(ep->key_prefix), fn, arg};
    struct s3_xml_list_page page = {0};
    char full_prefix[1100], full_after[1100];
    int rc = 0;

    snprintf(full_prefix, sizeof(full_prefix), "%s%s", ep->key_prefix, prefix ? prefix : "");
    if (start_after)
        snprintf(full_after, sizeof(full_after), "%s%s", ep->key_prefix, start_after);
    do {
        char *q = list_query(full_prefix, page.next_token[0] ? NULL : start_after ? full_after : NULL,
                             page.next_token[0] ? page.next_token : NULL);
        if (!q)
            return -ENOMEM;
        rc = list_page(client_of(s), q, &ls, &page);
        free(q);
    } while (rc == 0 && !page.stopped && page.truncated && page.next_token[0]);
    if (rc == 0 && page.truncated && !page.next_token[0] && !page.stopped)
        rc = -EIO; /* a truncated V2 listing must say where to go on */
    return rc;
}

/* HEAD the bucket; create it when it is missing. */
static int ensure_bucket(struct s3_client *c, char *err, size_t errlen)
{
    const struct s3_endpoint *ep = s3_client_endpoint(c);
    struct s3_request rq = {.method = "HEAD"};
    struct s3_response r;
    char body[256] = "", sha[65];
    int rc = s3_client_perform(c, &rq, NULL, NULL, &r);

    s3_response_release(&r);
    if (rc != -ENOENT && rc != -ENXIO) {
        if (rc)
            snprintf(err, errlen, "bucket '%s' at %s is not reachable: %s (HTTP %ld)", ep->bucket, ep->base,
                     strerror(-rc), r.out.status);
        return rc;
    }
    if (strcmp(ep->region, "us-east-1") != 0)
        snprintf(body, sizeof(body),
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                 ep->region);
    sigv4_sha256_hex(body, strlen(body), sha);
    rq = (struct s3_request){.method = "PUT", .body = body, .body_len = strlen(body), .body_sha256 = sha,
                             .upload = 1, .xml_error_on_2xx = 1};
    rc = s3_client_perform(c, &rq, NULL, NULL, &r);
    if (rc == -EEXIST && strcmp(r.out.code, "BucketAlreadyOwnedByYou") == 0)
        rc = 0;
    if (rc)
        snprintf(err, errlen, "cannot create bucket '%s' at %s: %s (HTTP %ld %s)", ep->bucket, ep->base,
                 strerror(-rc), r.out.status, r.out.code);
    s3_response_release(&r);
    return rc;
}

/* PUT, GET back, compare, DELETE one small object. */
static int round_trip(struct store *s, char *err, size_t errlen)
{
    char key[64], data[4096], back[4096];
    size_t got = 0;
    int rc;

    snprintf(key, sizeof(key), ".tidefs-check-%ld-%ld", (long)getpid(), (long)time(NULL));
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 31 + 7);
    rc = s3_put(s, key, data, sizeof(data));
    if (rc) {
        snprintf(err, errlen, "bucket is not writable: PUT %s failed: %s", key, strerror(-rc));
        return rc;
    }
    rc = s3_get(s, key, 0, sizeof(back), back, &got);
    if (rc == 0 && (got != sizeof(data) || memcmp(data, back, got) != 0))
        rc = -EIO;
    if (rc)
        snprintf(err, errlen, "bucket does not return what was written: GET %s: %s", key, strerror(-rc));
    int drc = s3_del(s, key);
    if (!rc && drc)
        snprintf(err, errlen, "cannot delete from the bucket: DELETE %s: %s", key, strerror(-drc));
    return rc ? rc : drc;
}

static int s3_check(struct store *s, char *err, size_t errlen)
{
    int rc = ensure_bucket(client_of(s), err, errlen);

    return rc ? rc : round_trip(s, err, errlen);
}

const struct store_ops store_s3_ops = {
    .name = "s3",
    .open = s3_open,
    .free = s3_free,
    .put = s3_put,
    .get = s3_get,
    .head = s3_head,
    .del = s3_del,
    .list = s3_list,
    .check = s3_check,
};
