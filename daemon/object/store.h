/* SPDX-License-Identifier: Apache-2.0
 *
 * The object store interface. Blocks are immutable objects addressed by key
 * (see chunk/block_key.h for the key scheme). A store is chosen by the
 * volume's `storage` setting ("file" = a local directory, "s3" = any
 * S3-compatible service) and is used concurrently by many threads.
 *
 * Conventions: every function returns 0 or -errno. A missing object is
 * -ENOENT; transient failures are retried inside the store (one retry
 * policy per backend) and surface as -EIO / -ETIMEDOUT only when retries
 * are exhausted. put is atomic: readers see the whole object or nothing.
 */
#ifndef TIDEFS_STORE_H
#define TIDEFS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store; /* opaque */

/* Options the user may give on the command line or in the format. Strings
 * are borrowed for the duration of store_open only. */
struct store_options {
    const char *storage; /* "file" (default) or "s3" */
    const char *bucket;  /* directory or URL */
    const char *access_key;
    const char *secret_key;
    const char *session_token;
    const char *region;
    int max_uploads;   /* parallel PUTs, 0 = default */
    int max_downloads; /* parallel GETs, 0 = default */
    int put_timeout_s; /* 0 = default */
    int get_timeout_s; /* 0 = default */
    int io_retries;    /* -1 = default */
};

/* list callback: return 0 to continue, non-zero to stop */
typedef int (*store_list_fn)(void *arg, const char *key, uint64_t size, int64_t mtime_ns);

struct store_ops {
    const char *name;
    int (*open)(const struct store_options *opt, struct store **out);
    void (*free)(struct store *s); /* accepts NULL */
    int (*put)(struct store *s, const char *key, const void *buf, size_t len);
    /* Read [off, off+len) of the object into buf; *got receives the bytes
     * read (less than len only at the object's end). */
    int (*get)(struct store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got);
    int (*head)(struct store *s, const char *key, uint64_t *size);
    /* Deleting a missing object succeeds. */
    int (*del)(struct store *s, const char *key);
    /* Keys under prefix in lexical order, starting after start_after
     * (NULL = from the first). */
    int (*list)(struct store *s, const char *prefix, const char *start_after, store_list_fn fn, void *arg);
    /* Checks the store is reachable and writable (format does this);
     * creates the bucket/directory when it may. A one-line reason goes to
     * err on failure. */
    int (*check)(struct store *s, char *err, size_t errlen);
};

/* Opens the backend named by opt->storage; -EINVAL for an unknown one,
 * with a reason in err. Caller frees with store_free(). */
int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen);
void store_free(struct store *s);
int store_put(struct store *s, const char *key, const void *buf, size_t len);
int store_get(struct store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got);
int store_head(struct store *s, const char *key, uint64_t *size);
int store_del(struct store *s, const char *key);
int store_list(struct store *s, const char *prefix, const char *start_after, store_list_fn fn, void *arg);
int store_check(struct store *s, char *err, size_t errlen);

#endif
