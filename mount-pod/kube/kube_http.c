/* SPDX-License-Identifier: Apache-2.0
 *
 * One HTTP request to the API server with libcurl: TLS material and the
 * bearer token from the client, a capped response body, and the mapping
 * of HTTP statuses and transport failures to -errno plus one clear line
 * (the API server's own Status message when it sent one).
 */
#include "kube/kube_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct body {
    char *data;
    size_t len, cap, max;
    bool over; /* the response exceeded max */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;

    if (b->len + n > b->max) {
        b->over = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        char *nd;

        while (cap < b->len + n + 1)
            cap *= 2;
        nd = realloc(b->data, cap);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void set_blob(CURL *h, CURLoption opt, const struct kube_blob *b)
{
    struct curl_blob cb = {.data = b->data, .len = b->len, .flags = CURL_BLOB_COPY};

    curl_easy_setopt(h, opt, &cb);
}

static void set_tls(CURL *h, const struct kube_client *c)
{
    if (c->ca.data)
        set_blob(h, CURLOPT_CAINFO_BLOB, &c->ca);
    else if (c->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->cert.data) {
        set_blob(h, CURLOPT_SSLCERT_BLOB, &c->cert);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (c->cert_file[0]) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    }
    if (c->key.data) {
        set_blob(h, CURLOPT_SSLKEY_BLOB, &c->key);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (c->key_file[0]) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    }
}

/* "Authorization: Bearer <token>" from the current token, or NULL. The
 * string holds a credential: the caller wipes and frees it. */
static char *auth_header(struct kube_client *c, bool force_reread, struct kube_err *err, int *rc)
{
    char *hdr = NULL;

    pthread_mutex_lock(&c->mu);
    *rc = kube_token_refresh(c, force_reread, err);
    if (*rc == 0 && c->token.data && asprintf(&hdr, "Authorization: Bearer %s", c->token.data) < 0) {
        hdr = NULL;
        *rc = -ENOMEM;
    }
    pthread_mutex_unlock(&c->mu);
    return hdr;
}

static int curl_errno(CURLcode cc, const struct body *b)
{
    switch (cc) {
    case CURLE_WRITE_ERROR:
        return b->over ? -EFBIG : -ENOMEM;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
        return -EPROTO;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return -EIO;
    default:
        return -EIO;
    }
}

static int status_errno(long code, const char *reason)
{
    switch (code) {
    case 400:
    case 422:
        return -EINVAL;
    case 401:
        return -EACCES;
    case 403:
        return -EPERM;
    case 404:
        return -ENOENT;
    case 409:
        return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
    case 410:
        return -ESTALE;
    case 429:
    case 503:
        return -EAGAIN;
    case 504:
        return -ETIMEDOUT;
    default:
        return code >= 500 ? -EIO : -EPROTO;
    }
}

/* What the API server said, from its Status object when there is one. */
static int http_error(long code, const struct body *b, const char *method, const char *path, struct kube_err *err)
{
    json_t *st = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    int rc = status_errno(code, reason);
    const char *hint = code == 401   ? " (the API server rejected our credentials)"
                       : code == 403 ? " (RBAC: the service account lacks this permission)"
                                     : "";

    kube_fail(err, (int)code, rc, "kube: %s %s: HTTP %ld %s%s%s", method, path, code, msg ? msg : reason ? reason : "",
              hint, !msg && !reason ? "no Status in the response" : "");
    json_decref(st);
    return rc;
}

struct request {
    const char *method, *url, *path, *content_type;
    const char *payload; /* JSON text or NULL */
};

/* One attempt; *code gets the HTTP status (0 when none). */
static int perform(struct kube_client *c, const struct request *r, bool force_token, struct body *b, long *code,
                   struct kube_err *err)
{
    struct curl_slist *hdrs = NULL;
    char ctype[128];
    int rc = 0;
    char *auth = auth_header(c, force_token, err, &rc);
    CURL *h = rc ? NULL : curl_easy_init();

    *code = 0;
    if (!h) {
        free(auth);
        return rc ? rc : -ENOMEM;
    }
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", r->content_type);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (r->payload)
        hdrs = curl_slist_append(hdrs, ctype);
    if (auth)
        hdrs = curl_slist_append(hdrs, auth);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tidefs-csi");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    if (r->payload)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->payload);
    else if (strcmp(r->method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    set_tls(h, c);
    CURLcode cc = curl_easy_perform(h);

    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    } else {
        rc = curl_errno(cc, b);
        if (rc == -EFBIG)
            kube_fail(err, 0, rc, "kube: %s %s: the response is larger than %zu bytes", r->method, r->path,
                      c->max_response);
        else
            kube_fail(err, 0, rc, "kube: %s %s: %s", r->method, r->path, curl_easy_strerror(cc));
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    return rc;
}

static int decode(const struct body *b, const char *method, const char *path, json_t **out, struct kube_err *err)
{
    json_error_t je;

    if (!out)
        return 0;
    *out = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    if (!*out)
        return kube_fail(err, 0, -EBADMSG, "kube: %s %s: the response is not JSON: %s", method, path, je.text);
    return 0;
}

int kube_request(struct kube_client *c, const char *method, const char *path, const char *query,
                 const char *content_type, const json_t *body, json_t **out, struct kube_err *err)
{
    struct request r = {.method = method, .path = path,
                        .content_type = content_type ? content_type : "application/json"};
    char *url = NULL, *payload = NULL;
    long code = 0;
    int rc;

    if (out)
        *out = NULL;
    if (err) {
        err->http_status = 0;
        err->text[0] = '\0';
    }
    if (asprintf(&url, "%s%s%s%s", c->server, path, query && *query ? "?" : "", query ? query : "") < 0)
        return -ENOMEM;
    if (body && !(payload = json_dumps(body, JSON_COMPACT))) {
        free(url);
        return -ENOMEM;
    }
    r.url = url;
    r.payload = payload;
    for (int attempt = 0;; attempt++) {
        struct body b = {.max = c->max_response};

        rc = perform(c, &r, attempt > 0, &b, &code, err);
        if (rc == 0 && code == 401 && attempt == 0 && c->token_file[0]) {
            free(b.data); /* the token may have rotated under us: re-read it and retry once */
            continue;
        }
        if (rc == 0 && (code < 200 || code > 299))
            rc = http_error(code, &b, method, path, err);
        else if (rc == 0)
            rc = decode(&b, method, path, out, err);
        free(b.data);
        break;
    }
    free(url);
    if (payload) {
        explicit_bzero(payload, strlen(payload)); /* may be a Secret */
        free(payload);
    }
    return rc;
}
