/* SPDX-License-Identifier: Apache-2.0
 *
 * How the node plugin brings a tidefs directory to a target path. One
 * interface with one implementation today (csi_mounter_local.c: the daemon
 * as a local child process, `tidefs mount -d`); the mount-pod
 * implementation (issue 9) replaces it behind the same three calls.
 *
 * Secrets never travel in argv: the local mounter strips a password from
 * the META-URL and hands it, and the storage keys, to the daemon in its
 * environment (META_PASSWORD, ACCESS_KEY, SECRET_KEY).
 */
#ifndef TIDEFS_CSI_MOUNTER_H
#define TIDEFS_CSI_MOUNTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct csi_mount_req {
    const char *volume_id;  /* for logs */
    const char *metaurl;    /* a secret: may carry a password */
    const char *access_key; /* a secret, may be NULL */
    const char *secret_key; /* a secret, may be NULL */
    const char *subdir;     /* "/" or "/a/b", validated */
    const char *target;     /* absolute, validated, an existing empty dir */
    bool readonly;
    /* Used by the mount-pod mounter only; may be NULL/0. */
    const char *volume_name; /* secret "name": the formatted volume's name */
    const char *pod_name, *pod_namespace, *pod_uid; /* the application pod (podInfoOnMount) */
    const char *const *ctx_keys, *const *ctx_vals;  /* volume_context (StorageClass parameters) */
    size_t n_ctx;
};

struct csi_mount_stat {
    uint64_t bytes_total, bytes_avail, bytes_used;
    uint64_t inodes_total, inodes_avail, inodes_used;
};

struct csi_mounter;

struct csi_mounter_ops {
    /* Mount req->subdir of the volume on req->target; returns when the
     * mount is live. err: a one-line reason free of secrets. */
    int (*publish)(struct csi_mounter *mt, const struct csi_mount_req *req, char *err, size_t errlen);
    /* Unmount target if it is mounted; 0 when it was not. Leaves the
     * directory in place. */
    int (*unpublish)(struct csi_mounter *mt, const char *target, char *err, size_t errlen);
    /* Usage of the mounted target; -ENOTCONN when the daemon behind it is
     * gone, -ENOENT when target is not a mount point. */
    int (*stat)(struct csi_mounter *mt, const char *target, struct csi_mount_stat *out);
    void (*destroy)(struct csi_mounter *mt);
};

struct csi_mounter {
    const struct csi_mounter_ops *ops;
};

/* The local implementation. tidefs_bin: the `tidefs` program (borrowed,
 * must outlive the mounter); log_dir: where each mount's daemon log goes. */
int csi_mounter_local_new(const char *tidefs_bin, const char *log_dir, struct csi_mounter **out);

/* The mount-pod implementation (csi_mounter_pod.c, docs/mount-pod.md): one
 * unprivileged mount pod per (volume, settings) on this node, fed the FUSE
 * fd by the plugin, which keeps its own copy; PVs are bind mounts of its
 * sub-directories. Strings are copied. */
struct csi_mounter_pod_config {
    const char *node_id;        /* spec.nodeName of the mount pods */
    const char *kubelet_dir;    /* where the kubelet keeps pods (their emptyDirs) */
    const char *state_dir;      /* the plugin's own state: references, shared mounts */
    const char *image;          /* NULL: the image of this plugin's own container */
    const char *ns;             /* NULL: this plugin's namespace */
    const char *priority_class; /* NULL or "": none */
    unsigned uid;               /* the daemon's uid in the pod; 0: 65532 */
    long serve_timeout_ms;      /* wait for a new pod to serve; 0: 90 s */
};
int csi_mounter_pod_new(const struct csi_mounter_pod_config *cfg, struct csi_mounter **out, char *err, size_t errlen);

/* 1 when `path` is a mount point (per /proc/self/mountinfo), 0 when not,
 * -errno when mountinfo cannot be read. Shared by every implementation. */
int csi_is_mount_point(const char *path);

#endif
