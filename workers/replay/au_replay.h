/* au_replay.h: an HTTP server that replays genuine third-party API answers.
 *
 * audora-replay answers like Last.fm, the Spotify Web API and MusicBrainz
 * with the responses stored in the fixtures directory (<source>/../shared/
 * fixtures/real, described in its SOURCES.md), so tests, benchmarks and
 * demos run against real payloads without the network, and it breaks on
 * demand: each route can be made to fail at run time through /_faults.
 * docs/ARCHITECTURE.md ("The replay server") is the short version.
 *
 * Routes (route name: request -> fixture file; '{id}' is one path segment;
 * "a|b" means b when the parameter or id says so, a otherwise):
 *
 *   Last.fm, GET /lastfm/2.0/?method=M&api_key=K (M in any case)
 *   lastfm/chart.getTopTracks   lastfm/chart.getTopTracks_limit10_page2_...
 *   lastfm/chart.getTopArtists  chart.getTopArtists_limit10_page2_...
 *                               | limit=5: chart.getTopArtists_limit5_2023
 *   lastfm/geo.getTopTracks     geo.getTopTracks_greece_limit10_...
 *   lastfm/geo.getTopArtists    geo.getTopArtists_greece_limit10_...
 *                               | country=australia: ..._australia_limit5_...
 *   lastfm/tag.getTopTracks     tag.getTopTracks_rap_limit2_...
 *   lastfm/track.getInfo        track.getInfo_acdc_hellsbells_REDACTED_...
 *                               | artist=the cure or username=...:
 *                                 track.getInfo_thecure_plainsong_...
 *   lastfm/artist.getInfo       artist.getInfo_gunsnroses_REDACTED_...
 *                               | artist=frightened rabbit: ..._legacy_2014
 *
 *   Spotify, under /spotify (the files are in spotify_api/)
 *   spotify/token          POST /api/token           an access token
 *   spotify/playlist       GET /v1/playlists/{id}    swajava_GetPlaylist...
 *                          | 4vHIKV7j4QcZwgzGQcZg1x: jmperez_playlist
 *   spotify/playlist-tracks GET /v1/playlists/{id}/tracks
 *                          swajava_GetPlaylistsItems...
 *                          | 0EIVqzEcrY2a8vO0AUJar2: jmperez_playlist_tracks
 *   spotify/track          GET /v1/tracks/{id}       swajava_GetTrack...
 *                          | 0eGsygTp906u18L0Oimnem: jmperez_track
 *   spotify/tracks         GET /v1/tracks?ids=       swajava_GetSeveral...
 *                          | ids has 1lDWb6b6ieDQ2xT7ewTC3G: jmperez_tracks
 *   spotify/artist         GET /v1/artists/{id}      swajava_GetArtist...
 *                          | 0LcJLqbBmaGUft1e9Mm8HV: jmperez_artist
 *                          | 0oSGxfWSnnOXhD2fKuz2Gy: jmperez_artists
 *   spotify/artists        GET /v1/artists?ids=      swajava_GetSeveral...
 *   spotify/artist-top-tracks GET /v1/artists/{id}/top-tracks
 *                          swajava_GetArtistsTopTracks...
 *   spotify/artist-related GET /v1/artists/{id}/related-artists
 *                          jmperez_artist_related_artists
 *   spotify/audio-features GET /v1/audio-features/{id}
 *                          swajava_GetAudioFeaturesForTrack...
 *   spotify/audio-features-several GET /v1/audio-features?ids=
 *                          swajava_GetAudioFeaturesForSeveralTracks...
 *                          | ids has 06AKEBrKUckW0KREUWRnvT:
 *                            jmperez_tracks_audio_features
 *   spotify/search         GET /v1/search?q=&type=   swajava_SearchTracks...
 *                          | type=artist: jmperez_search_artist
 *                          | q=gatan: jmperez_search_track
 *   spotify/album          GET /v1/albums/{id}       jmperez_album
 *   spotify/album-tracks   GET /v1/albums/{id}/tracks jmperez_album_tracks
 *   spotify/recommendations GET /v1/recommendations  swajava_GetRecommend...
 *   spotify/new-releases   GET /v1/browse/new-releases jmperez_new_releases
 *
 *   MusicBrainz, under /musicbrainz (files in musicbrainz/)
 *   musicbrainz/recording  GET /ws/2/recording/{mbid} picard_recording_lookup
 *                          | 11f3c37d-...: mbandroid_recording_lookup
 *                          | 7684982a-...: picard_recording_multi_artists_1
 *   musicbrainz/recording-search GET /ws/2/recording?query=
 *                          501: no genuine recording search answer is stored
 *   musicbrainz/isrc       GET /ws/2/isrc/{isrc}     the recordings above
 *                          whose isrcs hold it, as {"isrc","recordings"}
 *                          (none was recorded); 404 {"error":"Not Found"}
 *                          when none does
 *   musicbrainz/artist     GET /ws/2/artist/{mbid}   picard_artist_lookup
 *                          | inc has url-rels or releases:
 *                            mbandroid_artist_lookup_ed_sheeran
 *   musicbrainz/artist-search GET /ws/2/artist?query= artist_search_metal_...
 *                          | query has acdc or ac/dc: artist_search_acdc_...
 *   musicbrainz/release    GET /ws/2/release/{mbid}  picard_release_lookup
 *                          | 94ad3a58-...: mbandroid_release_lookup
 *   musicbrainz/release-group GET /ws/2/release-group/{mbid}
 *                          picard_release_group_lookup
 *                          | 05ce100c-...: mbandroid_release-group_lookup
 *   musicbrainz/release-search GET /ws/2/release?query=
 *                          release_search_rory_gallagher_...
 *
 * A parameter matches a variant when it holds the word, in any case. A
 * path that no route knows answers 404 {"error":"no such route","path":P}
 * and counts as "<service>/unknown" (or "unknown" outside the three
 * services); a known path with the wrong method answers 405. Fixtures are
 * sent byte for byte with Content-Type application/json; HEAD works
 * wherever GET does.
 *
 * Authentication, as the services ask for it:
 *   Last.fm      api_key missing or empty: 403 {"error":10,"message":
 *                "Invalid API key - You must be granted a valid key by
 *                last.fm"}; any non-empty key is accepted.
 *   Spotify      POST /spotify/api/token with HTTP Basic client_id:secret
 *                (opts) and the form body grant_type=client_credentials
 *                answers {"access_token":T,"token_type":"Bearer",
 *                "expires_in":3600}; T is random per server and never
 *                expires. Wrong or missing Basic auth: 400
 *                {"error":"invalid_client"}; another grant type: 400
 *                {"error":"unsupported_grant_type"}. Everything under
 *                /spotify/v1 needs "Authorization: Bearer T": 401
 *                {"error":{"status":401,"message":"No token provided"}},
 *                or "Invalid access token" for another token.
 *   MusicBrainz  no (or an empty) User-Agent header: 403.
 *
 * Control endpoints (never counted, never delayed, never faulted):
 *   POST /_faults   one rule per line (text), or a JSON object or array of
 *                   objects with the same keys; the answer lists the rules.
 *       route=R [fault=K] [count=N] [retry_after=S]
 *       [retry_after_form=seconds|date] [delay_ms=MS] [latency_ms=MS]
 *     R  a service (lastfm, spotify, musicbrainz, unknown), a route name
 *        (spotify/token), or a path prefix starting with '/' that ends at
 *        a segment boundary (/spotify/v1/tracks).
 *     K  429 (Retry-After: S seconds, default 1, or an HTTP-date S seconds
 *        ahead), 503 (Retry-After only when S is given), 500, slow
 *        (status and headers at once, the body delay_ms later, default
 *        2000), reset (the connection closed without an answer),
 *        truncated (status 200 and the first half of the body),
 *        wrong_type (the body as text/plain), html200 (an HTML error page
 *        with status 200), 401 (a credential that expired: Spotify's
 *        "The access token expired", Last.fm's error 9), none (the default:
 * only latency_ms, or shadow an older rule). 401, 429, 500 and 503 bodies take
 * the service's error shape. count=N: the next N matching requests, then the
 * rule is gone; no count: until cleared. Tokens are separated by blanks or '&'
 * and
 *     %-decoded, so a form body works too. The newest matching rule
 *     decides, and a rule for the same R replaces the older one. Faults
 *     come before authentication, as a front-end's would.
 *   GET /_faults    the rules as JSON.
 *   DELETE /_faults[?route=R]  clears all rules, or the rule for R.
 *   GET /_stats     {"requests":N,
 *                    "services":{"lastfm":{"requests":N,
 *                                          "max_per_second":M},...},
 *                    "routes":{"lastfm/chart.getTopTracks":{...},...}}
 *                   every service and route, zeros included; M is the
 *                   most requests seen within one second (a sliding
 *                   window in 10 ms steps).
 *   DELETE /_stats  resets the counts.
 *
 * Bodies over AU_REPLAY_MAX_BODY answer 413. Requests are served one
 * thread per connection, so a delayed answer holds only its own
 * connection; the rules and counts are shared under one mutex. */
#ifndef AU_REPLAY_H
#define AU_REPLAY_H

#include "au_err.h"

#define AU_REPLAY_CLIENT_ID "audora-replay"
#define AU_REPLAY_CLIENT_SECRET "audora-replay-secret"
#define AU_REPLAY_MAX_BODY (64 * 1024)
#define AU_REPLAY_MAX_DELAY_MS 60000 /* latency_ms, delay_ms, --latency-ms */

typedef struct au_replay_t au_replay_t;

typedef struct {
    const char *bind;      /* numeric IPv4 or IPv6 address; NULL: 127.0.0.1 */
    int port;              /* 0: any free port (see au_replay_port) */
    const char *fixtures;  /* the fixtures directory; required */
    int latency_ms;        /* added before every replayed answer */
    const char *client_id; /* Spotify Basic auth; NULL: the default */
    const char *client_secret; /* NULL: AU_REPLAY_CLIENT_SECRET */
} au_replay_opts_t;

/* Loads every fixture of the route table and starts serving in threads
 * of its own. NULL with err set: AU_EINVAL for a bad option, AU_EIO when a
 * fixture cannot be read or the socket bound, AU_ENOMEM. */
au_replay_t *au_replay_new(const au_replay_opts_t *opts, au_error_t *err);
/* Wakes every delayed answer, stops the server (joining its threads) and
 * frees; *self_p becomes NULL. */
void au_replay_destroy(au_replay_t **self_p);
/* The port actually bound. */
int au_replay_port(const au_replay_t *r);
/* The access token POST /spotify/api/token hands out (owned by r). */
const char *au_replay_token(const au_replay_t *r);
/* Adds rules as POST /_faults does (text form); AU_EINVAL with err naming
 * the key or value, and then no rule of text is added. */
int au_replay_fault(au_replay_t *r, const char *text, au_error_t *err);
/* Clears every rule, as DELETE /_faults does. */
void au_replay_clear_faults(au_replay_t *r);

#endif
