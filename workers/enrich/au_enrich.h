/* au_enrich.h: the enrich stage. Gives every record its canonical track
 * and artist identity and joins audio features (cache-aside through
 * Redis, PostgreSQL behind it). */
#ifndef AU_ENRICH_H
#define AU_ENRICH_H

#include <stddef.h>

#include "au_arena.h"
#include "au_ctx.h"
#include "au_proto.h"

/* Normalised artist key: surrounding white space trimmed, inner runs of
 * white space collapsed to one space, ASCII letters lower-cased (other
 * UTF-8 left as is, so non-Latin names keep their identity). Returns the
 * length, or AU_ETOOBIG when it does not fit in cap. */
int au_artist_key(const char *artist, char *out, size_t cap);

/* Canonical track key: "spotify:<id>" when the source gives a Spotify
 * track id, otherwise "nk:<hash>" over the normalised name and artist key
 * (stable across processes). */
int au_track_key(const char *track_id, const char *name, const char *artist_key,
                 char *out, size_t cap);

/* Enriches b in place (strings from arena) and marks it ENRICHED. A
 * database failure is returned (the batch must not go on half-enriched);
 * a cache failure is not. */
int au_enrich_batch(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                    au_error_t *err);

int au_enrich_main(au_ctx_t *ctx);

#endif
