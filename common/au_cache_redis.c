/* au_cache_redis.c: the Redis backend over hiredis (blocking, pipelined).
 *
 * A context that reported an error is never reused: hiredis leaves it in
 * an undefined state, so it is freed and the next call connects afresh.
 * How often that may happen is the cache's business (au_cache.c waits
 * redis.retry_ms after a failure before calling this backend again).
 * Not thread-safe: one context per worker. */
#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "au_cache.h"

#define AU__REDIS_HOST_MAX 256
#define AU__REDIS_SECRET_MAX 256
#define AU__REDIS_DB_MAX 1000000

typedef struct {
    char host[AU__REDIS_HOST_MAX];
    int port;
    long db;
    char user[AU__REDIS_SECRET_MAX];
    char password[AU__REDIS_SECRET_MAX];
    int timeout_ms;
    redisContext *ctx;
} au__redis_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies src[0..n) into dst decoding %XX escapes, so that passwords may
 * contain '@', ':' or '/'. */
static int url_decode(char *dst, size_t cap, const char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return AU_EPARSE;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return AU_EPARSE;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return AU_ETOOBIG;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

static int parse_long(const char *s, size_t n, long lo, long hi, long *out)
{
    char buf[16];
    if (n == 0 || n >= sizeof(buf))
        return AU_EPARSE;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return AU_EPARSE;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    long v = strtol(buf, NULL, 10);
    if (errno || v < lo || v > hi)
        return AU_ERANGE;
    *out = v;
    return 0;
}

/* redis://[[user]:password@]host[:port][/db]; host may be [v6addr]. */
static int parse_url(au__redis_t *r, const char *url)
{
    static const char scheme[] = "redis://";
    size_t slen = sizeof(scheme) - 1;
    if (strncmp(url, scheme, slen) != 0)
        return AU_EPARSE;
    const char *p = url + slen;
    const char *end = p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return AU_EPARSE;
        int rc = url_decode(r->user, sizeof(r->user), p, (size_t)(colon - p));
        if (rc == 0)
            rc = url_decode(r->password, sizeof(r->password), colon + 1,
                            (size_t)(at - colon - 1));
        if (rc < 0)
            return rc;
        p = at + 1;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end)
            return AU_EPARSE;
        p = host_end + 1;
    } else {
        host_end = memchr(p, ':', (size_t)(auth_end - p));
        if (!host_end)
            host_end = auth_end;
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(r->host))
        return AU_EPARSE;
    memcpy(r->host, host, hlen);
    r->host[hlen] = '\0';
    long port = 6379;
    if (p < auth_end) {
        if (*p != ':' ||
            parse_long(p + 1, (size_t)(auth_end - p - 1), 1, 65535, &port))
            return AU_EPARSE;
    }
    r->port = (int)port;
    r->db = 0;
    if (slash && slash + 1 < end &&
        parse_long(slash + 1, (size_t)(end - slash - 1), 0, AU__REDIS_DB_MAX,
                   &r->db))
        return AU_EPARSE;
    return 0;
}

static void drop_ctx(au__redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

/* Runs one setup command (AUTH, SELECT); 0 when it answered OK. */
static int setup_cmd(au__redis_t *r, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    if (!rep)
        return AU_ECACHE;
    int ok = rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    return ok ? 0 : AU_ECACHE;
}

static int ensure_ctx(au__redis_t *r)
{
    if (r->ctx)
        return 0;
    struct timeval tv = {.tv_sec = r->timeout_ms / 1000,
                         .tv_usec = (r->timeout_ms % 1000) * 1000};
    r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->ctx)
        return AU_ECACHE;
    if (r->ctx->err || redisSetTimeout(r->ctx, tv) != REDIS_OK)
        goto fail;
    if (r->password[0]) {
        /* With a user name it is an ACL login (Redis 6), else legacy. */
        const char *acl[3] = {"AUTH", r->user, r->password};
        const char *legacy[2] = {"AUTH", r->password};
        int rc = r->user[0] ? setup_cmd(r, 3, acl) : setup_cmd(r, 2, legacy);
        if (rc < 0)
            goto fail;
    }
    if (r->db) {
        char db[24];
        snprintf(db, sizeof(db), "%ld", r->db);
        const char *argv[2] = {"SELECT", db};
        if (setup_cmd(r, 2, argv) < 0)
            goto fail;
    }
    return 0;
fail:
    drop_ctx(r);
    return AU_ECACHE;
}

void *au_cache_redis_new(const char *url, int timeout_ms)
{
    if (!url)
        return NULL;
    au__redis_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (parse_url(r, url) < 0) {
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 500;
    /* A failure here is not fatal: the first call will try again. */
    ensure_ctx(r);
    return r;
}

/* Reads one pipelined reply; on an I/O error the context is dropped. */
static redisReply *read_reply(au__redis_t *r)
{
    void *rep = NULL;
    if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
        drop_ctx(r);
        return NULL;
    }
    return rep;
}

/* One command built from argv; NULL after dropping the context. */
static redisReply *command(au__redis_t *r, int argc, const char **argv,
                           const size_t *argvlen)
{
    if (ensure_ctx(r) < 0)
        return NULL;
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, argvlen);
    if (!rep)
        drop_ctx(r);
    return rep;
}

/* Sends "NAME key..." as one command: 0 and *rep, AU_ETOOBIG, AU_ENOMEM,
 * or AU_ECACHE when the server did not answer. */
static int keys_command(au__redis_t *r, const char *name, size_t n,
                        const char *const *keys, redisReply **rep)
{
    if (n > (size_t)INT32_MAX - 1)
        return AU_ETOOBIG;
    const char **argv = malloc((n + 1) * sizeof(*argv));
    if (!argv)
        return AU_ENOMEM;
    argv[0] = name;
    memcpy(argv + 1, keys, n * sizeof(*argv));
    *rep = command(r, (int)(n + 1), argv, NULL);
    free(argv);
    return *rep ? 0 : AU_ECACHE;
}

static int redis_mget(void *self, size_t n, const char *const *keys,
                      char **vals, size_t *lens)
{
    au__redis_t *r = self;
    for (size_t i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
    }
    if (n == 0)
        return 0;
    redisReply *rep = NULL;
    int rc = keys_command(r, "MGET", n, keys, &rep);
    if (rc < 0)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
        rc = AU_ECACHE;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        vals[i] = malloc(e->len + 1);
        if (!vals[i]) {
            rc = AU_ENOMEM;
            continue;
        }
        memcpy(vals[i], e->str, e->len);
        vals[i][e->len] = '\0';
        lens[i] = e->len;
    }
cleanup:
    freeReplyObject(rep);
    return rc;
}

/* SET per key, all appended before the first reply is read, so n keys
 * cost one round trip. Every reply is read even after an error reply so
 * that the connection stays in step. */
static int redis_mset(void *self, size_t n, const char *const *keys,
                      const char *const *vals, const size_t *lens, int ttl_s)
{
    au__redis_t *r = self;
    if (n == 0)
        return 0;
    if (ensure_ctx(r) < 0)
        return AU_ECACHE;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    int argc = ttl_s > 0 ? 5 : 3;
    for (size_t i = 0; i < n; i++) {
        const char *argv[5] = {"SET", keys[i], vals[i], "EX", ttl};
        size_t argvlen[5] = {3, strlen(keys[i]), lens[i], 2, strlen(ttl)};
        if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
            drop_ctx(r);
            return AU_ECACHE;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = read_reply(r);
        if (!rep)
            return AU_ECACHE;
        if (rep->type == REDIS_REPLY_ERROR)
            rc = AU_ECACHE;
        freeReplyObject(rep);
    }
    return rc;
}

static int redis_mdel(void *self, size_t n, const char *const *keys)
{
    au__redis_t *r = self;
    if (n == 0)
        return 0;
    redisReply *rep = NULL;
    int rc = keys_command(r, "DEL", n, keys, &rep);
    if (rc < 0)
        return rc;
    rc = rep->type == REDIS_REPLY_INTEGER ? 0 : AU_ECACHE;
    freeReplyObject(rep);
    return rc;
}

static int redis_setnx(void *self, const char *key, const char *val,
                       size_t vlen, int ttl_ms)
{
    au__redis_t *r = self;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms > 0 ? ttl_ms : 1);
    const char *argv[6] = {"SET", key, val, "NX", "PX", ttl};
    size_t argvlen[6] = {3, strlen(key), vlen, 2, 2, strlen(ttl)};
    redisReply *rep = command(r, 6, argv, argvlen);
    if (!rep)
        return AU_ECACHE;
    int rc = AU_ECACHE;
    if (rep->type == REDIS_REPLY_STATUS)
        rc = 1;
    else if (rep->type == REDIS_REPLY_NIL)
        rc = 0;
    freeReplyObject(rep);
    return rc;
}

/* EVAL script numkeys keys... args... with an integer reply. A script
 * error (a reply of type error) is AU_EINVAL: Redis answered, so it is not
 * a reason to call it down. */
static int redis_eval_int(void *self, const char *script, size_t nkeys,
                          const char *const *keys, size_t nargs,
                          const char *const *args, long long *out)
{
    au__redis_t *r = self;
    const char *argv[3 + 16];
    size_t argvlen[3 + 16];
    if (nkeys + nargs > 16)
        return AU_ETOOBIG;
    char nk[24];
    snprintf(nk, sizeof(nk), "%zu", nkeys);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = nk;
    size_t n = 3;
    for (size_t i = 0; i < nkeys; i++)
        argv[n++] = keys[i];
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = args[i];
    for (size_t i = 0; i < n; i++)
        argvlen[i] = strlen(argv[i]);
    redisReply *rep = command(r, (int)n, argv, argvlen);
    if (!rep)
        return AU_ECACHE;
    int rc = AU_EINVAL;
    if (rep->type == REDIS_REPLY_INTEGER) {
        *out = rep->integer;
        rc = 0;
    }
    freeReplyObject(rep);
    return rc;
}

static void redis_destroy(void *self)
{
    au__redis_t *r = self;
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    /* The password should not linger in freed memory. */
    memset(r, 0, sizeof(*r));
    free(r);
}

const au_cache_backend_t au_cache_redis_backend = {
    .name = "redis",
    .mget = redis_mget,
    .mset = redis_mset,
    .mdel = redis_mdel,
    .setnx = redis_setnx,
    .eval_int = redis_eval_int,
    .destroy = redis_destroy,
};
