/* SPDX-License-Identifier: Apache-2.0
 *
 * Per-block compression as stored in the object store (no header, like
 * JuiceFS: the codec is a volume setting and the uncompressed size is in
 * the block's key). Caches always hold uncompressed data.
 */
#ifndef TIDEFS_COMPRESS_I_H
#define TIDEFS_COMPRESS_I_H

#include <stddef.h>

#include "chunk/chunk.h"

/* Largest stored form of an n-byte block. */
size_t compress_bound(enum chunk_compress c, size_t n);
/* Compresses src[0..n) into dst (cap bytes); *out = stored length. */
int compress_block(enum chunk_compress c, const void *src, size_t n, void *dst, size_t cap, size_t *out);
/* Decompresses a stored block that must expand to exactly `want` bytes;
 * -EIO when it is corrupt or of another size. */
int decompress_block(enum chunk_compress c, const void *src, size_t n, void *dst, size_t want);

#endif
