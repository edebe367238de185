/* SPDX-License-Identifier: Apache-2.0
 *
 * The chunk store's write and read paths end to end, on a real file store
 * (see chunk_fixture.h for the in-test commit hook):
 *  1. sequential write -> flush -> one slice committed per chunk, objects
 *     named by the key scheme, content read back equal
 *  2. unaligned writes across block and chunk boundaries, read back
 *  3. randomized overlapping writes (with flushes in between) against a
 *     byte-array model, around a chunk boundary; commit order per chunk
 *  4. holes: no slices, id-0 slices, gaps and past-the-end read as zeros
 *  5. chunk_dirty reports the pending length until the flush commits
 *  6. memory bound: 512 MiB written with buffer_size 64 MiB stays under it
 *  7. several threads writing different inodes at once, and one inode
 *     (disjoint ranges) at once
 *  8. an upload failure is returned by the next flush, then cleared
 *  9. a commit hook failure is returned by the flush
 * 10. chunk_delete_slice removes every block object
 * 11. bad configuration refused
 */
#include <sys/stat.h>

#include "chunk_fixture.h"
#include "unit.h"

#define MiB (1ULL << 20)

static int count_objects(void *arg, const char *key, uint64_t size, int64_t mtime)
{
    (void)key, (void)size, (void)mtime;
    (*(int *)arg)++;
    return 0;
}

static int check_file(struct fixture *fx, uint64_t ino, const char *want, uint64_t off, size_t len)
{
    char *got = malloc(len);
    TEST_ASSERT(got);
    int rc = fx_read(fx, NULL, ino, off, len, got);
    int same = rc == 0 && memcmp(got, want, len) == 0;
    if (!same) {
        size_t i = 0;
        while (rc == 0 && i < len && got[i] == want[i])
            i++;
        fprintf(stderr, "ino %llu: read rc %d, first difference at %llu\n", (unsigned long long)ino, rc,
                (unsigned long long)(off + i));
    }
    free(got);
    return same ? 0 : -1;
}

static int test_sequential_roundtrip(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    size_t len = 5 * MiB + 12345;
    char *data = malloc(len);
    fx_fill(data, len, 1);
    for (size_t off = 0; off < len; off += 128 << 10) {
        size_t n = len - off < (128 << 10) ? len - off : 128 << 10;
        TEST_ASSERT(chunk_write(fx.cs, 7, off, data + off, n) == 0);
    }
    TEST_EXPECT(chunk_flush(fx.cs, 7) == 0);
    TEST_ASSERT(fx.nrecs == 1);
    TEST_EXPECT(fx.recs[0].ino == 7 && fx.recs[0].indx == 0 && fx.recs[0].s.pos == 0);
    TEST_EXPECT(fx.recs[0].s.size == len && fx.recs[0].s.len == len && fx.recs[0].s.off == 0);

    char key[256];
    uint64_t size;
    chunk_block_key(key, sizeof(key), FX_VOLUME, fx.recs[0].s.id, 5, 12345);
    TEST_EXPECT(store_head(fx.obj, key, &size) == 0 && size == 12345);
    chunk_block_key(key, sizeof(key), FX_VOLUME, fx.recs[0].s.id, 0, 1 << 20);
    TEST_EXPECT(store_head(fx.obj, key, &size) == 0 && size == MiB);
    int nobj = 0;
    TEST_EXPECT(store_list(fx.obj, FX_VOLUME "/chunks/", NULL, count_objects, &nobj) == 0 && nobj == 6);

    TEST_EXPECT(check_file(&fx, 7, data, 0, len) == 0);
    TEST_EXPECT(fx_reopen(&fx) == 0); /* cold caches: from the store */
    TEST_EXPECT(check_file(&fx, 7, data, 0, len) == 0);
    TEST_EXPECT(check_file(&fx, 7, data + 3 * MiB - 5, 3 * MiB - 5, 10) == 0);
    free(data);
    fx_close(&fx);
    return 0;
}

static int test_chunk_boundary(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    uint64_t start = META_CHUNK_SIZE - 3 * MiB - 777;
    size_t len = 6 * MiB + 1000;
    char *data = malloc(len);
    fx_fill(data, len, 2);
    /* odd-sized pieces so writes straddle blocks and the chunk end */
    for (size_t off = 0; off < len;) {
        size_t n = 100003 < len - off ? 100003 : len - off;
        TEST_ASSERT(chunk_write(fx.cs, 9, start + off, data + off, n) == 0);
        off += n;
    }
    TEST_EXPECT(chunk_flush(fx.cs, 9) == 0);
    TEST_ASSERT(fx.nrecs == 2);
    /* one slice per chunk; chunks may commit in either order */
    struct fx_rec *r0 = &fx.recs[fx.recs[0].indx == 0 ? 0 : 1], *r1 = &fx.recs[fx.recs[0].indx == 0 ? 1 : 0];
    TEST_EXPECT(r0->indx == 0 && r0->s.pos == start && r0->s.len == META_CHUNK_SIZE - start);
    TEST_EXPECT(r1->indx == 1 && r1->s.pos == 0 && r1->s.len == len - (META_CHUNK_SIZE - start));
    TEST_EXPECT(check_file(&fx, 9, data, start, len) == 0);
    char *zero = calloc(1, 4096);
    TEST_EXPECT(check_file(&fx, 9, zero, start - 4096, 4096) == 0);
    free(zero);
    free(data);
    fx_close(&fx);
    return 0;
}

/* model: bytes of the window [base, base + MODEL) of inode 3 */
#define MODEL (8 * MiB)

static int test_random_overwrites(void)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.block_size = 256 << 10; /* many blocks per slice */
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    uint64_t base = META_CHUNK_SIZE - MODEL / 2;
    char *model = calloc(1, MODEL), *buf = malloc(MiB);
    srandom(7);
    for (int i = 0; i < 300; i++) {
        size_t off;
        size_t len = (size_t)(random() % (random() % 4 ? 70000 : (long)MiB)) + 1;
        off = (size_t)random() % (MODEL - len);
        if (i % 3 == 0 && i) /* often continue where the last write ended */
            off = (size_t)(random() % 2 ? off : off & ~(size_t)4095);
        fx_fill(buf, len, (uint64_t)i + 100);
        memcpy(model + off, buf, len);
        TEST_ASSERT(chunk_write(fx.cs, 3, base + off, buf, len) == 0);
        if (i % 50 == 49)
            TEST_ASSERT(chunk_flush(fx.cs, 3) == 0);
    }
    TEST_ASSERT(chunk_flush(fx.cs, 3) == 0);
    TEST_EXPECT(fx.order_violations == 0);
    TEST_EXPECT(check_file(&fx, 3, model, base, MODEL) == 0);
    TEST_EXPECT(fx_reopen(&fx) == 0);
    TEST_EXPECT(check_file(&fx, 3, model, base, MODEL) == 0);
    free(model);
    free(buf);
    fx_close(&fx);
    return 0;
}

static int test_holes(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    char buf[8192], zero[8192] = {0};
    memset(buf, 'x', sizeof(buf));
    TEST_EXPECT(chunk_read(fx.cs, NULL, 4, NULL, 0, 1000, sizeof(buf), buf) == 0);
    TEST_EXPECT(memcmp(buf, zero, sizeof(buf)) == 0);

    char data[3000];
    fx_fill(data, sizeof(data), 3);
    TEST_ASSERT(chunk_write(fx.cs, 5, 10000, data, sizeof(data)) == 0);
    TEST_ASSERT(chunk_flush(fx.cs, 5) == 0);
    TEST_ASSERT(fx.nrecs == 1);
    /* a punched hole over the middle of the data, as truncate/fallocate do */
    struct meta_slice s[2] = {fx.recs[0].s, {.pos = 11000, .id = 0, .len = 500}};
    memset(buf, 'x', sizeof(buf));
    TEST_ASSERT(chunk_read(fx.cs, NULL, 0, s, 2, 8000, sizeof(buf), buf) == 0);
    TEST_EXPECT(memcmp(buf, zero, 2000) == 0);                     /* gap before */
    TEST_EXPECT(memcmp(buf + 2000, data, 1000) == 0);
    TEST_EXPECT(memcmp(buf + 3000, zero, 500) == 0);               /* hole */
    TEST_EXPECT(memcmp(buf + 3500, data + 1500, 1500) == 0);
    TEST_EXPECT(memcmp(buf + 5000, zero, sizeof(buf) - 5000) == 0); /* past the end */
    TEST_EXPECT(chunk_read(fx.cs, NULL, 0, s, 2, META_CHUNK_SIZE - 10, 20, buf) == -EINVAL);
    fx_close(&fx);
    return 0;
}

static int test_dirty(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    uint64_t len = 1;
    TEST_EXPECT(!chunk_dirty(fx.cs, 11, &len) && len == 0);
    char data[100] = {1};
    TEST_ASSERT(chunk_write(fx.cs, 11, META_CHUNK_SIZE + 50, data, sizeof(data)) == 0);
    TEST_ASSERT(chunk_write(fx.cs, 11, 10, data, sizeof(data)) == 0);
    TEST_EXPECT(chunk_dirty(fx.cs, 11, &len) && len == META_CHUNK_SIZE + 150);
    TEST_EXPECT(chunk_flush(fx.cs, 11) == 0);
    TEST_EXPECT(!chunk_dirty(fx.cs, 11, &len) && len == 0);
    TEST_EXPECT(fx.nrecs == 2);
    TEST_EXPECT(chunk_flush(fx.cs, 12345) == 0); /* never written */
    fx_close(&fx);
    return 0;
}

static int test_memory_bound(void)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.block_size = 4 << 20;
    cfg.buffer_size = 64 << 20;
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    char *buf = malloc(MiB);
    fx_fill(buf, MiB, 4);
    for (uint64_t off = 0; off < 512 * MiB; off += MiB) {
        buf[0] = (char)(off >> 20);
        TEST_ASSERT(chunk_write(fx.cs, 21, off, buf, MiB) == 0);
    }
    TEST_EXPECT(chunk_flush(fx.cs, 21) == 0);
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    printf("memory bound: peak %llu MiB of %llu MiB, %llu blocks, %llu slices\n",
           (unsigned long long)(st.mem_peak >> 20), (unsigned long long)(st.mem_limit >> 20),
           (unsigned long long)st.blocks_uploaded, (unsigned long long)st.slices_committed);
    TEST_EXPECT(st.mem_peak <= cfg.buffer_size);
    TEST_EXPECT(st.mem_used <= cfg.buffer_size);
    TEST_EXPECT(st.blocks_uploaded == 128);
    TEST_EXPECT(st.slices_committed == 8); /* one per chunk: never cut by memory pressure */
    buf[0] = 77;
    TEST_EXPECT(check_file(&fx, 21, buf, 77 * MiB, MiB) == 0);
    free(buf);
    fx_close(&fx);
    return 0;
}

struct writer_arg {
    struct fixture *fx;
    uint64_t ino;
    int rc;
};

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;
    size_t len = 6 * MiB + 4321;
    char *data = malloc(len);
    fx_fill(data, len, a->ino);
    for (size_t off = 0; off < len && a->rc == 0;) {
        size_t n = (size_t)(a->ino * 7919 % 200000) + 4096;
        n = n < len - off ? n : len - off;
        a->rc = chunk_write(a->fx->cs, a->ino, off, data + off, n);
        off += n;
    }
    if (a->rc == 0)
        a->rc = chunk_flush(a->fx->cs, a->ino);
    free(data);
    return NULL;
}

static int test_concurrent_inodes(void)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.buffer_size = 16 << 20; /* tight: writers contend for memory */
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    pthread_t th[6];
    struct writer_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (struct writer_arg){&fx, 100 + (uint64_t)i, 0};
        TEST_ASSERT(pthread_create(&th[i], NULL, writer_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    size_t len = 6 * MiB + 4321;
    char *data = malloc(len);
    for (int i = 0; i < 6; i++) {
        TEST_EXPECT(args[i].rc == 0);
        fx_fill(data, len, args[i].ino);
        TEST_EXPECT(check_file(&fx, args[i].ino, data, 0, len) == 0);
    }
    TEST_EXPECT(fx.order_violations == 0);
    struct chunk_stats st;
    chunk_store_stats(fx.cs, &st);
    TEST_EXPECT(st.mem_peak <= cfg.buffer_size);
    free(data);
    fx_close(&fx);
    return 0;
}

struct same_arg {
    struct fixture *fx;
    const char *data;
    int part;
    int rc;
};

#define SAME_PART (3 * MiB + 333)

static void *same_inode_thread(void *p)
{
    struct same_arg *a = p;
    uint64_t base = (uint64_t)a->part * SAME_PART;
    for (size_t off = 0; off < SAME_PART && a->rc == 0; off += 65536) {
        size_t n = SAME_PART - off < 65536 ? SAME_PART - off : 65536;
        a->rc = chunk_write(a->fx->cs, 200, base + off, a->data + base + off, n);
    }
    return NULL;
}

static int test_concurrent_one_inode(void)
{
    struct chunk_config cfg = fx_default_cfg();
    cfg.buffer_size = 8 << 20;
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, &cfg, NULL) == 0);
    char *data = malloc(4 * SAME_PART);
    fx_fill(data, 4 * SAME_PART, 77);
    pthread_t th[4];
    struct same_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct same_arg){&fx, data, i, 0};
        TEST_ASSERT(pthread_create(&th[i], NULL, same_inode_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        TEST_EXPECT(args[i].rc == 0);
    }
    TEST_EXPECT(chunk_flush(fx.cs, 200) == 0);
    TEST_EXPECT(fx.order_violations == 0);
    TEST_EXPECT(check_file(&fx, 200, data, 0, 4 * SAME_PART) == 0);
    free(data);
    fx_close(&fx);
    return 0;
}

static int test_upload_failure(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    char data[5000] = {1}, path[128];
    /* replace the bucket by a regular file: every put now fails */
    snprintf(path, sizeof(path), "%s.moved", fx.dir);
    TEST_ASSERT(rename(fx.dir, path) == 0);
    FILE *f = fopen(fx.dir, "w");
    TEST_ASSERT(f);
    fclose(f);
    TEST_ASSERT(chunk_write(fx.cs, 31, 0, data, sizeof(data)) == 0);
    int rc = chunk_flush(fx.cs, 31);
    TEST_EXPECT(rc == -ENOTDIR || rc == -ENOENT);
    TEST_EXPECT(fx.nrecs == 0); /* nothing committed without its blocks */
    TEST_EXPECT(chunk_flush(fx.cs, 31) == 0); /* reported once */

    /* a failure seen by the background is returned by the next write */
    TEST_ASSERT(chunk_write(fx.cs, 32, 0, data, sizeof(data)) == 0);
    TEST_EXPECT(chunk_flush_all(fx.cs) != 0);
    TEST_ASSERT(chunk_write(fx.cs, 33, 0, data, sizeof(data)) == 0);
    chunk_flush(fx.cs, 33);
    unlink(fx.dir);
    TEST_ASSERT(rename(path, fx.dir) == 0);
    TEST_EXPECT(chunk_write(fx.cs, 33, 0, data, sizeof(data)) == 0);
    TEST_EXPECT(chunk_flush(fx.cs, 33) == 0 && fx.nrecs == 1);
    fx_close(&fx);
    return 0;
}

static int test_commit_failure(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    char data[5000] = {1};
    fx.fail_commit = -ENOSPC;
    TEST_ASSERT(chunk_write(fx.cs, 41, 0, data, sizeof(data)) == 0);
    TEST_EXPECT(chunk_flush(fx.cs, 41) == -ENOSPC);
    fx.fail_commit = 0;
    TEST_ASSERT(chunk_write(fx.cs, 41, 0, data, sizeof(data)) == 0);
    TEST_EXPECT(chunk_flush(fx.cs, 41) == 0 && fx.nrecs == 1);
    fx_close(&fx);
    return 0;
}

static int test_delete_slice(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    size_t len = 3 * MiB + 10;
    char *data = malloc(len);
    fx_fill(data, len, 5);
    TEST_ASSERT(chunk_write(fx.cs, 51, 0, data, len) == 0);
    TEST_ASSERT(chunk_flush(fx.cs, 51) == 0 && fx.nrecs == 1);
    int n = 0;
    TEST_EXPECT(store_list(fx.obj, FX_VOLUME "/", NULL, count_objects, &n) == 0 && n == 4);
    TEST_EXPECT(chunk_delete_slice(fx.cs, fx.recs[0].s.id, fx.recs[0].s.size) == 0);
    n = 0;
    TEST_EXPECT(store_list(fx.obj, FX_VOLUME "/", NULL, count_objects, &n) == 0 && n == 0);
    char buf[100];
    TEST_EXPECT(chunk_read(fx.cs, NULL, 0, &fx.recs[0].s, 1, 0, sizeof(buf), buf) == -EIO);
    TEST_EXPECT(chunk_delete_slice(fx.cs, fx.recs[0].s.id, fx.recs[0].s.size) == 0);
    free(data);
    fx_close(&fx);
    return 0;
}

static int test_bad_config(void)
{
    struct fixture fx;
    TEST_ASSERT(fx_open(&fx, NULL, NULL) == 0);
    struct chunk_meta_hooks hooks = {&fx, fx_new_slice_id, fx_commit};
    struct chunk_store *cs = (struct chunk_store *)1;
    struct chunk_config cfg = fx_default_cfg();
    cfg.block_size = 0;
    TEST_EXPECT(chunk_store_new(&cfg, fx.obj, &hooks, &cs) == -EINVAL && cs == NULL);
    cfg = fx_default_cfg();
    cfg.compress = (enum chunk_compress)9;
    TEST_EXPECT(chunk_store_new(&cfg, fx.obj, &hooks, &cs) == -EINVAL);
    cfg = fx_default_cfg();
    cfg.volume = "";
    TEST_EXPECT(chunk_store_new(&cfg, fx.obj, &hooks, &cs) == -EINVAL);
    fx_close(&fx);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_sequential_roundtrip), UNIT_TEST(test_chunk_boundary), UNIT_TEST(test_random_overwrites),
          UNIT_TEST(test_holes), UNIT_TEST(test_dirty), UNIT_TEST(test_memory_bound),
          UNIT_TEST(test_concurrent_inodes), UNIT_TEST(test_concurrent_one_inode), UNIT_TEST(test_upload_failure), UNIT_TEST(test_commit_failure),
          UNIT_TEST(test_delete_slice), UNIT_TEST(test_bad_config))
