/* SPDX-License-Identifier: Apache-2.0
 *
 * Where a volume's objects live, parsed from the bucket URL:
 *   http(s)://host[:port]/bucket[/prefix]          path style
 *   https://bucket.s3[.-]REGION.amazonaws.com[/prefix]  virtual-hosted
 * and how an object key becomes a request path.
 */
#ifndef TIDEFS_S3_ENDPOINT_H
#define TIDEFS_S3_ENDPOINT_H

#include <stddef.h>

struct s3_endpoint {
    char base[320];        /* "scheme://authority", no trailing '/' */
    char host[300];        /* Host header: authority without userinfo */
    char bucket[64];
    char bucket_path[80];  /* "/bucket" (path style) or "" (virtual-hosted) */
    char key_prefix[512];  /* "" or "dir/sub/" */
    char region[64];
    int virtual_hosted;
};

/* Parses url; region is the explicit one (NULL/"" = AWS_REGION from the
 * environment, then the host name's, then us-east-1). 0, or -EINVAL with a
 * one-line reason in err. */
int s3_endpoint_parse(const char *url, const char *region, struct s3_endpoint *ep, char *err, size_t errlen);

/* The unencoded request path of key ("/bucket/prefix/key"); key NULL or ""
 * gives the bucket itself ("/bucket", or "/" when virtual-hosted). 0 or -ENAMETOOLONG. */
int s3_endpoint_path(const struct s3_endpoint *ep, const char *key, char *out, size_t outlen);

#endif
