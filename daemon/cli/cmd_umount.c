/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs umount: unmounts a tidefs mount point. Without --force a busy
 * mount is left alone with a clear message; --force detaches it lazily
 * (MNT_DETACH), which also clears a mount whose daemon died.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fuse/fs.h"
#include "cli/mount_pids.h"

#define UMOUNT_MAX_PIDS 16

static const char umount_help[] =
    "Usage: tidefs umount [--force] [--flush] MOUNTPOINT\n\n"
    "Unmount a tidefs volume. Files closed before are already committed.\n\n"
    "Options:\n"
    "  -f, --force   detach even when busy or when the daemon is gone\n"
    "  --flush       wait until the daemon has finished, including the uploads of\n"
    "                blocks staged by --writeback\n"
    "  -h, --help    show this help\n\n"
    "Example:\n"
    "  tidefs umount /mnt/vol\n";

static const struct option umount_options[] = {
    {"force", no_argument, NULL, 'f'},
    {"flush", no_argument, NULL, 'F'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The FUSE connection of a mount: its device minor. */
static int connection_of(const char *path, unsigned *minor)
{
    char real[4096];
    unsigned major;
    if (!realpath(path, real))
        snprintf(real, sizeof(real), "%s", path);
    return fs_mount_dev(real, &major, minor);
}

/* --force also aborts the FUSE connection: a lazily detached mount with
 * open files would otherwise keep its daemon alive indefinitely. The
 * daemon then flushes what it buffered and exits; applications still
 * holding files there get ENOTCONN, which is what forcing means. */
static void abort_connection(unsigned minor)
{
    char p[96];
    snprintf(p, sizeof(p), "/sys/fs/fuse/connections/%u/abort", minor);
    FILE *f = fopen(p, "we");
    if (!f)
        return;
    fputs("1", f);
    fclose(f);
}

/* Non-root users go through the setuid fusermount3. */
static int fusermount(const char *path, bool force)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", force ? "-uz" : "-u", path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int cmd_umount(int argc, char **argv)
{
    bool force = false, flush = false;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:fh", umount_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(umount_help, stdout);
            return CLI_EXIT_OK;
        }
        if (opt != 'f' && opt != 'F')
            return cli_bad_option("umount", opt, argv);
        force |= opt == 'f';
        flush |= opt == 'F';
    }
    if (argc - optind != 1) {
        cli_error("umount", "expected MOUNTPOINT (see tidefs umount --help)");
        return CLI_EXIT_USAGE;
    }
    const char *path = argv[optind];
    char *type = NULL;
    if (!cli_is_mountpoint(path, &type)) {
        cli_error("umount", "%s is not mounted", path);
        return CLI_EXIT_FAIL;
    }
    bool ours = type && strcmp(type, "fuse.tidefs") == 0;
    free(type);
    if (!ours) {
        cli_error("umount", "%s is not a tidefs mount", path);
        return CLI_EXIT_FAIL;
    }
    pid_t pids[UMOUNT_MAX_PIDS];
    size_t npids = flush ? mount_pids_find(path, pids, UMOUNT_MAX_PIDS) : 0;
    unsigned minor = 0;
    bool have_conn = force && connection_of(path, &minor) == 0;
    int rc = umount2(path, force ? MNT_DETACH : 0) == 0 ? 0 : -errno;
    if (rc == 0 && have_conn)
        abort_connection(minor);
    if (rc == -EPERM)
        rc = fusermount(path, force);
    if (rc == -EBUSY)
        cli_error("umount", "%s is busy (files are open there); close them or use --force", path);
    else if (rc)
        cli_error("umount", "%s: %s", path, strerror(-rc));
    if (rc == 0 && npids) {
        fprintf(stderr, "tidefs umount: waiting for the daemon to upload what it still holds...\n");
        mount_pids_wait(pids, npids);
    }
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
