/* au_replay.c: the replay server; au_replay.h is the contract. */
#include "au_replay.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "au_log.h"

#define AU__RP_NVAR 3       /* variants per route */
#define AU__RP_MAX_RULES 64 /* fault rules at once */
#define AU__RP_SLOTS 100    /* 10 ms slots: the one-second window */
#define AU__RP_MAX_FIXTURE (4u << 20)
#define AU__RP_SLOW_MS 2000     /* fault=slow without delay_ms */
#define AU__RP_CONN_TIMEOUT 240 /* s; above the longest delay we allow */

/* ---- the route table ---- */

enum { SVC_LASTFM, SVC_SPOTIFY, SVC_MB, SVC_NONE, NSVC };
static const char *const svc_names[NSVC] = {"lastfm", "spotify", "musicbrainz",
                                            "unknown"};
static const char *const svc_prefix[SVC_NONE] = {"/lastfm", "/spotify",
                                                 "/musicbrainz"};
static const char *const svc_dir[SVC_NONE] = {"lastfm", "spotify_api",
                                              "musicbrainz"};
/* What /_stats calls a request no route knows, by service. */
static const char *const unknown_names[NSVC] = {
    "lastfm/unknown", "spotify/unknown", "musicbrainz/unknown", "unknown"};

enum { R_FIXTURE, R_TOKEN, R_NOT_STORED, R_ISRC };

typedef struct {
    const char *param; /* NULL: the path's {id} segment */
    const char *word;  /* NULL: any non-empty value */
    const char *file;
} variant_t;

typedef struct {
    const char *name; /* in /_stats and in fault rules */
    int svc;
    const char *method;    /* "GET" (HEAD too) or "POST" */
    const char *path;      /* below the service prefix; '*' is one segment */
    const char *select;    /* a query parameter the route needs, or NULL */
    const char *select_is; /* its value, in any case; NULL: any */
    int kind;
    const char *file; /* default fixture, in the service's folder */
    variant_t var[AU__RP_NVAR];
} route_t;

#define LFM(m, f, ...)                                                         \
    {                                                                          \
        "lastfm/" m, SVC_LASTFM, "GET", "/2.0", "method", m, R_FIXTURE, f,     \
        {                                                                      \
            __VA_ARGS__                                                        \
        }                                                                      \
    }
#define SPO(n, p, sel, f, ...)                                                 \
    {                                                                          \
        "spotify/" n, SVC_SPOTIFY, "GET", p, sel, NULL, R_FIXTURE, f,          \
        {                                                                      \
            __VA_ARGS__                                                        \
        }                                                                      \
    }
#define MB(n, p, sel, f, ...)                                                  \
    {                                                                          \
        "musicbrainz/" n, SVC_MB, "GET", p, sel, NULL, R_FIXTURE, f,           \
        {                                                                      \
            __VA_ARGS__                                                        \
        }                                                                      \
    }

/* Where several files answer one route, the first variant that matches
 * picks one and the default stays the fuller or more recent page;
 * Spotify's own reference examples (swajava_*) come first, as they show
 * the documented shapes. */
static const route_t routes[] = {
    LFM("chart.getTopTracks",
        "chart.getTopTracks_limit10_page2_2018-11-10.json"),
    LFM("chart.getTopArtists",
        "chart.getTopArtists_limit10_page2_2018-11-10.json",
        {"limit", "5", "chart.getTopArtists_limit5_2023.json"}),
    LFM("geo.getTopTracks", "geo.getTopTracks_greece_limit10_2018-11-10.json"),
    LFM("geo.getTopArtists", "geo.getTopArtists_greece_limit10_2018-11-10.json",
        {"country", "australia",
         "geo.getTopArtists_australia_limit5_2023.json"}),
    LFM("tag.getTopTracks", "tag.getTopTracks_rap_limit2_2018-11-10.json"),
    LFM("track.getInfo",
        "track.getInfo_acdc_hellsbells_REDACTED_mbids_images.json",
        {"artist", "the cure",
         "track.getInfo_thecure_plainsong_with_username.json"},
        {"username", NULL,
         "track.getInfo_thecure_plainsong_with_username.json"}),
    LFM("artist.getInfo",
        "artist.getInfo_gunsnroses_REDACTED_mbids_images.json",
        {"artist", "frightened rabbit",
         "artist.getInfo_frightenedrabbit_legacy_2014.json"}),
    {"spotify/token",
     SVC_SPOTIFY,
     "POST",
     "/api/token",
     NULL,
     NULL,
     R_TOKEN,
     NULL,
     {{0}}},
    SPO("playlist", "/v1/playlists/*", NULL, "swajava_GetPlaylistRequest.json",
        {NULL, "4vHIKV7j4QcZwgzGQcZg1x", "jmperez_playlist.json"}),
    SPO("playlist-tracks", "/v1/playlists/*/tracks", NULL,
        "swajava_GetPlaylistsItemsRequest.json",
        {NULL, "0EIVqzEcrY2a8vO0AUJar2", "jmperez_playlist_tracks.json"}),
    SPO("track", "/v1/tracks/*", NULL, "swajava_GetTrackRequest.json",
        {NULL, "0eGsygTp906u18L0Oimnem", "jmperez_track.json"}),
    SPO("tracks", "/v1/tracks", "ids", "swajava_GetSeveralTracksRequest.json",
        {"ids", "1lDWb6b6ieDQ2xT7ewTC3G", "jmperez_tracks.json"}),
    SPO("artist", "/v1/artists/*", NULL, "swajava_GetArtistRequest.json",
        {NULL, "0LcJLqbBmaGUft1e9Mm8HV", "jmperez_artist.json"},
        {NULL, "0oSGxfWSnnOXhD2fKuz2Gy", "jmperez_artists.json"}),
    SPO("artists", "/v1/artists", "ids",
        "swajava_GetSeveralArtistsRequest.json"),
    SPO("artist-top-tracks", "/v1/artists/*/top-tracks", NULL,
        "swajava_GetArtistsTopTracksRequest.json"),
    SPO("artist-related", "/v1/artists/*/related-artists", NULL,
        "jmperez_artist_related_artists.json"),
    SPO("audio-features", "/v1/audio-features/*", NULL,
        "swajava_GetAudioFeaturesForTrackRequest.json"),
    SPO("audio-features-several", "/v1/audio-features", "ids",
        "swajava_GetAudioFeaturesForSeveralTracksRequest.json",
        {"ids", "06AKEBrKUckW0KREUWRnvT",
         "jmperez_tracks_audio_features.json"}),
    SPO("search", "/v1/search", NULL, "swajava_SearchTracksRequest.json",
        {"type", "artist", "jmperez_search_artist.json"},
        {"q", "gatan", "jmperez_search_track.json"}),
    SPO("album", "/v1/albums/*", NULL, "jmperez_album.json"),
    SPO("album-tracks", "/v1/albums/*/tracks", NULL,
        "jmperez_album_tracks.json"),
    SPO("recommendations", "/v1/recommendations", NULL,
        "swajava_GetRecommendationsRequest.json"),
    SPO("new-releases", "/v1/browse/new-releases", NULL,
        "jmperez_new_releases.json"),
    MB("recording", "/ws/2/recording/*", NULL, "picard_recording_lookup.json",
       {NULL, "11f3c37d-839f-4f65-87c1-d55cb416d0c5",
        "mbandroid_recording_lookup.json"},
       {NULL, "7684982a-efee-49e5-baf0-82a466f12508",
        "picard_recording_multi_artists_1_lookup.json"}),
    /* The fixtures hold no genuine recording search (SOURCES.md, gaps);
     * the route exists so that a client learns that, not a wrong shape. */
    {"musicbrainz/recording-search",
     SVC_MB,
     "GET",
     "/ws/2/recording",
     "query",
     NULL,
     R_NOT_STORED,
     NULL,
     {{0}}},
    /* No ISRC lookup was recorded either: this route answers with the
     * genuine recordings above that carry the ISRC asked for, in the
     * documented envelope ({"isrc", "recordings"}), and MusicBrainz's 404
     * for any other. */
    {"musicbrainz/isrc",
     SVC_MB,
     "GET",
     "/ws/2/isrc/*",
     NULL,
     NULL,
     R_ISRC,
     NULL,
     {{0}}},
    MB("artist", "/ws/2/artist/*", NULL, "picard_artist_lookup.json",
       {"inc", "url-rels", "mbandroid_artist_lookup_ed_sheeran.json"},
       {"inc", "releases", "mbandroid_artist_lookup_ed_sheeran.json"}),
    MB("artist-search", "/ws/2/artist", "query",
       "artist_search_metal_2021-03-20.json",
       {"query", "acdc", "artist_search_acdc_2021-03-20.json"},
       {"query", "ac/dc", "artist_search_acdc_2021-03-20.json"}),
    MB("release", "/ws/2/release/*", NULL, "picard_release_lookup.json",
       {NULL, "94ad3a58-a1cc-46a3-acf4-9cb6c1d6f032",
        "mbandroid_release_lookup.json"}),
    MB("release-group", "/ws/2/release-group/*", NULL,
       "picard_release_group_lookup.json",
       {NULL, "05ce100c-eddf-4967-8d7e-33fc0883fe39",
        "mbandroid_release-group_lookup.json"}),
    MB("release-search", "/ws/2/release", "query",
       "release_search_rory_gallagher_2021-03-21.json"),
};
#define AU__RP_NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- faults ---- */

enum {
    F_NONE,
    F_429,
    F_500,
    F_503,
    F_SLOW,
    F_RESET,
    F_TRUNCATED,
    F_WRONG_TYPE,
    F_HTML200,
    F_401,
    F__COUNT
};
static const char *const fault_names[F__COUNT] = {
    "none",  "429",       "500",        "503",     "slow",
    "reset", "truncated", "wrong_type", "html200", "401"};

typedef struct {
    char route[128];
    int kind;
    int retry_date;        /* Retry-After as an HTTP-date */
    long long count;       /* requests left; 0: until cleared */
    long long retry_after; /* seconds; -1: unset */
    long long delay_ms;    /* slow; -1: AU__RP_SLOW_MS */
    long long latency_ms;
} rule_t;

/* The integer keys of a rule and their ranges. */
static const struct {
    const char *key;
    size_t off;
    long long lo, hi;
} int_keys[] = {
    {"count", offsetof(rule_t, count), 1, 1000000000},
    {"retry_after", offsetof(rule_t, retry_after), 0, 86400},
    {"delay_ms", offsetof(rule_t, delay_ms), 0, AU_REPLAY_MAX_DELAY_MS},
    {"latency_ms", offsetof(rule_t, latency_ms), 0, AU_REPLAY_MAX_DELAY_MS},
};

/* ---- counts ---- */

/* Requests in the last AU__RP_SLOTS slots of 10 ms, so the window is a
 * second (less up to one slot): a burst inside a second is never split
 * the way whole clock seconds would split it. */
typedef struct {
    uint64_t requests, max, in_window;
    long long last_slot;
    uint32_t slot[AU__RP_SLOTS];
} rate_t;

typedef struct {
    char *data;
    size_t len;
} blob_t;

struct au_replay_t {
    struct MHD_Daemon *daemon;
    int port;
    int latency_ms;
    char token[64];
    char *client; /* "id:secret", what Basic auth must decode to */
    size_t client_len;
    blob_t fx[AU__RP_NROUTES][1 + AU__RP_NVAR];
    /* mu guards the rules and the counts; cond wakes delayed answers
     * when the server stops, so no thread sleeps through a shutdown. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    atomic_int stopping;
    rule_t rules[AU__RP_MAX_RULES]; /* oldest first */
    int nrules;
    rate_t total, svc[NSVC], route[AU__RP_NROUTES], unknown[NSVC];
};

/* One request's body, gathered before it is answered. */
typedef struct {
    char *body;
    size_t len;
    int too_big;
} req_t;

/* What the request is. */
typedef struct {
    int svc;
    int route;         /* index in routes, -1: none */
    const char *allow; /* the path is a route's, for these methods */
    const char *sub;   /* the path below the service prefix */
    char id[128];      /* the '*' segment */
} match_t;

typedef struct {
    unsigned status;
    const char *ctype;
    const char *body; /* borrowed, unless it is owned */
    size_t len;
    char *owned; /* malloc'd body, freed once queued */
    const char *allow;
    char retry_after[48];
} answer_t;

static const char ctype_json[] = "application/json";
static const char oom_body[] = "{\"error\":\"out of memory\"}";
static const char lastfm_no_key[] =
    "{\"error\":10,\"message\":\"Invalid API key - You must be granted a "
    "valid key by last.fm\"}";
static const char html_page[] =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1><p>The server did not receive a valid "
    "response from the upstream server. Please try again later.</p>"
    "</body></html>\n";

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- small parsers: every one takes a length and a capacity ---- */

/* A non-empty query argument, or NULL (MHD has decoded it). */
static const char *arg(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v && *v ? v : NULL;
}

/* 1 when hay holds word, in any case, not inside a longer word. */
static int word_has(const char *hay, const char *word)
{
    size_t n = strlen(word), h = strlen(hay);
    for (size_t i = 0; n && i + n <= h; i++) {
        if (strncasecmp(hay + i, word, n) != 0)
            continue;
        int before = i == 0 || !isalnum((unsigned char)hay[i - 1]);
        int after = i + n == h || !isalnum((unsigned char)hay[i + n]);
        if (before && after)
            return 1;
    }
    return 0;
}

/* Matches path against pat ('*' is one non-empty segment, copied to id);
 * one trailing '/' of path is ignored. */
static int path_match(const char *pat, const char *path, char *id, size_t cap)
{
    size_t n = strlen(path);
    id[0] = '\0';
    if (n > 1 && path[n - 1] == '/')
        n--;
    const char *s = path, *end = path + n;
    while (*pat && s < end) {
        if (*pat == '*') {
            const char *seg = s;
            while (s < end && *s != '/')
                s++;
            if (s == seg)
                return 0;
            snprintf(id, cap, "%.*s", (int)(s - seg), seg);
            pat++;
        } else if (*pat++ != *s++) {
            return 0;
        }
    }
    return *pat == '\0' && s == end;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Form decoding of s[0..n) into out: '+' is a blank, %XX a byte (not
 * NUL). -1 when malformed or longer than cap - 1. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '&';
}

/* The next key=value token of [*pp, end): 1, 0 at the end, or AU_EINVAL
 * with err naming the token. */
static int kv_next(const char **pp, const char *end, char *k, size_t kcap,
                   char *v, size_t vcap, au_error_t *err)
{
    const char *p = *pp;
    while (p < end && is_sep(*p))
        p++;
    if (p == end) {
        *pp = p;
        return 0;
    }
    const char *t = p;
    while (t < end && !is_sep(*t))
        t++;
    *pp = t;
    const char *eq = memchr(p, '=', (size_t)(t - p));
    if (!eq || eq == p || pct_decode(p, (size_t)(eq - p), k, kcap) < 0 ||
        pct_decode(eq + 1, (size_t)(t - eq - 1), v, vcap) < 0)
        return au_error_set(err, AU_EINVAL, "\"%.*s\" is not key=value",
                            (int)(t - p > 64 ? 64 : t - p), p);
    return 1;
}

/* The value of key in a form body; 0 found, -1 not. */
static int form_value(const char *body, size_t len, const char *key, char *out,
                      size_t cap)
{
    char k[64];
    const char *p = body, *end = body + len;
    int rc;
    while ((rc = kv_next(&p, end, k, sizeof(k), out, cap, NULL)) != 0) {
        if (rc > 0 && strcmp(k, key) == 0)
            return 0;
    }
    return -1;
}

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char buf[512];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

/* ---- counts ---- */

static void rate_hit(rate_t *c, long long now_ms)
{
    long long s = now_ms / 10;
    if (s < c->last_slot)
        s = c->last_slot;
    if (c->requests == 0 || s - c->last_slot >= AU__RP_SLOTS) {
        memset(c->slot, 0, sizeof(c->slot));
        c->in_window = 0;
    } else {
        for (long long i = c->last_slot + 1; i <= s; i++) {
            c->in_window -= c->slot[i % AU__RP_SLOTS];
            c->slot[i % AU__RP_SLOTS] = 0;
        }
    }
    c->slot[s % AU__RP_SLOTS]++;
    c->in_window++;
    c->requests++;
    if (c->in_window > c->max)
        c->max = c->in_window;
    c->last_slot = s;
}

/* Counts one request; r->mu held. */
static void count_locked(au_replay_t *r, const match_t *m)
{
    long long now = mono_ms();
    rate_hit(&r->total, now);
    rate_hit(&r->svc[m->svc], now);
    rate_hit(m->route >= 0 ? &r->route[m->route] : &r->unknown[m->svc], now);
}

static json_t *rate_json(const rate_t *c)
{
    return json_pack("{s:I,s:I}", "requests", (json_int_t)c->requests,
                     "max_per_second", (json_int_t)c->max);
}

static json_t *stats_json(au_replay_t *r)
{
    json_t *svcs = json_object(), *rts = json_object();
    pthread_mutex_lock(&r->mu);
    json_t *o =
        json_pack("{s:I,s:o,s:o}", "requests", (json_int_t)r->total.requests,
                  "services", svcs, "routes", rts);
    for (int s = 0; s < NSVC; s++) {
        json_object_set_new(svcs, svc_names[s], rate_json(&r->svc[s]));
        json_object_set_new(rts, unknown_names[s], rate_json(&r->unknown[s]));
    }
    for (size_t i = 0; i < AU__RP_NROUTES; i++)
        json_object_set_new(rts, routes[i].name, rate_json(&r->route[i]));
    pthread_mutex_unlock(&r->mu);
    return o;
}

/* ---- fault rules ---- */

static void rule_init(rule_t *f)
{
    memset(f, 0, sizeof(*f));
    f->kind = F_NONE;
    f->retry_after = -1;
    f->delay_ms = -1;
}

static int parse_int(const char *k, const char *v, long long lo, long long hi,
                     long long *out, au_error_t *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno || x < lo || x > hi)
        return au_error_set(err, AU_EINVAL,
                            "%s=%.64s: not an integer in %lld..%lld", k, v, lo,
                            hi);
    *out = x;
    return 0;
}

static int rule_set(rule_t *f, const char *k, const char *v, au_error_t *err)
{
    for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
        if (strcmp(k, int_keys[i].key) == 0)
            return parse_int(k, v, int_keys[i].lo, int_keys[i].hi,
                             (long long *)((char *)f + int_keys[i].off), err);
    }
    if (strcmp(k, "route") == 0) {
        if (!*v || strlen(v) >= sizeof(f->route))
            return au_error_set(err, AU_EINVAL, "route: empty or too long");
        snprintf(f->route, sizeof(f->route), "%s", v);
        return 0;
    }
    if (strcmp(k, "fault") == 0) {
        for (int i = 0; i < F__COUNT; i++) {
            if (strcasecmp(v, fault_names[i]) == 0) {
                f->kind = i;
                return 0;
            }
        }
        return au_error_set(err, AU_EINVAL,
                            "fault=%.64s: not one of 429, 500, 503, slow, "
                            "reset, truncated, wrong_type, html200, none",
                            v);
    }
    if (strcmp(k, "retry_after_form") == 0) {
        if (strcmp(v, "seconds") != 0 && strcmp(v, "date") != 0)
            return au_error_set(err, AU_EINVAL,
                                "retry_after_form=%.64s: seconds or date", v);
        f->retry_date = v[0] == 'd';
        return 0;
    }
    return au_error_set(err, AU_EINVAL, "unknown key \"%.64s\"", k);
}

/* A rule names a service, a route or a path prefix, so that a typo is an
 * error rather than a rule that never fires. */
static int rule_check(const rule_t *f, au_error_t *err)
{
    if (!f->route[0])
        return au_error_set(err, AU_EINVAL, "a rule needs route=");
    if (f->route[0] == '/')
        return 0;
    for (int s = 0; s < NSVC; s++) {
        if (strcmp(f->route, svc_names[s]) == 0 ||
            strcmp(f->route, unknown_names[s]) == 0)
            return 0;
    }
    for (size_t i = 0; i < AU__RP_NROUTES; i++) {
        if (strcmp(f->route, routes[i].name) == 0)
            return 0;
    }
    return au_error_set(err, AU_EINVAL,
                        "route=%s: not a service, a route name or a path "
                        "starting with /",
                        f->route);
}

/* One rule per line; blank lines and lines starting with '#' are skipped. */
static int rules_parse_text(const char *body, size_t len, rule_t *out, int *n,
                            au_error_t *err)
{
    const char *p = body, *end = body + len;
    char k[32], v[256];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p;
        while (q < le && is_sep(*q))
            q++;
        p = nl ? nl + 1 : end;
        if (q == le || *q == '#')
            continue;
        if (*n == AU__RP_MAX_RULES)
            return au_error_set(err, AU_EINVAL, "more than %d rules",
                                AU__RP_MAX_RULES);
        rule_t *f = &out[(*n)++];
        rule_init(f);
        int rc;
        while ((rc = kv_next(&q, le, k, sizeof(k), v, sizeof(v), err)) > 0) {
            if (rule_set(f, k, v, err) < 0)
                return AU_EINVAL;
        }
        if (rc < 0 || rule_check(f, err) < 0)
            return AU_EINVAL;
    }
    return 0;
}

static int rule_from_json(json_t *obj, rule_t *f, au_error_t *err)
{
    const char *k;
    json_t *val;
    char num[32];
    if (!json_is_object(obj))
        return au_error_set(err, AU_EINVAL, "a rule must be a JSON object");
    rule_init(f);
    json_object_foreach(obj, k, val)
    {
        const char *v = json_string_value(val);
        if (json_is_integer(val)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(val));
            v = num;
        }
        if (!v)
            return au_error_set(err, AU_EINVAL, "%.64s: a string or an integer",
                                k);
        if (rule_set(f, k, v, err) < 0)
            return AU_EINVAL;
    }
    return rule_check(f, err);
}

static int rules_parse_json(const char *body, size_t len, rule_t *out, int *n,
                            au_error_t *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return au_error_set(err, AU_EINVAL, "JSON, line %d: %s", je.line,
                            je.text);
    int rc = 0;
    if (json_is_array(root) && json_array_size(root) > AU__RP_MAX_RULES)
        rc = au_error_set(err, AU_EINVAL, "more than %d rules",
                          AU__RP_MAX_RULES);
    else if (json_is_array(root)) {
        for (size_t i = 0; rc == 0 && i < json_array_size(root); i++)
            rc = rule_from_json(json_array_get(root, i), &out[(*n)++], err);
    } else {
        rc = rule_from_json(root, &out[(*n)++], err);
    }
    json_decref(root);
    return rc;
}

static int rules_parse(const char *body, size_t len, rule_t *out, int *n,
                       au_error_t *err)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    int rc = i < len && (body[i] == '{' || body[i] == '[')
                 ? rules_parse_json(body, len, out, n, err)
                 : rules_parse_text(body, len, out, n, err);
    if (rc == 0 && *n == 0)
        rc = au_error_set(err, AU_EINVAL, "no rule in the body");
    return rc;
}

/* Removes rule i; r->mu held. */
static void rule_drop_locked(au_replay_t *r, int i)
{
    memmove(&r->rules[i], &r->rules[i + 1],
            (size_t)(r->nrules - i - 1) * sizeof(r->rules[0]));
    r->nrules--;
}

/* Adds all of add or none: a rule replaces the one for the same route. */
static int rules_add(au_replay_t *r, const rule_t *add, int n, au_error_t *err)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    rule_t keep[AU__RP_MAX_RULES];
    int nkeep = r->nrules;
    memcpy(keep, r->rules, sizeof(keep));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < r->nrules; j++) {
            if (strcmp(r->rules[j].route, add[i].route) == 0) {
                rule_drop_locked(r, j);
                break;
            }
        }
        if (r->nrules == AU__RP_MAX_RULES) {
            rc = au_error_set(err, AU_EINVAL, "more than %d rules",
                              AU__RP_MAX_RULES);
            break;
        }
        r->rules[r->nrules++] = add[i];
    }
    if (rc < 0) {
        memcpy(r->rules, keep, sizeof(keep));
        r->nrules = nkeep;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int rule_matches(const rule_t *f, const match_t *m, const char *path)
{
    const char *rn =
        m->route >= 0 ? routes[m->route].name : unknown_names[m->svc];
    if (f->route[0] != '/')
        return strcmp(f->route, svc_names[m->svc]) == 0 ||
               strcmp(f->route, rn) == 0;
    size_t n = strlen(f->route);
    return strncmp(path, f->route, n) == 0 &&
           (path[n] == '\0' || path[n] == '/' || f->route[n - 1] == '/');
}

/* The rule for this request (kind F_NONE when none), spending one of its
 * count; r->mu held. The newest rule wins, so a narrow rule posted after
 * a broad one carves an exception out of it. */
static void rule_pick_locked(au_replay_t *r, const match_t *m, const char *path,
                             rule_t *out)
{
    rule_init(out);
    for (int i = r->nrules - 1; i >= 0; i--) {
        if (!rule_matches(&r->rules[i], m, path))
            continue;
        *out = r->rules[i];
        if (r->rules[i].count > 0 && --r->rules[i].count == 0)
            rule_drop_locked(r, i);
        return;
    }
}

static json_t *rules_json(au_replay_t *r)
{
    json_t *a = json_array();
    pthread_mutex_lock(&r->mu);
    for (int i = 0; a && i < r->nrules; i++) {
        const rule_t *f = &r->rules[i];
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:o,s:o,s:s,s:o,s:I}", "route", f->route,
                         "fault", fault_names[f->kind], "count",
                         f->count ? json_integer(f->count) : json_null(),
                         "retry_after",
                         f->retry_after >= 0 ? json_integer(f->retry_after)
                                             : json_null(),
                         "retry_after_form", f->retry_date ? "date" : "seconds",
                         "delay_ms",
                         f->delay_ms >= 0 ? json_integer(f->delay_ms)
                                          : json_null(),
                         "latency_ms", (json_int_t)f->latency_ms));
    }
    pthread_mutex_unlock(&r->mu);
    return a;
}

/* Waits ms, or less when the server stops. */
static void wait_ms(au_replay_t *r, long long ms)
{
    if (ms <= 0)
        return;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stopping)) {
        if (pthread_cond_timedwait(&r->cond, &r->mu, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- answers ---- */

static void answer_static(answer_t *a, unsigned status, const char *ctype,
                          const char *body)
{
    a->status = status;
    a->ctype = ctype;
    a->body = body;
    a->len = strlen(body);
}

static void answer_take(answer_t *a, unsigned status, char *body)
{
    if (!body) {
        answer_static(a, MHD_HTTP_INTERNAL_SERVER_ERROR, ctype_json, oom_body);
        return;
    }
    answer_static(a, status, ctype_json, body);
    a->owned = body;
}

static void answer_fmt(answer_t *a, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answer_fmt(answer_t *a, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *body = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (body) {
        va_start(ap, fmt);
        vsnprintf(body, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    answer_take(a, status, body);
}

/* Takes o's reference. */
static void answer_json(answer_t *a, unsigned status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    answer_take(a, status, body);
}

static void answer_error(answer_t *a, unsigned status, const char *msg)
{
    answer_json(a, status, json_pack("{s:o}", "error", json_text(msg)));
}

/* Like the service's own error bodies: Last.fm's numbered errors (29 rate
 * limit, 8 operation failed, 16 temporary error), Spotify's regular error
 * object, a message elsewhere. */
static void service_error(answer_t *a, int svc, unsigned status)
{
    const char *reason = status == 429   ? "Too Many Requests"
                         : status == 500 ? "Internal Server Error"
                         : status == 401 ? "Unauthorized"
                                         : "Service Unavailable";
    if (svc == SVC_LASTFM && status == 401) {
        answer_fmt(a, status,
                   "{\"error\":9,\"message\":\"Invalid session key - Please "
                   "re-authenticate\"}");
    } else if (svc == SVC_SPOTIFY && status == 401) {
        answer_fmt(a, status,
                   "{\"error\":{\"status\":401,\"message\":\"The access "
                   "token expired\"}}");
    } else if (svc == SVC_LASTFM) {
        int code = status == 429 ? 29 : status == 500 ? 8 : 16;
        const char *msg = status == 429   ? "Rate Limit Exceeded"
                          : status == 500 ? "Operation failed"
                                          : "Service temporarily unavailable";
        answer_fmt(a, status, "{\"error\":%d,\"message\":\"%s\"}", code, msg);
    } else if (svc == SVC_SPOTIFY) {
        answer_fmt(a, status, "{\"error\":{\"status\":%u,\"message\":\"%s\"}}",
                   status, status == 429 ? "API rate limit exceeded" : reason);
    } else {
        answer_fmt(a, status, "{\"error\":\"%s\"}", reason);
    }
}

static void http_date(char *out, size_t cap, time_t t)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

/* The answer a fault gives instead of the route's; 0 when it has none. */
static int fault_answer(const rule_t *f, int svc, answer_t *a)
{
    long long retry = f->retry_after;
    switch (f->kind) {
    case F_429:
        if (retry < 0)
            retry = 1;
        /* fall through */
    case F_503:
        service_error(a, svc, f->kind == F_429 ? 429 : 503);
        if (retry >= 0 && f->retry_date)
            http_date(a->retry_after, sizeof(a->retry_after),
                      time(NULL) + (time_t)retry);
        else if (retry >= 0)
            snprintf(a->retry_after, sizeof(a->retry_after), "%lld", retry);
        return 1;
    case F_500:
    case F_401:
        service_error(a, svc, f->kind == F_500 ? 500 : 401);
        return 1;
    case F_HTML200:
        answer_static(a, MHD_HTTP_OK, "text/html; charset=utf-8", html_page);
        return 1;
    default:
        return 0;
    }
}

typedef struct {
    au_replay_t *r;
    char *data;
    size_t len;
    long long delay_ms;
    int waited;
} slow_t;

/* The body of a slow answer: the status line and headers are out by
 * now, so a client sees a stall mid-answer, not a late connection. */
static ssize_t slow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    slow_t *s = cls;
    if (!s->waited) {
        wait_ms(s->r, s->delay_ms);
        s->waited = 1;
    }
    if (atomic_load(&s->r->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= s->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = s->len - (size_t)pos < max ? s->len - (size_t)pos : max;
    memcpy(buf, s->data + pos, n);
    return (ssize_t)n;
}

static void slow_free(void *cls)
{
    slow_t *s = cls;
    free(s->data);
    free(s);
}

static struct MHD_Response *slow_response(au_replay_t *r, const answer_t *a,
                                          long long delay_ms)
{
    slow_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->data = malloc(a->len + 1))) {
        free(s);
        return NULL;
    }
    memcpy(s->data, a->body, a->len);
    s->r = r;
    s->len = a->len;
    s->delay_ms = delay_ms;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        a->len, 16 * 1024, slow_read, s, slow_free);
    if (!resp)
        slow_free(s);
    return resp;
}

static enum MHD_Result queue(au_replay_t *r, struct MHD_Connection *c,
                             answer_t *a, long long slow_ms)
{
    struct MHD_Response *resp =
        slow_ms > 0
            ? slow_response(r, a, slow_ms)
            : MHD_create_response_from_buffer(
                  a->len, (void *)a->body,
                  a->owned ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    free(a->owned);
    a->owned = NULL;
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
    if (a->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
    if (a->retry_after[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
                                a->retry_after);
    enum MHD_Result ok = MHD_queue_response(c, a->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* ---- the services ---- */

static int method_ok(const char *route_method, const char *method)
{
    if (strcmp(route_method, "GET") == 0)
        return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    return strcmp(route_method, method) == 0;
}

static void classify(struct MHD_Connection *c, const char *url,
                     const char *method, match_t *m)
{
    memset(m, 0, sizeof(*m));
    m->svc = SVC_NONE;
    m->route = -1;
    m->sub = url;
    for (int s = 0; s < SVC_NONE; s++) {
        size_t n = strlen(svc_prefix[s]);
        if (strncmp(url, svc_prefix[s], n) == 0 &&
            (url[n] == '\0' || url[n] == '/')) {
            m->svc = s;
            m->sub = url + n;
        }
    }
    for (size_t i = 0; m->svc != SVC_NONE && i < AU__RP_NROUTES; i++) {
        const route_t *rt = &routes[i];
        const char *sel = rt->select ? arg(c, rt->select) : NULL;
        if (rt->svc != m->svc ||
            !path_match(rt->path, m->sub, m->id, sizeof(m->id)) ||
            (rt->select && !sel) ||
            (rt->select_is && strcasecmp(sel, rt->select_is) != 0))
            continue;
        if (method_ok(rt->method, method)) {
            m->route = (int)i;
            return;
        }
        m->allow = strcmp(rt->method, "GET") == 0 ? "GET, HEAD" : rt->method;
    }
}

static int variant_pick(const route_t *rt, struct MHD_Connection *c,
                        const char *id)
{
    for (int i = 0; i < AU__RP_NVAR && rt->var[i].file; i++) {
        const variant_t *v = &rt->var[i];
        const char *subject = v->param ? arg(c, v->param) : id;
        if (subject && *subject && (!v->word || word_has(subject, v->word)))
            return i + 1;
    }
    return 0;
}

/* 1 when the Basic credentials are the client's. */
static int basic_ok(au_replay_t *r, struct MHD_Connection *c)
{
    const char *h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    unsigned char bin[512];
    size_t n = 0;
    const char *b64 = h + 6;
    if (sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), " ", &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    return n == r->client_len && memcmp(bin, r->client, n) == 0;
}

/* Spotify's client-credentials flow: client authentication first, then
 * the grant type, as the accounts service checks them. */
static void token_answer(au_replay_t *r, struct MHD_Connection *c,
                         const req_t *q, answer_t *a)
{
    char grant[64];
    if (!basic_ok(r, c)) {
        answer_static(a, MHD_HTTP_BAD_REQUEST, ctype_json,
                      "{\"error\":\"invalid_client\"}");
    } else if (!q->body ||
               form_value(q->body, q->len, "grant_type", grant, sizeof(grant)) <
                   0 ||
               strcmp(grant, "client_credentials") != 0) {
        answer_static(a, MHD_HTTP_BAD_REQUEST, ctype_json,
                      "{\"error\":\"unsupported_grant_type\"}");
    } else {
        answer_fmt(a, MHD_HTTP_OK,
                   "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
                   "\"expires_in\":3600}",
                   r->token);
    }
}

/* GET /ws/2/isrc/{isrc}: the stored recordings listing the ISRC. */
static void isrc_answer(au_replay_t *r, const char *isrc, answer_t *a)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < AU__RP_NROUTES; i++) {
        if (strcmp(routes[i].name, "musicbrainz/recording") != 0)
            continue;
        for (int v = 0; v <= AU__RP_NVAR; v++) {
            const blob_t *b = &r->fx[i][v];
            json_t *rec = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
            json_t *isrcs = json_object_get(rec, "isrcs");
            size_t k;
            json_t *it;
            int has = 0;
            json_array_foreach(isrcs, k, it) has |= !strcmp(
                json_string_value(it) ? json_string_value(it) : "", isrc);
            if (has)
                json_array_append(list, rec);
            json_decref(rec);
        }
    }
    if (list && json_array_size(list) == 0) {
        json_decref(list);
        answer_json(a, MHD_HTTP_NOT_FOUND,
                    json_pack("{s:s}", "error", "Not Found"));
        return;
    }
    answer_json(a, MHD_HTTP_OK,
                list ? json_pack("{s:o,s:o}", "isrc", json_text(isrc),
                                 "recordings", list)
                     : NULL);
}

static void route_answer(au_replay_t *r, struct MHD_Connection *c,
                         const match_t *m, const req_t *q, answer_t *a)
{
    const route_t *rt = &routes[m->route];
    if (rt->kind == R_TOKEN) {
        token_answer(r, c, q, a);
    } else if (rt->kind == R_ISRC) {
        isrc_answer(r, m->id, a);
    } else if (rt->kind == R_NOT_STORED) {
        answer_fmt(a, MHD_HTTP_NOT_IMPLEMENTED,
                   "{\"error\":\"no genuine answer is stored for this "
                   "route\",\"route\":\"%s\"}",
                   rt->name);
    } else {
        const blob_t *b = &r->fx[m->route][variant_pick(rt, c, m->id)];
        a->status = MHD_HTTP_OK;
        a->ctype = ctype_json;
        a->body = b->data;
        a->len = b->len;
    }
}

static void not_found(struct MHD_Connection *c, const char *url,
                      const match_t *m, answer_t *a)
{
    if (m->allow) {
        answer_error(a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        a->allow = m->allow;
        return;
    }
    json_t *o = json_pack("{s:s,s:o}", "error", "no such route", "path",
                          json_text(url));
    const char *lfm = m->svc == SVC_LASTFM ? arg(c, "method") : NULL;
    if (o && lfm)
        json_object_set_new(o, "method", json_text(lfm));
    answer_json(a, MHD_HTTP_NOT_FOUND, o);
}

/* Each service's own rule for who may ask, checked before the route. */
static void service_answer(au_replay_t *r, struct MHD_Connection *c,
                           const char *url, const req_t *q, const match_t *m,
                           answer_t *a)
{
    const char *auth = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    int v1 = m->svc == SVC_SPOTIFY && strncmp(m->sub, "/v1", 3) == 0 &&
             (m->sub[3] == '\0' || m->sub[3] == '/');
    if (m->svc == SVC_LASTFM && !arg(c, "api_key")) {
        answer_static(a, MHD_HTTP_FORBIDDEN, ctype_json, lastfm_no_key);
    } else if (v1 && (!auth || strncasecmp(auth, "Bearer ", 7) != 0)) {
        answer_static(a, MHD_HTTP_UNAUTHORIZED, ctype_json,
                      "{\"error\":{\"status\":401,\"message\":\"No token "
                      "provided\"}}");
    } else if (v1 && strcmp(auth + 7, r->token) != 0) {
        answer_static(a, MHD_HTTP_UNAUTHORIZED, ctype_json,
                      "{\"error\":{\"status\":401,\"message\":\"Invalid "
                      "access token\"}}");
    } else if (m->svc == SVC_MB && !header(c, MHD_HTTP_HEADER_USER_AGENT)) {
        answer_static(a, MHD_HTTP_FORBIDDEN, ctype_json,
                      "{\"error\":\"anonymous requests are blocked: send a "
                      "User-Agent header\"}");
    } else if (m->route < 0) {
        not_found(c, url, m, a);
    } else {
        route_answer(r, c, m, q, a);
    }
}

/* One replayed request: counted, then its fault rule, the latency, and
 * the service's answer (which truncated and wrong_type then alter). */
static enum MHD_Result serve(au_replay_t *r, struct MHD_Connection *c,
                             const char *url, const char *method,
                             const req_t *q)
{
    match_t m;
    rule_t f;
    classify(c, url, method, &m);
    pthread_mutex_lock(&r->mu);
    count_locked(r, &m);
    rule_pick_locked(r, &m, url, &f);
    pthread_mutex_unlock(&r->mu);
    wait_ms(r, r->latency_ms + f.latency_ms);
    if (f.kind == F_RESET)
        return MHD_NO; /* MHD closes the connection without a word */
    answer_t a = {0};
    if (!fault_answer(&f, m.svc, &a))
        service_answer(r, c, url, q, &m, &a);
    if (f.kind == F_TRUNCATED)
        a.len /= 2;
    else if (f.kind == F_WRONG_TYPE)
        a.ctype = "text/plain";
    long long slow = f.delay_ms >= 0 ? f.delay_ms : AU__RP_SLOW_MS;
    return queue(r, c, &a, f.kind == F_SLOW ? slow : 0);
}

/* ---- control endpoints ---- */

static void faults_post(au_replay_t *r, const req_t *q, answer_t *a)
{
    rule_t add[AU__RP_MAX_RULES];
    int n = 0;
    au_error_t err = {0};
    if (rules_parse(q->body ? q->body : "", q->len, add, &n, &err) < 0 ||
        rules_add(r, add, n, &err) < 0) {
        answer_error(a, MHD_HTTP_BAD_REQUEST, err.msg);
        return;
    }
    for (int i = 0; i < n; i++)
        au_info("replay: fault %s on %s%s", fault_names[add[i].kind],
                add[i].route, add[i].count ? " (counted)" : "");
    answer_json(a, MHD_HTTP_OK, rules_json(r));
}

static void faults_delete(au_replay_t *r, struct MHD_Connection *c, answer_t *a)
{
    const char *route = arg(c, "route");
    int cleared = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = r->nrules - 1; i >= 0; i--) {
        if (!route || strcmp(r->rules[i].route, route) == 0) {
            rule_drop_locked(r, i);
            cleared++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    au_info("replay: %d fault rule(s) cleared", cleared);
    answer_json(a, MHD_HTTP_OK, json_pack("{s:i}", "cleared", cleared));
}

static enum MHD_Result control(au_replay_t *r, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const req_t *q)
{
    answer_t a = {0};
    int faults = strcmp(url, "/_faults") == 0;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        answer_json(&a, MHD_HTTP_OK, faults ? rules_json(r) : stats_json(r));
    } else if (faults && strcmp(method, "POST") == 0) {
        faults_post(r, q, &a);
    } else if (faults && strcmp(method, "DELETE") == 0) {
        faults_delete(r, c, &a);
    } else if (strcmp(method, "DELETE") == 0) {
        pthread_mutex_lock(&r->mu);
        memset(&r->total, 0, sizeof(r->total));
        memset(r->svc, 0, sizeof(r->svc));
        memset(r->route, 0, sizeof(r->route));
        memset(r->unknown, 0, sizeof(r->unknown));
        pthread_mutex_unlock(&r->mu);
        answer_static(&a, MHD_HTTP_OK, ctype_json, "{\"reset\":true}");
    } else {
        answer_error(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        a.allow = faults ? "GET, HEAD, POST, DELETE" : "GET, HEAD, DELETE";
    }
    return queue(r, c, &a, 0);
}

/* ---- HTTP ---- */

static int is_control(const char *url)
{
    return strcmp(url, "/_faults") == 0 || strcmp(url, "/_stats") == 0;
}

static void body_add(req_t *q, const char *data, size_t n)
{
    if (q->too_big)
        return;
    char *p = q->len + n <= AU_REPLAY_MAX_BODY
                  ? realloc(q->body, q->len + n + 1)
                  : NULL;
    if (!p) {
        /* Over the cap (or out of memory): the rest is read and dropped,
         * and the request answered 413 once it is complete. */
        free(q->body);
        q->body = NULL;
        q->len = 0;
        q->too_big = 1;
        return;
    }
    memcpy(p + q->len, data, n);
    q->len += n;
    p[q->len] = '\0';
    q->body = p;
}

static enum MHD_Result too_big(au_replay_t *r, struct MHD_Connection *c,
                               const char *url, const char *method)
{
    if (!is_control(url)) {
        match_t m;
        classify(c, url, method, &m);
        pthread_mutex_lock(&r->mu);
        count_locked(r, &m);
        pthread_mutex_unlock(&r->mu);
    }
    answer_t a = {0};
    answer_fmt(&a, MHD_HTTP_CONTENT_TOO_LARGE,
               "{\"error\":\"request body over %d bytes\"}",
               AU_REPLAY_MAX_BODY);
    return queue(r, c, &a, 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    au_replay_t *r = cls;
    req_t *q = *con_cls;
    if (!q) {
        /* First call, headers only: a declared length over the cap is
         * refused before a byte of the body is read. */
        q = calloc(1, sizeof(*q));
        if (!q)
            return MHD_NO;
        *con_cls = q;
        const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > AU_REPLAY_MAX_BODY)
            return too_big(r, c, url, method);
        return MHD_YES;
    }
    if (*upload_size) {
        body_add(q, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big)
        return too_big(r, c, url, method);
    if (is_control(url))
        return control(r, c, url, method, q);
    return serve(r, c, url, method, q);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    req_t *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
        *con_cls = NULL;
    }
}

/* ---- life cycle ---- */

static int load_blob(blob_t *b, const char *dir, int svc, const char *file,
                     au_error_t *err)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s/%s", dir, svc_dir[svc], file);
    if (n < 0 || (size_t)n >= sizeof(path))
        return au_error_set(err, AU_EINVAL, "replay: fixtures path too long");
    FILE *f = fopen(path, "rb");
    if (!f)
        return au_error_set(err, AU_EIO, "replay: cannot open %s: %s", path,
                            strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        rc = au_error_set(err, AU_EIO, "replay: %s is not a file", path);
    else if ((uintmax_t)st.st_size > AU__RP_MAX_FIXTURE)
        rc = au_error_set(err, AU_ETOOBIG, "replay: %s is over %u bytes", path,
                          AU__RP_MAX_FIXTURE);
    else if (!(b->data = malloc((size_t)st.st_size + 1)))
        rc = au_error_set(err, AU_ENOMEM, "replay: out of memory");
    else if (fread(b->data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = au_error_set(err, AU_EIO, "replay: cannot read %s", path);
    else
        b->len = (size_t)st.st_size;
    fclose(f);
    return rc;
}

static int load_fixtures(au_replay_t *r, const char *dir, au_error_t *err)
{
    for (size_t i = 0; i < AU__RP_NROUTES; i++) {
        const route_t *rt = &routes[i];
        if (rt->kind != R_FIXTURE)
            continue;
        int rc = load_blob(&r->fx[i][0], dir, rt->svc, rt->file, err);
        for (int v = 0; rc == 0 && v < AU__RP_NVAR && rt->var[v].file; v++)
            rc =
                load_blob(&r->fx[i][v + 1], dir, rt->svc, rt->var[v].file, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The client secret and a random token, kept for the server's life. */
static int set_credentials(au_replay_t *r, const au_replay_opts_t *o,
                           au_error_t *err)
{
    const char *id = o->client_id ? o->client_id : AU_REPLAY_CLIENT_ID;
    const char *secret =
        o->client_secret ? o->client_secret : AU_REPLAY_CLIENT_SECRET;
    r->client_len = strlen(id) + 1 + strlen(secret);
    if (strchr(id, ':') || r->client_len > 256)
        return au_error_set(err, AU_EINVAL, "replay: bad client id or secret");
    r->client = malloc(r->client_len + 1);
    if (!r->client || sodium_init() < 0)
        return au_error_set(err, AU_ENOMEM, "replay: cannot set up the token");
    snprintf(r->client, r->client_len + 1, "%s:%s", id, secret);
    unsigned char raw[24];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(r->token, sizeof(r->token), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

static int start(au_replay_t *r, const char *bind, int port, au_error_t *err)
{
    struct sockaddr_in a4 = {0};
    struct sockaddr_in6 a6 = {0};
    struct sockaddr *sa = (struct sockaddr *)&a4;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
    if (inet_pton(AF_INET, bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return au_error_set(err, AU_EINVAL,
                            "replay: bind \"%s\" is not a numeric address",
                            bind);
    }
    /* As au_metrics_serve: the server's threads must not take the
     * process's SIGTERM and SIGINT from the thread that waits for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    errno = 0;
    r->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, r, MHD_OPTION_SOCK_ADDR,
        sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)AU__RP_CONN_TIMEOUT,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, r, MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!r->daemon)
        return au_error_set(err, AU_EIO, "replay: cannot listen on %s:%d: %s",
                            bind, port,
                            saved ? strerror(saved) : "server did not start");
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    r->port = info ? info->port : port;
    return 0;
}

static int init_sync(au_replay_t *r)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    /* wait_ms counts on the monotonic clock, like every delay here. */
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
                     pthread_cond_init(&r->cond, &ca) != 0
                 ? -1
                 : 0;
    pthread_condattr_destroy(&ca);
    if (rc == 0 && pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->cond);
        rc = -1;
    }
    return rc;
}

au_replay_t *au_replay_new(const au_replay_opts_t *o, au_error_t *err)
{
    if (!o || !o->fixtures || o->port < 0 || o->port > 65535 ||
        o->latency_ms < 0 || o->latency_ms > AU_REPLAY_MAX_DELAY_MS) {
        au_error_set(err, AU_EINVAL, "replay: bad options");
        return NULL;
    }
    au_replay_t *r = calloc(1, sizeof(*r));
    if (!r || init_sync(r) != 0) {
        free(r);
        au_error_set(err, AU_ENOMEM, "replay: out of memory");
        return NULL;
    }
    atomic_init(&r->stopping, 0);
    r->latency_ms = o->latency_ms;
    if (set_credentials(r, o, err) < 0 ||
        load_fixtures(r, o->fixtures, err) < 0 ||
        start(r, o->bind ? o->bind : "127.0.0.1", o->port, err) < 0)
        au_replay_destroy(&r);
    return r;
}

void au_replay_destroy(au_replay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_replay_t *r = *self_p;
    if (r->daemon) {
        /* Wake the delayed answers first: stopping joins their threads. */
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->stopping, 1);
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        MHD_stop_daemon(r->daemon);
    }
    for (size_t i = 0; i < AU__RP_NROUTES; i++) {
        for (int v = 0; v <= AU__RP_NVAR; v++)
            free(r->fx[i][v].data);
    }
    free(r->client);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
    *self_p = NULL;
}

int au_replay_port(const au_replay_t *r)
{
    return r ? r->port : 0;
}

const char *au_replay_token(const au_replay_t *r)
{
    return r->token;
}

int au_replay_fault(au_replay_t *r, const char *text, au_error_t *err)
{
    rule_t add[AU__RP_MAX_RULES];
    int n = 0;
    int rc = rules_parse(text, strlen(text), add, &n, err);
    return rc < 0 ? rc : rules_add(r, add, n, err);
}

void au_replay_clear_faults(au_replay_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->nrules = 0;
    pthread_mutex_unlock(&r->mu);
}
