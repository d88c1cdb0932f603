/* au_config.c: one table describes every key; every layer (defaults, .env,
 * environment, flags) goes through the same setter, so a value is checked
 * the same way wherever it comes from, and the defaults are checked too. */
#include "au_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define AU__CFG_PREFIX "AUDORA_"
#define AU__CFG_PREFIX_LEN (sizeof(AU__CFG_PREFIX) - 1)
#define AU__CFG_NAME_MAX 128
#define AU__CFG_FILE_MAX (1024 * 1024)
#define AU__CFG_LINE_MAX 4096
/* Values quoted in error messages are cut so the rule still fits. */
#define AU__CFG_SHOWN_MAX 64
/* An AUDORA_ variable without "__" is ours only if it is this close to a
 * key's name (AUDORA_DATABASE_URL); AUDORA_TEST_PG_URL and friends, used by
 * the test harness, are far from every key and pass untouched. */
#define AU__CFG_TYPO_DISTANCE 2

typedef enum {
    AU__CFG_INT,
    AU__CFG_STR,
    AU__CFG_URL,       /* arg: accepted schemes, '|'-separated */
    AU__CFG_SECRET,    /* never printed */
    AU__CFG_CHOICE,    /* arg: accepted words, '|'-separated */
    AU__CFG_ENDPOINTS, /* comma-separated ZeroMQ endpoints */
} au__cfg_type_t;

typedef struct {
    const char *name;
    au__cfg_type_t type;
    size_t off;
    size_t cap; /* strings: buffer size, NUL included */
    const char *def;
    long min;
    long max;
    const char *arg;
    const char *doc;
} au__cfg_key_t;

#define AU__OFF(f) offsetof(au_config_t, f)
#define AU__CAP(f) sizeof(((au_config_t *)0)->f)
#define AU__INT(f, def, lo, hi, doc)                                           \
    {                                                                          \
#f, AU__CFG_INT, AU__OFF(f), 0, def, lo, hi, NULL, doc                 \
    }
#define AU__STR(f, type, def, arg, doc)                                        \
    {                                                                          \
#f, type, AU__OFF(f), AU__CAP(f), def, 0, 0, arg, doc                  \
    }

/* Cache TTLs have no range in the header; a month bounds a typo such as an
 * extra zero while leaving every sensible value open. */
#define AU__TTL_MAX 2592000L

static const au__cfg_key_t au__keys[] = {
    AU__STR(database.url, AU__CFG_URL, "", "postgres://|postgresql://",
            "libpq URL or keyword string (host=... dbname=...), else "
            "DATABASE_URL; empty starts throw-away embedded servers"),
    AU__INT(database.pool_size, "5", 1, 20,
            "connections in each worker's pool"),
    AU__INT(database.checkout_timeout_ms, "5000", 1, 600000,
            "longest wait for a free pooled connection"),
    AU__INT(database.statement_timeout_ms, "60000", 0, 3600000,
            "server-side statement timeout; 0 disables it; workers use at "
            "most half of queue.lease_s"),
    AU__INT(database.lock_timeout_ms, "5000", 0, 600000,
            "longest wait for a lock another session holds; the batch is "
            "then retried; workers use at most a quarter of queue.lease_s"),
    AU__INT(database.idle_in_transaction_ms, "10000", 0, 3600000,
            "the server ends a session idle this long inside a transaction "
            "(a paused worker's locks are freed); at most half of "
            "queue.lease_s is used"),
    AU__STR(redis.url, AU__CFG_URL, "", "redis://",
            "redis://host:port/db; empty uses the in-process cache only"),
    AU__INT(redis.timeout_ms, "500", 1, 60000, "connect and command timeout"),
    AU__INT(redis.retry_ms, "1000", 100, 600000,
            "how often a lost Redis is probed before returning to it"),
    AU__INT(cache.local_max_entries, "10000", 16, 10000000,
            "capacity of the in-process LRU cache"),
    AU__INT(cache.ttl_artist_s, "86400", 1, AU__TTL_MAX,
            "time to live of artist metadata"),
    AU__INT(cache.ttl_chart_s, "3600", 1, AU__TTL_MAX,
            "time to live of chart data"),
    AU__INT(cache.ttl_summary_s, "600", 1, AU__TTL_MAX,
            "time to live of trending summaries"),
    AU__INT(cache.ttl_bulk_s, "300", 1, AU__TTL_MAX,
            "time to live of bulk track lookups"),
    AU__INT(cache.ttl_features_s, "86400", 1, AU__TTL_MAX,
            "time to live of audio features"),
    AU__STR(zmq.enrich_in, AU__CFG_ENDPOINTS, "tcp://127.0.0.1:5551", NULL,
            "relay inputs that ingest workers push to"),
    AU__STR(zmq.enrich_out, AU__CFG_ENDPOINTS, "tcp://127.0.0.1:5552", NULL,
            "relay outputs that enrich workers pull from"),
    AU__STR(zmq.analytics_in, AU__CFG_ENDPOINTS, "tcp://127.0.0.1:5553", NULL,
            "relay inputs that enrich workers push to"),
    AU__STR(zmq.analytics_out, AU__CFG_ENDPOINTS, "tcp://127.0.0.1:5554", NULL,
            "relay outputs that analytics workers pull from"),
    AU__INT(zmq.hwm, "16", 1, 1000000,
            "high-water mark of every socket, in messages"),
    AU__INT(zmq.max_msg_bytes, "4194304", 1024, 268435456,
            "largest message accepted from a peer; ingest cuts batches to "
            "fit"),
    AU__STR(zmq.security, AU__CFG_CHOICE, "curve", "curve|plain-loopback",
            "curve: every tcp endpoint encrypted and authenticated; "
            "plain-loopback: plain tcp to loopback addresses only "
            "(development)"),
    AU__STR(zmq.server_public_key, AU__CFG_STR, "", NULL,
            "the relays' CURVE public key (Z85, or @FILE); `audora keys "
            "generate` makes the keys"),
    AU__STR(zmq.server_secret_key, AU__CFG_SECRET, "", NULL,
            "the relays' CURVE secret key (relays only)"),
    AU__STR(zmq.client_public_key, AU__CFG_STR, "", NULL,
            "the workers' CURVE public key"),
    AU__STR(zmq.client_secret_key, AU__CFG_SECRET, "", NULL,
            "the workers' CURVE secret key"),
    AU__STR(zmq.authorized_clients, AU__CFG_STR, "", NULL,
            "worker public keys the relays accept, comma-separated; empty: "
            "zmq.client_public_key"),
    AU__INT(zmq.relay_memory_mb, "64", 1, 4096,
            "what a relay may buffer: its high-water marks follow from "
            "this and zmq.max_msg_bytes"),
    AU__INT(zmq.linger_ms, "1000", 0, 60000,
            "how long a closing socket tries to deliver what it holds"),
    AU__INT(queue.batch_records, "2000", 1, 10000,
            "records per batch sent downstream"),
    AU__INT(queue.lease_s, "60", 1, 86400,
            "lease of a claimed job; progress extends it"),
    AU__INT(queue.max_attempts, "5", 1, 100, "attempts before a job is dead"),
    AU__INT(queue.backoff_base_ms, "1000", 1, 3600000,
            "first retry delay; doubles with each attempt"),
    AU__INT(queue.backoff_max_ms, "60000", 1, 86400000, "longest retry delay"),
    AU__INT(queue.poll_ms, "1000", 10, 60000,
            "idle wait between claims when no notification arrives"),
    AU__INT(queue.drain_s, "10", 0, 3600,
            "time a worker has to finish its work after SIGTERM"),
    AU__INT(queue.read_timeout_s, "30", 1, 3600,
            "a read of a job's source that takes longer fails the attempt"),
    AU__STR(queue.queues, AU__CFG_STR, "*", NULL,
            "the queues a worker claims from, comma-separated; * for all"),
    AU__INT(queue.retention_s, "604800", 0, 315360000,
            "done and cancelled jobs are deleted this long after they "
            "ended; 0 keeps them (dead ones wait for `audora dlq purge`)"),
    AU__INT(metrics.port, "0", 0, 65535,
            "port of /metrics, /healthz and /readyz; 0 turns them off"),
    AU__STR(metrics.bind, AU__CFG_STR, "127.0.0.1", NULL,
            "address the metrics server listens on"),
    AU__STR(log.level, AU__CFG_CHOICE, "info", "debug|info|warn|error",
            "lowest level that is logged"),
    AU__STR(http.contact, AU__CFG_STR, "", NULL,
            "how to reach whoever runs this client (a URL or e-mail); sent "
            "in the User-Agent, which MusicBrainz asks for"),
    AU__INT(http.connect_timeout_ms, "5000", 1, 600000,
            "longest wait for a connection to a service"),
    AU__INT(http.timeout_ms, "15000", 1, 3600000,
            "longest time for one request and its answer"),
    AU__INT(http.deadline_ms, "60000", 1, 86400000,
            "longest time for a request with all its retries"),
    AU__INT(http.max_response_bytes, "16777216", 1024, 1073741824,
            "a larger answer is an error (memory stays bounded)"),
    AU__INT(http.retries, "5", 0, 20,
            "retries of a connection error, timeout, 429 or 5xx"),
    AU__INT(http.backoff_base_ms, "500", 1, 600000,
            "first retry delay (doubled each time, with jitter; a "
            "Retry-After answer wins)"),
    AU__INT(http.backoff_max_ms, "30000", 1, 3600000, "longest retry delay"),
    AU__INT(http.breaker_failures, "5", 1, 1000,
            "failed requests in a row to one service that open its "
            "circuit breaker"),
    AU__INT(http.breaker_cooldown_ms, "30000", 1, 3600000,
            "how long an open breaker fails fast before one probe"),
    AU__INT(http.fleet_size, "4", 1, 10000,
            "processes sharing a service's limit: without Redis each keeps "
            "to the limit divided by this"),
    AU__STR(lastfm.base_url, AU__CFG_URL, "https://ws.audioscrobbler.com/2.0/",
            "http://|https://", "Last.fm API root"),
    AU__STR(lastfm.api_key, AU__CFG_SECRET, "", NULL, "Last.fm API key"),
    AU__INT(lastfm.rate_per_s, "5", 1, 1000,
            "Last.fm requests per second, shared by every process"),
    AU__STR(spotify.api_url, AU__CFG_URL, "https://api.spotify.com/v1",
            "http://|https://", "Spotify Web API root"),
    AU__STR(spotify.accounts_url, AU__CFG_URL,
            "https://accounts.spotify.com/api/token", "http://|https://",
            "Spotify token endpoint (client credentials)"),
    AU__STR(spotify.client_id, AU__CFG_STR, "", NULL, "Spotify client id"),
    AU__STR(spotify.client_secret, AU__CFG_SECRET, "", NULL,
            "Spotify client secret"),
    AU__INT(spotify.rate_per_s, "10", 1, 1000,
            "Spotify requests per second, shared by every process"),
    AU__STR(musicbrainz.base_url, AU__CFG_URL, "https://musicbrainz.org/ws/2",
            "http://|https://", "MusicBrainz ws/2 root"),
    AU__INT(musicbrainz.rate_per_s, "1", 1, 1000,
            "MusicBrainz requests per second, shared by every process "
            "(the service allows 1)"),
    AU__INT(analytics.chart_size, "200", 1, 10000, "positions in a full chart"),
    AU__INT(analytics.breakout_threshold, "25", 0, 100,
            "chance in percent of reaching the top 50 within 4 weeks from "
            "which a weekly chart's entry gets a viral_predictions row"),
    AU__INT(analytics.viral_threshold, "55", 0, 100,
            "viral score from which a viral_predictions row is written "
            "(chart data has no social signals, so the ported score "
            "tops out at 65)"),
};

#define AU__NKEYS (sizeof(au__keys) / sizeof(au__keys[0]))

/* A bounded string builder: output is always NUL-terminated and is cut,
 * never overrun, when the buffer is too small. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} au__sb_t;

static void au__sb_put(au__sb_t *sb, const char *s, size_t n)
{
    if (sb->cap == 0)
        return;
    size_t room = sb->cap - 1 - sb->len;
    if (n > room)
        n = room;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static void au__sb_puts(au__sb_t *sb, const char *s)
{
    au__sb_put(sb, s, strlen(s));
}

/* "database.pool_size" -> "AUDORA_DATABASE__POOL_SIZE" */
static void au__env_name(const au__cfg_key_t *k, char *out, size_t cap)
{
    au__sb_t sb = {out, cap, 0};
    au__sb_puts(&sb, AU__CFG_PREFIX);
    for (const char *p = k->name; *p; p++) {
        if (*p == '.') {
            au__sb_puts(&sb, "__");
        } else {
            char c = (char)toupper((unsigned char)*p);
            au__sb_put(&sb, &c, 1);
        }
    }
}

static const au__cfg_key_t *au__find(const char *name)
{
    for (size_t i = 0; i < AU__NKEYS; i++)
        if (strcmp(au__keys[i].name, name) == 0)
            return &au__keys[i];
    return NULL;
}

static const au__cfg_key_t *au__find_env(const char *name, size_t len)
{
    char env[AU__CFG_NAME_MAX];
    for (size_t i = 0; i < AU__NKEYS; i++) {
        au__env_name(&au__keys[i], env, sizeof(env));
        if (strlen(env) == len && memcmp(env, name, len) == 0)
            return &au__keys[i];
    }
    return NULL;
}

/* Levenshtein distance on at most AU__CFG_NAME_MAX - 1 bytes of each. */
static size_t au__distance(const char *a, size_t la, const char *b)
{
    size_t row[AU__CFG_NAME_MAX];
    size_t lb = strlen(b);
    if (la >= AU__CFG_NAME_MAX)
        la = AU__CFG_NAME_MAX - 1;
    if (lb >= AU__CFG_NAME_MAX)
        lb = AU__CFG_NAME_MAX - 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The key whose env name (env != 0) or dotted name is closest to name. */
static const au__cfg_key_t *au__closest(const char *name, size_t len, int env,
                                        size_t *dist)
{
    const au__cfg_key_t *best = &au__keys[0];
    size_t best_d = (size_t)-1;
    char buf[AU__CFG_NAME_MAX];
    for (size_t i = 0; i < AU__NKEYS; i++) {
        const char *cand = au__keys[i].name;
        if (env) {
            au__env_name(&au__keys[i], buf, sizeof(buf));
            cand = buf;
        }
        size_t d = au__distance(name, len, cand);
        if (d < best_d) {
            best_d = d;
            best = &au__keys[i];
        }
    }
    if (dist)
        *dist = best_d;
    return best;
}

/* Appends src with the password of its userinfo and any "password" query
 * parameter replaced by "***". The cut is made before copying, so a short
 * buffer can truncate the output but never expose a password prefix. */
/* libpq's keyword form, "host=db user=a password='x y'": the password's
 * value hidden, quoted or not. */
static void au__redact_keywords(const char *src, au__sb_t *sb)
{
    const char *p = src;
    while (*p) {
        const char *k = p + strspn(p, " \t");
        size_t klen = strcspn(k, " \t=");
        const char *v = k + klen;
        v += strspn(v, " \t");
        if (*v != '=') {
            au__sb_puts(sb, p);
            return;
        }
        v++;
        v += strspn(v, " \t");
        const char *e = v;
        if (*e == '\'') {
            for (e++; *e && *e != '\''; e++)
                if (*e == '\\' && e[1])
                    e++;
            e += *e == '\'';
        } else {
            e += strcspn(e, " \t");
        }
        au__sb_put(sb, p, (size_t)(v - p));
        au__sb_puts(sb,
                    klen == 8 && !strncasecmp(k, "password", 8) ? "***" : "");
        if (!(klen == 8 && !strncasecmp(k, "password", 8)))
            au__sb_put(sb, v, (size_t)(e - v));
        p = e;
    }
}

static void au__redact(const char *src, au__sb_t *sb)
{
    const char *sep = strstr(src, "://");
    if (!sep && strchr(src, '=')) {
        au__redact_keywords(src, sb);
        return;
    }
    if (!sep) {
        au__sb_puts(sb, src);
        return;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *p = src;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        /* Redis URLs may carry a bare password: redis://secret@host. */
        int bare = !strncmp(src, "redis", 5) && colon == NULL;
        const char *cut = colon ? colon + 1 : auth;
        if (colon || bare) {
            au__sb_put(sb, p, (size_t)(cut - p));
            au__sb_puts(sb, "***");
            p = at;
        }
    }
    /* libpq also takes ?password=...; redact that parameter as well. */
    const char *q = strchr(auth + alen, '?');
    if (!q) {
        au__sb_puts(sb, p);
        return;
    }
    au__sb_put(sb, p, (size_t)(q + 1 - p));
    p = q + 1;
    while (*p && *p != '#') {
        size_t plen = strcspn(p, "&#");
        size_t nlen = strcspn(p, "=&#");
        au__sb_put(sb, p, nlen);
        if (nlen < plen) {
            au__sb_puts(sb, "=");
            if (nlen == 8 && !strncasecmp(p, "password", 8))
                au__sb_puts(sb, "***");
            else
                au__sb_put(sb, p + nlen + 1, plen - nlen - 1);
        }
        p += plen;
        if (*p == '&') {
            au__sb_puts(sb, "&");
            p++;
        }
    }
    au__sb_puts(sb, p);
}

void au_config_redact_url(const char *src, char *dst, size_t cap)
{
    au__sb_t sb = {dst, cap, 0};
    if (cap)
        dst[0] = '\0';
    au__redact(src, &sb);
}

/* The value as it may appear in a message: secrets hidden, URLs redacted,
 * long values cut so the rule after them is not lost. */
static void au__shown(const au__cfg_key_t *k, const char *value, char *out,
                      size_t cap)
{
    if (k && k->type == AU__CFG_SECRET) {
        snprintf(out, cap, "%s", *value ? "***" : "");
        return;
    }
    char red[AU__CFG_LINE_MAX];
    au_config_redact_url(value, red, sizeof(red));
    if (strlen(red) > AU__CFG_SHOWN_MAX)
        snprintf(out, cap, "%.*s...", AU__CFG_SHOWN_MAX, red);
    else
        snprintf(out, cap, "%s", red);
}

static int au__fail(au_error_t *err, const au__cfg_key_t *k, const char *name,
                    const char *value, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int au__fail(au_error_t *err, const au__cfg_key_t *k, const char *name,
                    const char *value, const char *source, const char *fmt, ...)
{
    char shown[AU__CFG_SHOWN_MAX + 8];
    char rule[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    au__shown(k, value, shown, sizeof(shown));
    return au_error_set(err, AU_ECONFIG, "%s=%s (from %s): %s", name, shown,
                        source, rule);
}

/* "a|b|c" -> "a<sep>b<sep>c" */
static void au__join(const char *alts, const char *sep, char *out, size_t cap)
{
    au__sb_t sb = {out, cap, 0};
    if (cap)
        out[0] = '\0';
    for (const char *p = alts; *p; p++) {
        if (*p == '|')
            au__sb_puts(&sb, sep);
        else
            au__sb_put(&sb, p, 1);
    }
}

/* The rule a key's values must follow, as printed after "): ". */
static void au__rule(const au__cfg_key_t *k, char *out, size_t cap)
{
    char alts[128];
    switch (k->type) {
    case AU__CFG_INT:
        snprintf(out, cap, "must be between %ld and %ld", k->min, k->max);
        break;
    case AU__CFG_URL:
        au__join(k->arg, " or ", alts, sizeof(alts));
        snprintf(out, cap, "must start with %s%s (or be empty)", alts,
                 strcmp(k->name, "database.url")
                     ? ""
                     : ", or be libpq keywords (host=... dbname=...)");
        break;
    case AU__CFG_CHOICE:
        au__join(k->arg, ", ", alts, sizeof(alts));
        snprintf(out, cap, "must be one of %s", alts);
        break;
    case AU__CFG_ENDPOINTS:
        snprintf(out, cap,
                 "must list tcp://, ipc:// or inproc:// "
                 "endpoints, comma-separated");
        break;
    case AU__CFG_STR:
    case AU__CFG_SECRET:
        snprintf(out, cap, "must be at most %zu bytes", k->cap - 1);
        break;
    }
}

static int au__is_alt(const char *alts, const char *v, int prefix)
{
    const char *p = alts;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (prefix ? strncmp(v, p, n) == 0
                   : (strlen(v) == n && strncmp(v, p, n) == 0))
            return 1;
        p += n;
        if (*p == '|')
            p++;
    }
    return 0;
}

static int au__endpoints_ok(const char *v)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    do {
        size_t n = strcspn(v, ",");
        int ok = 0;
        for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
            size_t sl = strlen(schemes[i]);
            if (n > sl && strncmp(v, schemes[i], sl) == 0)
                ok = 1;
        }
        if (!ok)
            return 0;
        v += n;
    } while (*v++ == ',');
    return 1;
}

static int au__set_int(au_config_t *cfg, const au__cfg_key_t *k,
                       const char *value, const char *source, au_error_t *err)
{
    char rule[192];
    /* strtol skips leading blanks; a value with them was not meant. */
    if (!*value || isspace((unsigned char)*value))
        return au__fail(err, k, k->name, value, source, "must be an integer");
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (*end)
        return au__fail(err, k, k->name, value, source, "must be an integer");
    if (errno == ERANGE || v < k->min || v > k->max) {
        au__rule(k, rule, sizeof(rule));
        return au__fail(err, k, k->name, value, source, "%s", rule);
    }
    memcpy((char *)cfg + k->off, &(int){(int)v}, sizeof(int));
    return 0;
}

/* libpq's keyword form ("host=db dbname=audora"), which PQconnectdb
 * takes as well as a URI: checked by libpq's own parser. */
static int au__conninfo_ok(const char *v)
{
    if (strstr(v, "://") || !strchr(v, '='))
        return 0;
    char *msg = NULL;
    PQconninfoOption *o = PQconninfoParse(v, &msg);
    PQfreemem(msg);
    if (o)
        PQconninfoFree(o);
    return o != NULL;
}

static int au__set_str(au_config_t *cfg, const au__cfg_key_t *k,
                       const char *value, const char *source, au_error_t *err)
{
    char rule[192];
    size_t n = strlen(value);
    for (size_t i = 0; i < n; i++)
        if (iscntrl((unsigned char)value[i]))
            return au__fail(err, k, k->name, value, source,
                            "must not contain control characters");
    int ok = n < k->cap;
    if (ok && k->type == AU__CFG_URL)
        ok = n == 0 || au__is_alt(k->arg, value, 1) ||
             (!strcmp(k->name, "database.url") && au__conninfo_ok(value));
    if (ok && k->type == AU__CFG_CHOICE)
        ok = au__is_alt(k->arg, value, 0);
    if (ok && k->type == AU__CFG_ENDPOINTS)
        ok = au__endpoints_ok(value);
    if (!ok) {
        if (n >= k->cap)
            snprintf(rule, sizeof(rule), "must be at most %zu bytes",
                     k->cap - 1);
        else
            au__rule(k, rule, sizeof(rule));
        return au__fail(err, k, k->name, value, source, "%s", rule);
    }
    memcpy((char *)cfg + k->off, value, n + 1);
    return 0;
}

static int au__set_key(au_config_t *cfg, const au__cfg_key_t *k,
                       const char *value, const char *source, au_error_t *err)
{
    if (k->type == AU__CFG_INT)
        return au__set_int(cfg, k, value, source, err);
    return au__set_str(cfg, k, value, source, err);
}

void au_config_defaults(au_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < AU__NKEYS; i++) {
        int rc =
            au__set_key(cfg, &au__keys[i], au__keys[i].def, "default", NULL);
        assert(rc == 0 && "a built-in default breaks its own rule");
        (void)rc;
    }
}

int au_config_set(au_config_t *cfg, const char *key, const char *value,
                  const char *source, au_error_t *err)
{
    const au__cfg_key_t *k = au__find(key);
    if (!k) {
        const au__cfg_key_t *c = au__closest(key, strlen(key), 0, NULL);
        return au__fail(err, NULL, key, value, source,
                        "no such key; closest is %s", c->name);
    }
    return au__set_key(cfg, k, value, source, err);
}

/* Sets the key named by an AUDORA_ variable. Variables that are not shaped
 * like a key and not a near miss of one belong to someone else. */
static int au__set_env(au_config_t *cfg, const char *name, size_t nlen,
                       const char *value, const char *source,
                       const char *unknown_source, au_error_t *err)
{
    char nbuf[AU__CFG_NAME_MAX];
    char env[AU__CFG_NAME_MAX];
    const au__cfg_key_t *k = au__find_env(name, nlen);
    if (k)
        return au__set_key(cfg, k, value, source, err);
    size_t dist;
    const au__cfg_key_t *c = au__closest(name, nlen, 1, &dist);
    int nested = 0;
    for (size_t i = 0; i + 1 < nlen; i++)
        nested |= name[i] == '_' && name[i + 1] == '_';
    if (!nested && dist > AU__CFG_TYPO_DISTANCE)
        return 0;
    snprintf(nbuf, sizeof(nbuf), "%.*s", (int)nlen, name);
    au__env_name(c, env, sizeof(env));
    return au__fail(err, NULL, nbuf, value, unknown_source,
                    "no such key; closest is %s", env);
}

static int au__is_ours(const char *name, size_t nlen)
{
    return nlen > AU__CFG_PREFIX_LEN &&
           memcmp(name, AU__CFG_PREFIX, AU__CFG_PREFIX_LEN) == 0;
}

static int au__load_environ(au_config_t *cfg, au_error_t *err)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || !au__is_ours(*e, (size_t)(eq - *e)))
            continue;
        char name[AU__CFG_NAME_MAX];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        int rc = au__set_env(cfg, *e, (size_t)(eq - *e), eq + 1, name,
                             "environment", err);
        if (rc)
            return rc;
    }
    return 0;
}

/* .env lines. A value is unquoted (cut at " #", blanks trimmed), in single
 * quotes (literal) or in double quotes (\n \t \r \" \\ escapes). */
static int au__dotenv_value(const char *p, const char *end, char *out,
                            const char **why)
{
    size_t n = 0;
    char q = *p;
    if (q == '"' || q == '\'') {
        p++;
        while (p < end && *p != q) {
            if (q == '"' && *p == '\\' && p + 1 < end) {
                p++;
                switch (*p) {
                case 'n':
                    out[n++] = '\n';
                    break;
                case 't':
                    out[n++] = '\t';
                    break;
                case 'r':
                    out[n++] = '\r';
                    break;
                case '"':
                case '\\':
                    out[n++] = *p;
                    break;
                default:
                    out[n++] = '\\';
                    out[n++] = *p;
                }
            } else {
                out[n++] = *p;
            }
            p++;
        }
        if (p == end) {
            *why = q == '"' ? "unterminated double quote"
                            : "unterminated single quote";
            return -1;
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != '#') {
            *why = "unexpected text after the closing quote";
            return -1;
        }
        out[n] = '\0';
        return 0;
    }
    /* p[-1] is at worst the '=', so it is always readable. */
    while (p < end) {
        if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t'))
            break;
        out[n++] = *p++;
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    return 0;
}

static int au__dotenv_line(au_config_t *cfg, const char *p, const char *end,
                           const char *source, au_error_t *err)
{
    char value[AU__CFG_LINE_MAX + 1];
    const char *why = "expected KEY=VALUE";
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p == '#')
        return 0;
    if (end - p > 7 && memcmp(p, "export", 6) == 0 &&
        (p[6] == ' ' || p[6] == '\t')) {
        p += 7;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
    }
    const char *name = p;
    if (p < end && (isalpha((unsigned char)*p) || *p == '_'))
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
    size_t nlen = (size_t)(p - name);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (nlen == 0 || p == end || *p != '=')
        goto malformed;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (au__dotenv_value(p, end, value, &why) < 0)
        goto malformed;
    if (!au__is_ours(name, nlen))
        return 0;
    return au__set_env(cfg, name, nlen, value, source, source, err);
malformed:
    return au_error_set(err, AU_ECONFIG, "%s: %s", source, why);
}

/* Parses a whole .env buffer; name is used in messages ("x.env:3"). */
static int au__load_dotenv_buf(au_config_t *cfg, const char *buf, size_t len,
                               const char *name, au_error_t *err)
{
    const char *p = buf;
    const char *end = buf + len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        char source[AU__CFG_NAME_MAX + 32];
        snprintf(source, sizeof(source), "%.*s:%d", AU__CFG_NAME_MAX, name,
                 line);
        if (le > p && le[-1] == '\r')
            le--;
        if (memchr(p, '\0', (size_t)(le - p)))
            return au_error_set(err, AU_ECONFIG, "%s: contains a NUL byte",
                                source);
        if (le - p > AU__CFG_LINE_MAX)
            return au_error_set(err, AU_ECONFIG,
                                "%s: line is longer than %d bytes", source,
                                AU__CFG_LINE_MAX);
        int rc = au__dotenv_line(cfg, p, le, source, err);
        if (rc)
            return rc;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int au__load_dotenv(au_config_t *cfg, const char *path, int required,
                           au_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!required && errno == ENOENT)
            return 0;
        return au_error_set(err, AU_ECONFIG, "%s: cannot open: %s", path,
                            strerror(errno));
    }
    int rc = 0;
    char *buf = malloc(AU__CFG_FILE_MAX + 1);
    if (!buf) {
        rc = au_error_set(err, AU_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    size_t n = fread(buf, 1, AU__CFG_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = au_error_set(err, AU_ECONFIG, "%s: cannot read", path);
        goto cleanup;
    }
    if (n > AU__CFG_FILE_MAX) {
        rc = au_error_set(err, AU_ECONFIG, "%s: larger than %d bytes", path,
                          AU__CFG_FILE_MAX);
        goto cleanup;
    }
    rc = au__load_dotenv_buf(cfg, buf, n, path, err);
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

int au_config_is_flag(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return 0;
    const char *name = arg + 2;
    size_t n = strcspn(name, "=");
    if (n == 8 && !strncmp(name, "env-file", 8))
        return 1;
    /* "section.key": a dot with a name on either side. */
    const char *dot = memchr(name, '.', n);
    return dot && dot > name && dot < name + n - 1;
}

/* One command-line argument that may be ours: "--env-file" or a dotted
 * "--section.key", with its value inline or in the next argument. */
typedef struct {
    const char *name; /* after "--" */
    size_t nlen;
    const char *value;
    int used; /* arguments taken: 1 or 2 */
} au__flag_t;

/* Returns 1 when argv[i] is ours (f filled), 0 when not, -1 on the end of
 * options ("--"), or AU_ECONFIG when a value is missing. */
static int au__flag_at(int argc, char **argv, int i, au__flag_t *f,
                       au_error_t *err)
{
    const char *a = argv[i];
    if (strcmp(a, "--") == 0)
        return -1;
    if (!au_config_is_flag(a))
        return 0;
    f->name = a + 2;
    f->nlen = strcspn(f->name, "=");
    if (f->name[f->nlen] == '=') {
        f->value = f->name + f->nlen + 1;
        f->used = 1;
        return 1;
    }
    if (i + 1 >= argc || !argv[i + 1])
        return au_error_set(err, AU_ECONFIG,
                            "%s (from command line): "
                            "needs a value",
                            a);
    f->value = argv[i + 1];
    f->used = 2;
    return 1;
}

/* Finds the last --env-file without touching argv. */
static int au__find_env_file(int argc, char **argv, const char **path,
                             au_error_t *err)
{
    au__flag_t f = {0};
    for (int i = 1; i < argc;) {
        int rc = au__flag_at(argc, argv, i, &f, err);
        if (rc < 0)
            return rc == -1 ? 0 : rc;
        if (rc == 1 && f.nlen == 8 && !strncmp(f.name, "env-file", 8))
            *path = f.value;
        i += rc == 1 ? f.used : 1;
    }
    return 0;
}

static int au__apply_flags(au_config_t *cfg, int *argc, char **argv,
                           au_error_t *err)
{
    int out = 1;
    int i = 1;
    while (i < *argc) {
        au__flag_t f = {0};
        int rc = au__flag_at(*argc, argv, i, &f, err);
        if (rc == -1)
            break;
        if (rc < 0)
            return rc;
        if (rc == 0) {
            argv[out++] = argv[i++];
            continue;
        }
        if (!(f.nlen == 8 && !strncmp(f.name, "env-file", 8))) {
            char key[AU__CFG_NAME_MAX];
            char src[AU__CFG_NAME_MAX + 2];
            snprintf(key, sizeof(key), "%.*s", (int)f.nlen, f.name);
            snprintf(src, sizeof(src), "--%s", key);
            const au__cfg_key_t *k = au__find(key);
            if (!k) {
                const au__cfg_key_t *c = au__closest(key, strlen(key), 0, NULL);
                return au__fail(err, NULL, src, f.value, "command line",
                                "no such key; closest is --%s", c->name);
            }
            rc = au__set_key(cfg, k, f.value, src, err);
            if (rc)
                return rc;
        }
        i += f.used;
    }
    while (i < *argc)
        argv[out++] = argv[i++];
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* queue.queues: "*", or queue names (1..64 of a-z, 0-9, '_', '-')
 * separated by commas, blanks around them allowed. */
static int au__check_queues(const char *v, au_error_t *err)
{
    if (!strcmp(v, "*"))
        return 0;
    for (const char *s = v;; s++) {
        size_t n = strcspn(s, ","), a = 0, b = n;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (b == a || b - a > 64 ||
            strspn(s + a, "abcdefghijklmnopqrstuvwxyz0123456789_-") < b - a)
            return au_error_set(err, AU_ECONFIG,
                                "queue.queues=%s: \"%.*s\" is not a queue "
                                "name (1 to 64 of a-z, 0-9, '_' and '-'), and "
                                "the list is comma-separated or *",
                                v, (int)n, s);
        s += n;
        if (!*s)
            return 0;
    }
}

int au_config_load(au_config_t *cfg, int *argc, char **argv,
                   const char *env_file, au_error_t *err)
{
    const char *path = env_file;
    int n = argc && argv ? *argc : 0;
    au_config_defaults(cfg);
    int rc = au__find_env_file(n, argv, &path, err);
    if (rc)
        return rc;
    rc = path ? au__load_dotenv(cfg, path, 1, err)
              : au__load_dotenv(cfg, ".env", 0, err);
    if (rc)
        return rc;
    /* The names platforms set (DATABASE_URL, REDIS_URL), below Audora's
     * own variables. */
    static const char *const plain[][2] = {{"DATABASE_URL", "database.url"},
                                           {"REDIS_URL", "redis.url"}};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        const char *v = getenv(plain[i][0]);
        if (v && *v)
            rc = au_config_set(cfg, plain[i][1], v, plain[i][0], err);
    }
    if (rc == 0)
        rc = au__load_environ(cfg, err);
    if (rc == 0 && n > 0)
        rc = au__apply_flags(cfg, argc, argv, err);
    if (rc)
        return rc;
    /* Rules between keys, checked once every layer is in. */
    if (cfg->queue.backoff_base_ms > cfg->queue.backoff_max_ms)
        return au_error_set(err, AU_ECONFIG,
                            "queue.backoff_base_ms=%d: must not exceed "
                            "queue.backoff_max_ms=%d",
                            cfg->queue.backoff_base_ms,
                            cfg->queue.backoff_max_ms);
    return au__check_queues(cfg->queue.queues, err);
}

/* The value of k in cfg as dump prints it. */
static void au__value(const au_config_t *cfg, const au__cfg_key_t *k, char *out,
                      size_t cap)
{
    const char *base = (const char *)cfg + k->off;
    int v;
    switch (k->type) {
    case AU__CFG_INT:
        memcpy(&v, base, sizeof(v));
        snprintf(out, cap, "%d", v);
        break;
    case AU__CFG_SECRET:
        snprintf(out, cap, "%s", *base ? "***" : "");
        break;
    case AU__CFG_URL:
        au_config_redact_url(base, out, cap);
        break;
    default:
        snprintf(out, cap, "%s", base);
    }
}

void au_config_dump(const au_config_t *cfg, FILE *out)
{
    /* Redaction can lengthen a value (a bare Redis password -> ***). */
    char val[AU_CFG_STR + 8];
    for (size_t i = 0; i < AU__NKEYS; i++) {
        au__value(cfg, &au__keys[i], val, sizeof(val));
        fprintf(out, "%s = %s\n", au__keys[i].name, val);
    }
}

void au_config_write_example(FILE *out)
{
    char env[AU__CFG_NAME_MAX];
    char rule[192];
    const char *section = "";
    size_t slen = 0;
    fputs("# Audora configuration: every key, its default and its rule.\n"
          "# Copy to .env and uncomment what you change. Precedence, lowest\n"
          "# first: defaults < .env < environment < --section.key flags.\n",
          out);
    for (size_t i = 0; i < AU__NKEYS; i++) {
        const au__cfg_key_t *k = &au__keys[i];
        size_t n = strcspn(k->name, ".");
        if (n != slen || strncmp(section, k->name, n) != 0) {
            fprintf(out, "\n# ---- %.*s ----\n", (int)n, k->name);
            section = k->name;
            slen = n;
        }
        au__env_name(k, env, sizeof(env));
        au__rule(k, rule, sizeof(rule));
        fprintf(out, "\n# %s: %s.\n", k->name, k->doc);
        fprintf(out, "# Default: %s.\n", *k->def ? k->def : "empty");
        fprintf(out, "# Rule: %s.\n", rule);
        fprintf(out, "# %s=%s\n", env, k->def);
    }
}
