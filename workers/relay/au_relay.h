/* au_relay.h: one dispatch loop per stage boundary. Producers PUSH into
 * the relay's "in" endpoint (PULL); consumers ask for one batch at a time
 * at its "out" endpoint (ROUTER; proto/PROTOCOL.md, "Transport"), so each
 * side scales by starting more processes and a stuck consumer holds one
 * batch at most. Several relays may serve one boundary: producers and
 * consumers connect to all of them. */
#ifndef AU_RELAY_H
#define AU_RELAY_H

#include "au_ctx.h"

/* Binds both endpoints (single endpoints each), reports ready, and hands
 * each batch to the consumer that has waited longest, until
 * SIGINT/SIGTERM; a batch is taken from the front only when a consumer
 * waits. Returns 0, or 1 when a socket cannot be made or fails. */
int au_relay_run(au_ctx_t *ctx, const char *in, const char *out);

#endif
