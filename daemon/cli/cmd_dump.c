/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs dump / tidefs load: move a volume's metadata between engines as
 * streamed JSON (SQLite -> Redis -> SQLite returns an identical tree).
 * FILE "-" means stdout / stdin. A failed dump removes its partial file; a
 * load refuses a formatted target, so nothing is overwritten.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "meta/dump.h"

static const char dump_help[] =
    "Usage: tidefs dump META-URL FILE\n\n"
    "Write the volume's metadata (settings, tree, layout, counters) as JSON lines to FILE ('-' for stdout).\n\n"
    "Example:\n"
    "  tidefs dump sqlite3:///srv/meta.db /backup/vol.json\n";

static const char load_help[] =
    "Usage: tidefs load META-URL FILE\n\n"
    "Load metadata written by tidefs dump into an empty (unformatted) engine ('-' reads stdin).\n\n"
    "Example:\n"
    "  tidefs load redis://127.0.0.1:6379/1 /backup/vol.json\n";

static int check_args(const char *cmd, const char *help, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(help, stdout);
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error(cmd, "unknown option '%s' (see tidefs %s --help)", argv[i], cmd);
            return -CLI_EXIT_USAGE;
        }
    if (argc != 3) {
        cli_error(cmd, "expected META-URL and FILE (see tidefs %s --help)", cmd);
        return -CLI_EXIT_USAGE;
    }
    if (!meta_engine_for_url(argv[1])) {
        char *shown = cli_mask_url(argv[1]);
        cli_error(cmd, "invalid META-URL '%s': expected sqlite3://PATH or redis://HOST[:PORT][/DB]", shown);
        free(shown);
        return -CLI_EXIT_USAGE;
    }
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    int rc = check_args("dump", dump_help, argc, argv);
    if (rc)
        return rc > 0 ? CLI_EXIT_OK : -rc;
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    if (cli_open_volume("dump", argv[1], &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    cli_close_volume(ops, m, &fmt);
    bool to_stdout = strcmp(argv[2], "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(argv[2], "wxe");
    if (!out) {
        cli_error("dump", "cannot create %s: %s", argv[2], strerror(errno));
        return CLI_EXIT_FAIL;
    }
    rc = meta_dump(argv[1], out);
    if (fflush(out) != 0 && rc == 0)
        rc = -errno;
    if (!to_stdout && fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (rc) {
        cli_error("dump", "dump failed: %s", strerror(-rc));
        if (!to_stdout)
            unlink(argv[2]);
    }
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_load(int argc, char **argv)
{
    int rc = check_args("load", load_help, argc, argv);
    if (rc)
        return rc > 0 ? CLI_EXIT_OK : -rc;
    bool from_stdin = strcmp(argv[2], "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(argv[2], "re");
    if (!in) {
        cli_error("load", "cannot open %s: %s", argv[2], strerror(errno));
        return CLI_EXIT_FAIL;
    }
    rc = meta_load(argv[1], in);
    if (!from_stdin)
        fclose(in);
    if (rc == -EEXIST)
        cli_error("load", "the target is already formatted; load only into an empty engine");
    else if (rc)
        cli_error("load", "load failed: %s", strerror(-rc));
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
