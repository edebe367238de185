/* SPDX-License-Identifier: Apache-2.0
 *
 * Slice resolution (chunk_resolve), newest on top:
 *  1. no slices: nothing
 *  2. one slice with an off/len window, leading gap as zeros
 *  3. the worked overlap example (split of an older slice by a newer one)
 *  4. hole slices and gaps merge into single zero segments
 *  5. invalid slices (beyond the chunk, window outside the object) refused
 *  6. randomized: 20,000 random slice lists against a byte-array model
 *  7. chunk_range_is_hole: holes, gaps and past-the-end vs data
 */
#include <errno.h>
#include <stdlib.h>

#include "chunk/chunk.h"
#include "unit.h"

static int test_empty(void)
{
    struct chunk_segment *segs;
    size_t n = 7;
    TEST_ASSERT(chunk_resolve(NULL, 0, &segs, &n) == 0);
    TEST_EXPECT(n == 0);
    free(segs);
    return 0;
}

static int test_single_window(void)
{
    struct meta_slice s = {.pos = 100, .id = 5, .size = 1000, .off = 10, .len = 50};
    struct chunk_segment *g;
    size_t n;
    TEST_ASSERT(chunk_resolve(&s, 1, &g, &n) == 0);
    TEST_ASSERT(n == 2);
    TEST_EXPECT(g[0].pos == 0 && g[0].len == 100 && g[0].id == 0);
    TEST_EXPECT(g[1].pos == 100 && g[1].len == 50 && g[1].id == 5 && g[1].size == 1000 && g[1].off == 10);
    free(g);
    return 0;
}

static int test_overlap_split(void)
{
    /* A covers [0,100); B covers [30,60): A is split around B */
    struct meta_slice s[] = {{.pos = 0, .id = 1, .size = 100, .off = 0, .len = 100},
                             {.pos = 30, .id = 2, .size = 30, .off = 0, .len = 30}};
    struct chunk_segment *g;
    size_t n;
    TEST_ASSERT(chunk_resolve(s, 2, &g, &n) == 0);
    TEST_ASSERT(n == 3);
    TEST_EXPECT(g[0].pos == 0 && g[0].len == 30 && g[0].id == 1 && g[0].off == 0);
    TEST_EXPECT(g[1].pos == 30 && g[1].len == 30 && g[1].id == 2 && g[1].off == 0);
    TEST_EXPECT(g[2].pos == 60 && g[2].len == 40 && g[2].id == 1 && g[2].off == 60);
    free(g);
    return 0;
}

static int test_holes_merge(void)
{
    struct meta_slice s[] = {{.pos = 0, .id = 1, .size = 100, .off = 0, .len = 100},
                             {.pos = 50, .id = 0, .len = 100},
                             {.pos = 200, .id = 3, .size = 10, .off = 0, .len = 10}};
    struct chunk_segment *g;
    size_t n;
    TEST_ASSERT(chunk_resolve(s, 3, &g, &n) == 0);
    TEST_ASSERT(n == 3);
    TEST_EXPECT(g[0].pos == 0 && g[0].len == 50 && g[0].id == 1);
    TEST_EXPECT(g[1].pos == 50 && g[1].len == 150 && g[1].id == 0); /* hole + gap */
    TEST_EXPECT(g[2].pos == 200 && g[2].len == 10 && g[2].id == 3);
    free(g);
    return 0;
}

static int test_invalid(void)
{
    struct chunk_segment *g;
    size_t n;
    struct meta_slice past = {.pos = META_CHUNK_SIZE - 10, .id = 1, .size = 20, .off = 0, .len = 20};
    TEST_EXPECT(chunk_resolve(&past, 1, &g, &n) == -EINVAL);
    struct meta_slice window = {.pos = 0, .id = 1, .size = 20, .off = 10, .len = 20};
    TEST_EXPECT(chunk_resolve(&window, 1, &g, &n) == -EINVAL);
    struct meta_slice at_end = {.pos = META_CHUNK_SIZE - 20, .id = 1, .size = 20, .off = 0, .len = 20};
    TEST_EXPECT(chunk_resolve(&at_end, 1, &g, &n) == 0 && n == 2 && g[1].pos + g[1].len == META_CHUNK_SIZE);
    free(g);
    return 0;
}

#define MODEL_LEN 300

/* model[x] = (id << 32) | offset-in-slice, or 0 for zeros */
static void model_paint(uint64_t *model, const struct meta_slice *s)
{
    for (uint32_t x = 0; x < s->len; x++)
        model[s->pos + x] = s->id ? (s->id << 32) | (s->off + x) : 0;
}

static int check_against_model(const struct meta_slice *s, size_t ns)
{
    uint64_t model[MODEL_LEN] = {0};
    uint32_t end = 0;
    for (size_t k = 0; k < ns; k++) {
        model_paint(model, &s[k]);
        if (s[k].len && s[k].pos + s[k].len > end)
            end = s[k].pos + s[k].len;
    }
    struct chunk_segment *g;
    size_t n;
    TEST_ASSERT(chunk_resolve(s, ns, &g, &n) == 0);
    uint32_t at = 0;
    for (size_t k = 0; k < n; k++) {
        TEST_ASSERT(g[k].pos == at && g[k].len > 0);
        TEST_ASSERT(!(k && g[k].id == 0 && g[k - 1].id == 0));
        for (uint32_t x = 0; x < g[k].len; x++) {
            uint64_t want = model[g[k].pos + x];
            uint64_t got = g[k].id ? (g[k].id << 32) | (g[k].off + x) : 0;
            TEST_ASSERT(want == got);
            TEST_ASSERT(!g[k].id || g[k].off + g[k].len <= g[k].size);
        }
        at += g[k].len;
    }
    TEST_ASSERT(at == end);
    free(g);
    return 0;
}

static int test_random_vs_model(void)
{
    srandom(42);
    for (int iter = 0; iter < 20000; iter++) {
        struct meta_slice s[12];
        size_t ns = (size_t)(random() % 12);
        for (size_t k = 0; k < ns; k++) {
            uint32_t pos = (uint32_t)(random() % 250);
            uint32_t len = (uint32_t)(random() % (MODEL_LEN - pos));
            uint32_t off = (uint32_t)(random() % 20);
            uint64_t id = random() % 5 == 0 ? 0 : k + 1;
            s[k] = (struct meta_slice){.pos = pos, .id = id, .size = off + len + (uint32_t)(random() % 3),
                                       .off = off, .len = len};
        }
        if (check_against_model(s, ns) != 0) {
            fprintf(stderr, "iteration %d differs from the model\n", iter);
            return -1;
        }
    }
    return 0;
}

static int test_range_is_hole(void)
{
    struct meta_slice s[] = {{.pos = 100, .id = 1, .size = 100, .off = 0, .len = 100},
                             {.pos = 130, .id = 0, .len = 20},
                             {.pos = 300, .id = 0, .len = 1000}};
    TEST_EXPECT(chunk_range_is_hole(NULL, 0, 0, 4096));
    TEST_EXPECT(chunk_range_is_hole(s, 3, 0, 100));      /* gap before */
    TEST_EXPECT(!chunk_range_is_hole(s, 3, 0, 101));
    TEST_EXPECT(chunk_range_is_hole(s, 3, 130, 20));     /* punched */
    TEST_EXPECT(!chunk_range_is_hole(s, 3, 129, 2));
    TEST_EXPECT(!chunk_range_is_hole(s, 3, 149, 2));
    TEST_EXPECT(chunk_range_is_hole(s, 3, 200, 5000));   /* gap, hole, past the end */
    struct meta_slice bad = {.pos = 0, .id = 1, .size = 1, .off = 0, .len = 2};
    TEST_EXPECT(!chunk_range_is_hole(&bad, 1, 0, 1));
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_range_is_hole), UNIT_TEST(test_empty), UNIT_TEST(test_single_window), UNIT_TEST(test_overlap_split),
          UNIT_TEST(test_holes_merge), UNIT_TEST(test_invalid), UNIT_TEST(test_random_vs_model))
