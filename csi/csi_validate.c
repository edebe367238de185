/* SPDX-License-Identifier: Apache-2.0
 *
 * Validation of names, sub-paths, target paths and raw request strings.
 * Why so strict: volume ids and sub-paths become directory names in the
 * volume and arguments of the daemon, and target paths become mount
 * points; CVE-2020-8568, CVE-2026-3864/3865 and csi-driver-host-path#644
 * were all path traversal through exactly these fields.
 */
#include "csi_validate.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WIRE_MAX_DEPTH 32

static int fail(char *err, size_t errlen, const char *what, const char *why)
{
    snprintf(err, errlen, "%s %s", what, why);
    return -EINVAL;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* one component of a name or sub-path, n bytes at s */
static int check_component(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return fail(err, errlen, what, "has an empty path component");
    if (s[0] == '-')
        return fail(err, errlen, what, "may not start with '-'");
    if (s[0] == '.')
        return fail(err, errlen, what, "may not start with '.'");
    if (memmem(s, n, "..", 2))
        return fail(err, errlen, what, "may not contain '..'");
    if (has_control(s, n))
        return fail(err, errlen, what, "may not contain control characters");
    return 0;
}

int csi_validate_name(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);

    if (n == 0)
        return fail(err, errlen, what, "is required");
    if (n > CSI_NAME_MAX)
        return fail(err, errlen, what, "is longer than 128 bytes");
    if (strchr(s, '/'))
        return fail(err, errlen, what, "may not contain '/'");
    return check_component(what, s, n, err, errlen);
}

int csi_validate_subpath(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);

    if (n == 0)
        return fail(err, errlen, what, "is empty");
    if (n > CSI_NAME_MAX)
        return fail(err, errlen, what, "is longer than 128 bytes");
    if (s[0] != '/')
        return fail(err, errlen, what, "must start with '/'");
    if (n == 1)
        return 0;
    for (const char *p = s + 1;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        int rc = check_component(what, p, len, err, errlen);

        if (rc)
            return rc;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

int csi_validate_target(const char *what, const char *prefix, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path), plen = strlen(prefix);

    if (n == 0)
        return fail(err, errlen, what, "is required");
    if (n >= PATH_MAX)
        return fail(err, errlen, what, "is too long");
    if (path[0] != '/')
        return fail(err, errlen, what, "must be an absolute path");
    if (has_control(path, n))
        return fail(err, errlen, what, "may not contain control characters");
    if (n <= plen + 1 || strncmp(path, prefix, plen) != 0 || path[plen] != '/')
        return fail(err, errlen, what, "is outside the kubelet directory");
    for (const char *p = path + 1;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        if (len == 0)
            return fail(err, errlen, what, "has an empty path component");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return fail(err, errlen, what, "may not contain '.' or '..' components");
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

/* ---- raw wire scan ---- */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -EINVAL;
        uint8_t b = *(*p)++;

        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

static int scan(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end, int depth,
                char *err, size_t errlen)
{
    if (depth > WIRE_MAX_DEPTH)
        return fail(err, errlen, "request", "is nested too deeply");
    while (p < end) {
        uint64_t tag, len;

        if (read_varint(&p, end, &tag))
            return fail(err, errlen, "request", "cannot be parsed");
        switch (tag & 7) {
        case 0:
            if (read_varint(&p, end, &len))
                return fail(err, errlen, "request", "cannot be parsed");
            break;
        case 1:
        case 5: {
            size_t w = (tag & 7) == 1 ? 8 : 4;

            if ((size_t)(end - p) < w)
                return fail(err, errlen, "request", "cannot be parsed");
            p += w;
            break;
        }
        case 2: {
            if (read_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return fail(err, errlen, "request", "cannot be parsed");
            const ProtobufCFieldDescriptor *f =
                desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3)) : NULL;

            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, len)) {
                snprintf(err, errlen, "field %s contains a NUL byte", f->name);
                return -EINVAL;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = scan(f->descriptor, p, p + len, depth + 1, err, errlen);

                if (rc)
                    return rc;
            }
            p += len;
            break;
        }
        default:
            return fail(err, errlen, "request", "cannot be parsed");
        }
    }
    return 0;
}

int csi_validate_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *err,
                      size_t errlen)
{
    return scan(desc, data, data + len, 0, err, errlen);
}
