#include "au_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "au_fleet.h"
#include "au_log.h"
#include "au_migrate.h"
#include "au_queue.h"
#include "au_schedule.h"
#include "au_zmq.h"

long long au_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void au_today_utc(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
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
    rc = au_ctx_need(ctx, needs, err);
    if (rc < 0)
        au_ctx_fini(ctx);
    return rc;
}

int au_ctx_need(au_ctx_t *ctx, int needs, au_error_t *err)
{
    if ((needs & AU_CTX_DB) && !ctx->pool) {
        if (!ctx->cfg.database.url[0])
            return au_error_set(err, AU_ECONFIG,
                                "database.url is empty: "
                                "set AUDORA_DATABASE__URL");
        ctx->pool =
            au_pool_new(ctx->cfg.database.url, ctx->cfg.database.pool_size,
                        ctx->cfg.database.checkout_timeout_ms,
                        ctx->cfg.database.statement_timeout_ms, err);
        if (!ctx->pool)
            return AU_ECONFIG;
        au_pool_set_limits(ctx->pool, ctx->cfg.database.statement_timeout_ms,
                           ctx->cfg.database.lock_timeout_ms,
                           ctx->cfg.database.idle_in_transaction_ms);
        au_pool_set_name(ctx->pool, ctx->worker_id);
    }
    if ((needs & AU_CTX_CACHE) && !ctx->cache) {
        ctx->cache = au_cache_new(&ctx->cfg, err);
        if (!ctx->cache)
            return AU_ECONFIG;
    }
    if ((needs & AU_CTX_METRICS) && ctx->cfg.metrics.port > 0 &&
        !ctx->metrics) {
        ctx->metrics = au_metrics_new(ctx->component, ctx->worker_id);
        if (!ctx->metrics)
            return au_error_set(err, AU_ENOMEM, "out of memory");
        int rc = au_metrics_serve(ctx->metrics, ctx->cfg.metrics.bind,
                                  ctx->cfg.metrics.port, err);
        if (rc < 0)
            return rc;
    }
    if ((needs & AU_CTX_ZMQ) && !ctx->zctx) {
        ctx->zctx = zmq_ctx_new();
        if (!ctx->zctx)
            return au_error_set(err, AU_EZMQ, "zmq_ctx_new failed");
    }
    return 0;
}

void au_ctx_fini(au_ctx_t *ctx)
{
    if (ctx->http_fini)
        ctx->http_fini(ctx);
    au_metrics_destroy(&ctx->metrics);
    au_pool_destroy(&ctx->pool);
    au_cache_destroy(&ctx->cache);
    if (ctx->zctx) {
        zmq_ctx_term(ctx->zctx);
        ctx->zctx = NULL;
    }
}

/* Returns expired leases to the queue. Every kind of worker runs it, so
 * a job is rescued whichever kinds are alive; SKIP LOCKED lets them run it
 * at once without waiting for each other. */
static void sweep(au_ctx_t *ctx, PGconn *c)
{
    au_error_t err = {0};
    int q = 0, d = 0;
    if (au_queue_sweep(c, ctx->cfg.queue.backoff_base_ms,
                       ctx->cfg.queue.backoff_max_ms, &q, &d, &err) == 0 &&
        (q || d)) {
        au_log_ev(AU_LOG_WARN, NULL, 0,
                  "sweeper: %d expired lease(s) requeued, %d dead", q, d);
        au_metrics_inc(ctx->metrics, AU_M_RESCUED_JOBS, (uint64_t)q);
        au_metrics_inc(ctx->metrics, AU_M_DEAD_JOBS, (uint64_t)d);
    }
    /* No healthy transaction outlives a lease: statements time out at
     * half of one. A longer one belongs to a stopped worker. */
    int ended = 0;
    if (au_fleet_reap(c, ctx->cfg.queue.lease_s, &ended, &err) == 0 && ended)
        au_log_ev(AU_LOG_WARN, NULL, 0,
                  "sweeper: ended %d worker session(s) in a transaction for "
                  "over %d s (a stopped worker)",
                  ended, ctx->cfg.queue.lease_s);
    int fired = 0;
    if (au_schedule_fire(c, &fired, &err) < 0)
        au_log_ev(AU_LOG_WARN, NULL, err.code, "schedules: %s", err.msg);
    else if (fired)
        au_log_ev(AU_LOG_INFO, NULL, 0, "schedules: %d job(s) queued", fired);
    long pruned = 0;
    if (ctx->cfg.queue.retention_s > 0 &&
        au_queue_prune(c, ctx->cfg.queue.retention_s, 0, 1000, &pruned, &err) ==
            0 &&
        pruned)
        au_log_ev(AU_LOG_INFO, NULL, 0,
                  "sweeper: %ld job(s) past queue.retention_s deleted", pruned);
    au_queue_counts_t counts;
    if (au_queue_counts(c, &counts, &err) == 0) {
        au_metrics_set(ctx->metrics, AU_G_QUEUE_DEPTH, (double)counts.ready);
        au_metrics_set(ctx->metrics, AU_G_LAG_SECONDS, counts.oldest_ready_s);
    }
}

/* SIGHUP: the configuration read again with the same flags; log.level
 * applies at once, the rest at the next start (pools, sockets and ports
 * are not rebuilt under running work). */
static void reload(au_ctx_t *ctx)
{
    au_error_t err = {0};
    int argc = ctx->cli ? ctx->cli->ncfg : 0;
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    au_config_t *fresh = malloc(sizeof(*fresh));
    int rc = argv && fresh ? 0 : AU_ENOMEM;
    if (rc == 0 && argc > 0)
        memcpy(argv, ctx->cli->cfg, (size_t)argc * sizeof(*argv));
    if (rc == 0)
        rc = au_config_load(fresh, &argc, argv, NULL, &err);
    int level = rc == 0 ? au_log_level_parse(fresh->log.level) : -1;
    if (level >= 0) {
        au_log_set_level(level);
        snprintf(ctx->cfg.log.level, sizeof(ctx->cfg.log.level), "%s",
                 fresh->log.level);
        au_log_ev(AU_LOG_WARN, NULL, 0,
                  "SIGHUP: configuration read again; log.level=%s now, other "
                  "keys at the next start",
                  fresh->log.level);
    } else {
        au_log_ev(AU_LOG_WARN, NULL, rc, "SIGHUP: configuration kept: %s",
                  rc ? err.msg : "out of memory");
    }
    free(argv);
    free(fresh);
}

void au_ctx_tick(au_ctx_t *ctx, long long records, long long batches)
{
    if (au_reload_requested) {
        au_reload_requested = 0;
        reload(ctx);
    }
    long long now = au_now_ms();
    if (now < ctx->next_tick)
        return;
    ctx->next_tick = now + 1000;
    au_metrics_collect(ctx->metrics, ctx->cache, ctx->pool);
    if (ctx->http_tick)
        ctx->http_tick(ctx);
    if (!ctx->pool) {
        au_metrics_set_ready(ctx->metrics, 1);
        return;
    }
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    int ok = c && au_fleet_beat(c, ctx->worker_id, ctx->component, records,
                                batches, ctx->http_beat, &err) == 0;
    /* A worker that cannot reach PostgreSQL can do no work: not ready. */
    au_metrics_set_ready(ctx->metrics, ok);
    int sweep_ms = ctx->cfg.queue.lease_s * 500;
    if (ok && now >= ctx->next_sweep) {
        sweep(ctx, c);
        ctx->next_sweep = now + (sweep_ms < 5000 ? sweep_ms : 5000);
    }
    au_pool_put(ctx->pool, c);
}

int au_ctx_open(au_ctx_t *ctx, const char *component, int needs,
                const au_cli_t *cli, au_error_t *err)
{
    /* au_config_load takes its flags out of the argv it is given: give it
     * a copy, so cli stays as parsed. */
    int argc = cli->ncfg;
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    if (!argv) {
        memset(ctx, 0, sizeof(*ctx));
        return au_error_set(err, AU_ENOMEM, "out of memory");
    }
    memcpy(argv, cli->cfg, (size_t)argc * sizeof(*argv));
    int rc = au_ctx_init(ctx, component, needs, &argc, argv, err);
    /* au_cli collected configuration flags only; one left over means the
     * two disagree on what a configuration flag is. */
    if (rc == 0 && argc > 1) {
        rc = au_error_set(err, AU_ECONFIG, "%s: not a configuration flag",
                          argv[1]);
        au_ctx_fini(ctx);
    }
    free(argv);
    if (rc == 0)
        ctx->cli = cli;
    return rc;
}

int au_worker_main(const au_worker_t *w, int argc, char **argv)
{
    au_cli_t cli;
    int rc = au_cli_start(&cli, w->cli, argc, argv);
    if (rc >= 0) {
        au_cli_fini(&cli);
        return rc;
    }
    au_signals_install();
    au_ctx_t ctx;
    au_error_t err = {0};
    if (au_ctx_open(&ctx, w->component, w->needs | AU_CTX_METRICS, &cli, &err) <
        0) {
        fprintf(stderr, "%s: %s\n", w->cli->prog, err.msg);
        au_cli_fini(&cli);
        return err.code == AU_ECONFIG ? AU_EXIT_USAGE : AU_EXIT_FAIL;
    }
    rc = 0;
    if (ctx.pool) {
        /* A worker holds leases. Paused or hung (SIGSTOP, a blocked
         * syscall), its session must end, and its locks with it, before
         * the lease the sweeper waits for runs out: a statement it left
         * running is cancelled after half a lease, the transaction it
         * then sits in is ended after the other half. The others wait
         * for its locks a quarter of a lease at a time, extending their
         * own leases between tries (au_analytics.c). */
        int half = ctx.cfg.queue.lease_s * 500;
        int stmt = ctx.cfg.database.statement_timeout_ms;
        int lock = ctx.cfg.database.lock_timeout_ms;
        int idle = ctx.cfg.database.idle_in_transaction_ms;
        au_pool_set_limits(ctx.pool, stmt > 0 && stmt < half ? stmt : half,
                           lock > 0 && lock < half / 2 ? lock : half / 2,
                           idle > 0 && idle < half ? idle : half);
        PGconn *c = au_pool_get(ctx.pool, &err);
        rc = c ? au_schema_check(c, &err) : err.code;
        au_pool_put(ctx.pool, c);
    }
    if (rc < 0) {
        au_log_ev(AU_LOG_ERROR, NULL, rc, "%s", err.msg);
        au_ctx_fini(&ctx);
        au_cli_fini(&cli);
        return AU_EXIT_FAIL;
    }
    rc = w->run(&ctx);
    au_ctx_fini(&ctx);
    au_cli_fini(&cli);
    return rc;
}
