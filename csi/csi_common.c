/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the Identity, Controller and Node services, and the
 * table that binds gRPC paths to handlers.
 */
#include "csi_plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *csi_map_get(ProtobufCMessage *const *entries, size_t n, const char *key)
{
    const char *found = NULL;

    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = entries[i]->descriptor;
        const char *k = *(char *const *)((const char *)entries[i] + d->fields[0].offset);

        if (k && strcmp(k, key) == 0)
            found = *(char *const *)((const char *)entries[i] + d->fields[1].offset);
    }
    return found;
}

int csi_check_capability(const Csi__V1__VolumeCapability *cap, char *err, size_t errlen)
{
    if (!cap) {
        snprintf(err, errlen, "volume capability is required");
        return -EINVAL;
    }
    if (cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK) {
        snprintf(err, errlen, "block volumes are not supported: tidefs is a filesystem");
        return -EINVAL;
    }
    if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT) {
        snprintf(err, errlen, "volume capability has no access type");
        return -EINVAL;
    }
    if (!cap->access_mode || cap->access_mode->mode <= CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN ||
        cap->access_mode->mode > CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER) {
        snprintf(err, errlen, "volume capability has no known access mode");
        return -EINVAL;
    }
    /* flags would become daemon arguments: accept only the two whose
     * meaning we implement ourselves */
    for (size_t i = 0; i < cap->mount->n_mount_flags; i++) {
        const char *f = cap->mount->mount_flags[i];

        if (strcmp(f, "ro") != 0 && strcmp(f, "rw") != 0) {
            snprintf(err, errlen, "mount flag %zu is not supported (only ro and rw are)", i + 1);
            return -EINVAL;
        }
    }
    return 0;
}

void csi_inflight_init(struct csi_inflight *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
}

void csi_inflight_destroy(struct csi_inflight *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->keys[i]);
    free(f->keys);
    pthread_mutex_destroy(&f->mu);
}

int csi_inflight_acquire(struct csi_inflight *f, const char *key)
{
    int rc = 0;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && rc == 0; i++)
        if (strcmp(f->keys[i], key) == 0)
            rc = -EALREADY;
    if (rc == 0 && f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        char **k = realloc(f->keys, ncap * sizeof(*k));

        if (k) {
            f->keys = k;
            f->cap = ncap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        f->keys[f->n] = strdup(key);
        rc = f->keys[f->n] ? 0 : -ENOMEM;
        if (rc == 0)
            f->n++;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void csi_inflight_release(struct csi_inflight *f, const char *key)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->keys[i], key) == 0) {
            free(f->keys[i]);
            f->keys[i] = f->keys[--f->n];
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

#define METHOD(svc, rpc, msg, fn) {"/csi.v1." svc "/" rpc, &csi__v1__##msg##__descriptor, fn}

static const struct csi_method identity_methods[] = {
    METHOD("Identity", "GetPluginInfo", get_plugin_info_request, csi_identity_get_plugin_info),
    METHOD("Identity", "GetPluginCapabilities", get_plugin_capabilities_request, csi_identity_get_plugin_capabilities),
    METHOD("Identity", "Probe", probe_request, csi_identity_probe),
};

static const struct csi_method controller_methods[] = {
    METHOD("Controller", "CreateVolume", create_volume_request, csi_controller_create_volume),
    METHOD("Controller", "DeleteVolume", delete_volume_request, csi_controller_delete_volume),
    METHOD("Controller", "ValidateVolumeCapabilities", validate_volume_capabilities_request,
           csi_controller_validate_volume_capabilities),
    METHOD("Controller", "ControllerGetCapabilities", controller_get_capabilities_request,
           csi_controller_get_capabilities),
    METHOD("Controller", "ControllerExpandVolume", controller_expand_volume_request, csi_controller_expand_volume),
};

static const struct csi_method node_methods[] = {
    METHOD("Node", "NodePublishVolume", node_publish_volume_request, csi_node_publish_volume),
    METHOD("Node", "NodeUnpublishVolume", node_unpublish_volume_request, csi_node_unpublish_volume),
    METHOD("Node", "NodeGetVolumeStats", node_get_volume_stats_request, csi_node_get_volume_stats),
    METHOD("Node", "NodeGetCapabilities", node_get_capabilities_request, csi_node_get_capabilities),
    METHOD("Node", "NodeGetInfo", node_get_info_request, csi_node_get_info),
};

static size_t add_methods(struct csi_method *out, size_t n, size_t max, const struct csi_method *m, size_t count)
{
    for (size_t i = 0; i < count && n < max; i++)
        out[n++] = m[i];
    return n;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t csi_plugin_methods(int mode, struct csi_method *out, size_t max)
{
    size_t n = add_methods(out, 0, max, identity_methods, COUNT(identity_methods));

    if (mode & CSI_MODE_CONTROLLER)
        n = add_methods(out, n, max, controller_methods, COUNT(controller_methods));
    if (mode & CSI_MODE_NODE)
        n = add_methods(out, n, max, node_methods, COUNT(node_methods));
    return n;
}
