/* SPDX-License-Identifier: Apache-2.0
 *
 * The outcome of one S3 request attempt (transport result, HTTP status, S3
 * error code) and the one translation of it into an errno value.
 */
#ifndef TIDEFS_S3_ERRNO_H
#define TIDEFS_S3_ERRNO_H

#include <curl/curl.h>

struct s3_outcome {
    CURLcode curl;  /* CURLE_OK when an HTTP answer was received */
    long status;    /* HTTP status, 0 without an answer */
    char code[64];  /* S3 <Code> from an XML error body, "" if none */
    int corrupt;    /* body failed a length or checksum check */
};

/* The errno for an outcome that is final (success is 0; positive errno
 * otherwise). One flat mapping: 403 -> EACCES, 404/NoSuchKey -> ENOENT,
 * NoSuchBucket -> ENXIO, 5xx/429/transport -> EIO, timeouts -> ETIMEDOUT... */
int s3_status_to_errno(const struct s3_outcome *o);

/* True for a 2xx answer with no error code and no corruption. */
int s3_outcome_ok(const struct s3_outcome *o);

#endif
