/* SPDX-License-Identifier: Apache-2.0
 *
 * kube_tool: the Kubernetes client on the command line, one operation per
 * run, for the client's tests (tests/test_kube_client.py drives it against
 * a recording HTTP server) and for poking a real cluster by hand.
 *
 *   kube_tool [--kubeconfig FILE [--context NAME] | --in-cluster SA_DIR]
 *             [--max-response BYTES] [--timeout-ms MS] [--times N] OP ARGS...
 *   OP: create NS PLURAL JSON | get NS PLURAL NAME | list NS PLURAL [LABELS [FIELDS]]
 *       | patch NS PLURAL NAME merge|strategic|json JSON | delete NS PLURAL NAME [GRACE [UID]]
 *       | poll NS PLURAL NAME DOTTED-PATH VALUE TIMEOUT_MS | namespace
 *
 * --times N repeats the operation, reading one line from stdin before each
 * repetition (so a test can change things between them). Prints the
 * response JSON (or "ok"), or on failure "ERRNAME HTTP-STATUS: text" on
 * stderr and exits 1.
 */
#include "kube/kube.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct poll_arg {
    const char *path, *value;
};

static int poll_check(const json_t *obj, void *arg)
{
    const struct poll_arg *pa = arg;
    const char *v = obj ? kube_str(obj, pa->path) : NULL;

    if (!obj)
        return strcmp(pa->value, "<gone>") == 0 ? 1 : 0;
    return v && strcmp(v, pa->value) == 0;
}

static int parse_json(const char *text, json_t **out)
{
    json_error_t je;

    *out = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        fprintf(stderr, "kube_tool: bad JSON argument: %s\n", je.text);
    return *out ? 0 : -EINVAL;
}

static int run_op(struct kube_client *c, int argc, char **argv, json_t **out, struct kube_err *err)
{
    const char *op = argv[0];
    json_t *in = NULL;
    int rc = -EINVAL;

    if (strcmp(op, "namespace") == 0 && argc == 1) {
        *out = json_pack("{s:s, s:s}", "namespace", kube_client_namespace(c), "server", kube_client_server(c));
        return 0;
    }
    if (strcmp(op, "create") == 0 && argc == 4 && parse_json(argv[3], &in) == 0)
        rc = kube_create(c, argv[1], argv[2], in, out, err);
    else if (strcmp(op, "get") == 0 && argc == 4)
        rc = kube_get(c, argv[1], argv[2], argv[3], out, err);
    else if (strcmp(op, "list") == 0 && argc >= 3 && argc <= 5)
        rc = kube_list(c, argv[1], argv[2], argc > 3 ? argv[3] : NULL, argc > 4 ? argv[4] : NULL, out, err);
    else if (strcmp(op, "patch") == 0 && argc == 6 && parse_json(argv[5], &in) == 0) {
        enum kube_patch_type t = strcmp(argv[4], "merge") == 0       ? KUBE_PATCH_MERGE
                                 : strcmp(argv[4], "strategic") == 0 ? KUBE_PATCH_STRATEGIC
                                                                     : KUBE_PATCH_JSON;
        rc = kube_patch(c, argv[1], argv[2], argv[3], t, in, out, err);
    } else if (strcmp(op, "delete") == 0 && argc >= 4 && argc <= 6)
        rc = kube_delete(c, argv[1], argv[2], argv[3], argc > 4 ? atoi(argv[4]) : -1, argc > 5 ? argv[5] : NULL, err);
    else if (strcmp(op, "poll") == 0 && argc == 7) {
        struct poll_arg pa = {argv[4], argv[5]};

        rc = kube_poll(c, argv[1], argv[2], argv[3], atol(argv[6]), poll_check, &pa, err);
    } else if (!in)
        fprintf(stderr, "kube_tool: unknown operation or wrong arguments: %s\n", op);
    json_decref(in);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kubeconfig", required_argument, NULL, 'k'}, {"context", required_argument, NULL, 'c'},
        {"in-cluster", required_argument, NULL, 'i'}, {"max-response", required_argument, NULL, 'm'},
        {"timeout-ms", required_argument, NULL, 't'}, {"times", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *kubeconfig = NULL, *context = NULL, *sa_dir = NULL;
    size_t max_response = 0;
    long timeout_ms = 0;
    int times = 1, o, rc = 0;
    struct kube_client *c;
    struct kube_err err = {0};

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'k': kubeconfig = optarg; break;
        case 'c': context = optarg; break;
        case 'i': sa_dir = optarg; break;
        case 'm': max_response = strtoul(optarg, NULL, 10); break;
        case 't': timeout_ms = atol(optarg); break;
        case 'n': times = atoi(optarg); break;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "kube_tool: an operation is required\n");
        return 2;
    }
    rc = kubeconfig ? kube_client_from_kubeconfig(kubeconfig, context, &c, &err)
         : sa_dir   ? kube_client_in_cluster(sa_dir, &c, &err)
                    : kube_client_auto(&c, &err);
    if (rc) {
        fprintf(stderr, "%s %d: %s\n", strerrorname_np(-rc), err.http_status, err.text);
        return 1;
    }
    kube_client_set_limits(c, max_response, timeout_ms);
    for (int i = 0; i < times && rc == 0; i++) {
        char line[64];
        json_t *out = NULL;

        if (i > 0 && !fgets(line, sizeof(line), stdin))
            break;
        rc = run_op(c, argc - optind, argv + optind, &out, &err);
        if (rc == 0) {
            char *s = out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

            printf("%s\n", s ? s : "ok");
            fflush(stdout);
            free(s);
        } else {
            fprintf(stderr, "%s %d: %s\n", strerrorname_np(-rc), err.http_status, err.text);
        }
        json_decref(out);
    }
    kube_client_free(c);
    return rc ? 1 : 0;
}
