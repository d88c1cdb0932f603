/* au_relay.h: one zmq_proxy per stage boundary. Producers PUSH into the
 * relay's "in" endpoint, consumers PULL from its "out" endpoint, so each
 * side scales by starting more processes. Several relays may serve one
 * boundary: producers connect to all (round-robin), consumers too (fair
 * queueing). */
#ifndef AU_RELAY_H
#define AU_RELAY_H

#include "au_ctx.h"

/* Runs the proxy until SIGINT/SIGTERM. in/out are single endpoints. */
int au_relay_run(au_ctx_t *ctx, const char *in, const char *out);

#endif
