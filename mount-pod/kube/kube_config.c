/* SPDX-License-Identifier: Apache-2.0
 *
 * Where the client's server, TLS material and credentials come from: the
 * pod's service account (in-cluster) or a kubeconfig file. The token of a
 * service account is projected and rotated by the kubelet, so it is named
 * by its file and re-read whenever that file changes.
 */
#include "kube/kube_i.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#define TOKEN_MAX 65536

int kube_fail(struct kube_err *err, int http_status, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->http_status = http_status;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
    }
    return rc;
}

struct kube_client *kube_client_alloc(void)
{
    struct kube_client *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    /* reference counted by libcurl; thread-safe since 7.84 */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->ns, sizeof(c->ns), "default");
    c->max_response = KUBE_DEFAULT_MAX_RESPONSE;
    c->timeout_ms = KUBE_DEFAULT_TIMEOUT_MS;
    return c;
}

static void blob_free(struct kube_blob *b)
{
    if (b->data)
        explicit_bzero(b->data, b->len);
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void kube_client_free(struct kube_client *c)
{
    if (!c)
        return;
    blob_free(&c->ca);
    blob_free(&c->cert);
    blob_free(&c->key);
    blob_free(&c->token);
    pthread_mutex_destroy(&c->mu);
    free(c);
    curl_global_cleanup();
}

const char *kube_client_namespace(const struct kube_client *c)
{
    return c->ns;
}

const char *kube_client_server(const struct kube_client *c)
{
    return c->server;
}

void kube_client_set_limits(struct kube_client *c, size_t max_response, long timeout_ms)
{
    c->max_response = max_response ? max_response : KUBE_DEFAULT_MAX_RESPONSE;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
}

/* Reads a small file whole; trailing whitespace trimmed when trim. */
static int read_small(const char *path, size_t max, bool trim, struct kube_blob *out)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t n;

    if (!f)
        return -errno;
    buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        free(buf);
        return -EFBIG;
    }
    while (trim && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    out->data = buf;
    out->len = n;
    return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int kube_token_refresh(struct kube_client *c, bool force, struct kube_err *err)
{
    struct kube_blob fresh = {0};
    struct stat st;
    int rc;

    if (!c->token_file[0])
        return 0;
    /* the kubelet swaps a symlink (..data) to rotate: stat follows it */
    if (stat(c->token_file, &st) != 0)
        return kube_fail(err, 0, -errno, "kube: service account token %s: %s", c->token_file, strerror(errno));
    if (!force && c->token.data && same_file(&st, &c->token_id))
        return 0;
    rc = read_small(c->token_file, TOKEN_MAX, true, &fresh);
    if (rc == 0 && fresh.len == 0)
        rc = -ENODATA;
    if (rc) {
        blob_free(&fresh);
        return kube_fail(err, 0, rc, "kube: cannot read the token %s: %s", c->token_file,
                         rc == -ENODATA ? "empty file" : strerror(-rc));
    }
    blob_free(&c->token);
    c->token = fresh;
    c->token_id = st;
    return 0;
}

/* "https://" + host (bracketed when IPv6) + ":" + port */
static int set_server(struct kube_client *c, const char *host, const char *port, struct kube_err *err)
{
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(c->server, sizeof(c->server), "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);

    if (n < 0 || (size_t)n >= sizeof(c->server))
        return kube_fail(err, 0, -ENAMETOOLONG, "kube: KUBERNETES_SERVICE_HOST is too long");
    return 0;
}

int kube_client_in_cluster(const char *sa_dir, struct kube_client **out, struct kube_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    struct kube_client *c;
    struct kube_blob ns = {0};
    int rc;

    *out = NULL;
    if (!sa_dir)
        sa_dir = KUBE_SA_DIR;
    if (!host || !*host || !port || !*port)
        return kube_fail(err, 0, -ENOENT,
                         "kube: not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return kube_fail(err, 0, -EINVAL, "kube: KUBERNETES_SERVICE_PORT is not a port number");
    c = kube_client_alloc();
    if (!c)
        return -ENOMEM;
    rc = set_server(c, host, port, err);
    snprintf(c->token_file, sizeof(c->token_file), "%s/token", sa_dir);
    snprintf(c->ca_file, sizeof(c->ca_file), "%s/ca.crt", sa_dir);
    if (rc == 0 && access(c->ca_file, R_OK) != 0)
        rc = kube_fail(err, 0, -errno, "kube: CA bundle %s: %s", c->ca_file, strerror(errno));
    if (rc == 0)
        rc = kube_token_refresh(c, true, err);
    if (rc) {
        kube_client_free(c);
        return rc;
    }
    char nsfile[PATH_MAX];

    snprintf(nsfile, sizeof(nsfile), "%s/namespace", sa_dir);
    if (read_small(nsfile, sizeof(c->ns) - 1, true, &ns) == 0 && ns.len > 0)
        snprintf(c->ns, sizeof(c->ns), "%s", ns.data);
    blob_free(&ns);
    *out = c;
    return 0;
}

/* ---- kubeconfig ---- */

/* The entry of list[] (e.g. "clusters") whose "name" is name: its inner
 * object under key (e.g. "cluster"). */
static json_t *named(const json_t *cfg, const char *list, const char *name, const char *key)
{
    json_t *arr = json_object_get(cfg, list), *e;
    size_t i;

    json_array_foreach(arr, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));

        if (n && strcmp(n, name) == 0)
            return json_object_get(e, key);
    }
    return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s && *s ? s : NULL;
}

/* A relative file in a kubeconfig is relative to the kubeconfig's directory. */
static int resolve_path(const char *cfg_path, const char *file, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    int n;

    if (file[0] == '/') {
        n = snprintf(out, outlen, "%s", file);
    } else {
        snprintf(dir, sizeof(dir), "%s", cfg_path);
        n = snprintf(out, outlen, "%s/%s", dirname(dir), file);
    }
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int decode_b64(const char *field, const char *b64, struct kube_blob *out, struct kube_err *err)
{
    size_t len = strlen(b64), n = 0;
    unsigned acc = 0;
    int bits = 0;

    out->data = malloc(len / 4 * 3 + 4);
    if (!out->data)
        return -ENOMEM;
    for (const char *p = b64; *p && *p != '='; p++) {
        const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *pos = *p ? strchr(tbl, *p) : NULL;

        if (*p == '\n' || *p == '\r' || *p == ' ')
            continue;
        if (!pos) {
            blob_free(out);
            return kube_fail(err, 0, -EINVAL, "kube: kubeconfig %s is not valid base64", field);
        }
        acc = (acc << 6) | (unsigned)(pos - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->data[n] = '\0';
    out->len = n;
    return 0;
}

/* One of FIELD-data (base64) or FIELD (a file): into *blob or file[]. */
static int file_or_data(const char *cfg_path, const json_t *obj, const char *field, char *file, size_t filelen,
                        struct kube_blob *blob, struct kube_err *err)
{
    char data_key[64];
    const char *data, *path;

    snprintf(data_key, sizeof(data_key), "%s-data", field);
    data = str(obj, data_key);
    path = str(obj, field);
    if (data)
        return decode_b64(data_key, data, blob, err);
    if (path && resolve_path(cfg_path, path, file, filelen) != 0)
        return kube_fail(err, 0, -ENAMETOOLONG, "kube: kubeconfig %s: path too long", field);
    if (path && access(file, R_OK) != 0)
        return kube_fail(err, 0, -errno, "kube: kubeconfig %s %s: %s", field, file, strerror(errno));
    return 0;
}

static int apply_cluster(struct kube_client *c, const char *path, const json_t *cl, struct kube_err *err)
{
    const char *server = str(cl, "server"), *insecure = str(cl, "insecure-skip-tls-verify");
    size_t n;

    if (!server || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0))
        return kube_fail(err, 0, -EINVAL, "kube: kubeconfig cluster has no http(s) server URL");
    n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    if (n >= sizeof(c->server))
        return kube_fail(err, 0, -ENAMETOOLONG, "kube: kubeconfig server URL is too long");
    memcpy(c->server, server, n);
    c->server[n] = '\0';
    c->insecure = insecure && strcmp(insecure, "true") == 0;
    return file_or_data(path, cl, "certificate-authority", c->ca_file, sizeof(c->ca_file), &c->ca, err);
}

static int apply_user(struct kube_client *c, const char *path, const json_t *u, struct kube_err *err)
{
    const char *token = str(u, "token"), *token_file = str(u, "tokenFile");
    int rc;

    if (json_object_get(u, "exec") || json_object_get(u, "auth-provider"))
        return kube_fail(err, 0, -ENOTSUP, "kube: kubeconfig user uses an exec or auth-provider plugin (not supported)");
    if (str(u, "username") || str(u, "password"))
        return kube_fail(err, 0, -ENOTSUP, "kube: kubeconfig basic authentication is not supported");
    rc = file_or_data(path, u, "client-certificate", c->cert_file, sizeof(c->cert_file), &c->cert, err);
    if (rc == 0)
        rc = file_or_data(path, u, "client-key", c->key_file, sizeof(c->key_file), &c->key, err);
    if (rc)
        return rc;
    if ((c->cert.data || c->cert_file[0]) != (c->key.data || c->key_file[0]))
        return kube_fail(err, 0, -EINVAL, "kube: kubeconfig user has a client certificate without a key, or a key without one");
    if (token) {
        c->token.data = strdup(token);
        if (!c->token.data)
            return -ENOMEM;
        c->token.len = strlen(token);
    } else if (token_file) {
        if (resolve_path(path, token_file, c->token_file, sizeof(c->token_file)) != 0)
            return kube_fail(err, 0, -ENAMETOOLONG, "kube: kubeconfig tokenFile: path too long");
        return kube_token_refresh(c, true, err);
    }
    return 0;
}

static int apply_kubeconfig(struct kube_client *c, const char *path, const json_t *cfg, const char *context,
                            struct kube_err *err)
{
    const json_t *ctx, *cl, *u;
    const char *cl_name, *u_name, *ns;

    if (!context)
        context = str(cfg, "current-context");
    if (!context)
        return kube_fail(err, 0, -EINVAL, "kube: kubeconfig %s has no current-context", path);
    ctx = named(cfg, "contexts", context, "context");
    if (!ctx)
        return kube_fail(err, 0, -ENOENT, "kube: kubeconfig %s has no context \"%s\"", path, context);
    cl_name = str(ctx, "cluster");
    u_name = str(ctx, "user");
    cl = cl_name ? named(cfg, "clusters", cl_name, "cluster") : NULL;
    if (!cl)
        return kube_fail(err, 0, -ENOENT, "kube: kubeconfig context \"%s\" names no known cluster", context);
    u = u_name ? named(cfg, "users", u_name, "user") : NULL;
    if (u_name && !u)
        return kube_fail(err, 0, -ENOENT, "kube: kubeconfig context \"%s\" names an unknown user", context);
    ns = str(ctx, "namespace");
    if (ns)
        snprintf(c->ns, sizeof(c->ns), "%s", ns);
    int rc = apply_cluster(c, path, cl, err);

    return rc == 0 && u ? apply_user(c, path, u, err) : rc;
}

int kube_client_from_kubeconfig(const char *path, const char *context, struct kube_client **out,
                                struct kube_err *err)
{
    struct kube_client *c;
    char why[256] = "";
    json_t *cfg;
    int rc = kube_yaml_load_file(path, &cfg, why, sizeof(why));

    *out = NULL;
    if (rc)
        return kube_fail(err, 0, rc, "kube: kubeconfig %s: %s", path, why);
    c = kube_client_alloc();
    if (!c) {
        json_decref(cfg);
        return -ENOMEM;
    }
    rc = apply_kubeconfig(c, path, cfg, context, err);
    json_decref(cfg);
    if (rc) {
        kube_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int kube_client_auto(struct kube_client **out, struct kube_err *err)
{
    const char *kc = getenv("KUBECONFIG");

    if (kc && *kc)
        return kube_client_from_kubeconfig(kc, NULL, out, err);
    return kube_client_in_cluster(NULL, out, err);
}
