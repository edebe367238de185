/* SPDX-License-Identifier: Apache-2.0
 *
 * The CSI plugin: its configuration, the method tables of the Identity,
 * Controller and Node services for csi_server, and the helpers the three
 * services share (map lookups, capability checks, per-volume operation
 * locks, the node's record of what it published where).
 */
#ifndef TIDEFS_CSI_PLUGIN_H
#define TIDEFS_CSI_PLUGIN_H

#include "csi.pb-c.h"
#include "csi_mounter.h"
#include "csi_server.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#define CSI_DRIVER_NAME "csi.tidefs.io"
#define CSI_CTX_SUBPATH "subPath" /* volume_context key: directory in the volume */
#define CSI_SECRET_METAURL "metaurl"
#define CSI_SECRET_NAME "name"
#define CSI_SECRET_ACCESS_KEY "access-key"
#define CSI_SECRET_SECRET_KEY "secret-key"

enum { CSI_MODE_CONTROLLER = 1, CSI_MODE_NODE = 2, CSI_MODE_ALL = 3 };

/* Names of operations in progress, so that a second call on the same
 * volume or target answers ABORTED instead of racing the first. */
struct csi_inflight {
    pthread_mutex_t mu;
    char **keys; /* owned */
    size_t n, cap;
};

struct csi_plugin {
    int mode;                  /* CSI_MODE_* */
    const char *node_id;       /* borrowed */
    const char *kubelet_dir;   /* borrowed; absolute, no trailing '/' */
    const char *tidefs_bin;    /* borrowed */
    char state_dir[PATH_MAX];  /* node: one record per published target */
    struct csi_mounter *mounter; /* owned, node mode only */
    struct csi_inflight inflight;
};

/* Fills out[] (room for max) with the methods served in p->mode; returns
 * how many. */
size_t csi_plugin_methods(int mode, struct csi_method *out, size_t max);

/* ---- shared helpers (csi_common.c) ---- */

/* value of `key` in a protobuf-c map (the last one wins), or NULL */
const char *csi_map_get(ProtobufCMessage *const *entries, size_t n, const char *key);
#define CSI_MAP_GET(msg, field, key) csi_map_get((ProtobufCMessage *const *)(msg)->field, (msg)->n_##field, (key))

/* A capability we serve: a mount volume (not block) with a known access
 * mode and no mount flags other than "ro"/"rw". -EINVAL with a reason. */
int csi_check_capability(const Csi__V1__VolumeCapability *cap, char *err, size_t errlen);

void csi_inflight_init(struct csi_inflight *f);
void csi_inflight_destroy(struct csi_inflight *f);
/* 0, or -EALREADY when key is held; -ENOMEM */
int csi_inflight_acquire(struct csi_inflight *f, const char *key);
void csi_inflight_release(struct csi_inflight *f, const char *key);

/* ---- handlers: (struct csi_plugin *) as arg ---- */

int csi_identity_get_plugin_info(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen);
int csi_identity_get_plugin_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a,
                                         ProtobufCMessage **resp, char *err, size_t errlen);
int csi_identity_probe(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp, char *err,
                       size_t errlen);

int csi_controller_create_volume(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen);
int csi_controller_delete_volume(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen);
int csi_controller_validate_volume_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a,
                                                ProtobufCMessage **resp, char *err, size_t errlen);
int csi_controller_get_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a,
                                    ProtobufCMessage **resp, char *err, size_t errlen);
int csi_controller_expand_volume(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                                 char *err, size_t errlen);

int csi_node_publish_volume(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                            char *err, size_t errlen);
int csi_node_unpublish_volume(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen);
int csi_node_get_volume_stats(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen);
int csi_node_get_capabilities(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp,
                              char *err, size_t errlen);
int csi_node_get_info(void *arg, const ProtobufCMessage *req, struct csi_arena *a, ProtobufCMessage **resp, char *err,
                      size_t errlen);

#endif
