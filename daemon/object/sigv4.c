/* SPDX-License-Identifier: Apache-2.0
 *
 * AWS Signature Version 4. Builds the canonical request (method, encoded
 * path, sorted re-encoded query, sorted lower-cased headers with duplicates
 * joined by ',', signed-header list, payload hash), the string to sign and
 * the HMAC-SHA256 signature with the key derived from the secret, date,
 * region and service. Strings are assembled with open_memstream; nothing
 * here logs, because every intermediate is derived from the secret.
 */
#include "object/sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

struct canon_header {
    char *name;  /* lower-cased, owned */
    char *value; /* trimmed and collapsed, owned */
    size_t order; /* position in the request, keeps duplicates in order */
};

struct query_param {
    char *key;   /* encoded, owned */
    char *value; /* encoded, owned */
};

/* Everything the two signing forms share while one request is signed. */
struct sign_ctx {
    const struct sigv4_request *rq;
    const struct sigv4_key *key;
    char date[9];               /* YYYYMMDD */
    char scope[256];            /* date/region/service/aws4_request */
    struct canon_header *hdrs;  /* owned */
    size_t nhdrs;
    struct query_param *params; /* owned */
    size_t nparams;
    char *signed_headers;       /* "host;x-amz-date", owned */
};

static const char hex_lower[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void sigv4_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, 32, out);
}

static void hmac_sha256(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int outlen = 32;

    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &outlen);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

char *sigv4_uri_encode(const char *src, size_t len, int encode_slash)
{
    static const char hex_upper[] = "0123456789ABCDEF";
    char *out = malloc(3 * len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex_upper[c >> 4];
            out[o++] = hex_upper[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in [s, s+len) and encodes the result canonically. */
static char *reencode(const char *s, size_t len)
{
    char *raw = malloc(len + 1), *enc;
    size_t o = 0;

    if (!raw)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0) {
            raw[o++] = (char)(hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]));
            i += 2;
        } else {
            raw[o++] = s[i];
        }
    }
    enc = sigv4_uri_encode(raw, o, 1);
    free(raw);
    return enc;
}

static int add_param_raw(struct sign_ctx *c, char *key, char *value)
{
    struct query_param *p;

    if (!key || !value)
        goto fail;
    p = realloc(c->params, (c->nparams + 1) * sizeof(*p));
    if (!p)
        goto fail;
    c->params = p;
    c->params[c->nparams].key = key;
    c->params[c->nparams].value = value;
    c->nparams++;
    return 0;
fail:
    free(key);
    free(value);
    return -ENOMEM;
}

/* Adds an unencoded key/value pair (the presign parameters). */
static int add_param(struct sign_ctx *c, const char *key, const char *value)
{
    return add_param_raw(c, sigv4_uri_encode(key, strlen(key), 1),
                         sigv4_uri_encode(value, strlen(value), 1));
}

static int parse_query(struct sign_ctx *c, const char *q)
{
    while (q && *q) {
        size_t seg = strcspn(q, "&");
        const char *eq = memchr(q, '=', seg);
        size_t klen = eq ? (size_t)(eq - q) : seg;
        if (seg > 0) {
            int rc = add_param_raw(c, reencode(q, klen), eq ? reencode(eq + 1, seg - klen - 1) : strdup(""));
            if (rc)
                return rc;
        }
        q += seg;
        if (*q == '&')
            q++;
    }
    return 0;
}

static int cmp_param(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int r = strcmp(x->key, y->key);

    return r ? r : strcmp(x->value, y->value);
}

/* Lower-cases name; trims value and collapses whitespace runs to one space. */
static int add_header(struct sign_ctx *c, const char *name, const char *value)
{
    struct canon_header *h = realloc(c->hdrs, (c->nhdrs + 1) * sizeof(*h));
    char *n, *v;
    size_t o = 0;

    if (!h)
        return -ENOMEM;
    c->hdrs = h;
    n = strdup(name);
    v = malloc(strlen(value) + 1);
    if (!n || !v) {
        free(n);
        free(v);
        return -ENOMEM;
    }
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (const char *p = value; *p; p++) {
        int ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        if (!ws)
            v[o++] = *p;
        else if (o > 0 && v[o - 1] != ' ')
            v[o++] = ' ';
    }
    if (o > 0 && v[o - 1] == ' ')
        o--;
    v[o] = '\0';
    c->hdrs[c->nhdrs] = (struct canon_header){n, v, c->nhdrs};
    c->nhdrs++;
    return 0;
}

static int cmp_header(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r)
        return r;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void ctx_free(struct sign_ctx *c)
{
    for (size_t i = 0; i < c->nhdrs; i++) {
        free(c->hdrs[i].name);
        free(c->hdrs[i].value);
    }
    for (size_t i = 0; i < c->nparams; i++) {
        free(c->params[i].key);
        free(c->params[i].value);
    }
    free(c->hdrs);
    free(c->params);
    free(c->signed_headers);
}

/* Collects the request's headers (plus extra ones the form adds), sorts
 * them and writes the signed-header list. */
static int collect_headers(struct sign_ctx *c, const struct sigv4_header *extra, size_t nextra)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *f;

    for (size_t i = 0; i < c->rq->nheaders; i++)
        if (add_header(c, c->rq->headers[i].name, c->rq->headers[i].value))
            return -ENOMEM;
    for (size_t i = 0; i < nextra; i++)
        if (add_header(c, extra[i].name, extra[i].value))
            return -ENOMEM;
    if (c->nhdrs)
        qsort(c->hdrs, c->nhdrs, sizeof(*c->hdrs), cmp_header);
    f = open_memstream(&buf, &sz);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < c->nhdrs; i++)
        if (i == 0 || strcmp(c->hdrs[i].name, c->hdrs[i - 1].name) != 0)
            fprintf(f, "%s%s", i ? ";" : "", c->hdrs[i].name);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    c->signed_headers = buf;
    return 0;
}

static void write_canonical_query(const struct sign_ctx *c, FILE *f)
{
    for (size_t i = 0; i < c->nparams; i++)
        fprintf(f, "%s%s=%s", i ? "&" : "", c->params[i].key, c->params[i].value);
}

static char *canonical_request(const struct sign_ctx *c)
{
    char *buf = NULL, *path;
    size_t sz = 0;
    FILE *f = open_memstream(&buf, &sz);

    if (!f)
        return NULL;
    path = sigv4_uri_encode(c->rq->path, strlen(c->rq->path), 0);
    fprintf(f, "%s\n%s\n", c->rq->method, path ? path : "");
    write_canonical_query(c, f);
    fputc('\n', f);
    for (size_t i = 0; i < c->nhdrs; i++) {
        int first = i == 0 || strcmp(c->hdrs[i].name, c->hdrs[i - 1].name) != 0;
        int last = i + 1 == c->nhdrs || strcmp(c->hdrs[i].name, c->hdrs[i + 1].name) != 0;
        if (first)
            fprintf(f, "%s:", c->hdrs[i].name);
        fprintf(f, "%s%s", c->hdrs[i].value, last ? "\n" : ",");
    }
    fprintf(f, "\n%s\n%s", c->signed_headers, c->rq->payload_hash);
    if (fclose(f) != 0 || !path) {
        free(path);
        free(buf);
        return NULL;
    }
    free(path);
    return buf;
}

/* Fills the string to sign and the signature from the canonical request. */
static int finish_signature(const struct sign_ctx *c, struct sigv4_signed *out)
{
    char crhash[65], *sts = NULL, *secret;
    unsigned char k[32];
    size_t sz = 0, slen = strlen(c->key->secret_key);
    FILE *f;

    out->canonical_request = canonical_request(c);
    if (!out->canonical_request)
        return -ENOMEM;
    sigv4_sha256_hex(out->canonical_request, strlen(out->canonical_request), crhash);
    f = open_memstream(&sts, &sz);
    if (!f)
        return -ENOMEM;
    fprintf(f, SIGV4_ALGORITHM "\n%s\n%s\n%s", out->amz_date, c->scope, crhash);
    if (fclose(f) != 0) {
        free(sts);
        return -ENOMEM;
    }
    out->string_to_sign = sts;
    secret = malloc(slen + 5);
    if (!secret)
        return -ENOMEM;
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, c->key->secret_key, slen + 1);
    hmac_sha256(secret, slen + 4, c->date, k);
    OPENSSL_cleanse(secret, slen + 4);
    free(secret);
    hmac_sha256(k, 32, c->key->region, k);
    hmac_sha256(k, 32, c->key->service, k);
    hmac_sha256(k, 32, "aws4_request", k);
    hmac_sha256(k, 32, sts, k);
    to_hex(k, 32, out->signature);
    return 0;
}

static int ctx_init(struct sign_ctx *c, const struct sigv4_request *rq, const struct sigv4_key *key,
                    time_t now, struct sigv4_signed *out)
{
    struct tm tm;

    memset(out, 0, sizeof(*out));
    memset(c, 0, sizeof(*c));
    if (!rq->method || !rq->path || rq->path[0] != '/' || !rq->payload_hash || !key->access_key ||
        !key->secret_key || !key->region || !key->service)
        return -EINVAL;
    c->rq = rq;
    c->key = key;
    if (!gmtime_r(&now, &tm))
        return -EINVAL;
    strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(c->date, out->amz_date, 8);
    c->date[8] = '\0';
    if ((size_t)snprintf(c->scope, sizeof(c->scope), "%s/%s/%s/aws4_request", c->date, key->region,
                         key->service) >= sizeof(c->scope))
        return -EINVAL;
    return parse_query(c, rq->query);
}

static int has_token(const struct sigv4_key *key)
{
    return key->session_token && key->session_token[0];
}

static char *format_line(const char *name, const char *value)
{
    char *s = NULL;

    if (asprintf(&s, "%s: %s", name, value) < 0)
        return NULL;
    return s;
}

static int header_lines(const struct sign_ctx *c, struct sigv4_signed *out)
{
    char *auth = NULL;

    out->add_headers[out->nadd_headers++] = format_line("X-Amz-Date", out->amz_date);
    if (c->rq->content_sha256_header)
        out->add_headers[out->nadd_headers++] = format_line("X-Amz-Content-Sha256", c->rq->payload_hash);
    if (has_token(c->key))
        out->add_headers[out->nadd_headers++] = format_line("X-Amz-Security-Token", c->key->session_token);
    if (asprintf(&auth, "Authorization: " SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 c->key->access_key, c->scope, c->signed_headers, out->signature) < 0)
        auth = NULL;
    out->add_headers[out->nadd_headers++] = auth;
    for (size_t i = 0; i < out->nadd_headers; i++)
        if (!out->add_headers[i])
            return -ENOMEM;
    return 0;
}

int sigv4_sign(const struct sigv4_request *rq, const struct sigv4_key *key, time_t now,
               struct sigv4_signed *out)
{
    struct sign_ctx c;
    struct sigv4_header extra[3];
    size_t nextra = 0;
    int rc = ctx_init(&c, rq, key, now, out);

    if (rc)
        goto out;
    extra[nextra++] = (struct sigv4_header){"x-amz-date", out->amz_date};
    if (rq->content_sha256_header)
        extra[nextra++] = (struct sigv4_header){"x-amz-content-sha256", rq->payload_hash};
    if (has_token(key))
        extra[nextra++] = (struct sigv4_header){"x-amz-security-token", key->session_token};
    rc = collect_headers(&c, extra, nextra);
    if (rc)
        goto out;
    if (c.nparams) /* qsort(NULL, 0, ...) is undefined */
        qsort(c.params, c.nparams, sizeof(*c.params), cmp_param);
    rc = finish_signature(&c, out);
    if (rc)
        goto out;
    rc = header_lines(&c, out);
out:
    ctx_free(&c);
    if (rc)
        sigv4_signed_free(out);
    return rc;
}

static int presign_params(struct sign_ctx *c, const struct sigv4_signed *out, unsigned expires_s)
{
    char cred[512], exp[16];
    int rc;

    snprintf(cred, sizeof(cred), "%s/%s", c->key->access_key, c->scope);
    snprintf(exp, sizeof(exp), "%u", expires_s);
    rc = add_param(c, "X-Amz-Algorithm", SIGV4_ALGORITHM);
    rc = rc ? rc : add_param(c, "X-Amz-Credential", cred);
    rc = rc ? rc : add_param(c, "X-Amz-Date", out->amz_date);
    rc = rc ? rc : add_param(c, "X-Amz-Expires", exp);
    if (!rc && has_token(c->key))
        rc = add_param(c, "X-Amz-Security-Token", c->key->session_token);
    rc = rc ? rc : add_param(c, "X-Amz-SignedHeaders", c->signed_headers);
    return rc;
}

int sigv4_presign(const struct sigv4_request *rq, const struct sigv4_key *key, time_t now,
                  unsigned expires_s, struct sigv4_signed *out)
{
    struct sign_ctx c;
    char *q = NULL;
    size_t sz = 0;
    FILE *f;
    int rc = ctx_init(&c, rq, key, now, out);

    if (rc)
        goto out;
    rc = collect_headers(&c, NULL, 0);
    rc = rc ? rc : presign_params(&c, out, expires_s);
    if (rc)
        goto out;
    if (c.nparams) /* qsort(NULL, 0, ...) is undefined */
        qsort(c.params, c.nparams, sizeof(*c.params), cmp_param);
    rc = finish_signature(&c, out);
    if (rc)
        goto out;
    f = open_memstream(&q, &sz);
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    write_canonical_query(&c, f);
    fprintf(f, "&X-Amz-Signature=%s", out->signature);
    if (fclose(f) != 0) {
        free(q);
        rc = -ENOMEM;
        goto out;
    }
    out->query = q;
out:
    ctx_free(&c);
    if (rc)
        sigv4_signed_free(out);
    return rc;
}

void sigv4_signed_free(struct sigv4_signed *s)
{
    if (!s)
        return;
    free(s->canonical_request);
    free(s->string_to_sign);
    for (size_t i = 0; i < s->nadd_headers; i++)
        free(s->add_headers[i]);
    free(s->query);
    memset(s, 0, sizeof(*s));
}
