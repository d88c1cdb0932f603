/* au_cache.h: the distributed cache, Redis first, in-process fallback.
 *
 * Keys are "audora:v2:<kind>:<key>". Values are opaque bytes. TTLs are per
 * kind and come from the configuration. A cache failure never fails the
 * caller: a Redis error counts as a miss (get) or is dropped (set), the
 * cache switches to its local LRU/TTL backend and probes Redis again every
 * redis.retry_ms.

 * No stored value is ever computed from the cache: the history a score
 * is computed from is read from PostgreSQL (docs/ARCHITECTURE.md, "The
 * cache"); what is cached is served to commands or keyed by the data
 * version it came from (features).
 *
 * Not thread-safe: workers are single-threaded and each owns its cache
 * (after a fork, build a new one: a Redis connection is not shareable).
 * Values handed back carry a spare NUL after len bytes, so text values
 * can be used as C strings. */
#ifndef AU_CACHE_H
#define AU_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "au_config.h"
#include "au_err.h"

typedef enum {
    AU_CK_ARTIST = 0, /* artist metadata, 24 h */
    AU_CK_CHART,      /* chart pages, 1 h */
    AU_CK_SUMMARY,    /* trending summaries, 10 min */
    AU_CK_BULK,       /* bulk track lookups, 5 min */
    AU_CK_FEATURES,   /* audio features by track key */
    AU_CK_TOKEN,      /* service access tokens, AU_CACHE_TOKEN_TTL_S */
    AU_CK__COUNT
} au_cache_kind_t;

/* Spotify's client-credentials tokens live 3600 s; the cached copy goes
 * ten minutes earlier so that no request carries one about to expire. */
#define AU_CACHE_TOKEN_TTL_S 3000

/* A backend: a small function table so tests can swap implementations.
 * Every call returns 0 or a negative AU_E* code; vals[i] are malloc'd
 * copies the caller frees (NULL on a miss). */
typedef struct au_cache_backend {
    const char *name;
    int (*mget)(void *self, size_t n, const char *const *keys, char **vals,
                size_t *lens);
    int (*mset)(void *self, size_t n, const char *const *keys,
                const char *const *vals, const size_t *lens, int ttl_s);
    int (*mdel)(void *self, size_t n, const char *const *keys);
    /* Sets key only if absent, with a TTL in milliseconds; returns 1 when
     * set, 0 when it existed. Used for fill locks (stampede protection). */
    int (*setnx)(void *self, const char *key, const char *val, size_t len,
                 int ttl_ms);
    /* Runs a Lua script with an integer result (the shared backend only;
     * NULL in the local one). */
    int (*eval_int)(void *self, const char *script, size_t nkeys,
                    const char *const *keys, size_t nargs,
                    const char *const *args, long long *out);
    void (*destroy)(void *self);
} au_cache_backend_t;

/* Backend constructors. The local one is an LRU with lazy TTL expiry. */
void *au_cache_local_new(size_t max_entries);
extern const au_cache_backend_t au_cache_local_backend;
/* Connects to a redis:// URL; NULL on a bad URL (a dead server is fine:
 * calls then fail with AU_ECACHE and reconnect later). */
void *au_cache_redis_new(const char *url, int timeout_ms);
extern const au_cache_backend_t au_cache_redis_backend;

typedef struct au_cache_t au_cache_t;

/* Builds the cache from cfg: Redis when redis.url is set, always a local
 * fallback. Returns NULL only on out-of-memory or an unparsable URL. */
au_cache_t *au_cache_new(const au_config_t *cfg, au_error_t *err);
/* Builds a cache over explicit backends (primary may be NULL: local only).
 * The cache takes ownership of both. */
au_cache_t *au_cache_new_with(const au_cache_backend_t *primary,
                              void *primary_self,
                              const au_cache_backend_t *local, void *local_self,
                              const au_config_t *cfg);
void au_cache_destroy(au_cache_t **self_p);

/* 0 and *val (malloc'd, caller frees) on a hit, AU_ENOTFOUND on a miss. */
int au_cache_get(au_cache_t *c, au_cache_kind_t kind, const char *key,
                 char **val, size_t *len);
/* Stores val under key with the kind's TTL. Always returns 0. */
int au_cache_set(au_cache_t *c, au_cache_kind_t kind, const char *key,
                 const void *val, size_t len);
int au_cache_del(au_cache_t *c, au_cache_kind_t kind, const char *key);

/* Pipelined forms: one round trip for n keys. vals[i] NULL on a miss.
 * Return 0 (errors count as misses / are dropped). */
int au_cache_mget(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys, char **vals, size_t *lens);
int au_cache_mset(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys, const char *const *vals,
                  const size_t *lens);
int au_cache_mdel(au_cache_t *c, au_cache_kind_t kind, size_t n,
                  const char *const *keys);

/* Memoize (a cached function call): on a miss, one process takes a fill
 * lock and calls fill(); others wait for its result and call fill()
 * themselves if it does not arrive (the lock expired, or went away
 * without a value: the fill failed). fill returns 0 and a malloc'd value,
 * or an error which is returned as is (not cached). au_cache_memoize
 * suits a fill of at most a second; au_cache_memoize_for is told the
 * fill's longest time (an HTTP request's deadline, its limiter's wait
 * included), so that the others wait for it rather than ask too. */
typedef int (*au_cache_fill_fn)(void *arg, char **val, size_t *len);
int au_cache_memoize(au_cache_t *c, au_cache_kind_t kind, const char *key,
                     au_cache_fill_fn fill, void *arg, char **val, size_t *len);
int au_cache_memoize_for(au_cache_t *c, au_cache_kind_t kind, const char *key,
                         int fill_ms, au_cache_fill_fn fill, void *arg,
                         char **val, size_t *len);

/* Stable key builder: "<prefix>:<16 hex of a 64-bit FNV-1a over parts>".
 * Each part is hashed with its length so ("ab","c") != ("a","bc"). The
 * same parts give the same key in every process and on every machine. */
void au_cache_key(char *out, size_t cap, const char *prefix, size_t nparts,
                  const char *const *parts);
/* The 64-bit hash behind au_cache_key, for callers that need the number
 * itself (an advisory lock id) rather than its text. */
uint64_t au_cache_hash(size_t nparts, const char *const *parts);

typedef struct {
    uint64_t hits, misses, sets, errors;
} au_cache_stats_t;

/* Fill locks for callers that fetch many keys at once (single flight
 * across processes): 1 when this process now holds key's lock for ttl_ms,
 * 0 when another holds it, and 1 too when the shared backend is down
 * (nobody else can be asked, so the caller fetches itself). */
int au_cache_lock(au_cache_t *c, au_cache_kind_t kind, const char *key,
                  int ttl_ms);
/* Releases a lock taken with au_cache_lock; harmless when not held. */
void au_cache_unlock(au_cache_t *c, au_cache_kind_t kind, const char *key);
/* 1 while some process holds key's lock (0 when the backend is down). */
int au_cache_locked(au_cache_t *c, au_cache_kind_t kind, const char *key);

/* Runs a Lua script on Redis with an integer result (keys are used as
 * given, without the cache's prefix): 0 and *out, or AU_ECACHE when Redis
 * is not available, so that the caller falls back to state of its own. */
int au_cache_eval_int(au_cache_t *c, const char *script, size_t nkeys,
                      const char *const *keys, size_t nargs,
                      const char *const *args, long long *out);

/* Counters for one kind since the cache was built. */
void au_cache_stats(const au_cache_t *c, au_cache_kind_t kind,
                    au_cache_stats_t *out);
/* "history", "artist", ... */
const char *au_cache_kind_name(au_cache_kind_t kind);
/* 1 while Redis is the active backend, 0 while on the local fallback. */
int au_cache_using_redis(au_cache_t *c);

#endif
