/* au_enrich.h: the enrich stage. Gives every record its canonical track
 * and artist identity and joins audio features (cache-aside through
 * Redis, PostgreSQL behind it). */
#ifndef AU_ENRICH_H
#define AU_ENRICH_H

#include <stddef.h>

#include "au_arena.h"
#include "au_ctx.h"
#include "au_proto.h"

/* Enriches b in place (strings from arena) and marks it ENRICHED. A
 * database failure is returned (the batch must not go on half-enriched);
 * a cache failure is not. */
int au_enrich_batch(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                    au_error_t *err);

int au_enrich_main(au_ctx_t *ctx);

#endif
