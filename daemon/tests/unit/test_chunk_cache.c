/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk store's caches and codecs, on a real file store:
 *  1. lz4 and zstd round trips: stored objects are compressed (smaller
 *     for compressible data), and read back equal from a cold store,
 *     incompressible data too
 *  2. disk cache: a cold read fills it, the next cold store reads from it
 *     without touching the object store, a corrupted or truncated cache
 *     file silently falls back to the store; its size stays bounded
 *  3. singleflight: 8 threads reading one uncached block cause one GET
 *  4. sequential reads prefetch the next blocks; random reads fetch only
 *     what they read
 *  5. the memory cache stays within buffer_size while reading more
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "chunk_fixture.h"
#include "unit.h"

#define MiB (1ULL << 20)

static int write_file(struct fixture *fx, uint64_t ino, const char *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 300000 ? len - off : 300000;
        int rc = chunk_write(fx->cs, ino, off, data + off, n);
        if (rc < 0)
            return rc;
        off += n;
    }
    return chunk_flush(fx->cs, ino);
}

static int read_equal(struct fixture *fx, struct chunk_reader *r, uint64_t ino, const char *want, uint64_t off,
                      size_t len)
{
    char *got = malloc(len);
    int rc = fx_read(fx, r, ino, off, len, got);
    int same = rc == 0 && memcmp(got, want + off, len) == 0;
    free(got);
    return same;
}

struct sum_arg {
    uint64_t total;
    int n;
};

static int sum_sizes(void *arg, const char *key, uint64_t size, int64_t mtime)
{
    struct sum_arg *s = arg;
    (void)key, (void)mtime;
    s->total += size;
    s->n++;
    return 0;
}

static int roundtrip(enum chunk_compress c)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.compress = c;
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    size_t len = 3 * MiB + 777;
    char *text = malloc(len), *noise = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = "tidefs stores blocks\n"[i % 21];
    fx_fill(noise, len, 9);
    TEST_ASSERT(write_file(&fx, 1, text, len) == 0);
    struct sum_arg sum = {0};
    TEST_EXPECT(store_list(fx.obj, "", NULL, sum_sizes, &sum) == 0 && sum.n == 4);
    TEST_EXPECT(sum.total < len / 10);
    TEST_ASSERT(write_file(&fx, 2, noise, len) == 0);
    TEST_ASSERT(fx_reopen(&fx) == 0);
    TEST_EXPECT(read_equal(&fx, NULL, 1, text, 0, len));
    TEST_EXPECT(read_equal(&fx, NULL, 2, noise, 0, len));
    TEST_EXPECT(read_equal(&fx, NULL, 2, noise, MiB - 3, 10));
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.blocks_fetched == 8);

    /* a stored block that does not decompress is an I/O error */
    char key[256], junk[100] = "not a compressed block";
    chunk_block_key(key, sizeof(key), FX_VOLUME, fx.recs[0].s.id, 3, 777);
    TEST_ASSERT(store_put(fx.obj, key, junk, sizeof(junk)) == 0);
    TEST_ASSERT(fx_reopen(&fx) == 0);
    char buf[10];
    TEST_EXPECT(fx_read(&fx, NULL, 1, 3 * MiB, 10, buf) == -EIO);
    free(text);
    free(noise);
    fx_close(&fx);
    return 0;
}

static int test_lz4(void)
{
    return roundtrip(CHUNK_COMPRESS_LZ4);
}

static int test_zstd(void)
{
    return roundtrip(CHUNK_COMPRESS_ZSTD);
}

/* Applies `how` to the disk-cache file of block (id, index, bsize). */
static int damage_cache_file(const char *cache, uint64_t id, uint32_t index, uint32_t bsize, int how)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/raw/%llu/%llu/%llu_%u_%u", cache, FX_VOLUME,
             (unsigned long long)(id / 1000000), (unsigned long long)(id / 1000), (unsigned long long)id, index,
             bsize);
    if (how == 0)
        return truncate(path, bsize / 2);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    char c;
    int rc = pread(fd, &c, 1, 12345) == 1 ? 0 : -1;
    c ^= 0x40;
    if (rc == 0 && pwrite(fd, &c, 1, 12345) != 1)
        rc = -1;
    close(fd);
    return rc;
}

static int test_disk_cache(void)
{
    char cache[64];
    snprintf(cache, sizeof(cache), "/tmp/tidefs-dcache-XXXXXX");
    TEST_ASSERT(mkdtemp(cache));
    struct chunk_config cfg = fx_default_cfg();
    cfg.cache_dir = cache;
    cfg.cache_size = 3 * MiB + 1024; /* room for 3 of the 4 blocks (and their trailers) */
    cfg.free_space_ratio = -1;      /* however full the test machine's disk is */
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    size_t len = 4 * MiB;
    char *data = malloc(len);
    fx_fill(data, len, 11);
    TEST_ASSERT(write_file(&fx, 1, data, len) == 0);
    uint64_t id = fx.recs[0].s.id;
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st); /* written blocks are cached too, within the limit */
    TEST_EXPECT(st.disk_cache_bytes <= cfg.cache_size && st.disk_cache_bytes >= 2 * MiB);

    fx_rm_rf(cache); /* from here on: what reads put there */
    TEST_ASSERT(fx_reopen(&fx) == 0);
    TEST_EXPECT(read_equal(&fx, NULL, 1, data, 0, 3 * MiB)); /* fills the disk cache */
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.blocks_fetched == 3 && st.disk_cache_hits == 0);

    TEST_ASSERT(fx_reopen(&fx) == 0); /* the fills are done; the index is rebuilt from the directory */
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.disk_cache_bytes <= cfg.cache_size && st.disk_cache_bytes >= 3 * MiB);
    TEST_EXPECT(read_equal(&fx, NULL, 1, data, 0, 3 * MiB));
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.blocks_fetched == 0 && st.disk_cache_hits == 3);

    TEST_ASSERT(damage_cache_file(cache, id, 1, MiB, 1) == 0); /* flipped byte */
    TEST_ASSERT(damage_cache_file(cache, id, 2, MiB, 0) == 0); /* torn file */
    TEST_ASSERT(fx_reopen(&fx) == 0);
    TEST_EXPECT(read_equal(&fx, NULL, 1, data, 0, 3 * MiB));
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.disk_cache_hits == 1 && st.blocks_fetched == 2);

    TEST_EXPECT(read_equal(&fx, NULL, 1, data, 3 * MiB, MiB)); /* a 4th block evicts one */
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.disk_cache_bytes <= cfg.cache_size);
    free(data);
    fx_close(&fx);
    fx_rm_rf(cache);
    return 0;
}

/* A small random read of a block on disk reads (and checks) just its
 * range; a damaged segment there falls back to the store. */
static int test_disk_cache_range(void)
{
    char cache[64];
    snprintf(cache, sizeof(cache), "/tmp/tidefs-dcache-XXXXXX");
    TEST_ASSERT(mkdtemp(cache));
    struct chunk_config cfg = fx_default_cfg();
    cfg.cache_dir = cache;
    cfg.free_space_ratio = -1;
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    size_t len = 40 * MiB; /* reads far apart look random to the reader */
    char *data = malloc(len);
    fx_fill(data, len, 16);
    TEST_ASSERT(write_file(&fx, 1, data, len) == 0); /* cached on disk as written */
    TEST_ASSERT(fx_reopen(&fx) == 0);
    struct chunk_reader *r = chunk_reader_new(fx.cs, 1);
    TEST_EXPECT(read_equal(&fx, r, 1, data, 30 * MiB + 300000, 4096));
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.disk_cache_hits == 1 && st.blocks_fetched == 0 && st.cache_bytes == 0);

    TEST_ASSERT(damage_cache_file(cache, fx.recs[0].s.id, 0, MiB, 1) == 0); /* byte 12345 */
    TEST_EXPECT(read_equal(&fx, r, 1, data, 12000, 1000)); /* its segment is damaged */
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.blocks_fetched == 1 && st.disk_cache_hits == 1);
    chunk_reader_free(r);
    free(data);
    fx_close(&fx);
    fx_rm_rf(cache);
    return 0;
}

/* Below --free-space-ratio free on its disk the cache takes nothing. */
static int test_free_space_ratio(void)
{
    char cache[64];
    snprintf(cache, sizeof(cache), "/tmp/tidefs-dcache-XXXXXX");
    TEST_ASSERT(mkdtemp(cache));
    struct chunk_config cfg = fx_default_cfg();
    cfg.cache_dir = cache;
    cfg.free_space_ratio = 0.9999; /* no real disk is that empty */
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    char *data = malloc(2 * MiB);
    fx_fill(data, 2 * MiB, 15);
    TEST_ASSERT(write_file(&fx, 1, data, 2 * MiB) == 0);
    TEST_ASSERT(fx_reopen(&fx) == 0);
    TEST_EXPECT(read_equal(&fx, NULL, 1, data, 0, 2 * MiB));
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.disk_cache_bytes == 0 && st.blocks_fetched == 2);
    free(data);
    fx_close(&fx);
    fx_rm_rf(cache);
    return 0;
}

struct reader_arg {
    struct fixture *fx;
    const char *want;
    int ok;
};

static void *read_thread(void *p)
{
    struct reader_arg *a = p;
    a->ok = read_equal(a->fx, NULL, 1, a->want, 100, 5000);
    return NULL;
}

static int test_singleflight(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    char *data = malloc(MiB);
    fx_fill(data, MiB, 12);
    TEST_ASSERT(write_file(&fx, 1, data, MiB) == 0);
    for (int round = 0; round < 5; round++) {
        TEST_ASSERT(fx_reopen(&fx) == 0);
        pthread_t th[8];
        struct reader_arg args[8];
        for (int i = 0; i < 8; i++) {
            args[i] = (struct reader_arg){&fx, data, 0};
            TEST_ASSERT(pthread_create(&th[i], NULL, read_thread, &args[i]) == 0);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            TEST_EXPECT(args[i].ok);
        }
        struct chunk_stats st;
        chunk_store_stats(fx.cs, &st);
        TEST_EXPECT(st.blocks_fetched == 1);
    }
    free(data);
    fx_close(&fx);
    return 0;
}

/* Waits up to 2 s for the fetch counter to reach `want`. */
static uint64_t wait_fetched(struct fixture *fx, uint64_t want)
{
    struct chunk_stats st;
    for (int i = 0; i < 200; i++) {
        chunk_store_stats(fx->cs, &st);
        if (st.blocks_fetched >= want)
            break;
        usleep(10000);
    }
    return st.blocks_fetched;
}

static int test_readahead(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    size_t len = 16 * MiB;
    char *data = malloc(len);
    fx_fill(data, len, 13);
    TEST_ASSERT(write_file(&fx, 1, data, len) == 0);

    /* sequential: reading 2 blocks prefetches the ones after */
    TEST_ASSERT(fx_reopen(&fx) == 0);
    struct chunk_reader *r = chunk_reader_new(fx.cs, 1);
    TEST_ASSERT(r);
    for (uint64_t off = 0; off < 2 * MiB; off += 256 << 10)
        TEST_EXPECT(read_equal(&fx, r, 1, data, off, 256 << 10));
    TEST_EXPECT(wait_fetched(&fx, 5) >= 5);
    chunk_reader_free(r);

    /* random: only the blocks read */
    TEST_ASSERT(fx_reopen(&fx) == 0);
    r = chunk_reader_new(fx.cs, 1);
    static const uint64_t offs[] = {9 * MiB + 5, 2 * MiB + 7, 14 * MiB, 5 * MiB + 100, 11 * MiB};
    for (int i = 0; i < 5; i++)
        TEST_EXPECT(read_equal(&fx, r, 1, data, offs[i], 4096));
    usleep(100000);
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.blocks_fetched == 5);
    chunk_reader_free(r);
    free(data);
    fx_close(&fx);
    return 0;
}

static int test_cache_bounded(void)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.buffer_size = 8 * MiB;
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    size_t len = 40 * MiB;
    char *data = malloc(len);
    fx_fill(data, len, 14);
    TEST_ASSERT(write_file(&fx, 1, data, len) == 0);
    TEST_ASSERT(fx_reopen(&fx) == 0);
    struct chunk_reader *r = chunk_reader_new(fx.cs, 1);
    for (uint64_t off = 0; off < len; off += MiB)
        TEST_EXPECT(read_equal(&fx, r, 1, data, off, MiB));
    chunk_reader_free(r);
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.mem_peak <= cfg.buffer_size + MiB); /* one in-flight load of slack */
    TEST_EXPECT(st.cache_bytes <= cfg.buffer_size);
    free(data);
    fx_close(&fx);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_lz4), UNIT_TEST(test_zstd), UNIT_TEST(test_disk_cache), UNIT_TEST(test_free_space_ratio),
          UNIT_TEST(test_disk_cache_range),
          UNIT_TEST(test_singleflight),
          UNIT_TEST(test_readahead), UNIT_TEST(test_cache_bounded))
