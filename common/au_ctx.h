/* au_ctx.h: the process context (the seed's DI container, in C).
 *
 * Built once from the configuration, it owns the pool, the cache and the
 * ZeroMQ context; components receive the pieces they use explicitly. */
#ifndef AU_CTX_H
#define AU_CTX_H

#include "au_cache.h"
#include "au_config.h"
#include "au_metrics.h"
#include "au_pool.h"

typedef struct {
    au_config_t cfg;
    char component[32];
    char worker_id[128]; /* component@host:pid, unique per process */
    au_pool_t *pool;     /* NULL if the component needs no database */
    au_cache_t *cache;
    void *zctx;
    au_metrics_t *metrics; /* NULL when metrics.port is 0; every
                              au_metrics_* call accepts NULL */
} au_ctx_t;

enum { AU_CTX_DB = 1, AU_CTX_CACHE = 2, AU_CTX_ZMQ = 4 };

/* Loads the configuration (argv flags removed), starts logging and builds
 * what `needs` asks for. On failure everything built is released. */
int au_ctx_init(au_ctx_t *ctx, const char *component, int needs, int *argc,
                char **argv, au_error_t *err);
void au_ctx_fini(au_ctx_t *ctx);

/* Records that this worker is alive, with its totals so far, and
 * refreshes the cache and pool figures of the metrics endpoint. */
void au_ctx_heartbeat(au_ctx_t *ctx, long long records, long long batches);

/* Monotonic milliseconds. */
long long au_now_ms(void);

/* The whole main() of a worker: --help/--version, context, schema check
 * (when the database is needed), run(ctx), clean-up. Returns the exit
 * status: run's result, or 2 when start-up failed. */
int au_worker_main(int argc, char **argv, const char *component,
                   const char *usage, int needs, int (*run)(au_ctx_t *ctx));
#endif
