/* SPDX-License-Identifier: Apache-2.0
 *
 * Typed calls on namespaced core/v1 objects (paths, selectors, delete
 * options, patch types), exponential backoff with jitter, polling an
 * object until a condition holds, and a dotted-path string getter.
 */
#include "kube/kube_i.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* Names and namespaces are DNS-1123 subdomains: anything else could change
 * the meaning of the URL path, so it is refused before a request is made. */
static int check_name(const char *what, const char *s, struct kube_err *err)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n || s[0] == '-' || s[0] == '.')
        return kube_fail(err, 0, -EINVAL, "kube: %s \"%.64s\" is not a valid Kubernetes name", what, s ? s : "");
    return 0;
}

static int check_plural(const char *plural, struct kube_err *err)
{
    size_t n = plural ? strlen(plural) : 0;

    if (n == 0 || n > 63 || strspn(plural, "abcdefghijklmnopqrstuvwxyz") != n)
        return kube_fail(err, 0, -EINVAL, "kube: resource \"%.64s\" is not a plural resource name",
                         plural ? plural : "");
    return 0;
}

/* /api/v1/namespaces/NS/PLURAL[/NAME] */
static int obj_path(char *out, size_t len, const char *ns, const char *plural, const char *name, struct kube_err *err)
{
    int rc = check_name("namespace", ns, err);

    if (rc == 0)
        rc = check_plural(plural, err);
    if (rc == 0 && name)
        rc = check_name("object name", name, err);
    if (rc)
        return rc;
    snprintf(out, len, "/api/v1/namespaces/%s/%s%s%s", ns, plural, name ? "/" : "", name ? name : "");
    return 0;
}

int kube_create(struct kube_client *c, const char *ns, const char *plural, const json_t *obj, json_t **out,
                struct kube_err *err)
{
    char path[600];
    int rc = obj_path(path, sizeof(path), ns, plural, NULL, err);

    return rc ? rc : kube_request(c, "POST", path, NULL, NULL, obj, out, err);
}

int kube_get(struct kube_client *c, const char *ns, const char *plural, const char *name, json_t **out,
             struct kube_err *err)
{
    char path[600];
    int rc = obj_path(path, sizeof(path), ns, plural, name, err);

    return rc ? rc : kube_request(c, "GET", path, NULL, NULL, NULL, out, err);
}

static int add_param(char **q, const char *key, const char *val)
{
    char *esc, *nq;

    if (!val || !*val)
        return 0;
    esc = curl_easy_escape(NULL, val, 0);
    if (!esc)
        return -ENOMEM;
    int n = asprintf(&nq, "%s%s%s=%s", *q ? *q : "", *q ? "&" : "", key, esc);

    curl_free(esc);
    if (n < 0)
        return -ENOMEM;
    free(*q);
    *q = nq;
    return 0;
}

int kube_list(struct kube_client *c, const char *ns, const char *plural, const char *label_selector,
              const char *field_selector, json_t **out, struct kube_err *err)
{
    char path[600], *q = NULL;
    int rc = obj_path(path, sizeof(path), ns, plural, NULL, err);

    if (rc == 0)
        rc = add_param(&q, "labelSelector", label_selector);
    if (rc == 0)
        rc = add_param(&q, "fieldSelector", field_selector);
    if (rc == 0)
        rc = kube_request(c, "GET", path, q, NULL, NULL, out, err);
    free(q);
    if (rc == 0 && out && !json_is_array(json_object_get(*out, "items"))) {
        json_decref(*out);
        *out = NULL;
        rc = kube_fail(err, 0, -EBADMSG, "kube: GET %s: the response is not a list", path);
    }
    return rc;
}

int kube_patch(struct kube_client *c, const char *ns, const char *plural, const char *name, enum kube_patch_type type,
               const json_t *patch, json_t **out, struct kube_err *err)
{
    static const char *const types[] = {
        [KUBE_PATCH_MERGE] = "application/merge-patch+json",
        [KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
        [KUBE_PATCH_JSON] = "application/json-patch+json",
    };
    char path[600];
    int rc = obj_path(path, sizeof(path), ns, plural, name, err);

    if (rc == 0 && (unsigned)type > KUBE_PATCH_JSON)
        rc = kube_fail(err, 0, -EINVAL, "kube: unknown patch type %d", (int)type);
    return rc ? rc : kube_request(c, "PATCH", path, NULL, types[type], patch, out, err);
}

int kube_delete(struct kube_client *c, const char *ns, const char *plural, const char *name, int grace_seconds,
                const char *uid, struct kube_err *err)
{
    char path[600];
    int rc = obj_path(path, sizeof(path), ns, plural, name, err);
    json_t *opts;

    if (rc)
        return rc;
    /* Background: the API returns at once; owned objects go later */
    opts = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1", "propagationPolicy", "Background");
    if (!opts)
        return -ENOMEM;
    if (grace_seconds >= 0)
        json_object_set_new(opts, "gracePeriodSeconds", json_integer(grace_seconds));
    if (uid)
        json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
    rc = kube_request(c, "DELETE", path, NULL, NULL, opts, NULL, err);
    json_decref(opts);
    return rc;
}

/* ---- backoff and polling ---- */

void kube_backoff_reset(struct kube_backoff *b)
{
    b->next_ms = 0;
}

long kube_backoff_next(struct kube_backoff *b)
{
    long initial = b->initial_ms > 0 ? b->initial_ms : 200, max = b->max_ms > 0 ? b->max_ms : 5000;
    long wait = b->next_ms > 0 ? b->next_ms : initial;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)b;

    b->next_ms = wait * 2 > max ? max : wait * 2;
    return wait - (long)(rand_r(&seed) % (unsigned)(wait / 5 + 1));
}

bool kube_err_transient(int rc)
{
    return rc == -EAGAIN || rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
           rc == -ECONNRESET;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int kube_poll(struct kube_client *c, const char *ns, const char *plural, const char *name, long timeout_ms,
              int (*check)(const json_t *obj, void *arg), void *arg, struct kube_err *err)
{
    struct kube_backoff b = {.initial_ms = 100, .max_ms = 2000};
    long deadline = now_ms() + timeout_ms;

    for (;;) {
        json_t *obj = NULL;
        int rc = kube_get(c, ns, plural, name, &obj, err), done;

        if (rc == 0 || rc == -ENOENT) {
            done = check(rc == 0 ? obj : NULL, arg);
            json_decref(obj);
            if (done < 0)
                return done;
            if (done > 0)
                return 0;
        } else if (!kube_err_transient(rc)) {
            return rc;
        }
        long left = deadline - now_ms(), wait = kube_backoff_next(&b);

        if (left <= 0)
            return kube_fail(err, 0, -ETIMEDOUT, "kube: %s/%s: condition not met within %ld ms", plural, name,
                             timeout_ms);
        usleep((useconds_t)(wait < left ? wait : left) * 1000);
    }
}

const char *kube_str(const json_t *obj, const char *dotted)
{
    char key[128];
    const char *p = dotted;

    while (obj && *p) {
        size_t n = strcspn(p, ".");

        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        obj = json_object_get(obj, key);
        p += n;
        if (*p == '.')
            p++;
    }
    return json_string_value(obj);
}
