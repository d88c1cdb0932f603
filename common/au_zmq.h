/* au_zmq.h: ZeroMQ sockets with the limits every stage needs, and the
 * signal flag that makes every blocking call return for a clean drain. */
#ifndef AU_ZMQ_H
#define AU_ZMQ_H

#include <signal.h>
#include <stddef.h>
#include <zmq.h>

#include "au_config.h"
#include "au_err.h"

/* Set by SIGINT/SIGTERM; loops poll it between blocking waits. From that
 * moment a worker drains: it takes no new work, reports not-ready, and
 * finishes (or hands back) what it holds within the drain budget
 * (queue.drain_s), then exits 0. */
extern volatile sig_atomic_t au_stop_requested;
/* Sleeps ms (monotonic) in steps of at most 100 ms, and stops early
 * when a stop is requested: 0, or AU_EINTR (a stop was requested before
 * or during the sleep). For waits on other services (a rate limit, a
 * retry's backoff) that must not outlast the drain. */
int au_sleep_ms(long long ms);
/* The drain budget, seconds (queue.drain_s; default 10). */
void au_drain_set_budget(int seconds);
/* 1 once a stop was requested and the drain budget has run out: work in
 * hand must be handed back now. */
int au_drain_expired(void);
/* Set by SIGHUP: au_ctx_tick reads the configuration again and applies
 * what can change while running (log.level). */
extern volatile sig_atomic_t au_reload_requested;
/* Installs the SIGINT/SIGTERM handlers (without SA_RESTART, so blocking
 * calls return EINTR) and SIGHUP's, and ignores SIGPIPE. */
void au_signals_install(void);

/* Creates a socket of type (ZMQ_PUSH, ZMQ_PULL) with the configured
 * high-water marks, maximum message size and linger, and binds or
 * connects it to every endpoint of a comma-separated list. */
void *au_zmq_socket(void *zctx, int type, const char *endpoints, int bind,
                    const au_config_t *cfg, au_error_t *err);

/* Sends one message, waiting while the peer is at its high-water mark
 * (that wait is the backpressure). 0, AU_EINTR when the drain budget ran
 * out, AU_ETIMEOUT after timeout_ms (-1: wait forever). */
int au_zmq_send(void *sock, const void *buf, size_t len, int timeout_ms);
/* Receives one message into msg (initialised by the caller): 1, 0 on
 * timeout or an interrupted wait, AU_EINTR when the drain budget ran out,
 * AU_EZMQ on error. */
int au_zmq_recv(void *sock, zmq_msg_t *msg, int timeout_ms);

#endif
