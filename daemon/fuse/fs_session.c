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
#include <unistd.h>

#include "fuse/fs_i.h"
#include "handoff/handoff.h"
#include "handoff/handoff_session.h"

#define HANDOFF_TIMEOUT_MS 10000

/* The device number of a mount, read from the mount table: stat() on the
 * mount point would ask our own filesystem, whose loop is not running yet. */
int fs_mount_dev(const char *mountpoint, unsigned *maj, unsigned *min)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    int rc = -ENOENT;
    while (rc && getline(&line, &cap, f) > 0) {
        char mp[4096];
        unsigned a, b;
        if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &a, &b, mp) == 3 && strcmp(mp, mountpoint) == 0) {
            *maj = a;
            *min = b;
            rc = 0; /* keep the last match: the newest mount on that path */
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* The kernel's readahead for a FUSE mount is its bdi's read_ahead_kb;
 * 1024 gives 1 MiB requests and doubles sequential throughput
 * (fuse-ceiling.md). Needs root; a failure only costs speed. */
static void set_read_ahead(const char *mountpoint, unsigned kb)
{
    unsigned maj, min;
    if (kb == 0 || !mountpoint || fs_mount_dev(mountpoint, &maj, &min) != 0)
        return;
    char path[128];
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char val[16];
    int n = snprintf(val, sizeof(val), "%u", kb);
    if (write(fd, val, (size_t)n) != n)
        fprintf(stderr, "tidefs: could not set %s: %s\n", path, strerror(errno));
    close(fd);
}

void fs_tune_readahead(struct fs_ctx *ctx)
{
    if (__atomic_exchange_n(&ctx->read_ahead_set, 1, __ATOMIC_ACQ_REL) == 0)
        set_read_ahead(ctx->mountpoint, ctx->read_ahead_kb);
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

/* Takes over a connection from a keeper: receives the fd (and the INIT
 * state when a daemon served it before), starts the session on it and
 * reports back at once, since the keeper must learn the INIT state of a
 * fresh connection before anything can go wrong. A takeover after a crash
 * asks the kernel to resend what the dead daemon had read; a keeper doing a
 * smooth upgrade, whose old daemon still answers, says "resend": false. */
static int attach_socket(struct fuse_session *se, const char *path, bool no_resend)
{
    struct handoff_err err = {""};
    struct handoff_msg msg, rep;
    handoff_msg_init(&msg);
    handoff_msg_init(&rep);
    int sock = -1;
    int rc = handoff_connect(path, 0, HANDOFF_TIMEOUT_MS, &sock, &err);
    if (rc == 0)
        rc = handoff_recv(sock, HANDOFF_TIMEOUT_MS, &msg, &err);
    if (rc == 0 && msg.type != HANDOFF_MSG_FUSE_FD)
        rc = -EPROTO;
    json_t *resend = msg.settings ? json_object_get(msg.settings, "resend") : NULL;
    unsigned flags = msg.has_init && !no_resend && !json_is_false(resend) ? HANDOFF_START_RESEND : 0;
    struct handoff_init negotiated;
    if (rc == 0) {
        int fd = msg.fd;
        msg.fd = -1;
        rc = handoff_session_start(se, fd, msg.has_init ? &msg.init : NULL, flags, &negotiated, &err);
    }
    if (rc == 0) {
        rep.type = HANDOFF_MSG_SERVING;
        snprintf(rep.volume, sizeof(rep.volume), "%s", msg.volume);
        rep.pid = (int32_t)getpid();
        rep.has_init = true;
        rep.init = negotiated;
        rep.fd = fuse_session_fd(se);
        rc = handoff_send(sock, &rep, HANDOFF_TIMEOUT_MS, &err);
        rep.fd = -1;
    }
    if (rc)
        fprintf(stderr, "tidefs: fd hand-off through %s failed: %s\n", path, err.text[0] ? err.text : strerror(-rc));
    if (sock >= 0)
        close(sock);
    handoff_msg_clear(&msg);
    handoff_msg_clear(&rep);
    return rc;
}

static int attach(struct fuse_session *se, const struct fs_options *o)
{
    if (o->fd_socket)
        return attach_socket(se, o->fd_socket, o->no_resend);
    struct handoff_err err = {""};
    struct handoff_init negotiated;
    int rc = handoff_session_start(se, o->fuse_fd, NULL, 0, &negotiated, &err);
    if (rc)
        fprintf(stderr, "tidefs: cannot serve fd %d: %s\n", o->fuse_fd, err.text[0] ? err.text : strerror(-rc));
    return rc;
}

static bool handed_over(const struct fs_options *o)
{
    return o->fd_socket || o->fuse_fd >= 0;
}

int fs_serve(struct vfs *v, const struct fs_options *o, fs_ready_fn ready, void *arg)
{
    struct fs_ctx ctx = {v, o->attr_timeout, o->entry_timeout, o->mountpoint, o->read_ahead_kb, 0, o->stats};
    struct fuse_session *se = new_session(&ctx, o);
    if (!se) {
        ready(arg, -EINVAL);
        return -EINVAL;
    }
    int rc = -EIO;
    if (fuse_set_signal_handlers(se) != 0)
        goto out_failed;
    if (handed_over(o))
        rc = attach(se, o);
    else
        rc = fuse_session_mount(se, o->mountpoint) == 0 ? 0 : -EIO;
    if (rc) {
        fuse_remove_signal_handlers(se);
        goto out_failed;
    }
    ready(arg, 0);
    rc = run_loop(se, o->max_threads);
    if (!handed_over(o))
        fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return rc;

out_failed:
    ready(arg, rc);
    fuse_session_destroy(se);
    return rc;
}
