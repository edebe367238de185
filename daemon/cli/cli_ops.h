/* SPDX-License-Identifier: Apache-2.0
 *
 * The operator's commands (issue 6) and what they share: human sizes,
 * a progress display for long runs (a bar on a terminal, plain periodic
 * lines otherwise), clean Ctrl-C handling, confirmations, opening a
 * volume's object store, and finding the volume behind a mount point.
 */
#ifndef TIDEFS_CLI_OPS_H
#define TIDEFS_CLI_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cli/cli.h"
#include "object/store.h"

int cmd_quota(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_rmr(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* "1.5 GiB", "300 B" into buf. Returns buf. */
char *ops_size(uint64_t bytes, char buf[32]);

/* -ENOTSUP with a one-line message when the engine lacks an operation. */
int ops_require(const char *cmd, const struct meta_ops *ops, const void *fn);

/* Ctrl-C (SIGINT) and SIGTERM set a flag instead of killing: long loops
 * poll ops_interrupted() and stop with a summary. */
void ops_catch_interrupts(void);
bool ops_interrupted(void);

/* Asks "question [y/N]" on the terminal; false without one (use --yes). */
bool ops_confirm(const char *question);

/* Progress of a long run: on a terminal a bar redrawn at most 10 times a
 * second (on stderr); otherwise a plain line every `period` seconds. */
struct ops_progress {
    const char *label;
    uint64_t total; /* 0 = unknown */
    uint64_t done;
    bool tty;
    int period_s;
    struct timespec last;
    bool drawn;
};
void ops_progress_start(struct ops_progress *p, const char *label, uint64_t total);
void ops_progress_add(struct ops_progress *p, uint64_t n);
void ops_progress_end(struct ops_progress *p);

/* Opens the object store of a volume; one-line error on failure. Caller
 * frees with store_free(). */
int ops_open_store(const char *cmd, const struct format *fmt, struct store **out);

/* The volume mounted at (or containing) `path`: the META-URL of the tidefs
 * daemon serving that mount (from its command line, or $TIDEFS_META_URL),
 * and the mount's --subdir ("" when none). Strings malloc'ed, caller
 * frees. One-line error on failure. */
int ops_volume_of_path(const char *cmd, const char *path, char **url, char **subdir, char **mountpoint);

/* Opens the volume behind `path` (see above) and finds the metadata
 * inode of path itself (lstat: a symlink is not followed). Caller closes
 * with cli_close_volume(). One-line error on failure. */
int ops_open_path(const char *cmd, const char *path, const struct meta_ops **ops, struct meta **m,
                  struct format *fmt, uint64_t *ino);

#endif
