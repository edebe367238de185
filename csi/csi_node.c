/* SPDX-License-Identifier: Apache-2.0
 *
 * The CSI Node service: publish a tidefs directory on a kubelet target path
 * through the mounter, unpublish it (removing the target directory we
 * created, as the spec requires), report usage and health.
 *
 * Target paths are checked twice: textually (below the kubelet directory,
 * no "." or ".." components) and by resolving them with openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from the kubelet directory, so a
 * symlink planted in a pod-writable place cannot redirect a mount.
 */
#include "csi_plugin.h"
#include "csi_pubstate.h"
#include "csi_validate.h"
#include "csi_volume.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOCK_KEY_MAX (PATH_MAX + 8)

/* ---- resolving target paths beneath the kubelet directory ---- */

/* The same walk as openat2's, one component at a time, for kernels (and
 * valgrind) without openat2: refuses "..", and any symlink on the way. */
static int walk_beneath(int rootfd, const char *rel, int flags)
{
    char buf[PATH_MAX], *save = NULL, *comp, *next;
    int fd = dup(rootfd);

    if (fd < 0)
        return -errno;
    snprintf(buf, sizeof(buf), "%s", rel);
    for (comp = strtok_r(buf, "/", &save); comp; comp = next) {
        struct stat st;
        int nfd;

        next = strtok_r(NULL, "/", &save);
        int rc = strcmp(comp, "..") == 0                              ? -EXDEV
                 : fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0 ? -errno
                 : S_ISLNK(st.st_mode)                              ? -ELOOP
                                                                    : 0;

        if (rc) {
            close(fd);
            return rc;
        }
        nfd = openat(fd, comp, (next ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        if (nfd < 0)
            return -errno;
        fd = nfd;
    }
    return fd;
}

static int open_beneath(const char *root, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd;

    if (rootfd < 0)
        return -errno;
    fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
    if (fd < 0)
        fd = errno == ENOSYS ? walk_beneath(rootfd, rel, flags) : -errno;
    close(rootfd);
    return fd;
}

/* Opens the parent directory of target (validated, below kubelet_dir) and
 * points *base at its last component. */
static int open_target_parent(const struct csi_plugin *p, const char *target, const char **base)
{
    char rel[PATH_MAX];
    const char *start = target + strlen(p->kubelet_dir) + 1;
    char *slash;

    snprintf(rel, sizeof(rel), "%s", start);
    slash = strrchr(rel, '/');
    *base = strrchr(target, '/') + 1;
    if (!slash) {
        int fd = open(p->kubelet_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
    }
    *slash = '\0';
    return open_beneath(p->kubelet_dir, rel, O_PATH | O_DIRECTORY);
}

/* mkdir the target if needed and check it resolves, without symlinks, to a
 * directory beneath the kubelet dir. *created: whether we made it. */
static int prepare_target(const struct csi_plugin *p, const char *target, bool *created, char *err, size_t errlen)
{
    const char *base;
    int dfd = open_target_parent(p, target, &base), fd;

    *created = false;
    if (dfd < 0) {
        snprintf(err, errlen, "the parent of target_path cannot be opened without symlinks: %s", strerror(-dfd));
        return dfd == -ELOOP || dfd == -EXDEV ? -EINVAL : dfd;
    }
    if (mkdirat(dfd, base, 0750) == 0)
        *created = true;
    else if (errno != EEXIST) {
        int rc = -errno;

        snprintf(err, errlen, "cannot create target_path: %s", strerror(-rc));
        close(dfd);
        return rc;
    }
    fd = open_beneath(p->kubelet_dir, target + strlen(p->kubelet_dir) + 1, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        snprintf(err, errlen, "target_path is not a directory reachable without symlinks: %s", strerror(-fd));
        if (*created)
            unlinkat(dfd, base, AT_REMOVEDIR);
        close(dfd);
        return fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR ? -EINVAL : fd;
    }
    close(fd);
    close(dfd);
    return 0;
}

/* rmdir target if it is there; 0 when it is gone */
static int remove_target(const struct csi_plugin *p, const char *target, char *err, size_t errlen)
{
    const char *base;
    int dfd = open_target_parent(p, target, &base), rc = 0;

    if (dfd == -ENOENT)
        return 0;
    if (dfd < 0) {
        snprintf(err, errlen, "the parent of target_path cannot be opened without symlinks: %s", strerror(-dfd));
        return dfd;
    }
    if (unlinkat(dfd, base, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "cannot remove target_path: %s", strerror(-rc));
    }
    close(dfd);
    return rc;
}

/* ---- NodePublishVolume ---- */

struct publish_args {
    const Csi__V1__NodePublishVolumeRequest *req;
    const char *metaurl;
    const char *subdir;
    bool readonly;
};

static bool cap_is_readonly(const Csi__V1__VolumeCapability *cap)
{
    int m = cap->access_mode->mode;

    for (size_t i = 0; i < cap->mount->n_mount_flags; i++)
        if (strcmp(cap->mount->mount_flags[i], "ro") == 0)
            return true;
    return m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY ||
           m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY;
}

static int publish_validate(const struct csi_plugin *p, struct publish_args *pa, char *err, size_t errlen)
{
    const Csi__V1__NodePublishVolumeRequest *req = pa->req;
    int rc = csi_validate_name("volume_id", req->volume_id, err, errlen);

    if (rc == 0)
        rc = csi_validate_target("target_path", p->kubelet_dir, req->target_path, err, errlen);
    if (rc == 0)
        rc = csi_check_capability(req->volume_capability, err, errlen);
    if (rc)
        return rc;
    pa->subdir = CSI_MAP_GET(req, volume_context, CSI_CTX_SUBPATH);
    if (!pa->subdir || !*pa->subdir)
        pa->subdir = "/"; /* a static PV without subPath: the whole volume */
    rc = csi_validate_subpath("volume_context subPath", pa->subdir, err, errlen);
    if (rc)
        return rc;
    pa->metaurl = CSI_MAP_GET(req, secrets, CSI_SECRET_METAURL);
    if (!pa->metaurl || !*pa->metaurl) {
        snprintf(err, errlen, "secret %s is required", CSI_SECRET_METAURL);
        return -EINVAL;
    }
    pa->readonly = req->readonly || cap_is_readonly(req->volume_capability);
    return 0;
}

/* An existing record for the target: the same publication is a success,
 * another one ALREADY_EXISTS. *done tells the caller to stop. */
static int publish_existing(const struct csi_plugin *p, const struct publish_args *pa, bool *done, char *err,
                            size_t errlen)
{
    struct csi_pubstate st;
    int rc = csi_pubstate_load(p->state_dir, pa->req->target_path, &st);
    int mounted = csi_is_mount_point(pa->req->target_path);

    *done = false;
    if (rc == 0 && mounted == 1) {
        *done = true;
        if (strcmp(st.volume_id, pa->req->volume_id) == 0 && strcmp(st.subdir, pa->subdir) == 0 &&
            st.readonly == pa->readonly)
            return 0;
        snprintf(err, errlen, "target_path already holds a different publication");
        return -EEXIST;
    }
    if (mounted == 1) {
        *done = true;
        snprintf(err, errlen, "target_path is already a mount point");
        return -EEXIST;
    }
    if (rc == 0) /* a record without its mount: the node rebooted */
        csi_pubstate_remove(p->state_dir, pa->req->target_path);
    return 0;
}

/* The sub-path must be a directory of the volume, reached without symlinks:
 * checked on the metadata before the daemon is started. */
static int check_subdir(const struct publish_args *pa, char *err, size_t errlen)
{
    struct csi_volume *v = NULL;
    uint64_t ino;
    int rc = csi_volume_open(pa->metaurl, CSI_MAP_GET(pa->req, secrets, CSI_SECRET_NAME), &v, err, errlen);

    if (rc)
        return rc;
    rc = csi_volume_resolve(v, pa->subdir, &ino);
    csi_volume_close(v);
    if (rc == -ENOENT)
        snprintf(err, errlen, "volume %s: directory %s does not exist in the tidefs volume", pa->req->volume_id,
                 pa->subdir);
    else if (rc)
        snprintf(err, errlen, "volume %s: directory %s cannot be used: %s", pa->req->volume_id, pa->subdir,
                 strerror(-rc));
    return rc;
}

/* What only the mount-pod mounter reads: the application pod and the
 * volume_context (StorageClass parameters). *ctx: caller frees. */
static int add_pod_context(const Csi__V1__NodePublishVolumeRequest *req, struct csi_mount_req *mr, const char ***ctx)
{
    size_t n = req->n_volume_context;

    *ctx = calloc(2 * n + 1, sizeof(**ctx));
    if (!*ctx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        (*ctx)[i] = req->volume_context[i]->key;
        (*ctx)[n + i] = req->volume_context[i]->value;
    }
    mr->ctx_keys = *ctx;
    mr->ctx_vals = *ctx + n;
    mr->n_ctx = n;
    mr->volume_name = CSI_MAP_GET(req, secrets, CSI_SECRET_NAME);
    mr->pod_name = CSI_MAP_GET(req, volume_context, "csi.storage.k8s.io/pod.name");
    mr->pod_namespace = CSI_MAP_GET(req, volume_context, "csi.storage.k8s.io/pod.namespace");
    mr->pod_uid = CSI_MAP_GET(req, volume_context, "csi.storage.k8s.io/pod.uid");
    return 0;
}

static int publish_locked(struct csi_plugin *p, const struct publish_args *pa, char *err, size_t errlen)
{
    const Csi__V1__NodePublishVolumeRequest *req = pa->req;
    struct csi_mount_req mr = {
        .volume_id = req->volume_id,
        .metaurl = pa->metaurl,
        .access_key = CSI_MAP_GET(req, secrets, CSI_SECRET_ACCESS_KEY),
        .secret_key = CSI_MAP_GET(req, secrets, CSI_SECRET_SECRET_KEY),
        .subdir = pa->subdir,
        .target = req->target_path,
        .readonly = pa->readonly,
    };
    struct csi_pubstate st = {.readonly = pa->readonly};
    bool done, created;
    int rc = publish_existing(p, pa, &done, err, errlen);

    if (rc || done)
        return rc;
    rc = check_subdir(pa, err, errlen);
    if (rc == 0)
        rc = prepare_target(p, req->target_path, &created, err, errlen);
    if (rc)
        return rc;
    const char **ctx = NULL;

    rc = add_pod_context(req, &mr, &ctx);
    if (rc == 0)
        rc = p->mounter->ops->publish(p->mounter, &mr, err, errlen);
    free(ctx);
    if (rc == 0) {
        snprintf(st.target, sizeof(st.target), "%s", req->target_path);
        snprintf(st.volume_id, sizeof(st.volume_id), "%s", req->volume_id);
        snprintf(st.subdir, sizeof(st.subdir), "%s", pa->subdir);
        rc = csi_pubstate_save(p->state_dir, &st);
        if (rc) {
            snprintf(err, errlen, "cannot record the publication: %s", strerror(-rc));
            p->mounter->ops->unpublish(p->mounter, req->target_path, err + strlen(err), 0);
        }
    }
    if (rc && created)
        remove_target(p, req->target_path, err + strlen(err), 0);
    return rc;
}

int csi_node_publish_volume(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                            char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    struct publish_args pa = {.req = (const Csi__V1__NodePublishVolumeRequest *)req_};
    Csi__V1__NodePublishVolumeResponse *r =
        CSI_NEW(a, Csi__V1__NodePublishVolumeResponse, csi__v1__node_publish_volume_response__init);
    char key[LOCK_KEY_MAX];
    int rc;

    if (!r)
        return -ENOMEM;
    rc = publish_validate(p, &pa, err, errlen);
    if (rc)
        return rc;
    snprintf(key, sizeof(key), "tgt:%s", pa.req->target_path);
    rc = csi_inflight_acquire(&p->inflight, key);
    if (rc) {
        snprintf(err, errlen, "an operation on this target_path is already in progress");
        return rc;
    }
    rc = publish_locked(p, &pa, err, errlen);
    csi_inflight_release(&p->inflight, key);
    *resp = &r->base;
    return rc;
}

/* ---- NodeUnpublishVolume ---- */

static int unpublish_locked(struct csi_plugin *p, const Csi__V1__NodeUnpublishVolumeRequest *req, char *err,
                            size_t errlen)
{
    struct csi_pubstate st;
    int rc = csi_pubstate_load(p->state_dir, req->target_path, &st);

    if (rc == 0 && strcmp(st.volume_id, req->volume_id) != 0) {
        snprintf(err, errlen, "target_path holds volume %s, not %s", st.volume_id, req->volume_id);
        return -ENOENT;
    }
    rc = p->mounter->ops->unpublish(p->mounter, req->target_path, err, errlen);
    if (rc == 0)
        rc = remove_target(p, req->target_path, err, errlen);
    if (rc == 0)
        rc = csi_pubstate_remove(p->state_dir, req->target_path);
    return rc;
}

int csi_node_unpublish_volume(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    const Csi__V1__NodeUnpublishVolumeRequest *req = (const Csi__V1__NodeUnpublishVolumeRequest *)req_;
    Csi__V1__NodeUnpublishVolumeResponse *r =
        CSI_NEW(a, Csi__V1__NodeUnpublishVolumeResponse, csi__v1__node_unpublish_volume_response__init);
    char key[LOCK_KEY_MAX];
    int rc;

    if (!r)
        return -ENOMEM;
    rc = csi_validate_name("volume_id", req->volume_id, err, errlen);
    if (rc == 0)
        rc = csi_validate_target("target_path", p->kubelet_dir, req->target_path, err, errlen);
    if (rc)
        return rc;
    snprintf(key, sizeof(key), "tgt:%s", req->target_path);
    rc = csi_inflight_acquire(&p->inflight, key);
    if (rc) {
        snprintf(err, errlen, "an operation on this target_path is already in progress");
        return rc;
    }
    rc = unpublish_locked(p, req, err, errlen);
    csi_inflight_release(&p->inflight, key);
    *resp = &r->base;
    return rc;
}

/* ---- NodeGetVolumeStats ---- */

static Csi__V1__VolumeUsage *usage(struct csi_arena *a, Csi__V1__VolumeUsage__Unit unit, uint64_t total,
                                   uint64_t avail, uint64_t used)
{
    Csi__V1__VolumeUsage *u = CSI_NEW(a, Csi__V1__VolumeUsage, csi__v1__volume_usage__init);

    if (u) {
        u->unit = unit;
        u->total = (int64_t)total;
        u->available = (int64_t)avail;
        u->used = (int64_t)used;
    }
    return u;
}

static int stats_response(struct csi_plugin *p, const char *target, struct csi_arena *a, ProtobufCMessage **resp)
{
    Csi__V1__NodeGetVolumeStatsResponse *r =
        CSI_NEW(a, Csi__V1__NodeGetVolumeStatsResponse, csi__v1__node_get_volume_stats_response__init);
    Csi__V1__VolumeCondition *cond = CSI_NEW(a, Csi__V1__VolumeCondition, csi__v1__volume_condition__init);
    Csi__V1__VolumeUsage **list = csi_arena_alloc(a, 2 * sizeof(*list));
    struct csi_mount_stat ms;
    int rc;

    if (!r || !cond || !list)
        return -ENOMEM;
    rc = p->mounter->ops->stat(p->mounter, target, &ms);
    if (rc == 0) {
        list[0] = usage(a, CSI__V1__VOLUME_USAGE__UNIT__BYTES, ms.bytes_total, ms.bytes_avail, ms.bytes_used);
        list[1] = usage(a, CSI__V1__VOLUME_USAGE__UNIT__INODES, ms.inodes_total, ms.inodes_avail, ms.inodes_used);
        if (!list[0] || !list[1])
            return -ENOMEM;
        r->n_usage = 2;
        r->usage = list;
        cond->message = (char *)"the tidefs mount answers";
    } else {
        /* the volume is known but unhealthy: that is an answer, not an error */
        char *msg = csi_arena_alloc(a, 160);

        if (!msg)
            return -ENOMEM;
        snprintf(msg, 160, "%s", rc == -ENOENT ? "the target is not mounted" : strerror(-rc));
        cond->abnormal = 1;
        cond->message = msg;
    }
    r->volume_condition = cond;
    *resp = &r->base;
    return 0;
}

int csi_node_get_volume_stats(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    const Csi__V1__NodeGetVolumeStatsRequest *req = (const Csi__V1__NodeGetVolumeStatsRequest *)req_;
    struct csi_pubstate st;
    char why[256];
    int rc = csi_validate_name("volume_id", req->volume_id, err, errlen);

    if (rc)
        return rc;
    if (!*req->volume_path) {
        snprintf(err, errlen, "volume_path is required");
        return -EINVAL;
    }
    /* a path we could never have published is simply not found */
    if (csi_validate_target("volume_path", p->kubelet_dir, req->volume_path, why, sizeof(why)) != 0 ||
        csi_pubstate_load(p->state_dir, req->volume_path, &st) != 0 || strcmp(st.volume_id, req->volume_id) != 0) {
        snprintf(err, errlen, "volume %s is not published at volume_path", req->volume_id);
        return -ENOENT;
    }
    return stats_response(p, req->volume_path, a, resp);
}

/* ---- NodeGetCapabilities, NodeGetInfo ---- */

int csi_node_get_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen)
{
    static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
        CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
        CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
    };
    const size_t n = sizeof(types) / sizeof(types[0]);
    Csi__V1__NodeGetCapabilitiesResponse *r =
        CSI_NEW(a, Csi__V1__NodeGetCapabilitiesResponse, csi__v1__node_get_capabilities_response__init);
    Csi__V1__NodeServiceCapability **caps = csi_arena_alloc(a, n * sizeof(*caps));

    (void)arg, (void)req, (void)err, (void)errlen;
    if (!r || !caps)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Csi__V1__NodeServiceCapability *c =
            CSI_NEW(a, Csi__V1__NodeServiceCapability, csi__v1__node_service_capability__init);
        Csi__V1__NodeServiceCapability__RPC *rpc =
            CSI_NEW(a, Csi__V1__NodeServiceCapability__RPC, csi__v1__node_service_capability__rpc__init);

        if (!c || !rpc)
            return -ENOMEM;
        rpc->type = types[i];
        c->type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
        c->rpc = rpc;
        caps[i] = c;
    }
    r->n_capabilities = n;
    r->capabilities = caps;
    *resp = &r->base;
    return 0;
}

int csi_node_get_info(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp, char *err,
                      size_t errlen)
{
    const struct csi_plugin *p = arg;
    Csi__V1__NodeGetInfoResponse *r = CSI_NEW(a, Csi__V1__NodeGetInfoResponse, csi__v1__node_get_info_response__init);

    (void)req, (void)err, (void)errlen;
    if (!r)
        return -ENOMEM;
    r->node_id = (char *)p->node_id;
    *resp = &r->base;
    return 0;
}
