/* SPDX-License-Identifier: Apache-2.0
 *
 * The INIT state of a FUSE connection: what the kernel offered in its one
 * and only FUSE_INIT request (`in`) and what the first daemon answered
 * (`out`, which the kernel now acts on). A daemon that takes over a
 * connection must run with exactly this state; it travels with the fd in
 * hand-off messages as the JSON object
 *
 *   {"in":  {"major","minor","max_readahead","flags","flags2"},
 *    "out": {"major","minor","max_readahead","flags","flags2",
 *            "max_background","congestion_threshold","max_write",
 *            "time_gran","max_pages","map_alignment"}}
 *
 * with every value an unsigned integer of the kernel struct's width.
 */
#ifndef TIDEFS_HANDOFF_INIT_H
#define TIDEFS_HANDOFF_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Protocol 7.40 (Linux 6.9): the kernel advertises FUSE_NOTIFY_RESEND with
 * this INIT flag; Debian 12's <linux/fuse.h> stops at 7.38. */
#define HANDOFF_FUSE_HAS_RESEND (1ULL << 39)
#define HANDOFF_FUSE_NOTIFY_RESEND 7

struct handoff_init {
    struct {
        uint32_t major, minor, max_readahead, flags, flags2;
    } in;
    struct {
        uint32_t major, minor, max_readahead, flags, flags2;
        uint16_t max_background, congestion_threshold;
        uint32_t max_write, time_gran;
        uint16_t max_pages, map_alignment;
    } out;
};

/* The kernel's 64 offered flag bits (flags | flags2 << 32 when INIT_EXT). */
uint64_t handoff_init_in_flags(const struct handoff_init *init);
/* Whether the kernel said it understands FUSE_NOTIFY_RESEND. */
bool handoff_init_has_resend(const struct handoff_init *init);

/* New JSON object for init; caller drops it with json_decref(). NULL only on
 * out-of-memory. */
json_t *handoff_init_to_json(const struct handoff_init *init);
/* Fills *init from a JSON object as above; -EBADMSG naming the bad field
 * (written to why[why_len], may be NULL) when a field is missing, not an
 * integer, or out of range. */
int handoff_init_from_json(const json_t *obj, struct handoff_init *init, char *why, size_t why_len);

/* Reads a raw FUSE_INIT request (fuse_in_header + fuse_init_in, as read from
 * /dev/fuse) into init->in. -EPROTO when it is not an INIT request. */
int handoff_init_parse_request(const void *buf, size_t len, struct handoff_init *init, uint64_t *unique);
/* Reads a raw reply to INIT (fuse_out_header + fuse_init_out) into
 * init->out. -EPROTO when malformed or when its unique is not `unique`;
 * the reply's own error (e.g. -EPROTO from libfuse) is returned as is. */
int handoff_init_parse_reply(const void *buf, size_t len, uint64_t unique, struct handoff_init *init);
/* Builds the FUSE_INIT request the kernel sent, from init->in, with the
 * given unique, into buf (at least HANDOFF_INIT_REQUEST_SIZE bytes). Returns
 * its length. */
#define HANDOFF_INIT_REQUEST_SIZE 104
size_t handoff_init_build_request(const struct handoff_init *init, uint64_t unique, void *buf);

/* 0 when a and b agree on every field of `out`; otherwise -EPROTO with the
 * first differing field and both values in why[why_len]. */
int handoff_init_compare_out(const struct handoff_init *a, const struct handoff_init *b, char *why, size_t why_len);

#endif
