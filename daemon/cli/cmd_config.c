/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs config: change a volume's settings after format where that is
 * safe (capacity, inode limit, trash days), refusing with the reason the
 * ones that would make existing data unreadable (block size, storage,
 * bucket, compression, name). Mounts pick the change up within seconds
 * (their heartbeat re-reads the format). Without options: show settings.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_ops.h"

static const char config_help[] =
    "Usage: tidefs config META-URL [--capacity SIZE] [--inodes N] [--trash-days N]\n\n"
    "Change a volume's settings after format; without options, show them (secrets masked).\n"
    "Running mounts follow within a few seconds.\n\n"
    "Options:\n"
    "  --capacity SIZE   total byte limit (e.g. 10T; 0 = unlimited); a bare number is GiB\n"
    "  --inodes N        total inode limit (0 = unlimited)\n"
    "  --trash-days N    keep removed files N days in /.trash (0 = delete at once;\n"
    "                    what the trash holds is then purged by the next gc --delete)\n\n"
    "Not changeable (refused with the reason): --block-size, --storage, --bucket,\n"
    "--compress, --name.\n\n"
    "Example:\n"
    "  tidefs config sqlite3:///var/lib/tidefs/vol.db --capacity 2T --trash-days 7\n";

enum { OPT_CAP = 256, OPT_INODES, OPT_TRASH, OPT_FIXED };

static const struct option config_opts[] = {
    {"capacity", required_argument, NULL, OPT_CAP},   {"inodes", required_argument, NULL, OPT_INODES},
    {"trash-days", required_argument, NULL, OPT_TRASH}, {"block-size", required_argument, NULL, OPT_FIXED},
    {"storage", required_argument, NULL, OPT_FIXED},  {"bucket", required_argument, NULL, OPT_FIXED},
    {"compress", required_argument, NULL, OPT_FIXED}, {"name", required_argument, NULL, OPT_FIXED},
    {"help", no_argument, NULL, 'h'},                 {NULL, 0, NULL, 0}};

struct config_change {
    bool cap, inodes, trash;
    uint64_t capacity, ninodes, trash_days;
};

static const char *why_fixed(const char *opt)
{
    if (strcmp(opt, "block-size") == 0)
        return "existing blocks are named and split by the block size they were written with";
    if (strcmp(opt, "compress") == 0)
        return "existing blocks would be read with the wrong decompressor";
    if (strcmp(opt, "name") == 0)
        return "the name is the prefix of every object key in the store";
    return "the data lives there; move it with the store's own tools and reformat with --force";
}

static int parse_one(int c, int idx, struct config_change *ch)
{
    if (c == OPT_FIXED) {
        const char *opt = config_opts[idx].name;
        cli_error("config", "--%s cannot be changed after format: %s", opt, why_fixed(opt));
        return CLI_EXIT_USAGE;
    }
    int rc = 0;
    if (c == OPT_CAP)
        rc = (ch->cap = true, cli_parse_size(optarg, 1ULL << 30, &ch->capacity));
    else if (c == OPT_INODES)
        rc = (ch->inodes = true, cli_parse_uint(optarg, (uint64_t)INT64_MAX, &ch->ninodes));
    else
        rc = (ch->trash = true, cli_parse_uint(optarg, 36500, &ch->trash_days));
    if (rc)
        cli_error("config", "invalid --%s '%s'", config_opts[idx].name, optarg);
    return rc ? CLI_EXIT_USAGE : 0;
}

static int parse_args(int argc, char **argv, struct config_change *ch, const char **url)
{
    int c, idx = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", config_opts, &idx)) != -1) {
        if (c == 'h')
            return fputs(config_help, stdout), -1;
        if (c == '?' || c == ':')
            return cli_bad_option("config", c, argv);
        int rc = parse_one(c, idx, ch);
        if (rc)
            return rc;
    }
    if (optind != argc - 1) {
        cli_error("config", "expected META-URL (see tidefs config --help)");
        return CLI_EXIT_USAGE;
    }
    *url = argv[optind];
    return 0;
}

static void show_change(const char *what, uint64_t before, uint64_t after, bool size)
{
    char a[32], b[32];
    if (size)
        printf("%s: %s -> %s\n", what, before ? ops_size(before, a) : "unlimited",
               after ? ops_size(after, b) : "unlimited");
    else
        printf("%s: %llu -> %llu\n", what, (unsigned long long)before, (unsigned long long)after);
}

static int apply(const struct meta_ops *ops, struct meta *m, struct format *f, const struct config_change *ch)
{
    struct meta_statfs st = {0};
    ops->statfs(m, &st);
    if (ch->cap) {
        show_change("capacity", f->capacity, ch->capacity, true);
        if (ch->capacity && ch->capacity < st.used_space)
            fprintf(stderr, "tidefs config: note: %llu bytes are already used; writes will fail with ENOSPC\n",
                    (unsigned long long)st.used_space);
        f->capacity = ch->capacity;
    }
    if (ch->inodes) {
        show_change("inodes", f->inodes, ch->ninodes, false);
        f->inodes = ch->ninodes;
    }
    if (ch->trash) {
        show_change("trash days", (uint64_t)f->trash_days, ch->trash_days, false);
        f->trash_days = (int)ch->trash_days;
    }
    char *json = format_to_json(f, false);
    int rc = json ? ops->set_setting(m, "format", json) : -ENOMEM;
    if (json)
        memset(json, 0, strlen(json)); /* it may hold the store's secret */
    free(json);
    return rc;
}

int cmd_config(int argc, char **argv)
{
    struct config_change ch = {0};
    const char *url = NULL;
    int rc = parse_args(argc, argv, &ch, &url);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    if (cli_open_volume("config", url, &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    if (!ch.cap && !ch.inodes && !ch.trash) {
        char *json = format_to_json(&fmt, true);
        printf("%s\n", json ? json : "null");
        free(json);
    } else {
        rc = apply(ops, m, &fmt, &ch);
        if (rc)
            cli_error("config", "cannot save the settings: %s", strerror(-rc));
    }
    cli_close_volume(ops, m, &fmt);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
