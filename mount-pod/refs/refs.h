/* SPDX-License-Identifier: Apache-2.0
 *
 * The durable reference store of the mount-pod mounter: for each shared
 * mount (one tidefs volume with one set of settings on this node) a JSON
 * record under the plugin's state directory saying which mount pod serves
 * it, where the shared FUSE mount is, the connection's INIT state, the
 * serving daemon's pid, and which CSI targets (PVs bind-mounted into
 * application pods) use it. A restarted node plugin rebuilds its state from
 * these records.
 *
 * Every save is atomic and durable: write a temporary file, fsync, rename
 * over the record, fsync the directory. A crash leaves either the old or the
 * new record, never a mix; leftover temporary files are removed by
 * refs_open(). Callers serialise changes to one key (the mounter holds a
 * per-key lock); different keys may be saved concurrently.
 */
#ifndef TIDEFS_REFS_H
#define TIDEFS_REFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "handoff/handoff_init.h"

#define REFS_KEY_MAX 64 /* hex digits */
#define REFS_SALT_SIZE 32

struct refs_target {
    char *target;    /* owned: the CSI target path */
    char *volume_id; /* owned */
    char *subdir;    /* owned: directory of the volume bound there */
    bool readonly;
};

struct refs_mount {
    char key[REFS_KEY_MAX + 1]; /* lower-case hex */
    uint32_t generation;        /* how many pods were created for this mount before the current one */
    char pod[64], pod_uid[64], ns[64];
    char source[PATH_MAX]; /* the shared FUSE mount on the node */
    json_t *settings;      /* owned, may be NULL: what the mounter needs to rebuild the pod (no secrets) */
    bool has_init;
    struct handoff_init init;
    int32_t daemon_pid;    /* in the plugin's pid namespace; 0: unknown */
    uint64_t daemon_start; /* its start time (clock ticks after boot), guards against pid reuse */
    struct refs_target *targets; /* owned */
    size_t n_targets;
};

void refs_mount_init(struct refs_mount *m);
void refs_mount_clear(struct refs_mount *m); /* frees and re-initialises */

/* Creates dir (mode 0700) when missing and removes temporary files a crash
 * left behind. */
int refs_open(const char *dir);

/* Atomic, durable write of m's record. -EINVAL for a bad key. */
int refs_save(const char *dir, const struct refs_mount *m);
/* Reads key's record into m (initialised by the caller; cleared first).
 * -ENOENT when there is none; -EBADMSG (why filled) when it is damaged. */
int refs_load(const char *dir, const char *key, struct refs_mount *m, char *why, size_t whylen);
/* Removes key's record durably; 0 when there was none. */
int refs_remove(const char *dir, const char *key);
/* Keys of every record (sorted); *keys: free each and the array. */
int refs_list(const char *dir, char ***keys, size_t *n);

/* Index of target in m->targets, or -1. */
int refs_find_target(const struct refs_mount *m, const char *target);
/* Adds a target (copies the strings); -EEXIST when target is there. */
int refs_add_target(struct refs_mount *m, const char *target, const char *volume_id, const char *subdir,
                    bool readonly);
/* Removes a target; false when it was not there. */
bool refs_remove_target(struct refs_mount *m, const char *target);

/* The node's secret salt for naming mounts (hashes of volumes' META-URLs
 * must not let anyone who can list pods guess a password): created once,
 * 0600, kept for the node's life. */
int refs_salt(const char *dir, uint8_t salt[REFS_SALT_SIZE]);

#endif
