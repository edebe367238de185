/* SPDX-License-Identifier: Apache-2.0
 *
 * The mount pod and its Secret, as Kubernetes JSON: the unprivileged pod
 * that runs `tidefs mount --fuse-fd-socket` for one tidefs volume (with one
 * set of mount settings) on one node, fed the FUSE fd by the node plugin.
 *
 * The pod passes Pod Security "restricted": runAsNonRoot with a fixed
 * non-root uid, every capability dropped, no privilege escalation, seccomp
 * RuntimeDefault, a read-only root filesystem, no hostPath, no host
 * namespaces, no /dev/fuse, no service account token. Its only link to the
 * node plugin is the emptyDir "fd": the plugin creates the hand-off
 * socket inside that emptyDir's directory on the host
 * (<kubelet>/pods/<uid>/volumes/kubernetes.io~empty-dir/fd/k/s: 97 bytes
 * with /var/lib/kubelet), so
 * the pod needs no hostPath at all.
 *
 * Secrets (the META-URL, its password, object-store keys) reach the
 * daemon as environment variables from the Secret, never in the pod spec
 * or argv; the META-URL is expanded by the kubelet from $(TIDEFS_META_URL).
 */
#ifndef TIDEFS_PODSPEC_H
#define TIDEFS_PODSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define PODSPEC_COMM_VOLUME "fd" /* short names: the socket path on the node must stay under 108 bytes */
#define PODSPEC_COMM_MOUNT "/run/tidefs"
#define PODSPEC_KEEPER_DIR "k" /* inside that emptyDir, 0700, the daemon's uid */
#define PODSPEC_SOCKET_NAME "s"
#define PODSPEC_CACHE_MOUNT "/var/cache/tidefs"
#define PODSPEC_JOURNAL_MOUNT "/var/lib/tidefs/journal"
#define PODSPEC_DEFAULT_UID 65532
#define PODSPEC_LABEL_APP "app.kubernetes.io/name"
#define PODSPEC_APP "tidefs-mount"
#define PODSPEC_LABEL_MANAGED "app.kubernetes.io/managed-by"
#define PODSPEC_MANAGER "tidefs-csi"
#define PODSPEC_LABEL_MOUNT "tidefs.io/mount"
#define PODSPEC_LABEL_VOLUME "tidefs.io/volume"
#define PODSPEC_LABEL_NODE "tidefs.io/node"
#define PODSPEC_ANN_GENERATION "tidefs.io/generation"

/* Settings from StorageClass parameters (copied into volume_context):
 *   tidefs.io/mount-cpu-request     default 100m
 *   tidefs.io/mount-cpu-limit       default none (CPU limits add latency)
 *   tidefs.io/mount-memory-request  default 256Mi
 *   tidefs.io/mount-memory-limit    default 1Gi; must exceed buffer-size + 128Mi
 *   tidefs.io/mount-buffer-size     the daemon's --buffer-size (default its own, 300Mi)
 *   tidefs.io/mount-cache-size      a local block cache on an emptyDir of that size
 *                                   (+10% headroom as its sizeLimit); default none
 * Quantities use Kubernetes notation (100m, 0.5, 1Gi, 512M). */
#define PODSPEC_PARAM_PREFIX "tidefs.io/mount-"

struct podspec_settings {
    char cpu_request[32], cpu_limit[32];
    char memory_request[32], memory_limit[32];
    uint64_t buffer_bytes; /* 0: the daemon's default */
    uint64_t cache_bytes;  /* 0: no disk cache */
};

/* Defaults, then every "tidefs.io/mount-*" key of the map (keys[i] ->
 * vals[i]); unknown tidefs.io/mount-* keys and bad values are -EINVAL with
 * one line in err naming the key. Other keys are ignored. */
int podspec_settings_parse(const char *const *keys, const char *const *vals, size_t n, struct podspec_settings *out,
                           char *err, size_t errlen);

/* The settings as a canonical JSON object (for hashing and the record). */
json_t *podspec_settings_to_json(const struct podspec_settings *s);
int podspec_settings_from_json(const json_t *j, struct podspec_settings *out, char *err, size_t errlen);

/* A Kubernetes quantity in milli-units (cpu) or bytes (memory, storage).
 * -EINVAL for anything else; -ERANGE on overflow. */
int podspec_quantity_milli(const char *s, uint64_t *out);
int podspec_quantity_bytes(const char *s, uint64_t *out);

struct podspec_pod {
    const char *name;            /* pod and Secret name */
    const char *ns;
    const char *node;            /* spec.nodeName */
    const char *image;
    const char *pull_policy;     /* NULL: IfNotPresent */
    const char *priority_class;  /* NULL or "": none */
    const char *mount_key;       /* label tidefs.io/mount */
    const char *volume_label;    /* label tidefs.io/volume */
    const char *node_label;      /* label tidefs.io/node */
    uint32_t generation;
    uid_t uid;                   /* runAsUser/runAsGroup; 0 is refused */
    bool has_access_key;         /* the Secret has access-key/secret-key */
    bool has_password;           /* the Secret has meta-password */
    struct podspec_settings settings;
};

/* The mount pod. NULL with err set when a field is missing or invalid
 * (a uid of 0, an empty image, a name that is not DNS-1123). */
json_t *podspec_build_pod(const struct podspec_pod *p, char *err, size_t errlen);

/* Secret values (borrowed); NULL or "" leaves a key out. */
struct podspec_secret_values {
    const char *metaurl; /* without its password */
    const char *password;
    const char *access_key, *secret_key;
};

/* The Secret for the pod's environment (name = the pod's Secret name,
 * same labels). Its owner reference is added once the pod exists:
 * podspec_owner_patch(). The returned JSON holds secrets: dump it only to
 * the API. */
json_t *podspec_build_secret(const struct podspec_pod *p, const struct podspec_secret_values *v);

/* Merge patch making the pod (name, uid) the controller owner of the Secret,
 * so that deleting the pod deletes the Secret. */
json_t *podspec_owner_patch(const char *pod_name, const char *pod_uid);

/* A label value from any string: kept when it is a valid label value (at
 * most 63 of [A-Za-z0-9-_.], alphanumeric at both ends), else "h-" and
 * 16 hex digits of a hash of it. out: at least 64 bytes. */
void podspec_label_value(const char *s, char *out, size_t outlen);

/* The Secret name of a pod (equal to the pod name). */
#define PODSPEC_SECRET_NAME(pod) (pod)

#endif
