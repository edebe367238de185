/* SPDX-License-Identifier: Apache-2.0
 *
 * Server-side scripts of the Redis engine. Each runs atomically inside Redis
 * and answers in one round trip: lookup (the entry and the attributes of the
 * inode it names), one page of readdir (names, entries and, for readdirplus,
 * attributes), and the release of slice references (which must decide,
 * inside the transaction, whether a count reached zero). Numbers that may
 * pass 2^53 (inode attributes, times) are never converted to Lua numbers:
 * inode numbers are cut out of the entry text as strings.
 */
#include "meta/meta_redis_i.h"

/* KEYS: d<parent>, i<parent>; ARGV: name.
 * {entry, attr} when found, {0, parent attr or nil} when not. */
static const char lua_lookup[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not v then return {0, redis.call('GET', KEYS[2])} end\n"
    "local ino = string.match(v, '^(%d+):')\n"
    "return {v, redis.call('GET', 'i' .. ino)}\n";

/* KEYS: z<dir>, d<dir>; ARGV: cookie to list after, page size, "1" for
 * attributes. A flat list of name, entry[, attr] ("" when missing). */
static const char lua_readdir[] =
    "local r = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))\n"
    "local out = {}\n"
    "for i = 1, #r do\n"
    "  local v = redis.call('HGET', KEYS[2], r[i])\n"
    "  if v then\n"
    "    out[#out + 1] = r[i]\n"
    "    out[#out + 1] = v\n"
    "    if ARGV[3] == '1' then\n"
    "      out[#out + 1] = redis.call('GET', 'i' .. string.match(v, '^(%d+):')) or ''\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: sliceRef, delSlices; ARGV: id, size, references dropped. A slice
 * whose count reaches zero is queued for deletion of its blocks. */
static const char lua_unref[] =
    "local r = redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[3]))\n"
    "if r <= 0 then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "  if redis.call('ZCOUNT', KEYS[2], ARGV[1], ARGV[1]) == 0 then\n"
    "    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1] .. ':' .. ARGV[2])\n"
    "  end\n"
    "end\n"
    "return r\n";

const char *mr_script_source(enum mr_script s)
{
    switch (s) {
    case MR_LUA_LOOKUP:
        return lua_lookup;
    case MR_LUA_READDIR:
        return lua_readdir;
    case MR_LUA_UNREF:
        return lua_unref;
    default:
        return "return nil";
    }
}
