/* SPDX-License-Identifier: Apache-2.0
 *
 * The engine of `tidefs objbench`: measures an object store (any backend,
 * through store.h) with PUT, GET, HEAD, LIST and DELETE of objects of one
 * size from several threads, and prints latency percentiles and
 * throughput per operation. The objects live under a fresh prefix and are
 * deleted at the end.
 */
#ifndef TIDEFS_OBJBENCH_H
#define TIDEFS_OBJBENCH_H

#include <stddef.h>
#include <stdio.h>

#include "object/store.h"

struct objbench_opts {
    size_t block_size; /* bytes per object; 0 = 4 MiB */
    int threads;       /* 0 = 4 */
    int objects;       /* objects per phase; 0 = 64 */
    const char *prefix; /* key prefix; NULL = "objbench/<pid>-<time>/" */
    int progress;      /* -1 = when out is a terminal, 0 = never, 1 = always */
};

/* Runs the benchmark against s, writing the report (and, on a terminal, a
 * progress line) to out. 0 when every operation succeeded and every GET
 * returned what was PUT; -EIO otherwise (the report says how many failed);
 * -EINVAL for bad options; -ENOMEM. */
int objbench_run(struct store *s, const struct objbench_opts *o, FILE *out);

#endif
