/* SPDX-License-Identifier: Apache-2.0
 *
 * The `tidefs` command: one function per subcommand (cmd_*.c) and the
 * helpers they share (cli_util.c). Subcommands print one line naming the
 * problem on bad input and return a non-zero exit status; they never
 * change a volume before all input has been checked.
 */
#ifndef TIDEFS_CLI_H
#define TIDEFS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/format.h"
#include "meta/meta.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int cmd_format(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_objbench(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_warmup(int argc, char **argv);
int cmd_mount_helper(int argc, char **argv); /* argv[0] is mount.tidefs */

/* "tidefs <cmd>: <message>" on stderr, one line. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports an unknown option or a missing argument seen by getopt. */
int cli_bad_option(const char *cmd, int opt, char **argv);

/* "--name" of the long option whose code is `code` (or "-c" for a short
 * one); a static string per call site's table. */
struct option;
const char *cli_option_name(const struct option *table, int code);

/* Parses "4M", "1.5G", "300" (a bare number is in `unit` bytes: JuiceFS
 * compatibility, e.g. --buffer-size in MiB). -EINVAL on anything else. */
int cli_parse_size(const char *s, uint64_t unit, uint64_t *out);
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
int cli_parse_seconds(const char *s, double *out);

/* A copy of url with any password replaced by "****"; caller frees. */
char *cli_mask_url(const char *url);

/* Keeps a META-URL's password out of /proc/<pid>/cmdline, logs and the
 * argv of child processes: moves it into the environment variable
 * META_PASSWORD (which the engines read), overwrites it in `arg` in place
 * and returns the URL without it (malloc'ed, caller frees). */
char *cli_hide_password(char *arg);

/* Opens the engine of url and loads its format. On failure prints one
 * line (naming the problem, never the password) and returns -errno. The
 * caller frees with cli_close_volume(). */
int cli_open_volume(const char *cmd, const char *url, const struct meta_ops **ops, struct meta **m,
                    struct format *fmt);
void cli_close_volume(const struct meta_ops *ops, struct meta *m, struct format *fmt);

/* Whether path is a mount point (any filesystem) per /proc/self/mountinfo;
 * *fstype receives its type when non-NULL (caller frees). */
bool cli_is_mountpoint(const char *path, char **fstype);

#endif
