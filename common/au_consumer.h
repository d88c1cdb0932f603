/* au_consumer.h: the receive loop every downstream worker shares. It asks
 * the relays for one batch at a time (a DEALER socket sending credits,
 * proto/PROTOCOL.md "Transport"), decodes it strictly (a malformed batch is
 * logged, counted and dropped: its job's lease will expire and the job will be
 * retried, and dead-lettered if it keeps arriving broken), hands it to the
 * worker's handler, and keeps heartbeats, readiness and metrics current. */
#ifndef AU_CONSUMER_H
#define AU_CONSUMER_H

#include "au_arena.h"
#include "au_ctx.h"
#include "au_proto.h"

/* Handles one decoded batch. Everything allocated from arena is freed
 * after it returns. Returns 0 when the batch was handled (counted in the
 * heartbeat), anything else when it was not (the handler logs why). */
typedef int (*au_consumer_fn)(au_ctx_t *ctx, void *arg, au_batch_t *b,
                              au_arena_t *arena);

/* Runs until SIGINT/SIGTERM. Returns 0, or 1 when it could not start. */
/* sock: a DEALER connected to the relays' out endpoints. */
int au_consumer_run(au_ctx_t *ctx, const char *component, void *sock,
                    au_consumer_fn fn, void *arg);

#endif
