/* SPDX-License-Identifier: Apache-2.0
 *
 * The little XML that S3 answers with: error documents (<Error><Code>..)
 * and ListObjectsV2 results. A bounded scanner, not a general parser: it
 * finds elements by name inside a buffer the caller capped in size, and
 * decodes the five predefined entities and numeric character references.
 */
#ifndef TIDEFS_S3_XML_H
#define TIDEFS_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#define S3_XML_MAX (1u << 20) /* the cap on any XML body read from S3 */

/* 1 when body is an <Error> document, with its <Code> in code and its
 * <Message> in msg (both truncated to fit, NUL-terminated); 0 otherwise. */
int s3_xml_error(const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen);

/* Called per <Contents> of a ListObjectsV2 page, in order; non-zero stops. */
typedef int (*s3_xml_entry_fn)(void *arg, const char *key, uint64_t size, int64_t mtime_ns);

struct s3_xml_list_page {
    int truncated;       /* <IsTruncated>true */
    char next_token[1024]; /* <NextContinuationToken>, "" if none */
    int stopped;         /* fn returned non-zero */
    size_t count;        /* entries passed to fn */
};

/* Parses a ListBucketResult. 0, or -EIO for a malformed document. */
int s3_xml_list(const char *body, size_t len, s3_xml_entry_fn fn, void *arg, struct s3_xml_list_page *page);

#endif
