/* SPDX-License-Identifier: Apache-2.0
 *
 * CRC-32C (Castagnoli), used to detect corrupt disk-cache files. Uses the
 * SSE4.2 instruction when the CPU has it (tens of GB/s), a table otherwise.
 */
#ifndef TIDEFS_CRC32C_I_H
#define TIDEFS_CRC32C_I_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
