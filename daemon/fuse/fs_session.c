/* SPDX-License-Identifier: Apache-2.0
 *
 * The FUSE session: mount, tune the mount's readahead, run the
 * multi-threaded loop, unmount. Signals (TERM/INT/HUP) end the loop through
 * libfuse's handlers; the caller then flushes and closes the volume.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fuse/fs_i.h"

/* The kernel's readahead for a FUSE mount is its bdi's read_ahead_kb;
 * 1024 gives 1 MiB requests and doubles sequential throughput
 * (fuse-ceiling.md). Needs root; a failure only costs speed. */
static void set_read_ahead(const char *mountpoint, unsigned kb)
{
    struct stat st;
    if (kb == 0 || stat(mountpoint, &st) != 0)
        return;
    char path[128];
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char val[16];
    int n = snprintf(val, sizeof(val), "%u", kb);
    if (write(fd, val, (size_t)n) != n)
        fprintf(stderr, "tidefs: could not set %s: %s\n", path, strerror(errno));
    close(fd);
}

static char *mount_options(const struct fs_options *o)
{
    char *opts = NULL;
    int n = asprintf(&opts, "fsname=%s,subtype=tidefs,default_permissions,allow_other%s%s%s",
                     o->fsname ? o->fsname : "tidefs", o->read_only ? ",ro" : "",
                     o->fuse_opts && *o->fuse_opts ? "," : "", o->fuse_opts ? o->fuse_opts : "");
    return n < 0 ? NULL : opts;
}

static struct fuse_session *new_session(struct fs_ctx *ctx, const struct fs_options *o)
{
    char *opts = mount_options(o);
    if (!opts)
        return NULL;
    char *argv[] = {(char *)"tidefs", (char *)"-o", opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se = fuse_session_new(&args, fs_lowlevel_ops(), sizeof(struct fuse_lowlevel_ops), ctx);
    fuse_opt_free_args(&args);
    free(opts);
    return se;
}

static int run_loop(struct fuse_session *se, unsigned max_threads)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_idle_threads(cfg, 8);
    fuse_loop_cfg_set_max_threads(cfg, max_threads ? max_threads : 32);
    int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    return rc < 0 ? rc : 0;
}

int fs_serve(struct vfs *v, const struct fs_options *o, fs_ready_fn ready, void *arg)
{
    struct fs_ctx ctx = {v, o->attr_timeout, o->entry_timeout};
    struct fuse_session *se = new_session(&ctx, o);
    if (!se) {
        ready(arg, -EINVAL);
        return -EINVAL;
    }
    int rc = -EIO;
    if (fuse_set_signal_handlers(se) != 0)
        goto out_failed;
    if (fuse_session_mount(se, o->mountpoint) != 0) {
        fuse_remove_signal_handlers(se);
        goto out_failed;
    }
    set_read_ahead(o->mountpoint, o->read_ahead_kb);
    ready(arg, 0);
    rc = run_loop(se, o->max_threads);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return rc;

out_failed:
    ready(arg, rc);
    fuse_session_destroy(se);
    return rc;
}
