/* SPDX-License-Identifier: Apache-2.0
 *
 * The mount's counters over HTTP: a small HTTP/1.1 server thread that
 * answers GET /metrics with the Prometheus text format (version 0.0.4) and
 * 404 to anything else. It listens on a unix socket in the mount's state
 * directory (what `tidefs stats` reads) and, with `mount --metrics ADDR`,
 * on TCP as well. One connection at a time, requests bounded in size and
 * time; it only reads atomic counters, so it never holds up the
 * filesystem.
 */
#ifndef TIDEFS_METRICS_H
#define TIDEFS_METRICS_H

#include <stddef.h>
#include <sys/socket.h>

#include "chunk/chunk.h"
#include "vfs/vfs_stats.h"

#define METRICS_SOCKET_NAME "metrics.sock" /* in supervisor_dir() */
#define METRICS_MAX_BODY (1u << 20)

/* "HOST:PORT", "[V6ADDR]:PORT", ":PORT" or "PORT" (host defaults to
 * 127.0.0.1). 0, or -EINVAL with a one-line reason in why. */
int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *why, size_t whylen);

/* Whether `addr` parses and can be listened on right now (binds and
 * closes, without sharing the port, so any listener there counts); for
 * the mount command to refuse a bad --metrics up front. */
int metrics_check_addr(const char *addr, char *why, size_t whylen);

/* The exposition text of `stats` and `cs` (either may be NULL) into a
 * malloc'ed, NUL-terminated *out; caller frees. 0 or -ENOMEM. */
int metrics_render(const struct vfs_stats *stats, struct chunk_store *cs, char **out, size_t *len);

struct metrics_server;

/* Starts the server thread on `unix_path` and/or `tcp_addr` (either may
 * be NULL, not both). stats and cs are borrowed and must outlive the
 * server. -errno with a one-line reason in why. */
int metrics_start(struct vfs_stats *stats, struct chunk_store *cs, const char *unix_path, const char *tcp_addr,
                  struct metrics_server **out, char *why, size_t whylen);

/* Stops the thread, closes the sockets, removes the unix socket unless
 * another daemon has replaced it. Accepts NULL. */
void metrics_stop(struct metrics_server *ms);

#endif
