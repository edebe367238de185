/* SPDX-License-Identifier: Apache-2.0
 *
 * Unary gRPC server on gRPC C core 1.51 (see shared/reference/grpc-c-core.md
 * for the API sequence and its pitfalls): every call context is the tag of
 * its own completion-queue events; a call is owed back by the queue from
 * the moment its request is posted until its reply batch completes, and
 * the server counts these ("live") so that the queue is shut down only when
 * nothing can touch it any more.
 */
#include "csi_server.h"

#include "csi_log.h"
#include "csi_redact.h"
#include "csi_status.h"
#include "csi_validate.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define REQUESTS_PER_METHOD 2 /* outstanding requests per registered path */
#define GENERIC_REQUESTS 4    /* outstanding requests for unknown paths */
#define MAX_WORKERS 64

enum call_kind { CALL_REGISTERED, CALL_GENERIC };
enum call_phase { PHASE_NEW, PHASE_REPLY };

struct csi_call {
    struct csi_server *srv;
    enum call_kind kind;
    enum call_phase phase;
    size_t method; /* index into cfg.methods, registered calls only */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* generic calls only */
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply;
    grpc_slice status_details;
    bool has_details;
    int cancelled;
};

struct csi_server {
    struct csi_server_config cfg;
    grpc_server *srv;
    grpc_completion_queue *cq;
    void **handles; /* one per method */
    pthread_t threads[MAX_WORKERS];
    int n_threads;
    pthread_mutex_t mu; /* guards every field below and every request_*_call */
    pthread_cond_t cond;
    bool stopping;
    bool shutdown_done;
    size_t live;
    char shutdown_tag; /* its address is the tag of the shutdown event */
};

static void call_free(struct csi_call *c, bool counted)
{
    struct csi_server *s = c->srv;

    grpc_metadata_array_destroy(&c->md);
    if (c->kind == CALL_GENERIC)
        grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    if (c->has_details)
        grpc_slice_unref(c->status_details);
    if (c->call)
        grpc_call_unref(c->call);
    free(c);
    if (!counted)
        return;
    pthread_mutex_lock(&s->mu);
    s->live--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void post_request(struct csi_server *s, enum call_kind kind, size_t method)
{
    struct csi_call *c = calloc(1, sizeof(*c));
    grpc_call_error e = GRPC_CALL_OK;

    if (!c) {
        csi_log(CSI_LOG_ERROR, "out of memory posting a call request");
        return;
    }
    c->srv = s;
    c->kind = kind;
    c->method = method;
    grpc_metadata_array_init(&c->md);
    if (kind == CALL_GENERIC)
        grpc_call_details_init(&c->details);
    pthread_mutex_lock(&s->mu);
    if (!s->stopping) {
        if (kind == CALL_REGISTERED)
            e = grpc_server_request_registered_call(s->srv, s->handles[method], &c->call, &c->deadline, &c->md,
                                                    &c->payload, s->cq, s->cq, c);
        else
            e = grpc_server_request_call(s->srv, &c->call, &c->details, &c->md, s->cq, s->cq, c);
        if (e == GRPC_CALL_OK)
            s->live++;
    }
    bool posted = !s->stopping && e == GRPC_CALL_OK;
    pthread_mutex_unlock(&s->mu);
    if (!posted) {
        if (e != GRPC_CALL_OK)
            csi_log(CSI_LOG_ERROR, "cannot post a call request: grpc error %d", e);
        call_free(c, false);
    }
}

/* Sends status (and c->reply when set) in one batch; the call is freed
 * when that batch completes. */
static void send_reply(struct csi_call *c, grpc_status_code status, const char *msg)
{
    grpc_op ops[4];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->reply) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->reply;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = status;
    if (status != GRPC_STATUS_OK && msg && *msg) {
        c->status_details = grpc_slice_from_copied_string(msg);
        c->has_details = true;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->phase = PHASE_REPLY;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);

    if (e != GRPC_CALL_OK) {
        csi_log(CSI_LOG_ERROR, "cannot send a reply: grpc error %d", e);
        call_free(c, true);
    }
}

/* The request payload as a protobuf-c message (caller frees), or -EINVAL
 * with a reason. */
static int unpack_request(const struct csi_method *m, grpc_byte_buffer *payload, ProtobufCMessage **out,
                          char *err, size_t errlen)
{
    grpc_byte_buffer_reader r;
    grpc_slice sl;
    int rc = 0;

    if (!payload) {
        snprintf(err, errlen, "missing request message");
        return -EINVAL;
    }
    if (!grpc_byte_buffer_reader_init(&r, payload)) {
        snprintf(err, errlen, "cannot read request message");
        return -EINVAL;
    }
    sl = grpc_byte_buffer_reader_readall(&r);
    rc = csi_validate_wire(m->input, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl), err, errlen);
    if (rc == 0) {
        *out = protobuf_c_message_unpack(m->input, NULL, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
        if (!*out) {
            snprintf(err, errlen, "cannot parse request message");
            rc = -EINVAL;
        }
    }
    grpc_slice_unref(sl);
    grpc_byte_buffer_reader_destroy(&r);
    return rc;
}

static grpc_byte_buffer *pack_message(const ProtobufCMessage *msg)
{
    grpc_slice sl = grpc_slice_malloc(protobuf_c_message_get_packed_size(msg));
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(sl));
    bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    return bb;
}

static void log_message(const char *path, const char *what, const ProtobufCMessage *msg)
{
    char *text;

    if (csi_log_level() < CSI_LOG_DEBUG)
        return;
    text = csi_redact(msg);
    csi_log(CSI_LOG_DEBUG, "%s %s %s", path, what, text ? text : "(out of memory)");
    free(text);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

static void handle_registered(struct csi_server *s, struct csi_call *c)
{
    const struct csi_method *m = &s->cfg.methods[c->method];
    struct csi_arena arena = {0};
    ProtobufCMessage *req = NULL, *resp = NULL;
    char err[1024] = "";
    struct timespec t0;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = unpack_request(m, c->payload, &req, err, sizeof(err));
    if (rc == 0) {
        log_message(m->path, "request", req);
        rc = m->fn(s->cfg.arg, req, &arena, &resp, err, sizeof(err));
    }
    if (rc == 0 && !resp) {
        snprintf(err, sizeof(err), "handler produced no response");
        rc = -EIO;
    }
    if (rc == 0) {
        log_message(m->path, "response", resp);
        c->reply = pack_message(resp);
    }
    grpc_status_code st = errno_to_grpc_status(rc);

    csi_log(rc ? CSI_LOG_WARN : CSI_LOG_INFO, "%s -> %s (%ld ms)%s%s", m->path, csi_status_name(st), ms_since(&t0),
            rc ? ": " : "", rc ? err : "");
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    csi_arena_free(&arena);
    send_reply(c, st, err);
}

/* Unknown paths: gRPC core would hold them until the client's deadline,
 * so answer UNIMPLEMENTED at once without reading the message. */
static void handle_generic(struct csi_call *c)
{
    char path[160], msg[200];
    size_t n = GRPC_SLICE_LENGTH(c->details.method);
    const unsigned char *p = GRPC_SLICE_START_PTR(c->details.method);

    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    for (size_t i = 0; i < n; i++)
        path[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    path[n] = '\0';
    snprintf(msg, sizeof(msg), "method %s is not implemented", path);
    csi_log(CSI_LOG_INFO, "%s -> UNIMPLEMENTED", path);
    send_reply(c, GRPC_STATUS_UNIMPLEMENTED, msg);
}

static void *worker(void *arg)
{
    struct csi_server *s = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &s->shutdown_tag) {
            pthread_mutex_lock(&s->mu);
            s->shutdown_done = true;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        struct csi_call *c = ev.tag;

        if (c->phase == PHASE_REPLY || !ev.success) {
            call_free(c, true);
            continue;
        }
        /* replace this request before the (possibly slow) handler runs */
        post_request(s, c->kind, c->method);
        if (c->kind == CALL_GENERIC)
            handle_generic(c);
        else
            handle_registered(s, c);
    }
}

static void destroy_unstarted(struct csi_server *s)
{
    if (s->srv)
        grpc_server_destroy(s->srv);
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(s->cq);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s->handles);
    free(s);
}

static int bind_socket(struct csi_server *s, char *err, size_t errlen)
{
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    char addr[4200];
    int port;

    snprintf(addr, sizeof(addr), "unix:%s", s->cfg.socket_path);
    port = grpc_server_add_http2_port(s->srv, addr, creds);
    grpc_server_credentials_release(creds);
    if (!port) {
        snprintf(err, errlen, "cannot listen on unix socket %s", s->cfg.socket_path);
        return -EADDRINUSE;
    }
    return 0;
}

int csi_server_start(const struct csi_server_config *cfg, struct csi_server **out, char *err, size_t errlen)
{
    struct csi_server *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->handles = calloc(cfg->n_methods ? cfg->n_methods : 1, sizeof(*s->handles));
    s->srv = grpc_server_create(NULL, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    if (!s->handles) {
        destroy_unstarted(s);
        return -ENOMEM;
    }
    grpc_server_register_completion_queue(s->srv, s->cq, NULL);
    for (size_t i = 0; i < cfg->n_methods; i++)
        s->handles[i] = grpc_server_register_method(s->srv, cfg->methods[i].path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    rc = bind_socket(s, err, errlen);
    if (rc) {
        destroy_unstarted(s);
        return rc;
    }
    grpc_server_start(s->srv);
    /* only the CO (root, via the plugin's socket directory) may connect */
    chmod(cfg->socket_path, 0660);
    int want = cfg->workers < 1 ? 1 : cfg->workers > MAX_WORKERS ? MAX_WORKERS : cfg->workers;

    for (s->n_threads = 0; s->n_threads < want; s->n_threads++)
        if (pthread_create(&s->threads[s->n_threads], NULL, worker, s) != 0)
            break;
    for (size_t i = 0; i < cfg->n_methods; i++)
        for (int k = 0; k < REQUESTS_PER_METHOD; k++)
            post_request(s, CALL_REGISTERED, i);
    for (int k = 0; k < GENERIC_REQUESTS; k++)
        post_request(s, CALL_GENERIC, 0);
    *out = s;
    return 0;
}

static void wait_shutdown(struct csi_server *s, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done)
        if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&s->mu);
}

void csi_server_stop(struct csi_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    grpc_server_shutdown_and_notify(s->srv, s->cq, &s->shutdown_tag);
    wait_shutdown(s, s->cfg.drain_ms);
    pthread_mutex_lock(&s->mu);
    bool drained = s->shutdown_done;
    pthread_mutex_unlock(&s->mu);
    if (!drained) {
        csi_log(CSI_LOG_WARN, "calls still running after %d ms: cancelling them", s->cfg.drain_ms);
        grpc_server_cancel_all_calls(s->srv);
    }
    /* every tag must be back before the queue shuts down (pitfall 3) */
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done || s->live > 0)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
    grpc_completion_queue_shutdown(s->cq);
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    grpc_server_destroy(s->srv);
    grpc_completion_queue_destroy(s->cq);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s->handles);
    free(s);
}
