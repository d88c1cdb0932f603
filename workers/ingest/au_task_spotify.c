/* au_task_spotify.c: the Spotify Web API's lookups of what the store
 * holds: spotify_tracks (popularity, ISRC, and the Spotify id of each
 * credited artist), spotify_artists (genres, popularity, followers) and
 * spotify_features (audio features).
 *
 * Job parameters: ids, 1..1000 Spotify ids. They are sorted and asked for
 * as many at a time as the API takes (GET /tracks?ids= and /artists?ids=
 * fifty, /audio-features?ids= a hundred), each answer cached for the bulk
 * kind's TTL under the service root and its ids and fetched by one worker
 * while any other that needs it waits. Only a returned item whose id was
 * asked for counts: the API answers null for an id it does not know, and
 * an answer about other ids says nothing of these. A 401 drops the
 * fleet's token and tries once more with a new one. An answer no retry
 * can change (the audio features' 403 for applications registered since
 * 2024, for one) is logged and leaves its ids without an answer; the
 * service being down fails the job, to be retried. Every id asked is
 * marked looked up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_keys.h"
#include "au_log.h"
#include "au_source_http.h"
#include "au_store.h"
#include "au_svc.h"
#include "au_zmq.h"

#define SPOTIFY_MAX_IDS 1000
#define SPOTIFY_MAX_PER_REQUEST 100
#define SPOTIFY_NCOL 4
#define SPOTIFY_CREDITS 4 /* credited artists kept per track */

typedef struct lookup lookup_t;

/* One kind of lookup. */
typedef struct {
    const char *kind;   /* the job's */
    const char *path;   /* under spotify.api_url */
    const char *cache;  /* the cache key's name */
    size_t per_request; /* the most ids the API takes at once */
    au_source_check_fn check;
    /* Parses an answer into l's columns for the ids [from, to). */
    int (*take)(lookup_t *l, const char *body, size_t len, au_arena_t *a,
                size_t from, size_t to, au_error_t *err);
    int (*store)(PGconn *c, const lookup_t *l, long *rows, au_error_t *err);
} kind_t;

struct lookup {
    const kind_t *k;
    au_arena_t *keep;
    size_t n;
    const char **ids;               /* sorted, each once */
    const char **col[SPOTIFY_NCOL]; /* per id, as text; NULL: none */
    size_t ncred, capcred;          /* spotify_tracks: credited artists */
    const char **cred_keys, **cred_ids;
};

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The index of id among the ids [from, to), or -1. */
static long find(const lookup_t *l, const char *id, size_t from, size_t to)
{
    const char **hit =
        bsearch(&id, l->ids + from, to - from, sizeof(*l->ids), cmp_str);
    return hit ? (long)(hit - l->ids) : -1;
}

/* A copy in keep of a formatted number, or NULL when absent (< 0). */
static const char *num(lookup_t *l, long long v)
{
    char s[24];
    snprintf(s, sizeof(s), "%lld", v);
    return v >= 0 ? au_arena_strdup(l->keep, s) : NULL;
}

static const char *real(lookup_t *l, double v)
{
    char s[32];
    snprintf(s, sizeof(s), "%.9g", v);
    return au_arena_strdup(l->keep, s);
}

static int oom(au_error_t *err)
{
    return au_error_set(err, AU_ENOMEM, "out of memory");
}

/* ---- tracks ------------------------------------------------------------ */

static int check_tracks(const char *body, size_t len, void *arg,
                        au_error_t *err)
{
    au_spotify_tracks_t t;
    au_arena_reset(arg);
    return au_spotify_parse_tracks(body, len, arg, &t, err);
}

static int credit(lookup_t *l, const au_spotify_credit_t *cr)
{
    char k[AU_PROTO_MAX_STR + 1];
    /* An answer that lists a track again (a hostile one) adds no more
     * than the room the ids asked for leave. */
    if (!cr->id || l->ncred >= l->capcred ||
        au_artist_key(cr->name, k, sizeof(k)) <= 0)
        return 0;
    const char *key = au_arena_strdup(l->keep, k),
               *id = au_arena_strdup(l->keep, cr->id);
    if (!key || !id)
        return AU_ENOMEM;
    l->cred_keys[l->ncred] = key;
    l->cred_ids[l->ncred++] = id;
    return 0;
}

static int take_tracks(lookup_t *l, const char *body, size_t len, au_arena_t *a,
                       size_t from, size_t to, au_error_t *err)
{
    au_spotify_tracks_t t;
    int rc = au_spotify_parse_tracks(body, len, a, &t, err);
    for (uint32_t k = 0; rc == 0 && k < t.count; k++) {
        const au_spotify_track_t *tr = &t.tracks[k];
        long i = find(l, tr->id, from, to);
        if (i < 0 || l->col[0][i] || l->col[1][i])
            continue;
        l->col[0][i] = num(l, tr->popularity);
        l->col[1][i] = tr->isrc ? au_arena_strdup(l->keep, tr->isrc) : NULL;
        for (uint32_t c = 0; rc == 0 && c < tr->nartists && c < SPOTIFY_CREDITS;
             c++)
            rc = credit(l, &tr->artists[c]);
        if (rc == 0 && ((tr->popularity >= 0 && !l->col[0][i]) ||
                        (tr->isrc && !l->col[1][i])))
            rc = AU_ENOMEM;
    }
    return rc == AU_ENOMEM ? oom(err) : rc;
}

static int store_tracks(PGconn *c, const lookup_t *l, long *rows,
                        au_error_t *err)
{
    long ids = 0;
    int rc = au_store_set_track_meta(c, l->n, l->ids, l->col[0], l->col[1],
                                     rows, err);
    if (rc == 0)
        rc = au_store_set_artist_ids(c, l->ncred, l->cred_keys, l->cred_ids,
                                     &ids, err);
    return rc;
}

/* ---- artists ----------------------------------------------------------- */

static int check_artists(const char *body, size_t len, void *arg,
                         au_error_t *err)
{
    au_spotify_artists_t r;
    au_arena_reset(arg);
    return au_spotify_parse_artists(body, len, arg, &r, err);
}

/* The genres as a JSON array, in keep. */
static const char *genres(lookup_t *l, const au_spotify_artist_t *ar)
{
    json_t *g = json_array();
    for (uint32_t k = 0; g && k < ar->ngenres; k++)
        if (json_array_append_new(g, json_string(ar->genres[k])) < 0) {
            json_decref(g);
            return NULL;
        }
    char *s = g ? json_dumps(g, JSON_COMPACT) : NULL;
    const char *kept = s ? au_arena_strdup(l->keep, s) : NULL;
    free(s);
    json_decref(g);
    return kept;
}

static int take_artists(lookup_t *l, const char *body, size_t len,
                        au_arena_t *a, size_t from, size_t to, au_error_t *err)
{
    au_spotify_artists_t r;
    int rc = au_spotify_parse_artists(body, len, a, &r, err);
    for (uint32_t k = 0; rc == 0 && k < r.count; k++) {
        const au_spotify_artist_t *ar = &r.artists[k];
        char key[AU_PROTO_MAX_STR + 1];
        long i = find(l, ar->id, from, to);
        if (i < 0 || l->col[0][i] ||
            au_artist_key(ar->name, key, sizeof(key)) <= 0)
            continue;
        l->col[0][i] = au_arena_strdup(l->keep, key);
        l->col[1][i] = num(l, ar->popularity);
        l->col[2][i] = num(l, ar->followers);
        l->col[3][i] = genres(l, ar);
        if (!l->col[0][i] || !l->col[3][i] ||
            (ar->popularity >= 0 && !l->col[1][i]) ||
            (ar->followers >= 0 && !l->col[2][i]))
            return oom(err);
    }
    return rc;
}

static int store_artists(PGconn *c, const lookup_t *l, long *rows,
                         au_error_t *err)
{
    return au_store_set_artist_meta(c, l->n, l->ids, l->col[0], l->col[1],
                                    l->col[2], l->col[3], rows, err);
}

/* ---- audio features ---------------------------------------------------- */

static int check_features(const char *body, size_t len, void *arg,
                          au_error_t *err)
{
    au_spotify_features_list_t f;
    au_arena_reset(arg);
    return au_spotify_parse_features_list(body, len, arg, &f, err);
}

static int take_features(lookup_t *l, const char *body, size_t len,
                         au_arena_t *a, size_t from, size_t to, au_error_t *err)
{
    au_spotify_features_list_t f;
    int rc = au_spotify_parse_features_list(body, len, a, &f, err);
    for (uint32_t k = 0; rc == 0 && k < f.count; k++) {
        const au_spotify_features_t *x = &f.features[k];
        long i = find(l, x->id, from, to);
        if (i < 0 || l->col[0][i])
            continue;
        l->col[0][i] = real(l, x->danceability);
        l->col[1][i] = real(l, x->energy);
        l->col[2][i] = real(l, x->valence);
        l->col[3][i] = real(l, x->tempo);
        for (int c = 0; c < 4; c++)
            if (!l->col[c][i])
                return oom(err);
    }
    return rc;
}

static int store_features(PGconn *c, const lookup_t *l, long *rows,
                          au_error_t *err)
{
    const char *const *f[4] = {l->col[0], l->col[1], l->col[2], l->col[3]};
    return au_store_set_features(c, l->n, l->ids, f, rows, err);
}

static const kind_t kinds[] = {
    {"spotify_tracks", "tracks", "spotify-tracks", 50, check_tracks,
     take_tracks, store_tracks},
    {"spotify_artists", "artists", "spotify-artists", 50, check_artists,
     take_artists, store_artists},
    {"spotify_features", "audio-features", "spotify-features", 100,
     check_features, take_features, store_features},
};

/* ---- the job ----------------------------------------------------------- */

static int read_ids(json_t *params, lookup_t *l, au_error_t *err)
{
    size_t n;
    json_t *v =
        au_task_list(params, "ids", SPOTIFY_MAX_IDS, "Spotify ids", &n, err);
    if (!v)
        return err->code;
    l->ids = au_arena_alloc(l->keep, n * sizeof(char *));
    for (int c = 0; c < SPOTIFY_NCOL; c++)
        if (!(l->col[c] = au_arena_alloc(l->keep, n * sizeof(char *))))
            return oom(err);
    l->cred_keys =
        au_arena_alloc(l->keep, n * SPOTIFY_CREDITS * sizeof(char *));
    l->cred_ids = au_arena_alloc(l->keep, n * SPOTIFY_CREDITS * sizeof(char *));
    l->capcred = n * SPOTIFY_CREDITS;
    if (!l->ids || !l->cred_keys || !l->cred_ids)
        return oom(err);
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
        for (int c = 0; c < SPOTIFY_NCOL; c++)
            l->col[c][i] = NULL;
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
static int ask(au_ctx_t *ctx, lookup_t *l, size_t from, size_t to,
               au_arena_t *a, au_error_t *err)
{
    const au_config_t *cfg = &ctx->cfg;
    char url[AU_CFG_STR + 32 + 23 * SPOTIFY_MAX_PER_REQUEST],
        auth[AU_SPOTIFY_AUTH_MAX];
    size_t n = (size_t)snprintf(url, sizeof(url),
                                "%s/%s?ids=", cfg->spotify.api_url, l->k->path);
    for (size_t i = from; i < to && n < sizeof(url); i++)
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%s%s",
                              i > from ? "," : "", l->ids[i]);
    const char *parts[] = {cfg->spotify.api_url,
                           url + strlen(cfg->spotify.api_url)};
    char ck[64];
    au_cache_key(ck, sizeof(ck), l->k->cache, 2, parts);
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = 0;
    for (int fresh = 0; fresh < 2; fresh++) {
        if ((rc = au_spotify_auth(ctx, a, fresh, auth, err)) < 0)
            return rc;
        const char *hdrs[] = {auth, NULL};
        au_http_req_t req = {.service = "spotify", .url = url, .headers = hdrs};
        rc = au_source_fetch(ctx, &req, AU_CK_BULK, ck, l->k->check, a, &body,
                             &len, &status, err);
        if (rc != AU_EHTTP || status != 401)
            break;
    }
    explicit_bzero(auth, sizeof(auth));
    if (rc == 0) {
        au_arena_reset(a);
        rc = l->k->take(l, body, len, a, from, to, err);
    }
    free(body);
    return rc;
}

static int lookup_run(const kind_t *k, au_ctx_t *ctx, json_t *params,
                      long *rows, au_error_t *err)
{
    au_arena_t *a = au_arena_new(65536);
    lookup_t l = {.k = k, .keep = au_arena_new(16384)};
    int rc = l.keep && a ? read_ids(params, &l, err) : oom(err);
    for (size_t i = 0; rc == 0 && i < l.n; i += k->per_request) {
        if (au_stop_requested) {
            rc = au_error_set(err, AU_EINTR, "stopping");
            break;
        }
        size_t to = i + k->per_request < l.n ? i + k->per_request : l.n;
        rc = ask(ctx, &l, i, to, a, err);
        if (rc < 0 && !au_task_transient(rc)) {
            au_log_ev(AU_LOG_WARN, NULL, rc, "%s: ids %zu..%zu: %s", k->kind,
                      i + 1, to, err->msg);
            rc = 0;
        }
    }
    PGconn *c = rc == 0 ? au_pool_get(ctx->pool, err) : NULL;
    if (rc == 0 && !c)
        rc = AU_ERETRY;
    if (rc == 0)
        rc = k->store(c, &l, rows, err);
    au_pool_put(ctx->pool, c);
    au_arena_destroy(&l.keep);
    au_arena_destroy(&a);
    return rc;
}

/* Each job's lease is kept by each fetch (au_source_fetch). */
#define KIND_RUN(name, i)                                                      \
    static int name(au_ctx_t *ctx, const au_job_t *job, json_t *params,        \
                    long *rows, au_error_t *err)                               \
    {                                                                          \
        (void)job;                                                             \
        return lookup_run(&kinds[i], ctx, params, rows, err);                  \
    }
KIND_RUN(tracks_run, 0)
KIND_RUN(artists_run, 1)
KIND_RUN(features_run, 2)

const au_task_t au_task_spotify_tracks = {"spotify_tracks", tracks_run};
const au_task_t au_task_spotify_artists = {"spotify_artists", artists_run};
const au_task_t au_task_spotify_features = {"spotify_features", features_run};
