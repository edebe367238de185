/* SPDX-License-Identifier: Apache-2.0
 *
 * The CSI Identity service: who we are, what we offer, whether we can work.
 */
#include "csi_plugin.h"

#include "meta/meta.h"

#include <errno.h>
#include <unistd.h>

#ifndef TIDEFS_VERSION
#define TIDEFS_VERSION "0.0.0"
#endif
#ifndef TIDEFS_GITREV
#define TIDEFS_GITREV "unknown"
#endif

int csi_identity_get_plugin_info(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen)
{
    Csi__V1__GetPluginInfoResponse *r = CSI_NEW(a, Csi__V1__GetPluginInfoResponse, csi__v1__get_plugin_info_response__init);
    Csi__V1__GetPluginInfoResponse__ManifestEntry *e =
        CSI_NEW(a, Csi__V1__GetPluginInfoResponse__ManifestEntry, csi__v1__get_plugin_info_response__manifest_entry__init);
    Csi__V1__GetPluginInfoResponse__ManifestEntry **list = csi_arena_alloc(a, sizeof(*list));

    (void)arg, (void)req, (void)err, (void)errlen;
    if (!r || !e || !list)
        return -ENOMEM;
    r->name = (char *)CSI_DRIVER_NAME;
    r->vendor_version = (char *)TIDEFS_VERSION;
    e->key = (char *)"gitrev";
    e->value = (char *)TIDEFS_GITREV;
    list[0] = e;
    r->n_manifest = 1;
    r->manifest = list;
    *resp = &r->base;
    return 0;
}

int csi_identity_get_plugin_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a,
                                         ProtobufCMessage **resp, char *err, size_t errlen)
{
    const struct csi_plugin *p = arg;
    Csi__V1__GetPluginCapabilitiesResponse *r =
        CSI_NEW(a, Csi__V1__GetPluginCapabilitiesResponse, csi__v1__get_plugin_capabilities_response__init);
    Csi__V1__PluginCapability **caps = csi_arena_alloc(a, 2 * sizeof(*caps));
    Csi__V1__PluginCapability *svc = CSI_NEW(a, Csi__V1__PluginCapability, csi__v1__plugin_capability__init);
    Csi__V1__PluginCapability *exp = CSI_NEW(a, Csi__V1__PluginCapability, csi__v1__plugin_capability__init);
    Csi__V1__PluginCapability__Service *s =
        CSI_NEW(a, Csi__V1__PluginCapability__Service, csi__v1__plugin_capability__service__init);
    Csi__V1__PluginCapability__VolumeExpansion *x =
        CSI_NEW(a, Csi__V1__PluginCapability__VolumeExpansion, csi__v1__plugin_capability__volume_expansion__init);

    (void)req, (void)err, (void)errlen;
    if (!r || !caps || !svc || !exp || !s || !x)
        return -ENOMEM;
    r->capabilities = caps;
    if (p->mode & CSI_MODE_CONTROLLER) {
        s->type = CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE;
        svc->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
        svc->service = s;
        /* a capacity is a quota: raising it needs nothing on the node */
        x->type = CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
        exp->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
        exp->volume_expansion = x;
        caps[r->n_capabilities++] = svc;
        caps[r->n_capabilities++] = exp;
    }
    *resp = &r->base;
    return 0;
}

/* Ready when this plugin can do its work: the controller needs a metadata
 * engine compiled in; the node also needs the daemon binary and /dev/fuse. */
static bool plugin_ready(const struct csi_plugin *p)
{
    if ((p->mode & CSI_MODE_CONTROLLER) && !meta_engine_for_url("sqlite3:///probe"))
        return false;
    if (p->mode & CSI_MODE_NODE)
        return access(p->tidefs_bin, X_OK) == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
    return true;
}

int csi_identity_probe(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp, char *err,
                       size_t errlen)
{
    Csi__V1__ProbeResponse *r = CSI_NEW(a, Csi__V1__ProbeResponse, csi__v1__probe_response__init);
    Google__Protobuf__BoolValue *ready = CSI_NEW(a, Google__Protobuf__BoolValue, google__protobuf__bool_value__init);

    (void)req, (void)err, (void)errlen;
    if (!r || !ready)
        return -ENOMEM;
    ready->value = plugin_ready(arg);
    r->ready = ready;
    *resp = &r->base;
    return 0;
}
