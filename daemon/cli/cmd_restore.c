/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs restore: puts the files and directories removed during one hour
 * (a trash directory /.trash/YYYY-MM-DD-HH) back under their old names in
 * their old directories. Entries whose name is taken, or whose directory
 * is gone, stay in the trash and are listed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_ops.h"
#include "meta/trash.h"

static const char restore_help[] =
    "Usage: tidefs restore META-URL HOUR\n\n"
    "Put back what was removed during HOUR (UTC, as the trash names it: YYYY-MM-DD-HH,\n"
    "see `ls MOUNTPOINT/.trash`). Needs a volume formatted or configured with\n"
    "--trash-days N.\n\n"
    "Example:\n"
    "  tidefs restore sqlite3:///var/lib/tidefs/vol.db 2026-11-25-09\n";

static void on_entry(void *arg, const char *entry, const char *dest, int rc)
{
    (void)arg;
    if (dest)
        printf("restored: %s\n", dest);
    else
        printf("kept in trash: %s (%s)\n", entry,
               rc == -EEXIST   ? "the name is taken"
               : rc == -ENOENT ? "its directory is gone"
                               : strerror(-rc));
}

int cmd_restore(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(restore_help, stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') {
            cli_error("restore", "unknown option '%s' (see tidefs restore --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    int64_t t;
    if (argc != 3) {
        cli_error("restore", "expected META-URL and HOUR (see tidefs restore --help)");
        return CLI_EXIT_USAGE;
    }
    if (!trash_parse_hour(argv[2], &t)) {
        cli_error("restore", "invalid HOUR '%s': expected YYYY-MM-DD-HH, e.g. 2026-11-25-09", argv[2]);
        return CLI_EXIT_USAGE;
    }
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    if (cli_open_volume("restore", argv[1], &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    struct trash_restore_report r;
    int rc = trash_restore(ops, m, argv[2], on_entry, NULL, &r);
    if (rc == -ENOENT)
        cli_error("restore", "the trash has nothing from %s", argv[2]);
    else if (rc)
        cli_error("restore", "%s", strerror(-rc));
    else
        printf("restore: %llu entries restored, %llu kept in the trash\n", (unsigned long long)r.restored,
               (unsigned long long)r.kept);
    cli_close_volume(ops, m, &fmt);
    return rc || r.kept ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
