/* au_cache_local.c: the in-process backend, an LRU with lazy TTL expiry.
 *
 * A chained hash table finds entries; a doubly linked list keeps them in
 * recency order (head = most recent), so get, set and eviction are O(1).
 * The table doubles when it holds more entries than buckets, which keeps
 * chains short without reserving memory for max_entries up front. Expired
 * entries are removed when they are looked up, or evicted like any other
 * when they reach the tail. Not thread-safe: a worker owns its cache. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "au_cache.h"

#define AU__LOCAL_MIN_BUCKETS 64

typedef struct au__lentry {
    struct au__lentry *chain;       /* next in the same bucket */
    struct au__lentry *prev, *next; /* recency list */
    uint64_t hash;
    int64_t expires_ms; /* 0: never */
    char *val;
    size_t len;
    size_t klen;
    char key[]; /* NUL-terminated */
} au__lentry_t;

typedef struct {
    au__lentry_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t max_entries;
    au__lentry_t *head, *tail;
} au__local_t;

static int64_t local_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t local_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void lru_unlink(au__local_t *l, au__lentry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(au__local_t *l, au__lentry_t *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    l->head = e;
    if (!l->tail)
        l->tail = e;
}

static au__lentry_t **bucket_slot(au__local_t *l, uint64_t hash,
                                  const char *key, size_t klen)
{
    au__lentry_t **pp = &l->buckets[hash & (l->nbuckets - 1)];
    while (*pp) {
        au__lentry_t *e = *pp;
        if (e->hash == hash && e->klen == klen &&
            memcmp(e->key, key, klen) == 0)
            return pp;
        pp = &e->chain;
    }
    return pp;
}

static void entry_remove(au__local_t *l, au__lentry_t **slot)
{
    au__lentry_t *e = *slot;
    *slot = e->chain;
    lru_unlink(l, e);
    l->count--;
    free(e->val);
    free(e);
}

/* Finds a live entry; an expired one is removed on the way. */
static au__lentry_t *local_find(au__local_t *l, const char *key, int64_t now)
{
    size_t klen = strlen(key);
    uint64_t h = local_hash(key, klen);
    au__lentry_t **slot = bucket_slot(l, h, key, klen);
    if (!*slot)
        return NULL;
    if ((*slot)->expires_ms && (*slot)->expires_ms <= now) {
        entry_remove(l, slot);
        return NULL;
    }
    return *slot;
}

static void evict_tail(au__local_t *l)
{
    au__lentry_t *e = l->tail;
    entry_remove(l, bucket_slot(l, e->hash, e->key, e->klen));
}

/* Growing is optional: when the bigger table cannot be allocated the
 * chains just get longer. */
static void maybe_grow(au__local_t *l)
{
    if (l->count < l->nbuckets ||
        l->nbuckets >= SIZE_MAX / 2 / sizeof(*l->buckets))
        return;
    size_t nb = l->nbuckets * 2;
    au__lentry_t **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < l->nbuckets; i++) {
        au__lentry_t *e = l->buckets[i];
        while (e) {
            au__lentry_t *next = e->chain;
            size_t j = e->hash & (nb - 1);
            e->chain = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = nb;
}

static char *copy_bytes(const char *src, size_t len)
{
    /* One spare byte so that text values can be used as C strings. */
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, src, len);
    p[len] = '\0';
    return p;
}

/* Stores a copy of val; replaces the value of an existing key. */
static int local_put(au__local_t *l, const char *key, const char *val,
                     size_t len, int64_t expires_ms)
{
    char *copy = copy_bytes(val, len);
    if (!copy)
        return AU_ENOMEM;
    size_t klen = strlen(key);
    uint64_t h = local_hash(key, klen);
    au__lentry_t **slot = bucket_slot(l, h, key, klen);
    if (*slot) {
        au__lentry_t *e = *slot;
        free(e->val);
        e->val = copy;
        e->len = len;
        e->expires_ms = expires_ms;
        lru_unlink(l, e);
        lru_push_front(l, e);
        return 0;
    }
    au__lentry_t *e = malloc(sizeof(*e) + klen + 1);
    if (!e) {
        free(copy);
        return AU_ENOMEM;
    }
    memcpy(e->key, key, klen + 1);
    e->klen = klen;
    e->hash = h;
    e->val = copy;
    e->len = len;
    e->expires_ms = expires_ms;
    if (l->count >= l->max_entries)
        evict_tail(l);
    /* Eviction or growth may have changed the chain the slot pointed
     * into, so link at the bucket head after both. */
    maybe_grow(l);
    au__lentry_t **b = &l->buckets[h & (l->nbuckets - 1)];
    e->chain = *b;
    *b = e;
    lru_push_front(l, e);
    l->count++;
    return 0;
}

void *au_cache_local_new(size_t max_entries)
{
    au__local_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->max_entries = max_entries ? max_entries : 1;
    l->nbuckets = AU__LOCAL_MIN_BUCKETS;
    l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
    if (!l->buckets) {
        free(l);
        return NULL;
    }
    return l;
}

static int local_mget(void *self, size_t n, const char *const *keys,
                      char **vals, size_t *lens)
{
    au__local_t *l = self;
    int64_t now = local_now_ms();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        vals[i] = NULL;
        lens[i] = 0;
        au__lentry_t *e = local_find(l, keys[i], now);
        if (!e)
            continue;
        lru_unlink(l, e);
        lru_push_front(l, e);
        vals[i] = copy_bytes(e->val, e->len);
        if (!vals[i])
            rc = AU_ENOMEM;
        else
            lens[i] = e->len;
    }
    return rc;
}

static int local_mset(void *self, size_t n, const char *const *keys,
                      const char *const *vals, const size_t *lens, int ttl_s)
{
    au__local_t *l = self;
    int64_t exp = ttl_s > 0 ? local_now_ms() + (int64_t)ttl_s * 1000 : 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int r = local_put(l, keys[i], vals[i], lens[i], exp);
        if (r < 0)
            rc = r;
    }
    return rc;
}

static int local_mdel(void *self, size_t n, const char *const *keys)
{
    au__local_t *l = self;
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(keys[i]);
        uint64_t h = local_hash(keys[i], klen);
        au__lentry_t **slot = bucket_slot(l, h, keys[i], klen);
        if (*slot)
            entry_remove(l, slot);
    }
    return 0;
}

static int local_setnx(void *self, const char *key, const char *val,
                       size_t vlen, int ttl_ms)
{
    au__local_t *l = self;
    int64_t now = local_now_ms();
    if (local_find(l, key, now))
        return 0;
    int rc = local_put(l, key, val, vlen, ttl_ms > 0 ? now + ttl_ms : 0);
    return rc < 0 ? rc : 1;
}

static void local_destroy(void *self)
{
    au__local_t *l = self;
    if (!l)
        return;
    au__lentry_t *e = l->head;
    while (e) {
        au__lentry_t *next = e->next;
        free(e->val);
        free(e);
        e = next;
    }
    free(l->buckets);
    free(l);
}

const au_cache_backend_t au_cache_local_backend = {
    .name = "local",
    .mget = local_mget,
    .mset = local_mset,
    .mdel = local_mdel,
    .setnx = local_setnx,
    .destroy = local_destroy,
};
