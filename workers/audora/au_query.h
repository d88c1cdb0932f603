/* au_query.h: the read-only commands of `audora`: status, jobs, report,
 * dlq list|show over the queue, and top, summary, playlists, spread over
 * the trend store.
 *
 * Each store query has a core that takes a connection, its options and a
 * FILE and writes either an aligned table for people or JSON for scripts;
 * the command definitions only turn the parsed command line into options
 * and call the core, so tests run the cores against a real database
 * without a process. Every
 * core validates its options first (the *_check functions, callable
 * without a connection) and writes nothing when they are invalid; error
 * messages name the command-line flag and the value. Nothing here writes
 * to the database. */
#ifndef AU_QUERY_H
#define AU_QUERY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "au_cache.h"
#include "au_cmd.h"
#include "au_err.h"

#define AU_QUERY_MAX_LIMIT 1000 /* largest --limit */
#define AU_QUERY_MAX_DAYS 3650  /* largest --days */

/* ---- top ------------------------------------------------------------ */

typedef enum {
    AU_QUERY_BY_VIRAL,    /* highest viral_score */
    AU_QUERY_BY_MOVEMENT, /* most positions gained (position_change) */
    AU_QUERY_BY_BREAKOUT  /* highest breakout chance (weekly charts) */
} au_query_by_t;

typedef struct {
    au_query_by_t by;
    const char *platform, *region, *chart; /* NULL: any */
    const char *from, *to;                 /* YYYY-MM-DD, inclusive; NULL */
    int limit;                             /* 1..AU_QUERY_MAX_LIMIT */
} au_query_top_opts_t;

/* by viral, no filters, limit 20. */
void au_query_top_opts_init(au_query_top_opts_t *o);
/* 0, or AU_EINVAL naming the bad flag and value. */
int au_query_top_check(const au_query_top_opts_t *o, au_error_t *err);
/* One row per track: its best active entry in the range (highest viral
 * score, or most positions gained; ties to the better position, then the
 * later date). Entries whose metric was not computed (NULL) never count.
 * Tracks are ranked by that metric, then position, then track key. */
int au_query_top(PGconn *c, const au_query_top_opts_t *o, int json, FILE *out,
                 au_error_t *err);

/* ---- summary -------------------------------------------------------- */

typedef struct {
    const char *platform; /* NULL: all */
    int days;             /* 1..AU_QUERY_MAX_DAYS */
    const char *as_of;    /* YYYY-MM-DD; NULL: today */
} au_query_summary_opts_t;

/* all platforms, 7 days to today. */
void au_query_summary_opts_init(au_query_summary_opts_t *o);
int au_query_summary_check(const au_query_summary_opts_t *o, au_error_t *err);
/* The au_store_summary JSON with json (indented like the other commands,
 * keys in the store's order), else its stats as lines and its top 10 as a
 * table. cache may be NULL (no caching). */
int au_query_summary(PGconn *c, au_cache_t *cache,
                     const au_query_summary_opts_t *o, int json, FILE *out,
                     au_error_t *err);

/* ---- playlists ------------------------------------------------------ */

#define AU_QUERY_ALL_MOODS (-1)

typedef struct {
    int mood;              /* an au_mood_t, or AU_QUERY_ALL_MOODS */
    double min_score;      /* 0..100; the original's 60 */
    int limit;             /* tracks per mood, 1..AU_QUERY_MAX_LIMIT; 50 */
    const char *from, *to; /* chart dates considered, inclusive; NULL */
} au_query_playlist_opts_t;

/* all moods, min score 60, 50 per mood, every date. */
void au_query_playlist_opts_init(au_query_playlist_opts_t *o);
/* Mood by its enum name, case-insensitively ("happy_upbeat"), or "all";
 * AU_EINVAL listing the valid names otherwise. */
int au_query_mood_parse(const char *name, int *mood, au_error_t *err);
int au_query_playlist_check(const au_query_playlist_opts_t *o, au_error_t *err);
/* Mood playlists of the tracks charted in the range that have all four
 * scored audio features (valence, energy, danceability in [0, 1], tempo
 * >= 0), one entry per track, scored by au_mood_score through
 * au_mood_playlists_new. Tracks without such features are excluded, never
 * estimated, and their number is reported. */
int au_query_playlists(PGconn *c, const au_query_playlist_opts_t *o, int json,
                       FILE *out, au_error_t *err);

/* ---- spread --------------------------------------------------------- */

typedef struct {
    const char *track, *artist; /* non-empty substrings, any case */
    int days;                   /* 1..AU_QUERY_MAX_DAYS; the original's 30 */
    const char *as_of;          /* YYYY-MM-DD; NULL: today */
} au_query_spread_opts_t;

/* no track or artist, 30 days to today. */
void au_query_spread_opts_init(au_query_spread_opts_t *o);
int au_query_spread_check(const au_query_spread_opts_t *o, au_error_t *err);
/* The original's analyze_cross_platform_spread, read-only: every entry
 * whose track name and artist contain the given strings, grouped by
 * series ("platform/chart/region" stands for the original's platform),
 * each with its first chart date and peak position score, ordered by
 * first appearance through au_spread_analyze. Prints "No cross-platform
 * data found" (JSON: {"message": ...}) when nothing matches. */
int au_query_spread(PGconn *c, const au_query_spread_opts_t *o, int json,
                    FILE *out, au_error_t *err);

/* ---- commands (see au_cmd.h) ------------------------------------- */

extern const au_cmd_def_t au_query_report_def;
extern const au_cmd_def_t au_query_top_def;
extern const au_cmd_def_t au_query_summary_def;
extern const au_cmd_def_t au_query_playlists_def;
extern const au_cmd_def_t au_query_spread_def;

#endif
