/* SPDX-License-Identifier: Apache-2.0
 *
 * A tiny unit-test harness: one program per module (test_<module>.c), each
 * test a function registered in a table, TEST_ASSERT (fatal for that test)
 * and TEST_EXPECT (records a failure, goes on). The program prints one line
 * per failure and ends with "N passed, N failed"; exit status 1 on failure.
 *
 *   static int test_key_format(void) { TEST_EXPECT(x == 1); return 0; }
 *   UNIT_MAIN(UNIT_TEST(test_key_format), UNIT_TEST(test_other))
 */
#ifndef TIDEFS_UNIT_H
#define TIDEFS_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
    const char *name;
    int (*fn)(void);
};

static int unit_failures_in_test;

#define TEST_EXPECT(cond)                                                                \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: expectation failed: %s\n", __FILE__, __LINE__, #cond); \
            unit_failures_in_test++;                                                     \
        }                                                                                \
    } while (0)

#define TEST_ASSERT(cond)                                                               \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            return -1;                                                                  \
        }                                                                               \
    } while (0)

#define UNIT_TEST(f) {#f, f}

#define UNIT_MAIN(...)                                                                  \
    int main(void)                                                                      \
    {                                                                                   \
        static const struct unit_test tests[] = {__VA_ARGS__};                          \
        int passed = 0, failed = 0;                                                     \
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {                 \
            unit_failures_in_test = 0;                                                  \
            int rc = tests[i].fn();                                                     \
            if (rc == 0 && unit_failures_in_test == 0) {                                \
                passed++;                                                               \
            } else {                                                                    \
                failed++;                                                               \
                fprintf(stderr, "FAIL %s\n", tests[i].name);                            \
            }                                                                           \
        }                                                                               \
        printf("%s: %d passed, %d failed\n", __FILE__, passed, failed);                 \
        return failed ? 1 : 0;                                                          \
    }

#endif
