/* SPDX-License-Identifier: Apache-2.0
 *
 * The S3 retry policy, in one function: which outcomes are retried, and
 * how long to wait before the next attempt (exponential backoff with full
 * jitter, capped). A request makes at most 1 + retries attempts, so it
 * fails after at most (1 + retries) x timeout + the sum of the delay caps.
 */
#ifndef TIDEFS_S3_RETRY_H
#define TIDEFS_S3_RETRY_H

#include <stdint.h>

#include "object/s3_errno.h"

#define S3_RETRY_DEFAULT 10
#define S3_RETRY_BASE_MS 100
#define S3_RETRY_CAP_MS 5000

struct s3_retry_policy {
    int retries;      /* retries after the first attempt */
    unsigned base_ms; /* delay cap of the first retry */
    unsigned cap_ms;  /* largest delay cap */
};

/* After attempt number `attempt` (1 = the first) ended with o: returns 1
 * and sets *delay_ms (uniform in [0, min(cap, base * 2^(attempt-1))]) when
 * the request is to be tried again, 0 when o is final. *rng is the
 * caller's xorshift state (per thread, non-zero). */
int s3_retry_next(const struct s3_retry_policy *p, const struct s3_outcome *o, int attempt, uint64_t *rng,
                  unsigned *delay_ms);

/* The worst-case sum of the delays of a request that uses every retry. */
unsigned long s3_retry_max_total_delay_ms(const struct s3_retry_policy *p);

#endif
