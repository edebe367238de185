/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs destroy: deletes every object of a volume from its store and then
 * all of its metadata. The UUID on the command line must be the volume's
 * (a typo cannot destroy the wrong volume), no mount may be live, and a
 * terminal confirmation (or --yes) is needed. Interrupting while objects
 * are deleted leaves the metadata in place: rerun to finish.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_ops.h"

#define LIVE_NS (60LL * 1000000000LL) /* a session without heartbeat this long is dead */

static const char destroy_help[] =
    "Usage: tidefs destroy [--yes] META-URL UUID\n\n"
    "Delete ALL data and metadata of the volume. UUID must be the volume's (see tidefs\n"
    "status); refused while any mount of the volume is live. Asks for confirmation on a\n"
    "terminal unless --yes is given.\n\n"
    "Example:\n"
    "  tidefs destroy sqlite3:///var/lib/tidefs/vol.db 4f1c...-...\n";

struct live {
    int count;
};

static int print_live(void *arg, uint64_t sid, int64_t heartbeat_ns, const char *info)
{
    (void)heartbeat_ns;
    struct live *l = arg;
    l->count++;
    fprintf(stderr, "tidefs destroy: live mount (session %llu): %s\n", (unsigned long long)sid,
            info ? info : "{}");
    return 0;
}

struct deleter {
    struct store *st;
    struct ops_progress progress;
    uint64_t deleted, failed;
};

static int delete_object(void *arg, const char *key, uint64_t size, int64_t mtime_ns)
{
    (void)size;
    (void)mtime_ns;
    struct deleter *d = arg;
    if (store_del(d->st, key) == 0)
        d->deleted++;
    else
        d->failed++;
    ops_progress_add(&d->progress, 1);
    return ops_interrupted();
}

static int check_args(int argc, char **argv, bool *yes)
{
    static const struct option opts[] = {{"yes", no_argument, NULL, 'y'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
        if (c == 'y')
            *yes = true;
        else if (c == 'h')
            return fputs(destroy_help, stdout), -1;
        else
            return cli_bad_option("destroy", c, argv);
    }
    if (optind != argc - 2) {
        cli_error("destroy", "expected META-URL and UUID (see tidefs destroy --help)");
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Everything that must hold before anything is deleted. */
static int may_destroy(const struct meta_ops *ops, struct meta *m, const struct format *fmt, const char *uuid,
                       bool yes)
{
    if (strcmp(fmt->uuid, uuid) != 0) {
        cli_error("destroy", "UUID %s does not match the volume's (see tidefs status); nothing deleted", uuid);
        return -EINVAL;
    }
    struct live l = {0};
    ops->clean_sessions(m, LIVE_NS);
    int rc = ops->list_sessions(m, print_live, &l);
    if (rc == 0 && l.count) {
        cli_error("destroy", "%d mount(s) of the volume are live; unmount them first", l.count);
        return -EBUSY;
    }
    char q[256];
    snprintf(q, sizeof(q), "delete ALL data and metadata of volume '%s' (%s)?", fmt->name, fmt->uuid);
    if (rc == 0 && !yes && !ops_confirm(q)) {
        cli_error("destroy", "not confirmed (use --yes without a terminal); nothing deleted");
        return -ECANCELED;
    }
    return rc;
}

int cmd_destroy(int argc, char **argv)
{
    bool yes = false;
    int rc = check_args(argc, argv, &yes);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    const char *url = argv[optind], *uuid = argv[optind + 1];
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    struct deleter d = {0};
    if (cli_open_volume("destroy", url, &ops, &m, &fmt) != 0)
        return CLI_EXIT_FAIL;
    rc = ops_require("destroy", ops, (const void *)ops->destroy);
    if (rc == 0)
        rc = may_destroy(ops, m, &fmt, uuid, yes);
    if (rc == 0)
        rc = ops_open_store("destroy", &fmt, &d.st);
    if (rc == 0) {
        char prefix[FORMAT_NAME_MAX + 2];
        snprintf(prefix, sizeof(prefix), "%s/", fmt.name);
        ops_catch_interrupts();
        ops_progress_start(&d.progress, "destroy: objects deleted", 0);
        rc = store_list(d.st, prefix, NULL, delete_object, &d);
        ops_progress_end(&d.progress);
        rc = rc > 0 ? 0 : rc;
        if (rc == 0 && (ops_interrupted() || d.failed))
            rc = ops_interrupted() ? -EINTR : -EIO;
        if (rc == 0)
            rc = ops->destroy(m);
        printf("destroy: %llu objects deleted, %llu failed; metadata %s\n", (unsigned long long)d.deleted,
               (unsigned long long)d.failed, rc == 0 ? "deleted" : "kept (rerun to finish)");
        if (rc)
            cli_error("destroy", "%s", strerror(-rc));
    }
    store_free(d.st);
    cli_close_volume(ops, m, &fmt);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
