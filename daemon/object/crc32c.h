/* SPDX-License-Identifier: Apache-2.0
 *
 * CRC-32C (Castagnoli): checks disk-cache files (chunk/) and the piece sums
 * of S3 objects (object/s3_checksum.c). Uses the SSE4.2 instruction when the
 * CPU has it (tens of GB/s), the bitwise definition otherwise.
 */
#ifndef TIDEFS_CRC32C_H
#define TIDEFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
