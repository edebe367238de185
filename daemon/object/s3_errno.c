/* SPDX-License-Identifier: Apache-2.0
 *
 * S3 error -> errno: the one place a failed request becomes an errno. The
 * S3 error code (from the XML body) is more precise than the status and is
 * looked at first; then the transport error; then the HTTP status.
 */
#include <errno.h>
#include <string.h>

#include "object/s3_errno.h"

static const struct {
    const char *code;
    int err;
} code_errno[] = {
    {"NoSuchKey", ENOENT},
    {"NoSuchBucket", ENXIO},
    {"AccessDenied", EACCES},
    {"AllAccessDisabled", EACCES},
    {"InvalidAccessKeyId", EACCES},
    {"SignatureDoesNotMatch", EACCES},
    {"ExpiredToken", EACCES},
    {"InvalidToken", EACCES},
    {"RequestTimeTooSkewed", EACCES},
    {"AccountProblem", EACCES},
    {"EntityTooLarge", EFBIG},
    {"QuotaExceeded", EDQUOT},
    {"NotImplemented", EOPNOTSUPP},
    {"InvalidRange", EINVAL},
    {"InvalidArgument", EINVAL},
    {"InvalidBucketName", EINVAL},
    {"KeyTooLongError", ENAMETOOLONG},
    {"BucketAlreadyExists", EEXIST},
    {"RequestTimeout", ETIMEDOUT},
};

static int curl_to_errno(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        return ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return EACCES;
    default:
        return EIO;
    }
}

static int status_to_errno(long status)
{
    switch (status) {
    case 400:
        return EINVAL;
    case 401:
    case 403:
        return EACCES;
    case 404:
        return ENOENT;
    case 405:
    case 501:
        return EOPNOTSUPP;
    case 409:
        return EEXIST;
    case 411:
    case 413:
        return EFBIG;
    case 416:
        return EINVAL;
    case 507:
        return ENOSPC;
    case 408:
        return ETIMEDOUT;
    default:
        return EIO;
    }
}

int s3_outcome_ok(const struct s3_outcome *o)
{
    return o->curl == CURLE_OK && o->status >= 200 && o->status < 300 && !o->code[0] && !o->corrupt;
}

int s3_status_to_errno(const struct s3_outcome *o)
{
    if (s3_outcome_ok(o))
        return 0;
    for (size_t i = 0; i < sizeof(code_errno) / sizeof(code_errno[0]); i++)
        if (strcmp(o->code, code_errno[i].code) == 0)
            return code_errno[i].err;
    if (o->curl != CURLE_OK)
        return curl_to_errno(o->curl);
    if (o->corrupt)
        return EIO;
    return status_to_errno(o->status);
}
