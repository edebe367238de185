/* SPDX-License-Identifier: Apache-2.0
 *
 * The table of metadata engines and the dispatch from a META-URL's scheme
 * ("sqlite3://PATH", "redis://...") to one of them. Adding an engine is one
 * line in meta_engines[] plus its header.
 */
#include <errno.h>
#include <string.h>

#include "meta/meta.h"
#include "meta/meta_redis.h"
#include "meta/meta_sqlite.h"

static const struct meta_ops *const meta_engines[] = {
    &meta_sqlite_ops,
    &meta_redis_ops,
    &meta_rediss_ops,
};

/* Length of the scheme before "://", or 0 when url has no valid scheme:
 * letters first, then letters, digits, '+', '-', '.' (RFC 3986). */
static size_t scheme_len(const char *url)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!sep || sep == url)
        return 0;
    for (const char *p = url; p < sep; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        bool other = (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.';
        if (!alpha && (p == url || !other))
            return 0;
    }
    return (size_t)(sep - url);
}

const struct meta_ops *meta_engine_for_url(const char *url)
{
    size_t n = scheme_len(url);
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < sizeof(meta_engines) / sizeof(meta_engines[0]); i++) {
        const char *s = meta_engines[i]->scheme;
        if (strlen(s) == n && strncmp(url, s, n) == 0)
            return meta_engines[i];
    }
    return NULL;
}

int meta_open_url(const char *url, const struct meta_ops **ops, struct meta **m)
{
    const struct meta_ops *e = meta_engine_for_url(url);
    if (!e)
        return -EINVAL;
    if (url[scheme_len(url) + 3] == '\0')
        return -EINVAL; /* "sqlite3://" names nothing */
    struct meta *h = NULL;
    int rc = e->open(url, &h);
    if (rc)
        return rc;
    *ops = e;
    *m = h;
    return 0;
}
