/* au_store.h: the trend store, owner of the series, trends, tracks,
 * artists, audio_features and viral_predictions tables
 * (docs/ARCHITECTURE.md, "Storage").
 *
 * A trends row is keyed by numbers: (series_id, track_id, chart_date).
 * The names live once, in series, tracks and artists; au_store_series_id
 * and au_store_resolve_tracks turn names into numbers, creating what is
 * new. Bulk writes are COPY, straight into trends for rows the caller
 * knows are new, through a per-connection temporary load table and one
 * set-based statement otherwise, so a batch of N rows costs a handful of
 * round trips, never N. */
#ifndef AU_STORE_H
#define AU_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "au_cache.h"
#include "au_err.h"
#include "au_pg.h"

/* ---- identities (au_store_ident.c) -------------------------------------- */

#define AU_STORE_NAME_MAX 64 /* bytes of a platform, chart or region */

/* The id of a series, created when new. AU_EINVAL for an empty name or one
 * over AU_STORE_NAME_MAX bytes. */
int au_store_series_id(PGconn *c, const char *platform, const char *chart,
                       const char *region, int32_t *id, au_error_t *err);

/* One track as a chart lists it. */
typedef struct {
    const char *track_key;  /* canonical identity */
    const char *spotify_id; /* may be NULL */
    const char *name;       /* as this chart spells it */
    const char *artist;     /* as this chart spells it */
    const char *artist_key; /* normalised artist identity */
    long day;               /* the chart's date, days since 1970-01-01 */
} au_track_ref_t;

/* The ids of n tracks, in order, creating tracks and artists that are new.
 * A track's stored name and artist, and an artist's name, are the
 * spelling of the earliest chart that listed it, ties going to the
 * smallest spelling (byte order): the minimum over every chart seen, so
 * one function of the stored charts whatever order they came in. */
int au_store_resolve_tracks(PGconn *c, const au_track_ref_t *t, size_t n,
                            int32_t *ids, au_error_t *err);

/* ---- a batch's rows (au_store.c) ---------------------------------------- */

/* One trends row: the facts and the values derived from them. */
typedef struct {
    int32_t series_id, track_id;
    long day;         /* chart date, days since 1970-01-01 */
    int32_t position; /* >= 1 */
    int64_t streams;  /* -1: not reported (NULL) */
    /* Derived (au_entry_score). NAN and -1 are stored as NULL: "not
     * computed". */
    int32_t prev_position; /* 0: no earlier entry (NULL) */
    double score;          /* 0..100 */
    double momentum, acceleration, viral_score, confidence, mood_score;
    int direction, mood; /* au_direction_t, au_mood_t, or -1 */
    double breakout;     /* weekly charts: the breakout chance, else NAN */
} au_trend_t;

/* How au_store_write_trends writes. */
typedef enum {
    AU_WRITE_NEW,    /* every row is new: COPY straight into trends */
    AU_WRITE_UPSERT, /* rows may exist: facts and derived values replaced */
    AU_WRITE_DERIVED /* rows exist: derived values replaced, facts kept */
} au_write_mode_t;

/* Writes rows inside the caller's transaction. AU_WRITE_NEW is only
 * right for a caller that holds the series lock and has read that none of
 * the rows exists (a duplicate key is then an error, never a silent
 * overwrite). 0, or the database error. */
int au_store_write_trends(PGconn *c, const au_trend_t *rows, size_t n,
                          au_write_mode_t mode, au_error_t *err);

/* Locks a series' row until the caller's transaction ends: the writers of
 * one series commit one at a time, and the lock dies with the transaction
 * (or its session), so a stuck writer holds nobody longer than the
 * server's lock_timeout and idle_in_transaction_session_timeout allow. */
int au_store_lock_series(PGconn *c, int32_t series_id, int64_t *instance,
                         au_error_t *err);
/* The store's random instance number (store_meta): ids learnt from one
 * store are valid in the store with the same number only. The lock above
 * returns it too, in the same round trip. */
int au_store_instance(PGconn *c, int64_t *instance, au_error_t *err);

/* One row of viral_predictions: the prediction of one chart entry. */
typedef struct {
    int32_t series_id, track_id;
    long day;                    /* the entry's chart date */
    double confidence;           /* 0..1 */
    long peak_day;               /* predicted peak date; < 1 AD: unknown */
    double predicted_peak_score; /* NAN: not predicted */
    const char *features_json;   /* prediction_features, a JSON object */
    const char *method;          /* "breakout" or "viral" */
} au_prediction_t;

/* The entry a derived value belongs to. */
typedef struct {
    int32_t series_id, track_id;
    long day;
} au_entry_key_t;

/* Inside the caller's transaction: the predictions of the given entries
 * become exactly p (each p[i] must name one of them): the ones of other
 * entries are untouched. nkeys 0 skips the clearing (new entries). */
int au_store_write_predictions(PGconn *c, const au_entry_key_t *keys,
                               size_t nkeys, const au_prediction_t *p, size_t n,
                               au_error_t *err);

/* ---- the store API by names (au_store_named.c) -------------------------- */

/* A chart entry given by names, as a person or a script has it. */
typedef struct {
    const char *platform, *chart, *region;
    const char *date; /* YYYY-MM-DD */
    const char *track_key;
    const char *spotify_id; /* may be NULL */
    const char *track_name;
    const char *artist;     /* as the source spells it */
    const char *artist_key; /* normalised */
    int32_t position;       /* >= 1 */
    int64_t streams;        /* -1: unknown (stored as NULL) */
    double score;           /* 0..100 */
    int32_t prev_position;  /* 0: none */
} au_named_trend_t;

/* 0 if row is storable, else AU_EINVAL/AU_ERANGE with the reason. */
int au_named_trend_validate(const au_named_trend_t *row, au_error_t *err);

/* save_trends_bulk: upserts the rows in one transaction, creating their
 * series, tracks and artists; derived values other than prev_position are
 * left as they are (analytics computes them). Invalid rows are logged and
 * skipped; *saved counts the rest. */
int au_store_save_trends_bulk(PGconn *c, const au_named_trend_t *rows, size_t n,
                              size_t *saved, au_error_t *err);

/* get_tracks_with_artists_bulk: for N (track name, artist) pairs, every
 * active trend row whose track name and artist contain them (case
 * insensitive), best score first, as a JSON array of objects {platform,
 * track_key, track_name, artist, score, rank, region, chart, trend_date}.
 * One query for all pairs; the answer is cached 5 minutes (kind BULK)
 * under a key built from the sorted pairs, so argument order does not
 * matter and every process shares it. *json is malloc'd. cache may be
 * NULL. */
int au_store_tracks_bulk(PGconn *c, au_cache_t *cache, size_t n,
                         const char *const *tracks, const char *const *artists,
                         char **json, au_error_t *err);

/* update_trends_bulk: sets whitelisted columns on every trend row of the
 * given track keys in one statement. Columns: score, is_active, position,
 * streams. Anything else is AU_EINVAL (never interpolated). */
typedef struct {
    const char *column;
    const char *value; /* text form; NULL sets SQL NULL */
} au_update_t;
int au_store_update_trends_bulk(PGconn *c, size_t nkeys,
                                const char *const *track_keys, size_t nupd,
                                const au_update_t *upd, long *updated,
                                au_error_t *err);

/* get_trending_summary_cached: {"stats":{unique_tracks, platforms,
 * avg_score, max_score, total_entries}, "top_tracks":[10 x {track_name,
 * artist, platform, score, rank}], "period_days", "platform"} over the
 * `days` days up to as_of (YYYY-MM-DD; NULL: today). Cached 10 minutes
 * (kind SUMMARY). platform NULL means all. */
int au_store_summary(PGconn *c, au_cache_t *cache, const char *platform,
                     int days, const char *as_of, char **json, au_error_t *err);

/* Loads an audio-features CSV (the hit-predictor layout: track, artist,
 * uri, danceability, ...) into audio_features; *loaded distinct tracks. */
int au_store_load_features(PGconn *c, const char *path, long *loaded,
                           au_error_t *err);

/* ---- reading (au_store_read.c) ---------------------------------------- */

/* One series (platform, chart, region) read back whole, for analyses that
 * need every week of it (the backtest). Dates ascend; tracks are sorted
 * by key (byte order); rows come in date order and name their date and
 * track by index. Free with au_series_destroy. */
typedef struct {
    size_t track, date; /* indexes into keys[] and dates[] */
    int position;
    long long streams; /* -1: not reported */
} au_series_row_t;

typedef struct {
    size_t n_dates, n_tracks, n_rows;
    char (*dates)[11];
    char **keys, **names, **artists; /* names and artists: the track's
                                        stored spelling */
    au_series_row_t *rows;
} au_series_t;

/* Reads the series in one snapshot. An empty or unknown series is not an
 * error (n_dates 0). */
int au_store_read_series(PGconn *c, const char *platform, const char *chart,
                         const char *region, au_series_t **out,
                         au_error_t *err);
void au_series_destroy(au_series_t **self_p);

/* ---- the commands' reads (au_store_read.c) ------------------------------
 * Each returns the rows as a PGresult the caller PQclears; the columns are
 * named here, in order. Text parameters that are NULL mean "any". */

typedef enum {
    AU_TOP_BY_VIRAL,    /* highest viral_score */
    AU_TOP_BY_MOVEMENT, /* most positions gained (prev_position - position) */
    AU_TOP_BY_BREAKOUT  /* highest breakout chance (weekly charts) */
} au_top_by_t;

typedef struct {
    au_top_by_t by;
    const char *platform, *region, *chart; /* NULL: any */
    const char *from, *to;                 /* YYYY-MM-DD, inclusive; NULL */
    int limit;
} au_store_top_q_t;

/* One row per track: its best active entry in the range (highest viral
 * score, most positions gained, or highest breakout chance; ties to the
 * better position, then the later date); entries whose metric is NULL
 * never count. Ranked by the metric, then position, then track key.
 * Columns: track_key, track_name, artist, platform, region, chart, date,
 * position, viral_score, confidence, momentum, direction, prev_position,
 * position_change, breakout. */
int au_store_top(PGconn *c, const au_store_top_q_t *q, PGresult **out,
                 au_error_t *err);
/* Tracks charted between the dates (NULL: open) that have all four audio
 * features in the mood scorer's ranges, one row each: track_key,
 * track_name, artist, valence, energy, danceability, tempo. *charted:
 * every track charted in the range. */
int au_store_playlist_tracks(PGconn *c, const char *from, const char *to,
                             PGresult **out, long *charted, au_error_t *err);
/* Entries of the `days` days up to as_of (NULL: today) whose track name
 * and artist contain the given strings (any case, no wildcards), one row
 * per series: series ("platform/chart/region"), first_date, first_day
 * (days since 1970-01-01), peak_score, matched_tracks (over all series);
 * by first appearance. */
int au_store_spread(PGconn *c, const char *track, const char *artist, int days,
                    const char *as_of, PGresult **out, au_error_t *err);
/* Row counts of trends, tracks and artists. */
int au_store_counts(PGconn *c, long long *trends, long long *tracks,
                    long long *artists, au_error_t *err);
/* The `limit` tracks with the most streams over every entry: track,
 * artist, streams, entries. */
int au_store_top_streams(PGconn *c, int limit, PGresult **out, au_error_t *err);
/* The `limit` biggest climbs since a previous entry: track, artist,
 * region, chart, chart_date, was, now, gained. */
int au_store_movers(PGconn *c, int limit, PGresult **out, au_error_t *err);

/* ---- the workers' reads (au_store_read.c) ------------------------------
 * Rows are handed to a callback with the index of the key they belong to
 * (ids[i]); a callback returning < 0 stops the read with that code. */

/* One stored entry of a track in a series. */
typedef struct {
    long day;         /* chart date, days since 1970-01-01 */
    int32_t position; /* >= 1 */
    int64_t streams;  /* -1: not reported */
} au_store_hist_t;
typedef int (*au_store_hist_fn)(void *arg, size_t i, const au_store_hist_t *h);

/* The newest `keep` entries of each track in the series, newest first. */
int au_store_read_newest(PGconn *c, int32_t series_id, size_t n,
                         const int32_t *track_ids, int keep,
                         au_store_hist_fn fn, void *arg, au_error_t *err);
/* For each track: the `before` newest entries dated before `day` (newest
 * first), then the `after` oldest entries dated `day` or later (oldest
 * first). */
int au_store_read_around(PGconn *c, int32_t series_id, size_t n,
                         const int32_t *track_ids, long day, int before,
                         int after, au_store_hist_fn fn, void *arg,
                         au_error_t *err);

#define AU_FEATURES 4 /* danceability, energy, valence, tempo */
typedef int (*au_store_features_fn)(void *arg, size_t i,
                                    const float f[AU_FEATURES]);
/* The generation of the stored audio features: it grows with every load,
 * so a cache keyed by it never serves features a load replaced. */
/* ---- MusicBrainz ids of artists (au_store_named.c) ---- */

/* Artists never looked up at MusicBrainz, oldest first: name, artist_key;
 * or, with names (n > 0), those artists (by their keys) whatever their
 * state. The caller PQclears *out. */
int au_store_artists_to_look_up(PGconn *c, int limit, size_t n,
                                const char *const *keys, PGresult **out,
                                au_error_t *err);
/* Records a lookup's answers: mbids[i] the artist's MusicBrainz id, or
 * NULL for none found (an id found before is kept); every one is marked
 * looked up now. *updated: rows
 * changed (artists not in the store are skipped). */
int au_store_set_mbids(PGconn *c, size_t n, const char *const *keys,
                       const char *const *mbids, long *updated,
                       au_error_t *err);

/* ---- what the Spotify Web API says of tracks (au_store_named.c) ---- */

/* Stored tracks with a Spotify id never looked up, oldest first: their
 * spotify_id. The caller PQclears *out. */
int au_store_tracks_to_look_up(PGconn *c, int limit, PGresult **out,
                               au_error_t *err);
/* Records a lookup's answers for n Spotify ids: popularity[i] (a number
 * 0..100 as text, or NULL: none) and isrc[i] (NULL: none); what was known
 * before is kept where the answer has nothing; every one is marked looked
 * up. *updated: rows. */
int au_store_set_track_meta(PGconn *c, size_t n, const char *const *ids,
                            const char *const *popularity,
                            const char *const *isrc, long *updated,
                            au_error_t *err);
/* The Spotify id each artist key is credited with in a track's answer;
 * only artists without one take it (the first of a key in the list).
 * *updated: rows. */
int au_store_set_artist_ids(PGconn *c, size_t n, const char *const *keys,
                            const char *const *ids, long *updated,
                            au_error_t *err);

/* ---- what the Spotify Web API says of artists (au_store_named.c) ---- */

/* Stored artists with a Spotify id never looked up, oldest first: their
 * spotify_id. The caller PQclears *out. */
int au_store_spotify_artists_to_look_up(PGconn *c, int limit, PGresult **out,
                                        au_error_t *err);
/* Records a lookup's answers for n Spotify artist ids: keys[i] the
 * answer's artist key (NULL: the id was not answered, only marked),
 * popularity[i] and followers[i] numbers as text or NULL, genres[i] a
 * JSON array of strings or NULL. An artist without an id takes the one
 * answered under its key. *updated: rows. */
int au_store_set_artist_meta(PGconn *c, size_t n, const char *const *ids,
                             const char *const *keys,
                             const char *const *popularity,
                             const char *const *followers,
                             const char *const *genres, long *updated,
                             au_error_t *err);

/* ---- audio features from the Spotify Web API (au_store_named.c) ---- */

/* Stored tracks with a Spotify id, no audio features and never asked for
 * them, oldest first: their spotify_id. The caller PQclears *out. */
int au_store_features_to_look_up(PGconn *c, int limit, PGresult **out,
                                 au_error_t *err);
/* Stores the features answered for n ids: f[0..3] danceability, energy,
 * valence, tempo as text (f[0][i] NULL: none answered); grows the
 * features generation when any changed; marks every id asked. *stored:
 * features written or changed. */
int au_store_set_features(PGconn *c, size_t n, const char *const *ids,
                          const char *const *const f[4], long *stored,
                          au_error_t *err);

/* ---- MusicBrainz recordings of tracks (au_store_named.c) ---- */

/* ISRCs of stored tracks never looked up at MusicBrainz, oldest first.
 * The caller PQclears *out. */
int au_store_isrcs_to_look_up(PGconn *c, int limit, PGresult **out,
                              au_error_t *err);
/* Records n ISRC lookups: mbids[i] the recording (NULL: none found), and
 * its first credited artist's key and MBID (NULL: none) for an artist
 * that has no MBID yet; every track of the ISRCs is marked looked up.
 * *updated: tracks. */
int au_store_set_recordings(PGconn *c, size_t n, const char *const *isrcs,
                            const char *const *mbids,
                            const char *const *artist_keys,
                            const char *const *artist_mbids, long *updated,
                            au_error_t *err);

int au_store_features_generation(PGconn *c, long long *gen, au_error_t *err);
/* The audio features of each Spotify track id that has all four. */
int au_store_read_features(PGconn *c, size_t n, const char *const *spotify_ids,
                           au_store_features_fn fn, void *arg, au_error_t *err);

#endif
