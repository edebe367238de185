/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs: the command-line entry point. Dispatches to one subcommand;
 * invoked as mount.tidefs (a symlink) it speaks mount(8)'s convention.
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_ops.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"format", cmd_format, "create a volume (or change the settings of one with --force)"},
    {"mount", cmd_mount, "mount a volume"},
    {"umount", cmd_umount, "unmount a volume"},
    {"status", cmd_status, "show a volume's settings and live mounts"},
    {"quota", cmd_quota, "set, get, list or delete directory quotas"},
    {"gc", cmd_gc, "find (and with --delete remove) leaked objects"},
    {"fsck", cmd_fsck, "check that every block of every file exists; --repair"},
    {"restore", cmd_restore, "put back what the trash kept from one hour"},
    {"config", cmd_config, "change a volume's settings after format"},
    {"destroy", cmd_destroy, "delete all data and metadata of a volume"},
    {"rmr", cmd_rmr, "remove a directory tree quickly, in metadata"},
    {"info", cmd_info, "show a path's inode, chunks, slices and objects"},
    {"stats", cmd_stats, "show a mount's live activity once a second"},
    {"objbench", cmd_objbench, "measure an object store"},
    {"dump", cmd_dump, "write a volume's metadata as JSON"},
    {"load", cmd_load, "load metadata written by dump into an empty engine"},
    {"bench", cmd_bench, "measure a mounted volume (big and small files, stat)"},
    {"warmup", cmd_warmup, "fill the cache with the files under PATH"},
};

static void usage(FILE *out)
{
    fprintf(out, "tidefs - a distributed POSIX filesystem on object storage\n\n"
                 "Usage: tidefs COMMAND [OPTIONS] ARGS...\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'tidefs COMMAND --help' for a command's options and examples.\n"
                 "META-URL is sqlite3://PATH (embedded, one host) or redis://[USER:PASS@]HOST:PORT/DB.\n");
}

static void version(void)
{
    printf("tidefs version %s (git %s, built %s %s, %s)\n", TIDEFS_VERSION, TIDEFS_GITREV, __DATE__, __TIME__,
           TIDEFS_BUILD_FLAGS);
}

int main(int argc, char **argv)
{
    if (strcmp(basename(argv[0]), "mount.tidefs") == 0)
        return cmd_mount_helper(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
        version();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tidefs: unknown command '%s' (see tidefs --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
