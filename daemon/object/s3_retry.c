/* SPDX-License-Identifier: Apache-2.0
 *
 * The one retry policy of the S3 store. Retried: HTTP 500, 502, 503, 504,
 * 429; S3 codes SlowDown, RequestTimeout, InternalError, ServiceUnavailable
 * (whatever the status, which covers a 200 whose body is an <Error>);
 * BadDigest (the body was damaged in transit: the Content-MD5 did not
 * match); a GET body that failed its length or checksum check; and the
 * transport failures (refused, reset, timed out, nothing received, partial
 * body). Every other 4xx is final at once.
 */
#include <string.h>

#include "object/s3_retry.h"

static int transport_retryable(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return 1;
    default:
        return 0;
    }
}

static int code_retryable(const char *code)
{
    static const char *const codes[] = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
                                        "BadDigest", "OperationAborted"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

static int retryable(const struct s3_outcome *o)
{
    if (o->curl != CURLE_OK)
        return transport_retryable(o->curl);
    if (o->code[0] && code_retryable(o->code))
        return 1;
    if (o->corrupt)
        return 1;
    switch (o->status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return 1;
    default:
        return 0;
    }
}

static unsigned delay_cap(const struct s3_retry_policy *p, int attempt)
{
    unsigned long cap = p->base_ms;

    for (int i = 1; i < attempt && cap < p->cap_ms; i++)
        cap *= 2;
    return cap < p->cap_ms ? (unsigned)cap : p->cap_ms;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

int s3_retry_next(const struct s3_retry_policy *p, const struct s3_outcome *o, int attempt, uint64_t *rng,
                  unsigned *delay_ms)
{
    if (s3_outcome_ok(o) || attempt > p->retries || !retryable(o))
        return 0;
    *delay_ms = (unsigned)(xorshift(rng) % ((uint64_t)delay_cap(p, attempt) + 1));
    return 1;
}

unsigned long s3_retry_max_total_delay_ms(const struct s3_retry_policy *p)
{
    unsigned long sum = 0;

    for (int a = 1; a <= p->retries; a++)
        sum += delay_cap(p, a);
    return sum;
}
