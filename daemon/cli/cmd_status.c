/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs status: a volume's settings (secrets masked), usage, and its live
 * mounts (sessions), as JSON for people and scripts alike.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

static const char status_help[] =
    "Usage: tidefs status META-URL\n\n"
    "Show a volume's settings, usage and live mounts (secrets are masked).\n\n"
    "Example:\n"
    "  tidefs status sqlite3:///var/lib/tidefs/vol.db\n";

static int print_session(void *arg, uint64_t sid, int64_t heartbeat_ns, const char *info_json)
{
    int *count = arg;
    time_t t = (time_t)(heartbeat_ns / 1000000000);
    struct tm tm;
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    printf("%s    {\"sid\": %llu, \"heartbeat\": \"%s\", \"info\": %s}", (*count)++ ? ",\n" : "",
           (unsigned long long)sid, when, info_json && *info_json ? info_json : "{}");
    return 0;
}

int cmd_status(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(status_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        if (argc >= 2 && argv[1][0] == '-')
            cli_error("status", "unknown option '%s' (see tidefs status --help)", argv[1]);
        else
            cli_error("status", "expected META-URL (see tidefs status --help)");
        return CLI_EXIT_USAGE;
    }
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    if (cli_open_volume("status", argv[1], &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    char *json = format_to_json(&fmt, true);
    struct meta_statfs st = {0};
    int rc = ops->statfs(m, &st);
    printf("{\n  \"setting\": %s,\n", json ? json : "null");
    printf("  \"usage\": {\"used_bytes\": %llu, \"used_inodes\": %llu},\n", (unsigned long long)st.used_space,
           (unsigned long long)st.used_inodes);
    printf("  \"sessions\": [\n");
    int count = 0;
    if (rc == 0)
        rc = ops->list_sessions(m, print_session, &count);
    printf("%s  ]\n}\n", count ? "\n" : "");
    free(json);
    cli_close_volume(ops, m, &fmt);
    if (rc)
        cli_error("status", "cannot read the volume: %s", strerror(-rc));
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
