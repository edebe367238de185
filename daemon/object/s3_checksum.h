/* SPDX-License-Identifier: Apache-2.0
 *
 * Integrity of S3 objects in transit. PUT sends Content-MD5 (the server
 * rejects a damaged body) and stores a CRC-32C per 64 KiB piece in the
 * user metadata header x-amz-meta-tidefs-sums, which every GET returns;
 * a GET, whole or ranged (widened to piece boundaries), checks each piece
 * it received, so a damaged body is detected and retried, never returned.
 * Objects over S3_SUMS_MAX_SIZE carry no piece sums (S3 caps user
 * metadata at 2 KiB) and are checked by length and, when read whole, by
 * their MD5 ETag.
 */
#ifndef TIDEFS_S3_CHECKSUM_H
#define TIDEFS_S3_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define S3_SUMS_HEADER "x-amz-meta-tidefs-sums"
#define S3_PIECE_SHIFT 16
#define S3_PIECE_SIZE (1u << S3_PIECE_SHIFT)
#define S3_SUMS_MAX_PIECES 256
#define S3_SUMS_MAX_SIZE ((uint64_t)S3_PIECE_SIZE * S3_SUMS_MAX_PIECES)
#define S3_SUMS_VALUE_MAX (3 + 4 * ((S3_SUMS_MAX_PIECES * 4 + 2) / 3) + 1)

uint32_t s3_crc32c(uint32_t crc, const void *buf, size_t len);

/* The header value for an object: "v1:" + base64 of big-endian CRCs.
 * 0, or -EFBIG when the object is too large to carry sums. */
int s3_sums_encode(const void *buf, size_t len, char out[S3_SUMS_VALUE_MAX]);

/* Checks the bytes of iov, which hold the object's [start, start + n)
 * with start a multiple of S3_PIECE_SIZE and the end either a piece
 * boundary or the object's end (obj_size). 0 when every piece matches,
 * -EIO on a mismatch, -EINVAL when sums is malformed or does not fit. */
int s3_sums_verify(const char *sums, uint64_t obj_size, uint64_t start, const struct iovec *iov, int iovcnt);

/* MD5 of buf: base64 into b64 (25 bytes, for Content-MD5) and lowercase
 * hex into hex (33 bytes, to compare with an ETag); either may be NULL. */
void s3_md5(const void *buf, size_t len, char *b64, char *hex);

#endif
