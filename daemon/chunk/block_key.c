/* SPDX-License-Identifier: Apache-2.0
 *
 * Object key naming for blocks (design.md §2, same scheme as JuiceFS):
 * "<volume>/chunks/<id/1e6>/<id/1e3>/<id>_<index>_<bsize>". Putting the
 * block's size in the name means a reader never needs a HEAD, and the two
 * directory levels keep any one directory of a file store small.
 */
#include <inttypes.h>
#include <stdio.h>

#include "chunk/chunk.h"

int chunk_block_key(char *buf, size_t buflen, const char *volume, uint64_t id, uint32_t index, uint32_t bsize)
{
    return snprintf(buf, buflen, "%s/chunks/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "_%" PRIu32 "_%" PRIu32, volume,
                    id / 1000000, id / 1000, id, index, bsize);
}
