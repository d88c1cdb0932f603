/* au_svc.h: the answers of the web services the live sources read (Last.fm
 * API 2.0, the Spotify Web API, MusicBrainz ws/2), parsed into structs.
 *
 * Pure parsers: no I/O, no globals, nothing kept between calls. Each takes
 * the body as it came (json, len; no terminating NUL needed), an arena and
 * a result struct, and returns 0 or a negative AU_E* code with err saying
 * what and where.
 *
 * Ownership: every string and array of a result is copied into the
 * caller's arena, so the result lives exactly as long as the arena's
 * contents (until au_arena_reset or au_arena_destroy) and nothing else is
 * ever freed by the caller. The JSON tree is freed before a call returns.
 * On failure *out is zeroed; what was copied before the problem was found
 * stays in the arena until its next reset.
 *
 * Strings are UTF-8 without NUL (JSON "\u0000" is refused) and at most
 * AU_SVC_MAX_STR bytes; an optional string the service left out, sent as
 * null or, where the service means "none" by it, as "" (a Last.fm mbid), is
 * NULL. A count the service left out is -1. Arrays hold count elements
 * and are NULL when count is 0.
 *
 * Errors, named by the JSON path of the field (tracks.track[3].name):
 *   AU_EPARSE      not JSON (with jansson's byte position, line and
 *                  column, all counted from 1), a Last.fm number string
 *                  that is not a number, a duplicate key
 *   AU_ETRUNCATED  the body ends inside the JSON (position = its length)
 *   AU_ETRAILING   bytes after the JSON value
 *   AU_EUTF8       invalid UTF-8; AU_ENESTING nested too deep
 *   AU_ETYPE       a field of the wrong type, or a body that is not a
 *                  JSON object
 *   AU_EMISSING    a required field absent or null
 *   AU_ERANGE      a number outside its range, a required string empty,
 *                  an id not of its service's form (Spotify, MBID)
 *   AU_ETOOBIG     the body over AU_SVC_MAX_BODY, an array over
 *                  AU_SVC_MAX_ITEMS, a string over AU_SVC_MAX_STR
 *   AU_ESERVICE    the body is the service's error answer; err->msg is
 *                  "last.fm error 6: ...", "spotify error 404: ..." or
 *                  "musicbrainz error: ..."
 *   AU_ENOMEM      the arena could not grow
 *   AU_EINVAL      a NULL argument
 * Retrying the same body gives the same answer (but for AU_ENOMEM).
 * Whether asking the service again can help after its own error (a rate
 * limit, a timeout) is for the caller, which knows the HTTP status. */
#ifndef AU_SVC_H
#define AU_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "au_arena.h"
#include "au_err.h"

/* The largest real answers are a few hundred KiB (a 100-item playlist page
 * that lists every market); jansson spends tens of bytes per JSON value,
 * so this also bounds the tree a hostile body can make us build. */
#define AU_SVC_MAX_BODY (4u << 20)
#define AU_SVC_MAX_ITEMS 10000 /* elements of any array we copy */
#define AU_SVC_MAX_STR 1024    /* bytes of one string, as on the wire */

/* ---- Last.fm ----------------------------------------------------------- */

/* Which method answered: the three chart pages differ in what they say. */
typedef enum {
    AU_LASTFM_CHART = 0, /* chart.getTopTracks: playcount and listeners */
    AU_LASTFM_GEO = 1,   /* geo.getTopTracks: listeners, 0-based ranks */
    AU_LASTFM_TAG = 2    /* tag.getTopTracks: 1-based ranks, no counts */
} au_lastfm_kind_t;

typedef struct {
    int32_t position;        /* 1-based place in the whole chart */
    const char *name;        /* non-empty */
    const char *artist;      /* non-empty */
    const char *mbid;        /* MusicBrainz recording id, or NULL */
    const char *artist_mbid; /* MusicBrainz artist id, or NULL */
    const char *url;         /* or NULL */
    int64_t playcount;       /* -1 when absent (geo, tag) */
    int64_t listeners;       /* -1 when absent (tag) */
} au_lastfm_track_t;

typedef struct {
    au_lastfm_kind_t kind; /* from @attr: country = geo, tag = tag */
    const char *country;   /* geo: as Last.fm spells it ("Greece") */
    const char *tag;       /* tag: the tag asked for */
    /* From tracks.@attr; -1 when it is absent (positions then count from
     * 1). The page may hold more tracks than per_page: Last.fm does that. */
    int64_t page, per_page, total_pages, total;
    uint32_t count;
    au_lastfm_track_t *tracks;
} au_lastfm_page_t;

/* chart.getTopTracks, geo.getTopTracks or tag.getTopTracks. Position is
 * @attr.rank made 1-based (geo counts from 0, tag from 1) plus the page's
 * offset when the ranks restart on each page; without a rank it is the
 * track's order in the page plus (page - 1) * per_page. */
int au_lastfm_parse_top_tracks(const char *json, size_t len, au_arena_t *a,
                               au_lastfm_page_t *out, au_error_t *err);

/* ---- Spotify Web API ---------------------------------------------------- */

typedef struct {
    const char *access_token; /* non-empty */
    const char *token_type;   /* "Bearer" */
    int64_t expires_in;       /* seconds, >= 0 */
} au_spotify_token_t;

/* An artist as a track lists it. */
typedef struct {
    const char *id; /* or NULL */
    const char *name;
} au_spotify_credit_t;

typedef struct {
    const char *id;   /* 22-character base62 id as Spotify sends it */
    const char *name; /* non-empty */
    uint32_t nartists;
    au_spotify_credit_t *artists;
    const char *album;        /* NULL when the payload has no album */
    const char *release_date; /* "YYYY", "YYYY-MM" or "YYYY-MM-DD", or NULL */
    int64_t duration_ms;      /* >= 0 */
    int32_t popularity;       /* 0..100, -1 when absent */
    const char *isrc;         /* external_ids.isrc, or NULL */
} au_spotify_track_t;

/* A list of tracks: a paging object (playlist items, search) or a plain
 * array (several tracks, top tracks, recommendations). */
typedef struct {
    /* Paging: total is what the whole list holds, which can be more than
     * offset + count (a shortened page). -1 for a plain array. */
    int64_t total, limit, offset;
    const char *next; /* URL of the next page, NULL on the last */
    uint32_t count;   /* tracks kept */
    /* Entries left out: null, a local file (is_local) or not a track (a
     * podcast episode in a playlist). */
    uint32_t skipped;
    au_spotify_track_t *tracks;
} au_spotify_tracks_t;

typedef struct {
    const char *id, *name;
    const char *snapshot_id;    /* or NULL (payloads before 2016) */
    au_spotify_tracks_t tracks; /* its first page of items */
} au_spotify_playlist_t;

typedef struct {
    const char *id, *name;
    uint32_t ngenres;
    const char **genres;
    int32_t popularity; /* 0..100, -1 when absent */
    int64_t followers;  /* followers.total, -1 when absent */
} au_spotify_artist_t;

typedef struct {
    int64_t total, limit, offset; /* as au_spotify_tracks_t */
    const char *next;
    uint32_t count, skipped; /* skipped: null entries (unknown ids) */
    au_spotify_artist_t *artists;
} au_spotify_artists_t;

typedef struct {
    const char *id;
    double danceability, energy, valence; /* 0..1 */
    double tempo;                         /* BPM, 0..1000 */
} au_spotify_features_t;

typedef struct {
    uint32_t count, skipped; /* skipped: null entries (unknown ids) */
    au_spotify_features_t *features;
} au_spotify_features_list_t;

/* POST /api/token (client credentials). Also reads the OAuth error shape
 * {"error":"invalid_client","error_description":...}. */
int au_spotify_parse_token(const char *json, size_t len, au_arena_t *a,
                           au_spotify_token_t *out, au_error_t *err);
/* GET /v1/playlists/{id}: the playlist and its first page of items. */
int au_spotify_parse_playlist(const char *json, size_t len, au_arena_t *a,
                              au_spotify_playlist_t *out, au_error_t *err);
/* GET /v1/playlists/{id}/tracks: a page of {track, is_local} items. */
int au_spotify_parse_playlist_items(const char *json, size_t len, au_arena_t *a,
                                    au_spotify_tracks_t *out, au_error_t *err);
/* {"tracks":[...]}: several tracks, an artist's top tracks,
 * recommendations; null entries (unknown ids) are skipped. */
int au_spotify_parse_tracks(const char *json, size_t len, au_arena_t *a,
                            au_spotify_tracks_t *out, au_error_t *err);
/* GET /v1/tracks/{id}. */
int au_spotify_parse_track(const char *json, size_t len, au_arena_t *a,
                           au_spotify_track_t *out, au_error_t *err);
/* GET /v1/search?type=track: the paging object under "tracks". */
int au_spotify_parse_search_tracks(const char *json, size_t len, au_arena_t *a,
                                   au_spotify_tracks_t *out, au_error_t *err);
/* GET /v1/artists/{id}. */
int au_spotify_parse_artist(const char *json, size_t len, au_arena_t *a,
                            au_spotify_artist_t *out, au_error_t *err);
/* {"artists":[...]}: several artists, related artists. */
int au_spotify_parse_artists(const char *json, size_t len, au_arena_t *a,
                             au_spotify_artists_t *out, au_error_t *err);
/* GET /v1/search?type=artist: the paging object under "artists". */
int au_spotify_parse_search_artists(const char *json, size_t len, au_arena_t *a,
                                    au_spotify_artists_t *out, au_error_t *err);
/* GET /v1/audio-features/{id}. */
int au_spotify_parse_features(const char *json, size_t len, au_arena_t *a,
                              au_spotify_features_t *out, au_error_t *err);
/* GET /v1/audio-features?ids=: null entries (unknown ids) skipped. */
int au_spotify_parse_features_list(const char *json, size_t len, au_arena_t *a,
                                   au_spotify_features_list_t *out,
                                   au_error_t *err);

/* ---- MusicBrainz ws/2 --------------------------------------------------- */

/* One name of an artist-credit. */
typedef struct {
    const char *name;        /* as credited */
    const char *joinphrase;  /* what follows it (" feat. "), "" at the end */
    const char *artist_id;   /* MBID */
    const char *artist_name; /* the artist's own name */
} au_mb_credit_t;

typedef struct {
    const char *id;                 /* MBID */
    const char *title;              /* non-empty */
    int64_t length_ms;              /* -1 when unknown */
    int32_t score;                  /* search: 0..100; lookup: -1 */
    const char *first_release_date; /* or NULL */
    /* The credit as MusicBrainz displays it: each name and its joinphrase
     * ("Ed Sheeran feat. Meek Mill & A Boogie Wit da Hoodie"). */
    const char *credit;
    uint32_t ncredits;
    au_mb_credit_t *credits;
    uint32_t nisrcs;
    const char **isrcs;
} au_mb_recording_t;

typedef struct {
    const char *id, *name, *sort_name;
    const char *country;     /* ISO 3166-1 code, or NULL */
    const char *type;        /* "Person", "Group", ..., or NULL */
    const char *begin, *end; /* life-span dates as given, or NULL */
    bool ended;              /* life-span.ended; false when null */
    int32_t score;           /* search: 0..100; lookup: -1 */
} au_mb_artist_t;

/* A search page: count is what matched in all, n what this page holds. */
typedef struct {
    const char *created; /* or NULL */
    int64_t count, offset;
    uint32_t n;
    au_mb_recording_t *recordings;
} au_mb_recordings_t;

typedef struct {
    const char *created;
    int64_t count, offset;
    uint32_t n;
    au_mb_artist_t *artists;
} au_mb_artists_t;

/* GET /ws/2/recording/{mbid}?inc=artist-credits+isrcs. */
int au_mb_parse_recording(const char *json, size_t len, au_arena_t *a,
                          au_mb_recording_t *out, au_error_t *err);
/* GET /ws/2/recording?query=... */
int au_mb_parse_recording_search(const char *json, size_t len, au_arena_t *a,
                                 au_mb_recordings_t *out, au_error_t *err);
/* GET /ws/2/isrc/{isrc}?inc=artist-credits: the recordings of an ISRC. */
int au_mb_parse_isrc(const char *json, size_t len, au_arena_t *a,
                     au_mb_recordings_t *out, au_error_t *err);
/* GET /ws/2/artist/{mbid}. */
int au_mb_parse_artist(const char *json, size_t len, au_arena_t *a,
                       au_mb_artist_t *out, au_error_t *err);
/* GET /ws/2/artist?query=... */
int au_mb_parse_artist_search(const char *json, size_t len, au_arena_t *a,
                              au_mb_artists_t *out, au_error_t *err);

#endif
