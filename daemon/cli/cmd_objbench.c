/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs objbench: PUT/GET/HEAD/LIST/DELETE latency and throughput of a
 * volume's object store (from its META-URL) or of any store named with
 * --storage/--bucket (credentials from the AWS_* environment variables,
 * so they need not appear in argv). The objects are written under a fresh
 * prefix and deleted at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "object/objbench.h"
#include "object/store.h"

static const char objbench_help[] =
    "Usage: tidefs objbench [OPTIONS] META-URL\n"
    "       tidefs objbench [OPTIONS] --storage TYPE --bucket URL\n\n"
    "Measure the object store of a volume, or the one named by --storage/--bucket.\n\n"
    "Options:\n"
    "  --block-size SIZE   object size (bare number = KiB; default 4M)\n"
    "  --threads N         parallel requests (default 4)\n"
    "  --objects N         objects per phase (default 64)\n"
    "  --storage TYPE      file or s3 (with --bucket, instead of META-URL)\n"
    "  --bucket DIR|URL    the store to measure; S3 credentials come from AWS_ACCESS_KEY_ID,\n"
    "                      AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION\n"
    "  -h, --help          show this help\n\n"
    "Examples:\n"
    "  tidefs objbench sqlite3:///srv/meta.db\n"
    "  tidefs objbench --storage s3 --bucket http://127.0.0.1:9000/bench --threads 16\n";

enum { OPT_BLOCK = 256, OPT_THREADS, OPT_OBJECTS, OPT_STORAGE, OPT_BUCKET };

static const struct option objbench_options[] = {
    {"block-size", required_argument, NULL, OPT_BLOCK}, {"threads", required_argument, NULL, OPT_THREADS},
    {"objects", required_argument, NULL, OPT_OBJECTS},  {"storage", required_argument, NULL, OPT_STORAGE},
    {"bucket", required_argument, NULL, OPT_BUCKET},    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct objbench_args {
    struct objbench_opts o;
    const char *storage;
    const char *bucket;
};

static int apply_option(struct objbench_args *a, int opt, const char *val)
{
    uint64_t n;
    switch (opt) {
    case OPT_BLOCK:
        if (cli_parse_size(val, 1024, &n) || n == 0 || n > (64ULL << 20))
            return -EINVAL;
        a->o.block_size = (size_t)n;
        return 0;
    case OPT_THREADS:
        if (cli_parse_uint(val, 256, &n) || n == 0)
            return -EINVAL;
        a->o.threads = (int)n;
        return 0;
    case OPT_OBJECTS:
        if (cli_parse_uint(val, 100000, &n) || n == 0)
            return -EINVAL;
        a->o.objects = (int)n;
        return 0;
    case OPT_STORAGE: a->storage = val; return 0;
    case OPT_BUCKET: a->bucket = val; return 0;
    }
    return -EINVAL;
}

static int parse_args(int argc, char **argv, struct objbench_args *a)
{
    optind = 1;
    opterr = 0;
    a->o.progress = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:h", objbench_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(objbench_help, stdout);
            return 1;
        }
        if (opt == '?' || opt == ':')
            return -cli_bad_option("objbench", opt, argv);
        if (apply_option(a, opt, optarg)) {
            cli_error("objbench", "invalid value '%s' for %s", optarg, cli_option_name(objbench_options, opt));
            return -CLI_EXIT_USAGE;
        }
    }
    bool named = a->storage || a->bucket;
    if ((named && (argc != optind || !a->bucket)) || (!named && argc - optind != 1)) {
        cli_error("objbench", "expected META-URL, or --bucket (with --storage) (see tidefs objbench --help)");
        return -CLI_EXIT_USAGE;
    }
    return 0;
}

/* The store of the volume at url; credentials stay inside the process. */
static int open_volume_store(const char *url, struct store **s)
{
    const struct meta_ops *ops;
    struct meta *m;
    struct format f;
    if (cli_open_volume("objbench", url, &ops, &m, &f) != 0)
        return -EINVAL;
    struct store_options so = {.storage = f.storage, .bucket = f.bucket, .access_key = f.access_key,
                               .secret_key = f.secret_key, .session_token = f.session_token,
                               .region = f.region, .io_retries = -1};
    char err[256] = "";
    int rc = store_open(&so, s, err, sizeof(err));
    if (rc)
        cli_error("objbench", "cannot open the object store %s: %s", f.bucket, err[0] ? err : strerror(-rc));
    cli_close_volume(ops, m, &f);
    return rc;
}

int cmd_objbench(int argc, char **argv)
{
    struct objbench_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc > 0 ? CLI_EXIT_OK : -rc;
    struct store *s = NULL;
    if (a.bucket) {
        struct store_options so = {.storage = a.storage ? a.storage : "file", .bucket = a.bucket,
                                   .io_retries = -1};
        char err[256] = "";
        rc = store_open(&so, &s, err, sizeof(err));
        if (rc == 0)
            rc = store_check(s, err, sizeof(err));
        if (rc)
            cli_error("objbench", "object storage %s is not usable: %s", a.bucket, err[0] ? err : strerror(-rc));
    } else {
        rc = open_volume_store(argv[optind], &s);
    }
    if (rc == 0) {
        rc = objbench_run(s, &a.o, stdout);
        if (rc)
            cli_error("objbench", "the benchmark failed: %s", strerror(-rc));
    }
    store_free(s);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
