/* au_cache.c: kinds, key prefixes, TTLs, fallback and memoize over two
 * backends (a primary, normally Redis, and the in-process local one).
 *
 * Fallback state machine: the primary is "up" until one of its calls
 * fails; from then on calls go to the local backend, and the first call
 * made redis.retry_ms or more after the failure tries the primary again.
 * A dead server therefore costs one failed call per retry_ms, not one per
 * cache call. Not thread-safe: a worker owns its cache. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "au_cache.h"
#include "au_log.h"

#define AU__CACHE_PREFIX "audora:v2:"
#define AU__LOCK_SUFFIX ":lock"
/* The longest a fill of au_cache_memoize may take: reads of PostgreSQL
 * (au_cache_memoize_for is given the HTTP deadline instead). */
#define AU__WAIT_MS 1000
/* A fill lock lives the fill's longest time and this margin (for the
 * holder's write of the value); if its holder dies, it expires. Others
 * wait as long, unless the lock goes away without a value first (the
 * fill failed: each then tries its own). */
#define AU__LOCK_MARGIN_MS 1000
#define AU__POLL_MS 20

struct au_cache_t {
    const au_cache_backend_t *primary;
    void *primary_self;
    const au_cache_backend_t *local;
    void *local_self;
    int primary_up;
    int64_t retry_at_ms;
    int retry_ms;
    int ttl_s[AU_CK__COUNT];
    au_cache_stats_t stats[AU_CK__COUNT];
};

static const char *const kind_names[AU_CK__COUNT] = {
    [AU_CK_ARTIST] = "artist",     [AU_CK_CHART] = "chart",
    [AU_CK_SUMMARY] = "summary",   [AU_CK_BULK] = "bulk",
    [AU_CK_FEATURES] = "features", [AU_CK_TOKEN] = "token",
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

const char *au_cache_kind_name(au_cache_kind_t kind)
{
    if ((unsigned)kind >= AU_CK__COUNT)
        return "unknown";
    return kind_names[kind];
}

au_cache_t *au_cache_new_with(const au_cache_backend_t *primary,
                              void *primary_self,
                              const au_cache_backend_t *local, void *lself,
                              const au_config_t *cfg)
{
    assert(local && lself && cfg);
    au_cache_t *c = calloc(1, sizeof(*c));
    if (!c) {
        if (primary)
            primary->destroy(primary_self);
        local->destroy(lself);
        return NULL;
    }
    c->primary = primary;
    c->primary_self = primary_self;
    c->local = local;
    c->local_self = lself;
    c->primary_up = primary != NULL;
    c->retry_ms = cfg->redis.retry_ms > 0 ? cfg->redis.retry_ms : 1000;
    c->ttl_s[AU_CK_ARTIST] = cfg->cache.ttl_artist_s;
    c->ttl_s[AU_CK_CHART] = cfg->cache.ttl_chart_s;
    c->ttl_s[AU_CK_SUMMARY] = cfg->cache.ttl_summary_s;
    c->ttl_s[AU_CK_BULK] = cfg->cache.ttl_bulk_s;
    c->ttl_s[AU_CK_FEATURES] = cfg->cache.ttl_features_s;
    c->ttl_s[AU_CK_TOKEN] = AU_CACHE_TOKEN_TTL_S;
    return c;
}

au_cache_t *au_cache_new(const au_config_t *cfg, au_error_t *err)
{
    const au_cache_backend_t *primary = NULL;
    void *pself = NULL;
    if (cfg->redis.url[0]) {
        pself = au_cache_redis_new(cfg->redis.url, cfg->redis.timeout_ms);
        if (!pself) {
            /* Never echo the URL: it may carry a password. */
            au_error_set(err, AU_ECONFIG,
                         "redis.url: not a redis://[[user]:password@]host"
                         "[:port][/db] URL");
            return NULL;
        }
        primary = &au_cache_redis_backend;
    }
    int max = cfg->cache.local_max_entries;
    void *lself = au_cache_local_new(max > 0 ? (size_t)max : 10000);
    if (!lself) {
        if (primary)
            primary->destroy(pself);
        au_error_set(err, AU_ENOMEM, "cache: out of memory");
        return NULL;
    }
    au_cache_t *c =
        au_cache_new_with(primary, pself, &au_cache_local_backend, lself, cfg);
    if (!c)
        au_error_set(err, AU_ENOMEM, "cache: out of memory");
    return c;
}

void au_cache_destroy(au_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_cache_t *c = *self_p;
    if (c->primary)
        c->primary->destroy(c->primary_self);
    c->local->destroy(c->local_self);
    free(c);
    *self_p = NULL;
}

/* Where a call goes: the primary while it is up or due for a probe,
 * else the local backend. */
typedef enum { ROUTE_PRIMARY, ROUTE_LOCAL } route_t;

static route_t route(const au_cache_t *c)
{
    if (c->primary && (c->primary_up || now_ms() >= c->retry_at_ms))
        return ROUTE_PRIMARY;
    return ROUTE_LOCAL;
}

/* Records the outcome of a primary call and returns it. Only the
 * transitions are logged, so a long outage is two lines, not thousands. */
static int primary_done(au_cache_t *c, au_cache_kind_t kind, int rc)
{
    if (rc < 0) {
        c->stats[kind].errors++;
        if (c->primary_up)
            au_log_ev(AU_LOG_WARN, NULL, AU_ECACHE,
                      "cache: %s failed, using the local backend and "
                      "retrying every %d ms",
                      c->primary->name, c->retry_ms);
        c->primary_up = 0;
        c->retry_at_ms = now_ms() + c->retry_ms;
    } else if (!c->primary_up) {
        au_log_ev(AU_LOG_INFO, NULL, 0, "cache: %s is back", c->primary->name);
        c->primary_up = 1;
    }
    return rc;
}

/* Full keys "audora:v2:<kind>:<key>[suffix]", n of them in one block. v2:
 * features values are binary (v1 held them as text). */
static char **full_keys(au_cache_kind_t kind, size_t n, const char *const *k,
                        const char *suffix)
{
    const char *kname = kind_names[kind];
    size_t fixed =
        strlen(AU__CACHE_PREFIX) + strlen(kname) + 1 + strlen(suffix) + 1;
    size_t total = n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        assert(k[i]);
        size_t add = fixed + strlen(k[i]);
        if (total > SIZE_MAX - add)
            return NULL;
        total += add;
    }
    char **out = malloc(total ? total : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        size_t room = fixed + strlen(k[i]);
        out[i] = p;
        snprintf(p, room, "%s%s:%s%s", AU__CACHE_PREFIX, kname, k[i], suffix);
        p += room;
    }
    return out;
}

int au_cache_mget(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys, char **vals, size_t *lens)
{
    assert(c && (unsigned)kind < AU_CK__COUNT);
    for (size_t i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
    }
    if (n == 0)
        return 0;
    char **fk = full_keys(kind, n, keys, "");
    route_t r = route(c);
    if (!fk) {
        c->stats[kind].errors++;
    } else if (r == ROUTE_PRIMARY) {
        int rc = c->primary->mget(c->primary_self, n, (const char *const *)fk,
                                  vals, lens);
        primary_done(c, kind, rc);
    } else {
        if (c->local->mget(c->local_self, n, (const char *const *)fk, vals,
                           lens) < 0)
            c->stats[kind].errors++;
    }
    free(fk);
    for (size_t i = 0; i < n; i++) {
        if (vals[i])
            c->stats[kind].hits++;
        else
            c->stats[kind].misses++;
    }
    return 0;
}

int au_cache_get(au_cache_t *c, au_cache_kind_t kind, const char *key,
                 char **val, size_t *len)
{
    au_cache_mget(c, kind, 1, &key, val, len);
    return *val ? 0 : AU_ENOTFOUND;
}

int au_cache_mset(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys, const char *const *vals,
                  const size_t *lens)
{
    assert(c && (unsigned)kind < AU_CK__COUNT);
    if (n == 0)
        return 0;
    char **fk = full_keys(kind, n, keys, "");
    if (!fk) {
        c->stats[kind].errors++;
        return 0;
    }
    const char *const *k = (const char *const *)fk;
    int ttl = c->ttl_s[kind];
    int stored = 0;
    switch (route(c)) {
    case ROUTE_PRIMARY:
        stored = primary_done(c, kind,
                              c->primary->mset(c->primary_self, n, k, vals,
                                               lens, ttl)) == 0;
        /* A local copy left from an earlier outage would be served stale
         * at the next one; drop it now that the primary has the news. */
        if (stored)
            c->local->mdel(c->local_self, n, k);
        break;
    case ROUTE_LOCAL:
        stored = c->local->mset(c->local_self, n, k, vals, lens, ttl) == 0;
        if (!stored)
            c->stats[kind].errors++;
        break;
    }
    if (stored)
        c->stats[kind].sets += n;
    free(fk);
    return 0;
}

int au_cache_set(au_cache_t *c, au_cache_kind_t kind, const char *key,
                 const void *val, size_t len)
{
    const char *v = val;
    return au_cache_mset(c, kind, 1, &key, &v, &len);
}

/* Deletes go to both backends so that neither can serve a value the
 * caller has invalidated. While the primary is down its copy cannot be
 * removed; it expires with its TTL. */
int au_cache_mdel(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys)
{
    assert(c && (unsigned)kind < AU_CK__COUNT);
    if (n == 0)
        return 0;
    char **fk = full_keys(kind, n, keys, "");
    if (!fk) {
        c->stats[kind].errors++;
        return 0;
    }
    const char *const *k = (const char *const *)fk;
    if (route(c) == ROUTE_PRIMARY)
        primary_done(c, kind, c->primary->mdel(c->primary_self, n, k));
    c->local->mdel(c->local_self, n, k);
    free(fk);
    return 0;
}

int au_cache_del(au_cache_t *c, au_cache_kind_t kind, const char *key)
{
    return au_cache_mdel(c, kind, 1, &key);
}

/* Waits for another process's fill: 0 and the value when it arrived,
 * AU_ENOTFOUND when the lock vanished without a value or the wait ran
 * out, AU_ECACHE when the primary failed. Value and lock are read in one
 * round trip per poll. */
static int wait_for_fill(au_cache_t *c, au_cache_kind_t kind,
                         const char *const *k, int wait_ms, char **val,
                         size_t *len)
{
    int64_t deadline = now_ms() + wait_ms;
    while (now_ms() < deadline) {
        sleep_ms(AU__POLL_MS);
        char *v[2] = {NULL, NULL};
        size_t l[2] = {0, 0};
        int rc = primary_done(c, kind,
                              c->primary->mget(c->primary_self, 2, k, v, l));
        if (rc < 0) {
            free(v[0]);
            free(v[1]);
            return rc;
        }
        free(v[1]);
        if (v[0]) {
            *val = v[0];
            *len = l[0];
            return 0;
        }
        if (!v[1])
            return AU_ENOTFOUND;
    }
    return AU_ENOTFOUND;
}

/* Calls fill and caches a successful result. */
static int fill_and_set(au_cache_t *c, au_cache_kind_t kind, const char *key,
                        au_cache_fill_fn fill, void *arg, char **val,
                        size_t *len)
{
    char *v = NULL;
    size_t l = 0;
    int rc = fill(arg, &v, &l);
    if (rc < 0) {
        free(v);
        return rc;
    }
    au_cache_set(c, kind, key, v, l);
    *val = v;
    *len = l;
    return 0;
}

int au_cache_memoize(au_cache_t *c, au_cache_kind_t kind, const char *key,
                     au_cache_fill_fn fill, void *arg, char **val, size_t *len)
{
    return au_cache_memoize_for(c, kind, key, AU__WAIT_MS, fill, arg, val, len);
}

int au_cache_memoize_for(au_cache_t *c, au_cache_kind_t kind, const char *key,
                         int fill_ms, au_cache_fill_fn fill, void *arg,
                         char **val, size_t *len)
{
    assert(c && fill && val && len && fill_ms > 0);
    *val = NULL;
    *len = 0;
    if (au_cache_get(c, kind, key, val, len) == 0)
        return 0;
    /* Only the shared backend needs a lock: locally there is no one else
     * to wait for. */
    if (route(c) != ROUTE_PRIMARY)
        return fill_and_set(c, kind, key, fill, arg, val, len);
    const char *keys[1] = {key};
    char **fk = full_keys(kind, 1, keys, "");
    char **lk = full_keys(kind, 1, keys, AU__LOCK_SUFFIX);
    if (!fk || !lk) {
        free(fk);
        free(lk);
        c->stats[kind].errors++;
        return fill_and_set(c, kind, key, fill, arg, val, len);
    }
    const char *both[2] = {fk[0], lk[0]};
    int got = primary_done(c, kind,
                           c->primary->setnx(c->primary_self, lk[0], "1", 1,
                                             fill_ms + AU__LOCK_MARGIN_MS));
    int rc;
    if (got == 0 && wait_for_fill(c, kind, both, fill_ms + AU__LOCK_MARGIN_MS,
                                  val, len) == 0) {
        rc = 0;
    } else {
        rc = fill_and_set(c, kind, key, fill, arg, val, len);
        if (got == 1 && route(c) == ROUTE_PRIMARY)
            primary_done(c, kind,
                         c->primary->mdel(c->primary_self, 1, both + 1));
    }
    free(fk);
    free(lk);
    return rc;
}

int au_cache_lock(au_cache_t *c, au_cache_kind_t kind, const char *key,
                  int ttl_ms)
{
    assert(c && key && (unsigned)kind < AU_CK__COUNT);
    if (route(c) != ROUTE_PRIMARY)
        return 1;
    char **lk = full_keys(kind, 1, &key, AU__LOCK_SUFFIX);
    if (!lk)
        return 1;
    int got = primary_done(
        c, kind, c->primary->setnx(c->primary_self, lk[0], "1", 1, ttl_ms));
    free(lk);
    return got == 0 ? 0 : 1;
}

void au_cache_unlock(au_cache_t *c, au_cache_kind_t kind, const char *key)
{
    assert(c && key && (unsigned)kind < AU_CK__COUNT);
    if (route(c) != ROUTE_PRIMARY)
        return;
    char **lk = full_keys(kind, 1, &key, AU__LOCK_SUFFIX);
    if (!lk)
        return;
    primary_done(c, kind,
                 c->primary->mdel(c->primary_self, 1, (const char *const *)lk));
    free(lk);
}

int au_cache_locked(au_cache_t *c, au_cache_kind_t kind, const char *key)
{
    assert(c && key && (unsigned)kind < AU_CK__COUNT);
    if (route(c) != ROUTE_PRIMARY)
        return 0;
    char **lk = full_keys(kind, 1, &key, AU__LOCK_SUFFIX);
    if (!lk)
        return 0;
    char *v = NULL;
    size_t n = 0;
    int rc = primary_done(
        c, kind,
        c->primary->mget(c->primary_self, 1, (const char *const *)lk, &v, &n));
    int held = rc == 0 && v != NULL;
    free(v);
    free(lk);
    return held;
}

int au_cache_eval_int(au_cache_t *c, const char *script, size_t nkeys,
                      const char *const *keys, size_t nargs,
                      const char *const *args, long long *out)
{
    assert(c && script && out);
    if (route(c) != ROUTE_PRIMARY || !c->primary->eval_int)
        return AU_ECACHE;
    /* Counted under no kind: a failure still marks the primary down, so
     * the next calls wait redis.retry_ms like every other. */
    int rc = c->primary->eval_int(c->primary_self, script, nkeys, keys, nargs,
                                  args, out);
    if (rc < 0 && rc != AU_EINVAL)
        primary_done(c, AU_CK_BULK, rc);
    return rc < 0 ? rc : 0;
}

void au_cache_stats(const au_cache_t *c, au_cache_kind_t kind,
                    au_cache_stats_t *out)
{
    assert(c && out && (unsigned)kind < AU_CK__COUNT);
    *out = c->stats[kind];
}

int au_cache_using_redis(au_cache_t *c)
{
    return c->primary != NULL && c->primary_up;
}

/* 64-bit FNV-1a. Each part is hashed as its length (8 bytes, little
 * endian, so the result is the same on every machine) then its bytes;
 * a NULL part hashes as the length UINT64_MAX so it differs from "". */
uint64_t au_cache_hash(size_t nparts, const char *const *parts)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < nparts; i++) {
        const char *p = parts[i];
        uint64_t n = p ? (uint64_t)strlen(p) : UINT64_MAX;
        for (int b = 0; b < 8; b++) {
            h ^= (n >> (8 * b)) & 0xff;
            h *= 0x100000001b3ULL;
        }
        for (uint64_t j = 0; p && j < n; j++) {
            h ^= (unsigned char)p[j];
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

void au_cache_key(char *out, size_t cap, const char *prefix, size_t nparts,
                  const char *const *parts)
{
    uint64_t h = au_cache_hash(nparts, parts);
    if (cap == 0)
        return;
    if (prefix && *prefix)
        snprintf(out, cap, "%s:%016llx", prefix, (unsigned long long)h);
    else
        snprintf(out, cap, "%016llx", (unsigned long long)h);
}
