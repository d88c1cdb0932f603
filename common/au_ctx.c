#include "au_ctx.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "au_fleet.h"
#include "au_log.h"
#include "au_migrate.h"
#include "au_queue.h"
#include "au_zmq.h"

long long au_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int au_ctx_init(au_ctx_t *ctx, const char *component, int needs, int *argc,
                char **argv, au_error_t *err)
{
    memset(ctx, 0, sizeof(*ctx));
    int rc = au_config_load(&ctx->cfg, argc, argv, NULL, err);
    if (rc < 0)
        return rc;
    snprintf(ctx->component, sizeof(ctx->component), "%s", component);
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(ctx->worker_id, sizeof(ctx->worker_id), "%s@%s:%d", component,
             host, (int)getpid());
    int level = au_log_level_parse(ctx->cfg.log.level);
    au_log_init(component, level < 0 ? AU_LOG_INFO : level, 2);
    if ((needs & AU_CTX_DB) && !ctx->cfg.database.url[0]) {
        rc = au_error_set(err, AU_ECONFIG,
                          "database.url is empty: set AUDORA_DATABASE__URL");
        goto fail;
    }
    if (needs & AU_CTX_DB) {
        ctx->pool =
            au_pool_new(ctx->cfg.database.url, ctx->cfg.database.pool_size,
                        ctx->cfg.database.checkout_timeout_ms,
                        ctx->cfg.database.statement_timeout_ms, err);
        if (!ctx->pool) {
            rc = AU_ECONFIG;
            goto fail;
        }
    }
    if (needs & AU_CTX_CACHE) {
        ctx->cache = au_cache_new(&ctx->cfg, err);
        if (!ctx->cache) {
            rc = AU_ECONFIG;
            goto fail;
        }
    }
    if (ctx->cfg.metrics.port > 0) {
        ctx->metrics = au_metrics_new(component, ctx->worker_id);
        if (!ctx->metrics ||
            au_metrics_serve(ctx->metrics, ctx->cfg.metrics.bind,
                             ctx->cfg.metrics.port, err) < 0) {
            rc = ctx->metrics ? err->code : AU_ENOMEM;
            goto fail;
        }
    }
    if (needs & AU_CTX_ZMQ) {
        ctx->zctx = zmq_ctx_new();
        if (!ctx->zctx) {
            rc = au_error_set(err, AU_EZMQ, "zmq_ctx_new failed");
            goto fail;
        }
    }
    return 0;
fail:
    au_ctx_fini(ctx);
    return rc;
}

void au_ctx_fini(au_ctx_t *ctx)
{
    au_metrics_destroy(&ctx->metrics);
    au_pool_destroy(&ctx->pool);
    au_cache_destroy(&ctx->cache);
    if (ctx->zctx) {
        zmq_ctx_term(ctx->zctx);
        ctx->zctx = NULL;
    }
}

void au_ctx_heartbeat(au_ctx_t *ctx, long long records, long long batches)
{
    au_metrics_collect(ctx->metrics, ctx->cache, ctx->pool);
    if (!ctx->pool)
        return;
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c)
        return;
    au_fleet_beat(c, ctx->worker_id, ctx->component, records, batches, &err);
    au_pool_put(ctx->pool, c);
}

int au_worker_main(int argc, char **argv, const char *component,
                   const char *usage, int needs, int (*run)(au_ctx_t *ctx))
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("audora-%s %s\n", component, AU_VERSION);
            return 0;
        }
    }
    au_signals_install();
    au_ctx_t ctx;
    au_error_t err = {0};
    if (au_ctx_init(&ctx, component, needs, &argc, argv, &err) < 0) {
        fprintf(stderr, "audora-%s: %s\n", component, err.msg);
        return 2;
    }
    int rc = 0;
    if (ctx.pool) {
        PGconn *c = au_pool_get(ctx.pool, &err);
        rc = c ? au_schema_check(c, &err) : err.code;
        au_pool_put(ctx.pool, c);
    }
    if (rc < 0) {
        au_log_ev(AU_LOG_ERROR, NULL, rc, "%s", err.msg);
        au_ctx_fini(&ctx);
        return 2;
    }
    rc = run(&ctx);
    au_ctx_fini(&ctx);
    return rc;
}
