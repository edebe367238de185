/* SPDX-License-Identifier: Apache-2.0
 *
 * Mounting a FUSE filesystem by hand, the way fusermount3 does but without
 * it: open /dev/fuse, mount(2) with fd=N. The mount needs CAP_SYS_ADMIN;
 * the daemon that serves it later needs nothing. Also tunes the mount's
 * readahead, which only a privileged process can do (fuse-ceiling.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "handoff/handoff_i.h"
#include "handoff/handoff_mount.h"

#define DEFAULT_MAX_READ (1u << 20)

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; w++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w = *r++;
        }
    }
    *w = '\0';
}

/* The device of the mount at `path`, from /proc/self/mountinfo: a stat() of
 * the mountpoint would wait for a daemon to answer FUSE_INIT. The last
 * matching line is the top mount. */
static int mount_dev(const char *path, unsigned *maj, unsigned *min)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char line[4096], mp[4096];
    int rc = -ENOENT;
    unsigned a, b;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b, mp) != 3)
            continue;
        unescape(mp);
        if (strcmp(mp, path) == 0) {
            *maj = a;
            *min = b;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

static void set_read_ahead(const char *real_mountpoint, unsigned kb)
{
    unsigned maj, min;
    char path[96];
    if (kb == 0 || mount_dev(real_mountpoint, &maj, &min) != 0)
        return;
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char val[16];
    int n = snprintf(val, sizeof(val), "%u", kb);
    if (write(fd, val, (size_t)n) != n) {
        /* only a speed knob: the mount works without it */
    }
    close(fd);
}

int handoff_fuse_mount(const char *mountpoint, const struct handoff_mount_opts *opts, int *fuse_fd,
                       struct handoff_err *err)
{
    struct handoff_mount_opts def = {0};
    const struct handoff_mount_opts *o = opts ? opts : &def;
    /* resolved before the mount: afterwards the path leads into FUSE */
    char *real = o->read_ahead_kb ? realpath(mountpoint, NULL) : NULL;
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        free(real);
        handoff_err_set(err, "cannot open /dev/fuse: %s", strerror(errno));
        return -errno;
    }
    char data[256];
    snprintf(data, sizeof(data),
             "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions,max_read=%u", fd,
             (unsigned)o->user_id, (unsigned)o->group_id, o->max_read ? o->max_read : DEFAULT_MAX_READ);
    unsigned long flags = MS_NOSUID | MS_NODEV | (o->read_only ? MS_RDONLY : 0);
    if (mount(o->fsname ? o->fsname : "tidefs", mountpoint, "fuse.tidefs", flags, data) != 0) {
        int rc = -errno;
        handoff_err_set(err, "cannot mount FUSE at %s: %s", mountpoint, strerror(errno));
        free(real);
        close(fd);
        return rc;
    }
    if (real)
        set_read_ahead(real, o->read_ahead_kb);
    free(real);
    *fuse_fd = fd;
    return 0;
}

int handoff_fuse_unmount(const char *mountpoint, struct handoff_err *err)
{
    if (umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
        handoff_err_set(err, "cannot unmount %s: %s", mountpoint, strerror(errno));
        return -errno;
    }
    return 0;
}
