/* au_curve.h: who may talk to a relay (docs/ARCHITECTURE.md, "Only the
 * cluster can write"). With zmq.security=curve (the default) every socket
 * is CURVE: a relay is a CURVE server with the relays' key pair and lets
 * in only the worker keys it is told to (a ZAP handler), a worker is a
 * CURVE client that knows the relays' public key; traffic is encrypted
 * and a peer without a key cannot even connect. zmq.security=
 * plain-loopback allows plain tcp, and only to loopback addresses, for
 * development on one machine.
 *
 * A key in the configuration is its 40-character Z85 text or "@FILE", a
 * file holding that text (Z85 has '@' too: a value that is a key is
 * always taken as the key). `audora keys generate` writes a fresh set. */
#ifndef AU_CURVE_H
#define AU_CURVE_H

#include "au_config.h"
#include "au_err.h"

#define AU_CURVE_KEY_LEN 40 /* Z85 text of a 32-byte key */

/* Sets the CURVE options of a socket before it binds (server: a relay)
 * or connects (a worker), or, with plain-loopback, checks that every
 * endpoint of the comma-separated list is loopback, ipc or inproc.
 * AU_ECONFIG naming the missing key or the refused endpoint. */
int au_curve_socket(void *sock, int server, const char *endpoints,
                    const au_config_t *cfg, au_error_t *err);

/* The ZAP handler a relay runs in its ZeroMQ context before it binds:
 * it admits the worker keys of zmq.authorized_clients (or
 * zmq.client_public_key) and refuses every other, logging each refusal. */
typedef struct au_zap_t au_zap_t;
au_zap_t *au_zap_start(void *zctx, const au_config_t *cfg, au_error_t *err);
/* Stops the handler; NULL-safe. Call before the context terminates. */
void au_zap_stop(au_zap_t **self_p);
/* Refusals so far (for the relay's metrics and tests). */
unsigned long au_zap_refused(const au_zap_t *zap);

/* Writes a fresh relay pair and worker pair under dir: relay.env,
 * worker.env (each only the keys its processes need) and cluster.env
 * (both, for a cluster on one machine), mode 0600. */
int au_curve_generate(const char *dir, au_error_t *err);

#endif
