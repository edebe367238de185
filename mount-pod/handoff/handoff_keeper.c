/* SPDX-License-Identifier: Apache-2.0
 *
 * The keeper's side of the hand-off conversation (handoff_keeper.h): send
 * the held fd with everything a daemon needs, then read the daemon's
 * "serving" report, check that it holds the same connection (kcmp), and
 * remember the INIT state it reports. Conversations are one at a time, each
 * bounded by the report timeout, so a stuck peer delays the next daemon by
 * at most that long and never blocks the keeper forever.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "handoff/handoff_i.h"
#include "handoff/handoff_keeper.h"

struct handoff_keeper {
    int fuse_fd;                           /* owned */
    char volume[HANDOFF_VOLUME_MAX + 1];
    char mountpoint[HANDOFF_PATH_MAX + 1];
    uint32_t max_read;
    json_t *settings;                      /* owned copy, or NULL */
    uid_t daemon_uid;
    int report_timeout_ms;
    uint32_t generation;                   /* hand-offs so far */
    bool has_init;
    struct handoff_init init;
};

static int copy_config(struct handoff_keeper *k, const struct handoff_keeper_config *cfg, struct handoff_err *err)
{
    size_t vlen = cfg->volume ? strlen(cfg->volume) : 0;
    size_t mlen = cfg->mountpoint ? strlen(cfg->mountpoint) : 0;
    if (vlen == 0 || vlen > HANDOFF_VOLUME_MAX || mlen > HANDOFF_PATH_MAX) {
        handoff_err_set(err, "keeper needs a volume name of 1..%d bytes and a mountpoint under %d bytes",
                        HANDOFF_VOLUME_MAX, HANDOFF_PATH_MAX);
        return -EINVAL;
    }
    if (cfg->settings && !json_is_object(cfg->settings)) {
        handoff_err_set(err, "keeper settings must be a JSON object");
        return -EINVAL;
    }
    memcpy(k->volume, cfg->volume, vlen + 1);
    if (mlen)
        memcpy(k->mountpoint, cfg->mountpoint, mlen + 1);
    k->max_read = cfg->max_read;
    k->settings = cfg->settings ? json_deep_copy(cfg->settings) : NULL;
    k->daemon_uid = cfg->daemon_uid;
    k->report_timeout_ms = cfg->report_timeout_ms > 0 ? cfg->report_timeout_ms : HANDOFF_REPORT_TIMEOUT_MS;
    k->has_init = cfg->init != NULL;
    if (cfg->init)
        k->init = *cfg->init;
    return cfg->settings && !k->settings ? -ENOMEM : 0;
}

int handoff_keeper_new(int fuse_fd, const struct handoff_keeper_config *cfg, struct handoff_keeper **out,
                       struct handoff_err *err)
{
    struct handoff_keeper *k = calloc(1, sizeof(*k));
    if (!k) {
        close(fuse_fd);
        return -ENOMEM;
    }
    k->fuse_fd = fuse_fd;
    int rc = copy_config(k, cfg, err);
    if (rc != 0) {
        handoff_keeper_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void handoff_keeper_free(struct handoff_keeper *k)
{
    if (!k)
        return;
    if (k->fuse_fd >= 0)
        close(k->fuse_fd);
    json_decref(k->settings);
    free(k);
}

int handoff_keeper_fd(const struct handoff_keeper *k)
{
    return k->fuse_fd;
}

bool handoff_keeper_init_state(const struct handoff_keeper *k, struct handoff_init *init)
{
    if (k->has_init)
        *init = k->init;
    return k->has_init;
}

/* Whether fd refers to the very open file we hold. Where kcmp is not
 * available (-ENOSYS, or -EPERM under a seccomp profile), trust the peer:
 * its uid was checked already. */
static bool same_connection(int ours, int theirs)
{
    pid_t self = getpid();
    long r = syscall(SYS_kcmp, self, self, KCMP_FILE, ours, theirs);
    return r == 0 || (r < 0 && (errno == ENOSYS || errno == EPERM));
}

static int send_fd(struct handoff_keeper *k, int cfd, struct handoff_err *err)
{
    struct handoff_msg msg;
    handoff_msg_init(&msg);
    msg.type = HANDOFF_MSG_FUSE_FD;
    memcpy(msg.volume, k->volume, sizeof(msg.volume));
    memcpy(msg.mountpoint, k->mountpoint, sizeof(msg.mountpoint));
    msg.max_read = k->max_read;
    msg.generation = k->generation;
    msg.has_init = k->has_init;
    msg.init = k->init;
    msg.settings = k->settings; /* borrowed: msg is not cleared */
    msg.fd = k->fuse_fd;        /* borrowed */
    return handoff_send(cfd, &msg, k->report_timeout_ms, err);
}

static int check_report(struct handoff_keeper *k, const struct handoff_msg *rep, struct handoff_err *err)
{
    if (rep->type != HANDOFF_MSG_SERVING || !rep->has_init || strcmp(rep->volume, k->volume) != 0) {
        handoff_err_set(err, "daemon's report is not a \"serving\" message for volume %s with its INIT state",
                        k->volume);
        return -EBADMSG;
    }
    if (!same_connection(k->fuse_fd, rep->fd)) {
        handoff_err_set(err, "daemon reports serving a different FUSE connection than the one it was given");
        return -EBADF;
    }
    char why[200];
    if (k->has_init && handoff_init_compare_out(&k->init, &rep->init, why, sizeof(why)) != 0) {
        handoff_err_set(err, "daemon reports an INIT state unlike the connection's: %s", why);
        return -EPROTO;
    }
    return 0;
}

static int converse(struct handoff_keeper *k, int cfd, struct handoff_keeper_event *ev, struct handoff_err *err)
{
    int rc = send_fd(k, cfd, err);
    if (rc != 0)
        return rc;
    ev->generation = k->generation++;
    struct handoff_msg rep;
    handoff_msg_init(&rep);
    rc = handoff_recv(cfd, k->report_timeout_ms, &rep, err);
    if (rc == -ENOMSG)
        handoff_err_set(err, "daemon pid %d took the fd and closed without reporting", (int)ev->pid);
    if (rc == 0)
        rc = check_report(k, &rep, err);
    if (rc == 0) {
        ev->reported = true;
        ev->learned_init = !k->has_init;
        k->init = rep.init;
        k->has_init = true;
    }
    handoff_msg_clear(&rep);
    return rc;
}

int handoff_keeper_serve_one(struct handoff_keeper *k, int lfd, int timeout_ms, struct handoff_keeper_event *ev,
                             struct handoff_err *err)
{
    struct handoff_keeper_event scratch;
    if (!ev)
        ev = &scratch;
    memset(ev, 0, sizeof(*ev));
    int cfd;
    int rc = handoff_accept(lfd, k->daemon_uid, timeout_ms, &cfd, &ev->pid, err);
    if (rc != 0)
        return rc;
    rc = converse(k, cfd, ev, err);
    close(cfd);
    return rc;
}
