/* SPDX-License-Identifier: Apache-2.0
 *
 * The embedded metadata engine: a volume's metadata in one SQLite database
 * file, META-URL sqlite3://PATH (absolute or relative; the directory must
 * exist, the file is created). Chosen through meta_engine_for_url(); this
 * header exists for that table and for tests.
 */
#ifndef TIDEFS_META_SQLITE_H
#define TIDEFS_META_SQLITE_H

#include "meta/meta.h"

extern const struct meta_ops meta_sqlite_ops;

#endif
