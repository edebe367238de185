/* SPDX-License-Identifier: Apache-2.0
 *
 * Bucket URL parsing (see s3_endpoint.h). Credentials never belong in the
 * URL: a userinfo part is refused, so a secret cannot leak through the
 * volume's settings or `status`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object/s3_endpoint.h"

static int bucket_name_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* "bucket.s3.REGION.amazonaws.com", "bucket.s3-REGION.amazonaws.com" or
 * "bucket.s3.amazonaws.com": fills bucket and region, returns 1. */
static int virtual_host(const char *host, size_t hlen, struct s3_endpoint *ep, char *hregion, size_t rlen)
{
    static const char suffix[] = ".amazonaws.com";
    size_t slen = strlen(suffix);
    const char *s3;

    if (hlen <= slen || memcmp(host + hlen - slen, suffix, slen) != 0)
        return 0;
    s3 = strstr(host, ".s3");
    if (!s3 || s3 == host || (s3[3] != '.' && s3[3] != '-'))
        return 0;
    if (!bucket_name_ok(host, (size_t)(s3 - host)))
        return 0;
    snprintf(ep->bucket, sizeof(ep->bucket), "%.*s", (int)(s3 - host), host);
    hregion[0] = '\0';
    if (s3 + 3 != host + hlen - slen) { /* ".s3.REGION" or ".s3-REGION" */
        const char *r = s3 + 4;
        snprintf(hregion, rlen, "%.*s", (int)(host + hlen - slen - r), r);
    }
    return 1;
}

static void set_prefix(struct s3_endpoint *ep, const char *p)
{
    size_t n;

    while (*p == '/')
        p++;
    n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    snprintf(ep->key_prefix, sizeof(ep->key_prefix), "%.*s%s", (int)n, p, n ? "/" : "");
}

static int parse_path_style(const char *path, struct s3_endpoint *ep, char *err, size_t errlen)
{
    const char *b = path, *e;

    while (*b == '/')
        b++;
    e = strchrnul(b, '/');
    if (e == b) {
        snprintf(err, errlen, "bucket URL names no bucket (expected http(s)://host[:port]/bucket[/prefix])");
        return -EINVAL;
    }
    if (!bucket_name_ok(b, (size_t)(e - b))) {
        snprintf(err, errlen, "invalid bucket name '%.*s' (3-63 letters, digits, '.', '-', '_')",
                 (int)(e - b) > 63 ? 63 : (int)(e - b), b);
        return -EINVAL;
    }
    snprintf(ep->bucket, sizeof(ep->bucket), "%.*s", (int)(e - b), b);
    snprintf(ep->bucket_path, sizeof(ep->bucket_path), "/%s", ep->bucket);
    set_prefix(ep, e);
    return 0;
}

static void choose_region(struct s3_endpoint *ep, const char *region, const char *hregion)
{
    const char *env = getenv("AWS_REGION");

    if (region && region[0])
        snprintf(ep->region, sizeof(ep->region), "%s", region);
    else if (env && env[0])
        snprintf(ep->region, sizeof(ep->region), "%s", env);
    else if (hregion[0])
        snprintf(ep->region, sizeof(ep->region), "%s", hregion);
    else
        snprintf(ep->region, sizeof(ep->region), "us-east-1");
}

int s3_endpoint_parse(const char *url, const char *region, struct s3_endpoint *ep, char *err, size_t errlen)
{
    const char *auth, *path;
    char hregion[64] = "";
    size_t alen;

    memset(ep, 0, sizeof(*ep));
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "bucket URL must start with http:// or https://");
        return -EINVAL;
    }
    auth = strstr(url, "://") + 3;
    path = strchrnul(auth, '/');
    alen = (size_t)(path - auth);
    if (memchr(auth, '@', alen)) {
        snprintf(err, errlen, "bucket URL must not contain credentials; use --access-key/--secret-key or "
                              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        return -EINVAL;
    }
    if (alen == 0 || alen >= sizeof(ep->host) || strpbrk(url, "?# \t")) {
        snprintf(err, errlen, "bucket URL has no valid host (or has a query, fragment or space)");
        return -EINVAL;
    }
    snprintf(ep->host, sizeof(ep->host), "%.*s", (int)alen, auth);
    snprintf(ep->base, sizeof(ep->base), "%.*s", (int)(path - url), url);
    if (virtual_host(ep->host, alen, ep, hregion, sizeof(hregion))) {
        ep->virtual_hosted = 1;
        set_prefix(ep, path);
    } else if (parse_path_style(path, ep, err, errlen) != 0) {
        return -EINVAL;
    }
    choose_region(ep, region, hregion);
    return 0;
}

int s3_endpoint_path(const struct s3_endpoint *ep, const char *key, char *out, size_t outlen)
{
    int n;

    if (!key || !key[0])
        n = snprintf(out, outlen, "%s", ep->bucket_path[0] ? ep->bucket_path : "/");
    else
        n = snprintf(out, outlen, "%s/%s%s", ep->bucket_path, ep->key_prefix, key);

    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
