/* SPDX-License-Identifier: Apache-2.0
 *
 * Secret-free rendering of protobuf-c messages, driven by their
 * descriptors, so every message type (and any field added later) goes
 * through the same rules.
 */
#include "csi_redact.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->short_name);

    return d->n_fields == 2 && n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static void put_message(FILE *f, const ProtobufCMessage *m);

static void put_scalar(FILE *f, const ProtobufCFieldDescriptor *fd, const void *v)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(f, "%d", *(const int32_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(f, "%u", *(const uint32_t *)v);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(f, "%lld", (long long)*(const int64_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)v);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fprintf(f, "%g", (double)*(const float *)v);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        fprintf(f, "%g", *(const double *)v);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)v ? "true" : "false", f);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)v);

        if (ev)
            fputs(ev->name, f);
        else
            fprintf(f, "%d", *(const int *)v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        put_string(f, *(char *const *)v ? *(char *const *)v : "");
        break;
    case PROTOBUF_C_TYPE_BYTES:
        fprintf(f, "<%zu bytes>", ((const ProtobufCBinaryData *)v)->len);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        if (*(ProtobufCMessage *const *)v)
            put_message(f, *(ProtobufCMessage *const *)v);
        else
            fputs("null", f);
        break;
    }
}

static void put_map(FILE *f, ProtobufCMessage *const *entries, size_t n)
{
    fputc('{', f);
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = entries[i]->descriptor;
        const char *key = *(char *const *)((const char *)entries[i] + d->fields[0].offset);

        if (i)
            fputc(',', f);
        put_string(f, key ? key : "");
        fputc(':', f);
        if (key && strcmp(key, CSI_SA_TOKENS_KEY) == 0)
            fputs(CSI_STRIPPED, f);
        else
            put_scalar(f, &d->fields[1], (const char *)entries[i] + d->fields[1].offset);
    }
    fputc('}', f);
}

/* proto3 scalars at their default value are left out to keep lines short */
static bool is_default(const ProtobufCFieldDescriptor *fd, const void *v)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        return !*(char *const *)v || !**(char *const *)v;
    case PROTOBUF_C_TYPE_MESSAGE:
        return !*(void *const *)v;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)v)->len == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const uint64_t *)v == 0;
    default: /* 32-bit scalars, bool, enum */
        return *(const uint32_t *)v == 0;
    }
}

static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default: /* 32-bit scalars, protobuf_c_boolean, enums */
        return 4;
    }
}

static void put_field(FILE *f, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd, bool *first)
{
    const char *base = (const char *)m;
    const void *v = base + fd->offset;

    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            return;
    } else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        if (*(const size_t *)(base + fd->quantifier_offset) == 0)
            return;
    } else if (is_default(fd, v)) {
        return;
    }
    fprintf(f, "%s%s:", *first ? "" : ",", fd->name);
    *first = false;
    if (strcmp(fd->name, "secrets") == 0) {
        fputs(CSI_STRIPPED, f);
        return;
    }
    if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
        put_scalar(f, fd, v);
        return;
    }
    size_t n = *(const size_t *)(base + fd->quantifier_offset);
    const char *arr = *(const char *const *)v;

    if (fd->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(fd->descriptor)) {
        put_map(f, (ProtobufCMessage *const *)arr, n);
        return;
    }
    if (strcmp(fd->name, "mount_flags") == 0) {
        fprintf(f, "[%zu x %s]", n, CSI_STRIPPED);
        return;
    }
    size_t stride = scalar_size(fd->type);

    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        put_scalar(f, fd, arr + i * stride);
    }
    fputc(']', f);
}

static void put_message(FILE *f, const ProtobufCMessage *m)
{
    bool first = true;

    fputc('{', f);
    for (unsigned i = 0; i < m->descriptor->n_fields; i++)
        put_field(f, m, &m->descriptor->fields[i], &first);
    fputc('}', f);
}

char *csi_redact(const ProtobufCMessage *msg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    if (msg)
        put_message(f, msg);
    else
        fputs("null", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void csi_scrub(char *text, const char *const *secrets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t slen = secrets[i] ? strlen(secrets[i]) : 0;
        size_t mask = slen < 3 ? slen : 3; /* never longer than the secret */
        char *pos = text, *hit;

        if (slen == 0)
            continue;
        while ((hit = strstr(pos, secrets[i])) != NULL) {
            memset(hit, '*', mask);
            memmove(hit + mask, hit + slen, strlen(hit + slen) + 1);
            pos = hit + mask; /* the mask itself may match a secret: skip it */
        }
    }
}
