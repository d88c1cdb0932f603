/* au_source_spotify.c: the spotify_playlist source: a playlist of the
 * Spotify Web API read as a chart, its items in order (Spotify's own
 * charts were playlists: Top 50, Viral 50).
 *
 * Job parameters: playlist (its 22-character id), date (YYYY-MM-DD,
 * default today in UTC), chart (default "playlist-<id>") and region
 * (default "global"). Platform "spotify"; each track is a row at its
 * place among the playlist's tracks, with no stream count. Local files,
 * episodes and removed tracks are skipped (au_svc.h), and so is a track
 * listed again further down.
 *
 * Authentication is the client-credentials flow: one token for the
 * fleet, fetched by one process and shared through the cache (the token
 * kind) until shortly before it expires. A 401 on a page means the token
 * was revoked or expired early: it is dropped and fetched again, once.
 * Pages are cached like Last.fm's (the chart kind, 1 h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_proto.h"
#include "au_source_http.h"
#include "au_svc.h"

#define SPOTIFY_PAGE 100     /* items per page, the API's most */
#define SPOTIFY_MAX_PAGES 50 /* 5,000 items: far more than any chart */
#define SPOTIFY_MAX_ROWS (SPOTIFY_PAGE * SPOTIFY_MAX_PAGES)

typedef struct {
    au_ctx_t *ctx;
    const char *id;
    const char *date;
    au_arena_t *a;
    char auth[AU_SPOTIFY_AUTH_MAX]; /* "Authorization: Bearer <token>" */
} spotify_job_t;

static int check_token(const char *body, size_t len, void *arg, au_error_t *err)
{
    au_spotify_token_t t;
    au_arena_reset(arg);
    return au_spotify_parse_token(body, len, arg, &t, err);
}

static void token_key(const au_config_t *cfg, char *ck, size_t cap)
{
    const char *parts[] = {cfg->spotify.accounts_url, cfg->spotify.client_id};
    au_cache_key(ck, cap, "spotify-token", 2, parts);
}

int au_spotify_auth(au_ctx_t *ctx, au_arena_t *a, int fresh,
                    char auth[AU_SPOTIFY_AUTH_MAX], au_error_t *err)
{
    const au_config_t *cfg = &ctx->cfg;
    if (!cfg->spotify.client_id[0] || !cfg->spotify.client_secret[0])
        return au_error_set(err, AU_ECONFIG,
                            "spotify: no client credentials (set "
                            "AUDORA_SPOTIFY__CLIENT_ID and "
                            "AUDORA_SPOTIFY__CLIENT_SECRET)");
    char ck[80], basic[2 * AU_CFG_STR + 2];
    token_key(cfg, ck, sizeof(ck));
    if (fresh && au_ctx_http_open(ctx, err) == 0)
        au_cache_del(ctx->cache, AU_CK_TOKEN, ck);
    snprintf(basic, sizeof(basic), "%s:%s", cfg->spotify.client_id,
             cfg->spotify.client_secret);
    static const char form[] = "grant_type=client_credentials";
    static const char *const hdrs[] = {
        "Content-Type: application/x-www-form-urlencoded", NULL};
    au_http_req_t req = {.service = "spotify",
                         .method = "POST",
                         .url = cfg->spotify.accounts_url,
                         .headers = hdrs,
                         .body = form,
                         .body_len = sizeof(form) - 1,
                         .basic_auth = basic};
    char *body = NULL;
    size_t len = 0;
    int rc = au_source_fetch(ctx, &req, AU_CK_TOKEN, ck, check_token, a, &body,
                             &len, NULL, err);
    explicit_bzero(basic, sizeof(basic));
    au_spotify_token_t t;
    if (rc == 0) {
        au_arena_reset(a);
        rc = au_spotify_parse_token(body, len, a, &t, err);
    }
    if (rc == 0 &&
        (size_t)snprintf(auth, AU_SPOTIFY_AUTH_MAX, "Authorization: Bearer %s",
                         t.access_token) >= AU_SPOTIFY_AUTH_MAX)
        rc = au_error_set(err, AU_ETOOBIG, "spotify: token too long");
    free(body);
    return rc;
}

static int check_first(const char *body, size_t len, void *arg, au_error_t *err)
{
    au_spotify_playlist_t p;
    au_arena_reset(arg);
    return au_spotify_parse_playlist(body, len, arg, &p, err);
}

static int check_items(const char *body, size_t len, void *arg, au_error_t *err)
{
    au_spotify_tracks_t t;
    au_arena_reset(arg);
    return au_spotify_parse_playlist_items(body, len, arg, &t, err);
}

/* Page `offset` of the playlist's items (0: the playlist itself, which
 * carries its first page), parsed into j->a. */
static int get_page(spotify_job_t *j, long offset, au_spotify_tracks_t *out,
                    au_error_t *err)
{
    const au_config_t *cfg = &j->ctx->cfg;
    char url[1024], off[24];
    if (offset == 0)
        snprintf(url, sizeof(url), "%s/playlists/%s", cfg->spotify.api_url,
                 j->id);
    else
        snprintf(url, sizeof(url), "%s/playlists/%s/tracks?offset=%ld&limit=%d",
                 cfg->spotify.api_url, j->id, offset, SPOTIFY_PAGE);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *parts[] = {cfg->spotify.api_url, j->id, off, j->date};
    char ck[64];
    au_cache_key(ck, sizeof(ck), "spotify-playlist", 4, parts);
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = 0;
    for (int fresh = 0; fresh < 2; fresh++) {
        if ((rc = au_spotify_auth(j->ctx, j->a, fresh, j->auth, err)) < 0)
            return rc;
        const char *hdrs[] = {j->auth, NULL};
        au_http_req_t req = {.service = "spotify", .url = url, .headers = hdrs};
        rc = au_source_fetch(j->ctx, &req, AU_CK_CHART, ck,
                             offset ? check_items : check_first, j->a, &body,
                             &len, &status, err);
        if (rc != AU_EHTTP || status != 401)
            break;
    }
    if (rc == 0) {
        au_arena_reset(j->a);
        if (offset == 0) {
            au_spotify_playlist_t p;
            rc = au_spotify_parse_playlist(body, len, j->a, &p, err);
            *out = p.tracks;
        } else {
            rc = au_spotify_parse_playlist_items(body, len, j->a, out, err);
        }
    }
    free(body);
    return rc;
}

/* "A, B & C" as the chart files write it: the names, comma-separated. */
static const char *artists_of(au_arena_t *a, const au_spotify_track_t *t)
{
    size_t n = 1;
    for (uint32_t i = 0; i < t->nartists; i++)
        n += strlen(t->artists[i].name) + 2;
    char *s = au_arena_alloc(a, n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (uint32_t i = 0, at = 0; i < t->nartists; i++)
        at += (uint32_t)snprintf(s + at, n - at, "%s%s", i ? ", " : "",
                                 t->artists[i].name);
    return s;
}

static int read_playlist(spotify_job_t *j, au_live_t *l, au_error_t *err)
{
    long offset = 0, place = 0;
    for (int page = 0; page < SPOTIFY_MAX_PAGES; page++) {
        au_spotify_tracks_t t;
        int rc = get_page(j, offset, &t, err);
        if (rc < 0)
            return rc;
        /* A page longer than asked for is not the Web API's: refused
         * before it costs anything. */
        if (t.count + t.skipped > SPOTIFY_PAGE)
            return au_error_set(err, AU_ERANGE,
                                "spotify: a page of %u items (at most %d "
                                "asked for), playlist %s offset %ld",
                                t.count + t.skipped, SPOTIFY_PAGE, j->id,
                                offset);
        for (uint32_t i = 0; i < t.count; i++) {
            const au_spotify_track_t *tr = &t.tracks[i];
            const char *artist = artists_of(j->a, tr);
            if (!artist)
                return au_error_set(err, AU_ENOMEM, "out of memory");
            /* With no artist the row is refused by ingest, naming it. */
            rc = au_live_add(l, (int32_t)(place + 1), -1, tr->name, artist,
                             tr->id, offset + i + 1);
            if (rc < 0)
                return au_error_set(err, rc, "out of memory");
            place += rc;
        }
        /* The next page by offset, not by the "next" URL: that names the
         * service's host, and the configured root may be another. */
        long got = (long)t.count + (long)t.skipped;
        offset = (t.offset >= 0 ? t.offset : offset) + got;
        if (got == 0 || !t.next || (t.total >= 0 && offset >= t.total))
            break;
    }
    return 0;
}

static int spotify_open(au_ctx_t *ctx, json_t *params, void **state,
                        au_source_chart_t *chart, au_error_t *err)
{
    const char *id = au_live_param(params, "playlist");
    size_t n = id ? strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz")
                  : 0;
    if (!id || n != 22 || id[n])
        return au_error_set(err, AU_EINVAL,
                            "job parameter \"playlist\" must be a Spotify id "
                            "(22 letters and digits)");
    char today[11], cname[AU_CHART_NAME_MAX + 1], name[64];
    const char *date = au_live_param(params, "date");
    if (!date) {
        au_today_utc(today);
        date = today;
    }
    long day;
    int rc = au_chart_date_check(date, &day, err);
    if (rc < 0)
        return rc;
    const char *c = au_live_param(params, "chart");
    const char *region = au_live_param(params, "region");
    snprintf(cname, sizeof(cname), "playlist-%s", id);
    snprintf(name, sizeof(name), "spotify playlist %s", id);
    au_live_t *l = au_live_new("spotify", c ? c : cname,
                               region ? region : "global", date, name);
    spotify_job_t j = {ctx, id, date, au_arena_new(65536), ""};
    if (!l || !j.a) {
        au_live_close(l);
        au_arena_destroy(&j.a);
        return au_error_set(err, AU_ENOMEM, "out of memory");
    }
    *state = l;
    au_live_chart(l, chart);
    rc = read_playlist(&j, l, err);
    explicit_bzero(j.auth, sizeof(j.auth));
    au_arena_destroy(&j.a);
    return rc;
}

const au_source_t au_source_spotify = {"spotify_playlist", spotify_open,
                                       au_live_next, au_live_rewind,
                                       au_live_close};
