#include "au_consumer.h"

#include "au_log.h"
#include "au_zmq.h"

int au_consumer_run(au_ctx_t *ctx, const char *component, void *pull,
                    au_consumer_fn fn, void *arg)
{
    au_arena_t *arena = au_arena_new(512 * 1024);
    if (!arena)
        return 1;
    long long records = 0, batches = 0, next_beat = 0;
    au_drain_set_budget(ctx->cfg.queue.drain_s);
    au_info("%s: ready as %s", component, ctx->worker_id);
    au_metrics_set_ready(ctx->metrics, 1);
    for (;;) {
        if (au_now_ms() >= next_beat) {
            au_ctx_heartbeat(ctx, records, batches);
            next_beat = au_now_ms() + 2000;
        }
        /* Draining: what is already queued for this worker is still
         * handled, until nothing arrives for a moment or the budget is
         * spent; a batch dropped here would cost its job a lease. */
        int draining = au_stop_requested != 0;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int rc = au_zmq_recv(pull, &msg, draining ? 100 : 500);
        if (rc <= 0) {
            zmq_msg_close(&msg);
            if (rc < 0 || (draining && au_stop_requested))
                break;
            continue;
        }
        au_batch_t b;
        au_error_t err = {0};
        rc = au_batch_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
                             (size_t)ctx->cfg.zmq.max_msg_bytes, &b, &err);
        zmq_msg_close(&msg);
        if (rc < 0) {
            au_metrics_error(ctx->metrics, rc);
            au_log_ev(AU_LOG_ERROR, NULL, rc, "dropping batch: %s", err.msg);
            continue;
        }
        au_metrics_inc(ctx->metrics, AU_M_BATCHES_IN, 1);
        au_metrics_inc(ctx->metrics, AU_M_RECORDS_IN, b.count);
        if (fn(ctx, arg, &b, arena) == 0) {
            records += b.count;
            batches++;
        }
        au_batch_free(&b);
        au_arena_reset(arena);
    }
    au_metrics_set_ready(ctx->metrics, 0);
    au_ctx_heartbeat(ctx, records, batches);
    au_arena_destroy(&arena);
    au_info("%s: stopped after %lld batches%s", component, batches,
            au_drain_expired() ? " (drain budget spent)" : "");
    return 0;
}
