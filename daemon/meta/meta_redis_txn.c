/* SPDX-License-Identifier: Apache-2.0
 *
 * The transaction runner of the Redis engine (invariant 1 of
 * meta_redis_i.h): an operation's body reads with WATCH and queues its
 * writes; the runner sends MULTI, the writes and EXEC in one pipeline. A
 * refused EXEC (another client changed a watched key) reruns the body after
 * a random backoff, a dropped connection is reopened and the body rerun,
 * both for at most MR_RETRY_LIMIT_NS; then the operation fails with -EIO.
 * So a Redis restart makes operations wait (not fail) for up to 30 s, and
 * the engine serves again by itself once Redis is back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meta/meta_redis_i.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t mr_align4k(uint64_t n)
{
    return (n + 4095) & ~4095ULL;
}

void mr_key(char out[MR_KEY_MAX], const char *prefix, uint64_t n)
{
    snprintf(out, MR_KEY_MAX, "%s%llu", prefix, (unsigned long long)n);
}

/* --- replies and queued commands ----------------------------------------- */

static redisReply *keep(struct mr_tx *tx, redisReply *r)
{
    if (!r) {
        tx->broken = true;
        return NULL;
    }
    if (tx->nreplies == tx->capreplies) {
        size_t cap = tx->capreplies ? tx->capreplies * 2 : 16;
        redisReply **v = realloc(tx->replies, cap * sizeof(*v));
        if (!v) {
            freeReplyObject(r);
            tx->broken = true; /* treated as a retryable failure */
            return NULL;
        }
        tx->replies = v;
        tx->capreplies = cap;
    }
    tx->replies[tx->nreplies++] = r;
    return r;
}

static redisReply *get_reply(struct mr_tx *tx)
{
    void *r = NULL;
    if (tx->broken || redisGetReply(tx->c->ctx, &r) != REDIS_OK) {
        tx->broken = true;
        return NULL;
    }
    return keep(tx, r);
}

redisReply *mr_cmd(struct mr_tx *tx, const char *fmt, ...)
{
    if (tx->broken)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(tx->c->ctx, fmt, ap);
    va_end(ap);
    return keep(tx, r);
}

redisReply *mr_wcmd(struct mr_tx *tx, const char *key, const char *fmt, ...)
{
    if (tx->broken)
        return NULL;
    if (!tx->readonly) {
        redisAppendCommand(tx->c->ctx, "WATCH %s", key);
        tx->watched = true;
    }
    va_list ap;
    va_start(ap, fmt);
    redisvAppendCommand(tx->c->ctx, fmt, ap);
    va_end(ap);
    if (!tx->readonly && !get_reply(tx))
        return NULL;
    return get_reply(tx);
}

redisReply *mr_wget(struct mr_tx *tx, const char *key)
{
    return mr_wcmd(tx, key, "GET %s", key);
}

int mr_watch(struct mr_tx *tx, const char *key)
{
    if (tx->readonly)
        return 0;
    tx->watched = true;
    return mr_check(tx, mr_cmd(tx, "WATCH %s", key));
}

int mr_check(struct mr_tx *tx, const redisReply *r)
{
    if (!r) {
        tx->broken = true;
        return -EIO;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "tidefs: redis %s: %s\n", tx->m->shown, r->str);
        return strncmp(r->str, "OOM", 3) == 0 ? -ENOSPC : -EIO;
    }
    return 0;
}

static int push_cmd(struct mr_tx *tx, char *cmd, int len)
{
    if (len < 0)
        return -ENOMEM;
    if (tx->ncmds == tx->capcmds) {
        size_t cap = tx->capcmds ? tx->capcmds * 2 : 16;
        char **v = realloc(tx->cmds, cap * sizeof(*v));
        size_t *l = v ? realloc(tx->cmdlens, cap * sizeof(*l)) : NULL;
        if (v)
            tx->cmds = v;
        if (!l) {
            free(cmd);
            return -ENOMEM;
        }
        tx->cmdlens = l;
        tx->capcmds = cap;
    }
    tx->cmds[tx->ncmds] = cmd;
    tx->cmdlens[tx->ncmds++] = (size_t)len;
    return 0;
}

int mr_queue(struct mr_tx *tx, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return push_cmd(tx, cmd, len);
}

/* --- scripts --------------------------------------------------------------- */

#define MR_EVAL_ARGS 16

static int eval_argv(const char *verb, const char *body, int nkeys, int argc, const char **argv,
                     const size_t *lens, const char **av, size_t *al, char *nk)
{
    if (argc + 3 > MR_EVAL_ARGS)
        return -E2BIG;
    snprintf(nk, 16, "%d", nkeys);
    av[0] = verb;
    av[1] = body;
    av[2] = nk;
    al[0] = strlen(verb);
    al[1] = strlen(body);
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    return argc + 3;
}

static int load_script(struct mr_tx *tx, enum mr_script s)
{
    redisReply *r = mr_cmd(tx, "SCRIPT LOAD %s", mr_script_source(s));
    int rc = mr_check(tx, r);
    if (rc == 0 && (r->type != REDIS_REPLY_STRING || r->len != 40))
        rc = -EIO;
    if (rc == 0)
        memcpy(tx->m->sha[s], r->str, 41); /* the same text always has the same SHA1 */
    return rc;
}

redisReply *mr_eval(struct mr_tx *tx, enum mr_script s, int nkeys, int argc, const char **argv, const size_t *lens)
{
    const char *av[MR_EVAL_ARGS];
    size_t al[MR_EVAL_ARGS];
    char nk[16];
    if (!tx->m->sha[s][0] && load_script(tx, s))
        return NULL;
    for (int attempt = 0; attempt < 2 && !tx->broken; attempt++) {
        int n = eval_argv("EVALSHA", tx->m->sha[s], nkeys, argc, argv, lens, av, al, nk);
        if (n < 0)
            return NULL;
        redisReply *r = keep(tx, redisCommandArgv(tx->c->ctx, n, av, al));
        if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
            return r;
        if (load_script(tx, s)) /* a restarted Redis forgot it */
            return NULL;
    }
    return NULL;
}

int mr_queue_eval(struct mr_tx *tx, enum mr_script s, int nkeys, int argc, const char **argv, const size_t *lens)
{
    const char *av[MR_EVAL_ARGS];
    size_t al[MR_EVAL_ARGS];
    char nk[16];
    int n = eval_argv("EVAL", mr_script_source(s), nkeys, argc, argv, lens, av, al, nk);
    if (n < 0)
        return n;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, n, av, al);
    return push_cmd(tx, cmd, len);
}

/* --- the runner -------------------------------------------------------------- */

static void tx_reset(struct mr_tx *tx)
{
    for (size_t i = 0; i < tx->nreplies; i++)
        freeReplyObject(tx->replies[i]);
    for (size_t i = 0; i < tx->ncmds; i++)
        free(tx->cmds[i]);
    free(tx->replies);
    free(tx->cmds);
    free(tx->cmdlens);
    free(tx->qd);
}

/* Sends MULTI, the queued writes and EXEC. 0, 1 when EXEC was refused
 * (a watched key changed), or -errno. */
static int exec_queued(struct mr_tx *tx)
{
    redisContext *ctx = tx->c->ctx;
    redisAppendCommand(ctx, "MULTI");
    for (size_t i = 0; i < tx->ncmds; i++)
        redisAppendFormattedCommand(ctx, tx->cmds[i], tx->cmdlens[i]);
    redisAppendCommand(ctx, "EXEC");
    int rc = 0;
    for (size_t i = 0; i < tx->ncmds + 1 && !tx->broken; i++) {
        redisReply *r = get_reply(tx); /* +OK, then +QUEUED each */
        if (rc == 0 && r && r->type == REDIS_REPLY_ERROR)
            rc = mr_check(tx, r); /* EXEC will abort the whole transaction */
    }
    redisReply *ex = get_reply(tx);
    if (!ex)
        return -EIO;
    if (rc)
        return rc;
    if (ex->type == REDIS_REPLY_NIL)
        return 1;
    if (ex->type != REDIS_REPLY_ARRAY)
        return mr_check(tx, ex) ? -EIO : -EIO;
    for (size_t i = 0; i < ex->elements; i++)
        if (ex->element[i]->type == REDIS_REPLY_ERROR)
            return mr_check(tx, ex->element[i]); /* applied partly: Redis has no rollback */
    return 0;
}

/* Random sleep before retry `attempt`: 0..(attempt+1)^2 ms after a
 * conflict (so contending clients spread out), a growing pause up to 1 s
 * while the server is unreachable. */
static void backoff(int attempt, bool broken)
{
    int64_t cap_ms = broken ? 100LL * (attempt < 10 ? attempt + 1 : 10) : (int64_t)(attempt + 1) * (attempt + 1);
    if (cap_ms > 200 && !broken)
        cap_ms = 200;
    int64_t ns = broken ? cap_ms * 1000000LL : (mono_ns() % (cap_ms * 1000000LL + 1));
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    nanosleep(&ts, NULL);
}

static void ensure_connected(struct meta *m, struct mr_tx *tx)
{
    if (tx->c->ctx)
        return;
    char why[256];
    redisContext *ctx = NULL;
    if (mr_connect(m, &ctx, why, sizeof(why)) == 0) {
        tx->c->ctx = ctx;
        if (atomic_exchange(&m->down, false))
            fprintf(stderr, "tidefs: redis %s: connected again\n", m->shown);
        return;
    }
    if (!atomic_exchange(&m->down, true))
        fprintf(stderr, "tidefs: redis %s: %s; retrying for up to %d s\n", m->shown, why,
                (int)(MR_RETRY_LIMIT_NS / 1000000000LL));
    tx->broken = true;
}

/* One attempt: 0 done (*rc set), 1 retry. */
static int attempt_once(struct meta *m, struct mr_conn *c, mr_fn fn, void *arg, bool readonly, int *rc)
{
    struct mr_tx tx = {.m = m, .c = c, .readonly = readonly};
    ensure_connected(m, &tx);
    int res = tx.broken ? -EIO : fn(m, &tx, arg);
    int conflict = 0;
    if (!tx.broken && res >= 0 && tx.ncmds)
        conflict = exec_queued(&tx);
    else if (!tx.broken && tx.watched)
        mr_cmd(&tx, "UNWATCH");
    if (conflict < 0)
        res = conflict;
    bool broken = tx.broken;
    tx_reset(&tx);
    if (broken) {
        redisFree(c->ctx);
        c->ctx = NULL;
        return 1;
    }
    *rc = res;
    return conflict > 0;
}

static int run(struct meta *m, mr_fn fn, void *arg, bool readonly)
{
    struct mr_conn *c = mr_pool_get(m);
    if (!c)
        return -ENOMEM;
    int64_t started = mono_ns();
    int rc = -EIO;
    for (int attempt = 0;; attempt++) {
        if (!attempt_once(m, c, fn, arg, readonly, &rc))
            break;
        if (mono_ns() - started > MR_RETRY_LIMIT_NS) {
            rc = -EIO;
            break;
        }
        backoff(attempt, c->ctx == NULL);
    }
    mr_pool_put(m, c);
    return rc;
}

int mr_txn(struct meta *m, mr_fn fn, void *arg)
{
    return run(m, fn, arg, false);
}

int mr_read(struct meta *m, mr_fn fn, void *arg)
{
    return run(m, fn, arg, true);
}
