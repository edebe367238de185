/* SPDX-License-Identifier: Apache-2.0
 *
 * AWS Signature Version 4 (HMAC-SHA256), as S3 uses it: the path is never
 * normalised and is URI-encoded once, the query is re-encoded and sorted,
 * header values are trimmed and their inner whitespace collapsed. Two forms:
 * signing into headers (what the S3 store sends) and presigning into the
 * query string. Pure computation: no I/O, no globals, thread-safe.
 */
#ifndef TIDEFS_SIGV4_H
#define TIDEFS_SIGV4_H

#include <stddef.h>
#include <time.h>

/* lowercase hex SHA-256 of the empty body */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct sigv4_header {
    const char *name;  /* any case; borrowed */
    const char *value; /* raw; trimmed and collapsed when signed; borrowed */
};

/* The request to sign. All pointers are borrowed for the call only. */
struct sigv4_request {
    const char *method;
    const char *path;  /* unencoded, e.g. "/bucket/a b" (encoded here, '/' kept) */
    const char *query; /* as in the URL without '?', maybe %-encoded; NULL = none */
    const struct sigv4_header *headers; /* every header to sign, Host included */
    size_t nheaders;
    const char *payload_hash; /* hex SHA-256 of the body or SIGV4_UNSIGNED_PAYLOAD */
    int content_sha256_header; /* header form: also sign x-amz-content-sha256 (S3 needs it) */
};

/* Credentials and scope; borrowed for the call only. */
struct sigv4_key {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" = none */
    const char *region;
    const char *service; /* "s3" */
};

/* Result of signing; release with sigv4_signed_free(). */
struct sigv4_signed {
    char amz_date[17];       /* YYYYMMDDTHHMMSSZ */
    char signature[65];      /* lowercase hex */
    char *canonical_request; /* owned */
    char *string_to_sign;    /* owned */
    /* header form: "Name: value" lines the request must carry in addition to
     * its own headers (X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token,
     * Authorization). Secret-derived: never log them. Owned. */
    char *add_headers[4];
    size_t nadd_headers;
    /* presigned form: the complete query string to send (without '?'). Owned. */
    char *query;
};

/* Signs rq into headers at time now. 0, -EINVAL (missing field) or -ENOMEM;
 * on failure out holds nothing to free. */
int sigv4_sign(const struct sigv4_request *rq, const struct sigv4_key *key, time_t now,
               struct sigv4_signed *out);

/* Presigns rq into its query string, valid for expires_s seconds. */
int sigv4_presign(const struct sigv4_request *rq, const struct sigv4_key *key, time_t now,
                  unsigned expires_s, struct sigv4_signed *out);

/* Frees what sigv4_sign/sigv4_presign put into s; accepts a zeroed struct. */
void sigv4_signed_free(struct sigv4_signed *s);

/* URI-encodes len bytes of src the SigV4 way (unreserved kept, everything
 * else %XX uppercase; '/' kept unless encode_slash). Caller frees with
 * free(); NULL on ENOMEM. */
char *sigv4_uri_encode(const char *src, size_t len, int encode_slash);

/* Lowercase hex SHA-256 of buf into out (65 bytes with the NUL). */
void sigv4_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
