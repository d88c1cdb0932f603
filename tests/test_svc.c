/* test_svc.c: the Last.fm, Spotify and MusicBrainz parsers, against every
 * real answer of a kind they parse (../shared/fixtures/real, listed in its
 * SOURCES.md) and against those answers damaged. No server is needed. */
#include "au_svc.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LASTFM "lastfm"
#define SPOTIFY "spotify_api"
#define MB "musicbrainz"
#define LF_CHART "chart.getTopTracks_limit10_page2_2018-11-10.json"
#define LF_GEO "geo.getTopTracks_greece_limit10_2018-11-10.json"
#define LF_TAG "tag.getTopTracks_rap_limit2_2018-11-10.json"
#define ED_SHEERAN "b8a7c51f-362c-4dcb-a259-bc6e0095f0a6"

static au_arena_t *g_a;

static void setup(void)
{
    g_a = au_arena_new(0);
    cr_assert_not_null(g_a);
}

static void teardown(void)
{
    au_arena_destroy(&g_a);
}

TestSuite(lastfm, .init = setup, .fini = teardown);
TestSuite(spotify, .init = setup, .fini = teardown);
TestSuite(musicbrainz, .init = setup, .fini = teardown);
TestSuite(damaged, .init = setup, .fini = teardown);

/* NULL-safe string equality, naming the expression that differs. */
#define STR_IS(got, want)                                                      \
    cr_assert((got) && strcmp((got), (want)) == 0,                             \
              "%s is \"%s\", want \"%s\"", #got, (got) ? (got) : "(null)",     \
              (want))

static char *load(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", au_test_fixtures(), dir, name);
    return au_test_read_file(path, len);
}

/* Parses a fixture with fn into out and fails the test on any error. The
 * file is freed before the result is looked at, so a result that pointed
 * into the input instead of the arena would show up under ASan. */
#define PARSE(fn, dir, name, out)                                              \
    do {                                                                       \
        size_t len_;                                                           \
        char *buf_ = load(dir, name, &len_);                                   \
        au_error_t err_ = {0};                                                 \
        int rc_ = fn(buf_, len_, g_a, (out), &err_);                           \
        free(buf_);                                                            \
        cr_assert_eq(rc_, 0, "%s: %s (%s)", name, au_err_name(rc_), err_.msg); \
    } while (0)

#define PARSE_STR(fn, s, out)                                                  \
    do {                                                                       \
        au_error_t err_ = {0};                                                 \
        int rc_ = fn((s), strlen(s), g_a, (out), &err_);                       \
        cr_assert_eq(rc_, 0, "%s (%s) for %s", au_err_name(rc_), err_.msg,     \
                     (s));                                                     \
    } while (0)

/* ---- every parser behind one signature, for the damage tests ----------- */

typedef int (*any_fn)(const char *json, size_t len, au_arena_t *a,
                      au_error_t *err);

/* Runs fn on a result struct filled with garbage first: a failure must
 * leave it zeroed, so a caller that ignores the code sees nothing. */
#define ANY(fn, type)                                                          \
    static int any_##fn(const char *json, size_t len, au_arena_t *a,           \
                        au_error_t *err)                                       \
    {                                                                          \
        type out;                                                              \
        static const type zero;                                                \
        memset(&out, 0xa5, sizeof(out));                                       \
        int rc = fn(json, len, a, &out, err);                                  \
        if (rc != 0)                                                           \
            cr_assert(memcmp(&out, &zero, sizeof(out)) == 0,                   \
                      #fn " left its result filled in after %s", err->msg);    \
        return rc;                                                             \
    }

ANY(au_lastfm_parse_top_tracks, au_lastfm_page_t)
ANY(au_spotify_parse_token, au_spotify_token_t)
ANY(au_spotify_parse_playlist, au_spotify_playlist_t)
ANY(au_spotify_parse_playlist_items, au_spotify_tracks_t)
ANY(au_spotify_parse_tracks, au_spotify_tracks_t)
ANY(au_spotify_parse_track, au_spotify_track_t)
ANY(au_spotify_parse_search_tracks, au_spotify_tracks_t)
ANY(au_spotify_parse_artist, au_spotify_artist_t)
ANY(au_spotify_parse_artists, au_spotify_artists_t)
ANY(au_spotify_parse_search_artists, au_spotify_artists_t)
ANY(au_spotify_parse_features, au_spotify_features_t)
ANY(au_spotify_parse_features_list, au_spotify_features_list_t)
ANY(au_mb_parse_recording, au_mb_recording_t)
ANY(au_mb_parse_recording_search, au_mb_recordings_t)
ANY(au_mb_parse_isrc, au_mb_recordings_t)
ANY(au_mb_parse_artist, au_mb_artist_t)
ANY(au_mb_parse_artist_search, au_mb_artists_t)

static const any_fn all_parsers[] = {any_au_lastfm_parse_top_tracks,
                                     any_au_spotify_parse_token,
                                     any_au_spotify_parse_playlist,
                                     any_au_spotify_parse_playlist_items,
                                     any_au_spotify_parse_tracks,
                                     any_au_spotify_parse_track,
                                     any_au_spotify_parse_search_tracks,
                                     any_au_spotify_parse_artist,
                                     any_au_spotify_parse_artists,
                                     any_au_spotify_parse_search_artists,
                                     any_au_spotify_parse_features,
                                     any_au_spotify_parse_features_list,
                                     any_au_mb_parse_recording,
                                     any_au_mb_parse_recording_search,
                                     any_au_mb_parse_isrc,
                                     any_au_mb_parse_artist,
                                     any_au_mb_parse_artist_search};

/* A fixture and the parser of its kind. */
typedef struct {
    const char *dir, *name;
    any_fn fn;
} kind_t;

static const kind_t kinds[] = {
    {LASTFM, LF_CHART, any_au_lastfm_parse_top_tracks},
    {LASTFM, LF_GEO, any_au_lastfm_parse_top_tracks},
    {LASTFM, LF_TAG, any_au_lastfm_parse_top_tracks},
    {SPOTIFY, "jmperez_track.json", any_au_spotify_parse_track},
    {SPOTIFY, "swajava_GetSeveralTracksRequest.json",
     any_au_spotify_parse_tracks},
    {SPOTIFY, "jmperez_playlist.json", any_au_spotify_parse_playlist},
    {SPOTIFY, "swajava_GetPlaylistsItemsRequest.json",
     any_au_spotify_parse_playlist_items},
    {SPOTIFY, "swajava_SearchTracksRequest.json",
     any_au_spotify_parse_search_tracks},
    {SPOTIFY, "swajava_GetArtistRequest.json", any_au_spotify_parse_artist},
    {SPOTIFY, "swajava_GetSeveralArtistsRequest.json",
     any_au_spotify_parse_artists},
    {SPOTIFY, "jmperez_search_artist.json",
     any_au_spotify_parse_search_artists},
    {SPOTIFY, "swajava_GetAudioFeaturesForTrackRequest.json",
     any_au_spotify_parse_features},
    {SPOTIFY, "swajava_GetAudioFeaturesForSeveralTracksRequest.json",
     any_au_spotify_parse_features_list},
    {MB, "picard_recording_multi_artists_1_lookup.json",
     any_au_mb_parse_recording},
    {MB, "picard_artist_lookup.json", any_au_mb_parse_artist},
    {MB, "artist_search_acdc_2021-03-20.json", any_au_mb_parse_artist_search},
};

/* Asserts that fn fails on body with code and a message containing
 * needle (the field's path, the offset or the value). */
static void expect_fail(any_fn fn, const char *body, size_t len, int code,
                        const char *needle)
{
    au_error_t err;
    memset(&err, 0, sizeof(err));
    int rc = fn(body, len, g_a, &err);
    cr_assert_eq(rc, code, "got %s (%s), want %s", au_err_name(rc), err.msg,
                 au_err_name(code));
    cr_assert_eq(err.code, code);
    cr_assert(strstr(err.msg, needle), "\"%s\" does not name \"%s\"", err.msg,
              needle);
}

static void expect_fail_str(any_fn fn, const char *body, int code,
                            const char *needle)
{
    expect_fail(fn, body, strlen(body), code, needle);
}

/* A malloc'd copy of s with the first "from" replaced by "to". */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    cr_assert_not_null(at, "\"%s\" not in the fixture", from);
    size_t head = (size_t)(at - s), nf = strlen(from), nt = strlen(to);
    size_t tail = strlen(at + nf);
    char *out = malloc(head + nt + tail + 1);
    cr_assert_not_null(out);
    memcpy(out, s, head);
    memcpy(out + head, to, nt);
    memcpy(out + head + nt, at + nf, tail + 1);
    return out;
}

/* Parses a fixture damaged by one replacement and checks the failure. */
static void expect_damaged(const char *dir, const char *name, any_fn fn,
                           const char *from, const char *to, int code,
                           const char *needle)
{
    char *buf = load(dir, name, NULL);
    char *bad = replace(buf, from, to);
    free(buf);
    expect_fail_str(fn, bad, code, needle);
    free(bad);
}

/* ---- Last.fm ------------------------------------------------------------ */

Test(lastfm, chart_page_2_of_limit_10_holds_20_tracks_at_positions_11_to_30)
{
    au_lastfm_page_t pg;
    PARSE(au_lastfm_parse_top_tracks, LASTFM, LF_CHART, &pg);
    cr_assert_eq(pg.kind, AU_LASTFM_CHART);
    cr_assert_null(pg.country);
    cr_assert_null(pg.tag);
    cr_assert_eq(pg.page, 2);
    cr_assert_eq(pg.per_page, 10);
    cr_assert_eq(pg.total_pages, 2314620);
    cr_assert_eq(pg.total, 23146193);
    cr_assert_eq(pg.count, 20, "Last.fm sent 20 tracks for limit=10");
    for (uint32_t i = 0; i < pg.count; i++)
        cr_assert_eq(pg.tracks[i].position, (int32_t)(11 + i));
    const au_lastfm_track_t *t = &pg.tracks[0];
    STR_IS(t->name, "Thank U, Next");
    STR_IS(t->artist, "Ariana Grande");
    cr_assert_null(t->mbid, "an empty mbid is NULL");
    STR_IS(t->artist_mbid, "f4fdbb4c-e4b7-47a0-b83b-d91bbfcfa387");
    STR_IS(t->url, "https://www.last.fm/music/Ariana+Grande/_/Thank+U,+Next");
    cr_assert_eq(t->playcount, 949175);
    cr_assert_eq(t->listeners, 67870);
    t = &pg.tracks[6];
    STR_IS(t->name, "Without Me");
    cr_assert_null(t->mbid);
    cr_assert_null(t->artist_mbid);
    t = &pg.tracks[10];
    STR_IS(t->name, "Mr. Brightside");
    STR_IS(t->mbid, "37d516ab-d61f-4bcb-9316-7a0b3eb845a8");
    cr_assert_eq(t->playcount, 17608636);
    t = &pg.tracks[19];
    STR_IS(t->name, "Do I Wanna Know?");
    STR_IS(t->artist, "Arctic Monkeys");
    STR_IS(t->mbid, "f1e57531-e0df-4b3e-938f-1ae30c5b1a11");
    STR_IS(t->artist_mbid, "ada7a83c-e3e1-40f1-93f9-3e73dbc9298a");
    cr_assert_eq(t->playcount, 11844893);
    cr_assert_eq(t->listeners, 867511);
}

Test(lastfm, geo_ranks_from_0_become_positions_from_1_with_listeners_only)
{
    au_lastfm_page_t pg;
    PARSE(au_lastfm_parse_top_tracks, LASTFM, LF_GEO, &pg);
    cr_assert_eq(pg.kind, AU_LASTFM_GEO);
    STR_IS(pg.country, "Greece");
    cr_assert_null(pg.tag);
    cr_assert_eq(pg.page, 1);
    cr_assert_eq(pg.per_page, 10);
    cr_assert_eq(pg.total_pages, 252596);
    cr_assert_eq(pg.total, 2525955);
    cr_assert_eq(pg.count, 10);
    for (uint32_t i = 0; i < pg.count; i++) {
        cr_assert_eq(pg.tracks[i].position, (int32_t)(1 + i));
        cr_assert_eq(pg.tracks[i].playcount, -1, "geo has no playcount");
        cr_assert_gt(pg.tracks[i].listeners, 0);
    }
    const au_lastfm_track_t *t = &pg.tracks[0];
    STR_IS(t->name, "Do I Wanna Know?");
    STR_IS(t->artist, "Arctic Monkeys");
    cr_assert_eq(t->listeners, 867724);
    cr_assert_null(pg.tracks[1].mbid, "Burn the Witch has an empty mbid");
    STR_IS(pg.tracks[1].name, "Burn the Witch");
    t = &pg.tracks[9];
    STR_IS(t->name, "Smells Like Teen Spirit");
    STR_IS(t->artist, "Nirvana");
    STR_IS(t->mbid, "0ebe2d92-a11d-4b2b-9922-806383074ed7");
    STR_IS(t->artist_mbid, "9282c8b4-ca0b-4c6b-b7e3-4f7762dfc4d6");
    cr_assert_eq(t->listeners, 2031860);
}

Test(lastfm, tag_ranks_from_1_keep_their_positions_without_counts)
{
    au_lastfm_page_t pg;
    PARSE(au_lastfm_parse_top_tracks, LASTFM, LF_TAG, &pg);
    cr_assert_eq(pg.kind, AU_LASTFM_TAG);
    STR_IS(pg.tag, "rap");
    cr_assert_null(pg.country);
    cr_assert_eq(pg.page, 1);
    cr_assert_eq(pg.per_page, 2);
    cr_assert_eq(pg.total_pages, 52200);
    cr_assert_eq(pg.total, 104399);
    cr_assert_eq(pg.count, 2);
    STR_IS(pg.tracks[0].name, "Stronger");
    STR_IS(pg.tracks[0].artist, "Kanye West");
    STR_IS(pg.tracks[0].mbid, "a7ddf553-673a-4d4e-96cc-d5a4bca6af2d");
    cr_assert_eq(pg.tracks[0].position, 1);
    cr_assert_eq(pg.tracks[0].playcount, -1);
    cr_assert_eq(pg.tracks[0].listeners, -1);
    STR_IS(pg.tracks[1].name, "Clint Eastwood");
    STR_IS(pg.tracks[1].artist, "Gorillaz");
    STR_IS(pg.tracks[1].artist_mbid, "e21857d5-3256-4547-afb3-4b6ded592596");
    cr_assert_eq(pg.tracks[1].position, 2);
}

/* Two tracks of a geo page; @attr and ranks are the test's. */
#define GEO_PAGE(attr, r0, r1)                                                 \
    "{\"tracks\":{\"track\":["                                                 \
    "{\"name\":\"A\",\"listeners\":\"5\",\"artist\":{\"name\":\"X\"},"         \
    "\"@attr\":{\"rank\":\"" r0 "\"}},"                                        \
    "{\"name\":\"B\",\"listeners\":\"4\",\"artist\":{\"name\":\"Y\"},"         \
    "\"@attr\":{\"rank\":\"" r1 "\"}}],\"@attr\":{" attr "}}}"
#define GEO_P2 "\"country\":\"Greece\",\"page\":\"2\",\"perPage\":\"10\""

Test(lastfm, ranks_restarting_on_each_page_are_offset_by_the_page)
{
    au_lastfm_page_t pg;
    PARSE_STR(au_lastfm_parse_top_tracks, GEO_PAGE(GEO_P2, "0", "1"), &pg);
    cr_assert_eq(pg.tracks[0].position, 11);
    cr_assert_eq(pg.tracks[1].position, 12);
}

Test(lastfm, ranks_over_the_whole_chart_are_not_offset_again)
{
    au_lastfm_page_t pg;
    PARSE_STR(au_lastfm_parse_top_tracks, GEO_PAGE(GEO_P2, "10", "11"), &pg);
    cr_assert_eq(pg.tracks[0].position, 11);
    cr_assert_eq(pg.tracks[1].position, 12);
}

Test(lastfm, a_page_without_attr_counts_positions_from_1)
{
    au_lastfm_page_t pg;
    PARSE_STR(au_lastfm_parse_top_tracks,
              "{\"tracks\":{\"track\":[{\"name\":\"A\",\"artist\":{\"name\":"
              "\"X\"}},{\"name\":\"B\",\"artist\":{\"name\":\"Y\"},"
              "\"playcount\":\"\",\"listeners\":7}]}}",
              &pg);
    cr_assert_eq(pg.kind, AU_LASTFM_CHART);
    cr_assert_eq(pg.page, -1);
    cr_assert_eq(pg.per_page, -1);
    cr_assert_eq(pg.total, -1);
    cr_assert_eq(pg.count, 2);
    cr_assert_eq(pg.tracks[0].position, 1);
    cr_assert_eq(pg.tracks[1].position, 2);
    cr_assert_eq(pg.tracks[1].playcount, -1, "\"\" is no count");
    cr_assert_eq(pg.tracks[1].listeners, 7, "a JSON number is a number");
}

Test(lastfm, a_lone_track_object_is_a_page_of_one)
{
    au_lastfm_page_t pg;
    PARSE_STR(au_lastfm_parse_top_tracks,
              "{\"tracks\":{\"track\":{\"name\":\"A\",\"artist\":{\"name\":"
              "\"X\"},\"@attr\":{\"rank\":\"1\"}},\"@attr\":{\"tag\":\"rap\","
              "\"page\":\"3\",\"perPage\":\"1\",\"totalPages\":\"9\","
              "\"total\":\"9\"}}}",
              &pg);
    cr_assert_eq(pg.count, 1);
    STR_IS(pg.tracks[0].name, "A");
    cr_assert_eq(pg.tracks[0].position, 3);
}

Test(lastfm, an_empty_page_may_leave_out_the_track_list)
{
    au_lastfm_page_t pg;
    PARSE_STR(au_lastfm_parse_top_tracks,
              "{\"tracks\":{\"#text\":\"\\n\",\"@attr\":{\"tag\":\"zz\","
              "\"page\":\"1\",\"perPage\":\"50\",\"totalPages\":\"0\","
              "\"total\":\"0\"}}}",
              &pg);
    cr_assert_eq(pg.count, 0);
    cr_assert_null(pg.tracks);
    cr_assert_eq(pg.total, 0);
}

Test(lastfm, a_top_artists_page_is_not_a_top_tracks_page)
{
    static const char *const files[] = {
        "chart.getTopArtists_limit10_page2_2018-11-10.json",
        "geo.getTopArtists_greece_limit10_2018-11-10.json"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *buf = load(LASTFM, files[i], &len);
        expect_fail(any_au_lastfm_parse_top_tracks, buf, len, AU_EMISSING,
                    "last.fm: tracks: required field missing");
        free(buf);
    }
}

/* ---- Spotify ------------------------------------------------------------ */

Test(spotify, token_response_gives_token_type_and_lifetime)
{
    au_spotify_token_t tok;
    PARSE_STR(au_spotify_parse_token,
              "{\"access_token\":\"NgCXRKc3MzE2OTY4NjI5NDcyNTEz\","
              "\"token_type\":\"Bearer\",\"expires_in\":3600}",
              &tok);
    STR_IS(tok.access_token, "NgCXRKc3MzE2OTY4NjI5NDcyNTEz");
    STR_IS(tok.token_type, "Bearer");
    cr_assert_eq(tok.expires_in, 3600);
}

Test(spotify, single_tracks_give_artists_album_duration_and_isrc)
{
    au_spotify_track_t t;
    PARSE(au_spotify_parse_track, SPOTIFY, "jmperez_track.json", &t);
    STR_IS(t.id, "0eGsygTp906u18L0Oimnem");
    STR_IS(t.name, "Mr. Brightside");
    cr_assert_eq(t.nartists, 1);
    STR_IS(t.artists[0].name, "The Killers");
    STR_IS(t.artists[0].id, "0C0XlULifJtAgn6ZNCW2eu");
    STR_IS(t.album, "Hot Fuss");
    cr_assert_null(t.release_date, "2014 payloads have no release_date");
    cr_assert_eq(t.duration_ms, 222075);
    cr_assert_eq(t.popularity, 0);
    STR_IS(t.isrc, "USIR20400274");

    PARSE(au_spotify_parse_track, SPOTIFY, "swajava_GetTrackRequest.json", &t);
    STR_IS(t.id, "3n3Ppam7vgaVa1iaRUc9Lp");
    STR_IS(t.name, "Mr. Brightside");
    STR_IS(t.album, "Hot Fuss (Deluxe Version)");
    cr_assert_eq(t.duration_ms, 222200);
    cr_assert_eq(t.popularity, 73);
    STR_IS(t.isrc, "GBFFP0300052");
}

Test(spotify, several_tracks_keep_their_order)
{
    au_spotify_tracks_t l;
    PARSE(au_spotify_parse_tracks, SPOTIFY, "jmperez_tracks.json", &l);
    cr_assert_eq(l.count, 2);
    cr_assert_eq(l.skipped, 0);
    cr_assert_eq(l.total, -1, "a plain array is not a page");
    cr_assert_null(l.next);
    STR_IS(l.tracks[0].name, "Somebody Told Me");
    STR_IS(l.tracks[0].id, "1lDWb6b6ieDQ2xT7ewTC3G");
    STR_IS(l.tracks[1].name, "Mr. Brightside");
    STR_IS(l.tracks[1].isrc, "USIR20400274");

    PARSE(au_spotify_parse_tracks, SPOTIFY,
          "swajava_GetSeveralTracksRequest.json", &l);
    cr_assert_eq(l.count, 2);
    STR_IS(l.tracks[0].id, "3n3Ppam7vgaVa1iaRUc9Lp");
    cr_assert_eq(l.tracks[0].popularity, 73);
    STR_IS(l.tracks[1].name, "Somebody Told Me");
    STR_IS(l.tracks[1].id, "3twNvmDtFQtAd5gMKedhLD");
    cr_assert_eq(l.tracks[1].popularity, 65);
    cr_assert_eq(l.tracks[1].duration_ms, 197280);
}

Test(spotify, top_tracks_and_recommendations_are_track_lists_too)
{
    au_spotify_tracks_t l;
    PARSE(au_spotify_parse_tracks, SPOTIFY, "jmperez_artist_top_tracks.json",
          &l);
    cr_assert_eq(l.count, 10);
    STR_IS(l.tracks[0].name, "Buscando en la basura");
    STR_IS(l.tracks[9].name, "No solo respirar");
    STR_IS(l.tracks[9].artists[0].id, "5YyScSZOuBHpoFhGvHFedc");

    PARSE(au_spotify_parse_tracks, SPOTIFY,
          "swajava_GetArtistsTopTracksRequest.json", &l);
    cr_assert_eq(l.count, 1);
    STR_IS(l.tracks[0].name, "Can't Help Falling in Love");
    STR_IS(l.tracks[0].artists[0].name, "Elvis Presley");
    cr_assert_eq(l.tracks[0].popularity, 70);

    PARSE(au_spotify_parse_tracks, SPOTIFY, "jmperez_recommendations.json", &l);
    cr_assert_eq(l.count, 5);
    STR_IS(l.tracks[0].name, "Adrenalina");
    cr_assert_eq(l.tracks[0].nartists, 3);
    STR_IS(l.tracks[0].artists[2].name, "Ricky Martin");
    STR_IS(l.tracks[0].artists[2].id, "7slfeZO9LsJbWgpkIoXBUJ");
    STR_IS(l.tracks[4].name, "Pienso en Aquella Tarde");

    PARSE(au_spotify_parse_tracks, SPOTIFY,
          "swajava_GetRecommendationsRequest.json", &l);
    cr_assert_eq(l.count, 10);
    STR_IS(l.tracks[0].name, "Himmel för två");
    STR_IS(l.tracks[0].release_date, "2016-02-04");
    STR_IS(l.tracks[3].release_date, "2012");
    STR_IS(l.tracks[9].name, "Suzy");
}

Test(spotify, playlist_gives_its_first_page_of_tracks)
{
    au_spotify_playlist_t pl;
    PARSE(au_spotify_parse_playlist, SPOTIFY, "jmperez_playlist.json", &pl);
    STR_IS(pl.id, "4vHIKV7j4QcZwgzGQcZg1x");
    STR_IS(pl.name, "Mola");
    cr_assert_null(pl.snapshot_id);
    cr_assert_eq(pl.tracks.total, 30);
    cr_assert_eq(pl.tracks.limit, 100);
    cr_assert_eq(pl.tracks.offset, 0);
    cr_assert_null(pl.tracks.next);
    cr_assert_eq(pl.tracks.count, 30);
    cr_assert_eq(pl.tracks.skipped, 0);
    STR_IS(pl.tracks.tracks[0].name, "Copenhague");
    STR_IS(pl.tracks.tracks[0].artists[0].name, "Vetusta Morla");
    STR_IS(pl.tracks.tracks[0].isrc, "ES7140800277");
    cr_assert_eq(pl.tracks.tracks[15].nartists, 2);
    STR_IS(pl.tracks.tracks[15].artists[1].name, "Alejandro Sanz");
    STR_IS(pl.tracks.tracks[29].name, "Muy Bien");
    STR_IS(pl.tracks.tracks[29].id, "3x0AlDXIOFeqq5iu0psdib");
}

Test(spotify, shortened_playlist_says_more_than_it_holds)
{
    au_spotify_playlist_t pl;
    PARSE(au_spotify_parse_playlist, SPOTIFY, "swajava_GetPlaylistRequest.json",
          &pl);
    STR_IS(pl.id, "59ZbFPES4DQwEjBpWHzrtC");
    STR_IS(pl.name, "Dinner with Friends");
    STR_IS(pl.snapshot_id,
           "bNLWdmhh+HDsbHzhckXeDC0uyKyg4FjPI/KEsKjAE526usnz2LxwgyBoMShVL+z+");
    cr_assert_eq(pl.tracks.total, 105);
    cr_assert_eq(pl.tracks.count, 1);
    STR_IS(pl.tracks.next,
           "https://api.spotify.com/v1/users/spotify/playlists/"
           "59ZbFPES4DQwEjBpWHzrtC/tracks?offset=100&limit=100");
    STR_IS(pl.tracks.tracks[0].name, "I'm Not The Only One - Radio Edit");
    STR_IS(pl.tracks.tracks[0].artists[0].name, "Sam Smith");
    cr_assert_eq(pl.tracks.tracks[0].popularity, 45);
}

Test(spotify, playlist_items_skip_and_count_an_item_without_a_track)
{
    au_spotify_tracks_t l;
    PARSE(au_spotify_parse_playlist_items, SPOTIFY,
          "jmperez_playlist_tracks.json", &l);
    cr_assert_eq(l.total, 2, "shortened upstream: total 2, one item");
    cr_assert_eq(l.count, 1);
    cr_assert_eq(l.skipped, 0);
    STR_IS(l.tracks[0].name, "Naminanu - 2000 Digital Remaster");
    STR_IS(l.tracks[0].artists[0].name, "Genesis");
    STR_IS(l.tracks[0].isrc, "GBAAA0000806");

    PARSE(au_spotify_parse_playlist_items, SPOTIFY,
          "swajava_GetPlaylistsItemsRequest.json", &l);
    cr_assert_eq(l.total, 58);
    cr_assert_eq(l.limit, 100);
    cr_assert_eq(l.count, 1);
    cr_assert_eq(l.skipped, 1, "the second item has no track");
    STR_IS(l.tracks[0].name, "Otra Vez (feat. J Balvin)");
    STR_IS(l.tracks[0].artists[0].name, "Zion & Lennox");
    STR_IS(l.tracks[0].artists[1].name, "J Balvin");
    cr_assert_eq(l.tracks[0].popularity, 85);
}

Test(spotify, local_files_and_null_tracks_are_skipped_and_counted)
{
    au_spotify_tracks_t l;
    PARSE_STR(au_spotify_parse_playlist_items,
              "{\"total\":4,\"limit\":100,\"offset\":0,\"next\":null,"
              "\"items\":[{\"is_local\":true,\"track\":{\"id\":null,"
              "\"name\":\"home.mp3\",\"is_local\":true}},"
              "{\"is_local\":false,\"track\":null},null,"
              "{\"is_local\":false,\"track\":{\"id\":\"0eGsygTp906u18L0Oimnem"
              "\",\"name\":\"Mr. Brightside\",\"artists\":[{\"id\":null,"
              "\"name\":\"The Killers\"}],\"duration_ms\":222075}}]}",
              &l);
    cr_assert_eq(l.count, 1);
    cr_assert_eq(l.skipped, 3);
    STR_IS(l.tracks[0].name, "Mr. Brightside");
    cr_assert_null(l.tracks[0].album);
    cr_assert_null(l.tracks[0].artists[0].id);
    cr_assert_eq(l.tracks[0].popularity, -1);
    cr_assert_null(l.tracks[0].isrc);
}

Test(spotify, search_tracks_give_the_page_and_its_tracks)
{
    au_spotify_tracks_t l;
    PARSE(au_spotify_parse_search_tracks, SPOTIFY, "jmperez_search_track.json",
          &l);
    cr_assert_eq(l.total, 259);
    cr_assert_eq(l.limit, 20);
    cr_assert_eq(l.count, 20);
    STR_IS(l.next, "https://api.spotify.com/v1/search?query=gatan&offset=20&"
                   "limit=20&type=track");
    STR_IS(l.tracks[0].name, "Satan i gatan");
    STR_IS(l.tracks[0].artists[0].name, "Veronica Maggio");
    STR_IS(l.tracks[19].name, "Gatan Upp");

    PARSE(au_spotify_parse_search_tracks, SPOTIFY,
          "swajava_SearchTracksRequest.json", &l);
    cr_assert_eq(l.total, 11113);
    cr_assert_eq(l.offset, 5);
    cr_assert_eq(l.count, 10);
    STR_IS(l.tracks[0].name, "Supermassive Black Hole");
    STR_IS(l.tracks[0].isrc, "GBAHT0500593");
    cr_assert_eq(l.tracks[0].popularity, 71);
    STR_IS(l.tracks[9].name, "Sing About It");
}

Test(spotify, artists_give_genres_popularity_and_followers_when_sent)
{
    au_spotify_artist_t ar;
    PARSE(au_spotify_parse_artist, SPOTIFY, "jmperez_artist.json", &ar);
    STR_IS(ar.id, "0LcJLqbBmaGUft1e9Mm8HV");
    STR_IS(ar.name, "ABBA");
    cr_assert_eq(ar.ngenres, 12);
    STR_IS(ar.genres[0], "AM Pop");
    STR_IS(ar.genres[11], "Synth Pop");
    cr_assert_eq(ar.popularity, 66);
    cr_assert_eq(ar.followers, -1, "2014 payloads have no followers");

    PARSE(au_spotify_parse_artist, SPOTIFY, "swajava_GetArtistRequest.json",
          &ar);
    STR_IS(ar.name, "Band of Horses");
    STR_IS(ar.id, "0OdUWJ0sBjDrqHygGUXeCF");
    cr_assert_eq(ar.ngenres, 2);
    STR_IS(ar.genres[1], "indie pop");
    cr_assert_eq(ar.popularity, 59);
    cr_assert_eq(ar.followers, 306565);
}

Test(spotify, jmperez_artists_is_one_artist_not_a_list)
{
    au_spotify_artist_t ar;
    PARSE(au_spotify_parse_artist, SPOTIFY, "jmperez_artists.json", &ar);
    STR_IS(ar.name, "David Bowie");
    cr_assert_eq(ar.ngenres, 37);
    cr_assert_eq(ar.popularity, 77);
    size_t len;
    char *buf = load(SPOTIFY, "jmperez_artists.json", &len);
    expect_fail(any_au_spotify_parse_artists, buf, len, AU_EMISSING,
                "spotify: artists: required field missing");
    free(buf);
}

Test(spotify, several_and_related_artists_are_artist_lists)
{
    au_spotify_artists_t l;
    PARSE(au_spotify_parse_artists, SPOTIFY,
          "swajava_GetSeveralArtistsRequest.json", &l);
    cr_assert_eq(l.count, 2);
    STR_IS(l.artists[0].name, "David Bowie");
    cr_assert_eq(l.artists[0].followers, 633494);
    STR_IS(l.artists[1].name, "T. Rex");
    STR_IS(l.artists[1].id, "3dBVyJ7JuOMt4GE9607Qin");
    cr_assert_eq(l.artists[1].followers, 52338);

    PARSE(au_spotify_parse_artists, SPOTIFY,
          "jmperez_artist_related_artists.json", &l);
    cr_assert_eq(l.count, 20);
    STR_IS(l.artists[0].name, "Izal");
    cr_assert_eq(l.artists[0].ngenres, 0);
    cr_assert_null(l.artists[0].genres);
    STR_IS(l.artists[19].name, "Manolo Garcia");
    cr_assert_eq(l.artists[19].popularity, 38);
}

Test(spotify, search_artists_give_the_page_and_its_artists)
{
    au_spotify_artists_t l;
    PARSE(au_spotify_parse_search_artists, SPOTIFY,
          "jmperez_search_artist.json", &l);
    cr_assert_eq(l.total, 1);
    cr_assert_eq(l.limit, 20);
    cr_assert_eq(l.count, 1);
    cr_assert_null(l.next);
    STR_IS(l.artists[0].name, "Satan I Gatan");
    STR_IS(l.artists[0].id, "2Bw6FyyzgCc8OD7MX59TEQ");
}

Test(spotify, audio_features_give_the_four_scales_of_the_wire)
{
    static const char *const files[] = {
        "jmperez_track_audio_features.json",
        "swajava_GetAudioFeaturesForTrackRequest.json"};
    for (size_t i = 0; i < 2; i++) {
        au_spotify_features_t f;
        PARSE(au_spotify_parse_features, SPOTIFY, files[i], &f);
        STR_IS(f.id, "06AKEBrKUckW0KREUWRnvT");
        cr_assert_float_eq(f.danceability, 0.735, 1e-9);
        cr_assert_float_eq(f.energy, 0.578, 1e-9);
        cr_assert_float_eq(f.valence, 0.624, 1e-9);
        cr_assert_float_eq(f.tempo, 98.002, 1e-9);
    }
}

Test(spotify, several_audio_features_keep_order_and_skip_nulls)
{
    au_spotify_features_list_t l;
    PARSE(au_spotify_parse_features_list, SPOTIFY,
          "jmperez_tracks_audio_features.json", &l);
    cr_assert_eq(l.count, 1);
    STR_IS(l.features[0].id, "06AKEBrKUckW0KREUWRnvT");

    PARSE(au_spotify_parse_features_list, SPOTIFY,
          "swajava_GetAudioFeaturesForSeveralTracksRequest.json", &l);
    cr_assert_eq(l.count, 3);
    cr_assert_eq(l.skipped, 0);
    STR_IS(l.features[0].id, "4JpKVNYnVcJ8tuMKjAj50A");
    cr_assert_float_eq(l.features[0].danceability, 0.808, 1e-9);
    cr_assert_float_eq(l.features[0].tempo, 123.99, 1e-9);
    STR_IS(l.features[2].id, "24JygzOLM0EmRQeGtFcIcG");
    cr_assert_float_eq(l.features[2].valence, 0.0748, 1e-9);
    cr_assert_float_eq(l.features[2].tempo, 115.7, 1e-9);

    PARSE_STR(au_spotify_parse_features_list,
              "{\"audio_features\":[null,{\"id\":\"06AKEBrKUckW0KREUWRnvT\","
              "\"danceability\":1,\"energy\":0,\"valence\":0.5,\"tempo\":120}"
              ",null]}",
              &l);
    cr_assert_eq(l.count, 1);
    cr_assert_eq(l.skipped, 2);
    cr_assert_float_eq(l.features[0].danceability, 1.0, 1e-9);
    cr_assert_float_eq(l.features[0].tempo, 120.0, 1e-9);
}

/* ---- MusicBrainz -------------------------------------------------------- */

Test(musicbrainz, recording_lookup_gives_length_isrcs_and_credit)
{
    au_mb_recording_t r;
    PARSE(au_mb_parse_recording, MB, "picard_recording_lookup.json", &r);
    STR_IS(r.id, "cb2cc207-8125-445c-9ef9-6ea44eee959a");
    STR_IS(r.title, "Thinking Out Loud");
    cr_assert_eq(r.length_ms, 281000);
    cr_assert_eq(r.score, -1);
    STR_IS(r.first_release_date, "2014-06-20");
    cr_assert_eq(r.nisrcs, 1);
    STR_IS(r.isrcs[0], "GBAHS1400099");
    cr_assert_eq(r.ncredits, 1);
    STR_IS(r.credits[0].artist_id, ED_SHEERAN);
    STR_IS(r.credits[0].artist_name, "Ed Sheeran");
    STR_IS(r.credit, "Ed Sheeran");

    PARSE(au_mb_parse_recording, MB, "mbandroid_recording_lookup.json", &r);
    STR_IS(r.id, "11f3c37d-839f-4f65-87c1-d55cb416d0c5");
    STR_IS(r.title, "Plus Plus");
    cr_assert_eq(r.length_ms, 125400);
    cr_assert_eq(r.nisrcs, 0);
    cr_assert_null(r.first_release_date);
    STR_IS(r.credit, "Like a Tim");
    STR_IS(r.credits[0].artist_id, "90568a1e-ef8d-4d22-93fa-faadc819d576");
}

/* No ISRC lookup is among the fixtures (SOURCES.md, "gaps"): the genuine
 * recording lookup in the documented envelope, as the replay server
 * answers /ws/2/isrc/. */
Test(musicbrainz, an_isrc_lookup_gives_its_recordings)
{
    size_t len;
    char *rec = load(MB, "picard_recording_lookup.json", &len);
    json_t *r = json_loadb(rec, len, 0, NULL);
    free(rec);
    json_t *env =
        json_pack("{s:s,s:[o]}", "isrc", "GBAHS1400099", "recordings", r);
    char *body = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    cr_assert_not_null(body);
    au_mb_recordings_t s;
    au_error_t err = {0};
    int rc = au_mb_parse_isrc(body, strlen(body), g_a, &s, &err);
    free(body);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(s.n, 1);
    STR_IS(s.recordings[0].id, "cb2cc207-8125-445c-9ef9-6ea44eee959a");
    STR_IS(s.recordings[0].credits[0].artist_id, ED_SHEERAN);
    au_mb_recordings_t none;
    PARSE_STR(au_mb_parse_isrc, "{\"isrc\":\"GBAHS1400099\",\"recordings\":[]}",
              &none);
    cr_assert_eq(none.n, 0);
    const char *headless = "{\"recordings\":[]}";
    cr_assert_neq(
        au_mb_parse_isrc(headless, strlen(headless), g_a, &none, &err), 0,
        "an answer without its isrc is not an ISRC lookup");
}

Test(musicbrainz, three_artist_credit_joins_with_its_joinphrases)
{
    au_mb_recording_t r;
    PARSE(au_mb_parse_recording, MB,
          "picard_recording_multi_artists_1_lookup.json", &r);
    STR_IS(r.id, "7684982a-efee-49e5-baf0-82a466f12508");
    STR_IS(r.title, "1000 Nights");
    cr_assert_eq(r.length_ms, 212306);
    cr_assert_eq(r.nisrcs, 0);
    cr_assert_null(r.isrcs);
    cr_assert_eq(r.ncredits, 3);
    STR_IS(r.credits[0].joinphrase, " feat. ");
    STR_IS(r.credits[1].name, "Meek Mill");
    STR_IS(r.credits[1].artist_id, "31bcadcc-e1da-4cad-bec8-2f4f1d41b095");
    STR_IS(r.credits[2].joinphrase, "");
    STR_IS(r.credits[2].artist_id, "c1708d03-8a66-46eb-848e-fe0d233ffb39");
    STR_IS(r.credit, "Ed Sheeran feat. Meek Mill & A Boogie Wit da Hoodie");
}

Test(musicbrainz, artist_lookups_give_sort_name_country_and_life_span)
{
    static const char *const files[] = {
        "picard_artist_lookup.json",
        /* also has begin_area beside begin-area (older ws/2 JSON) */
        "mbandroid_artist_lookup_ed_sheeran.json"};
    for (size_t i = 0; i < 2; i++) {
        au_mb_artist_t ar;
        PARSE(au_mb_parse_artist, MB, files[i], &ar);
        STR_IS(ar.id, ED_SHEERAN);
        STR_IS(ar.name, "Ed Sheeran");
        STR_IS(ar.sort_name, "Sheeran, Ed");
        STR_IS(ar.country, "GB");
        STR_IS(ar.type, "Person");
        STR_IS(ar.begin, "1991-02-17");
        cr_assert_null(ar.end);
        cr_assert_not(ar.ended);
        cr_assert_eq(ar.score, -1);
    }
}

Test(musicbrainz, artist_search_gives_count_and_scored_artists)
{
    au_mb_artists_t s;
    PARSE(au_mb_parse_artist_search, MB, "artist_search_acdc_2021-03-20.json",
          &s);
    STR_IS(s.created, "2021-03-20T00:00:12.861Z");
    cr_assert_eq(s.count, 4);
    cr_assert_eq(s.offset, 0);
    cr_assert_eq(s.n, 4);
    STR_IS(s.artists[0].name, "DJ AC-DC");
    cr_assert_eq(s.artists[0].score, 100);
    cr_assert_null(s.artists[0].country);
    cr_assert_null(s.artists[0].type);
    STR_IS(s.artists[1].name, "AC/DC");
    STR_IS(s.artists[1].id, "66c662b6-6e2f-4930-8610-912e24c63ed1");
    STR_IS(s.artists[1].begin, "1973-11");
    STR_IS(s.artists[1].country, "AU");
    STR_IS(s.artists[3].name, "AC/DC UK");
    cr_assert_eq(s.artists[3].score, 79);

    PARSE(au_mb_parse_artist_search, MB, "artist_search_metal_2021-03-20.json",
          &s);
    cr_assert_eq(s.count, 20660, "count is all matches, not this page");
    cr_assert_eq(s.n, 25);
    STR_IS(s.artists[0].name, "Metal");
    STR_IS(s.artists[0].type, "Person");
    const au_mb_artist_t *last = &s.artists[24];
    STR_IS(last->name, "Scrap Metal");
    cr_assert_eq(last->score, 86);
    STR_IS(last->begin, "1983");
    STR_IS(last->end, "1995");
    cr_assert(last->ended);
}

/* No genuine recording search is among the fixtures (SOURCES.md, "gaps"):
 * this body follows the documented ws/2 search shape. */
Test(musicbrainz, recording_search_gives_scored_recordings)
{
    au_mb_recordings_t s;
    PARSE_STR(au_mb_parse_recording_search,
              "{\"created\":\"2024-01-01T00:00:00.000Z\",\"count\":2,"
              "\"offset\":0,\"recordings\":[{\"id\":\"cb2cc207-8125-445c-"
              "9ef9-6ea44eee959a\",\"score\":100,\"title\":\"Thinking Out "
              "Loud\",\"length\":281000,\"artist-credit\":[{\"name\":\"Ed "
              "Sheeran\",\"artist\":{\"id\":\"" ED_SHEERAN "\",\"name\":"
              "\"Ed Sheeran\"}}],\"first-release-date\":\"2014-06-20\","
              "\"isrcs\":[\"GBAHS1400099\"]},{\"id\":\"7684982a-efee-49e5-"
              "baf0-82a466f12508\",\"score\":\"61\",\"title\":\"1000 "
              "Nights\",\"length\":null}]}",
              &s);
    cr_assert_eq(s.count, 2);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.recordings[0].score, 100);
    STR_IS(s.recordings[0].credit, "Ed Sheeran");
    STR_IS(s.recordings[0].credits[0].joinphrase, "");
    cr_assert_eq(s.recordings[1].score, 61, "older search JSON: a string");
    cr_assert_eq(s.recordings[1].length_ms, -1);
    cr_assert_null(s.recordings[1].credit);
}

/* ---- damaged answers ---------------------------------------------------- */

/* Every fixture to every parser: each answer is either parsed or refused
 * with a code and a message, whatever shape it is. */
Test(damaged, every_fixture_to_every_parser_parses_or_fails_cleanly)
{
    static const char *const dirs[] = {LASTFM, SPOTIFY, MB};
    char cmd[4200];
    for (size_t d = 0; d < 3; d++) {
        snprintf(cmd, sizeof(cmd), "ls '%s/%s'", au_test_fixtures(), dirs[d]);
        FILE *ls = popen(cmd, "r");
        cr_assert_not_null(ls);
        char name[512];
        while (fgets(name, sizeof(name), ls)) {
            name[strcspn(name, "\n")] = '\0';
            if (!strstr(name, ".json"))
                continue;
            size_t len;
            char *buf = load(dirs[d], name, &len);
            for (size_t i = 0; i < sizeof(all_parsers) / sizeof(*all_parsers);
                 i++) {
                au_error_t err = {0};
                int rc = all_parsers[i](buf, len, g_a, &err);
                cr_assert(rc == 0 || (rc < 0 && err.code == rc && err.msg[0]),
                          "%s, parser %zu: %d without a message", name, i, rc);
            }
            free(buf);
            au_arena_reset(g_a);
        }
        pclose(ls);
    }
}

/* Cut on a character boundary, so that the cut is what is reported. */
static size_t utf8_floor(const char *s, size_t k)
{
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

Test(damaged, fixtures_cut_anywhere_are_truncated_at_their_length)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        size_t len;
        char *buf = load(kinds[i].dir, kinds[i].name, &len);
        const char *brace = strrchr(buf, '}');
        size_t end = (size_t)(brace - buf);
        size_t cuts[] = {0, 1, 2, end / 3, end / 2, end - 1, end};
        for (size_t c = 0; c < sizeof(cuts) / sizeof(*cuts); c++) {
            size_t k = utf8_floor(buf, cuts[c]);
            /* An exact-size copy, so ASan sees any read past the cut. */
            char *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            char at[32];
            snprintf(at, sizeof(at), "at byte %zu", k);
            expect_fail(kinds[i].fn, cut, k, AU_ETRUNCATED, at);
            free(cut);
        }
        free(buf);
    }
}

Test(damaged, fixtures_with_trailing_bytes_are_refused)
{
    size_t len;
    char *buf = load(SPOTIFY, "jmperez_track.json", &len);
    char *more = malloc(len + 2);
    memcpy(more, buf, len);
    memcpy(more + len, "{}", 2);
    expect_fail(any_au_spotify_parse_track, more, len + 2, AU_ETRAILING,
                "invalid JSON at byte");
    free(more);
    free(buf);
}

Test(damaged, a_number_string_that_is_no_number_names_path_and_value)
{
    expect_damaged(LASTFM, LF_CHART, any_au_lastfm_parse_top_tracks,
                   "\"playcount\":\"949175\"", "\"playcount\":\"abc\"",
                   AU_EPARSE,
                   "last.fm: tracks.track[0].playcount: \"abc\" is not a "
                   "decimal number");
    expect_damaged(LASTFM, LF_GEO, any_au_lastfm_parse_top_tracks,
                   "\"rank\":\"3\"", "\"rank\":\"3 \"", AU_EPARSE,
                   "tracks.track[3].@attr.rank: \"3 \"");
    expect_damaged(LASTFM, LF_TAG, any_au_lastfm_parse_top_tracks,
                   "\"total\":\"104399\"", "\"total\":\"-1\"", AU_EPARSE,
                   "tracks.@attr.total: \"-1\"");
    expect_damaged(LASTFM, LF_CHART, any_au_lastfm_parse_top_tracks,
                   "\"listeners\":\"67870\"",
                   "\"listeners\":\"99999999999999999999\"", AU_ERANGE,
                   "tracks.track[0].listeners: \"99999999999999999999\" is "
                   "too large");
}

Test(damaged, a_long_bad_value_is_cut_in_the_message)
{
    char body[2200];
    char junk[1100];
    memset(junk, 'x', sizeof(junk) - 1);
    junk[sizeof(junk) - 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"tracks\":{\"track\":[],\"@attr\":{\"page\":\"%s\"}}}", junk);
    expect_fail_str(any_au_lastfm_parse_top_tracks, body, AU_EPARSE,
                    "tracks.@attr.page: \"xxxxxxxx");
    au_error_t err;
    any_au_lastfm_parse_top_tracks(body, strlen(body), g_a, &err);
    cr_assert(strstr(err.msg, "...\" is not a decimal number"), "%s", err.msg);
}

Test(damaged, a_missing_required_field_is_named_by_its_path)
{
    expect_damaged(LASTFM, LF_CHART, any_au_lastfm_parse_top_tracks,
                   "\"name\":\"breathin\"", "\"title\":\"breathin\"",
                   AU_EMISSING,
                   "last.fm: tracks.track[5].name: required field missing");
    expect_damaged(SPOTIFY, "jmperez_track.json", any_au_spotify_parse_track,
                   "\"name\": \"Mr. Brightside\"", "\"nom\": \"x\"",
                   AU_EMISSING, "spotify: name: required field missing");
    expect_damaged(SPOTIFY, "swajava_SearchTracksRequest.json",
                   any_au_spotify_parse_search_tracks, "\"duration_ms\"",
                   "\"duration\"", AU_EMISSING,
                   "tracks.items[0].duration_ms: required field missing");
    expect_damaged(MB, "picard_recording_multi_artists_1_lookup.json",
                   any_au_mb_parse_recording, "\"name\": \"Meek Mill\"",
                   "\"name\": null", AU_EMISSING,
                   "musicbrainz: artist-credit[1].name: is null");
    expect_damaged(SPOTIFY,
                   "swajava_GetAudioFeaturesForSeveralTracksRequest"
                   ".json",
                   any_au_spotify_parse_features_list, "\"tempo\"", "\"tempi\"",
                   AU_EMISSING,
                   "audio_features[0].tempo: required field missing");
}

Test(damaged, a_field_of_the_wrong_type_is_named_with_both_types)
{
    expect_damaged(MB, "picard_recording_lookup.json",
                   any_au_mb_parse_recording, "\"length\": 281000",
                   "\"length\": \"281000\"", AU_ETYPE,
                   "musicbrainz: length: expected an integer, got a string");
    expect_damaged(SPOTIFY, "jmperez_playlist.json",
                   any_au_spotify_parse_playlist, "\"items\"",
                   "\"items\": 1,"
                   "\"x\"",
                   AU_ETYPE, "tracks.items: expected an array, got an integer");
    expect_damaged(LASTFM, LF_GEO, any_au_lastfm_parse_top_tracks,
                   "\"artist\":{\"name\":\"Radiohead\"",
                   "\"artist\":\"Radiohead\",\"x\":{\"name\":\"Radiohead\"",
                   AU_ETYPE,
                   "tracks.track[1].artist: expected an object, got a string");
    expect_damaged(SPOTIFY, "swajava_GetArtistRequest.json",
                   any_au_spotify_parse_artist, "\"indie pop\"", "7", AU_ETYPE,
                   "genres[1]: expected a string, got an integer");
    expect_damaged(SPOTIFY, "swajava_GetSeveralArtistsRequest.json",
                   any_au_spotify_parse_artists, "\"popularity\": 77",
                   "\"popularity\": 77.5", AU_ETYPE,
                   "artists[0].popularity: expected an integer, got a real");
}

Test(damaged, values_out_of_range_or_ids_of_the_wrong_form_are_refused)
{
    expect_damaged(SPOTIFY, "swajava_GetAudioFeaturesForTrackRequest.json",
                   any_au_spotify_parse_features, "\"danceability\": 0.735",
                   "\"danceability\": 1.5", AU_ERANGE,
                   "danceability: 1.5 is outside 0..1");
    expect_damaged(SPOTIFY, "swajava_GetTrackRequest.json",
                   any_au_spotify_parse_track, "\"popularity\": 73",
                   "\"popularity\": 101", AU_ERANGE,
                   "popularity: 101 is outside 0..100");
    expect_damaged(SPOTIFY, "jmperez_track.json", any_au_spotify_parse_track,
                   "\"id\": \"0eGsygTp906u18L0Oimnem\"",
                   "\"id\": \"../../me/player\"", AU_ERANGE,
                   "id: \"../../me/player\" is not a Spotify id");
    expect_damaged(MB, "picard_artist_lookup.json", any_au_mb_parse_artist,
                   "\"id\": \"" ED_SHEERAN "\"", "\"id\": \"ed-sheeran\"",
                   AU_ERANGE, "id: \"ed-sheeran\" is not a MusicBrainz id");
    expect_damaged(LASTFM, LF_TAG, any_au_lastfm_parse_top_tracks,
                   "\"name\":\"Stronger\"", "\"name\":\"\"", AU_ERANGE,
                   "tracks.track[0].name: must not be empty");
}

Test(damaged, error_answers_of_each_service_are_service_errors)
{
    expect_fail_str(any_au_lastfm_parse_top_tracks,
                    "{\"error\":6,\"message\":\"country param invalid\","
                    "\"links\":[]}",
                    AU_ESERVICE, "last.fm error 6: country param invalid");
    expect_fail_str(any_au_spotify_parse_track,
                    "{\"error\":{\"status\":404,\"message\":\"non existing "
                    "id\"}}",
                    AU_ESERVICE, "spotify error 404: non existing id");
    expect_fail_str(any_au_spotify_parse_token,
                    "{\"error\":\"invalid_client\",\"error_description\":"
                    "\"Invalid client secret\"}",
                    AU_ESERVICE,
                    "spotify error invalid_client: Invalid client secret");
    expect_fail_str(any_au_mb_parse_recording,
                    "{\"error\":\"Not Found\",\"help\":\"For usage, please "
                    "see: https://musicbrainz.org/development/mmd\"}",
                    AU_ESERVICE, "musicbrainz error: Not Found");
}

/* jansson counts positions from 1, like lines and columns. */
Test(damaged, an_html_page_is_not_json_at_its_first_byte)
{
    const char *html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway"
                       "</title></head><body></body></html>\n";
    for (size_t i = 0; i < sizeof(all_parsers) / sizeof(*all_parsers); i++)
        expect_fail_str(all_parsers[i], html, AU_EPARSE,
                        "invalid JSON at byte 1 (line 1, column 1)");
    expect_fail_str(any_au_mb_parse_artist, html, AU_EPARSE, "HTML page");
}

Test(damaged, malformed_json_is_named_by_its_byte_offset)
{
    expect_fail_str(any_au_spotify_parse_track, "{\"id\": tru}", AU_EPARSE,
                    "invalid JSON at byte");
    expect_fail_str(any_au_mb_parse_artist, "{\"id\":\"a\",\"id\":\"b\"}",
                    AU_EPARSE, "duplicate");
    expect_fail_str(any_au_mb_parse_artist, "{\"name\":\"a\\u0000b\"}",
                    AU_EPARSE, "invalid JSON");
    expect_fail_str(any_au_mb_parse_artist, "{\"name\":\"\xff\"}", AU_EUTF8,
                    "invalid JSON at byte");
    expect_fail_str(any_au_spotify_parse_track, "[]", AU_ETYPE,
                    "spotify: response: expected an object, got an array");
}

Test(damaged, nesting_past_the_parser_depth_is_refused)
{
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    expect_fail(any_au_spotify_parse_tracks, deep, 2 * depth, AU_ENESTING,
                "invalid JSON");
    free(deep);
}

Test(damaged, oversize_strings_arrays_and_bodies_are_refused)
{
    size_t n = AU_SVC_MAX_STR + 1;
    char *body = malloc(n + 64);
    int k = snprintf(body, n + 64, "{\"access_token\":\"");
    memset(body + k, 'a', n);
    snprintf(body + k + n, 64, "\",\"token_type\":\"B\",\"expires_in\":1}");
    expect_fail_str(any_au_spotify_parse_token, body, AU_ETOOBIG,
                    "access_token: string of 1025 bytes exceeds the limit");
    body[k + n - 1] = '"';
    body[k + n] = ' ';
    au_spotify_token_t tok;
    PARSE_STR(au_spotify_parse_token, body, &tok);
    cr_assert_eq(strlen(tok.access_token), AU_SVC_MAX_STR);
    free(body);

    size_t items = AU_SVC_MAX_ITEMS + 1;
    char *arr = malloc(items * 5 + 32);
    size_t at = (size_t)snprintf(arr, 32, "{\"tracks\":[");
    for (size_t i = 0; i < items; i++) {
        memcpy(arr + at, "null,", 5);
        at += 5;
    }
    memcpy(arr + at - 1, "]}", 3);
    expect_fail_str(any_au_spotify_parse_tracks, arr, AU_ETOOBIG,
                    "tracks: 10001 items exceed the limit of 10000");
    free(arr);

    size_t big = AU_SVC_MAX_BODY + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    expect_fail(any_au_spotify_parse_track, huge, big, AU_ETOOBIG,
                "exceeds the limit");
    free(huge);
}

Test(damaged, null_arguments_are_refused)
{
    au_error_t err;
    au_spotify_track_t t;
    cr_assert_eq(au_spotify_parse_track(NULL, 0, g_a, &t, &err), AU_EINVAL);
    cr_assert_eq(au_spotify_parse_track("{}", 2, NULL, &t, &err), AU_EINVAL);
    cr_assert_eq(au_spotify_parse_track("{}", 2, g_a, NULL, &err), AU_EINVAL);
    cr_assert_eq(au_spotify_parse_track("{}", 2, g_a, &t, NULL), AU_EMISSING,
                 "a NULL err is allowed");
}
