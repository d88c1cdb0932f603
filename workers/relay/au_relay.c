#include "au_relay.h"

#include <errno.h>
#include <zmq.h>

#include "au_log.h"
#include "au_zmq.h"

int au_relay_run(au_ctx_t *ctx, const char *in, const char *out)
{
    au_error_t err = {0};
    void *front = au_zmq_socket(ctx->zctx, ZMQ_PULL, in, 1, &ctx->cfg, &err);
    void *back =
        front ? au_zmq_socket(ctx->zctx, ZMQ_PUSH, out, 1, &ctx->cfg, &err)
              : NULL;
    if (!front || !back) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "relay: %s", err.msg);
        if (front)
            zmq_close(front);
        return 1;
    }
    au_info("relay: %s -> %s", in, out);
    /* zmq_proxy returns when a signal interrupts it (no SA_RESTART). */
    while (!au_stop_requested) {
        zmq_proxy(front, back, NULL);
        if (errno != EINTR)
            break;
    }
    zmq_close(front);
    zmq_close(back);
    au_info("relay: stopped");
    return 0;
}
