/* au_relay.c: the relay's dispatch loop.
 *
 * Producers PUSH into the front (PULL). Consumers do not pull: each asks
 * for one batch at a time (a DEALER sending the credit frame "ready") at
 * the back (ROUTER), and the relay hands the next batch to the consumer
 * that asked first. A consumer that stops (SIGSTOP, a hung syscall, a
 * long lock wait) therefore holds at most the batch it is working on:
 * with PUSH/PULL, libzmq and the kernel's socket buffers would keep
 * feeding it dozens of batches that then wait out their leases, time and
 * again. The front is read only while some consumer has asked, so a
 * stage without consumers costs nothing and its backlog stays in the
 * producers' queues. */
#include "au_relay.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "au_curve.h"
#include "au_log.h"
#include "au_proto.h"
#include "au_zmq.h"

/* Consumers waiting for a batch, oldest first. A consumer's identity is
 * libzmq's (5 bytes) unless it set one; at most one credit per consumer
 * is kept, so a consumer that asks again while waiting (after a relay
 * restart it cannot see) is not served twice. */
#define MAX_WAITING 1024
#define MAX_ID 255

typedef struct {
    unsigned char id[MAX_WAITING][MAX_ID];
    size_t len[MAX_WAITING];
    size_t head, n;
} waiting_t;

static int waiting_has(const waiting_t *w, const void *id, size_t len)
{
    for (size_t i = 0; i < w->n; i++) {
        size_t k = (w->head + i) % MAX_WAITING;
        if (w->len[k] == len && memcmp(w->id[k], id, len) == 0)
            return 1;
    }
    return 0;
}

static void waiting_push(waiting_t *w, const void *id, size_t len)
{
    if (w->n == MAX_WAITING || len == 0 || len > MAX_ID ||
        waiting_has(w, id, len))
        return;
    size_t k = (w->head + w->n++) % MAX_WAITING;
    memcpy(w->id[k], id, len);
    w->len[k] = len;
}

/* Reads one request from the back: [identity][credit]. Anything but a
 * credit is dropped: consumers send nothing else. */
static void take_credit(void *back, waiting_t *w)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    int more = 0, ok = 0;
    if (zmq_msg_recv(&id, back, ZMQ_DONTWAIT) >= 0) {
        more = zmq_msg_more(&id);
        if (more && zmq_msg_recv(&body, back, ZMQ_DONTWAIT) >= 0) {
            more = zmq_msg_more(&body);
            ok = !more && zmq_msg_size(&body) == AU_PROTO_CREDIT_LEN &&
                 memcmp(zmq_msg_data(&body), AU_PROTO_CREDIT,
                        AU_PROTO_CREDIT_LEN) == 0;
        }
    }
    if (ok)
        waiting_push(w, zmq_msg_data(&id), zmq_msg_size(&id));
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    while (more) { /* the rest of a malformed request */
        zmq_msg_t x;
        zmq_msg_init(&x);
        more = zmq_msg_recv(&x, back, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
}

/* Hands msg to the consumer waiting longest that is still there. 1 sent,
 * 0 nobody left (msg kept), < 0 a socket error. ROUTER_MANDATORY makes a
 * consumer that went away an error here rather than a silent drop. */
static int hand_out(void *back, waiting_t *w, zmq_msg_t *msg)
{
    while (w->n > 0) {
        size_t k = w->head;
        w->head = (w->head + 1) % MAX_WAITING;
        w->n--;
        if (zmq_send(back, w->id[k], w->len[k], ZMQ_SNDMORE | ZMQ_DONTWAIT) <
            0) {
            if (errno == EHOSTUNREACH || errno == EAGAIN)
                continue;
            return -1;
        }
        /* The identity went out: the body follows in the same message. */
        while (zmq_msg_send(msg, back, 0) < 0)
            if (errno != EINTR)
                return -1;
        return 1;
    }
    return 0;
}

/* Takes one single-frame message from the front into msg: 1, 0 nothing
 * there, < 0 an error. A multi-frame message is not ours: dropped. */
static int take_batch(void *front, zmq_msg_t *msg)
{
    for (;;) {
        if (zmq_msg_recv(msg, front, ZMQ_DONTWAIT) < 0)
            return errno == EAGAIN ? 0 : -1;
        if (!zmq_msg_more(msg))
            return 1;
        int more = 1;
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            more =
                zmq_msg_recv(&x, front, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        au_warn("relay: dropped a multi-frame message (batches are one "
                "frame)");
    }
}

static void *open_sockets(au_ctx_t *ctx, const char *in, const char *out,
                          au_config_t *cfg, void **back, au_error_t *err)
{
    void *front = au_zmq_socket(ctx->zctx, ZMQ_PULL, in, 1, cfg, err);
    *back =
        front ? au_zmq_socket(ctx->zctx, ZMQ_ROUTER, out, 1, cfg, err) : NULL;
    if (!*back) {
        if (front)
            zmq_close(front);
        return NULL;
    }
    int on = 1;
    zmq_setsockopt(*back, ZMQ_ROUTER_MANDATORY, &on, sizeof(on));
    return front;
}

int au_relay_run(au_ctx_t *ctx, const char *in, const char *out)
{
    au_error_t err = {0};
    /* High-water marks count messages, not bytes: the front's is set so
     * that a full queue of the largest messages stays within
     * zmq.relay_memory_mb, whatever a producer sends. */
    au_config_t cfg = ctx->cfg;
    long long per_side = (long long)cfg.zmq.relay_memory_mb * (1 << 20) / 2;
    long long hwm = per_side / cfg.zmq.max_msg_bytes;
    cfg.zmq.hwm = (int)(hwm < 1 ? 1 : hwm < cfg.zmq.hwm ? hwm : cfg.zmq.hwm);
    /* The handler must be there before the sockets bind: a CURVE server
     * without one admits any key. */
    au_zap_t *zap = NULL;
    if (strcmp(cfg.zmq.security, "curve") == 0 &&
        !(zap = au_zap_start(ctx->zctx, &cfg, &err))) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "relay: %s", err.msg);
        return 1;
    }
    void *back = NULL;
    void *front = open_sockets(ctx, in, out, &cfg, &back, &err);
    if (!front) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "relay: %s", err.msg);
        au_zap_stop(&zap);
        return 1;
    }
    au_info("relay: %s -> %s (%s)", in, out, cfg.zmq.security);
    /* Bound on both sides: it can take and hand on batches now. */
    au_metrics_set_ready(ctx->metrics, 1);
    static waiting_t waiting; /* 256 KiB: not on the stack */
    zmq_msg_t held;           /* taken from the front, not yet handed out */
    zmq_msg_init(&held);
    int holding = 0;
    long long forwarded = 0;
    while (!au_stop_requested) {
        zmq_pollitem_t it[2] = {{back, 0, ZMQ_POLLIN, 0},
                                {front, 0, ZMQ_POLLIN, 0}};
        /* The front only when someone waits and nothing is held. */
        int nitems = waiting.n > 0 && !holding ? 2 : 1;
        if (zmq_poll(it, nitems, 500) < 0 && errno != EINTR)
            break;
        if (it[0].revents & ZMQ_POLLIN)
            take_credit(back, &waiting);
        if (!holding && waiting.n > 0) {
            int rc = take_batch(front, &held);
            if (rc < 0)
                break;
            holding = rc;
        }
        if (holding) {
            size_t bytes = zmq_msg_size(&held);
            int rc = hand_out(back, &waiting, &held);
            if (rc < 0)
                break;
            if (rc > 0) {
                holding = 0;
                zmq_msg_close(&held);
                zmq_msg_init(&held);
                forwarded++;
                au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
                au_metrics_inc(ctx->metrics, AU_M_BYTES_OUT, bytes);
            }
        }
    }
    if (!au_stop_requested)
        au_log_ev(AU_LOG_ERROR, NULL, AU_EZMQ, "relay: %s",
                  zmq_strerror(errno));
    au_metrics_set_ready(ctx->metrics, 0);
    zmq_msg_close(&held);
    zmq_close(front);
    zmq_close(back);
    au_zap_stop(&zap);
    au_info("relay: stopped after %lld messages", forwarded);
    return au_stop_requested ? 0 : 1;
}
