/* SPDX-License-Identifier: Apache-2.0
 *
 * `tidefs objbench` engine (see objbench.h). Each phase runs its operations
 * on `threads` threads taking object indexes from one atomic counter and
 * recording each operation's latency; the report gives p50/p90/p99/max and
 * throughput per phase. GET compares every byte with what PUT stored (the
 * content is a function of the index), so a store returning wrong data is
 * reported, not just a slow one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "object/objbench.h"

enum objbench_op { OB_PUT, OB_GET, OB_HEAD, OB_LIST, OB_DEL, OB_NOPS };

static const char *const op_names[OB_NOPS] = {"PUT", "GET", "HEAD", "LIST", "DELETE"};

struct bench {
    struct store *s;
    size_t size;
    int threads, objects, progress;
    char prefix[256];
    FILE *out;
    enum objbench_op op;
    int ops; /* operations in the current phase */
    atomic_int next, done, failed, wrong;
    double *lat_ms; /* per operation of the current phase, owned */
    double *end_s;  /* when each operation ended, owned */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(char *buf, size_t len, int idx)
{
    uint64_t x = (uint64_t)idx * 0x9E3779B97F4A7C15ull + 0x1234567;

    for (size_t i = 0; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    for (size_t i = len & ~(size_t)7; i < len; i++)
        buf[i] = (char)(idx + (int)i);
}

static int count_key(void *arg, const char *key, uint64_t size, int64_t mtime_ns)
{
    (void)key;
    (void)size;
    (void)mtime_ns;
    (*(int *)arg)++;
    return 0;
}

/* One operation on object idx; 0, -errno, or 1 for wrong data. */
static int one_op(struct bench *b, int idx, char *buf, char *back)
{
    char key[300];
    size_t got = 0;
    uint64_t size = 0;
    int n = 0, rc;

    snprintf(key, sizeof(key), "%sobj-%06d", b->prefix, idx);
    switch (b->op) {
    case OB_PUT:
        fill(buf, b->size, idx);
        return store_put(b->s, key, buf, b->size);
    case OB_GET:
        fill(buf, b->size, idx);
        rc = store_get(b->s, key, 0, b->size, back, &got);
        return rc ? rc : (got != b->size || memcmp(buf, back, b->size) != 0);
    case OB_HEAD:
        rc = store_head(b->s, key, &size);
        return rc ? rc : size != b->size;
    case OB_LIST:
        rc = store_list(b->s, b->prefix, NULL, count_key, &n);
        return rc ? rc : n != b->objects;
    case OB_DEL:
        return store_del(b->s, key);
    default:
        return -EINVAL;
    }
}

static void *worker(void *arg)
{
    struct bench *b = arg;
    int need = b->op == OB_PUT || b->op == OB_GET;
    char *buf = need ? malloc(b->size) : NULL, *back = b->op == OB_GET ? malloc(b->size) : NULL;
    int i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->ops) {
        double t0 = now_s();
        int rc = (need && !buf) || (b->op == OB_GET && !back) ? -ENOMEM : one_op(b, i, buf, back);
        b->end_s[i] = now_s();
        b->lat_ms[i] = (b->end_s[i] - t0) * 1000.0;
        if (rc < 0)
            atomic_fetch_add(&b->failed, 1);
        else if (rc > 0)
            atomic_fetch_add(&b->wrong, 1);
        atomic_fetch_add(&b->done, 1);
    }
    free(buf);
    free(back);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return n ? sorted[i] : 0;
}

/* Redraws the progress line every 0.2 s until the phase is done. */
static void show_progress(struct bench *b, double t0)
{
    while (atomic_load(&b->done) < b->ops) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        if (b->progress)
            fprintf(b->out, "\r\033[K%-6s %d/%d  %.1f s", op_names[b->op], atomic_load(&b->done), b->ops,
                    now_s() - t0);
        fflush(b->out);
    }
    if (b->progress)
        fprintf(b->out, "\r\033[K");
}

static int run_phase(struct bench *b, enum objbench_op op)
{
    pthread_t *t = calloc((size_t)b->threads, sizeof(*t));
    int started = 0;
    double t0 = now_s(), secs;

    if (!t)
        return -ENOMEM;
    b->op = op;
    b->ops = op == OB_LIST && b->objects > 10 ? 10 : b->objects; /* each LIST reads every key */
    atomic_store(&b->next, 0);
    atomic_store(&b->done, 0);
    for (; started < b->threads; started++)
        if (pthread_create(&t[started], NULL, worker, b) != 0)
            break;
    if (started == 0) {
        free(t);
        return -EAGAIN;
    }
    show_progress(b, t0);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    secs = 0;
    for (int i = 0; i < b->ops; i++) /* the progress line's sleeps do not count */
        secs = b->end_s[i] - t0 > secs ? b->end_s[i] - t0 : secs;
    qsort(b->lat_ms, (size_t)b->ops, sizeof(double), cmp_double);
    fprintf(b->out, "%-7s %7d %9.2f %9.2f %9.2f %9.2f %9.1f", op_names[op], b->ops, pct(b->lat_ms, b->ops, 0.5),
            pct(b->lat_ms, b->ops, 0.9), pct(b->lat_ms, b->ops, 0.99), b->lat_ms[b->ops - 1], b->ops / secs);
    if (op == OB_PUT || op == OB_GET)
        fprintf(b->out, " %9.1f", (double)b->objects * (double)b->size / (1 << 20) / secs);
    fprintf(b->out, "\n");
    return 0;
}

static int bench_init(struct bench *b, struct store *s, const struct objbench_opts *o, FILE *out)
{
    memset(b, 0, sizeof(*b));
    b->s = s;
    b->out = out;
    b->size = o->block_size ? o->block_size : 4u << 20;
    b->threads = o->threads ? o->threads : 4;
    b->objects = o->objects ? o->objects : 64;
    b->progress = o->progress < 0 ? isatty(fileno(out)) : o->progress;
    if (b->threads < 1 || b->threads > 1024 || b->objects < 1 || b->size > (1u << 30))
        return -EINVAL;
    if (o->prefix)
        snprintf(b->prefix, sizeof(b->prefix), "%s", o->prefix);
    else
        snprintf(b->prefix, sizeof(b->prefix), "objbench/%ld-%ld/", (long)getpid(), (long)time(NULL));
    b->lat_ms = calloc((size_t)b->objects, sizeof(double));
    b->end_s = calloc((size_t)b->objects, sizeof(double));
    return b->lat_ms && b->end_s ? 0 : -ENOMEM;
}

int objbench_run(struct store *s, const struct objbench_opts *o, FILE *out)
{
    struct bench b;
    int rc = bench_init(&b, s, o, out);

    if (rc)
        goto out;
    fprintf(out, "objbench: %d objects of %zu KiB, %d threads, prefix %s\n", b.objects, b.size >> 10,
            b.threads, b.prefix);
    fprintf(out, "%-7s %7s %9s %9s %9s %9s %9s %9s\n", "op", "count", "p50 ms", "p90 ms", "p99 ms", "max ms",
            "ops/s", "MiB/s");
    for (enum objbench_op op = OB_PUT; op < OB_NOPS && rc == 0; op++)
        rc = run_phase(&b, op);
    if (rc == 0 && (b.failed || b.wrong)) {
        fprintf(out, "objbench: %d operations failed, %d returned wrong data\n", atomic_load(&b.failed),
                atomic_load(&b.wrong));
        rc = -EIO;
    }
out:
    free(b.lat_ms);
    free(b.end_s);
    return rc;
}
