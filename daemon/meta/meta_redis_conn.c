/* SPDX-License-Identifier: Apache-2.0
 *
 * Connections of the Redis engine: parsing redis://[user:password@]host
 * [:port][/db] (the password may instead come from META_PASSWORD or the
 * file named by META_PASSWORD_FILE, so that it need not be in argv), the
 * authenticated connection, the startup checks of the server's settings,
 * and a small pool of connections (one per concurrent operation). The
 * password is never printed: messages name the server as host:port/db.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "meta/meta_redis_i.h"

#define MR_CONNECT_TIMEOUT_S 2
#define MR_COMMAND_TIMEOUT_S 5 /* a hung server fails a command after this */
#define MR_PASSWORD_MAX 4096

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* %XX-decoded copy of [s, s+n), NULL on a bad escape or no memory */
static char *url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *w = out;
    for (size_t i = 0; out && i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            *w++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    if (out)
        *w = '\0';
    return out;
}

/* The password from META_PASSWORD, else from the file META_PASSWORD_FILE
 * (its first line); *out NULL when neither is set. */
static int password_from_env(char **out)
{
    *out = NULL;
    const char *env = getenv("META_PASSWORD");
    if (env && *env) {
        *out = strdup(env);
        return *out ? 0 : -ENOMEM;
    }
    const char *file = getenv("META_PASSWORD_FILE");
    if (!file || !*file)
        return 0;
    FILE *f = fopen(file, "re");
    if (!f) {
        int rc = -errno;
        fprintf(stderr, "tidefs: redis: cannot read META_PASSWORD_FILE %s: %s\n", file, strerror(-rc));
        return rc;
    }
    char buf[MR_PASSWORD_MAX + 1];
    size_t n = fread(buf, 1, MR_PASSWORD_MAX, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return *out ? 0 : -ENOMEM;
}

static int parse_userinfo(const char *s, size_t n, struct meta *m)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (ulen) {
        m->user = url_decode(s, ulen);
        if (!m->user)
            return -EINVAL;
    }
    if (colon) {
        m->password = url_decode(colon + 1, n - ulen - 1);
        if (!m->password)
            return -EINVAL;
    }
    return 0;
}

static int parse_hostport(const char *s, size_t n, struct meta *m)
{
    const char *port = NULL;
    if (n && s[0] == '[') { /* [IPv6] */
        const char *end = memchr(s, ']', n);
        if (!end)
            return -EINVAL;
        m->host = strndup(s + 1, (size_t)(end - s - 1));
        port = end + 1 < s + n && end[1] == ':' ? end + 2 : NULL;
        if (!port && end + 1 != s + n)
            return -EINVAL;
    } else {
        const char *colon = memchr(s, ':', n);
        m->host = strndup(s, colon ? (size_t)(colon - s) : n);
        port = colon ? colon + 1 : NULL;
    }
    if (!m->host)
        return -ENOMEM;
    if (!*m->host)
        return -EINVAL;
    m->port = 6379;
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (end != s + n || end == port || p < 1 || p > 65535)
            return -EINVAL;
        m->port = (int)p;
    }
    return 0;
}

int mr_url_parse(const char *url, struct meta *m)
{
    if (strncmp(url, "rediss://", 9) == 0) {
        fprintf(stderr, "tidefs: redis: TLS (rediss://) is not supported by this build: Debian's hiredis %d.%d "
                        "has no TLS support; use redis:// through a TLS tunnel (e.g. stunnel)\n",
                HIREDIS_MAJOR, HIREDIS_MINOR);
        return -EPROTONOSUPPORT;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -EINVAL;
    const char *p = url + 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q; /* the last '@' ends the userinfo */
    int rc = at ? parse_userinfo(p, (size_t)(at - p), m) : 0;
    if (rc == 0)
        rc = parse_hostport(at ? at + 1 : p, (size_t)(end - (at ? at + 1 : p)), m);
    if (rc == 0 && slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || e == slash + 1 || db < 0 || db > 1000000)
            rc = -EINVAL;
        m->db = (int)db;
    }
    if (rc == 0 && !m->password)
        rc = password_from_env(&m->password);
    if (rc == 0 && asprintf(&m->shown, "%s:%d/%d", m->host, m->port, m->db) < 0) {
        m->shown = NULL;
        rc = -ENOMEM;
    }
    return rc;
}

/* --- one connection ----------------------------------------------------- */

static int auth_select(struct meta *m, redisContext *ctx, char *why, size_t whylen)
{
    redisReply *r = NULL;
    if (m->password && m->user)
        r = redisCommand(ctx, "AUTH %s %s", m->user, m->password);
    else if (m->password)
        r = redisCommand(ctx, "AUTH %s", m->password);
    if (m->password && (!r || r->type == REDIS_REPLY_ERROR)) {
        /* Redis's own message never contains the password */
        snprintf(why, whylen, "authentication failed: %s", r ? r->str : ctx->errstr);
        freeReplyObject(r);
        return r ? -EACCES : -EIO;
    }
    freeReplyObject(r);
    r = redisCommand(ctx, "SELECT %d", m->db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "SELECT %d failed: %s", m->db, r ? r->str : ctx->errstr);
        int rc = r && strstr(r->str, "NOAUTH") ? -EACCES : r ? -EINVAL : -EIO;
        freeReplyObject(r);
        return rc;
    }
    freeReplyObject(r);
    return 0;
}

int mr_connect(struct meta *m, redisContext **out, char *why, size_t whylen)
{
    struct timeval ct = {MR_CONNECT_TIMEOUT_S, 0}, ot = {MR_COMMAND_TIMEOUT_S, 0};
    redisContext *ctx = redisConnectWithTimeout(m->host, m->port, ct);
    if (!ctx || ctx->err) {
        snprintf(why, whylen, "cannot connect: %s", ctx ? ctx->errstr : "out of memory");
        redisFree(ctx);
        return -EIO;
    }
    redisSetTimeout(ctx, ot);
    redisEnableKeepAlive(ctx);
    int rc = auth_select(m, ctx, why, whylen);
    if (rc) {
        redisFree(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

/* --- startup checks ----------------------------------------------------- */

/* The value of "field:" in an INFO section, copied into out. */
static bool info_field(redisContext *ctx, const char *section, const char *field, char *out, size_t outlen)
{
    redisReply *r = redisCommand(ctx, "INFO %s", section);
    bool found = false;
    if (r && r->type == REDIS_REPLY_STRING) {
        size_t flen = strlen(field);
        for (const char *line = r->str; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
            if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
                size_t n = strcspn(line + flen + 1, "\r\n");
                snprintf(out, outlen, "%.*s", (int)n, line + flen + 1);
                found = true;
                break;
            }
        }
    }
    freeReplyObject(r);
    return found;
}

/* An evicting Redis silently drops metadata: set noeviction or refuse.
 * Without an append-only file a crash loses everything since the last
 * snapshot: warn. */
int mr_server_checks(struct meta *m, redisContext *ctx)
{
    char policy[64] = "", aof[8] = "", fsync[16] = "";
    if (!info_field(ctx, "memory", "maxmemory_policy", policy, sizeof(policy))) {
        fprintf(stderr, "tidefs: redis %s: cannot read INFO memory: %s\n", m->shown,
                ctx->err ? ctx->errstr : "no maxmemory_policy");
        return -EIO;
    }
    if (strcmp(policy, "noeviction") != 0) {
        redisReply *r = redisCommand(ctx, "CONFIG SET maxmemory-policy noeviction");
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr,
                    "tidefs: redis %s: maxmemory-policy is %s, which would evict (lose) metadata, and it "
                    "could not be changed: set `maxmemory-policy noeviction` in redis.conf\n",
                    m->shown, policy);
            return -EINVAL;
        }
        fprintf(stderr, "tidefs: redis %s: maxmemory-policy was %s; set to noeviction (add it to redis.conf "
                        "to keep it across restarts)\n",
                m->shown, policy);
    }
    if (info_field(ctx, "persistence", "aof_enabled", aof, sizeof(aof)) && strcmp(aof, "0") == 0)
        fprintf(stderr, "tidefs: redis %s: warning: appendonly is no, so a Redis crash or restart loses every "
                        "metadata change since the last RDB snapshot (files, directories, data written); "
                        "set `appendonly yes` and `appendfsync always` (or everysec) in redis.conf\n",
                m->shown);
    redisReply *r = redisCommand(ctx, "CONFIG GET appendfsync");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(fsync, sizeof(fsync), "%s", r->element[1]->str);
    freeReplyObject(r);
    if (strcmp(aof, "1") == 0 && *fsync && strcmp(fsync, "always") != 0)
        fprintf(stderr, "tidefs: redis %s: note: appendfsync is %s: a power loss of the Redis host may lose "
                        "up to about a second of metadata changes, fsync included (see docs/redis.md)\n",
                m->shown, fsync);
    return 0;
}

/* --- the pool ------------------------------------------------------------ */

struct mr_conn *mr_pool_get(struct meta *m)
{
    pthread_mutex_lock(&m->pool_lock);
    while (!m->free_conns && m->nconns >= MR_MAX_CONNS)
        pthread_cond_wait(&m->pool_cond, &m->pool_lock);
    struct mr_conn *c = m->free_conns;
    if (c)
        m->free_conns = c->next_free;
    else if ((c = calloc(1, sizeof(*c))) != NULL)
        m->nconns++;
    pthread_mutex_unlock(&m->pool_lock);
    return c; /* NULL only without memory */
}

void mr_pool_put(struct meta *m, struct mr_conn *c)
{
    pthread_mutex_lock(&m->pool_lock);
    c->next_free = m->free_conns;
    m->free_conns = c;
    pthread_cond_signal(&m->pool_cond);
    pthread_mutex_unlock(&m->pool_lock);
}

void mr_pool_close(struct meta *m)
{
    while (m->free_conns) {
        struct mr_conn *c = m->free_conns;
        m->free_conns = c->next_free;
        redisFree(c->ctx);
        free(c);
    }
}
