/* SPDX-License-Identifier: Apache-2.0
 *
 * What every object-store backend shares with the dispatcher (store.c):
 * a backend's own state struct begins with `struct store`, whose first
 * member points at the backend's ops table, and the dispatcher forwards
 * each store_*() call through it. A new backend defines one
 * `const struct store_ops store_<name>_ops` and adds it to the table in
 * store.c.
 */
#ifndef TIDEFS_STORE_I_H
#define TIDEFS_STORE_I_H

#include "object/store.h"

struct store {
    const struct store_ops *ops; /* set by store_open() after ops->open */
};

extern const struct store_ops store_file_ops; /* store_file.c */
extern const struct store_ops store_s3_ops;   /* store_s3.c */

#endif
