/* SPDX-License-Identifier: Apache-2.0
 *
 * The CSI Controller service: a PV is the directory /<pv-name> of the tidefs
 * volume named by the secrets, with a capacity kept through the quota seam
 * of csi_volume. All calls are idempotent as the CSI spec requires, and a
 * second call on a volume while one is running answers ABORTED.
 */
#include "csi_plugin.h"
#include "csi_validate.h"
#include "csi_volume.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LOCK_KEY_MAX (CSI_NAME_MAX + 8)

static int open_from_secrets(ProtobufCMessage *const *secrets, size_t n, struct csi_volume **v, char *err,
                             size_t errlen)
{
    const char *url = csi_map_get(secrets, n, CSI_SECRET_METAURL);

    if (!url || !*url) {
        snprintf(err, errlen, "secret %s is required", CSI_SECRET_METAURL);
        return -EINVAL;
    }
    return csi_volume_open(url, csi_map_get(secrets, n, CSI_SECRET_NAME), v, err, errlen);
}

#define OPEN_FROM_SECRETS(req, v, err, errlen)                                                                         \
    open_from_secrets((ProtobufCMessage *const *)(req)->secrets, (req)->n_secrets, (v), (err), (errlen))

/* required/limit of a range (0 = not given); -EINVAL or -ERANGE */
static int read_range(const Csi__V1__CapacityRange *r, uint64_t *required, uint64_t *limit, char *err, size_t errlen)
{
    *required = *limit = 0;
    if (!r)
        return 0;
    if (r->required_bytes < 0 || r->limit_bytes < 0) {
        snprintf(err, errlen, "capacity_range may not be negative");
        return -EINVAL;
    }
    if (r->limit_bytes && r->limit_bytes < r->required_bytes) {
        snprintf(err, errlen, "capacity_range limit_bytes is below required_bytes");
        return -ERANGE;
    }
    *required = (uint64_t)r->required_bytes;
    *limit = (uint64_t)r->limit_bytes;
    return 0;
}

/* whether a recorded capacity (0 = unlimited) satisfies a range */
static bool range_accepts(uint64_t cap, uint64_t required, uint64_t limit)
{
    uint64_t eff = cap ? cap : UINT64_MAX;

    return eff >= required && (limit == 0 || eff <= limit);
}

static int check_capabilities(Csi__V1__VolumeCapability *const *caps, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "volume_capabilities are required");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = csi_check_capability(caps[i], err, errlen);

        if (rc)
            return rc;
    }
    return 0;
}

/* mkdir + capacity, under the volume's operation lock */
static int create_locked(struct csi_volume *v, const char *name, uint64_t required, uint64_t limit, uint64_t *cap,
                         char *err, size_t errlen)
{
    bool created;
    int rc = csi_volume_mkdir(v, name, &created);

    if (rc) {
        snprintf(err, errlen, "cannot create directory /%s in the volume: %s", name, strerror(-rc));
        return rc;
    }
    rc = csi_volume_quota_get(v, name, cap);
    if (rc == 0 && !range_accepts(*cap, required, limit)) {
        snprintf(err, errlen, "volume %s exists with capacity %llu bytes, outside the requested range", name,
                 (unsigned long long)*cap);
        return -EEXIST;
    }
    if (rc == -ENOENT) { /* new, or a crash came between mkdir and here */
        *cap = required ? required : limit;
        rc = csi_volume_quota_set(v, name, *cap);
    }
    if (rc)
        snprintf(err, errlen, "cannot record the capacity of %s: %s", name, strerror(-rc));
    return rc;
}

static int create_response(struct csi_arena *a, const char *name, uint64_t cap, ProtobufCMessage **resp)
{
    Csi__V1__CreateVolumeResponse *r = CSI_NEW(a, Csi__V1__CreateVolumeResponse, csi__v1__create_volume_response__init);
    Csi__V1__Volume *vol = CSI_NEW(a, Csi__V1__Volume, csi__v1__volume__init);
    Csi__V1__Volume__VolumeContextEntry *e =
        CSI_NEW(a, Csi__V1__Volume__VolumeContextEntry, csi__v1__volume__volume_context_entry__init);
    Csi__V1__Volume__VolumeContextEntry **ctx = csi_arena_alloc(a, sizeof(*ctx));
    char *id = csi_arena_strdup(a, name), *sub = csi_arena_alloc(a, strlen(name) + 2);

    if (!r || !vol || !e || !ctx || !id || !sub)
        return -ENOMEM;
    sprintf(sub, "/%s", name);
    e->key = (char *)CSI_CTX_SUBPATH;
    e->value = sub;
    ctx[0] = e;
    vol->volume_id = id;
    vol->capacity_bytes = (int64_t)cap;
    vol->n_volume_context = 1;
    vol->volume_context = ctx;
    r->volume = vol;
    *resp = &r->base;
    return 0;
}

int csi_controller_create_volume(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    const Csi__V1__CreateVolumeRequest *req = (const Csi__V1__CreateVolumeRequest *)req_;
    struct csi_volume *v = NULL;
    uint64_t required, limit, cap = 0;
    char key[LOCK_KEY_MAX];
    int rc;

    rc = csi_validate_name("name", req->name, err, errlen);
    if (rc == 0)
        rc = read_range(req->capacity_range, &required, &limit, err, errlen);
    if (rc == 0)
        rc = check_capabilities(req->volume_capabilities, req->n_volume_capabilities, err, errlen);
    if (rc == 0 && req->volume_content_source) {
        snprintf(err, errlen, "volume_content_source is not supported (no snapshots or clones)");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = OPEN_FROM_SECRETS(req, &v, err, errlen);
    if (rc)
        return rc;
    snprintf(key, sizeof(key), "vol:%s", req->name);
    rc = csi_inflight_acquire(&p->inflight, key);
    if (rc == 0) {
        rc = create_locked(v, req->name, required, limit, &cap, err, errlen);
        csi_inflight_release(&p->inflight, key);
    } else {
        snprintf(err, errlen, "an operation on volume %s is already in progress", req->name);
    }
    csi_volume_close(v);
    return rc ? rc : create_response(a, req->name, cap, resp);
}

int csi_controller_delete_volume(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    const Csi__V1__DeleteVolumeRequest *req = (const Csi__V1__DeleteVolumeRequest *)req_;
    Csi__V1__DeleteVolumeResponse *r = CSI_NEW(a, Csi__V1__DeleteVolumeResponse, csi__v1__delete_volume_response__init);
    struct csi_volume *v = NULL;
    char key[LOCK_KEY_MAX];
    int rc;

    if (!r)
        return -ENOMEM;
    rc = csi_validate_name("volume_id", req->volume_id, err, errlen);
    if (rc == 0)
        rc = OPEN_FROM_SECRETS(req, &v, err, errlen);
    if (rc)
        return rc;
    snprintf(key, sizeof(key), "vol:%s", req->volume_id);
    rc = csi_inflight_acquire(&p->inflight, key);
    if (rc == 0) {
        rc = csi_volume_rmtree(v, req->volume_id);
        if (rc == 0)
            rc = csi_volume_quota_clear(v, req->volume_id);
        if (rc)
            snprintf(err, errlen, "cannot delete volume %s: %s", req->volume_id, strerror(-rc));
        csi_inflight_release(&p->inflight, key);
    } else {
        snprintf(err, errlen, "an operation on volume %s is already in progress", req->volume_id);
    }
    csi_volume_close(v);
    *resp = &r->base;
    return rc;
}

static int volume_must_exist(struct csi_volume *v, const char *id, char *err, size_t errlen)
{
    int rc = csi_volume_dir_exists(v, id);

    if (rc == -ENOENT || rc == -ENOTDIR) {
        snprintf(err, errlen, "volume %s does not exist", id);
        return -ENOENT;
    }
    if (rc)
        snprintf(err, errlen, "cannot look up volume %s: %s", id, strerror(-rc));
    return rc;
}

int csi_controller_validate_volume_capabilities(void *arg, const ProtobufCMessage *req_, struct csi_arena *a,
                                                ProtobufCMessage **resp, char *err, size_t errlen)
{
    const Csi__V1__ValidateVolumeCapabilitiesRequest *req = (const Csi__V1__ValidateVolumeCapabilitiesRequest *)req_;
    Csi__V1__ValidateVolumeCapabilitiesResponse *r =
        CSI_NEW(a, Csi__V1__ValidateVolumeCapabilitiesResponse, csi__v1__validate_volume_capabilities_response__init);
    Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed *c = CSI_NEW(
        a, Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed,
        csi__v1__validate_volume_capabilities_response__confirmed__init);
    struct csi_volume *v = NULL;
    char why[256];
    int rc;

    (void)arg;
    if (!r || !c)
        return -ENOMEM;
    rc = csi_validate_name("volume_id", req->volume_id, err, errlen);
    if (rc == 0 && req->n_volume_capabilities == 0) {
        snprintf(err, errlen, "volume_capabilities are required");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = OPEN_FROM_SECRETS(req, &v, err, errlen);
    if (rc == 0)
        rc = volume_must_exist(v, req->volume_id, err, errlen);
    csi_volume_close(v);
    if (rc)
        return rc;
    if (check_capabilities(req->volume_capabilities, req->n_volume_capabilities, why, sizeof(why)) != 0) {
        r->message = csi_arena_strdup(a, why);
    } else {
        /* the response is packed before the request is freed: share it */
        c->n_volume_capabilities = req->n_volume_capabilities;
        c->volume_capabilities = req->volume_capabilities;
        c->n_volume_context = req->n_volume_context;
        c->volume_context = (Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__VolumeContextEntry **)
                                req->volume_context;
        c->n_parameters = req->n_parameters;
        c->parameters = (Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__ParametersEntry **)req->parameters;
        r->confirmed = c;
    }
    *resp = &r->base;
    return r->message || r->confirmed ? 0 : -ENOMEM;
}

int csi_controller_get_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a,
                                    ProtobufCMessage **resp, char *err, size_t errlen)
{
    static const Csi__V1__ControllerServiceCapability__RPC__Type types[] = {
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
    };
    const size_t n = sizeof(types) / sizeof(types[0]);
    Csi__V1__ControllerGetCapabilitiesResponse *r =
        CSI_NEW(a, Csi__V1__ControllerGetCapabilitiesResponse, csi__v1__controller_get_capabilities_response__init);
    Csi__V1__ControllerServiceCapability **caps = csi_arena_alloc(a, n * sizeof(*caps));

    (void)arg, (void)req, (void)err, (void)errlen;
    if (!r || !caps)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Csi__V1__ControllerServiceCapability *c =
            CSI_NEW(a, Csi__V1__ControllerServiceCapability, csi__v1__controller_service_capability__init);
        Csi__V1__ControllerServiceCapability__RPC *rpc =
            CSI_NEW(a, Csi__V1__ControllerServiceCapability__RPC, csi__v1__controller_service_capability__rpc__init);

        if (!c || !rpc)
            return -ENOMEM;
        rpc->type = types[i];
        c->type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
        c->rpc = rpc;
        caps[i] = c;
    }
    r->n_capabilities = n;
    r->capabilities = caps;
    *resp = &r->base;
    return 0;
}

/* Raises the recorded capacity to the request; never lowers it, and an
 * unlimited PV stays unlimited. */
static int expand_locked(struct csi_volume *v, const char *id, uint64_t required, uint64_t limit, uint64_t *cap,
                         char *err, size_t errlen)
{
    uint64_t want = required ? required : limit;
    int rc = volume_must_exist(v, id, err, errlen);

    if (rc)
        return rc;
    rc = csi_volume_quota_get(v, id, cap);
    if (rc == -ENOENT) {
        *cap = 0;
        rc = 0;
    }
    if (rc == 0 && *cap != 0 && want > *cap) {
        rc = csi_volume_quota_set(v, id, want);
        if (rc == 0)
            *cap = want;
    }
    if (rc) {
        snprintf(err, errlen, "cannot change the capacity of %s: %s", id, strerror(-rc));
        return rc;
    }
    if (!range_accepts(*cap, required, limit)) {
        snprintf(err, errlen, "volume %s has %llu bytes and cannot shrink", id, (unsigned long long)*cap);
        return -ERANGE;
    }
    return 0;
}

int csi_controller_expand_volume(void *arg, const ProtobufCMessage *req_, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen)
{
    struct csi_plugin *p = arg;
    const Csi__V1__ControllerExpandVolumeRequest *req = (const Csi__V1__ControllerExpandVolumeRequest *)req_;
    Csi__V1__ControllerExpandVolumeResponse *r =
        CSI_NEW(a, Csi__V1__ControllerExpandVolumeResponse, csi__v1__controller_expand_volume_response__init);
    struct csi_volume *v = NULL;
    uint64_t required, limit, cap = 0;
    char key[LOCK_KEY_MAX];
    int rc;

    if (!r)
        return -ENOMEM;
    rc = csi_validate_name("volume_id", req->volume_id, err, errlen);
    if (rc == 0 && !req->capacity_range) {
        snprintf(err, errlen, "capacity_range is required");
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = read_range(req->capacity_range, &required, &limit, err, errlen);
    if (rc == 0 && req->volume_capability)
        rc = csi_check_capability(req->volume_capability, err, errlen);
    if (rc == 0)
        rc = OPEN_FROM_SECRETS(req, &v, err, errlen);
    if (rc)
        return rc;
    snprintf(key, sizeof(key), "vol:%s", req->volume_id);
    rc = csi_inflight_acquire(&p->inflight, key);
    if (rc == 0) {
        rc = expand_locked(v, req->volume_id, required, limit, &cap, err, errlen);
        csi_inflight_release(&p->inflight, key);
    } else {
        snprintf(err, errlen, "an operation on volume %s is already in progress", req->volume_id);
    }
    csi_volume_close(v);
    r->capacity_bytes = (int64_t)cap;
    r->node_expansion_required = 0;
    *resp = &r->base;
    return rc;
}
