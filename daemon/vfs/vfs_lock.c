/* SPDX-License-Identifier: Apache-2.0
 *
 * flock and POSIX byte-range locks. The engine only ever answers "granted"
 * or -EAGAIN (locks may be held by other mounts of the volume, so there is
 * nobody local to wake us); blocking requests poll with a growing delay
 * until granted or the caller's request is interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "vfs/vfs_i.h"

#define LOCK_POLL_MIN_NS 1000000L   /* 1 ms */
#define LOCK_POLL_MAX_NS 100000000L /* 100 ms */

static void sleep_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Retries `try` while it returns -EAGAIN and nobody interrupted. */
static int wait_for_lock(int rc, int (*try)(void *), void *targ, bool (*interrupted)(void *), void *iarg)
{
    long delay = LOCK_POLL_MIN_NS;
    while (rc == -EAGAIN) {
        if (interrupted && interrupted(iarg))
            return -EINTR;
        sleep_ns(delay);
        delay = delay * 2 > LOCK_POLL_MAX_NS ? LOCK_POLL_MAX_NS : delay * 2;
        rc = try(targ);
    }
    return rc;
}

int vfs_getlk(struct vfs *v, uint64_t ino, uint64_t owner, struct meta_plock *lk)
{
    return v->ops->getlk(v->m, vfs_to_meta(v, ino), owner, lk);
}

struct setlk_try {
    struct vfs *v;
    uint64_t mi;
    uint64_t owner;
    const struct meta_plock *lk;
};

static int try_setlk(void *arg)
{
    struct setlk_try *t = arg;
    return t->v->ops->setlk(t->v->m, t->mi, t->owner, t->lk);
}

int vfs_setlk(struct vfs *v, uint64_t ino, uint64_t owner, const struct meta_plock *lk, bool wait,
              bool (*interrupted)(void *), void *arg)
{
    struct setlk_try t = {v, vfs_to_meta(v, ino), owner, lk};
    struct vfs_inode *node = vfs_inode_get(v, t.mi);
    if (node && lk->type != F_UNLCK)
        node->plocked = true;
    int rc = try_setlk(&t);
    return wait ? wait_for_lock(rc, try_setlk, &t, interrupted, arg) : rc;
}

struct flock_try {
    struct vfs *v;
    uint64_t mi;
    uint64_t owner;
    int type;
};

static int try_flock(void *arg)
{
    struct flock_try *t = arg;
    return t->v->ops->flock(t->v->m, t->mi, t->owner, t->type);
}

int vfs_flock(struct vfs *v, uint64_t ino, uint64_t owner, int op, bool (*interrupted)(void *), void *arg)
{
    int type;
    switch (op & ~LOCK_NB) {
    case LOCK_SH: type = F_RDLCK; break;
    case LOCK_EX: type = F_WRLCK; break;
    case LOCK_UN: type = F_UNLCK; break;
    default: return -EINVAL;
    }
    struct flock_try t = {v, vfs_to_meta(v, ino), owner, type};
    int rc = try_flock(&t);
    if (op & LOCK_NB)
        return rc == -EAGAIN ? -EWOULDBLOCK : rc;
    return wait_for_lock(rc, try_flock, &t, interrupted, arg);
}
