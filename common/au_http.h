/* au_http.h: the HTTP client of the live sources (libcurl). One per
 * process, not thread-safe.
 *
 * What every request gets: connection reuse (one easy handle kept, so its
 * connections stay open between requests), gzip, the User-Agent
 * "audora/<version> (<http.contact>)", connect and per-attempt timeouts,
 * a cap on the answer's size (larger is an error, memory stays bounded),
 * the service's shared rate limit (au_ratelimit), retries with
 * exponential backoff and jitter on connection errors, timeouts, 429 and
 * 5xx, honouring Retry-After (seconds or an HTTP date), all within one
 * deadline per request, and a circuit breaker per service: after
 * http.breaker_failures failures in a row requests fail fast for
 * http.breaker_cooldown_ms, then one probe decides. A 4xx other than 429
 * is not retried. Messages name the service and the URL with every key,
 * token and secret redacted; request headers (Authorization) are never
 * logged. */
#ifndef AU_HTTP_H
#define AU_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "au_cache.h"
#include "au_config.h"
#include "au_ctx.h"
#include "au_err.h"

#define AU_HTTP_MAX_SERVICES 8

typedef struct {
    const char *service; /* a registered service: limit, breaker, counts */
    const char *method;  /* "GET" (default when NULL) or "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated;
                                   may be NULL */
    const char *body;           /* POST body, or NULL */
    size_t body_len;
    const char *basic_auth; /* "user:password" for HTTP Basic, or NULL */
} au_http_req_t;

typedef struct {
    long status;
    char *body; /* malloc'd, NUL-terminated; au_http_resp_clear frees */
    size_t len;
    char content_type[128];
} au_http_resp_t;

void au_http_resp_clear(au_http_resp_t *r);

/* cache (may be NULL) carries the shared rate limits; borrowed. AU_EIO
 * when libcurl cannot start. */
au_http_t *au_http_new(const au_config_t *cfg, au_cache_t *cache,
                       au_error_t *err);
void au_http_destroy(au_http_t **self_p);

/* Registers a service (1..63 characters of [a-z0-9_-]) with its limit:
 * rate_per_s requests per second across the fleet, burst at once. */
int au_http_service(au_http_t *h, const char *name, double rate_per_s,
                    int burst);

/* Sends req and waits for a final answer:
 *   0            a 2xx answer, in resp;
 *   AU_EHTTP     a 4xx other than 429 (resp holds it): no retry helps;
 *   AU_ETOOBIG   the answer was over http.max_response_bytes;
 *   AU_ERETRY    still failing when the retries or the deadline ran out,
 *                or the service's breaker is open: a later try may work;
 *   AU_EINVAL    an unregistered service or a bad request.
 * err says what happened, naming the service and the redacted URL. */
int au_http_do(au_http_t *h, const au_http_req_t *req, au_http_resp_t *resp,
               au_error_t *err);

typedef enum {
    AU_BREAKER_CLOSED = 0,
    AU_BREAKER_OPEN,
    AU_BREAKER_HALF_OPEN
} au_breaker_state_t;

typedef struct {
    uint64_t requests;        /* attempts sent */
    uint64_t retries;         /* attempts after the first of a request */
    uint64_t throttled;       /* 429 answers */
    uint64_t failures;        /* requests that ended in an error */
    uint64_t breaker_opens;   /* times the breaker opened */
    uint64_t limiter_wait_ms; /* time spent waiting for the rate limit */
    uint64_t cache_hits;      /* answers the cache had (au_http_count) */
    uint64_t cache_misses;    /* answers that had to be fetched */
    au_breaker_state_t breaker;
    double rate_per_s;
} au_http_stats_t;

/* Counts an answer of service taken from the cache (hit) or not: the
 * sources know, the client does not see the cache. */
void au_http_count(au_http_t *h, const char *service, int hit);

/* The longest a request may take, its retries and its wait for the
 * limiter included (http.deadline_ms, at most a third of the lease). */
int au_http_deadline_ms(const au_http_t *h);

/* The counters of a service; AU_ENOTFOUND for an unknown one. */
int au_http_stats(const au_http_t *h, const char *service,
                  au_http_stats_t *out);
/* The name of registered service i (0..), or NULL past the last. */
const char *au_http_service_name(const au_http_t *h, int i);
const char *au_http_breaker_name(au_breaker_state_t s);

/* Gives a process context its client (ctx->http), with the services of
 * the configuration registered (lastfm, spotify, musicbrainz: their
 * rates, one request at a time), the shared limits in ctx->cache (built
 * if missing), and its counters copied into ctx->metrics at every tick.
 * au_ctx_fini destroys it. */
int au_ctx_http_open(au_ctx_t *ctx, au_error_t *err);

/* url with the values of api_key, key, token, access_token, secret,
 * client_secret, password and sig replaced by ***, and any user:password
 * in the authority too; cut to cap. */
void au_http_redact(const char *url, char *out, size_t cap);

/* s percent-encoded for a URL query or path segment (RFC 3986: all but
 * the unreserved characters A-Z a-z 0-9 - . _ ~): 0, or AU_ETOOBIG when
 * it does not fit in cap. */
int au_http_escape(const char *s, char *out, size_t cap);

/* Seconds a Retry-After value asks for (delta seconds, or an HTTP date
 * relative to now_s, the current Unix time); -1 when unreadable. */
double au_http_retry_after(const char *value, double now_s);

#endif
