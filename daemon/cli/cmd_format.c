/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs format: create a volume. Every flag is checked, then the object
 * store is checked to be reachable and writable, and only then is the
 * metadata written, so a bad invocation never changes anything. An
 * existing volume is left alone unless --force is given.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "object/store.h"

static const char format_help[] =
    "Usage: tidefs format [OPTIONS] META-URL NAME\n\n"
    "Create a tidefs volume named NAME whose metadata lives at META-URL.\n\n"
    "Options:\n"
    "  --storage TYPE       object storage: file (default) or s3\n"
    "  --bucket DIR|URL     where blocks are stored (default /var/lib/tidefs/objects)\n"
    "  --block-size SIZE    block size, 64K..16M, power of two (default 4M; bare number = KiB)\n"
    "  --compress ALGO      none (default), lz4 or zstd\n"
    "  --trash-days N       keep deleted files N days in /.trash (default 0: off)\n"
    "  --capacity SIZE      volume capacity (bare number = GiB; default unlimited)\n"
    "  --inodes N           maximum number of files (default unlimited)\n"
    "  --force              overwrite the settings of an existing volume\n"
    "  -h, --help           show this help\n\n"
    "Examples:\n"
    "  tidefs format sqlite3:///var/lib/tidefs/vol.db myvol\n"
    "  tidefs format --bucket /data/blocks --capacity 100G sqlite3:///srv/meta.db myvol\n";

enum { OPT_STORAGE = 256, OPT_BUCKET, OPT_BLOCK, OPT_COMPRESS, OPT_TRASH, OPT_CAPACITY, OPT_INODES, OPT_FORCE };

static const struct option format_options[] = {
    {"storage", required_argument, NULL, OPT_STORAGE},  {"bucket", required_argument, NULL, OPT_BUCKET},
    {"block-size", required_argument, NULL, OPT_BLOCK}, {"compress", required_argument, NULL, OPT_COMPRESS},
    {"trash-days", required_argument, NULL, OPT_TRASH}, {"capacity", required_argument, NULL, OPT_CAPACITY},
    {"inodes", required_argument, NULL, OPT_INODES},    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, 'h'},                   {NULL, 0, NULL, 0},
};

struct format_args {
    struct format fmt;
    bool force;
};

static int set_string(char **dst, const char *src)
{
    free(*dst);
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

static int apply_option(struct format_args *a, int opt, const char *val)
{
    uint64_t n;
    switch (opt) {
    case OPT_STORAGE:
        if (strlen(val) >= sizeof(a->fmt.storage))
            return -EINVAL;
        snprintf(a->fmt.storage, sizeof(a->fmt.storage), "%s", val);
        return 0;
    case OPT_BUCKET: return set_string(&a->fmt.bucket, val);
    case OPT_BLOCK:
        if (cli_parse_size(val, 1024, &n) || n > UINT32_MAX)
            return -EINVAL;
        a->fmt.block_size = (uint32_t)n;
        return 0;
    case OPT_COMPRESS:
        if (strlen(val) >= sizeof(a->fmt.compress))
            return -EINVAL;
        snprintf(a->fmt.compress, sizeof(a->fmt.compress), "%s", val);
        return 0;
    case OPT_TRASH:
        if (cli_parse_uint(val, 36500, &n))
            return -EINVAL;
        a->fmt.trash_days = (int)n;
        return 0;
    case OPT_CAPACITY: return cli_parse_size(val, 1ULL << 30, &a->fmt.capacity);
    case OPT_INODES: return cli_parse_uint(val, UINT64_MAX, &a->fmt.inodes);
    case OPT_FORCE: a->force = true; return 0;
    }
    return -EINVAL;
}

static int parse_args(int argc, char **argv, struct format_args *a)
{
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:h", format_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(format_help, stdout);
            return 1;
        }
        if (opt == '?' || opt == ':')
            return -cli_bad_option("format", opt, argv);
        if (apply_option(a, opt, optarg)) {
            cli_error("format", "invalid value '%s' for %s", optarg, cli_option_name(format_options, opt));
            return -CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_error("format", "expected META-URL and NAME (see tidefs format --help)");
        return -CLI_EXIT_USAGE;
    }
    return 0;
}

/* The file store's directory is stored absolute: the volume must mean the
 * same place whatever directory a later mount runs from. */
static int default_bucket(struct format *f)
{
    if (strcmp(f->storage, "file") != 0)
        return f->bucket ? 0 : -EINVAL;
    if (!f->bucket && set_string(&f->bucket, getuid() == 0 ? "/var/lib/tidefs/objects" : "tidefs-objects"))
        return -ENOMEM;
    if (f->bucket[0] == '/')
        return 0;
    char cwd[PATH_MAX], *abs = NULL;
    if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, f->bucket) < 0)
        return -errno;
    free(f->bucket);
    f->bucket = abs;
    return 0;
}

static int check_store(const struct format *f)
{
    struct store_options so = {.storage = f->storage, .bucket = f->bucket, .access_key = f->access_key,
                               .secret_key = f->secret_key, .session_token = f->session_token,
                               .region = f->region, .io_retries = -1};
    struct store *s = NULL;
    char err[256] = "";
    int rc = store_open(&so, &s, err, sizeof(err));
    if (rc == 0)
        rc = store_check(s, err, sizeof(err));
    if (rc)
        cli_error("format", "object storage %s is not usable: %s", f->bucket, err[0] ? err : strerror(-rc));
    store_free(s);
    return rc;
}

/* Refuses an existing volume before anything is touched, unless --force;
 * with --force the identity of the volume (name = key prefix, uuid, block
 * size, storage) is kept, since changing it would orphan every block. */
static int check_existing(const char *shown, const struct meta_ops *ops, struct meta *m, struct format_args *a)
{
    char *json = NULL;
    int rc = ops->get_setting(m, "format", &json);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        cli_error("format", "cannot read %s: %s", shown, strerror(-rc));
        return rc;
    }
    struct format old;
    rc = format_from_json(json, &old);
    free(json);
    if (rc == 0 && !a->force) {
        cli_error("format", "%s is already formatted as volume '%s'; nothing changed (use --force to change its "
                  "settings)", shown, old.name);
        rc = -EEXIST;
    } else if (rc == 0) {
        snprintf(a->fmt.name, sizeof(a->fmt.name), "%s", old.name);
        snprintf(a->fmt.uuid, sizeof(a->fmt.uuid), "%s", old.uuid);
        snprintf(a->fmt.storage, sizeof(a->fmt.storage), "%s", old.storage);
        a->fmt.block_size = old.block_size;
        snprintf(a->fmt.compress, sizeof(a->fmt.compress), "%s", old.compress);
        free(a->fmt.bucket);
        a->fmt.bucket = old.bucket;
        old.bucket = NULL;
    }
    format_clear(&old);
    return rc;
}

static int write_format(const char *url, const char *shown, struct format_args *a)
{
    const struct meta_ops *ops;
    struct meta *m;
    int rc = meta_open_url(url, &ops, &m);
    if (rc) {
        cli_error("format", "cannot open metadata engine at %s: %s", shown, strerror(-rc));
        return rc;
    }
    rc = check_existing(shown, ops, m, a);
    if (rc == 0)
        rc = check_store(&a->fmt);
    char *json = rc ? NULL : format_to_json(&a->fmt, false);
    if (rc == 0)
        rc = json ? ops->init(m, json, a->force) : -ENOMEM;
    if (rc == -EEXIST && json)
        cli_error("format", "%s is already formatted; nothing changed", shown);
    else if (rc && json)
        cli_error("format", "cannot write the volume format to %s: %s", shown, strerror(-rc));
    free(json);
    ops->close(m);
    return rc;
}

int cmd_format(int argc, char **argv)
{
    struct format_args a = {0};
    format_init_defaults(&a.fmt);
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        format_clear(&a.fmt);
        return rc > 0 ? CLI_EXIT_OK : -rc;
    }
    const char *url = argv[optind];
    snprintf(a.fmt.name, sizeof(a.fmt.name), "%s", argv[optind + 1]);
    char err[256] = "";
    if (strlen(argv[optind + 1]) > FORMAT_NAME_MAX || format_validate(&a.fmt, err, sizeof(err)) != 0) {
        cli_error("format", "%s", err[0] ? err : "invalid volume name");
        format_clear(&a.fmt);
        return CLI_EXIT_USAGE;
    }
    char *shown = cli_mask_url(url);
    if (!meta_engine_for_url(url)) {
        cli_error("format", "invalid META-URL '%s': expected sqlite3://PATH or redis://HOST[:PORT][/DB]", shown);
        rc = -EINVAL;
    } else if (default_bucket(&a.fmt) != 0) {
        cli_error("format", "--bucket is required for --storage %s", a.fmt.storage);
        rc = -EINVAL;
    } else {
        rc = write_format(url, shown, &a);
    }
    if (rc == 0)
        printf("tidefs: formatted volume %s (uuid %s) at %s, blocks in %s\n", a.fmt.name, a.fmt.uuid, shown,
               a.fmt.bucket);
    free(shown);
    format_clear(&a.fmt);
    return rc ? (rc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL) : CLI_EXIT_OK;
}
