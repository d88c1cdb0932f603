/* The replay server (workers/replay/au_replay.h): each test starts one in
 * this process on a free port and talks to it with libcurl, as a client
 * of the real services would. Expected answers are the fixture files
 * themselves, read here byte for byte. */
#include "au_replay.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static au_replay_t *srv;
static char bearer[128]; /* "Authorization: Bearer <token>" */

static au_replay_t *start(int latency_ms)
{
    au_replay_opts_t o = {.fixtures = au_test_fixtures(),
                          .latency_ms = latency_ms};
    au_error_t err = {0};
    au_replay_t *r = au_replay_new(&o, &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_gt(au_replay_port(r), 0);
    return r;
}

static void setup(void)
{
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    srv = start(0);
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
             au_replay_token(srv));
}

static void teardown(void)
{
    au_replay_destroy(&srv);
    curl_global_cleanup();
}

TestSuite(replay, .init = setup, .fini = teardown);

/* ---- a small client ---- */

typedef struct {
    const char *method; /* NULL: GET */
    const char *body;   /* sent as is (POST by default) */
    const char *userpwd;
    const char *headers[4];
    long timeout_ms;     /* 0: 10 s */
    au_replay_t *server; /* NULL: srv */
} req_t;

typedef struct {
    CURLcode rc;
    long status;
    char *body; /* never NULL */
    size_t len;
    char ctype[128];
    char retry_after[128];
    double ttfb, total; /* seconds to the first byte, to the end */
    curl_off_t clen;    /* Content-Length, -1 when none */
} resp_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    resp_t *r = arg;
    size_t n = size * nmemb;
    char *p = realloc(r->body, r->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + r->len, data, n);
    r->len += n;
    p[r->len] = '\0';
    r->body = p;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    resp_t *r = arg;
    size_t n = size * nmemb, k = strlen("Retry-After:");
    if (n > k && strncasecmp(data, "Retry-After:", k) == 0) {
        size_t a = k, b = n;
        while (a < b && data[a] == ' ')
            a++;
        while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n'))
            b--;
        snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)(b - a),
                 data + a);
    }
    return n;
}

static void set_method(CURL *c, const req_t *q)
{
    const char *m = q->method ? q->method : q->body ? "POST" : "GET";
    if (q->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    }
    if (strcmp(m, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
}

/* One request on a fresh connection (so that a reset is never retried by
 * curl on a reused one). */
static resp_t call(const char *path, const req_t *q)
{
    static const req_t none = {0};
    q = q ? q : &none;
    resp_t r = {.body = calloc(1, 1)};
    char url[8192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s",
             au_replay_port(q->server ? q->server : srv), path);
    CURL *c = curl_easy_init();
    cr_assert(c && r.body);
    struct curl_slist *h = NULL;
    for (int i = 0; i < 4 && q->headers[i]; i++)
        h = curl_slist_append(h, q->headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     q->timeout_ms ? q->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (q->userpwd)
        curl_easy_setopt(c, CURLOPT_USERPWD, q->userpwd);
    set_method(c, q);
    r.rc = curl_easy_perform(c);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r.ttfb);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.total);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r.clen);
    snprintf(r.ctype, sizeof(r.ctype), "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

/* A GET as an authorised client of every service. */
static resp_t get(const char *path)
{
    req_t q = {.headers = {bearer, "User-Agent: audora-test/1.0"}};
    return call(path, &q);
}

static void expect(const resp_t *r, long status, const char *body)
{
    cr_assert_eq(r->rc, CURLE_OK, "%s", curl_easy_strerror(r->rc));
    cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
    if (body)
        cr_assert_str_eq(r->body, body);
}

static char *fixture(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", au_test_fixtures(), rel);
    return au_test_read_file(path, len);
}

static void fault(const char *rules)
{
    resp_t r = call("/_faults", &(req_t){.body = rules});
    expect(&r, 200, NULL);
    free(r.body);
}

static json_t *stats(void)
{
    resp_t r = call("/_stats", NULL);
    expect(&r, 200, NULL);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, r.body);
    free(r.body);
    return j;
}

/* stats()[group][name][field], e.g. ("routes", "spotify/track", ...). */
static long long stat_of(json_t *s, const char *group, const char *name,
                         const char *field)
{
    json_t *v = json_object_get(
        json_object_get(json_object_get(s, group), name), field);
    cr_assert(json_is_integer(v), "no %s.%s.%s", group, name, field);
    return json_integer_value(v);
}

/* ---- routes ---- */

static const struct {
    const char *path, *file;
} replays[] = {
#define LFM "/lastfm/2.0/?api_key=k&method="
    {LFM "chart.getTopTracks&limit=10&page=2",
     "lastfm/chart.getTopTracks_limit10_page2_2018-11-10.json"},
    {LFM "chart.gettopartists",
     "lastfm/chart.getTopArtists_limit10_page2_2018-11-10.json"},
    {LFM "chart.getTopArtists&limit=5",
     "lastfm/chart.getTopArtists_limit5_2023.json"},
    {LFM "chart.getTopArtists&limit=50",
     "lastfm/chart.getTopArtists_limit10_page2_2018-11-10.json"},
    {LFM "geo.getTopTracks&country=greece",
     "lastfm/geo.getTopTracks_greece_limit10_2018-11-10.json"},
    {LFM "geo.getTopArtists&country=Australia",
     "lastfm/geo.getTopArtists_australia_limit5_2023.json"},
    {LFM "geo.getTopArtists&country=greece",
     "lastfm/geo.getTopArtists_greece_limit10_2018-11-10.json"},
    {LFM "geo.getTopArtists&country=peru",
     "lastfm/geo.getTopArtists_greece_limit10_2018-11-10.json"},
    {LFM "tag.getTopTracks&tag=rap",
     "lastfm/tag.getTopTracks_rap_limit2_2018-11-10.json"},
    {LFM "track.getInfo&artist=AC%20%2F%20DC&track=Hells+Bell",
     "lastfm/track.getInfo_acdc_hellsbells_REDACTED_mbids_images.json"},
    {LFM "track.getInfo&artist=The+Cure&track=Plainsong",
     "lastfm/track.getInfo_thecure_plainsong_with_username.json"},
    {LFM "track.getInfo&artist=x&track=y&username=rj",
     "lastfm/track.getInfo_thecure_plainsong_with_username.json"},
    {"/lastfm/2.0?method=artist.getInfo&artist=Guns+N%27+Roses&api_key=k",
     "lastfm/artist.getInfo_gunsnroses_REDACTED_mbids_images.json"},
    {LFM "artist.getInfo&artist=Frightened%20Rabbit",
     "lastfm/artist.getInfo_frightenedrabbit_legacy_2014.json"},
#undef LFM
#define SP "/spotify/v1/"
    {SP "playlists/59ZbFPES4DQwEjBpWHzrtC",
     "spotify_api/swajava_GetPlaylistRequest.json"},
    {SP "playlists/4vHIKV7j4QcZwgzGQcZg1x",
     "spotify_api/jmperez_playlist.json"},
    {SP "playlists/21THa8j9TaSGuXYNBU5tsC/tracks?limit=2",
     "spotify_api/swajava_GetPlaylistsItemsRequest.json"},
    {SP "playlists/0EIVqzEcrY2a8vO0AUJar2/tracks",
     "spotify_api/jmperez_playlist_tracks.json"},
    {SP "tracks/3n3Ppam7vgaVa1iaRUc9Lp",
     "spotify_api/swajava_GetTrackRequest.json"},
    {SP "tracks/0eGsygTp906u18L0Oimnem/", "spotify_api/jmperez_track.json"},
    {SP "tracks?ids=3n3Ppam7vgaVa1iaRUc9Lp,3twNvmDtFQtAd5gMKedhLD",
     "spotify_api/swajava_GetSeveralTracksRequest.json"},
    {SP "tracks?ids=0eGsygTp906u18L0Oimnem,1lDWb6b6ieDQ2xT7ewTC3G",
     "spotify_api/jmperez_tracks.json"},
    {SP "artists/0OdUWJ0sBjDrqHygGUXeCF",
     "spotify_api/swajava_GetArtistRequest.json"},
    {SP "artists/0LcJLqbBmaGUft1e9Mm8HV", "spotify_api/jmperez_artist.json"},
    {SP "artists/0oSGxfWSnnOXhD2fKuz2Gy", "spotify_api/jmperez_artists.json"},
    {SP "artists?ids=0oSGxfWSnnOXhD2fKuz2Gy,3dBVyJ7JuOMt4GE9607Qin",
     "spotify_api/swajava_GetSeveralArtistsRequest.json"},
    {SP "artists/0OdUWJ0sBjDrqHygGUXeCF/top-tracks?country=SE",
     "spotify_api/swajava_GetArtistsTopTracksRequest.json"},
    {SP "artists/0OdUWJ0sBjDrqHygGUXeCF/related-artists",
     "spotify_api/jmperez_artist_related_artists.json"},
    {SP "audio-features/06AKEBrKUckW0KREUWRnvT",
     "spotify_api/swajava_GetAudioFeaturesForTrackRequest.json"},
    {SP "audio-features?ids=4JpKVNYnVcJ8tuMKjAj50A,2NRANZE9UCmPAS5XVbXL40",
     "spotify_api/swajava_GetAudioFeaturesForSeveralTracksRequest.json"},
    {SP "audio-features?ids=06AKEBrKUckW0KREUWRnvT",
     "spotify_api/jmperez_tracks_audio_features.json"},
    {SP "search?q=Muse&type=track&market=US&offset=5&limit=10",
     "spotify_api/swajava_SearchTracksRequest.json"},
    {SP "search?q=gatan&type=artist", "spotify_api/jmperez_search_artist.json"},
    {SP "search?q=gatan&type=track", "spotify_api/jmperez_search_track.json"},
    {SP "albums/0sNOF9WDwhWunNAHPD3Baj", "spotify_api/jmperez_album.json"},
    {SP "albums/0sNOF9WDwhWunNAHPD3Baj/tracks",
     "spotify_api/jmperez_album_tracks.json"},
    {SP "recommendations?seed_artists=4NHQUGzhtTLFvgF5SZesLK",
     "spotify_api/swajava_GetRecommendationsRequest.json"},
    {SP "browse/new-releases", "spotify_api/jmperez_new_releases.json"},
#undef SP
#define MB "/musicbrainz/ws/2/"
    {MB "recording/cb2cc207-8125-445c-9ef9-6ea44eee959a?fmt=json",
     "musicbrainz/picard_recording_lookup.json"},
    {MB "recording/11f3c37d-839f-4f65-87c1-d55cb416d0c5?inc=releases",
     "musicbrainz/mbandroid_recording_lookup.json"},
    {MB "recording/7684982a-efee-49e5-baf0-82a466f12508",
     "musicbrainz/picard_recording_multi_artists_1_lookup.json"},
    {MB "artist/b8a7c51f-362c-4dcb-a259-bc6e0095f0a6?inc=aliases",
     "musicbrainz/picard_artist_lookup.json"},
    {MB "artist/b8a7c51f-362c-4dcb-a259-bc6e0095f0a6?inc=url-rels+releases",
     "musicbrainz/mbandroid_artist_lookup_ed_sheeran.json"},
    {MB "artist?query=metal&fmt=json",
     "musicbrainz/artist_search_metal_2021-03-20.json"},
    {MB "artist?query=artist:acdc",
     "musicbrainz/artist_search_acdc_2021-03-20.json"},
    {MB "release/b84ee12a-09ef-421b-82de-0441a926375b",
     "musicbrainz/picard_release_lookup.json"},
    {MB "release/94ad3a58-a1cc-46a3-acf4-9cb6c1d6f032",
     "musicbrainz/mbandroid_release_lookup.json"},
    {MB "release-group/f5093c06-23e3-404f-aeaa-40f72885ee3a",
     "musicbrainz/picard_release_group_lookup.json"},
    {MB "release-group/05ce100c-eddf-4967-8d7e-33fc0883fe39",
     "musicbrainz/mbandroid_release-group_lookup.json"},
    {MB "release?query=artist:%22Rory%20Gallagher%22",
     "musicbrainz/release_search_rory_gallagher_2021-03-21.json"},
#undef MB
};

Test(replay, every_route_answers_its_fixture_bytes_as_json)
{
    for (size_t i = 0; i < sizeof(replays) / sizeof(replays[0]); i++) {
        size_t len;
        char *want = fixture(replays[i].file, &len);
        resp_t r = get(replays[i].path);
        expect(&r, 200, NULL);
        cr_assert_str_eq(r.ctype, "application/json", "%s", replays[i].path);
        cr_assert(r.len == len && memcmp(r.body, want, len) == 0,
                  "%s: not the bytes of %s", replays[i].path, replays[i].file);
        free(r.body);
        free(want);
    }
}

Test(replay, head_answers_like_get_without_the_body)
{
    size_t len;
    free(fixture("spotify_api/swajava_GetTrackRequest.json", &len));
    req_t q = {.method = "HEAD", .headers = {bearer}};
    resp_t r = call("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp", &q);
    expect(&r, 200, "");
    cr_assert_eq(r.clen, (curl_off_t)len);
    free(r.body);
}

Test(replay, recording_search_says_no_genuine_answer_is_stored)
{
    resp_t r = get("/musicbrainz/ws/2/recording?query=isrc:GBAHS1400099");
    expect(&r, 501, NULL);
    cr_assert(strstr(r.body, "musicbrainz/recording-search"), "%s", r.body);
    free(r.body);
}

/* ---- who may ask ---- */

Test(replay, lastfm_without_api_key_is_403_error_10)
{
    static const char want[] = "{\"error\":10,\"message\":\"Invalid API key - "
                               "You must be granted a valid key by last.fm\"}";
    const char *paths[] = {"/lastfm/2.0/?method=chart.getTopTracks",
                           "/lastfm/2.0/?method=chart.getTopTracks&api_key=",
                           "/lastfm/2.0/?method=user.getInfo"};
    for (size_t i = 0; i < 3; i++) {
        resp_t r = get(paths[i]);
        expect(&r, 403, want);
        cr_assert_str_eq(r.ctype, "application/json");
        free(r.body);
    }
}

Test(replay, spotify_token_is_issued_for_client_credentials_and_works)
{
    req_t q = {.body = "grant_type=client_credentials",
               .userpwd = AU_REPLAY_CLIENT_ID ":" AU_REPLAY_CLIENT_SECRET};
    resp_t r = call("/spotify/api/token", &q);
    expect(&r, 200, NULL);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "%s", r.body);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    cr_assert_str_eq(tok, au_replay_token(srv));
    cr_assert_str_eq(json_string_value(json_object_get(j, "token_type")),
                     "Bearer");
    cr_assert_eq(json_integer_value(json_object_get(j, "expires_in")), 3600);
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
    resp_t t = call("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp",
                    &(req_t){.headers = {auth}});
    expect(&t, 200, NULL);
    json_decref(j);
    free(r.body);
    free(t.body);
}

Test(replay, spotify_token_refuses_a_wrong_client_or_grant)
{
    static const char *const pwd[] = {NULL, "audora-replay:wrong",
                                      "someone:" AU_REPLAY_CLIENT_SECRET};
    for (int i = 0; i < 3; i++) {
        req_t q = {.body = "grant_type=client_credentials", .userpwd = pwd[i]};
        resp_t r = call("/spotify/api/token", &q);
        expect(&r, 400, "{\"error\":\"invalid_client\"}");
        free(r.body);
    }
    req_t q = {.body = "grant_type=authorization_code&code=x",
               .userpwd = AU_REPLAY_CLIENT_ID ":" AU_REPLAY_CLIENT_SECRET};
    resp_t r = call("/spotify/api/token", &q);
    expect(&r, 400, "{\"error\":\"unsupported_grant_type\"}");
    free(r.body);
    resp_t g = call("/spotify/api/token", NULL);
    expect(&g, 405, NULL);
    free(g.body);
}

Test(replay, spotify_v1_needs_the_issued_bearer_token)
{
    resp_t r = call("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp", NULL);
    expect(&r, 401,
           "{\"error\":{\"status\":401,\"message\":\"No token "
           "provided\"}}");
    free(r.body);
    req_t q = {.headers = {"Authorization: Bearer not-the-token"}};
    r = call("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp", &q);
    expect(&r, 401,
           "{\"error\":{\"status\":401,\"message\":\"Invalid access "
           "token\"}}");
    free(r.body);
}

Test(replay, musicbrainz_blocks_requests_without_user_agent)
{
    const char *path = "/musicbrainz/ws/2/artist/"
                       "b8a7c51f-362c-4dcb-a259-bc6e0095f0a6";
    resp_t r = call(path, NULL); /* libcurl sends no User-Agent itself */
    expect(&r, 403, NULL);
    free(r.body);
    r = call(path, &(req_t){.headers = {"User-Agent:"}});
    expect(&r, 403, NULL);
    free(r.body);
}

Test(replay, unknown_route_is_404_naming_the_path)
{
    resp_t r = get("/nowhere/at/all");
    expect(&r, 404,
           "{\"error\":\"no such route\",\"path\":\"/nowhere/at/"
           "all\"}");
    free(r.body);
    r = get("/spotify/v1/me");
    expect(&r, 404,
           "{\"error\":\"no such route\",\"path\":\"/spotify/v1/"
           "me\"}");
    free(r.body);
    r = get("/lastfm/2.0/?method=user.getInfo&api_key=k");
    expect(&r, 404,
           "{\"error\":\"no such route\",\"path\":\"/lastfm/2.0/\","
           "\"method\":\"user.getInfo\"}");
    free(r.body);
    r = get("/spotify/v1/tracks"); /* the batch route needs ids= */
    expect(&r, 404, NULL);
    free(r.body);
    req_t q = {.method = "DELETE", .headers = {bearer}};
    r = call("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp", &q);
    expect(&r, 405, NULL);
    free(r.body);
}

Test(replay, odd_urls_and_queries_get_an_answer)
{
    static char longpath[6000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    const char *odd[] = {"/",
                         "//",
                         "/lastfm",
                         "/lastfm/",
                         "/spotify/v1/tracks/",
                         "/spotify/v1//tracks",
                         "/%00",
                         "/%zz",
                         "/%ff%fe",
                         "/musicbrainz/../",
                         "/musicbrainz/ws/2/artist/%2F%2F",
                         "/lastfm/2.0/?&&==&method&api_key",
                         "/lastfm/2.0/?method=%00&api_key=%ff",
                         "/spotify/v1/search?q=%",
                         "/_faults/",
                         "/_stats/x",
                         longpath};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        resp_t r = get(odd[i]);
        cr_assert_eq(r.rc, CURLE_OK, "%.60s: %s", odd[i],
                     curl_easy_strerror(r.rc));
        cr_assert(r.status >= 200 && r.status < 600, "%.60s", odd[i]);
        free(r.body);
    }
    json_decref(stats()); /* still serving */
}

Test(replay, a_body_over_the_cap_is_413)
{
    char *big = malloc(AU_REPLAY_MAX_BODY + 100);
    cr_assert_not_null(big);
    memset(big, 'x', AU_REPLAY_MAX_BODY + 99);
    big[AU_REPLAY_MAX_BODY + 99] = '\0';
    resp_t r = call("/_faults", &(req_t){.body = big});
    expect(&r, 413, NULL);
    free(r.body);
    free(big);
}

/* ---- faults ---- */

Test(replay, fault_429_has_retry_after_seconds_and_comes_before_auth)
{
    fault("route=lastfm fault=429 retry_after=7");
    resp_t r = call("/lastfm/2.0/?method=chart.getTopTracks", NULL);
    expect(&r, 429, NULL);
    cr_assert_str_eq(r.retry_after, "7");
    cr_assert(strstr(r.body, "\"error\":29"), "%s", r.body);
    free(r.body);
    fault("route=spotify/track fault=429");
    r = get("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp");
    expect(&r, 429, NULL);
    cr_assert_str_eq(r.retry_after, "1");
    cr_assert(strstr(r.body, "\"status\":429"), "%s", r.body);
    free(r.body);
}

Test(replay, fault_429_retry_after_can_be_an_http_date)
{
    fault("route=musicbrainz fault=429 retry_after=120 retry_after_form=date");
    time_t now = time(NULL);
    resp_t r = get("/musicbrainz/ws/2/release/x");
    expect(&r, 429, NULL);
    cr_assert(strstr(r.retry_after, " GMT"), "%s", r.retry_after);
    time_t when = curl_getdate(r.retry_after, NULL);
    cr_assert(when >= now + 115 && when <= now + 125, "%s", r.retry_after);
    free(r.body);
}

Test(replay, fault_503_and_500_take_the_service_error_shape)
{
    fault("route=lastfm fault=503\nroute=musicbrainz fault=500\n"
          "route=/spotify/v1 fault=503 retry_after=30");
    resp_t r = get("/lastfm/2.0/?method=tag.getTopTracks&api_key=k");
    expect(&r, 503, NULL);
    cr_assert(strstr(r.body, "\"error\":16"), "%s", r.body);
    cr_assert_str_eq(r.retry_after, "");
    free(r.body);
    r = get("/musicbrainz/ws/2/release/x");
    expect(&r, 500, "{\"error\":\"Internal Server Error\"}");
    free(r.body);
    r = get("/spotify/v1/artists/0OdUWJ0sBjDrqHygGUXeCF");
    expect(&r, 503, NULL);
    cr_assert_str_eq(r.retry_after, "30");
    cr_assert(strstr(r.body, "\"status\":503"), "%s", r.body);
    free(r.body);
}

Test(replay, fault_401_is_an_expired_credential_in_the_service_shape)
{
    fault("route=spotify/tracks fault=401 count=1\nroute=lastfm fault=401");
    resp_t r = get("/spotify/v1/tracks?ids=3n3Ppam7vgaVa1iaRUc9Lp");
    expect(&r, 401,
           "{\"error\":{\"status\":401,\"message\":\"The access "
           "token expired\"}}");
    free(r.body);
    r = get("/spotify/v1/tracks?ids=3n3Ppam7vgaVa1iaRUc9Lp");
    expect(&r, 200, NULL);
    free(r.body);
    r = get("/lastfm/2.0/?method=tag.getTopTracks&api_key=k");
    expect(&r, 401, NULL);
    cr_assert(strstr(r.body, "\"error\":9"), "%s", r.body);
    free(r.body);
}

Test(replay, fault_slow_outlasts_a_client_timeout_then_answers_in_full)
{
    fault("route=musicbrainz/release fault=slow delay_ms=600 count=2");
    const char *path = "/musicbrainz/ws/2/release/"
                       "b84ee12a-09ef-421b-82de-0441a926375b";
    req_t q = {.headers = {"User-Agent: t"}, .timeout_ms = 200};
    resp_t r = call(path, &q);
    cr_assert_eq(r.rc, CURLE_OPERATION_TIMEDOUT, "%s",
                 curl_easy_strerror(r.rc));
    free(r.body);
    size_t len;
    char *want = fixture("musicbrainz/picard_release_lookup.json", &len);
    r = get(path);
    expect(&r, 200, want);
    /* The status line came at once; the body waited. */
    cr_assert_lt(r.ttfb, 0.5);
    cr_assert_geq(r.total, 0.6);
    free(r.body);
    free(want);
}

Test(replay, fault_reset_closes_the_connection_without_an_answer)
{
    fault("route=spotify/token fault=reset count=1");
    req_t q = {.body = "grant_type=client_credentials",
               .userpwd = AU_REPLAY_CLIENT_ID ":" AU_REPLAY_CLIENT_SECRET};
    resp_t r = call("/spotify/api/token", &q);
    cr_assert_neq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 0);
    free(r.body);
    r = call("/spotify/api/token", &q);
    expect(&r, 200, NULL);
    free(r.body);
}

Test(replay, fault_truncated_sends_half_the_body_with_200)
{
    size_t len;
    char *want = fixture(
        "lastfm/chart.getTopTracks_limit10_page2_2018-11-10.json", &len);
    fault("route=lastfm/chart.getTopTracks fault=truncated");
    resp_t r = get("/lastfm/2.0/?method=chart.getTopTracks&api_key=k");
    expect(&r, 200, NULL);
    cr_assert_eq(r.len, len / 2);
    cr_assert_eq(memcmp(r.body, want, len / 2), 0);
    cr_assert_null(json_loadb(r.body, r.len, 0, NULL));
    free(r.body);
    free(want);
}

Test(replay, fault_wrong_type_sends_the_body_as_text_plain)
{
    size_t len;
    char *want = fixture("spotify_api/jmperez_album.json", &len);
    fault("route=spotify/album fault=wrong_type");
    resp_t r = get("/spotify/v1/albums/0sNOF9WDwhWunNAHPD3Baj");
    expect(&r, 200, want);
    cr_assert_str_eq(r.ctype, "text/plain");
    free(r.body);
    free(want);
}

Test(replay, fault_html200_sends_an_html_page_with_200)
{
    fault("route=/musicbrainz/ws/2 fault=html200");
    resp_t r = get("/musicbrainz/ws/2/artist?query=metal");
    expect(&r, 200, NULL);
    cr_assert(strncmp(r.ctype, "text/html", 9) == 0, "%s", r.ctype);
    cr_assert(strncmp(r.body, "<!DOCTYPE html>", 15) == 0, "%s", r.body);
    free(r.body);
}

Test(replay, latency_ms_delays_the_answers_of_its_route)
{
    fault("route=/spotify/v1/tracks latency_ms=300");
    resp_t r = get("/spotify/v1/tracks?ids=3n3Ppam7vgaVa1iaRUc9Lp");
    expect(&r, 200, NULL);
    cr_assert_geq(r.ttfb, 0.3);
    free(r.body);
}

Test(replay, server_latency_delays_every_replayed_answer)
{
    au_replay_t *slow = start(250);
    resp_t r = call("/nowhere", &(req_t){.server = slow});
    expect(&r, 404, NULL);
    cr_assert_geq(r.ttfb, 0.25);
    free(r.body);
    au_replay_destroy(&slow);
}

Test(replay, count_n_applies_to_the_next_n_requests_only)
{
    fault("route=lastfm fault=503 count=2");
    const char *path = "/lastfm/2.0/?method=geo.getTopTracks&api_key=k";
    long want[] = {503, 503, 200, 200};
    for (int i = 0; i < 4; i++) {
        resp_t r = get(path);
        expect(&r, want[i], NULL);
        free(r.body);
    }
    resp_t l = call("/_faults", NULL);
    expect(&l, 200, "[]");
    free(l.body);
}

Test(replay, delete_faults_clears_them)
{
    fault("route=spotify fault=500\nroute=lastfm fault=500");
    resp_t r = call("/_faults?route=spotify", &(req_t){.method = "DELETE"});
    expect(&r, 200, "{\"cleared\":1}");
    free(r.body);
    r = get("/spotify/v1/albums/0sNOF9WDwhWunNAHPD3Baj");
    expect(&r, 200, NULL);
    free(r.body);
    r = call("/_faults", &(req_t){.method = "DELETE"});
    expect(&r, 200, "{\"cleared\":1}");
    free(r.body);
    r = get("/lastfm/2.0/?method=geo.getTopTracks&api_key=k");
    expect(&r, 200, NULL);
    free(r.body);
}

Test(replay, the_newest_rule_wins_so_a_narrow_one_carves_an_exception)
{
    fault("route=spotify fault=503");
    fault("route=spotify/token fault=none");
    req_t q = {.body = "grant_type=client_credentials",
               .userpwd = AU_REPLAY_CLIENT_ID ":" AU_REPLAY_CLIENT_SECRET};
    resp_t r = call("/spotify/api/token", &q);
    expect(&r, 200, NULL);
    free(r.body);
    r = get("/spotify/v1/albums/0sNOF9WDwhWunNAHPD3Baj");
    expect(&r, 503, NULL);
    free(r.body);
    fault("route=spotify fault=500"); /* replaces the first rule */
    r = get("/spotify/v1/albums/0sNOF9WDwhWunNAHPD3Baj");
    expect(&r, 500, NULL);
    free(r.body);
}

Test(replay, faults_can_be_posted_as_json)
{
    fault("[{\"route\":\"musicbrainz\",\"fault\":\"429\",\"count\":1,"
          "\"retry_after\":\"3\"}]");
    resp_t r = get("/musicbrainz/ws/2/release/x");
    expect(&r, 429, NULL);
    cr_assert_str_eq(r.retry_after, "3");
    free(r.body);
    r = get("/musicbrainz/ws/2/release/x");
    expect(&r, 200, NULL);
    free(r.body);
}

Test(replay, a_bad_rule_is_400_and_adds_nothing)
{
    const char *bad[] = {"route=spotfy fault=429",
                         "route=spotify fault=teapot",
                         "route=spotify count=0",
                         "route=spotify delay_ms=-5",
                         "route=spotify colour=red",
                         "fault=500",
                         "route=lastfm fault=500\nroute=spotify count=x",
                         "{\"route\":\"spotify\",\"count\":[1]}",
                         "{\"route\":",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        resp_t r = call("/_faults", &(req_t){.body = bad[i]});
        expect(&r, 400, NULL);
        cr_assert(strstr(r.body, "\"error\""), "%s", r.body);
        free(r.body);
    }
    resp_t l = call("/_faults", NULL);
    expect(&l, 200, "[]");
    free(l.body);
}

Test(replay, faults_can_be_set_in_process)
{
    au_error_t err = {0};
    cr_assert_eq(au_replay_fault(srv, "route=lastfm fault=500", &err), 0, "%s",
                 err.msg);
    cr_assert_lt(au_replay_fault(srv, "route=nowhere", &err), 0);
    resp_t r = get("/lastfm/2.0/?method=geo.getTopTracks&api_key=k");
    expect(&r, 500, NULL);
    free(r.body);
    au_replay_clear_faults(srv);
    r = get("/lastfm/2.0/?method=geo.getTopTracks&api_key=k");
    expect(&r, 200, NULL);
    free(r.body);
}

/* ---- counts ---- */

Test(replay, stats_count_every_request_by_route_and_service)
{
    for (int i = 0; i < 3; i++)
        free(get("/lastfm/2.0/?method=chart.getTopTracks&api_key=k").body);
    free(call("/lastfm/2.0/?method=chart.getTopTracks", NULL).body); /* 403 */
    free(get("/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp").body);
    free(get("/spotify/v1/nothing").body);
    free(get("/elsewhere").body);
    free(call("/_faults", NULL).body); /* control: not counted */
    json_t *s = stats();
    cr_assert_eq(stat_of(s, "routes", "lastfm/chart.getTopTracks", "requests"),
                 4);
    cr_assert_eq(stat_of(s, "routes", "spotify/track", "requests"), 1);
    cr_assert_eq(stat_of(s, "routes", "spotify/unknown", "requests"), 1);
    cr_assert_eq(stat_of(s, "routes", "unknown", "requests"), 1);
    cr_assert_eq(stat_of(s, "routes", "spotify/token", "requests"), 0);
    cr_assert_eq(stat_of(s, "services", "lastfm", "requests"), 4);
    cr_assert_eq(stat_of(s, "services", "spotify", "requests"), 2);
    cr_assert_eq(stat_of(s, "services", "musicbrainz", "requests"), 0);
    cr_assert_eq(stat_of(s, "services", "unknown", "requests"), 1);
    cr_assert_eq(json_integer_value(json_object_get(s, "requests")), 7);
    json_decref(s);
    resp_t r = call("/_stats", &(req_t){.method = "DELETE"});
    expect(&r, 200, NULL);
    free(r.body);
    s = stats();
    cr_assert_eq(json_integer_value(json_object_get(s, "requests")), 0);
    cr_assert_eq(stat_of(s, "services", "lastfm", "max_per_second"), 0);
    json_decref(s);
}

Test(replay, max_per_second_is_the_largest_burst_within_one_second)
{
    const char *path = "/musicbrainz/ws/2/artist?query=metal";
    for (int i = 0; i < 20; i++)
        free(get(path).body);
    json_t *s = stats();
    cr_assert_eq(
        stat_of(s, "routes", "musicbrainz/artist-search", "max_per_second"),
        20);
    cr_assert_eq(stat_of(s, "services", "musicbrainz", "max_per_second"), 20);
    json_decref(s);
    /* A second later the window has moved on: 5 more are a burst of 5. */
    usleep(1050 * 1000);
    for (int i = 0; i < 5; i++)
        free(get(path).body);
    s = stats();
    cr_assert_eq(stat_of(s, "routes", "musicbrainz/artist-search", "requests"),
                 25);
    cr_assert_eq(
        stat_of(s, "routes", "musicbrainz/artist-search", "max_per_second"),
        20);
    json_decref(s);
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 25; i++)
        free(get((const char *)arg).body);
    return NULL;
}

Test(replay, counts_stay_exact_under_concurrent_clients)
{
    pthread_t t[4];
    const char *paths[4] = {"/spotify/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp",
                            "/spotify/v1/tracks/0eGsygTp906u18L0Oimnem",
                            "/lastfm/2.0/?method=tag.getTopTracks&api_key=k",
                            "/nowhere"};
    fault("route=/nowhere fault=500 count=50");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, (void *)paths[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    json_t *s = stats();
    cr_assert_eq(stat_of(s, "routes", "spotify/track", "requests"), 50);
    cr_assert_eq(stat_of(s, "services", "spotify", "requests"), 50);
    cr_assert_eq(stat_of(s, "routes", "lastfm/tag.getTopTracks", "requests"),
                 25);
    cr_assert_eq(stat_of(s, "routes", "unknown", "requests"), 25);
    cr_assert_eq(json_integer_value(json_object_get(s, "requests")), 100);
    json_decref(s);
    resp_t l = call("/_faults", NULL);
    expect(&l, 200, NULL);
    cr_assert(strstr(l.body, "\"count\":25"), "%s", l.body);
    free(l.body);
}
