/* SPDX-License-Identifier: Apache-2.0
 *
 * Private helpers shared by the hand-off library's files: error text and
 * deadlines on the monotonic clock. Not for users of the library.
 */
#ifndef TIDEFS_HANDOFF_I_H
#define TIDEFS_HANDOFF_I_H

#include <stdint.h>

#include "handoff/handoff.h"

/* printf-style one-line error into err (NULL is fine). */
void handoff_err_set(struct handoff_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A deadline: absolute monotonic milliseconds, or -1 for none. */
int64_t handoff_deadline(int timeout_ms);
/* Milliseconds left until deadline for poll(): -1 for none, 0 when passed. */
int handoff_remaining_ms(int64_t deadline);
/* poll() one fd for events until the deadline: 1 ready, 0 timed out, -errno. */
int handoff_wait(int fd, short events, int64_t deadline);

#endif
