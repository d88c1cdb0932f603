/* au_ctx.h: the process context (the seed's DI container, in C).
 *
 * Built once from the configuration, it owns the pool, the cache and the
 * ZeroMQ context; components receive the pieces they use explicitly. */
#ifndef AU_CTX_H
#define AU_CTX_H

#include "au_cache.h"
#include "au_cli.h"
#include "au_config.h"
#include "au_metrics.h"
#include "au_pool.h"

/* The HTTP client (au_http.h), attached by au_ctx_http_open only in the
 * processes that fetch, so that the others link no libcurl. */
typedef struct au_http_t au_http_t;

typedef struct au_ctx au_ctx_t;
struct au_ctx {
    au_config_t cfg;
    char component[32];
    char worker_id[128]; /* component@host:pid, unique per process */
    au_pool_t *pool;     /* NULL if the component needs no database */
    au_cache_t *cache;
    void *zctx;
    au_metrics_t *metrics; /* NULL unless AU_CTX_METRICS and metrics.port
                              are set; every au_metrics_* call accepts NULL */
    au_http_t *http;       /* au_ctx_http_open: the live sources' client */
    void (*http_tick)(au_ctx_t *ctx); /* its counters into the metrics */
    char *http_beat; /* http_tick's counters as JSON, for the heartbeat */
    /* While a job runs: keeps its lease (a third of it at most since
     * keep_last), called before each slow step such as a request; NULL
     * between jobs. */
    int (*keep)(au_ctx_t *ctx, const char *activity, au_error_t *err);
    const void *keep_arg;
    long long keep_last;
    void (*http_fini)(au_ctx_t *ctx);
    const au_cli_t *cli; /* the command line, when au_ctx_open built it */
    long long next_tick, next_sweep; /* au_ctx_tick's clock */
};

/* What a context builds. Metrics are served by workers only: a command
 * run beside them must not take their port. */
enum { AU_CTX_DB = 1, AU_CTX_CACHE = 2, AU_CTX_ZMQ = 4, AU_CTX_METRICS = 8 };

/* Loads the configuration (argv flags removed), starts logging and builds
 * what `needs` asks for. On failure everything built is released. */
int au_ctx_init(au_ctx_t *ctx, const char *component, int needs, int *argc,
                char **argv, au_error_t *err);
/* Builds what `needs` adds to an initialised context; what is there
 * already stays. A command calls it when it first needs the database, so
 * that its own arguments are checked before the servers are. On failure
 * the context keeps what it had; au_ctx_fini releases all. */
int au_ctx_need(au_ctx_t *ctx, int needs, au_error_t *err);
/* au_ctx_init from a parsed command line: the configuration flags au_cli
 * collected are applied (an unknown key is AU_ECONFIG naming it) and
 * ctx->cli is set. Every executable opens its context this way. */
int au_ctx_open(au_ctx_t *ctx, const char *component, int needs,
                const au_cli_t *cli, au_error_t *err);
void au_ctx_fini(au_ctx_t *ctx);

/* A worker's housekeeping, cheap to call in every turn of its loop (it
 * acts at most once a second): records that the worker is alive with its
 * totals so far, refreshes the metrics, says ready exactly while
 * PostgreSQL answers, and sweeps expired leases every half lease (at
 * most every 5 s). */
void au_ctx_tick(au_ctx_t *ctx, long long records, long long batches);

/* Monotonic milliseconds. */
long long au_now_ms(void);
/* Today's date in UTC, YYYY-MM-DD: a live chart is dated the day it is
 * pushed (or read, when its job names no date). */
void au_today_utc(char out[11]);

/* A worker executable: its command line and what it runs. */
typedef struct {
    const au_cli_spec_t *cli; /* options, arguments, usage */
    const char *component;    /* "ingest": logs, metrics, worker id */
    int needs;                /* AU_CTX_*; metrics are always served */
    int (*run)(au_ctx_t *ctx);
} au_worker_t;

/* The whole main() of a worker: the command line (--help, --version and
 * any error before anything starts), context, schema check (when the
 * database is needed), run(ctx), clean-up. Returns the exit status:
 * run's result, or AU_EXIT_USAGE when the command line or the
 * configuration is wrong, AU_EXIT_FAIL when the database is not ready. */
int au_worker_main(const au_worker_t *w, int argc, char **argv);
#endif
