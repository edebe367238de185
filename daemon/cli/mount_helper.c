/* SPDX-License-Identifier: Apache-2.0
 *
 * mount.tidefs: lets `mount -t tidefs META-URL DIR -o OPTS` and /etc/fstab
 * entries work. mount(8) calls `mount.tidefs SOURCE DIR [-sfnv] [-o OPTS]`;
 * tidefs options written as key=value (cache-dir=/x, buffer-size=500M,
 * subdir=/a, ...) become flags, mount(8)'s own (defaults, _netdev, auto,
 * nofail, user, ...) are dropped, ro becomes --read-only, and anything else
 * is passed to FUSE. The mount always runs in the background.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_ARGS 64

static const char *const tidefs_keys[] = {
    "log", "cache-dir", "cache-size", "buffer-size", "attr-cache", "entry-cache", "subdir", "max-uploads",
    "max-downloads",
};

static const char *const mount8_only[] = {
    "defaults", "_netdev", "auto", "noauto", "nofail", "user", "nouser", "users", "rw", "owner", "group",
    "comment", "x-systemd", "_",
};

static bool is_mount8_only(const char *o)
{
    for (size_t i = 0; i < sizeof(mount8_only) / sizeof(mount8_only[0]); i++) {
        size_t n = strlen(mount8_only[i]);
        if (strncmp(o, mount8_only[i], n) == 0 && (o[n] == '\0' || o[n] == '=' || o[n] == '.' || n == 1))
            return true;
    }
    return false;
}

struct helper_args {
    char *argv[MAX_ARGS];
    int argc;
    char *fuse; /* owned, comma separated */
};

static int push(struct helper_args *h, char *s)
{
    if (h->argc >= MAX_ARGS - 1)
        return -E2BIG;
    h->argv[h->argc++] = s;
    return 0;
}

static int add_tidefs_opt(struct helper_args *h, const char *o)
{
    for (size_t i = 0; i < sizeof(tidefs_keys) / sizeof(tidefs_keys[0]); i++) {
        size_t n = strlen(tidefs_keys[i]);
        if (strncmp(o, tidefs_keys[i], n) == 0 && o[n] == '=') {
            char *flag = NULL;
            if (asprintf(&flag, "--%s", o) < 0)
                return -ENOMEM;
            return push(h, flag);
        }
    }
    return 1; /* not ours */
}

static int add_option(struct helper_args *h, const char *o)
{
    if (strcmp(o, "ro") == 0)
        return push(h, strdup("--read-only"));
    if (is_mount8_only(o))
        return 0;
    int rc = add_tidefs_opt(h, o);
    if (rc <= 0)
        return rc;
    char *joined = NULL;
    if (asprintf(&joined, "%s%s%s", h->fuse ? h->fuse : "", h->fuse ? "," : "", o) < 0)
        return -ENOMEM;
    free(h->fuse);
    h->fuse = joined;
    return 0;
}

static int add_options(struct helper_args *h, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    int rc = copy ? 0 : -ENOMEM;
    for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; o && rc == 0; o = strtok_r(NULL, ",", &save))
        rc = add_option(h, o);
    free(copy);
    return rc;
}

int cmd_mount_helper(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "mount.tidefs: usage: mount.tidefs META-URL MOUNTPOINT [-o OPTIONS]\n");
        return CLI_EXIT_USAGE;
    }
    struct helper_args h = {0};
    push(&h, strdup("mount"));
    push(&h, strdup("--background"));
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            rc = add_options(&h, argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            i++;
        /* -s, -f, -n, -v: sloppy, fake, no-mtab, verbose: nothing to do */
    }
    if (rc == 0 && h.fuse) {
        push(&h, strdup("-o"));
        push(&h, h.fuse);
        h.fuse = NULL;
    }
    if (rc == 0) {
        push(&h, strdup(argv[1]));
        rc = push(&h, strdup(argv[2]));
    }
    int status = CLI_EXIT_USAGE;
    if (rc == 0)
        status = cmd_mount(h.argc, h.argv);
    else
        fprintf(stderr, "mount.tidefs: cannot parse options: %s\n", strerror(-rc));
    for (int i = 0; i < h.argc; i++)
        free(h.argv[i]);
    free(h.fuse);
    return status;
}
