/* au_metrics.h: per-worker Prometheus metrics, /healthz and /readyz.
 *
 * One au_metrics_t per process. The worker thread updates it with
 * lock-free atomics; a libmicrohttpd thread started by au_metrics_serve()
 * reads it when scraped:
 *   GET /metrics  text exposition format 0.0.4, every series prefixed
 *                 audora_ and labelled component="<component>"
 *   GET /healthz  200 "ok" while the process lives
 *   GET /readyz   200 "ready" after au_metrics_set_ready(m, 1), else 503
 * Other paths answer 404; methods other than GET and HEAD answer 405.
 *
 * The cache and the pool are not thread-safe, so the HTTP thread never
 * touches them: the worker copies their counters in with
 * au_metrics_collect() (or the two snapshot calls), e.g. on heartbeat.
 *
 * Every update call accepts m == NULL and then does nothing, so code
 * shared with tests or with workers that run without a metrics port
 * needs no checks. Build the object after any fork: the HTTP thread does
 * not survive one. */
#ifndef AU_METRICS_H
#define AU_METRICS_H

#include <stdint.h>

#include "au_cache.h"
#include "au_err.h"
#include "au_pool.h"

/* Monotonic counters. */
typedef enum {
    AU_M_RECORDS_IN = 0,
    AU_M_RECORDS_OUT,
    AU_M_BATCHES_IN,
    AU_M_BATCHES_OUT,
    AU_M_SKIPPED_DUPLICATE, /* batches_skipped_total{reason="duplicate"} */
    AU_M_SKIPPED_STALE,     /* ... reason="stale": fenced attempt */
    AU_M_SKIPPED_GONE,      /* ... reason="gone": job no longer exists */
    AU_M_SKIPPED_MISMATCH,  /* ... reason="mismatch": not the job's batch */
    AU_M_RETRIES,
    AU_M_RESCUED_JOBS, /* expired leases the sweeper requeued */
    AU_M_DEAD_JOBS,
    AU_M_JOBS_DONE, /* jobs_total{result="done"} */
    AU_M_JOBS_FAILED,
    AU_M_BYTES_OUT, /* message bytes a relay forwarded */
    AU_M_RESTARTS,  /* children the supervisor started again */
    AU_M__COUNT
} au_metric_t;

/* Gauges: values that go up and down. */
typedef enum {
    AU_G_QUEUE_DEPTH = 0, /* ready jobs */
    AU_G_LAG_SECONDS,
    AU_G__COUNT
} au_gauge_t;

typedef struct au_metrics_t au_metrics_t;

/* Both strings are copied; worker_id may be NULL. NULL on out-of-memory. */
au_metrics_t *au_metrics_new(const char *component, const char *worker_id);
/* Stops the HTTP server (waiting for a scrape in progress) and frees. */
void au_metrics_destroy(au_metrics_t **self_p);

/* Starts answering HTTP on bind:port in a thread of its own. port 0 picks
 * a free port (see au_metrics_port); bind is a numeric IPv4 or IPv6
 * address. AU_EINVAL for a bad address or when already serving, AU_EIO
 * when the socket cannot be bound (err says which). */
int au_metrics_serve(au_metrics_t *m, const char *bind, int port,
                     au_error_t *err);
/* The port actually bound, or 0 when not serving. */
int au_metrics_port(au_metrics_t *m);

/* Adds n to a counter. */
void au_metrics_inc(au_metrics_t *m, au_metric_t which, uint64_t n);
/* Sets a gauge. */
void au_metrics_set(au_metrics_t *m, au_gauge_t which, double value);
/* Counts one failure under errors_total{code="AU_E..."}. code >= 0 is
 * ignored; a negative code outside the table counts as AU_EUNKNOWN. */
void au_metrics_error(au_metrics_t *m, int code);
/* Records one database flush into the db_flush_seconds histogram
 * (buckets 5 ms .. 5 s). Negative durations count as 0. */
void au_metrics_observe_flush(au_metrics_t *m, double seconds);
/* What /readyz answers: 1 ready, 0 not (draining, database down). */
void au_metrics_set_ready(au_metrics_t *m, int ready);

/* Copies one cache kind's counters (totals since the cache was built). */
void au_metrics_cache_snapshot(au_metrics_t *m, au_cache_kind_t kind,
                               uint64_t hits, uint64_t misses);
/* Copies the pool's open and idle connections and checkout timeouts. */
void au_metrics_pool_snapshot(au_metrics_t *m, int open, int idle,
                              uint64_t timeouts);
/* Both of the above, read from cache and pool (either may be NULL). Call
 * from the thread that owns them. */
void au_metrics_collect(au_metrics_t *m, const au_cache_t *cache,
                        au_pool_t *pool);

/* One HTTP service's totals and breaker state (au_http's counters; kept
 * apart so that metrics need not know the client). Up to
 * AU_METRICS_HTTP_MAX services, each rendered with a service label. */
#define AU_METRICS_HTTP_MAX 8
typedef struct {
    uint64_t requests, retries, throttled, failures, breaker_opens;
    uint64_t limiter_wait_ms;
    int breaker; /* 0 closed, 1 open, 2 half-open */
} au_metrics_http_t;
void au_metrics_http_snapshot(au_metrics_t *m, const char *service,
                              const au_metrics_http_t *v);

/* The /metrics body as of now: *out is malloc'd and NUL-terminated, the
 * caller frees it. 0 or AU_ENOMEM. */
int au_metrics_render(au_metrics_t *m, char **out, size_t *len);

#endif
