/* SPDX-License-Identifier: Apache-2.0
 *
 * Block key naming (design.md §2):
 *  1. the documented layout for small, exact-boundary and large ids
 *  2. snprintf semantics: the length is returned even when truncated
 */
#include <stdint.h>

#include "chunk/chunk.h"
#include "unit.h"

static int test_key_layout(void)
{
    char buf[128];
    TEST_EXPECT(chunk_block_key(buf, sizeof(buf), "vol", 1, 0, 4194304) > 0);
    TEST_EXPECT(strcmp(buf, "vol/chunks/0/0/1_0_4194304") == 0);
    chunk_block_key(buf, sizeof(buf), "vol", 999999, 3, 100);
    TEST_EXPECT(strcmp(buf, "vol/chunks/0/999/999999_3_100") == 0);
    chunk_block_key(buf, sizeof(buf), "myfs", 1000000, 15, 4096);
    TEST_EXPECT(strcmp(buf, "myfs/chunks/1/1000/1000000_15_4096") == 0);
    chunk_block_key(buf, sizeof(buf), "v", 1234567890123ULL, 2, 1);
    TEST_EXPECT(strcmp(buf, "v/chunks/1234567/1234567890/1234567890123_2_1") == 0);
    chunk_block_key(buf, sizeof(buf), "v", UINT64_MAX, UINT32_MAX, UINT32_MAX);
    TEST_EXPECT(strcmp(buf, "v/chunks/18446744073709/18446744073709551/18446744073709551615_4294967295_4294967295") == 0);
    return 0;
}

static int test_key_truncation(void)
{
    char buf[8];
    int n = chunk_block_key(buf, sizeof(buf), "vol", 7, 0, 10);
    TEST_EXPECT(n == (int)strlen("vol/chunks/0/0/7_0_10"));
    TEST_EXPECT(strcmp(buf, "vol/chu") == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_key_layout), UNIT_TEST(test_key_truncation))
