/* SPDX-License-Identifier: Apache-2.0
 *
 * Input validation for everything a CSI client sends that becomes a name,
 * a path or an argument: volume names and ids, sub-paths inside a volume,
 * kubelet target paths, and (before unpacking) every string of a request,
 * which may not carry a NUL byte. Each check returns 0 or -EINVAL with a
 * one-line reason in err that names the field but never echoes its value.
 */
#ifndef TIDEFS_CSI_VALIDATE_H
#define TIDEFS_CSI_VALIDATE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define CSI_NAME_MAX 128 /* names, ids and sub-paths, in bytes */

/* A volume name or id: 1..128 bytes, no '/', no "..", no control
 * character, not starting with '-' or '.'. `what` names the field. */
int csi_validate_name(const char *what, const char *s, char *err, size_t errlen);

/* A directory inside a tidefs volume: "/" or "/a/b" made of components that
 * pass csi_validate_name; at most 128 bytes. */
int csi_validate_subpath(const char *what, const char *s, char *err, size_t errlen);

/* An absolute path below `prefix` (itself absolute, no trailing '/'),
 * without "." or ".." components, empty components or control characters,
 * shorter than PATH_MAX. */
int csi_validate_target(const char *what, const char *prefix, const char *path, char *err, size_t errlen);

/* Walks the serialized message `data` (len bytes) of type `desc` and
 * rejects any string field, at any depth (map keys and values included),
 * that contains a NUL byte: protobuf-c would silently truncate it. Also
 * -EINVAL for malformed wire data. */
int csi_validate_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, char *err,
                      size_t errlen);

#endif
