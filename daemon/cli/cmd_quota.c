/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs quota set|get|list|delete: directory quotas. A quota limits the
 * bytes (regular files' lengths, 4 KiB-rounded) and/or inodes of a
 * directory's whole subtree; mounts enforce it at once with EDQUOT and a
 * --subdir mount of the directory shows it in statfs (df). Output is JSON
 * for people and scripts alike.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_ops.h"
#include "meta/path.h"

static const char quota_help[] =
    "Usage: tidefs quota set META-URL --path PATH [--capacity SIZE] [--inodes N]\n"
    "       tidefs quota get META-URL --path PATH\n"
    "       tidefs quota delete META-URL --path PATH\n"
    "       tidefs quota list META-URL\n\n"
    "Directory quotas: limit the bytes and/or the number of inodes of a directory's\n"
    "whole subtree. Writes and creations past a limit fail with EDQUOT at once on\n"
    "every mount; a --subdir mount of the directory shows the quota in df.\n\n"
    "Options:\n"
    "  --path PATH      the directory, from the volume's root (e.g. /projects/a)\n"
    "  --capacity SIZE  byte limit (4M, 10G, ...; 0 = none); a bare number is GiB\n"
    "  --inodes N       inode limit (0 = none)\n\n"
    "Examples:\n"
    "  tidefs quota set sqlite3:///var/lib/tidefs/vol.db --path /projects/a --capacity 10G\n"
    "  tidefs quota list sqlite3:///var/lib/tidefs/vol.db\n";

struct quota_opts {
    const char *sub;
    const char *url;
    const char *path;
    uint64_t capacity, inodes;
    bool has_capacity, has_inodes;
};

static void print_quota(const char *path, uint64_t ino, const struct meta_quota *q)
{
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "path", path, "inode", (json_int_t)ino, "capacity",
                          (json_int_t)q->max_space, "inodes", (json_int_t)q->max_inodes, "used_space",
                          (json_int_t)q->used_space, "used_inodes", (json_int_t)q->used_inodes);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s", text ? text : "null");
    free(text);
    json_decref(j);
}

struct list_ctx {
    const struct meta_ops *ops;
    struct meta *m;
    int count;
};

static int list_one(void *arg, uint64_t ino, const struct meta_quota *q)
{
    struct list_ctx *l = arg;
    char *path = NULL;
    if (l->ops->getattr && meta_path_of(l->ops, l->m, ino, &path) != 0)
        path = NULL;
    printf("%s  ", l->count++ ? ",\n" : "");
    print_quota(path ? path : "(unknown)", ino, q);
    free(path);
    return 0;
}

static int quota_list(const struct meta_ops *ops, struct meta *m)
{
    struct list_ctx l = {ops, m, 0};
    printf("[\n");
    int rc = ops->quota_list(m, list_one, &l);
    printf("%s]\n", l.count ? "\n" : "");
    if (rc)
        cli_error("quota", "cannot list the quotas: %s", strerror(-rc));
    return rc;
}

static int quota_set(const struct quota_opts *o, const struct meta_ops *ops, struct meta *m, uint64_t ino)
{
    struct meta_quota q = {0};
    int rc = ops->quota_get(m, ino, &q);
    if (rc && rc != -ENOENT)
        return rc;
    rc = ops->quota_set(m, ino, o->has_capacity ? o->capacity : q.max_space,
                        o->has_inodes ? o->inodes : q.max_inodes);
    if (rc == 0)
        rc = ops->quota_get(m, ino, &q);
    if (rc == 0) {
        print_quota(o->path, ino, &q);
        putchar('\n');
    }
    return rc;
}

static int quota_run(const struct quota_opts *o, const struct meta_ops *ops, struct meta *m)
{
    if (strcmp(o->sub, "list") == 0)
        return quota_list(ops, m);
    struct meta_attr a;
    int rc = meta_path_resolve(ops, m, o->path, &a);
    if (rc == 0 && !S_ISDIR(a.mode))
        rc = -ENOTDIR;
    if (rc) {
        cli_error("quota", "--path %s: %s", o->path, strerror(-rc));
        return rc;
    }
    if (strcmp(o->sub, "set") == 0)
        rc = quota_set(o, ops, m, a.ino);
    else if (strcmp(o->sub, "delete") == 0)
        rc = ops->quota_delete(m, a.ino);
    else {
        struct meta_quota q;
        rc = ops->quota_get(m, a.ino, &q);
        if (rc == 0) {
            print_quota(o->path, a.ino, &q);
            putchar('\n');
        }
    }
    if (rc == -ENOENT)
        cli_error("quota", "%s has no quota", o->path);
    else if (rc)
        cli_error("quota", "%s %s: %s", o->sub, o->path, strerror(-rc));
    else if (strcmp(o->sub, "delete") == 0)
        printf("quota of %s deleted\n", o->path);
    return rc;
}

static int parse_opts(int argc, char **argv, struct quota_opts *o)
{
    static const struct option opts[] = {{"path", required_argument, NULL, 'p'},
                                         {"capacity", required_argument, NULL, 'c'},
                                         {"inodes", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'p') {
            o->path = optarg;
        } else if (c == 'c') {
            o->has_capacity = true;
            if (cli_parse_size(optarg, 1ULL << 30, &o->capacity) != 0) {
                cli_error("quota", "invalid --capacity '%s' (e.g. 10G, 512M, 0 for none)", optarg);
                return CLI_EXIT_USAGE;
            }
        } else if (c == 'i') {
            o->has_inodes = true;
            if (cli_parse_uint(optarg, (uint64_t)INT64_MAX, &o->inodes) != 0) {
                cli_error("quota", "invalid --inodes '%s' (a whole number, 0 for none)", optarg);
                return CLI_EXIT_USAGE;
            }
        } else if (c == 'h') {
            fputs(quota_help, stdout);
            return -1;
        } else {
            return cli_bad_option("quota", c, argv);
        }
    }
    if (optind != argc - 1) {
        cli_error("quota", "expected META-URL (see tidefs quota --help)");
        return CLI_EXIT_USAGE;
    }
    o->url = argv[optind];
    return 0;
}

static int check_opts(const struct quota_opts *o)
{
    bool list = strcmp(o->sub, "list") == 0, set = strcmp(o->sub, "set") == 0;
    if (!list && !o->path) {
        cli_error("quota", "%s needs --path (see tidefs quota --help)", o->sub);
        return CLI_EXIT_USAGE;
    }
    if (!set && (o->has_capacity || o->has_inodes)) {
        cli_error("quota", "--capacity and --inodes go with 'quota set' only");
        return CLI_EXIT_USAGE;
    }
    if (set && !o->has_capacity && !o->has_inodes) {
        cli_error("quota", "set needs --capacity and/or --inodes");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int cmd_quota(int argc, char **argv)
{
    static const char *const subs[] = {"set", "get", "list", "delete"};
    struct quota_opts o = {0};
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(quota_help, stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; argc >= 2 && i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i]) == 0)
            o.sub = subs[i];
    if (!o.sub) {
        cli_error("quota", "expected set, get, list or delete (see tidefs quota --help)");
        return CLI_EXIT_USAGE;
    }
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((rc = check_opts(&o)) != 0)
        return rc;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    if (cli_open_volume("quota", o.url, &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    rc = ops_require("quota", ops, (const void *)ops->quota_set);
    if (rc == 0)
        rc = quota_run(&o, ops, m);
    cli_close_volume(ops, m, &fmt);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
