/* SPDX-License-Identifier: Apache-2.0
 *
 * CRC-32C piece sums and MD5 for S3 objects (see s3_checksum.h). The CRC
 * uses the SSE4.2 instruction when present, the bitwise definition
 * otherwise (correct, slow, no mutable table).
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "object/crc32c.h"
#include "object/s3_checksum.h"

/* One CRC-32C implementation for the whole daemon: object/crc32c.c */
uint32_t s3_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return crc32c(crc, buf, len);
}

int s3_sums_encode(const void *buf, size_t len, char out[S3_SUMS_VALUE_MAX])
{
    unsigned char raw[S3_SUMS_MAX_PIECES * 4];
    size_t pieces = (len + S3_PIECE_SIZE - 1) / S3_PIECE_SIZE;
    const unsigned char *p = buf;

    if (len > S3_SUMS_MAX_SIZE)
        return -EFBIG;
    for (size_t i = 0; i < pieces; i++) {
        size_t n = len - i * S3_PIECE_SIZE < S3_PIECE_SIZE ? len - i * S3_PIECE_SIZE : S3_PIECE_SIZE;
        uint32_t c = s3_crc32c(0, p + i * S3_PIECE_SIZE, n);
        raw[4 * i] = (unsigned char)(c >> 24);
        raw[4 * i + 1] = (unsigned char)(c >> 16);
        raw[4 * i + 2] = (unsigned char)(c >> 8);
        raw[4 * i + 3] = (unsigned char)c;
    }
    memcpy(out, "v1:", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, raw, (int)(pieces * 4));
    return 0;
}

/* Decodes the sums into raw; returns the number of pieces or -EINVAL. */
static int sums_decode(const char *sums, unsigned char raw[S3_SUMS_MAX_PIECES * 4 + 3])
{
    size_t len = sums ? strlen(sums) : 0;
    int n, pad = 0;

    if (len < 3 || memcmp(sums, "v1:", 3) != 0 || (len - 3) % 4 != 0 || len - 3 > 4 * ((S3_SUMS_MAX_PIECES * 4 + 2) / 3))
        return -EINVAL;
    n = EVP_DecodeBlock(raw, (const unsigned char *)sums + 3, (int)(len - 3));
    if (n < 0)
        return -EINVAL;
    if (len > 3 && sums[len - 1] == '=')
        pad += 1 + (sums[len - 2] == '=');
    n -= pad;
    return n % 4 ? -EINVAL : n / 4;
}

/* Feeds n bytes from the iovec cursor (*vi, *vo) into a CRC. */
static uint32_t crc_iov(const struct iovec *iov, int iovcnt, int *vi, size_t *vo, size_t n)
{
    uint32_t c = 0;

    while (n > 0 && *vi < iovcnt) {
        size_t avail = iov[*vi].iov_len - *vo, take = n < avail ? n : avail;
        c = s3_crc32c(c, (const char *)iov[*vi].iov_base + *vo, take);
        *vo += take;
        n -= take;
        if (*vo == iov[*vi].iov_len) {
            (*vi)++;
            *vo = 0;
        }
    }
    return c;
}

int s3_sums_verify(const char *sums, uint64_t obj_size, uint64_t start, const struct iovec *iov, int iovcnt)
{
    unsigned char raw[S3_SUMS_MAX_PIECES * 4 + 3];
    int pieces = sums_decode(sums, raw), vi = 0;
    size_t total = 0, vo = 0;

    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (pieces < 0 || start % S3_PIECE_SIZE || (uint64_t)pieces != (obj_size + S3_PIECE_SIZE - 1) / S3_PIECE_SIZE ||
        start + total > obj_size)
        return -EINVAL;
    if (start + total != obj_size && total % S3_PIECE_SIZE)
        return -EINVAL;
    for (uint64_t off = start; off < start + total; off += S3_PIECE_SIZE) {
        size_t n = obj_size - off < S3_PIECE_SIZE ? (size_t)(obj_size - off) : S3_PIECE_SIZE;
        uint32_t want, got = crc_iov(iov, iovcnt, &vi, &vo, n);
        const unsigned char *r = raw + 4 * (off / S3_PIECE_SIZE);
        want = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
        if (got != want)
            return -EIO;
    }
    return 0;
}

void s3_md5(const void *buf, size_t len, char *b64, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[16];
    unsigned int mdlen = 0;

    EVP_Digest(buf, len, md, &mdlen, EVP_md5(), NULL);
    if (b64)
        EVP_EncodeBlock((unsigned char *)b64, md, 16);
    if (hex) {
        for (int i = 0; i < 16; i++) {
            hex[2 * i] = digits[md[i] >> 4];
            hex[2 * i + 1] = digits[md[i] & 15];
        }
        hex[32] = '\0';
    }
}
