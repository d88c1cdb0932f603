/* au_store.h: the trend store, owner of the trends, tracks, artists,
 * audio_features and viral_predictions tables (docs/ARCHITECTURE.md).
 *
 * Bulk writes go through COPY into a per-connection temporary load
 * table and one set-based upsert per table, so a batch of N rows costs a
 * handful of round trips, never N. */
#ifndef AU_STORE_H
#define AU_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "au_cache.h"
#include "au_err.h"
#include "au_pg.h"

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
    int32_t position_change;
    int64_t job_id; /* 0: none */
    /* The analytics scores; all stored as NULL unless has_analytics, and
     * each NAN (or NULL string) is stored as NULL: "not computed". */
    int has_analytics;
    double platform_score, momentum, acceleration, viral_score, confidence;
    const char *direction, *mood;
    double mood_score;
} au_trend_t;

/* A viral prediction: one row of viral_predictions. */
typedef struct {
    const char *track_key, *track_name, *artist;
    double confidence;                       /* 0..1 */
    long prediction_day, predicted_peak_day; /* days since 1970-01-01 */
    double predicted_peak_score;
    const char *features_json; /* prediction_features, a JSON object */
} au_prediction_t;

/* Upserts predictions on (track_key, prediction_date) inside the caller's
 * transaction, in one statement. */
int au_store_write_predictions(PGconn *c, const au_prediction_t *p, size_t n,
                               au_error_t *err);

/* 0 if row is storable, else AU_EINVAL/AU_ERANGE with the reason. */
int au_trend_validate(const au_trend_t *row, au_error_t *err);

/* Writes rows inside the caller's open transaction: artists and tracks
 * are inserted when new, trends upserted on their natural key (platform,
 * chart, region, date, track), and the next entry of each track in its
 * series gets its previous position fixed, so dates may arrive in any
 * order. Invalid rows are logged and skipped; *written counts the rest. */
int au_store_write_trends(PGconn *c, const au_trend_t *rows, size_t n,
                          size_t *written, au_error_t *err);

/* The same with flags. AU_STORE_SKIP_SUCCESSORS leaves the successor
 * fix-up to the caller, who knows each track's next entry already (the
 * analytics worker does, from the history it scores with) and calls
 * au_store_fix_successors with explicit keys. */
enum {
    AU_STORE_SKIP_SUCCESSORS = 1u,
    /* Every track and artist of the rows is known to exist already: skip
     * their upserts (the analytics worker remembers what it wrote). */
    AU_STORE_SKIP_DIMENSIONS = 2u
};
int au_store_write_trends_opt(PGconn *c, const au_trend_t *rows, size_t n,
                              unsigned flags, size_t *written, au_error_t *err);

typedef struct {
    const char *platform, *chart, *region, *track_key;
    long day;              /* the successor's chart date, days since 1970 */
    int32_t prev_position; /* the position it follows */
} au_successor_t;

/* Sets prev_position/position_change of the given rows, by primary key,
 * in one statement inside the caller's transaction. */
int au_store_fix_successors(PGconn *c, const au_successor_t *s, size_t n,
                            au_error_t *err);

/* save_trends_bulk: the same in its own transaction. */
int au_store_save_trends_bulk(PGconn *c, const au_trend_t *rows, size_t n,
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
    char **keys, **names, **artists; /* names and artists: any spelling
                                        the series used for the track */
    au_series_row_t *rows;
} au_series_t;

/* Reads the series in one snapshot. An empty series is not an error
 * (n_dates 0). */
int au_store_read_series(PGconn *c, const char *platform, const char *chart,
                         const char *region, au_series_t **out,
                         au_error_t *err);
void au_series_destroy(au_series_t **self_p);

/* ---- the commands' reads (au_store_read.c) ------------------------------
 * Each returns the rows as a PGresult the caller PQclears; the columns are
 * named here, in order. Text parameters that are NULL mean "any". */

typedef enum {
    AU_TOP_BY_VIRAL,   /* highest viral_score */
    AU_TOP_BY_MOVEMENT /* most positions gained (position_change) */
} au_top_by_t;

typedef struct {
    au_top_by_t by;
    const char *platform, *region, *chart; /* NULL: any */
    const char *from, *to;                 /* YYYY-MM-DD, inclusive; NULL */
    int limit;
} au_store_top_q_t;

/* One row per track: its best active entry in the range (highest viral
 * score, or most positions gained; ties to the better position, then the
 * later date); entries whose metric is NULL never count. Ranked by the
 * metric, then position, then track key. Columns: track_key, track_name,
 * artist, platform, region, chart, date, position, viral_score,
 * confidence, momentum, direction, prev_position, position_change. */
int au_store_top(PGconn *c, const au_store_top_q_t *q, PGresult **out,
                 au_error_t *err);
/* Tracks charted between the dates (NULL: open) that have all four audio
 * features in the mood scorer's ranges, one row each with the latest
 * spelling of its name: track_key, track_name, artist, valence, energy,
 * danceability, tempo. *charted: every track charted in the range. */
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
 * (keys[i]); a callback returning < 0 stops the read with that code. */

/* One entry of a track's history in a series. */
typedef struct {
    long day;         /* chart date, days since 1970-01-01 */
    int32_t position; /* >= 1 */
    int64_t streams;  /* -1: not reported */
} au_store_hist_t;
typedef int (*au_store_hist_fn)(void *arg, size_t i, const au_store_hist_t *h);
/* The newest `keep` entries of each track in the series, newest first. */
int au_store_read_history(PGconn *c, const char *platform, const char *chart,
                          const char *region, size_t n,
                          const char *const *track_keys, int keep,
                          au_store_hist_fn fn, void *arg, au_error_t *err);

typedef int (*au_store_cross_fn)(void *arg, size_t i, int32_t position);
/* The positions of each track in the other charts and regions of the same
 * platform on `date` (every series but this one). */
int au_store_read_cross(PGconn *c, const char *platform, const char *chart,
                        const char *region, const char *date, size_t n,
                        const char *const *track_keys, au_store_cross_fn fn,
                        void *arg, au_error_t *err);

#define AU_FEATURES 4 /* danceability, energy, valence, tempo */
typedef int (*au_store_features_fn)(void *arg, size_t i,
                                    const float f[AU_FEATURES]);
/* The audio features of each Spotify track id that has all four. */
int au_store_read_features(PGconn *c, size_t n, const char *const *spotify_ids,
                           au_store_features_fn fn, void *arg, au_error_t *err);

/* Takes (lock 1) or releases (lock 0) the session advisory lock that
 * serialises the writers of one series. */
int au_store_lock_series(PGconn *c, const char *platform, const char *chart,
                         const char *region, int lock, au_error_t *err);

#endif
