/* SPDX-License-Identifier: Apache-2.0
 *
 * A small Kubernetes API client (libcurl + jansson) for the CSI node plugin:
 * just what mount pods need — create, get, list, patch and delete of
 * namespaced core/v1 objects (pods, secrets, events) with label selectors,
 * and polling with exponential backoff.
 *
 * Configuration comes from the pod's service account (in-cluster: the API
 * server at KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, its CA bundle,
 * and a token re-read whenever the kubelet rotates the file) or from a
 * kubeconfig file (out-of-cluster tests: client certificates, bearer
 * tokens, CA data or files).
 *
 * Conventions: 0 or -errno; `struct kube_err` (may be NULL) receives the
 * HTTP status and one line naming the request and the problem. Credentials
 * never appear in errors or logs. A client may be used by several threads
 * at once: each request uses its own curl handle.
 *
 * HTTP status -> errno: 400/422 -EINVAL, 401 -EACCES, 403 -EPERM,
 * 404 -ENOENT, 409 AlreadyExists -EEXIST, 409 Conflict and 410 Gone
 * -ESTALE, 429/503 -EAGAIN, 504 -ETIMEDOUT, other 5xx -EIO; a response
 * over the size cap -EFBIG; no connection -ECONNREFUSED / -EHOSTUNREACH;
 * TLS failures -EPROTO.
 */
#ifndef TIDEFS_KUBE_H
#define TIDEFS_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_DEFAULT_MAX_RESPONSE (16u << 20) /* bytes */
#define KUBE_DEFAULT_TIMEOUT_MS 30000

struct kube_err {
    int http_status; /* 0 when no HTTP response came */
    char text[512];
};

struct kube_client; /* opaque */

/* In-cluster configuration. sa_dir: the service account directory (token,
 * ca.crt, namespace); NULL means KUBE_SA_DIR. The server comes from
 * KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (https). */
int kube_client_in_cluster(const char *sa_dir, struct kube_client **out, struct kube_err *err);

/* From a kubeconfig file (YAML or JSON); context NULL: current-context.
 * Supports client-certificate(-data)/client-key(-data), token/tokenFile,
 * certificate-authority(-data), insecure-skip-tls-verify, tls-server-name;
 * exec and auth-provider plugins are refused with a clear error. */
int kube_client_from_kubeconfig(const char *path, const char *context, struct kube_client **out,
                                struct kube_err *err);

/* $KUBECONFIG when set, else in-cluster. */
int kube_client_auto(struct kube_client **out, struct kube_err *err);

void kube_client_free(struct kube_client *c); /* NULL is fine */

/* The namespace of the service account or kubeconfig context ("default"
 * when none is given). Borrowed, valid for the client's life. */
const char *kube_client_namespace(const struct kube_client *c);
/* "https://host:port" (borrowed). */
const char *kube_client_server(const struct kube_client *c);

/* Caps a response body (0: KUBE_DEFAULT_MAX_RESPONSE) and bounds each
 * request (0: KUBE_DEFAULT_TIMEOUT_MS). Set before sharing the client. */
void kube_client_set_limits(struct kube_client *c, size_t max_response, long timeout_ms);

/* One request. path: "/api/v1/..." (no host); query: "a=b&c=d" already
 * escaped, or NULL; body: borrowed, sent as JSON with content_type (NULL:
 * application/json); *out (may be NULL): the decoded JSON response, caller
 * decrefs. A 401 with an in-cluster token re-reads the token and retries
 * once. */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *query,
                 const char *content_type, const json_t *body, json_t **out, struct kube_err *err);

/* ---- namespaced core/v1 objects: plural is "pods", "secrets", "events" ---- */

int kube_create(struct kube_client *c, const char *ns, const char *plural, const json_t *obj, json_t **out,
                struct kube_err *err);
int kube_get(struct kube_client *c, const char *ns, const char *plural, const char *name, json_t **out,
             struct kube_err *err);
/* label_selector / field_selector: NULL or e.g. "app=x,tier in (a,b)". *out:
 * the List object (its "items" array). */
int kube_list(struct kube_client *c, const char *ns, const char *plural, const char *label_selector,
              const char *field_selector, json_t **out, struct kube_err *err);

enum kube_patch_type {
    KUBE_PATCH_MERGE,     /* application/merge-patch+json */
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    KUBE_PATCH_JSON,      /* application/json-patch+json */
};
int kube_patch(struct kube_client *c, const char *ns, const char *plural, const char *name, enum kube_patch_type type,
               const json_t *patch, json_t **out, struct kube_err *err);

/* grace_seconds < 0: the object's default. uid: NULL, or a precondition
 * (delete only that incarnation). Deleting what is not there: -ENOENT. */
int kube_delete(struct kube_client *c, const char *ns, const char *plural, const char *name, int grace_seconds,
                const char *uid, struct kube_err *err);

/* ---- polling with backoff ---- */

struct kube_backoff {
    long initial_ms; /* first wait; 0: 200 */
    long max_ms;     /* cap; 0: 5000 */
    long next_ms;    /* state; start at 0 */
};

/* The next wait: initial, then doubled up to max, with up to 20% jitter
 * so that many nodes do not poll in step. */
long kube_backoff_next(struct kube_backoff *b);
void kube_backoff_reset(struct kube_backoff *b);

/* Calls check(obj, arg) on the named object until it returns non-zero
 * (1: done, return 0; <0: return that error), the object is gone (check
 * gets NULL), or timeout_ms passes (-ETIMEDOUT). Transient API errors
 * (-EAGAIN, -EIO, no connection) are retried with backoff. */
int kube_poll(struct kube_client *c, const char *ns, const char *plural, const char *name, long timeout_ms,
              int (*check)(const json_t *obj, void *arg), void *arg, struct kube_err *err);

/* True for errors worth retrying later (-EAGAIN, -EIO, -ETIMEDOUT, no
 * connection). */
bool kube_err_transient(int rc);

/* Sets *out to obj's string at a dotted path ("metadata.name",
 * "status.phase"), or NULL. No allocation. */
const char *kube_str(const json_t *obj, const char *dotted);

#endif
