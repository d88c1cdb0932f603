/* fuzz_svc.c: libFuzzer target for the web service parsers (au_svc.h).
 *
 * The bytes are one response body, given to every parser in turn: a body
 * meant for one is garbage to the others, which is what a misrouted or
 * changed answer looks like. A failure must fill err with its own code and
 * a message and leave the result zeroed. A success must keep the promises
 * of au_svc.h: required strings there, every string within
 * AU_SVC_MAX_STR, counts within AU_SVC_MAX_ITEMS, numbers in their
 * ranges, positions from 1. */
#include "au_svc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *parser, const char *what)
{
    fprintf(stderr, "fuzz_svc: %s: %s\n", parser, what);
    abort();
}

/* s may be NULL only when optional; never longer than the limit. */
static void fz_str(const char *parser, const char *s, int required)
{
    if (!s) {
        if (required)
            fz_fail(parser, "required string is NULL");
        return;
    }
    if (strlen(s) > AU_SVC_MAX_STR)
        fz_fail(parser, "string over AU_SVC_MAX_STR");
    if (required == 2 && !*s)
        fz_fail(parser, "non-empty string is empty");
}

static void fz_count(const char *parser, uint32_t n, const void *arr)
{
    if (n > AU_SVC_MAX_ITEMS)
        fz_fail(parser, "count over AU_SVC_MAX_ITEMS");
    if ((n == 0) != (arr == NULL))
        fz_fail(parser, "array NULL-ness does not match its count");
}

static void fz_lastfm(const au_lastfm_page_t *pg)
{
    const char *p = "lastfm";
    fz_count(p, pg->count, pg->tracks);
    if ((pg->kind == AU_LASTFM_GEO) != (pg->country != NULL) ||
        (pg->kind == AU_LASTFM_TAG && !pg->tag))
        fz_fail(p, "kind does not match @attr");
    for (uint32_t i = 0; i < pg->count; i++) {
        const au_lastfm_track_t *t = &pg->tracks[i];
        if (t->position < 1)
            fz_fail(p, "position under 1");
        if (t->playcount < -1 || t->listeners < -1)
            fz_fail(p, "negative count");
        fz_str(p, t->name, 2);
        fz_str(p, t->artist, 2);
        fz_str(p, t->mbid, 0);
        if ((t->mbid && !*t->mbid) || (t->artist_mbid && !*t->artist_mbid))
            fz_fail(p, "an empty mbid is not NULL");
    }
}

static void fz_sp_track(const au_spotify_track_t *t)
{
    const char *p = "spotify track";
    fz_str(p, t->id, 2);
    if (strlen(t->id) != 22)
        fz_fail(p, "id is not 22 characters");
    fz_str(p, t->name, 2);
    fz_count(p, t->nartists, t->artists);
    for (uint32_t i = 0; i < t->nartists; i++)
        fz_str(p, t->artists[i].name, 2);
    if (t->duration_ms < 0 || t->popularity < -1 || t->popularity > 100)
        fz_fail(p, "number out of range");
}

static void fz_sp_tracks(const au_spotify_tracks_t *l)
{
    fz_count("spotify tracks", l->count, l->tracks);
    if (l->total < -1 || l->limit < -1 || l->offset < -1)
        fz_fail("spotify tracks", "negative paging number");
    for (uint32_t i = 0; i < l->count; i++)
        fz_sp_track(&l->tracks[i]);
}

static void fz_sp_artist(const au_spotify_artist_t *a)
{
    const char *p = "spotify artist";
    fz_str(p, a->id, 2);
    fz_str(p, a->name, 2);
    fz_count(p, a->ngenres, a->genres);
    for (uint32_t i = 0; i < a->ngenres; i++)
        fz_str(p, a->genres[i], 2);
    if (a->popularity < -1 || a->popularity > 100 || a->followers < -1)
        fz_fail(p, "number out of range");
}

static void fz_sp_features(const au_spotify_features_t *f)
{
    const char *p = "spotify features";
    fz_str(p, f->id, 2);
    if (!(f->danceability >= 0 && f->danceability <= 1) ||
        !(f->energy >= 0 && f->energy <= 1) ||
        !(f->valence >= 0 && f->valence <= 1) ||
        !(f->tempo >= 0 && f->tempo <= 1000))
        fz_fail(p, "feature out of range");
}

static void fz_mb_recording(const au_mb_recording_t *r)
{
    const char *p = "musicbrainz recording";
    fz_str(p, r->id, 2);
    fz_str(p, r->title, 2);
    fz_count(p, r->ncredits, r->credits);
    fz_count(p, r->nisrcs, r->isrcs);
    if ((r->ncredits > 0) != (r->credit != NULL))
        fz_fail(p, "joined credit does not match the credits");
    fz_str(p, r->credit, 0);
    for (uint32_t i = 0; i < r->ncredits; i++) {
        fz_str(p, r->credits[i].joinphrase, 1);
        fz_str(p, r->credits[i].artist_id, 2);
    }
    if (r->length_ms < -1 || r->score < -1 || r->score > 100)
        fz_fail(p, "number out of range");
}

static void fz_mb_artist(const au_mb_artist_t *a)
{
    const char *p = "musicbrainz artist";
    fz_str(p, a->id, 2);
    fz_str(p, a->name, 2);
    fz_str(p, a->sort_name, 2);
    if (a->score < -1 || a->score > 100)
        fz_fail(p, "score out of range");
}

static void fz_check_failure(const char *parser, int rc, const au_error_t *err,
                             const void *out, size_t size)
{
    static const unsigned char zero[512];
    if (rc >= 0 || err->code != rc || !err->msg[0])
        fz_fail(parser, "failure without its code and a message in err");
    if (size > sizeof(zero) || memcmp(out, zero, size) != 0)
        fz_fail(parser, "failure leaves the result filled in");
}

/* Runs one parser on a result filled with garbage; the success check is
 * the statement that follows, with the result as `out` (variadic, since a
 * block holds commas). */
#define FZ_RUN(fn, type, ...)                                                  \
    do {                                                                       \
        type out;                                                              \
        au_error_t err;                                                        \
        memset(&out, 0xa5, sizeof(out));                                       \
        memset(&err, 0, sizeof(err));                                          \
        int rc = fn(body, size, a, &out, &err);                                \
        if (rc == 0) {                                                         \
            __VA_ARGS__;                                                       \
        } else {                                                               \
            fz_check_failure(#fn, rc, &err, &out, sizeof(out));                \
        }                                                                      \
        au_arena_reset(a);                                                     \
    } while (0)

static void fz_spotify_lists(const char *body, size_t size, au_arena_t *a)
{
    FZ_RUN(au_spotify_parse_playlist, au_spotify_playlist_t,
           fz_sp_tracks(&out.tracks));
    FZ_RUN(au_spotify_parse_playlist_items, au_spotify_tracks_t,
           fz_sp_tracks(&out));
    FZ_RUN(au_spotify_parse_tracks, au_spotify_tracks_t, fz_sp_tracks(&out));
    FZ_RUN(au_spotify_parse_search_tracks, au_spotify_tracks_t,
           fz_sp_tracks(&out));
    FZ_RUN(au_spotify_parse_artists, au_spotify_artists_t, {
        fz_count("spotify artists", out.count, out.artists);
        for (uint32_t i = 0; i < out.count; i++)
            fz_sp_artist(&out.artists[i]);
    });
    FZ_RUN(au_spotify_parse_search_artists, au_spotify_artists_t, {
        fz_count("spotify artists", out.count, out.artists);
        for (uint32_t i = 0; i < out.count; i++)
            fz_sp_artist(&out.artists[i]);
    });
    FZ_RUN(au_spotify_parse_features_list, au_spotify_features_list_t, {
        fz_count("spotify features", out.count, out.features);
        for (uint32_t i = 0; i < out.count; i++)
            fz_sp_features(&out.features[i]);
    });
}

static void fz_singles(const char *body, size_t size, au_arena_t *a)
{
    FZ_RUN(au_lastfm_parse_top_tracks, au_lastfm_page_t, fz_lastfm(&out));
    FZ_RUN(au_spotify_parse_token, au_spotify_token_t, {
        fz_str("spotify token", out.access_token, 2);
        fz_str("spotify token", out.token_type, 2);
    });
    FZ_RUN(au_spotify_parse_track, au_spotify_track_t, fz_sp_track(&out));
    FZ_RUN(au_spotify_parse_artist, au_spotify_artist_t, fz_sp_artist(&out));
    FZ_RUN(au_spotify_parse_features, au_spotify_features_t,
           fz_sp_features(&out));
    FZ_RUN(au_mb_parse_recording, au_mb_recording_t, fz_mb_recording(&out));
    FZ_RUN(au_mb_parse_artist, au_mb_artist_t, fz_mb_artist(&out));
    FZ_RUN(au_mb_parse_recording_search, au_mb_recordings_t, {
        fz_count("musicbrainz search", out.n, out.recordings);
        for (uint32_t i = 0; i < out.n; i++)
            fz_mb_recording(&out.recordings[i]);
    });
    FZ_RUN(au_mb_parse_isrc, au_mb_recordings_t, {
        fz_count("musicbrainz isrc", out.n, out.recordings);
        for (uint32_t i = 0; i < out.n; i++)
            fz_mb_recording(&out.recordings[i]);
    });
    FZ_RUN(au_mb_parse_artist_search, au_mb_artists_t, {
        fz_count("musicbrainz search", out.n, out.artists);
        for (uint32_t i = 0; i < out.n; i++)
            fz_mb_artist(&out.artists[i]);
    });
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so ASan sees any read past the end of the body. */
    char *body = malloc(size ? size : 1);
    au_arena_t *a = au_arena_new(4096);
    if (!body || !a) {
        free(body);
        au_arena_destroy(&a);
        return 0;
    }
    if (size)
        memcpy(body, data, size);
    fz_singles(body, size, a);
    fz_spotify_lists(body, size, a);
    au_arena_destroy(&a);
    free(body);
    return 0;
}
