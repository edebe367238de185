/* SPDX-License-Identifier: Apache-2.0
 *
 * Hand-off messages <-> JSON. The JSON is the message minus its fd:
 *
 *   {"v":1, "type":"fuse-fd"|"serving", "volume":"...", "mountpoint":"...",
 *    "max_read":N, "generation":N, "pid":N, "init":{...}, "settings":{...}}
 *
 * Only v, type and volume are required. Unknown keys are ignored so a newer
 * keeper can talk to an older daemon during an upgrade; a different "v" is
 * refused. Decoding is strict about everything it reads: duplicate keys,
 * trailing bytes, NUL in strings, wrong types and out-of-range numbers all
 * make the message bad.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_i.h"

void handoff_msg_init(struct handoff_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->fd = -1;
}

void handoff_msg_clear(struct handoff_msg *msg)
{
    if (!msg)
        return;
    if (msg->fd >= 0)
        close(msg->fd);
    json_decref(msg->settings);
    handoff_msg_init(msg);
}

void handoff_err_set(struct handoff_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

static const char *type_name(enum handoff_msg_type t)
{
    switch (t) {
    case HANDOFF_MSG_FUSE_FD:
        return "fuse-fd";
    case HANDOFF_MSG_SERVING:
        return "serving";
    default:
        return NULL;
    }
}

static int set_optional(json_t *obj, const char *key, json_t *value, bool present)
{
    if (!present) {
        json_decref(value);
        return 0;
    }
    return json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static json_t *msg_to_json(const struct handoff_msg *msg)
{
    json_t *obj = json_object();
    int rc = obj ? 0 : -ENOMEM;
    if (rc == 0)
        rc = json_object_set_new(obj, "v", json_integer(HANDOFF_VERSION)) ? -ENOMEM : 0;
    if (rc == 0)
        rc = json_object_set_new(obj, "type", json_string(type_name(msg->type))) ? -ENOMEM : 0;
    if (rc == 0)
        rc = json_object_set_new(obj, "volume", json_string(msg->volume)) ? -ENOMEM : 0;
    if (rc == 0)
        rc = set_optional(obj, "mountpoint", json_string(msg->mountpoint), msg->mountpoint[0] != '\0');
    if (rc == 0)
        rc = set_optional(obj, "max_read", json_integer(msg->max_read), msg->max_read != 0);
    if (rc == 0)
        rc = set_optional(obj, "generation", json_integer(msg->generation), msg->generation != 0);
    if (rc == 0)
        rc = set_optional(obj, "pid", json_integer(msg->pid), msg->pid != 0);
    if (rc == 0 && msg->has_init)
        rc = set_optional(obj, "init", handoff_init_to_json(&msg->init), true);
    if (rc == 0 && msg->settings)
        rc = json_object_set(obj, "settings", msg->settings) ? -ENOMEM : 0;
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int check_msg(const struct handoff_msg *msg, struct handoff_err *err)
{
    if (!type_name(msg->type)) {
        handoff_err_set(err, "message type %d is not a known type", (int)msg->type);
        return -EINVAL;
    }
    size_t n = strnlen(msg->volume, sizeof(msg->volume));
    if (n == 0 || n > HANDOFF_VOLUME_MAX || !printable(msg->volume)) {
        handoff_err_set(err, "volume name must be 1..%d printable bytes", HANDOFF_VOLUME_MAX);
        return -EINVAL;
    }
    return 0;
}

int handoff_msg_encode(const struct handoff_msg *msg, char **out, size_t *out_len, struct handoff_err *err)
{
    int rc = check_msg(msg, err);
    if (rc != 0)
        return rc;
    json_t *obj = msg_to_json(msg);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(obj);
    if (!text) {
        handoff_err_set(err, "out of memory encoding a hand-off message");
        return -ENOMEM;
    }
    size_t len = strlen(text);
    if (len > HANDOFF_MSG_MAX) {
        handoff_err_set(err, "hand-off message is %zu bytes, over the %d byte cap", len, HANDOFF_MSG_MAX);
        free(text);
        return -EMSGSIZE;
    }
    *out = text;
    *out_len = len;
    return 0;
}

/* ---- decoding: one small function per field kind ---- */

static int get_string(const json_t *root, const char *key, bool required, char *dst, size_t cap,
                      struct handoff_err *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
        !printable(json_string_value(v))) {
        handoff_err_set(err, "field \"%s\" must be a string of 1..%zu printable bytes", key, cap - 1);
        return -EBADMSG;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_uint(const json_t *root, const char *key, json_int_t max, json_int_t *dst, struct handoff_err *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        handoff_err_set(err, "field \"%s\" must be an integer in 0..%lld", key, (long long)max);
        return -EBADMSG;
    }
    *dst = json_integer_value(v);
    return 0;
}

static int get_type(const json_t *root, enum handoff_msg_type *type, struct handoff_err *err)
{
    const json_t *ver = json_object_get(root, "v");
    if (!json_is_integer(ver) || json_integer_value(ver) != HANDOFF_VERSION) {
        handoff_err_set(err, "field \"v\" must be %d (protocol version)", HANDOFF_VERSION);
        return -EBADMSG;
    }
    const char *t = json_string_value(json_object_get(root, "type"));
    if (t && strcmp(t, "fuse-fd") == 0)
        *type = HANDOFF_MSG_FUSE_FD;
    else if (t && strcmp(t, "serving") == 0)
        *type = HANDOFF_MSG_SERVING;
    else {
        handoff_err_set(err, "field \"type\" must be \"fuse-fd\" or \"serving\"");
        return -EBADMSG;
    }
    return 0;
}

static int get_objects(const json_t *root, struct handoff_msg *msg, struct handoff_err *err)
{
    const json_t *init = json_object_get(root, "init");
    if (init) {
        char why[200];
        if (handoff_init_from_json(init, &msg->init, why, sizeof(why)) != 0) {
            handoff_err_set(err, "%s", why);
            return -EBADMSG;
        }
        msg->has_init = true;
    }
    json_t *settings = json_object_get(root, "settings");
    if (settings) {
        if (!json_is_object(settings)) {
            handoff_err_set(err, "field \"settings\" must be an object");
            return -EBADMSG;
        }
        msg->settings = json_incref(settings);
    }
    return 0;
}

static int msg_from_json(const json_t *root, struct handoff_msg *msg, struct handoff_err *err)
{
    json_int_t max_read = 0, generation = 0, pid = 0;
    if (!json_is_object(root)) {
        handoff_err_set(err, "message is not a JSON object");
        return -EBADMSG;
    }
    int rc = get_type(root, &msg->type, err);
    if (rc == 0)
        rc = get_string(root, "volume", true, msg->volume, sizeof(msg->volume), err);
    if (rc == 0)
        rc = get_string(root, "mountpoint", false, msg->mountpoint, sizeof(msg->mountpoint), err);
    if (rc == 0)
        rc = get_uint(root, "max_read", UINT32_MAX, &max_read, err);
    if (rc == 0)
        rc = get_uint(root, "generation", UINT32_MAX, &generation, err);
    if (rc == 0)
        rc = get_uint(root, "pid", INT32_MAX, &pid, err);
    if (rc == 0)
        rc = get_objects(root, msg, err);
    msg->max_read = (uint32_t)max_read;
    msg->generation = (uint32_t)generation;
    msg->pid = (int32_t)pid;
    return rc;
}

int handoff_msg_decode(const char *text, size_t len, struct handoff_msg *msg, struct handoff_err *err)
{
    json_error_t jerr;
    int fd = msg->fd;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        handoff_err_set(err, "bad JSON at byte %d: %s", jerr.position, jerr.text);
        return -EBADMSG;
    }
    msg->fd = -1;
    handoff_msg_clear(msg);
    int rc = msg_from_json(root, msg, err);
    json_decref(root);
    if (rc != 0)
        handoff_msg_clear(msg);
    msg->fd = fd;
    return rc;
}
