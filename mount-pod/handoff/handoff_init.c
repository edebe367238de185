/* SPDX-License-Identifier: Apache-2.0
 *
 * The INIT state of a FUSE connection: conversion between the kernel's wire
 * structs (fuse_init_in / fuse_init_out), struct handoff_init and its JSON
 * form, and the comparison a resuming daemon uses to prove that libfuse
 * negotiated exactly what the kernel already acts on. Fields are described
 * once, in two tables, so wire, JSON and comparison cannot drift apart.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/fuse.h>

#include "handoff/handoff_init.h"

_Static_assert(sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in) == HANDOFF_INIT_REQUEST_SIZE,
               "HANDOFF_INIT_REQUEST_SIZE must match <linux/fuse.h>");

struct init_field {
    const char *name;
    size_t offset; /* in struct handoff_init */
    unsigned width; /* bytes: 2 or 4 */
};

#define IN_FIELD(f) {#f, offsetof(struct handoff_init, in.f), sizeof(((struct handoff_init *)0)->in.f)}
#define OUT_FIELD(f) {#f, offsetof(struct handoff_init, out.f), sizeof(((struct handoff_init *)0)->out.f)}

static const struct init_field in_fields[] = {
    IN_FIELD(major), IN_FIELD(minor), IN_FIELD(max_readahead), IN_FIELD(flags), IN_FIELD(flags2),
};
static const struct init_field out_fields[] = {
    OUT_FIELD(major),     OUT_FIELD(minor),          OUT_FIELD(max_readahead),        OUT_FIELD(flags),
    OUT_FIELD(flags2),    OUT_FIELD(max_background), OUT_FIELD(congestion_threshold), OUT_FIELD(max_write),
    OUT_FIELD(time_gran), OUT_FIELD(max_pages),      OUT_FIELD(map_alignment),
};
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static uint32_t field_get(const struct handoff_init *init, const struct init_field *f)
{
    const char *p = (const char *)init + f->offset;
    if (f->width == 2) {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void field_set(struct handoff_init *init, const struct init_field *f, uint32_t v)
{
    char *p = (char *)init + f->offset;
    if (f->width == 2) {
        uint16_t v16 = (uint16_t)v;
        memcpy(p, &v16, sizeof(v16));
    } else {
        memcpy(p, &v, sizeof(v));
    }
}

uint64_t handoff_init_in_flags(const struct handoff_init *init)
{
    uint64_t flags = init->in.flags;
    if (flags & FUSE_INIT_EXT)
        flags |= (uint64_t)init->in.flags2 << 32;
    return flags;
}

bool handoff_init_has_resend(const struct handoff_init *init)
{
    return (handoff_init_in_flags(init) & HANDOFF_FUSE_HAS_RESEND) != 0;
}

static int fields_to_json(json_t *obj, const struct handoff_init *init, const struct init_field *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_object_set_new(obj, t[i].name, json_integer(field_get(init, &t[i]))) != 0)
            return -ENOMEM;
    return 0;
}

json_t *handoff_init_to_json(const struct handoff_init *init)
{
    json_t *obj = json_object(), *in = json_object(), *out = json_object();
    if (!obj || !in || !out || fields_to_json(in, init, in_fields, NFIELDS(in_fields)) != 0 ||
        fields_to_json(out, init, out_fields, NFIELDS(out_fields)) != 0 || json_object_set(obj, "in", in) != 0 ||
        json_object_set(obj, "out", out) != 0) {
        json_decref(obj);
        obj = NULL;
    }
    json_decref(in);
    json_decref(out);
    return obj;
}

static int fields_from_json(const json_t *obj, const char *part, struct handoff_init *init,
                            const struct init_field *t, size_t n, char *why, size_t why_len)
{
    const json_t *o = json_object_get(obj, part);
    if (!json_is_object(o)) {
        snprintf(why, why_len, "init.%s is missing or not an object", part);
        return -EBADMSG;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(o, t[i].name);
        json_int_t max = t[i].width == 2 ? UINT16_MAX : UINT32_MAX;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
            snprintf(why, why_len, "init.%s.%s is missing or not an integer in 0..%lld", part, t[i].name,
                     (long long)max);
            return -EBADMSG;
        }
        field_set(init, &t[i], (uint32_t)json_integer_value(v));
    }
    return 0;
}

int handoff_init_from_json(const json_t *obj, struct handoff_init *init, char *why, size_t why_len)
{
    char scratch[1];
    if (!why) {
        why = scratch;
        why_len = sizeof(scratch);
    }
    memset(init, 0, sizeof(*init));
    if (!json_is_object(obj)) {
        snprintf(why, why_len, "init is not an object");
        return -EBADMSG;
    }
    int rc = fields_from_json(obj, "in", init, in_fields, NFIELDS(in_fields), why, why_len);
    if (rc == 0)
        rc = fields_from_json(obj, "out", init, out_fields, NFIELDS(out_fields), why, why_len);
    if (rc == 0 && (init->in.major != 7 || init->out.major != 7)) {
        snprintf(why, why_len, "init: FUSE protocol major %u/%u, expected 7", init->in.major, init->out.major);
        rc = -EBADMSG;
    }
    return rc;
}

int handoff_init_parse_request(const void *buf, size_t len, struct handoff_init *init, uint64_t *unique)
{
    struct fuse_in_header h;
    struct fuse_init_in a;
    /* Kernels before 7.36 send only the first four fields of fuse_init_in. */
    const size_t min_len = sizeof(h) + offsetof(struct fuse_init_in, flags2);
    if (len < min_len)
        return -EPROTO;
    memcpy(&h, buf, sizeof(h));
    if (h.opcode != FUSE_INIT || h.len != len)
        return -EPROTO;
    memset(&a, 0, sizeof(a));
    size_t alen = len - sizeof(h) < sizeof(a) ? len - sizeof(h) : sizeof(a);
    memcpy(&a, (const char *)buf + sizeof(h), alen);
    init->in.major = a.major;
    init->in.minor = a.minor;
    init->in.max_readahead = a.max_readahead;
    init->in.flags = a.flags;
    init->in.flags2 = (a.flags & FUSE_INIT_EXT) ? a.flags2 : 0;
    if (unique)
        *unique = h.unique;
    return 0;
}

int handoff_init_parse_reply(const void *buf, size_t len, uint64_t unique, struct handoff_init *init)
{
    struct fuse_out_header h;
    struct fuse_init_out o;
    if (len < sizeof(h))
        return -EPROTO;
    memcpy(&h, buf, sizeof(h));
    if (h.unique != unique || h.len != len)
        return -EPROTO;
    if (h.error != 0)
        return h.error < 0 ? h.error : -EPROTO;
    /* Replies to protocol < 7.23 are shorter; missing fields read as 0. */
    if (len - sizeof(h) > sizeof(o) || len - sizeof(h) < offsetof(struct fuse_init_out, max_background))
        return -EPROTO;
    memset(&o, 0, sizeof(o));
    memcpy(&o, (const char *)buf + sizeof(h), len - sizeof(h));
    init->out.major = o.major;
    init->out.minor = o.minor;
    init->out.max_readahead = o.max_readahead;
    init->out.flags = o.flags;
    init->out.flags2 = o.flags2;
    init->out.max_background = o.max_background;
    init->out.congestion_threshold = o.congestion_threshold;
    init->out.max_write = o.max_write;
    init->out.time_gran = o.time_gran;
    init->out.max_pages = o.max_pages;
    init->out.map_alignment = o.map_alignment;
    return 0;
}

size_t handoff_init_build_request(const struct handoff_init *init, uint64_t unique, void *buf)
{
    struct fuse_in_header h = {
        .len = HANDOFF_INIT_REQUEST_SIZE,
        .opcode = FUSE_INIT,
        .unique = unique,
    };
    struct fuse_init_in a = {
        .major = init->in.major,
        .minor = init->in.minor,
        .max_readahead = init->in.max_readahead,
        .flags = init->in.flags,
        .flags2 = init->in.flags2,
    };
    memcpy(buf, &h, sizeof(h));
    memcpy((char *)buf + sizeof(h), &a, sizeof(a));
    return HANDOFF_INIT_REQUEST_SIZE;
}

int handoff_init_compare_out(const struct handoff_init *a, const struct handoff_init *b, char *why, size_t why_len)
{
    for (size_t i = 0; i < NFIELDS(out_fields); i++) {
        uint32_t va = field_get(a, &out_fields[i]), vb = field_get(b, &out_fields[i]);
        if (va != vb) {
            if (why)
                snprintf(why, why_len, "INIT reply field %s differs: 0x%x vs 0x%x", out_fields[i].name, va, vb);
            return -EPROTO;
        }
    }
    return 0;
}
