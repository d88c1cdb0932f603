/* test_cache.c: the cache, its two backends and its fallback.
 *
 * Redis tests use the shared test server (AUDORA_TEST_REDIS_URL) with
 * keys unique to this process; the fault tests start their own
 * redis-server on a free port so that they can kill and restart it. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "au_cache.h"
#include "au_config.h"
#include "au_test.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_cfg(au_config_t *cfg, const char *redis_url)
{
    au_config_defaults(cfg);
    snprintf(cfg->redis.url, sizeof(cfg->redis.url), "%s",
             redis_url ? redis_url : "");
    cfg->redis.retry_ms = 100;
    cfg->cache.local_max_entries = 100;
}

/* A key unique to this process and test, since test binaries share the
 * Redis server. */
static const char *ukey(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "t%d:%s", (int)getpid(), name);
    return buf;
}

static void expect_hit(au_cache_t *c, au_cache_kind_t kind, const char *key,
                       const char *want)
{
    char *v = NULL;
    size_t n = 0;
    int rc = au_cache_get(c, kind, key, &v, &n);
    cr_assert_eq(rc, 0, "%s: expected a hit, got %d", key, rc);
    cr_assert_eq(n, strlen(want));
    cr_assert_arr_eq(v, want, n);
    free(v);
}

static void expect_miss(au_cache_t *c, au_cache_kind_t kind, const char *key)
{
    char *v = NULL;
    size_t n = 0;
    int rc = au_cache_get(c, kind, key, &v, &n);
    cr_assert_eq(rc, AU_ENOTFOUND, "%s: expected a miss, got %d", key, rc);
    cr_assert_null(v);
}

static void set_str(au_cache_t *c, au_cache_kind_t kind, const char *key,
                    const char *val)
{
    cr_assert_eq(au_cache_set(c, kind, key, val, strlen(val)), 0);
}

/* ---- the local backend on its own ---- */

static const au_cache_backend_t *L = &au_cache_local_backend;

static int local_has(void *l, const char *key)
{
    char *v = NULL;
    size_t n = 0;
    cr_assert_eq(L->mget(l, 1, &key, &v, &n), 0);
    free(v);
    return v != NULL;
}

static void local_put(void *l, const char *key, const char *val, int ttl_s)
{
    size_t n = strlen(val);
    cr_assert_eq(L->mset(l, 1, &key, &val, &n, ttl_s), 0);
}

Test(cache_local, values_are_copied_in_and_out)
{
    void *l = au_cache_local_new(8);
    char buf[] = "original";
    const char *key = "k", *val = buf;
    size_t n = sizeof(buf) - 1;
    cr_assert_eq(L->mset(l, 1, &key, &val, &n, 0), 0);
    memset(buf, 'x', n);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(L->mget(l, 1, &key, &out, &len), 0);
    cr_assert_eq(len, 8);
    cr_assert_arr_eq(out, "original", 8);
    out[0] = 'X';
    free(out);
    cr_assert_eq(L->mget(l, 1, &key, &out, &len), 0);
    cr_assert_arr_eq(out, "original", 8);
    free(out);
    L->destroy(l);
}

Test(cache_local, lru_evicts_least_recently_used_first)
{
    void *l = au_cache_local_new(3);
    local_put(l, "a", "1", 0);
    local_put(l, "b", "2", 0);
    local_put(l, "c", "3", 0);
    cr_assert(local_has(l, "a")); /* a is now the most recent */
    local_put(l, "d", "4", 0);    /* evicts b, the least recent */
    cr_assert_not(local_has(l, "b"));
    cr_assert(local_has(l, "c"));
    local_put(l, "e", "5", 0); /* evicts a: c was just read */
    cr_assert_not(local_has(l, "a"));
    cr_assert(local_has(l, "c"));
    cr_assert(local_has(l, "d"));
    cr_assert(local_has(l, "e"));
    L->destroy(l);
}

Test(cache_local, replacing_a_key_keeps_one_entry)
{
    void *l = au_cache_local_new(2);
    local_put(l, "a", "1", 0);
    local_put(l, "b", "2", 0);
    local_put(l, "a", "new", 0); /* a replaced, b now least recent */
    local_put(l, "c", "3", 0);
    cr_assert_not(local_has(l, "b"));
    const char *k = "a";
    char *v = NULL;
    size_t n = 0;
    cr_assert_eq(L->mget(l, 1, &k, &v, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_arr_eq(v, "new", 3);
    free(v);
    L->destroy(l);
}

Test(cache_local, many_keys_stay_within_the_bound)
{
    void *l = au_cache_local_new(1000);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        local_put(l, key, key, 0);
    }
    int present = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        int has = local_has(l, key);
        present += has;
        cr_assert_eq(has, i >= 4000, "%s", key);
    }
    cr_assert_eq(present, 1000);
    L->destroy(l);
}

Test(cache_local, entries_expire_after_their_ttl)
{
    void *l = au_cache_local_new(8);
    local_put(l, "short", "v", 1);
    local_put(l, "forever", "v", 0);
    cr_assert(local_has(l, "short"));
    sleep_ms(1100);
    cr_assert_not(local_has(l, "short"));
    cr_assert(local_has(l, "forever"));
    L->destroy(l);
}

Test(cache_local, setnx_sets_only_when_absent_until_the_lock_expires)
{
    void *l = au_cache_local_new(8);
    cr_assert_eq(L->setnx(l, "lock", "1", 1, 100), 1);
    cr_assert_eq(L->setnx(l, "lock", "2", 1, 100), 0);
    sleep_ms(150);
    cr_assert_eq(L->setnx(l, "lock", "3", 1, 100), 1);
    L->destroy(l);
}

/* ---- keys ---- */

Test(cache, key_is_stable_fnv1a_over_length_and_bytes)
{
    /* Expected values computed outside this code base, with Python:
     * FNV-1a 64 over, per part, its length as 8 little-endian bytes then
     * its bytes. */
    char out[64];
    const char *p3[] = {"spotify", "Blinding Lights", "The Weeknd"};
    au_cache_key(out, sizeof(out), "track", 3, p3);
    cr_assert_str_eq(out, "track:80a6bb1a8c8d24e6");
    au_cache_key(out, sizeof(out), NULL, 0, NULL);
    cr_assert_str_eq(out, "cbf29ce484222325");
    const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
    char k1[64], k2[64];
    au_cache_key(k1, sizeof(k1), "p", 2, ab_c);
    au_cache_key(k2, sizeof(k2), "p", 2, a_bc);
    cr_assert_str_eq(k1, "p:7e60470bf599cad6");
    cr_assert_str_eq(k2, "p:ba1e1f0e0704d8ea");
    cr_assert_str_neq(k1, k2);
}

/* ---- a test backend proves the function table is what gets called ---- */

typedef struct {
    void *inner; /* a local backend doing the real work */
    int mget, mset, mdel, setnx;
    int fail; /* every call fails with AU_ECACHE while set */
    char last_key[128];
    int last_ttl;
} counting_t;

static int cnt_mget(void *self, size_t n, const char *const *keys, char **vals,
                    size_t *lens)
{
    counting_t *t = self;
    t->mget++;
    snprintf(t->last_key, sizeof(t->last_key), "%s", keys[0]);
    if (t->fail) {
        for (size_t i = 0; i < n; i++)
            vals[i] = NULL;
        return AU_ECACHE;
    }
    return L->mget(t->inner, n, keys, vals, lens);
}

static int cnt_mset(void *self, size_t n, const char *const *keys,
                    const char *const *vals, const size_t *lens, int ttl_s)
{
    counting_t *t = self;
    t->mset++;
    t->last_ttl = ttl_s;
    snprintf(t->last_key, sizeof(t->last_key), "%s", keys[0]);
    return t->fail ? AU_ECACHE : L->mset(t->inner, n, keys, vals, lens, ttl_s);
}

static int cnt_mdel(void *self, size_t n, const char *const *keys)
{
    counting_t *t = self;
    t->mdel++;
    return t->fail ? AU_ECACHE : L->mdel(t->inner, n, keys);
}

static int cnt_setnx(void *self, const char *key, const char *val, size_t len,
                     int ttl_ms)
{
    counting_t *t = self;
    t->setnx++;
    return t->fail ? AU_ECACHE : L->setnx(t->inner, key, val, len, ttl_ms);
}

static void cnt_destroy(void *self)
{
    counting_t *t = self;
    L->destroy(t->inner);
    free(t);
}

static const au_cache_backend_t counting_backend = {
    .name = "counting",
    .mget = cnt_mget,
    .mset = cnt_mset,
    .mdel = cnt_mdel,
    .setnx = cnt_setnx,
    .destroy = cnt_destroy,
};

static au_cache_t *counting_cache(counting_t **t, const au_config_t *cfg)
{
    *t = calloc(1, sizeof(**t));
    (*t)->inner = au_cache_local_new(100);
    return au_cache_new_with(&counting_backend, *t, L, au_cache_local_new(100),
                             cfg);
}

Test(cache, swapped_in_backend_receives_every_call)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    cfg.cache.ttl_chart_s = 123;
    counting_t *t;
    au_cache_t *c = counting_cache(&t, &cfg);
    cr_assert_eq(au_cache_using_redis(c), 1);
    set_str(c, AU_CK_CHART, "k", "v");
    cr_assert_eq(t->mset, 1);
    cr_assert_str_eq(t->last_key, "audora:v2:chart:k");
    cr_assert_eq(t->last_ttl, 123);
    expect_hit(c, AU_CK_CHART, "k", "v");
    cr_assert_eq(t->mget, 1);
    const char *keys[3] = {"k", "x", "y"};
    char *vals[3];
    size_t lens[3];
    cr_assert_eq(au_cache_mget(c, AU_CK_CHART, 3, keys, vals, lens), 0);
    cr_assert_eq(t->mget, 2, "three keys, one backend call");
    cr_assert_not_null(vals[0]);
    cr_assert_null(vals[1]);
    cr_assert_null(vals[2]);
    free(vals[0]);
    cr_assert_eq(au_cache_del(c, AU_CK_CHART, "k"), 0);
    cr_assert_eq(t->mdel, 1);
    expect_miss(c, AU_CK_CHART, "k");
    au_cache_destroy(&c);
    cr_assert_null(c);
    au_cache_destroy(&c);
}

Test(cache, stats_count_hits_misses_sets_and_errors_exactly)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    counting_t *t;
    au_cache_t *c = counting_cache(&t, &cfg);
    set_str(c, AU_CK_ARTIST, "a", "1");
    set_str(c, AU_CK_ARTIST, "b", "2");
    expect_hit(c, AU_CK_ARTIST, "a", "1");
    expect_hit(c, AU_CK_ARTIST, "b", "2");
    expect_hit(c, AU_CK_ARTIST, "a", "1");
    expect_miss(c, AU_CK_ARTIST, "zz");
    const char *keys[3] = {"a", "q", "r"};
    char *vals[3];
    size_t lens[3];
    au_cache_mget(c, AU_CK_ARTIST, 3, keys, vals, lens);
    free(vals[0]);
    t->fail = 1;
    expect_miss(c, AU_CK_ARTIST, "a"); /* an error counts as a miss too */
    au_cache_stats_t s;
    au_cache_stats(c, AU_CK_ARTIST, &s);
    cr_assert_eq(s.hits, 4);
    cr_assert_eq(s.misses, 4);
    cr_assert_eq(s.sets, 2);
    cr_assert_eq(s.errors, 1);
    au_cache_stats(c, AU_CK_CHART, &s);
    cr_assert_eq(s.hits + s.misses + s.sets + s.errors, 0);
    au_cache_destroy(&c);
}

Test(cache, failing_primary_costs_one_call_per_retry_ms)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    cfg.redis.retry_ms = 200;
    counting_t *t;
    au_cache_t *c = counting_cache(&t, &cfg);
    set_str(c, AU_CK_ARTIST, "shared", "from-primary");
    t->fail = 1;
    expect_miss(c, AU_CK_ARTIST, "shared");
    cr_assert_eq(au_cache_using_redis(c), 0);
    int calls = t->mget + t->mset + t->mdel + t->setnx;
    for (int i = 0; i < 50; i++) {
        set_str(c, AU_CK_ARTIST, "local", "from-local");
        expect_hit(c, AU_CK_ARTIST, "local", "from-local");
    }
    cr_assert_eq(t->mget + t->mset + t->mdel + t->setnx, calls,
                 "the primary was called while waiting for retry_ms");
    au_cache_stats_t s;
    au_cache_stats(c, AU_CK_ARTIST, &s);
    cr_assert_eq(s.errors, 1);
    sleep_ms(250);
    /* Still failing: one probe, then quiet again. */
    expect_miss(c, AU_CK_ARTIST, "absent");
    cr_assert_eq(t->mget + t->mset + t->mdel + t->setnx, calls + 1);
    expect_miss(c, AU_CK_ARTIST, "absent");
    cr_assert_eq(t->mget + t->mset + t->mdel + t->setnx, calls + 1);
    t->fail = 0;
    sleep_ms(250);
    expect_hit(c, AU_CK_ARTIST, "shared", "from-primary");
    cr_assert_eq(au_cache_using_redis(c), 1);
    au_cache_destroy(&c);
}

Test(cache, local_only_cache_serves_from_memory)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    au_error_t err = {0};
    au_cache_t *c = au_cache_new(&cfg, &err);
    cr_assert_not_null(c);
    cr_assert_eq(au_cache_using_redis(c), 0);
    set_str(c, AU_CK_SUMMARY, "s", "v");
    expect_hit(c, AU_CK_SUMMARY, "s", "v");
    au_cache_destroy(&c);
}

Test(cache, bad_redis_url_gives_null_and_an_error)
{
    const char *bad[] = {
        "http://127.0.0.1:6379",   "redis://",
        "redis://host:0",          "redis://host:65536",
        "redis://host:12ab",       "redis://host:6379/x",
        "redis://host:6379/-1",    "redis://secret@host:6379",
        "redis://:p%zz@host",      "redis://[::1:6379",
        "redis://host:6379/0?x=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *r = au_cache_redis_new(bad[i], 100);
        cr_assert_null(r, "accepted %s", bad[i]);
    }
    au_config_t cfg;
    test_cfg(&cfg, "redis://:hunter2@host:99999");
    au_error_t err = {0};
    cr_assert_null(au_cache_new(&cfg, &err));
    cr_assert_eq(err.code, AU_ECONFIG);
    cr_assert_not_null(strstr(err.msg, "redis.url"));
    cr_assert_null(strstr(err.msg, "hunter2"), "password leaked");
}

typedef struct {
    int calls;
    int fail;
    int sleep_ms;
    const char *value;
    atomic_int *shared_calls;
} fill_t;

static int fill_fn(void *arg, char **val, size_t *len)
{
    fill_t *f = arg;
    f->calls++;
    if (f->shared_calls)
        atomic_fetch_add(f->shared_calls, 1);
    if (f->sleep_ms)
        sleep_ms(f->sleep_ms);
    if (f->fail)
        return AU_EHTTP;
    *len = strlen(f->value);
    *val = malloc(*len + 1);
    memcpy(*val, f->value, *len + 1);
    return 0;
}

static void memoize_once(au_cache_t *c, const char *key)
{
    fill_t f = {.value = "filled"};
    for (int i = 0; i < 3; i++) {
        char *v = NULL;
        size_t n = 0;
        cr_assert_eq(au_cache_memoize(c, AU_CK_BULK, key, fill_fn, &f, &v, &n),
                     0);
        cr_assert_eq(n, 6);
        cr_assert_arr_eq(v, "filled", 6);
        free(v);
    }
    cr_assert_eq(f.calls, 1);
    expect_hit(c, AU_CK_BULK, key, "filled");
}

Test(cache, memoize_calls_fill_once_and_caches_its_result)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    au_cache_t *c = au_cache_new(&cfg, NULL);
    memoize_once(c, "m");
    au_cache_destroy(&c);
}

Test(cache, memoize_returns_fill_errors_without_caching_them)
{
    au_config_t cfg;
    test_cfg(&cfg, NULL);
    au_cache_t *c = au_cache_new(&cfg, NULL);
    fill_t f = {.fail = 1};
    char *v = NULL;
    size_t n = 0;
    cr_assert_eq(au_cache_memoize(c, AU_CK_BULK, "e", fill_fn, &f, &v, &n),
                 AU_EHTTP);
    cr_assert_null(v);
    cr_assert_eq(au_cache_memoize(c, AU_CK_BULK, "e", fill_fn, &f, &v, &n),
                 AU_EHTTP);
    cr_assert_eq(f.calls, 2);
    expect_miss(c, AU_CK_BULK, "e");
    au_cache_destroy(&c);
}

/* ---- against the shared Redis server ---- */

/* A raw connection to the server behind a redis://host:port URL. */
static redisContext *raw_connect(const char *url)
{
    const char *hp = url + strlen("redis://");
    const char *colon = strrchr(hp, ':');
    cr_assert_not_null(colon);
    char host[128];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    int port = (int)strtol(colon + 1, NULL, 10);
    redisContext *r = redisConnect(host, port);
    cr_assert(r && !r->err, "cannot connect to %s", url);
    return r;
}

static long long raw_int(redisContext *r, const char *cmd, const char *arg)
{
    redisReply *rep = redisCommand(r, "%s %s", cmd, arg);
    cr_assert(rep && rep->type == REDIS_REPLY_INTEGER, "%s %s", cmd, arg);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static au_cache_t *redis_cache(au_config_t *cfg)
{
    test_cfg(cfg, au_test_redis_url());
    au_error_t err = {0};
    au_cache_t *c = au_cache_new(cfg, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(au_cache_using_redis(c), 1);
    return c;
}

Test(cache_redis, set_get_del_round_trip_with_binary_values)
{
    au_config_t cfg;
    au_cache_t *c = redis_cache(&cfg);
    char k[64];
    ukey(k, sizeof(k), "bin");
    const char bin[] = {'a', '\0', 'b', '\xff', '\r', '\n'};
    cr_assert_eq(au_cache_set(c, AU_CK_FEATURES, k, bin, sizeof(bin)), 0);
    char *v = NULL;
    size_t n = 0;
    cr_assert_eq(au_cache_get(c, AU_CK_FEATURES, k, &v, &n), 0);
    cr_assert_eq(n, sizeof(bin));
    cr_assert_arr_eq(v, bin, sizeof(bin));
    free(v);
    cr_assert_eq(au_cache_del(c, AU_CK_FEATURES, k), 0);
    expect_miss(c, AU_CK_FEATURES, k);
    cr_assert_eq(au_cache_using_redis(c), 1);
    au_cache_destroy(&c);
}

Test(cache_redis, keys_are_prefixed_and_carry_the_kinds_ttl)
{
    au_config_t cfg;
    test_cfg(&cfg, au_test_redis_url());
    cfg.cache.ttl_chart_s = 1234;
    au_cache_t *c = au_cache_new(&cfg, NULL);
    cr_assert_not_null(c);
    char k[64], full[128];
    ukey(k, sizeof(k), "ttl");
    set_str(c, AU_CK_CHART, k, "p");
    snprintf(full, sizeof(full), "audora:v2:chart:%s", k);
    redisContext *r = raw_connect(au_test_redis_url());
    long long ttl = raw_int(r, "TTL", full);
    cr_assert(ttl > 1224 && ttl <= 1234, "TTL %lld", ttl);
    raw_int(r, "DEL", full);
    redisFree(r);
    au_cache_destroy(&c);
}

Test(cache_redis, mget_and_mset_mix_hits_and_misses_in_order)
{
    au_config_t cfg;
    au_cache_t *c = redis_cache(&cfg);
    enum { N = 100 };
    char names[N][48], vbuf[N][16];
    const char *keys[N], *vals[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        char nm[16];
        snprintf(nm, sizeof(nm), "m%d", i);
        keys[i] = ukey(names[i], sizeof(names[i]), nm);
        snprintf(vbuf[i], sizeof(vbuf[i]), "v%d", i);
        vals[i] = vbuf[i];
        lens[i] = strlen(vbuf[i]);
    }
    /* Store only the even keys. */
    const char *ek[N / 2], *ev[N / 2];
    size_t el[N / 2];
    for (int i = 0; i < N / 2; i++) {
        ek[i] = keys[2 * i];
        ev[i] = vals[2 * i];
        el[i] = lens[2 * i];
    }
    cr_assert_eq(au_cache_mset(c, AU_CK_BULK, N / 2, ek, ev, el), 0);
    char *out[N];
    size_t olen[N];
    cr_assert_eq(au_cache_mget(c, AU_CK_BULK, N, keys, out, olen), 0);
    for (int i = 0; i < N; i++) {
        if (i % 2) {
            cr_assert_null(out[i], "%d", i);
        } else {
            cr_assert_eq(olen[i], lens[i]);
            cr_assert_arr_eq(out[i], vals[i], lens[i]);
        }
        free(out[i]);
    }
    au_cache_stats_t s;
    au_cache_stats(c, AU_CK_BULK, &s);
    cr_assert_eq(s.hits, N / 2);
    cr_assert_eq(s.misses, N / 2);
    cr_assert_eq(s.sets, N / 2);
    cr_assert_eq(s.errors, 0);
    cr_assert_eq(au_cache_mdel(c, AU_CK_BULK, N, keys), 0);
    expect_miss(c, AU_CK_BULK, keys[0]);
    au_cache_destroy(&c);
}

Test(cache_redis, entries_expire_after_their_ttl)
{
    au_config_t cfg;
    test_cfg(&cfg, au_test_redis_url());
    cfg.cache.ttl_chart_s = 1;
    au_cache_t *c = au_cache_new(&cfg, NULL);
    char k[64];
    ukey(k, sizeof(k), "expire");
    set_str(c, AU_CK_CHART, k, "v");
    expect_hit(c, AU_CK_CHART, k, "v");
    sleep_ms(1100);
    expect_miss(c, AU_CK_CHART, k);
    cr_assert_eq(au_cache_using_redis(c), 1);
    au_cache_destroy(&c);
}

Test(cache_redis, setnx_sets_only_when_absent)
{
    void *r = au_cache_redis_new(au_test_redis_url(), 500);
    cr_assert_not_null(r);
    const au_cache_backend_t *R = &au_cache_redis_backend;
    char k[64];
    ukey(k, sizeof(k), "nx");
    cr_assert_eq(R->setnx(r, k, "a", 1, 150), 1);
    cr_assert_eq(R->setnx(r, k, "b", 1, 150), 0);
    char *v = NULL;
    size_t n = 0;
    const char *key = k;
    cr_assert_eq(R->mget(r, 1, &key, &v, &n), 0);
    cr_assert_arr_eq(v, "a", 1);
    free(v);
    sleep_ms(200);
    cr_assert_eq(R->setnx(r, k, "c", 1, 150), 1);
    cr_assert_eq(R->mdel(r, 1, &key), 0);
    R->destroy(r);
}

Test(cache_redis, memoize_calls_fill_once_and_caches_its_result)
{
    au_config_t cfg;
    au_cache_t *c = redis_cache(&cfg);
    char k[64];
    memoize_once(c, ukey(k, sizeof(k), "memo"));
    au_cache_del(c, AU_CK_BULK, k);
    au_cache_destroy(&c);
}

/* Runs one memoize in its own process with its own cache; returns 0 when
 * it got want. */
static int memoize_in_process(const char *key, const char *own_value,
                              const char *want, atomic_int *calls)
{
    au_config_t cfg;
    test_cfg(&cfg, au_test_redis_url());
    au_cache_t *c = au_cache_new(&cfg, NULL);
    if (!c)
        return 2;
    fill_t f = {.value = own_value, .sleep_ms = 300, .shared_calls = calls};
    char *v = NULL;
    size_t n = 0;
    int rc = au_cache_memoize(c, AU_CK_ARTIST, key, fill_fn, &f, &v, &n);
    int ok = rc == 0 && n == strlen(want) && memcmp(v, want, n) == 0;
    free(v);
    au_cache_destroy(&c);
    return ok ? 0 : 1;
}

Test(cache_redis, memoize_in_two_processes_fills_only_once)
{
    atomic_int *calls = mmap(NULL, sizeof(*calls), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(calls, MAP_FAILED);
    atomic_init(calls, 0);
    char k[64];
    ukey(k, sizeof(k), "stampede");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Start after the parent holds the fill lock. */
        sleep_ms(100);
        _exit(memoize_in_process(k, "from-child", "from-parent", calls));
    }
    int mine = memoize_in_process(k, "from-parent", "from-parent", calls);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_eq(mine, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child did not get the parent's value");
    cr_assert_eq(atomic_load(calls), 1);
    munmap(calls, sizeof(*calls));
    au_config_t cfg;
    au_cache_t *c = redis_cache(&cfg);
    au_cache_del(c, AU_CK_ARTIST, k);
    au_cache_destroy(&c);
}

/* ---- against a redis-server of our own, killed and restarted ---- */

static pid_t g_server = -1;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void server_start(int port, const char *password)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        const char *argv[] = {"redis-server",
                              "--port",
                              p,
                              "--bind",
                              "127.0.0.1",
                              "--save",
                              "",
                              "--appendonly",
                              "no",
                              password ? "--requirepass" : NULL,
                              password,
                              NULL};
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    g_server = pid;
    for (int i = 0; i < 250; i++) {
        redisContext *r = redisConnect("127.0.0.1", port);
        int up = r && !r->err;
        redisFree(r);
        if (up)
            return;
        sleep_ms(20);
    }
    cr_assert_fail("redis-server did not start on port %d", port);
}

static void server_kill(void)
{
    if (g_server <= 0)
        return;
    kill(g_server, SIGKILL);
    waitpid(g_server, NULL, 0);
    g_server = -1;
}

TestSuite(cache_fault, .fini = server_kill);

Test(cache_fault, dead_redis_falls_back_to_local_and_returns_after_retry)
{
    int port = free_port();
    server_start(port, NULL);
    au_config_t cfg;
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    test_cfg(&cfg, url);
    cfg.redis.retry_ms = 200;
    au_cache_t *c = au_cache_new(&cfg, NULL);
    cr_assert_not_null(c);
    set_str(c, AU_CK_ARTIST, "a", "in-redis");
    expect_hit(c, AU_CK_ARTIST, "a", "in-redis");
    cr_assert_eq(au_cache_using_redis(c), 1);

    server_kill();
    expect_miss(c, AU_CK_ARTIST, "a"); /* the failing call: a miss */
    cr_assert_eq(au_cache_using_redis(c), 0);
    set_str(c, AU_CK_ARTIST, "b", "in-local");
    expect_hit(c, AU_CK_ARTIST, "b", "in-local");
    au_cache_stats_t s;
    au_cache_stats(c, AU_CK_ARTIST, &s);
    cr_assert_eq(s.errors, 1);
    cr_assert_eq(au_cache_using_redis(c), 0);

    server_start(port, NULL);
    sleep_ms(250);
    /* The restarted server is empty: a Redis miss, not the local "b". */
    expect_miss(c, AU_CK_ARTIST, "b");
    cr_assert_eq(au_cache_using_redis(c), 1);
    set_str(c, AU_CK_ARTIST, "c", "back");
    redisContext *r = raw_connect(url);
    cr_assert_eq(raw_int(r, "EXISTS", "audora:v2:artist:c"), 1);
    redisFree(r);
    au_cache_destroy(&c);
    server_kill();
}

Test(cache_fault, password_and_db_from_the_url_are_used)
{
    int port = free_port();
    server_start(port, "s3cr%t");
    au_config_t cfg;
    char url[96];
    snprintf(url, sizeof(url), "redis://:s3cr%%25t@127.0.0.1:%d/3", port);
    test_cfg(&cfg, url);
    au_cache_t *c = au_cache_new(&cfg, NULL);
    cr_assert_not_null(c);
    set_str(c, AU_CK_CHART, "k", "v");
    expect_hit(c, AU_CK_CHART, "k", "v");
    cr_assert_eq(au_cache_using_redis(c), 1);
    redisContext *r = redisConnect("127.0.0.1", port);
    cr_assert(r && !r->err);
    freeReplyObject(redisCommand(r, "AUTH %s", "s3cr%t"));
    freeReplyObject(redisCommand(r, "SELECT 3"));
    cr_assert_eq(raw_int(r, "EXISTS", "audora:v2:chart:k"), 1);
    redisFree(r);
    au_cache_destroy(&c);

    /* A wrong password is an unreachable Redis, not a crash. */
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/3", port);
    test_cfg(&cfg, url);
    c = au_cache_new(&cfg, NULL);
    cr_assert_not_null(c);
    expect_miss(c, AU_CK_CHART, "k");
    cr_assert_eq(au_cache_using_redis(c), 0);
    set_str(c, AU_CK_CHART, "k", "local");
    expect_hit(c, AU_CK_CHART, "k", "local");
    au_cache_destroy(&c);
    server_kill();
}
