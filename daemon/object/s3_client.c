/* SPDX-License-Identifier: Apache-2.0
 *
 * The S3 HTTP client (see s3_client.h). One request = up to 1 + retries
 * attempts; each attempt takes an idle curl easy handle from the pool
 * (which keeps its keep-alive connection to the server), resets its
 * options, signs a fresh set of headers (the date moves between retries),
 * and performs. A 2xx body goes to the caller's buffers, anything else to
 * a capped XML buffer that is parsed for <Code>. Secrets stay in this
 * file's struct: CURLOPT_VERBOSE is never set and no header is logged.
 *
 * Invariants:
 *  1. a handle is either in c->idle (protected by c->lock) or used by
 *     exactly one attempt;
 *  2. an attempt holds one upload or download slot while it performs and
 *     none while it sleeps before a retry.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "object/s3_client.h"
#include "object/s3_xml.h"
#include "object/sigv4.h"

#define S3_CONNECT_TIMEOUT_MS 10000

struct s3_client {
    struct s3_endpoint ep;
    char *access_key;    /* owned */
    char *secret_key;    /* owned, wiped on free */
    char *session_token; /* owned */
    struct s3_retry_policy retry;
    int put_timeout_ms, get_timeout_ms;
    sem_t uploads, downloads;
    pthread_mutex_t lock;
    CURL **idle; /* protected by lock */
    size_t nidle, cap; /* protected by lock */
    atomic_uint_fast64_t seq; /* seeds the per-request jitter */
};

/* State of one attempt, shared with the curl callbacks. */
struct attempt {
    CURL *h;
    const struct s3_request *rq;
    struct s3_response *rsp;
    size_t upload_off;
    int sink_i;
    size_t sink_off;
    int overflow; /* body did not fit: the attempt failed */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out)
{
    struct s3_client *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return -ENOMEM;
    pthread_once(&curl_once, curl_init_once);
    c->ep = *cfg->ep;
    c->access_key = dup_opt(cfg->access_key);
    c->secret_key = dup_opt(cfg->secret_key);
    c->session_token = dup_opt(cfg->session_token);
    c->retry = cfg->retry;
    c->put_timeout_ms = cfg->put_timeout_ms;
    c->get_timeout_ms = cfg->get_timeout_ms;
    if ((cfg->access_key && cfg->access_key[0] && (!c->access_key || !c->secret_key)) ||
        (cfg->session_token && cfg->session_token[0] && !c->session_token)) {
        s3_client_free(c);
        return -ENOMEM;
    }
    sem_init(&c->uploads, 0, (unsigned)(cfg->max_uploads > 0 ? cfg->max_uploads : 1));
    sem_init(&c->downloads, 0, (unsigned)(cfg->max_downloads > 0 ? cfg->max_downloads : 1));
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->seq, (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull);
    *out = c;
    return 0;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->secret_key)
        OPENSSL_cleanse(c->secret_key, strlen(c->secret_key));
    free(c->access_key);
    free(c->secret_key);
    free(c->session_token);
    sem_destroy(&c->uploads);
    sem_destroy(&c->downloads);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const struct s3_endpoint *s3_client_endpoint(const struct s3_client *c)
{
    return &c->ep;
}

unsigned long s3_client_max_request_ms(const struct s3_client *c, int upload)
{
    unsigned long t = (unsigned long)(upload ? c->put_timeout_ms : c->get_timeout_ms);

    return t * (unsigned long)(c->retry.retries + 1) + s3_retry_max_total_delay_ms(&c->retry);
}

static CURL *handle_get(struct s3_client *c)
{
    CURL *h = NULL;

    pthread_mutex_lock(&c->lock);
    if (c->nidle > 0)
        h = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->lock);
    return h ? h : curl_easy_init();
}

static void handle_put(struct s3_client *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    if (c->nidle == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        CURL **n = realloc(c->idle, cap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&c->lock);
            curl_easy_cleanup(h);
            return;
        }
        c->idle = n;
        c->cap = cap;
    }
    c->idle[c->nidle++] = h;
    pthread_mutex_unlock(&c->lock);
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct attempt *a = arg;
    size_t left = a->rq->body_len - a->upload_off, n = size * nmemb < left ? size * nmemb : left;

    memcpy(buf, (const char *)a->rq->body + a->upload_off, n);
    a->upload_off += n;
    return n;
}

/* curl rewinds the body when it resends a request on a fresh connection
 * (a reused one had died); without this it fails with SEND_FAIL_REWIND. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct attempt *a = arg;

    if (origin != SEEK_SET || offset < 0 || (size_t)offset > a->rq->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    a->upload_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int to_sink(struct attempt *a, const char *p, size_t len)
{
    while (len > 0) {
        const struct iovec *v;
        size_t room, n;
        if (a->sink_i >= a->rq->nsink)
            return -1;
        v = &a->rq->sink[a->sink_i];
        room = v->iov_len - a->sink_off;
        if (room == 0) { /* an empty buffer (no head or tail): skip it */
            a->sink_i++;
            a->sink_off = 0;
            continue;
        }
        n = len < room ? len : room;
        memcpy((char *)v->iov_base + a->sink_off, p, n);
        a->sink_off += n;
        p += n;
        len -= n;
        if (a->sink_off == v->iov_len) {
            a->sink_i++;
            a->sink_off = 0;
        }
    }
    return 0;
}

static int to_xml(struct s3_response *rsp, const char *p, size_t len)
{
    char *n;

    if (rsp->xml_len + len > S3_XML_MAX)
        return -1;
    n = realloc(rsp->xml, rsp->xml_len + len + 1);
    if (!n)
        return -1;
    memcpy(n + rsp->xml_len, p, len);
    rsp->xml = n;
    rsp->xml_len += len;
    rsp->xml[rsp->xml_len] = '\0';
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct attempt *a = arg;
    size_t len = size * nmemb;
    long status = 0;
    int rc;

    curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
    if (a->rq->sink && status >= 200 && status < 300)
        rc = to_sink(a, p, len);
    else
        rc = to_xml(a->rsp, p, len);
    if (rc != 0) {
        a->overflow = 1;
        return 0; /* aborts the transfer */
    }
    a->rsp->received += len;
    return len;
}

/* Appends "Name: value" to the list; returns the list or NULL (and frees
 * the old one) when out of memory. */
static struct curl_slist *add_line(struct curl_slist *l, const char *line)
{
    struct curl_slist *n = line ? curl_slist_append(l, line) : NULL;

    if (!n)
        curl_slist_free_all(l);
    return n;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
    char line[S3_SUMS_VALUE_MAX + 64];

    if (!l)
        return NULL;
    snprintf(line, sizeof(line), "%s: %s", name, value);
    return add_line(l, line);
}

/* The headers of one attempt, signed at time now. */
static struct curl_slist *build_headers(struct s3_client *c, const struct s3_request *rq, const char *path,
                                        time_t now)
{
    struct sigv4_header h[4];
    size_t nh = 0;
    struct curl_slist *l = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */

    h[nh++] = (struct sigv4_header){"Host", c->ep.host};
    if (rq->content_md5)
        h[nh++] = (struct sigv4_header){"Content-MD5", rq->content_md5};
    if (rq->range)
        h[nh++] = (struct sigv4_header){"Range", rq->range};
    if (rq->sums)
        h[nh++] = (struct sigv4_header){S3_SUMS_HEADER, rq->sums};
    for (size_t i = 0; i < nh; i++)
        l = add_header(l, h[i].name, h[i].value);
    if (l && c->access_key) {
        const char *ph = rq->body_sha256 ? rq->body_sha256 : rq->body ? SIGV4_UNSIGNED_PAYLOAD : SIGV4_EMPTY_SHA256;
        struct sigv4_request srq = {rq->method, path, rq->query, h, nh, ph, 1};
        struct sigv4_key key = {c->access_key, c->secret_key, c->session_token, c->ep.region, "s3"};
        struct sigv4_signed s;
        if (sigv4_sign(&srq, &key, now, &s) != 0) {
            curl_slist_free_all(l);
            return NULL;
        }
        for (size_t i = 0; i < s.nadd_headers && l; i++)
            l = add_line(l, s.add_headers[i]);
        sigv4_signed_free(&s);
    }
    return l;
}

static char *build_url(const struct s3_client *c, const char *path, const char *query)
{
    char *enc = sigv4_uri_encode(path, strlen(path), 0), *url = NULL;

    if (enc && asprintf(&url, "%s%s%s%s", c->ep.base, enc, query ? "?" : "", query ? query : "") < 0)
        url = NULL;
    free(enc);
    return url;
}

static void set_method(CURL *h, const struct s3_request *rq)
{
    if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
}

static void set_options(struct s3_client *c, struct attempt *a, const char *url, struct curl_slist *hdrs)
{
    long timeout = a->rq->upload ? c->put_timeout_ms : c->get_timeout_ms;
    CURL *h = a->h;

    curl_easy_reset(h); /* keeps the connection and DNS caches */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < S3_CONNECT_TIMEOUT_MS ? timeout : S3_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, a);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, a);
    set_method(h, a->rq);
}

static void header_value(CURL *h, const char *name, char *out, size_t outlen)
{
    struct curl_header *hv = NULL;

    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hv) == CURLHE_OK && hv->value)
        snprintf(out, outlen, "%s", hv->value);
}

static void read_response_headers(CURL *h, struct s3_response *rsp)
{
    char cl[32];
    size_t n;

    header_value(h, "ETag", rsp->etag, sizeof(rsp->etag));
    n = strlen(rsp->etag);
    if (n >= 2 && rsp->etag[0] == '"' && rsp->etag[n - 1] == '"') {
        memmove(rsp->etag, rsp->etag + 1, n - 2);
        rsp->etag[n - 2] = '\0';
    }
    header_value(h, "Content-Range", rsp->content_range, sizeof(rsp->content_range));
    header_value(h, S3_SUMS_HEADER, rsp->sums, sizeof(rsp->sums));
    header_value(h, "Content-Length", cl, sizeof(cl));
    rsp->content_length = cl[0] ? strtoll(cl, NULL, 10) : -1;
}

/* Fills rsp->out from the transfer result and the body. */
static void classify(const struct attempt *a, CURLcode cc, struct s3_response *rsp)
{
    long status = 0;
    int is_2xx;

    curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
    rsp->out.status = status;
    rsp->out.curl = cc;
    is_2xx = status >= 200 && status < 300;
    if (a->overflow) { /* we aborted: the answer itself was wrong */
        rsp->out.curl = CURLE_OK;
        rsp->out.corrupt = is_2xx;
        if (!is_2xx)
            snprintf(rsp->out.code, sizeof(rsp->out.code), "OversizedErrorBody");
        return;
    }
    if (cc != CURLE_OK)
        return;
    read_response_headers(a->h, rsp);
    if ((!is_2xx || a->rq->xml_error_on_2xx) && rsp->xml)
        s3_xml_error(rsp->xml, rsp->xml_len, rsp->out.code, sizeof(rsp->out.code), rsp->message,
                     sizeof(rsp->message));
    if (is_2xx && rsp->out.code[0] && !a->rq->xml_error_on_2xx)
        rsp->out.code[0] = '\0';
}

static void reset_response(struct s3_response *rsp)
{
    free(rsp->xml);
    memset(rsp, 0, sizeof(*rsp));
    rsp->content_length = -1;
}

static void attempt_once(struct s3_client *c, const struct s3_request *rq, const char *path, const char *url,
                         struct s3_response *rsp)
{
    sem_t *slot = rq->upload ? &c->uploads : &c->downloads;
    struct attempt a = {.rq = rq, .rsp = rsp};
    struct curl_slist *hdrs;
    CURLcode cc;

    reset_response(rsp);
    hdrs = build_headers(c, rq, path, time(NULL));
    a.h = hdrs ? handle_get(c) : NULL;
    if (!a.h) {
        curl_slist_free_all(hdrs);
        rsp->out.curl = CURLE_OUT_OF_MEMORY;
        return;
    }
    set_options(c, &a, url, hdrs);
    while (sem_wait(slot) != 0 && errno == EINTR)
        ;
    cc = curl_easy_perform(a.h);
    sem_post(slot);
    classify(&a, cc, rsp);
    curl_easy_setopt(a.h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    handle_put(c, a.h);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int s3_client_perform(struct s3_client *c, const struct s3_request *rq, s3_validate_fn validate, void *varg,
                      struct s3_response *rsp)
{
    char path[1200];
    char *url;
    uint64_t rng = atomic_fetch_add(&c->seq, 0x9E3779B97F4A7C15ull) ^ (uint64_t)clock();
    unsigned delay = 0;
    int attempt;

    memset(rsp, 0, sizeof(*rsp));
    if (s3_endpoint_path(&c->ep, rq->key, path, sizeof(path)) != 0)
        return -ENAMETOOLONG;
    url = build_url(c, path, rq->query);
    if (!url)
        return -ENOMEM;
    for (attempt = 1;; attempt++) {
        attempt_once(c, rq, path, url, rsp);
        if (s3_outcome_ok(&rsp->out) && validate)
            validate(varg, rq, rsp);
        if (!s3_retry_next(&c->retry, &rsp->out, attempt, &rng, &delay))
            break;
        sleep_ms(delay);
    }
    free(url);
    rsp->attempts = attempt;
    return -s3_status_to_errno(&rsp->out);
}

void s3_response_release(struct s3_response *rsp)
{
    free(rsp->xml);
    rsp->xml = NULL;
    rsp->xml_len = 0;
}
