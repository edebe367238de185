/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs fsck: every block of every slice a file uses must exist in the
 * object store with the right size; broken files are listed by path. With
 * --repair, each lost slice becomes a hole (the file keeps its length and
 * every byte that still exists; the lost range reads as zeros), after a
 * confirmation per file on a terminal, or --yes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_ops.h"
#include "meta/fsck.h"

static const char fsck_help[] =
    "Usage: tidefs fsck [--path PATH] [--repair [--yes]] META-URL\n\n"
    "Check that every block of every file (under PATH, default the whole volume) is in\n"
    "the object store with the right size, and list broken files by path. --repair\n"
    "turns lost slices into holes, so the rest of each file reads again; it asks for\n"
    "each file on a terminal unless --yes is given.\n\n"
    "Examples:\n"
    "  tidefs fsck sqlite3:///var/lib/tidefs/vol.db\n"
    "  tidefs fsck --path /projects --repair sqlite3:///var/lib/tidefs/vol.db\n";

struct fsck_cli {
    struct ops_progress progress;
    bool yes;
};

static void on_broken(void *arg, const char *path, uint64_t ino, uint32_t indx, uint64_t slice,
                      const char *problem)
{
    (void)arg;
    printf("broken: %s (inode %llu, chunk %u, slice %llu): %s\n", path, (unsigned long long)ino, indx,
           (unsigned long long)slice, problem);
}

static bool on_confirm(void *arg, const char *path)
{
    struct fsck_cli *f = arg;
    char q[4200];
    if (f->yes)
        return true;
    snprintf(q, sizeof(q), "turn the lost parts of %s into holes?", path);
    bool ok = ops_confirm(q);
    if (!ok)
        printf("not repaired: %s (no confirmation; use --yes without a terminal)\n", path);
    return ok;
}

static void on_repaired(void *arg, const char *path, uint64_t slice, int rc)
{
    (void)arg;
    if (rc)
        printf("repair FAILED: %s slice %llu: %s\n", path, (unsigned long long)slice, strerror(-rc));
    else
        printf("repaired: %s (slice %llu is now a hole)\n", path, (unsigned long long)slice);
}

static void on_progress(void *arg, uint64_t n)
{
    ops_progress_add(&((struct fsck_cli *)arg)->progress, n);
}

static bool on_stop(void *arg)
{
    (void)arg;
    return ops_interrupted();
}

static int parse_args(int argc, char **argv, const char **path, bool *repair, bool *yes, const char **url)
{
    static const struct option opts[] = {{"path", required_argument, NULL, 'p'},
                                         {"repair", no_argument, NULL, 'r'},
                                         {"yes", no_argument, NULL, 'y'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
        if (c == 'p')
            *path = optarg;
        else if (c == 'r')
            *repair = true;
        else if (c == 'y')
            *yes = true;
        else if (c == 'h')
            return fputs(fsck_help, stdout), -1;
        else
            return cli_bad_option("fsck", c, argv);
    }
    if (optind != argc - 1) {
        cli_error("fsck", "expected META-URL (see tidefs fsck --help)");
        return CLI_EXIT_USAGE;
    }
    *url = argv[optind];
    return 0;
}

static void summary(const struct fsck_report *r, bool repair)
{
    printf("fsck%s: %llu directories, %llu files, %llu slices, %llu blocks checked; %llu missing, %llu with a "
           "wrong size; %llu broken files",
           r->stopped ? " INTERRUPTED" : "", (unsigned long long)r->dirs, (unsigned long long)r->files,
           (unsigned long long)r->slices, (unsigned long long)r->blocks, (unsigned long long)r->missing,
           (unsigned long long)r->bad_size, (unsigned long long)r->broken_files);
    if (repair)
        printf("; %llu slices repaired, %llu failed", (unsigned long long)r->repaired_slices,
               (unsigned long long)r->repair_failures);
    printf("\n");
}

int cmd_fsck(int argc, char **argv)
{
    const char *path = "/", *url = NULL;
    bool repair = false;
    struct fsck_cli f = {0};
    int rc = parse_args(argc, argv, &path, &repair, &f.yes, &url);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    struct store *st = NULL;
    if (cli_open_volume("fsck", url, &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    if (repair)
        rc = ops_require("fsck", ops, (const void *)ops->chunk_drop_slice);
    if (rc == 0)
        rc = ops_open_store("fsck", &fmt, &st);
    struct fsck_report r = {0};
    if (rc == 0) {
        struct meta_statfs sf = {0};
        ops->statfs(m, &sf);
        struct fsck_hooks hooks = {&f, on_broken, on_confirm, on_repaired, on_progress, on_stop};
        ops_catch_interrupts();
        ops_progress_start(&f.progress, "fsck: files", sf.used_inodes);
        rc = fsck_run(ops, m, &fmt, st, path, repair, &hooks, &r);
        ops_progress_end(&f.progress);
        if (rc)
            cli_error("fsck", "%s%s: %s", rc == -ENOENT || rc == -ENOTDIR ? "--path " : "",
                      rc == -ENOENT || rc == -ENOTDIR ? path : "check failed", strerror(-rc));
        summary(&r, repair);
    }
    store_free(st);
    cli_close_volume(ops, m, &fmt);
    if (rc == 0 && r.stopped)
        return 130;
    bool clean = r.broken_files == 0 || (repair && r.repaired_slices && !r.repair_failures &&
                                         r.repaired_slices >= r.missing + r.bad_size);
    return rc || !clean ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
