/* au_source_http.h: what the HTTP sources (Last.fm, Spotify) share: an
 * answer fetched once across the fleet, checked, cached, and its failure
 * sorted into "a later attempt may work" or "no retry can fix it". */
#ifndef AU_SOURCE_HTTP_H
#define AU_SOURCE_HTTP_H

#include <stddef.h>

#include "au_cache.h"
#include "au_ctx.h"
#include "au_err.h"
#include "au_arena.h"
#include "au_http.h"
#include "au_source.h"

/* Checks a 2xx body before it is cached: 0, or an AU_E* code with err
 * naming the field (an au_svc parser, usually). */
typedef int (*au_source_check_fn)(const char *body, size_t len, void *arg,
                                  au_error_t *err);

/* The body of req: from the cache (kind, key) while a copy is fresh, else
 * fetched through ctx->http by one process of the fleet while the others
 * wait for its copy (the cache's fill lock). Only an answer that is JSON
 * and that check accepts is cached. On failure the code says what a retry
 * can do: AU_ERETRY (and AU_ETIMEOUT, AU_EIO) when the service was down,
 * throttling, cut the answer short or sent something that is not JSON,
 * which a later attempt may not meet; AU_EHTTP (a 4xx), AU_ETOOBIG and a
 * check's own code otherwise. err names the service and the redacted URL.
 * *body is malloc'd and NUL-terminated; *status (may be NULL) is the
 * HTTP status this process saw, 0 when it asked nobody. */
int au_source_fetch(au_ctx_t *ctx, const au_http_req_t *req,
                    au_cache_kind_t kind, const char *key,
                    au_source_check_fn check, void *arg, char **body,
                    size_t *len, long *status, au_error_t *err);

/* The rows of a live chart, read whole at open (a chart is at most a few
 * thousand entries) and served from memory on both readings. */
typedef struct au_live_t au_live_t;

/* chart's strings are copied; name is what messages call the source. */
au_live_t *au_live_new(const char *platform, const char *chart,
                       const char *region, const char *date, const char *name);
/* Adds a row unless the same track is already in the chart (the same
 * Spotify id, or without one the same name and artist, as enrich keys
 * them): 1 added, 0 skipped, AU_ENOMEM. */
int au_live_add(au_live_t *l, int32_t position, int64_t streams,
                const char *track, const char *artist, const char *track_id,
                long where);
size_t au_live_count(const au_live_t *l);
/* What au_source_t's open hands back. */
void au_live_chart(const au_live_t *l, au_source_chart_t *chart);
/* An au_source_t's next, rewind and close over a live chart. */
int au_live_next(void *state, au_source_row_t *row, au_error_t *err);
int au_live_rewind(void *state, au_error_t *err);
void au_live_close(void *state);

/* A job parameter: its string, or NULL when absent or not a string. */
const char *au_live_param(json_t *params, const char *key);

/* The Spotify Web API's header "Authorization: Bearer <token>" with the
 * fleet's client-credentials token (cached under the token kind; fetched
 * anew when fresh is set: after a 401). a is scratch. */
#define AU_SPOTIFY_AUTH_MAX 600
int au_spotify_auth(au_ctx_t *ctx, au_arena_t *a, int fresh,
                    char auth[AU_SPOTIFY_AUTH_MAX], au_error_t *err);

#endif
