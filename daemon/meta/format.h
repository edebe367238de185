/* SPDX-License-Identifier: Apache-2.0
 *
 * A volume's format: the settings fixed by `tidefs format` (and changed
 * later only by `tidefs config` where safe). Stored by every engine as one
 * JSON text under the setting name "format". Secrets (storage credentials)
 * are kept only when the user asked for it and are never printed: use
 * format_to_json(..., true) for anything shown to a person.
 */
#ifndef TIDEFS_FORMAT_H
#define TIDEFS_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#define FORMAT_VERSION 1
#define FORMAT_NAME_MAX 63

struct format {
    char name[FORMAT_NAME_MAX + 1]; /* [a-z0-9-], 3..63 chars */
    char uuid[37];
    char storage[16]; /* "file", "s3" */
    char *bucket;     /* owned; directory for file, URL for s3 */
    char *access_key; /* owned, may be NULL */
    char *secret_key; /* owned, may be NULL; a secret */
    char *session_token; /* owned, may be NULL; a secret */
    char *region;     /* owned, may be NULL */
    uint32_t block_size; /* bytes, 64 KiB .. 16 MiB, power of two */
    char compress[8];    /* "none", "lz4", "zstd" */
    int trash_days;
    uint64_t capacity; /* bytes, 0 = unlimited */
    uint64_t inodes;   /* 0 = unlimited */
    int version;
};

void format_init_defaults(struct format *f);
void format_clear(struct format *f); /* frees owned strings; accepts zeroed */
/* Returns a malloc'ed JSON text, caller frees; secrets replaced by "****"
 * when `masked`. */
char *format_to_json(const struct format *f, bool masked);
/* Parses JSON into *f (initialised by the call); -EINVAL on bad input. */
int format_from_json(const char *json, struct format *f);
/* Validation of each user-settable field: 0 or -EINVAL with a one-line
 * reason copied into err (size errlen). */
int format_validate(const struct format *f, char *err, size_t errlen);

#endif
