/* SPDX-License-Identifier: Apache-2.0
 *
 * Internals shared by the files of the Kubernetes client: the client
 * structure (server, TLS material, credentials, limits) and the YAML
 * loader the kubeconfig reader uses. Not for users of kube.h.
 */
#ifndef TIDEFS_KUBE_I_H
#define TIDEFS_KUBE_I_H

#include "kube/kube.h"

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

struct kube_blob {
    char *data; /* owned, NUL-terminated; NULL when unset */
    size_t len;
};

struct kube_client {
    char server[512]; /* scheme://host:port, no trailing '/' */
    char ns[254];

    /* TLS: a CA bundle from a file (re-read by curl per request) or data */
    char ca_file[PATH_MAX];
    struct kube_blob ca;
    bool insecure;
    /* client certificate and key: files or data */
    char cert_file[PATH_MAX], key_file[PATH_MAX];
    struct kube_blob cert, key;

    /* bearer token: fixed, or from a file re-read when it changes */
    pthread_mutex_t mu; /* guards token and token_id */
    struct kube_blob token;
    char token_file[PATH_MAX];
    struct stat token_id; /* what the file was when last read */

    size_t max_response;
    long timeout_ms;
};

/* Allocates a client with defaults (mutex ready, limits, ns "default"). */
struct kube_client *kube_client_alloc(void);

/* (Re-)reads the token file when it changed since the last read (or
 * force); called with c->mu held. */
int kube_token_refresh(struct kube_client *c, bool force, struct kube_err *err);

/* Loads a YAML (or JSON) file into a JSON tree: mappings become objects,
 * sequences arrays, scalars strings. Anchors/aliases are refused. *why
 * gets one line on failure. */
int kube_yaml_load_file(const char *path, json_t **out, char *why, size_t whylen);

/* Fills err (may be NULL) with a formatted line; returns rc. */
int kube_fail(struct kube_err *err, int http_status, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
