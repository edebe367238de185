/* SPDX-License-Identifier: Apache-2.0
 *
 * Leveled logging of tidefs-csi to stderr (kubelet collects it). Level 0
 * prints errors only; 2 adds one line per RPC with its result; 4 adds the
 * request and response bodies, always through csi_redact(); 5 adds gRPC's
 * own debug output. Nothing that is not redacted is ever logged.
 */
#ifndef TIDEFS_CSI_LOG_H
#define TIDEFS_CSI_LOG_H

#define CSI_LOG_ERROR 0
#define CSI_LOG_WARN 1
#define CSI_LOG_INFO 2
#define CSI_LOG_DEBUG 4
#define CSI_LOG_TRACE 5
#define CSI_LOG_MAX 5

/* Set the level once at start-up, before any thread exists; it is
 * read-only afterwards. Also routes gRPC's own log lines through us. */
void csi_log_init(int level);
int csi_log_level(void);
void csi_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
