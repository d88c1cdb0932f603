#include "au_consumer.h"

#include "au_log.h"
#include "au_zmq.h"

/* Asks the relays for one batch. A credit can be lost (a relay killed
 * and restarted never saw it): an idle consumer asks again every second,
 * and a relay keeps one credit per consumer, so asking twice is safe. */
static void ask(void *sock, long long *asked_at)
{
    if (zmq_send(sock, AU_PROTO_CREDIT, AU_PROTO_CREDIT_LEN, ZMQ_DONTWAIT) ==
        AU_PROTO_CREDIT_LEN)
        *asked_at = au_now_ms();
}

int au_consumer_run(au_ctx_t *ctx, const char *component, void *sock,
                    au_consumer_fn fn, void *arg)
{
    au_arena_t *arena = au_arena_new(512 * 1024);
    if (!arena)
        return 1;
    long long records = 0, batches = 0, asked_at = 0;
    au_drain_set_budget(ctx->cfg.queue.drain_s);
    au_info("%s: started as %s", component, ctx->worker_id);
    for (;;) {
        au_ctx_tick(ctx, records, batches);
        /* Draining: no more asking; a batch already on its way is still
         * handled (dropped, it would cost its job a lease), until nothing
         * arrives for a moment or the budget is spent. */
        int draining = au_stop_requested != 0;
        if (!draining && au_now_ms() - asked_at >= 1000)
            ask(sock, &asked_at);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int rc = au_zmq_recv(sock, &msg, draining ? 100 : 500);
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
            if (!au_stop_requested)
                ask(sock, &asked_at);
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
        /* The next one, now that this one is done. */
        if (!au_stop_requested)
            ask(sock, &asked_at);
    }
    ctx->next_tick = 0;
    au_ctx_tick(ctx, records, batches);
    au_metrics_set_ready(ctx->metrics, 0);
    au_arena_destroy(&arena);
    au_info("%s: stopped after %lld batches%s", component, batches,
            au_drain_expired() ? " (drain budget spent)" : "");
    return 0;
}
