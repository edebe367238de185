/* SPDX-License-Identifier: Apache-2.0
 *
 * Builds the mount pod and its Secret as JSON (see podspec.h for what the
 * pod looks like and why), and parses the mount settings that come from
 * StorageClass parameters: Kubernetes quantities checked here, so that a
 * typo fails NodePublishVolume with the key named instead of leaving a pod
 * the API server rejects.
 */
#include "podspec/podspec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_HEADROOM ((uint64_t)128 << 20) /* memory beyond the buffers: code, metadata, kernel pages */

/* ---- quantities ---- */

struct suffix {
    const char *s;
    uint64_t mul, div; /* value = number * mul / div */
};

static const struct suffix suffixes[] = {
    {"Ki", 1ull << 10, 1}, {"Mi", 1ull << 20, 1}, {"Gi", 1ull << 30, 1}, {"Ti", 1ull << 40, 1},
    {"Pi", 1ull << 50, 1}, {"Ei", 1ull << 60, 1}, {"k", 1000ull, 1},     {"M", 1000000ull, 1},
    {"G", 1000000000ull, 1}, {"T", 1000000000000ull, 1}, {"P", 1000000000000000ull, 1},
    {"E", 1000000000000000000ull, 1}, {"m", 1, 1000}, {"", 1, 1},
};

/* number [. fraction] suffix -> value * scale, rounded up */
static int quantity(const char *s, uint64_t scale, bool allow_milli, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, frac_div = 1;
    const char *p = s;

    if (!s || !*s || strlen(s) > 30)
        return -EINVAL;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (frac_div >= 1000000000ull)
                return -EINVAL; /* more precision than any quantity needs */
            frac = frac * 10 + (uint64_t)(*p - '0');
            frac_div *= 10;
        }
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        const struct suffix *sf = &suffixes[i];

        if (strcmp(p, sf->s) != 0)
            continue;
        if (sf->div > 1 && !allow_milli)
            return -EINVAL;
        __uint128_t mul = (__uint128_t)sf->mul * scale;
        __uint128_t v = ((__uint128_t)whole * frac_div + frac) * mul;
        __uint128_t d = (__uint128_t)frac_div * sf->div;
        __uint128_t r = (v + d - 1) / d;

        if (r > UINT64_MAX)
            return -ERANGE;
        *out = (uint64_t)r;
        return 0;
    }
    return -EINVAL;
}

int podspec_quantity_milli(const char *s, uint64_t *out)
{
    return quantity(s, 1000, true, out);
}

int podspec_quantity_bytes(const char *s, uint64_t *out)
{
    return quantity(s, 1, false, out);
}

/* ---- settings ---- */

static void settings_default(struct podspec_settings *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->cpu_request, sizeof(s->cpu_request), "100m");
    snprintf(s->memory_request, sizeof(s->memory_request), "256Mi");
    snprintf(s->memory_limit, sizeof(s->memory_limit), "1Gi");
}

static int set_quantity(char *dst, size_t dstlen, const char *key, const char *val, bool cpu, char *err,
                        size_t errlen)
{
    uint64_t v;
    int rc = strlen(val) >= dstlen ? -EINVAL : cpu ? podspec_quantity_milli(val, &v) : podspec_quantity_bytes(val, &v);

    if (rc == 0 && v == 0)
        rc = -EINVAL;
    if (rc) {
        snprintf(err, errlen, "StorageClass parameter %s: \"%.40s\" is not a positive %s quantity", key, val,
                 cpu ? "CPU" : "byte");
        return -EINVAL;
    }
    snprintf(dst, dstlen, "%s", val);
    return 0;
}

static int apply_param(struct podspec_settings *s, const char *key, const char *val, char *err, size_t errlen)
{
    const char *k = key + strlen(PODSPEC_PARAM_PREFIX);

    if (strcmp(k, "cpu-request") == 0)
        return set_quantity(s->cpu_request, sizeof(s->cpu_request), key, val, true, err, errlen);
    if (strcmp(k, "cpu-limit") == 0)
        return set_quantity(s->cpu_limit, sizeof(s->cpu_limit), key, val, true, err, errlen);
    if (strcmp(k, "memory-request") == 0)
        return set_quantity(s->memory_request, sizeof(s->memory_request), key, val, false, err, errlen);
    if (strcmp(k, "memory-limit") == 0)
        return set_quantity(s->memory_limit, sizeof(s->memory_limit), key, val, false, err, errlen);
    if (strcmp(k, "buffer-size") == 0 || strcmp(k, "cache-size") == 0) {
        char tmp[32];
        uint64_t *dst = k[0] == 'b' ? &s->buffer_bytes : &s->cache_bytes;

        if (set_quantity(tmp, sizeof(tmp), key, val, false, err, errlen))
            return -EINVAL;
        podspec_quantity_bytes(tmp, dst);
        return 0;
    }
    snprintf(err, errlen, "unknown StorageClass parameter %.80s (known: %scpu-request, cpu-limit, memory-request, "
             "memory-limit, buffer-size, cache-size)", key, PODSPEC_PARAM_PREFIX);
    return -EINVAL;
}

/* requests may not exceed limits; the memory limit must hold the buffers */
static int check_settings(const struct podspec_settings *s, char *err, size_t errlen)
{
    uint64_t req, lim;

    if (s->cpu_limit[0] && podspec_quantity_milli(s->cpu_request, &req) == 0 &&
        podspec_quantity_milli(s->cpu_limit, &lim) == 0 && req > lim) {
        snprintf(err, errlen, "%scpu-request %s exceeds cpu-limit %s", PODSPEC_PARAM_PREFIX, s->cpu_request,
                 s->cpu_limit);
        return -EINVAL;
    }
    podspec_quantity_bytes(s->memory_request, &req);
    podspec_quantity_bytes(s->memory_limit, &lim);
    if (req > lim) {
        snprintf(err, errlen, "%smemory-request %s exceeds memory-limit %s", PODSPEC_PARAM_PREFIX,
                 s->memory_request, s->memory_limit);
        return -EINVAL;
    }
    uint64_t buffers = s->buffer_bytes ? s->buffer_bytes : (uint64_t)300 << 20;

    if (lim < buffers + MIN_HEADROOM) {
        snprintf(err, errlen, "%smemory-limit %s is too small for a buffer-size of %" PRIu64 " MiB "
                 "(needs at least %" PRIu64 " MiB)", PODSPEC_PARAM_PREFIX, s->memory_limit, buffers >> 20,
                 (buffers + MIN_HEADROOM) >> 20);
        return -EINVAL;
    }
    return 0;
}

int podspec_settings_parse(const char *const *keys, const char *const *vals, size_t n, struct podspec_settings *out,
                           char *err, size_t errlen)
{
    settings_default(out);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || strncmp(keys[i], PODSPEC_PARAM_PREFIX, strlen(PODSPEC_PARAM_PREFIX)) != 0)
            continue;
        if (apply_param(out, keys[i], vals[i] ? vals[i] : "", err, errlen))
            return -EINVAL;
    }
    return check_settings(out, err, errlen);
}

json_t *podspec_settings_to_json(const struct podspec_settings *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "cpu_request", s->cpu_request, "cpu_limit", s->cpu_limit,
                     "memory_request", s->memory_request, "memory_limit", s->memory_limit, "buffer_bytes",
                     (json_int_t)s->buffer_bytes, "cache_bytes", (json_int_t)s->cache_bytes);
}

int podspec_settings_from_json(const json_t *j, struct podspec_settings *out, char *err, size_t errlen)
{
    const char *cr = NULL, *cl = NULL, *mr = NULL, *ml = NULL;
    json_int_t bb = 0, cb = 0;
    json_error_t je;

    if (json_unpack_ex((json_t *)j, &je, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:I, s:I}", "cpu_request", &cr,
                       "cpu_limit", &cl, "memory_request", &mr, "memory_limit", &ml, "buffer_bytes", &bb,
                       "cache_bytes", &cb) != 0 || bb < 0 || cb < 0) {
        snprintf(err, errlen, "mount settings: %s", je.text);
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->cpu_request, sizeof(out->cpu_request), "%s", cr);
    snprintf(out->cpu_limit, sizeof(out->cpu_limit), "%s", cl);
    snprintf(out->memory_request, sizeof(out->memory_request), "%s", mr);
    snprintf(out->memory_limit, sizeof(out->memory_limit), "%s", ml);
    out->buffer_bytes = (uint64_t)bb;
    out->cache_bytes = (uint64_t)cb;
    return check_settings(out, err, errlen);
}

/* ---- names and labels ---- */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void podspec_label_value(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 63 && is_alnum(s[0]) && is_alnum(s[n - 1]);
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; ok && i < n; i++)
        ok = is_alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.';
    if (ok) {
        snprintf(out, outlen, "%s", s);
        return;
    }
    for (const char *p = s; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, outlen, "h-%016" PRIx64, h);
}

static bool dns_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n >= 1 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n && s[0] != '-' &&
           s[n - 1] != '-';
}

/* ---- the pod ---- */

static json_t *labels(const struct podspec_pod *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", PODSPEC_LABEL_APP, PODSPEC_APP, PODSPEC_LABEL_MANAGED,
                     PODSPEC_MANAGER, PODSPEC_LABEL_MOUNT, p->mount_key, PODSPEC_LABEL_VOLUME, p->volume_label,
                     PODSPEC_LABEL_NODE, p->node_label);
}

static json_t *env_from_secret(const char *env, const char *secret, const char *key, bool optional)
{
    return json_pack("{s:s, s:{s:{s:s, s:s, s:b}}}", "name", env, "valueFrom", "secretKeyRef", "name", secret, "key",
                     key, "optional", optional);
}

static json_t *container_env(const struct podspec_pod *p)
{
    json_t *env = json_array();

    json_array_append_new(env, env_from_secret("TIDEFS_META_URL", p->name, "metaurl", false));
    if (p->has_password)
        json_array_append_new(env, env_from_secret("META_PASSWORD", p->name, "meta-password", false));
    if (p->has_access_key) {
        json_array_append_new(env, env_from_secret("AWS_ACCESS_KEY_ID", p->name, "access-key", false));
        json_array_append_new(env, env_from_secret("AWS_SECRET_ACCESS_KEY", p->name, "secret-key", false));
    }
    return env;
}

static json_t *container_args(const struct podspec_pod *p)
{
    /* the journal of acknowledged writes outlives a killed daemon (an
     * emptyDir survives container restarts): the next one commits it */
    json_t *args = json_pack("[s, s, s, s, s]", "mount", "--fuse-fd-socket",
                             PODSPEC_COMM_MOUNT "/" PODSPEC_KEEPER_DIR "/" PODSPEC_SOCKET_NAME, "--journal-dir",
                             PODSPEC_JOURNAL_MOUNT);
    char buf[64];

    if (p->settings.buffer_bytes) {
        snprintf(buf, sizeof(buf), "%" PRIu64, (p->settings.buffer_bytes + (1u << 20) - 1) >> 20);
        json_array_append_new(args, json_string("--buffer-size"));
        json_array_append_new(args, json_string(buf));
    }
    if (p->settings.cache_bytes) {
        snprintf(buf, sizeof(buf), "%" PRIu64, (p->settings.cache_bytes + (1u << 20) - 1) >> 20);
        json_array_append_new(args, json_string("--cache-dir"));
        json_array_append_new(args, json_string(PODSPEC_CACHE_MOUNT));
        json_array_append_new(args, json_string("--cache-size"));
        json_array_append_new(args, json_string(buf));
    }
    json_array_append_new(args, json_string("$(TIDEFS_META_URL)"));
    return args;
}

static json_t *resources(const struct podspec_settings *s)
{
    json_t *req = json_pack("{s:s, s:s}", "cpu", s->cpu_request, "memory", s->memory_request);
    json_t *lim = json_pack("{s:s}", "memory", s->memory_limit);

    if (s->cpu_limit[0])
        json_object_set_new(lim, "cpu", json_string(s->cpu_limit));
    return json_pack("{s:o, s:o}", "requests", req, "limits", lim);
}

static json_t *security_context(uid_t uid)
{
    return json_pack("{s:b, s:b, s:I, s:I, s:b, s:b, s:{s:[s]}, s:{s:s}}", "runAsNonRoot", 1,
                     "allowPrivilegeEscalation", 0, "runAsUser", (json_int_t)uid, "runAsGroup", (json_int_t)uid,
                     "readOnlyRootFilesystem", 1, "privileged", 0, "capabilities", "drop", "ALL", "seccompProfile",
                     "type", "RuntimeDefault");
}

static json_t *volumes(const struct podspec_pod *p, json_t **mounts)
{
    json_t *vols = json_pack("[{s:s, s:{s:s}}]", "name", PODSPEC_COMM_VOLUME, "emptyDir", "sizeLimit", "1Mi");

    /* acknowledged writes not yet committed: at most about the buffers */
    uint64_t buffers = p->settings.buffer_bytes ? p->settings.buffer_bytes : (uint64_t)300 << 20;
    char jsize[40];

    snprintf(jsize, sizeof(jsize), "%" PRIu64 "Mi", ((2 * buffers) >> 20) + 256);
    json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", "journal", "emptyDir", "sizeLimit", jsize));
    /* the root filesystem is read-only: scratch space for the daemon */
    json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", "tmp", "emptyDir", "sizeLimit", "64Mi"));
    *mounts = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", PODSPEC_COMM_VOLUME, "mountPath",
                        PODSPEC_COMM_MOUNT, "name", "journal", "mountPath", PODSPEC_JOURNAL_MOUNT, "name", "tmp",
                        "mountPath", "/tmp");
    if (p->settings.cache_bytes) {
        /* headroom over the daemon's cache limit, so the kubelet never
         * evicts the pod for a cache at its limit */
        uint64_t limit_mib = (p->settings.cache_bytes + p->settings.cache_bytes / 10 + (64ull << 20)) >> 20;
        char size[40];

        snprintf(size, sizeof(size), "%" PRIu64 "Mi", limit_mib);
        json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", "cache", "emptyDir", "sizeLimit", size));
        json_array_append_new(*mounts, json_pack("{s:s, s:s}", "name", "cache", "mountPath", PODSPEC_CACHE_MOUNT));
    }
    return vols;
}

static json_t *container(const struct podspec_pod *p, json_t *mounts)
{
    return json_pack("{s:s, s:s, s:s, s:[s], s:o, s:o, s:o, s:o, s:o, s:s}", "name", "tidefs", "image", p->image,
                     "imagePullPolicy", p->pull_policy ? p->pull_policy : "IfNotPresent", "command", "tidefs", "args",
                     container_args(p), "env", container_env(p), "resources", resources(&p->settings),
                     "securityContext", security_context(p->uid), "volumeMounts", mounts,
                     "terminationMessagePolicy", "FallbackToLogsOnError");
}

static int check_pod(const struct podspec_pod *p, char *err, size_t errlen)
{
    const char *bad = !dns_name(p->name)                            ? "name"
                      : !p->ns || !dns_name(p->ns)                  ? "namespace"
                      : !p->node || !*p->node || strlen(p->node) > 253 ? "node"
                      : !p->image || !*p->image || strchr(p->image, ' ') ? "image"
                      : p->uid == 0                                 ? "uid (must not be root)"
                      : !p->mount_key || !*p->mount_key             ? "mount key"
                      : !p->volume_label || !p->node_label          ? "labels"
                                                                    : NULL;

    if (bad)
        snprintf(err, errlen, "mount pod spec: invalid or missing %s", bad);
    return bad ? -EINVAL : 0;
}

json_t *podspec_build_pod(const struct podspec_pod *p, char *err, size_t errlen)
{
    json_t *mounts, *vols, *pod, *spec;
    char gen[16];

    if (check_pod(p, err, errlen))
        return NULL;
    snprintf(gen, sizeof(gen), "%u", p->generation);
    vols = volumes(p, &mounts);
    spec = json_pack("{s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:b, s:[{s:s}], s:{s:b, s:I, s:I, s:{s:s}}, s:[o], s:o}",
                     "nodeName", p->node, "restartPolicy", "Always", "terminationGracePeriodSeconds", (json_int_t)30,
                     "automountServiceAccountToken", 0, "enableServiceLinks", 0, "hostNetwork", 0, "hostPID", 0,
                     "hostIPC", 0, "tolerations", "operator", "Exists", "securityContext", "runAsNonRoot", 1,
                     "runAsUser", (json_int_t)p->uid, "runAsGroup", (json_int_t)p->uid, "seccompProfile", "type",
                     "RuntimeDefault", "containers", container(p, mounts), "volumes", vols);
    if (spec && p->priority_class && *p->priority_class)
        json_object_set_new(spec, "priorityClassName", json_string(p->priority_class));
    pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s, s:s}}, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                    "name", p->name, "namespace", p->ns, "labels", labels(p), "annotations", PODSPEC_ANN_GENERATION,
                    gen, "cluster-autoscaler.kubernetes.io/daemonset-pod", "true", "spec", spec);
    if (!pod)
        snprintf(err, errlen, "mount pod spec: out of memory");
    return pod;
}

json_t *podspec_build_secret(const struct podspec_pod *p, const struct podspec_secret_values *v)
{
    json_t *data = json_object();
    const char *keys[] = {"metaurl", "meta-password", "access-key", "secret-key"};
    const char *vals[] = {v->metaurl, v->password, v->access_key, v->secret_key};

    for (size_t i = 0; i < 4; i++)
        if (vals[i] && *vals[i])
            json_object_set_new(data, keys[i], json_string(vals[i]));
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:o}, s:o}", "apiVersion", "v1", "kind", "Secret", "type", "Opaque",
                     "metadata", "name", p->name, "namespace", p->ns, "labels", labels(p), "stringData", data);
}

json_t *podspec_owner_patch(const char *pod_name, const char *pod_uid)
{
    return json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}}", "metadata", "ownerReferences", "apiVersion", "v1",
                     "kind", "Pod", "name", pod_name, "uid", pod_uid, "controller", 1, "blockOwnerDeletion", 0);
}
