/* SPDX-License-Identifier: Apache-2.0
 *
 * A volume's format settings: defaults, JSON (de)serialisation with jansson,
 * and validation with one-line reasons. JSON keys are the struct's field
 * names; unknown keys are ignored so that older binaries can read newer
 * formats' additions, absent keys keep their defaults.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/format.h"

#define FORMAT_MASK "****"

/* An RFC 4122 version 4 uuid from /dev/urandom; "" when it cannot be read
 * (format_validate then refuses the format). */
static void format_new_uuid(char out[37])
{
    unsigned char b[16];
    out[0] = '\0';
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    if (n != (ssize_t)sizeof(b))
        return;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void defaults_no_uuid(struct format *f)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->storage, "file");
    strcpy(f->compress, "none");
    f->block_size = 4U << 20;
    f->trash_days = 0;
    f->version = FORMAT_VERSION;
}

void format_init_defaults(struct format *f)
{
    defaults_no_uuid(f);
    format_new_uuid(f->uuid);
}

void format_clear(struct format *f)
{
    if (!f)
        return;
    free(f->bucket);
    free(f->access_key);
    free(f->secret_key);
    free(f->session_token);
    free(f->region);
    f->bucket = f->access_key = f->secret_key = f->session_token = f->region = NULL;
}

/* --- to JSON ---------------------------------------------------------- */

static int set_str(json_t *o, const char *key, const char *v, bool secret, bool masked)
{
    if (!v)
        return 0;
    return json_object_set_new(o, key, json_string(secret && masked ? FORMAT_MASK : v));
}

char *format_to_json(const struct format *f, bool masked)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = set_str(o, "name", f->name, false, masked);
    rc |= set_str(o, "uuid", f->uuid, false, masked);
    rc |= set_str(o, "storage", f->storage, false, masked);
    rc |= set_str(o, "bucket", f->bucket, false, masked);
    rc |= set_str(o, "access_key", f->access_key, false, masked);
    rc |= set_str(o, "secret_key", f->secret_key, true, masked);
    rc |= set_str(o, "session_token", f->session_token, true, masked);
    rc |= set_str(o, "region", f->region, false, masked);
    rc |= json_object_set_new(o, "block_size", json_integer(f->block_size));
    rc |= set_str(o, "compress", f->compress, false, masked);
    rc |= json_object_set_new(o, "trash_days", json_integer(f->trash_days));
    rc |= json_object_set_new(o, "capacity", json_integer((json_int_t)f->capacity));
    rc |= json_object_set_new(o, "inodes", json_integer((json_int_t)f->inodes));
    rc |= json_object_set_new(o, "version", json_integer(f->version));
    char *out = rc ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}

/* --- from JSON -------------------------------------------------------- */

/* A string member into a fixed buffer: absent keeps it, too long or not a
 * string is -EINVAL. */
static int get_fixed(json_t *o, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= size)
        return -EINVAL;
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_dup(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    *out = strdup(json_string_value(v));
    return *out ? 0 : -ENOMEM;
}

/* An integer member within [min, max]; absent keeps *out. */
static int get_int(json_t *o, const char *key, json_int_t min, json_int_t max, json_int_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return -EINVAL;
    *out = json_integer_value(v);
    return 0;
}

static int get_numbers(json_t *o, struct format *f)
{
    json_int_t bs = f->block_size, trash = f->trash_days, cap = 0, inodes = 0, ver = f->version;
    int rc = get_int(o, "block_size", 0, UINT32_MAX, &bs);
    if (rc == 0)
        rc = get_int(o, "trash_days", 0, 1000000, &trash);
    if (rc == 0)
        rc = get_int(o, "capacity", 0, INT64_MAX, &cap);
    if (rc == 0)
        rc = get_int(o, "inodes", 0, INT64_MAX, &inodes);
    if (rc == 0)
        rc = get_int(o, "version", 0, 1000000, &ver);
    f->block_size = (uint32_t)bs;
    f->trash_days = (int)trash;
    f->capacity = (uint64_t)cap;
    f->inodes = (uint64_t)inodes;
    f->version = (int)ver;
    return rc;
}

int format_from_json(const char *json, struct format *f)
{
    defaults_no_uuid(f);
    json_t *o = json ? json_loads(json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return -EINVAL;
    }
    int rc = get_fixed(o, "name", f->name, sizeof(f->name));
    if (rc == 0)
        rc = get_fixed(o, "uuid", f->uuid, sizeof(f->uuid));
    if (rc == 0)
        rc = get_fixed(o, "storage", f->storage, sizeof(f->storage));
    if (rc == 0)
        rc = get_fixed(o, "compress", f->compress, sizeof(f->compress));
    if (rc == 0)
        rc = get_dup(o, "bucket", &f->bucket);
    if (rc == 0)
        rc = get_dup(o, "access_key", &f->access_key);
    if (rc == 0)
        rc = get_dup(o, "secret_key", &f->secret_key);
    if (rc == 0)
        rc = get_dup(o, "session_token", &f->session_token);
    if (rc == 0)
        rc = get_dup(o, "region", &f->region);
    if (rc == 0)
        rc = get_numbers(o, f);
    json_decref(o);
    if (rc)
        format_clear(f);
    return rc;
}

/* --- validation ------------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > FORMAT_NAME_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool valid_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || !s[i])
            return false;
    }
    return true;
}

static bool valid_block_size(uint32_t bs)
{
    return bs >= (64U << 10) && bs <= (16U << 20) && (bs & (bs - 1)) == 0;
}

static int reject(char *err, size_t errlen, const char *fmt, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, what);
    return -EINVAL;
}

int format_validate(const struct format *f, char *err, size_t errlen)
{
    if (!valid_name(f->name))
        return reject(err, errlen, "invalid volume name \"%s\": use 3 to 63 of a-z, 0-9 and -", f->name);
    if (!valid_uuid(f->uuid))
        return reject(err, errlen, "invalid uuid \"%s\"", f->uuid);
    if (strcmp(f->storage, "file") != 0 && strcmp(f->storage, "s3") != 0)
        return reject(err, errlen, "unknown storage \"%s\": use file or s3", f->storage);
    if (!f->bucket || !*f->bucket)
        return reject(err, errlen, "%s storage needs a bucket", f->storage);
    if (!valid_block_size(f->block_size))
        return reject(err, errlen, "%s", "invalid block size: use a power of two from 64K to 16M");
    if (strcmp(f->compress, "none") && strcmp(f->compress, "lz4") && strcmp(f->compress, "zstd"))
        return reject(err, errlen, "unknown compression \"%s\": use none, lz4 or zstd", f->compress);
    if (f->trash_days < 0)
        return reject(err, errlen, "%s", "trash days must not be negative");
    if (f->version < 1 || f->version > FORMAT_VERSION)
        return reject(err, errlen, "%s", "format version not supported by this tidefs; upgrade it");
    return 0;
}
