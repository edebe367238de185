/* SPDX-License-Identifier: Apache-2.0
 *
 * A unary gRPC server on gRPC's C core for protobuf-c messages: one
 * completion queue shared by a few worker threads, a table of methods,
 * UNIMPLEMENTED for every other path at once, and a drain on stop. It
 * knows nothing of CSI beyond logging every request through csi_redact().
 */
#ifndef TIDEFS_CSI_SERVER_H
#define TIDEFS_CSI_SERVER_H

#include "csi_arena.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A handler gets the unpacked request and builds *resp from the arena.
 * Returns 0, or -errno with a one-line reason in err (sent to the client
 * as the status message, so it must never contain a secret). */
typedef int (*csi_handler_fn)(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen);

struct csi_method {
    const char *path; /* "/csi.v1.Identity/Probe" */
    const ProtobufCMessageDescriptor *input;
    csi_handler_fn fn;
};

struct csi_server_config {
    const char *socket_path;       /* absolute path of the unix socket */
    const struct csi_method *methods; /* borrowed, outlives the server */
    size_t n_methods;
    void *arg;                     /* passed to every handler */
    int workers;                   /* threads running handlers */
    int drain_ms;                  /* how long stop waits for in-flight calls */
};

struct csi_server;

/* Binds and starts serving. grpc_init() must have been called. */
int csi_server_start(const struct csi_server_config *cfg, struct csi_server **out, char *err, size_t errlen);

/* Stops accepting calls, lets in-flight calls finish for up to drain_ms,
 * cancels the rest, and frees everything (the socket file is removed). */
void csi_server_stop(struct csi_server *s);

#endif
