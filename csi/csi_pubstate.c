/* SPDX-License-Identifier: Apache-2.0
 *
 * Publication records: "<dir>/<fnv1a64(target)>.pub", key=value lines.
 * Values were validated before (no control characters), so a newline can
 * never be smuggled into a record.
 */
#include "csi_pubstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void record_path(char *out, size_t len, const char *dir, const char *target)
{
    unsigned long long h = 1469598103934665603ULL;

    for (const char *s = target; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    snprintf(out, len, "%s/%016llx.pub", dir, h);
}

static int set_field(struct csi_pubstate *st, const char *key, const char *val)
{
    if (strcmp(key, "target") == 0)
        return snprintf(st->target, sizeof(st->target), "%s", val) < (int)sizeof(st->target) ? 0 : -EIO;
    if (strcmp(key, "volume_id") == 0)
        return snprintf(st->volume_id, sizeof(st->volume_id), "%s", val) < (int)sizeof(st->volume_id) ? 0 : -EIO;
    if (strcmp(key, "subdir") == 0)
        return snprintf(st->subdir, sizeof(st->subdir), "%s", val) < (int)sizeof(st->subdir) ? 0 : -EIO;
    if (strcmp(key, "readonly") == 0) {
        st->readonly = strcmp(val, "1") == 0;
        return 0;
    }
    return 0; /* unknown keys: written by a newer plugin */
}

int csi_pubstate_load(const char *dir, const char *target, struct csi_pubstate *out)
{
    char path[PATH_MAX + 64], *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    FILE *f;

    record_path(path, sizeof(path), dir, target);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    memset(out, 0, sizeof(*out));
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        char *eq = strchr(line, '=');

        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (!eq) {
            rc = -EIO;
            break;
        }
        *eq = '\0';
        rc = set_field(out, line, eq + 1);
    }
    free(line);
    fclose(f);
    if (rc == 0 && (strcmp(out->target, target) != 0 || !out->volume_id[0]))
        rc = -EIO; /* a hash collision or a damaged record */
    return rc;
}

int csi_pubstate_save(const char *dir, const struct csi_pubstate *st)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    int fd, rc = 0;
    FILE *f;

    record_path(path, sizeof(path), dir, st->target);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    f = fdopen(fd, "w");
    if (!f) {
        rc = -errno;
        close(fd);
        unlink(tmp);
        return rc;
    }
    fprintf(f, "target=%s\nvolume_id=%s\nsubdir=%s\nreadonly=%d\n", st->target, st->volume_id, st->subdir,
            st->readonly ? 1 : 0);
    if (fflush(f) != 0 || fsync(fd) != 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

int csi_pubstate_remove(const char *dir, const char *target)
{
    char path[PATH_MAX + 64];

    record_path(path, sizeof(path), dir, target);
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}
