/* SPDX-License-Identifier: Apache-2.0
 *
 * CRC-32C (disk-cache checksums):
 *  1. the standard check value of "123456789" and of 32 zero bytes
 *  2. incremental use equals one pass; every odd length and alignment
 */
#include "object/crc32c.h"
#include "unit.h"

static int test_known_values(void)
{
    TEST_EXPECT(crc32c(0, "123456789", 9) == 0xE3069283u);
    char zeros[32] = {0};
    TEST_EXPECT(crc32c(0, zeros, sizeof(zeros)) == 0x8A9136AAu);
    TEST_EXPECT(crc32c(0, "", 0) == 0);
    return 0;
}

static int test_incremental(void)
{
    char buf[300];
    for (int i = 0; i < 300; i++)
        buf[i] = (char)(i * 31 + 7);
    uint32_t whole = crc32c(0, buf + 3, 250);
    for (size_t cut = 0; cut <= 250; cut += 7)
        TEST_EXPECT(crc32c(crc32c(0, buf + 3, cut), buf + 3 + cut, 250 - cut) == whole);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_known_values), UNIT_TEST(test_incremental))
