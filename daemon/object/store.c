/* SPDX-License-Identifier: Apache-2.0
 *
 * The object-store dispatcher: picks a backend by the volume's `storage`
 * setting and forwards every call through the backend's ops table. The
 * table below is the one place a backend is registered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "object/store_i.h"

static const struct store_ops *const store_backends[] = {
    &store_file_ops,
    &store_s3_ops,
};

static const struct store_ops *store_find(const char *name)
{
    for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
        if (strcmp(store_backends[i]->name, name) == 0)
            return store_backends[i];
    }
    return NULL;
}

int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen)
{
    const char *name = opt->storage && opt->storage[0] ? opt->storage : "file";
    const struct store_ops *ops = store_find(name);

    *out = NULL;
    if (!ops) {
        snprintf(err, errlen, "unknown storage type '%s'", name);
        return -EINVAL;
    }
    struct store *s = NULL;
    int rc = ops->open(opt, &s);
    if (rc < 0) {
        snprintf(err, errlen, "cannot open %s storage '%s': %s", name, opt->bucket ? opt->bucket : "",
                 strerror(-rc));
        return rc;
    }
    s->ops = ops;
    *out = s;
    return 0;
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

int store_put(struct store *s, const char *key, const void *buf, size_t len)
{
    return s->ops->put(s, key, buf, len);
}

int store_get(struct store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got)
{
    return s->ops->get(s, key, off, len, buf, got);
}

int store_head(struct store *s, const char *key, uint64_t *size)
{
    return s->ops->head(s, key, size);
}

int store_del(struct store *s, const char *key)
{
    return s->ops->del(s, key);
}

int store_list(struct store *s, const char *prefix, const char *start_after, store_list_fn fn, void *arg)
{
    return s->ops->list(s, prefix, start_after, fn, arg);
}

int store_check(struct store *s, char *err, size_t errlen)
{
    return s->ops->check(s, err, errlen);
}
