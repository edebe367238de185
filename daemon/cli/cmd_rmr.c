/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs rmr: removes a directory tree of a mounted volume directly in
 * metadata: no FUSE request per entry, no kernel round trips, each
 * removal still one transaction (mounts keep working; with the trash on,
 * everything goes to the trash as with rm -r). The kernel may show removed
 * names for up to the mount's --entry-cache seconds.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_ops.h"
#include "meta/rmr.h"

static const char rmr_help[] =
    "Usage: tidefs rmr PATH...\n\n"
    "Remove each PATH (a file or a whole directory tree) inside a tidefs mount directly\n"
    "in the metadata engine: much faster than rm -r for big trees. Ctrl-C stops cleanly;\n"
    "rerun to finish.\n\n"
    "Example:\n"
    "  tidefs rmr /mnt/tidefs/build-cache\n";

static void on_progress(void *arg, uint64_t n)
{
    ops_progress_add(arg, n);
}

static bool on_stop(void *arg)
{
    (void)arg;
    return ops_interrupted();
}

static int rmr_one(const char *path)
{
    char copy[PATH_MAX], parent[PATH_MAX];
    struct stat st, pst;
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(parent, sizeof(parent), "%s", dirname(copy));
    snprintf(copy, sizeof(copy), "%s", path);
    const char *name = basename(copy);
    if (lstat(path, &st) != 0 || lstat(parent, &pst) != 0) {
        cli_error("rmr", "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (st.st_dev != pst.st_dev || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        cli_error("rmr", "%s: refusing to remove a mount point or '.'/'..'", path);
        return -EINVAL;
    }
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    uint64_t pino, removed = 0;
    int rc = ops_open_path("rmr", parent, &ops, &m, &fmt, &pino);
    if (rc)
        return rc;
    struct ops_progress p;
    struct rmr_hooks hooks = {&p, on_progress, on_stop};
    ops_progress_start(&p, "rmr: entries removed", 0);
    rc = meta_remove_tree(ops, m, pino, name, &hooks, &removed);
    ops_progress_end(&p);
    printf("rmr%s: %s: %llu entries removed\n", rc == -EINTR ? " INTERRUPTED" : "", path,
           (unsigned long long)removed);
    if (rc && rc != -EINTR)
        cli_error("rmr", "%s: %s", path, strerror(-rc));
    cli_close_volume(ops, m, &fmt);
    return rc;
}

int cmd_rmr(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(rmr_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2) {
        cli_error("rmr", "expected PATH (see tidefs rmr --help)");
        return CLI_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') {
            cli_error("rmr", "unknown option '%s' (see tidefs rmr --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    ops_catch_interrupts();
    int rc = 0;
    for (int i = 1; i < argc && rc != -EINTR; i++) {
        int one = rmr_one(argv[i]);
        rc = rc ? rc : one;
    }
    if (rc == -EINTR)
        return 130;
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
