/* SPDX-License-Identifier: Apache-2.0
 *
 * The shared metadata engine: a volume's metadata in one Redis database,
 * META-URL redis://[user:password@]host[:port][/db] (rediss:// is refused
 * with a clear message: Debian's hiredis has no TLS). Many mounts on many
 * hosts may use one volume at once. Chosen through meta_engine_for_url();
 * this header exists for that table and for tests. See docs/redis.md.
 */
#ifndef TIDEFS_META_REDIS_H
#define TIDEFS_META_REDIS_H

#include "meta/meta.h"

extern const struct meta_ops meta_redis_ops;
extern const struct meta_ops meta_rediss_ops;

#endif
