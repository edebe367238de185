/* SPDX-License-Identifier: Apache-2.0
 *
 * Block codecs: none, lz4 (block format) and zstd (level 1, favouring
 * throughput; the data path must keep up with the local disk).
 */
#include <errno.h>
#include <lz4.h>
#include <string.h>
#include <zstd.h>

#include "chunk/compress_i.h"

#define ZSTD_LEVEL 1

size_t compress_bound(enum chunk_compress c, size_t n)
{
    switch (c) {
    case CHUNK_COMPRESS_LZ4:
        return (size_t)LZ4_compressBound((int)n);
    case CHUNK_COMPRESS_ZSTD:
        return ZSTD_compressBound(n);
    default:
        return n;
    }
}

int compress_block(enum chunk_compress c, const void *src, size_t n, void *dst, size_t cap, size_t *out)
{
    switch (c) {
    case CHUNK_COMPRESS_LZ4: {
        int r = LZ4_compress_default(src, dst, (int)n, (int)cap);
        if (r <= 0 && n > 0)
            return -EIO;
        *out = (size_t)r;
        return 0;
    }
    case CHUNK_COMPRESS_ZSTD: {
        size_t r = ZSTD_compress(dst, cap, src, n, ZSTD_LEVEL);
        if (ZSTD_isError(r))
            return -EIO;
        *out = r;
        return 0;
    }
    default:
        if (cap < n)
            return -ENOSPC;
        memcpy(dst, src, n);
        *out = n;
        return 0;
    }
}

int decompress_block(enum chunk_compress c, const void *src, size_t n, void *dst, size_t want)
{
    switch (c) {
    case CHUNK_COMPRESS_LZ4: {
        if (want == 0)
            return n <= 1 ? 0 : -EIO;
        int r = LZ4_decompress_safe(src, dst, (int)n, (int)want);
        return r == (int)want ? 0 : -EIO;
    }
    case CHUNK_COMPRESS_ZSTD: {
        size_t r = ZSTD_decompress(dst, want, src, n);
        return !ZSTD_isError(r) && r == want ? 0 : -EIO;
    }
    default:
        if (n != want)
            return -EIO;
        memcpy(dst, src, n);
        return 0;
    }
}
