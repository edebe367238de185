/* SPDX-License-Identifier: Apache-2.0
 *
 * An S3 HTTP client over libcurl: signs each attempt with SigV4, reuses
 * connections (a pool of easy handles, each keeping its keep-alive
 * connection), bounds each attempt by a timeout, limits parallel uploads
 * and downloads, and retries through the one policy of s3_retry.c. Used
 * concurrently by many threads.
 */
#ifndef TIDEFS_S3_CLIENT_H
#define TIDEFS_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "object/s3_checksum.h"
#include "object/s3_endpoint.h"
#include "object/s3_errno.h"
#include "object/s3_retry.h"

struct s3_client; /* opaque */

struct s3_client_config {
    const struct s3_endpoint *ep; /* copied */
    const char *access_key;       /* copied; NULL = unsigned requests */
    const char *secret_key;       /* copied, wiped on free */
    const char *session_token;    /* copied; NULL = none */
    struct s3_retry_policy retry;
    int put_timeout_ms;
    int get_timeout_ms; /* also HEAD, DELETE, LIST and bucket requests */
    int max_uploads;    /* parallel PUTs */
    int max_downloads;  /* parallel GETs */
};

/* One operation. Pointers are borrowed for the call. */
struct s3_request {
    const char *method; /* GET PUT HEAD DELETE */
    const char *key;    /* object key; NULL = the bucket */
    const char *query;  /* encoded, without '?'; NULL = none */
    const void *body;   /* PUT body */
    size_t body_len;
    const char *body_sha256; /* hex; NULL = UNSIGNED-PAYLOAD (with a body) */
    const char *content_md5; /* base64; NULL = none */
    const char *sums;        /* S3_SUMS_HEADER value; NULL = none */
    const char *range;       /* "bytes=A-B"; NULL = none */
    /* GET: where a 2xx body goes; more bytes than fit is a failed attempt.
     * NULL: the body (XML) goes to the response, capped at S3_XML_MAX. */
    const struct iovec *sink;
    int nsink;
    int upload; /* counts against max_uploads and uses the put timeout */
    int xml_error_on_2xx; /* a 2xx body that is an <Error> fails the attempt */
};

struct s3_response {
    struct s3_outcome out;
    char message[256];   /* <Message> of an error body */
    size_t received;     /* body bytes of the last attempt */
    char *xml;           /* body when the request had no sink, NUL-terminated; owned */
    size_t xml_len;
    int64_t content_length; /* -1 if absent */
    char etag[80];       /* without quotes */
    char content_range[96];
    char sums[S3_SUMS_VALUE_MAX];
    int attempts;
};

/* Checks a completed 2xx attempt (length, checksums); returns 0 or sets
 * rsp->out.corrupt and returns -EIO. */
typedef int (*s3_validate_fn)(void *arg, const struct s3_request *rq, struct s3_response *rsp);

/* Creates a client. 0, -ENOMEM or -EINVAL. Caller frees with
 * s3_client_free(). */
int s3_client_new(const struct s3_client_config *cfg, struct s3_client **out);
void s3_client_free(struct s3_client *c); /* accepts NULL */

/* Runs rq with retries. Returns 0 when the final attempt was a 2xx that
 * validate (may be NULL) accepted, else -errno from s3_status_to_errno;
 * rsp describes the last attempt either way. Caller releases rsp with
 * s3_response_release(). */
int s3_client_perform(struct s3_client *c, const struct s3_request *rq, s3_validate_fn validate, void *varg,
                      struct s3_response *rsp);
void s3_response_release(struct s3_response *rsp);

/* The endpoint the client was made with (borrowed). */
const struct s3_endpoint *s3_client_endpoint(const struct s3_client *c);

/* The longest a request can take before it fails: every attempt timing
 * out plus the largest backoff delays, in ms. */
unsigned long s3_client_max_request_ms(const struct s3_client *c, int upload);

#endif
