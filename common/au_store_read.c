/* au_store_read.c: the store's read side: the statements the commands,
 * the backtest and the dashboard run on trends, tracks and artists. Part
 * of the store module (au_store.h); nothing here writes. */
#include "au_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_date.h"

void au_series_destroy(au_series_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_series_t *s = *self_p;
    for (size_t i = 0; i < s->n_tracks; i++) {
        free(s->keys[i]);
        free(s->names[i]);
        free(s->artists[i]);
    }
    free(s->keys);
    free(s->names);
    free(s->artists);
    free(s->dates);
    free(s->rows);
    free(s);
    *self_p = NULL;
}

static char *dup_value(const PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

/* Index of key in the sorted keys[0..n), or n. */
static size_t find_key(char *const *keys, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(keys[mid], key);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

static int fill_tracks(au_series_t *s, const PGresult *tr, au_error_t *err)
{
    s->keys = calloc(s->n_tracks ? s->n_tracks : 1, sizeof(char *));
    s->names = calloc(s->n_tracks ? s->n_tracks : 1, sizeof(char *));
    s->artists = calloc(s->n_tracks ? s->n_tracks : 1, sizeof(char *));
    if (!s->keys || !s->names || !s->artists)
        return au_error_set(err, AU_ENOMEM, "series: out of memory");
    for (size_t i = 0; i < s->n_tracks; i++) {
        s->keys[i] = dup_value(tr, (int)i, 0);
        s->names[i] = dup_value(tr, (int)i, 1);
        s->artists[i] = dup_value(tr, (int)i, 2);
        if (!s->keys[i] || !s->names[i] || !s->artists[i])
            return au_error_set(err, AU_ENOMEM, "series: out of memory");
    }
    return 0;
}

static int fill_rows(au_series_t *s, const PGresult *rows, au_error_t *err)
{
    size_t n = (size_t)PQntuples(rows);
    s->rows = calloc(n ? n : 1, sizeof(*s->rows));
    if (!s->rows)
        return au_error_set(err, AU_ENOMEM, "series: out of memory");
    /* Rows come in date order, so a date index only moves forward. */
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        const char *date = PQgetvalue(rows, (int)i, 1);
        while (d < s->n_dates && strcmp(s->dates[d], date) != 0)
            d++;
        size_t t = find_key(s->keys, s->n_tracks, PQgetvalue(rows, (int)i, 0));
        if (d == s->n_dates || t == s->n_tracks)
            return au_error_set(err, AU_ERETRY,
                                "series: row %zu (%s) changed while it was "
                                "read",
                                i, date);
        au_series_row_t *r = &s->rows[s->n_rows++];
        r->track = t;
        r->date = d;
        r->position = (int)strtol(PQgetvalue(rows, (int)i, 2), NULL, 10);
        r->streams = PQgetisnull(rows, (int)i, 3)
                         ? -1
                         : strtoll(PQgetvalue(rows, (int)i, 3), NULL, 10);
    }
    return 0;
}

int au_store_read_series(PGconn *c, const char *platform, const char *chart,
                         const char *region, au_series_t **out, au_error_t *err)
{
    *out = NULL;
    au_params_t p = {0};
    au_params_str(&p, platform);
    au_params_str(&p, chart);
    au_params_str(&p, region);
    PGresult *wk = NULL, *tr = NULL, *rows = NULL;
    au_series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return au_error_set(err, AU_ENOMEM, "series: out of memory");
    /* REPEATABLE READ: the three reads see one snapshot, so every row
     * names a date and a track of the other two. */
    int rc = au_pg_run(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       NULL, PGRES_COMMAND_OK, NULL, err);
#define SERIES_ID                                                              \
    "(SELECT id FROM series WHERE platform = $1 AND chart = $2 "               \
    "AND region = $3)"
    if (rc == 0)
        rc = au_pg_run(c,
                       "SELECT DISTINCT chart_date::text FROM trends "
                       "WHERE series_id = " SERIES_ID " ORDER BY 1",
                       &p, PGRES_TUPLES_OK, &wk, err);
    if (rc == 0)
        rc = au_pg_run(c,
                       "SELECT k.track_key, k.name, k.artist FROM tracks k "
                       "WHERE k.id IN (SELECT DISTINCT track_id FROM trends "
                       " WHERE series_id = " SERIES_ID ") "
                       "ORDER BY k.track_key COLLATE \"C\"",
                       &p, PGRES_TUPLES_OK, &tr, err);
    if (rc == 0)
        rc = au_pg_run(c,
                       "SELECT k.track_key, t.chart_date::text, t.position, "
                       " t.streams FROM trends t JOIN tracks k "
                       " ON k.id = t.track_id "
                       "WHERE t.series_id = " SERIES_ID " "
                       "ORDER BY t.chart_date, k.track_key COLLATE \"C\"",
                       &p, PGRES_TUPLES_OK, &rows, err);
#undef SERIES_ID
    PQclear(PQexec(c, "COMMIT"));
    if (rc < 0)
        goto out;
    s->n_dates = (size_t)PQntuples(wk);
    s->n_tracks = (size_t)PQntuples(tr);
    s->dates = calloc(s->n_dates ? s->n_dates : 1, sizeof(*s->dates));
    if (!s->dates) {
        rc = au_error_set(err, AU_ENOMEM, "series: out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_dates; i++)
        memcpy(s->dates[i], PQgetvalue(wk, (int)i, 0), AU_DATE_LEN + 1);
    rc = fill_tracks(s, tr, err);
    if (rc == 0)
        rc = fill_rows(s, rows, err);
out:
    PQclear(wk);
    PQclear(tr);
    PQclear(rows);
    if (rc < 0)
        au_series_destroy(&s);
    *out = s;
    return rc;
}

/* ---- the commands' reads ---------------------------------------------- */

/* One statement per metric, so no part of the SQL is ever built from
 * input. DISTINCT ON keeps each track's best entry. */
#define TOP_SQL(metric)                                                        \
    "WITH best AS (SELECT DISTINCT ON (track_key) track_key, track_name,"      \
    " artist, platform, region, chart,"                                        \
    " to_char(chart_date, 'YYYY-MM-DD') AS date, position, viral_score,"       \
    " confidence, momentum, direction, prev_position, position_change,"        \
    " breakout FROM trends_v WHERE is_active AND " metric " IS NOT NULL"       \
    " AND ($1::text IS NULL OR platform = $1)"                                 \
    " AND ($2::text IS NULL OR region = $2)"                                   \
    " AND ($3::text IS NULL OR chart = $3)"                                    \
    " AND ($4::date IS NULL OR chart_date >= $4::date)"                        \
    " AND ($5::date IS NULL OR chart_date <= $5::date)"                        \
    " ORDER BY track_key, " metric " DESC, position, chart_date DESC,"         \
    " platform, chart, region) "                                               \
    "SELECT * FROM best ORDER BY " metric " DESC, position, track_key"         \
    " LIMIT $6::int"

int au_store_top(PGconn *c, const au_store_top_q_t *q, PGresult **out,
                 au_error_t *err)
{
    au_params_t p = {0};
    const char *const text[] = {q->platform, q->region, q->chart, q->from,
                                q->to};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        au_params_str(&p, text[i]);
    au_params_int(&p, q->limit);
    const char *sql = q->by == AU_TOP_BY_VIRAL ? TOP_SQL("viral_score")
                      : q->by == AU_TOP_BY_BREAKOUT
                          ? TOP_SQL("breakout")
                          : TOP_SQL("position_change");
    return au_pg_run(c, sql, &p, PGRES_TUPLES_OK, out, err);
}

#define PL_CHARTED                                                             \
    "SELECT DISTINCT ON (track_key) track_key, track_name, artist"             \
    " FROM trends_v"                                                           \
    " WHERE ($1::date IS NULL OR chart_date >= $1::date)"                      \
    " AND ($2::date IS NULL OR chart_date <= $2::date)"                        \
    " ORDER BY track_key, chart_date DESC, platform, chart, region"

/* The latest spelling of each track's name. Features outside the scorer's
 * ranges (or NaN, which PostgreSQL sorts above every number) count as
 * missing: the track is excluded, not clamped. */
static const char pl_sql[] =
    "WITH w AS (" PL_CHARTED ") "
    "SELECT w.track_key, w.track_name, w.artist, f.valence, f.energy,"
    " f.danceability, f.tempo"
    " FROM w JOIN audio_features f ON w.track_key = 'spotify:' || f.spotify_id"
    " WHERE f.valence BETWEEN 0 AND 1 AND f.energy BETWEEN 0 AND 1"
    " AND f.danceability BETWEEN 0 AND 1"
    " AND f.tempo >= 0 AND f.tempo < 'Infinity'::real"
    " ORDER BY w.track_key";

static const char pl_count_sql[] = "SELECT count(*) FROM (" PL_CHARTED ") w";

int au_store_playlist_tracks(PGconn *c, const char *from, const char *to,
                             PGresult **out, long *charted, au_error_t *err)
{
    const char *p[] = {from, to};
    PGresult *cnt;
    *out = NULL;
    int rc = au_pg_exec(c, pl_count_sql, 2, p, PGRES_TUPLES_OK, &cnt, err);
    if (rc < 0)
        return rc;
    *charted = strtol(PQgetvalue(cnt, 0, 0), NULL, 10);
    PQclear(cnt);
    return au_pg_exec(c, pl_sql, 2, p, PGRES_TUPLES_OK, out, err);
}

/* strpos, not LIKE: the Python predecessor's '%...%' match, without % and _ in
 * the input acting as wildcards. The chart date is when a series listed the
 * track; first_detected is when this pipeline loaded it, which for a
 * back-filled history says nothing about spread. */
static const char spread_sql[] =
    "WITH m AS (SELECT platform, chart, region, chart_date, score, track_key,"
    " coalesce(canon, track_key) AS canon"
    " FROM trends_v"
    " WHERE strpos(lower(track_name), lower($1)) > 0"
    " AND strpos(lower(artist), lower($2)) > 0"
    " AND chart_date > coalesce($4::date, current_date) - $3::int"
    " AND chart_date <= coalesce($4::date, current_date)) "
    "SELECT platform || '/' || chart || '/' || region,"
    " to_char(min(chart_date), 'YYYY-MM-DD'),"
    " min(chart_date) - DATE '1970-01-01', max(score),"
    " (SELECT count(DISTINCT track_key) FROM m),"
    " (SELECT count(DISTINCT canon) FROM m)"
    " FROM m GROUP BY platform, chart, region ORDER BY 3, 1";

int au_store_spread(PGconn *c, const char *track, const char *artist, int days,
                    const char *as_of, PGresult **out, au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, track);
    au_params_str(&p, artist);
    au_params_int(&p, days);
    au_params_str(&p, as_of);
    return au_pg_run(c, spread_sql, &p, PGRES_TUPLES_OK, out, err);
}

int au_store_counts(PGconn *c, long long *trends, long long *tracks,
                    long long *artists, au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_run(c,
                       "SELECT (SELECT count(*) FROM trends), "
                       "(SELECT count(*) FROM tracks), "
                       "(SELECT count(*) FROM artists)",
                       NULL, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *trends = au_pg_ll(r, 0, 0);
    *tracks = au_pg_ll(r, 0, 1);
    *artists = au_pg_ll(r, 0, 2);
    PQclear(r);
    return 0;
}

/* A statement whose one parameter is a row limit. */
static int limited(PGconn *c, const char *sql, int limit, PGresult **out,
                   au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, limit);
    return au_pg_run(c, sql, &p, PGRES_TUPLES_OK, out, err);
}

int au_store_top_streams(PGconn *c, int limit, PGresult **out, au_error_t *err)
{
    return limited(c,
                   "SELECT max(track_name) AS track, max(artist) AS artist, "
                   " sum(streams) AS streams, count(*) AS entries "
                   "FROM trends_v WHERE streams IS NOT NULL GROUP BY track_key "
                   "ORDER BY sum(streams) DESC, track_key LIMIT $1::int",
                   limit, out, err);
}

int au_store_movers(PGconn *c, int limit, PGresult **out, au_error_t *err)
{
    return limited(c,
                   "SELECT track_name AS track, artist, region, chart, "
                   " to_char(chart_date, 'YYYY-MM-DD') AS chart_date, "
                   " prev_position AS was, position AS now, "
                   " position_change AS gained FROM trends_v "
                   "WHERE position_change IS NOT NULL "
                   "ORDER BY position_change DESC, chart_date, track_key "
                   "LIMIT $1::int",
                   limit, out, err);
}

/* ---- the workers' reads ------------------------------------------------- */

/* What to do with each row of a keyed read: column 0 of every row is the
 * 1-based index of the key it belongs to. */
typedef int (*row_fn)(void *cb, size_t i, const PGresult *r, int row);

/* Runs sql with p's parameters followed by the keys as one text[]
 * parameter, and hands every row to fn with its key's index. */
static int read_keyed(PGconn *c, const char *sql, au_params_t *p, size_t n,
                      const char *const *keys, row_fn fn, void *cb,
                      au_error_t *err)
{
    if (n == 0)
        return 0;
    au_buf_t lit = {0};
    if (au_buf_text_array(&lit, n, keys) < 0)
        return au_error_set(err, AU_ENOMEM, "keyed read: out of memory");
    au_params_str(p, lit.data);
    PGresult *r;
    int rc = au_pg_run(c, sql, p, PGRES_TUPLES_OK, &r, err);
    au_buf_free(&lit);
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        long long k = au_pg_ll(r, row, 0);
        if (k < 1 || (unsigned long long)k > n)
            rc = au_error_set(err, AU_EDB, "row %d names key %lld of %zu", row,
                              k, n);
        else if ((rc = fn(cb, (size_t)k - 1, r, row)) < 0)
            au_error_set(err, rc, "reading row %d: %s", row, au_strerror(rc));
    }
    if (r)
        PQclear(r);
    return rc;
}

typedef struct {
    au_store_hist_fn fn;
    void *arg;
} hist_cb_t;

static int hist_row(void *arg, size_t i, const PGresult *r, int row)
{
    hist_cb_t *cb = arg;
    au_store_hist_t h = {(long)au_pg_ll(r, row, 1),
                         (int32_t)au_pg_ll(r, row, 2),
                         PQgetisnull(r, row, 3) ? -1 : au_pg_ll(r, row, 3)};
    return cb->fn(cb->arg, i, &h);
}

/* The ids as an int[] literal, for the keyed reads. */
static int id_list(au_buf_t *b, size_t n, const int32_t *ids)
{
    int rc = au_buf_put(b, "{", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char num[16];
        int len = snprintf(num, sizeof(num), "%s%d", i ? "," : "", (int)ids[i]);
        rc = au_buf_put(b, num, (size_t)len);
    }
    return rc | au_buf_put(b, "}", 1);
}

/* Runs a history statement whose $1 is the series, $2 the ids, and whose
 * rows are (key index, day, position, streams). */
static int read_hist(PGconn *c, const char *sql, au_params_t *p, size_t n,
                     const int32_t *ids, au_store_hist_fn fn, void *arg,
                     au_error_t *err)
{
    if (n == 0)
        return 0;
    au_buf_t lit = {0};
    if (id_list(&lit, n, ids) < 0) {
        au_buf_free(&lit);
        return au_error_set(err, AU_ENOMEM, "history: out of memory");
    }
    au_params_str(p, lit.data);
    PGresult *r;
    int rc = au_pg_run(c, sql, p, PGRES_TUPLES_OK, &r, err);
    au_buf_free(&lit);
    hist_cb_t cb = {fn, arg};
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        long long k = au_pg_ll(r, row, 0);
        if (k < 1 || (unsigned long long)k > n)
            rc = au_error_set(err, AU_EDB, "row %d names key %lld of %zu", row,
                              k, n);
        else if ((rc = hist_row(&cb, (size_t)k - 1, r, row)) < 0)
            au_error_set(err, rc, "reading row %d: %s", row, au_strerror(rc));
    }
    if (r)
        PQclear(r);
    return rc;
}

/* One probe of the primary key per track: LATERAL keeps the ids outside,
 * so the plan does not hang on the table's statistics. */
int au_store_read_newest(PGconn *c, int32_t series_id, size_t n,
                         const int32_t *track_ids, int keep,
                         au_store_hist_fn fn, void *arg, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, series_id);
    au_params_int(&p, keep);
    /* $3 is the ids here: read_hist appends them. */
    return read_hist(c,
                     "SELECT k.i, h.chart_date - DATE '1970-01-01', "
                     " h.position, h.streams "
                     "FROM unnest($3::int[]) WITH ORDINALITY AS k(id, i) "
                     "CROSS JOIN LATERAL (SELECT chart_date, position, streams "
                     " FROM trends WHERE series_id = $1 AND track_id = k.id "
                     " ORDER BY chart_date DESC LIMIT $2::int) h",
                     &p, n, track_ids, fn, arg, err);
}

int au_store_read_around(PGconn *c, int32_t series_id, size_t n,
                         const int32_t *track_ids, long day, int before,
                         int after, au_store_hist_fn fn, void *arg,
                         au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, series_id);
    au_params_int(&p, day);
    au_params_int(&p, before);
    au_params_int(&p, after);
    return read_hist(
        c,
        "SELECT k.i, h.chart_date - DATE '1970-01-01', h.position, h.streams "
        "FROM unnest($5::int[]) WITH ORDINALITY AS k(id, i) "
        "CROSS JOIN LATERAL ("
        " (SELECT chart_date, position, streams FROM trends "
        "  WHERE series_id = $1 AND track_id = k.id "
        "  AND chart_date < DATE '1970-01-01' + $2::int "
        "  ORDER BY chart_date DESC LIMIT $3::int) "
        " UNION ALL "
        " (SELECT chart_date, position, streams FROM trends "
        "  WHERE series_id = $1 AND track_id = k.id "
        "  AND chart_date >= DATE '1970-01-01' + $2::int "
        "  ORDER BY chart_date LIMIT $4::int)) h",
        &p, n, track_ids, fn, arg, err);
}

typedef struct {
    au_store_features_fn fn;
    void *arg;
} feat_cb_t;

static int feat_row(void *arg, size_t i, const PGresult *r, int row)
{
    feat_cb_t *cb = arg;
    float f[AU_FEATURES];
    for (int k = 0; k < AU_FEATURES; k++) {
        if (PQgetisnull(r, row, 1 + k))
            return 0; /* incomplete features are no features */
        f[k] = strtof(PQgetvalue(r, row, 1 + k), NULL);
    }
    return cb->fn(cb->arg, i, f);
}

int au_store_read_features(PGconn *c, size_t n, const char *const *spotify_ids,
                           au_store_features_fn fn, void *arg, au_error_t *err)
{
    au_params_t p = {0};
    feat_cb_t cb = {fn, arg};
    return read_keyed(c,
                      "SELECT k.i, f.danceability, f.energy, f.valence, "
                      " f.tempo "
                      "FROM unnest($1::text[]) WITH ORDINALITY AS k(id, i) "
                      "JOIN audio_features f ON f.spotify_id = k.id",
                      &p, n, spotify_ids, feat_row, &cb, err);
}

int au_store_features_generation(PGconn *c, long long *gen, au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_run(c, "SELECT features_generation FROM store_meta", NULL,
                       PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *gen = PQntuples(r) == 1 ? au_pg_ll(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}
