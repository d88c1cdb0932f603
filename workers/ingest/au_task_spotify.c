/* au_task_spotify.c: the spotify_tracks task: what the Spotify Web API
 * says of tracks the store holds (popularity, ISRC), into tracks.
 *
 * Job parameters: ids, 1..1000 Spotify track ids. They are sorted and
 * asked for fifty at a time (GET /tracks?ids=, the API's most), each answer
 * cached for the bulk kind's TTL under the service root and its ids and fetched
 * by one worker while any other that needs it waits. Only a returned
 * track whose id was asked for counts: the API answers null for an id it
 * does not know, and an answer about other ids says nothing of these. A
 * 401 drops the fleet's token and tries once more with a new one. An
 * answer no retry can change is logged and leaves its fifty not found;
 * the service being down fails the job, to be retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_log.h"
#include "au_source_http.h"
#include "au_store.h"
#include "au_svc.h"
#include "au_zmq.h"

#define SPOTIFY_MAX_IDS 1000
#define SPOTIFY_PER_REQUEST 50

typedef struct {
    size_t n;
    const char **ids, **isrc;
    int *popularity;
} tracks_t;

static int check_tracks(const char *body, size_t len, void *arg,
                        au_error_t *err)
{
    au_spotify_tracks_t t;
    au_arena_reset(arg);
    return au_spotify_parse_tracks(body, len, arg, &t, err);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int read_ids(json_t *params, au_arena_t *keep, tracks_t *l,
                    au_error_t *err)
{
    json_t *v = json_object_get(params, "ids");
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0 || n > SPOTIFY_MAX_IDS)
        return au_error_set(err, AU_EINVAL,
                            "job parameter \"ids\" must be an array of "
                            "1..%d Spotify track ids",
                            SPOTIFY_MAX_IDS);
    l->ids = au_arena_alloc(keep, n * sizeof(char *));
    l->isrc = au_arena_alloc(keep, n * sizeof(char *));
    l->popularity = au_arena_alloc(keep, n * sizeof(int));
    if (!l->ids || !l->isrc || !l->popularity)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        size_t k = s ? strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz")
                     : 0;
        if (!s || k != 22 || s[k])
            return au_error_set(err, AU_EINVAL,
                                "ids[%zu]: not a Spotify id (22 letters and "
                                "digits)",
                                i);
        l->ids[i] = s;
        l->isrc[i] = NULL;
        l->popularity[i] = -1;
    }
    /* Sorted and once each, so that the same ids make the same requests
     * (and cache keys) in whatever order a job lists them. */
    qsort(l->ids, n, sizeof(*l->ids), cmp_str);
    l->n = 0;
    for (size_t i = 0; i < n; i++)
        if (l->n == 0 || strcmp(l->ids[l->n - 1], l->ids[i]) != 0)
            l->ids[l->n++] = l->ids[i];
    return 0;
}

/* Asks for ids[from, to) and fills what the answer says of them. */
static int ask(au_ctx_t *ctx, tracks_t *l, size_t from, size_t to,
               au_arena_t *a, au_arena_t *keep, au_error_t *err)
{
    const au_config_t *cfg = &ctx->cfg;
    char url[AU_CFG_STR + 32 + 23 * SPOTIFY_PER_REQUEST],
        auth[AU_SPOTIFY_AUTH_MAX];
    size_t n = (size_t)snprintf(url, sizeof(url),
                                "%s/tracks?ids=", cfg->spotify.api_url);
    for (size_t i = from; i < to && n < sizeof(url); i++)
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%s%s",
                              i > from ? "," : "", l->ids[i]);
    const char *parts[] = {cfg->spotify.api_url,
                           url + strlen(cfg->spotify.api_url)};
    char ck[64];
    au_cache_key(ck, sizeof(ck), "spotify-tracks", 2, parts);
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = 0;
    for (int fresh = 0; fresh < 2; fresh++) {
        if ((rc = au_spotify_auth(ctx, a, fresh, auth, err)) < 0)
            return rc;
        const char *hdrs[] = {auth, NULL};
        au_http_req_t req = {.service = "spotify", .url = url, .headers = hdrs};
        rc = au_source_fetch(ctx, &req, AU_CK_BULK, ck, check_tracks, a, &body,
                             &len, &status, err);
        if (rc != AU_EHTTP || status != 401)
            break;
    }
    explicit_bzero(auth, sizeof(auth));
    au_spotify_tracks_t t = {0};
    if (rc == 0) {
        au_arena_reset(a);
        rc = au_spotify_parse_tracks(body, len, a, &t, err);
    }
    free(body);
    for (uint32_t k = 0; rc == 0 && k < t.count; k++)
        for (size_t i = from; i < to; i++) {
            if (strcmp(t.tracks[k].id, l->ids[i]) != 0)
                continue;
            l->popularity[i] = t.tracks[k].popularity;
            l->isrc[i] = t.tracks[k].isrc
                             ? au_arena_strdup(keep, t.tracks[k].isrc)
                             : NULL;
        }
    return rc;
}

static int spotify_run(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                       long *rows, au_error_t *err)
{
    (void)job; /* its lease is kept by each fetch (au_source_fetch) */
    au_arena_t *keep = au_arena_new(16384), *a = au_arena_new(65536);
    tracks_t l = {0};
    int rc = keep && a ? read_ids(params, keep, &l, err)
                       : au_error_set(err, AU_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < l.n; i += SPOTIFY_PER_REQUEST) {
        if (au_stop_requested) {
            rc = au_error_set(err, AU_EINTR, "stopping");
            break;
        }
        size_t to =
            i + SPOTIFY_PER_REQUEST < l.n ? i + SPOTIFY_PER_REQUEST : l.n;
        rc = ask(ctx, &l, i, to, a, keep, err);
        if (rc < 0 && !au_task_transient(rc)) {
            au_log_ev(AU_LOG_WARN, NULL, rc, "spotify: ids %zu..%zu: %s", i + 1,
                      to, err->msg);
            rc = 0;
        }
    }
    PGconn *c = rc == 0 ? au_pool_get(ctx->pool, err) : NULL;
    if (rc == 0 && !c)
        rc = AU_ERETRY;
    if (rc == 0)
        rc = au_store_set_track_meta(c, l.n, l.ids, l.popularity, l.isrc, rows,
                                     err);
    au_pool_put(ctx->pool, c);
    au_arena_destroy(&keep);
    au_arena_destroy(&a);
    return rc;
}

const au_task_t au_task_spotify_tracks = {"spotify_tracks", spotify_run};
