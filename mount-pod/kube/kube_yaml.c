/* SPDX-License-Identifier: Apache-2.0
 *
 * YAML to JSON for kubeconfig files, on libyaml's document loader: mappings
 * become objects, sequences arrays, every scalar a string (kubeconfig
 * values are strings, and callers read "true" where a boolean is meant).
 * Aliases are refused: a kubeconfig has no use for them, and refusing them
 * rules out "billion laughs" blow-ups.
 */
#include "kube/kube_i.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#define YAML_MAX_DEPTH 64
#define YAML_MAX_BYTES (4u << 20)

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *why, size_t whylen);

static json_t *mapping_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *why, size_t whylen)
{
    json_t *obj = json_object();

    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; obj && p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        json_t *jv;

        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            snprintf(why, whylen, "line %zu: mapping keys must be plain strings", n->start_mark.line + 1);
            json_decref(obj);
            return NULL;
        }
        jv = node_to_json(doc, v, depth + 1, why, whylen);
        if (!jv || json_object_set_new(obj, (const char *)k->data.scalar.value, jv) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *why, size_t whylen)
{
    json_t *arr;

    if (depth > YAML_MAX_DEPTH) {
        snprintf(why, whylen, "nesting deeper than %d levels", YAML_MAX_DEPTH);
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
    case YAML_MAPPING_NODE:
        return mapping_to_json(doc, n, depth, why, whylen);
    case YAML_SEQUENCE_NODE:
        arr = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; arr && i < n->data.sequence.items.top; i++) {
            yaml_node_t *item = yaml_document_get_node(doc, *i);
            json_t *j = item ? node_to_json(doc, item, depth + 1, why, whylen) : NULL;

            if (!j || json_array_append_new(arr, j) != 0) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    default:
        snprintf(why, whylen, "line %zu: empty node", n->start_mark.line + 1);
        return NULL;
    }
}

/* libyaml's loader resolves aliases silently; find them in the event
 * stream first. */
static int has_alias(const unsigned char *buf, size_t len, char *why, size_t whylen)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = 0;

    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, buf, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(why, whylen, "line %zu: %s", p.problem_mark.line + 1, p.problem ? p.problem : "syntax error");
            rc = -EINVAL;
            break;
        }
        yaml_event_type_t t = ev.type;

        if (t == YAML_ALIAS_EVENT) {
            snprintf(why, whylen, "line %zu: YAML aliases are not supported", ev.start_mark.line + 1);
            rc = -EINVAL;
        }
        yaml_event_delete(&ev);
        if (rc || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int read_all(const char *path, unsigned char **buf, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "re");
    size_t cap = 0;

    *buf = NULL;
    *len = 0;
    if (!f) {
        int rc = -errno;

        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    for (;;) {
        if (*len == cap) {
            unsigned char *nb = cap >= YAML_MAX_BYTES ? NULL : realloc(*buf, cap ? cap * 2 : 4096);

            if (!nb) {
                snprintf(why, whylen, "%s is larger than %u bytes", path, YAML_MAX_BYTES);
                fclose(f);
                free(*buf);
                *buf = NULL;
                return -EFBIG;
            }
            *buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        size_t n = fread(*buf + *len, 1, cap - *len, f);

        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return 0;
}

int kube_yaml_load_file(const char *path, json_t **out, char *why, size_t whylen)
{
    yaml_parser_t p;
    yaml_document_t doc;
    unsigned char *buf;
    size_t len;
    int rc = read_all(path, &buf, &len, why, whylen);

    *out = NULL;
    if (rc == 0)
        rc = has_alias(buf, len, why, whylen);
    if (rc) {
        free(buf);
        return rc;
    }
    if (!yaml_parser_initialize(&p)) {
        free(buf);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p, buf, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(why, whylen, "line %zu: %s", p.problem_mark.line + 1, p.problem ? p.problem : "syntax error");
        rc = -EINVAL;
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);

        if (!root || root->type != YAML_MAPPING_NODE) {
            snprintf(why, whylen, "the top level is not a mapping");
            rc = -EINVAL;
        } else if (!(*out = node_to_json(&doc, root, 0, why, whylen))) {
            rc = -EINVAL;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    free(buf);
    return rc;
}
