#include "au_store.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_log.h"
#include "au_queue.h"

static int exec_cmd(PGconn *c, const char *sql, au_error_t *err)
{
    return au_pg_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err);
}

int au_trend_validate(const au_trend_t *t, au_error_t *err)
{
    if (!t->platform || !*t->platform || !t->chart || !*t->chart ||
        !t->region || !*t->region || !t->date || strlen(t->date) != 10)
        return au_error_set(err, AU_EINVAL,
                            "platform, chart, region and date are required");
    if (!t->track_key || !*t->track_key || !t->track_name || !*t->track_name ||
        !t->artist || !*t->artist || !t->artist_key || !*t->artist_key)
        return au_error_set(err, AU_EINVAL,
                            "track key, track name and artist are required");
    if (t->position < 1)
        return au_error_set(err, AU_ERANGE, "position %d < 1",
                            (int)t->position);
    if (!(t->score >= 0.0 && t->score <= 100.0))
        return au_error_set(err, AU_ERANGE, "score %g outside 0..100",
                            t->score);
    if (t->streams < -1)
        return au_error_set(err, AU_ERANGE, "streams %lld < 0",
                            (long long)t->streams);
    return 0;
}

static int put_int(au_buf_t *b, long long v, int null_if_zero)
{
    if (null_if_zero && v == 0)
        return au_buf_put(b, "\\N", 2);
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    return au_buf_put(b, tmp, (size_t)n);
}

static int put_real(au_buf_t *b, double v)
{
    if (!isfinite(v))
        return au_buf_put(b, "\\N", 2);
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.9g", v);
    return au_buf_put(b, tmp, (size_t)n);
}

static int stage_row(au_buf_t *b, const au_trend_t *t)
{
    char score[32];
    int n = snprintf(score, sizeof(score), "%.6f", t->score);
    int rc = 0;
    const char *const text[] = {t->platform,   t->chart,     t->region,
                                t->date,       t->track_key, t->spotify_id,
                                t->track_name, t->artist,    t->artist_key};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        rc |= au_buf_copy_field(b, text[i]);
        rc |= au_buf_put(b, "\t", 1);
    }
    rc |= put_int(b, t->position, 0);
    rc |= au_buf_put(b, "\t", 1);
    if (t->streams < 0)
        rc |= au_buf_put(b, "\\N", 2);
    else
        rc |= put_int(b, t->streams, 0);
    rc |= au_buf_put(b, "\t", 1);
    rc |= au_buf_put(b, score, (size_t)n);
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_int(b, t->prev_position, 1);
    rc |= au_buf_put(b, "\t", 1);
    if (t->prev_position == 0)
        rc |= au_buf_put(b, "\\N", 2);
    else
        rc |= put_int(b, t->position_change, 0);
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_int(b, t->job_id, 1);
    const double nums[] = {t->platform_score, t->momentum,   t->acceleration,
                           t->viral_score,    t->confidence, t->mood_score};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        rc |= au_buf_put(b, "\t", 1);
        rc |= put_real(b, t->has_analytics ? nums[i] : NAN);
    }
    rc |= au_buf_put(b, "\t", 1);
    rc |= au_buf_copy_field(b, t->has_analytics ? t->direction : NULL);
    rc |= au_buf_put(b, "\t", 1);
    rc |= au_buf_copy_field(b, t->has_analytics ? t->mood : NULL);
    rc |= au_buf_put(b, "\n", 1);
    return rc ? AU_ENOMEM : 0;
}

/* The successor fix-up: the entry right after each staged row in its
 * series takes the staged position as its previous one. It is what makes
 * the stored change independent of the order in which dates arrive. */
static const char *const write_sql[] = {
    "INSERT INTO artists (artist_key, name) "
    "SELECT DISTINCT ON (artist_key) artist_key, artist FROM au_stage "
    "ORDER BY artist_key ON CONFLICT (artist_key) DO NOTHING",

    "INSERT INTO tracks (track_key, spotify_id, name, artist_key) "
    "SELECT DISTINCT ON (track_key) track_key, spotify_id, track_name, "
    " artist_key FROM au_stage ORDER BY track_key "
    "ON CONFLICT (track_key) DO NOTHING",

    "INSERT INTO trends (platform, chart, region, chart_date, track_key, "
    " position, streams, track_name, artist, score, prev_position, "
    " position_change, job_id, platform_score, momentum, acceleration, "
    " viral_score, confidence, mood_score, direction, mood) "
    "SELECT DISTINCT ON (platform, chart, region, chart_date, track_key) "
    " platform, chart, region, chart_date, track_key, position, streams, "
    " track_name, artist, score, prev_position, position_change, job_id, "
    " platform_score, momentum, acceleration, viral_score, confidence, "
    " mood_score, direction, mood "
    "FROM au_stage "
    "ORDER BY platform, chart, region, chart_date, track_key, position "
    "ON CONFLICT (platform, chart, region, chart_date, track_key) "
    "DO UPDATE SET position = EXCLUDED.position, "
    " streams = EXCLUDED.streams, track_name = EXCLUDED.track_name, "
    " artist = EXCLUDED.artist, score = EXCLUDED.score, "
    " prev_position = EXCLUDED.prev_position, "
    " position_change = EXCLUDED.position_change, "
    " job_id = EXCLUDED.job_id, platform_score = EXCLUDED.platform_score, "
    " momentum = EXCLUDED.momentum, acceleration = EXCLUDED.acceleration, "
    " viral_score = EXCLUDED.viral_score, "
    " confidence = EXCLUDED.confidence, mood_score = EXCLUDED.mood_score, "
    " direction = EXCLUDED.direction, mood = EXCLUDED.mood, "
    " last_updated = now()",

    /* LATERAL finds each staged row's successor with one probe of the
     * series index; most rows arrive in date order and have none. */
    "UPDATE trends n SET prev_position = s.position, "
    " position_change = s.position - n.position, last_updated = now() "
    "FROM (SELECT DISTINCT ON (platform, chart, region, chart_date, "
    "  track_key) * FROM au_stage ORDER BY platform, chart, region, "
    "  chart_date, track_key, position) s "
    "CROSS JOIN LATERAL (SELECT m.chart_date FROM trends m "
    "  WHERE m.platform = s.platform AND m.chart = s.chart "
    "  AND m.region = s.region AND m.track_key = s.track_key "
    "  AND m.chart_date > s.chart_date "
    "  ORDER BY m.chart_date LIMIT 1) nx "
    "WHERE n.platform = s.platform AND n.chart = s.chart "
    " AND n.region = s.region AND n.chart_date = nx.chart_date "
    " AND n.track_key = s.track_key "
    " AND n.prev_position IS DISTINCT FROM s.position",
};

int au_store_write_trends(PGconn *c, const au_trend_t *rows, size_t n,
                          size_t *written, au_error_t *err)
{
    return au_store_write_trends_opt(c, rows, n, 0, written, err);
}

int au_store_write_trends_opt(PGconn *c, const au_trend_t *rows, size_t n,
                              unsigned flags, size_t *written, au_error_t *err)
{
    au_buf_t b = {0};
    size_t ok = 0;
    int rc;
    *written = 0;
    for (size_t i = 0; i < n; i++) {
        au_error_t verr = {0};
        if (au_trend_validate(&rows[i], &verr) < 0) {
            au_warn("store: skipping row %zu (%s): %s", i,
                    rows[i].track_name ? rows[i].track_name : "?", verr.msg);
            continue;
        }
        if ((rc = stage_row(&b, &rows[i])) < 0) {
            au_buf_free(&b);
            return au_error_set(err, rc, "store: out of memory");
        }
        ok++;
    }
    if (ok == 0) {
        au_buf_free(&b);
        return 0;
    }
    rc = exec_cmd(c,
                  "CREATE TEMP TABLE IF NOT EXISTS au_stage ("
                  " platform text, chart text, region text, chart_date date,"
                  " track_key text, spotify_id text, track_name text,"
                  " artist text, artist_key text, position int,"
                  " streams bigint, score float8, prev_position int,"
                  " position_change int, job_id bigint,"
                  " platform_score float8, momentum float8,"
                  " acceleration float8, viral_score float8,"
                  " confidence float8, mood_score float8, direction text,"
                  " mood text)"
                  " ON COMMIT DELETE ROWS",
                  err);
    if (rc == 0)
        rc = au_pg_copy(c, "COPY au_stage FROM STDIN", &b, err);
    au_buf_free(&b);
    size_t nsql = sizeof(write_sql) / sizeof(*write_sql);
    /* The artists and tracks upserts come first, the successor fix-up
     * last. */
    size_t first = (flags & AU_STORE_SKIP_DIMENSIONS) ? 2 : 0;
    if (flags & AU_STORE_SKIP_SUCCESSORS)
        nsql--;
    for (size_t i = first; rc == 0 && i < nsql; i++)
        rc = exec_cmd(c, write_sql[i], err);
    if (rc == 0)
        rc = exec_cmd(c, "TRUNCATE au_stage", err);
    if (rc == 0)
        *written = ok;
    return rc;
}

int au_store_fix_successors(PGconn *c, const au_successor_t *s, size_t n,
                            au_error_t *err)
{
    if (n == 0)
        return 0;
    const char **col = malloc(n * sizeof(*col));
    char(*prev)[16] = malloc(n * sizeof(*prev));
    au_buf_t lit[6] = {{0}};
    int rc = col && prev ? 0 : AU_ENOMEM;
    for (int k = 0; k < 6 && rc == 0; k++) {
        for (size_t i = 0; i < n; i++) {
            const char *v[] = {s[i].platform, s[i].chart,     s[i].region,
                               s[i].date,     s[i].track_key, prev[i]};
            if (k == 5)
                snprintf(prev[i], sizeof(prev[i]), "%d",
                         (int)s[i].prev_position);
            col[i] = v[k];
        }
        rc = au_buf_text_array(&lit[k], n, col);
    }
    if (rc == 0) {
        const char *p[] = {lit[0].data, lit[1].data, lit[2].data,
                           lit[3].data, lit[4].data, lit[5].data};
        rc = au_pg_exec(
            c,
            "UPDATE trends n SET prev_position = u.prev, "
            " position_change = u.prev - n.position, last_updated = now() "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], "
            " $5::text[], $6::int[]) "
            " AS u(platform, chart, region, chart_date, track_key, prev) "
            "WHERE n.platform = u.platform AND n.chart = u.chart "
            " AND n.region = u.region AND n.chart_date = u.chart_date "
            " AND n.track_key = u.track_key "
            " AND n.prev_position IS DISTINCT FROM u.prev",
            6, p, PGRES_COMMAND_OK, NULL, err);
    } else {
        au_error_set(err, rc, "successors: out of memory");
    }
    for (int k = 0; k < 6; k++)
        au_buf_free(&lit[k]);
    free(col);
    free(prev);
    return rc;
}

int au_store_write_predictions(PGconn *c, const au_prediction_t *p, size_t n,
                               au_error_t *err)
{
    if (n == 0)
        return 0;
    au_buf_t b = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *text[] = {p[i].track_key, p[i].track_name, p[i].artist};
        for (size_t k = 0; k < 3; k++) {
            rc |= au_buf_copy_field(&b, text[k]);
            rc |= au_buf_put(&b, "\t", 1);
        }
        rc |= put_real(&b, p[i].confidence);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= au_buf_copy_field(&b, p[i].prediction_date);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= au_buf_copy_field(&b, p[i].predicted_peak_date);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= put_real(&b, p[i].predicted_peak_score);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= au_buf_copy_field(&b, p[i].features_json);
        rc |= au_buf_put(&b, "\n", 1);
    }
    if (rc) {
        au_buf_free(&b);
        return au_error_set(err, AU_ENOMEM, "predictions: out of memory");
    }
    rc = exec_cmd(c,
                  "CREATE TEMP TABLE IF NOT EXISTS au_pred_stage ("
                  " track_key text, track_name text, artist text,"
                  " confidence float8, prediction_date date,"
                  " predicted_peak_date date, predicted_peak_score float8,"
                  " prediction_features jsonb) ON COMMIT DELETE ROWS",
                  err);
    if (rc == 0)
        rc = au_pg_copy(c, "COPY au_pred_stage FROM STDIN", &b, err);
    au_buf_free(&b);
    if (rc == 0)
        rc = exec_cmd(
            c,
            "INSERT INTO viral_predictions (track_key, track_name, artist, "
            " confidence, prediction_date, predicted_peak_date, "
            " predicted_peak_score, prediction_features) "
            "SELECT DISTINCT ON (track_key, prediction_date) * "
            "FROM au_pred_stage "
            "ORDER BY track_key, prediction_date, predicted_peak_score DESC "
            "ON CONFLICT (track_key, prediction_date) DO UPDATE SET "
            " confidence = greatest(viral_predictions.confidence, "
            "   EXCLUDED.confidence), "
            " predicted_peak_date = EXCLUDED.predicted_peak_date, "
            " predicted_peak_score = greatest("
            "   viral_predictions.predicted_peak_score, "
            "   EXCLUDED.predicted_peak_score), "
            " prediction_features = EXCLUDED.prediction_features",
            err);
    if (rc == 0)
        rc = exec_cmd(c, "TRUNCATE au_pred_stage", err);
    return rc;
}

int au_store_save_trends_bulk(PGconn *c, const au_trend_t *rows, size_t n,
                              size_t *saved, au_error_t *err)
{
    *saved = 0;
    if (n == 0)
        return 0;
    int rc = exec_cmd(c, "BEGIN", err);
    if (rc < 0)
        return rc;
    rc = au_store_write_trends(c, rows, n, saved, err);
    if (rc == 0)
        rc = exec_cmd(c, "COMMIT", err);
    if (rc < 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        *saved = 0;
    }
    return rc;
}

typedef struct {
    const char *t;
    const char *a;
} pair_t;

static int pair_cmp(const void *x, const void *y)
{
    const pair_t *p = x, *q = y;
    int d = strcmp(p->t, q->t);
    return d ? d : strcmp(p->a, q->a);
}

typedef struct {
    PGconn *c;
    const char *tracks_lit, *artists_lit;
    au_error_t *err;
} bulk_arg_t;

static int bulk_fill(void *arg, char **val, size_t *len)
{
    bulk_arg_t *a = arg;
    const char *p[] = {a->tracks_lit, a->artists_lit};
    PGresult *r;
    /* strpos over lower() is a case-insensitive substring match with no
     * LIKE wildcards to escape. One query for all pairs. */
    int rc = au_pg_exec(
        a->c,
        "SELECT coalesce(json_agg(x ORDER BY x.score DESC, x.trend_date "
        " DESC, x.track_key), '[]')::text FROM ("
        " SELECT DISTINCT t.platform, t.track_key, t.track_name, t.artist,"
        "  t.score, t.position AS rank, t.region, t.chart,"
        "  t.chart_date AS trend_date"
        " FROM unnest($1::text[], $2::text[]) AS q(tn, an)"
        " JOIN trends t ON strpos(lower(t.track_name), lower(q.tn)) > 0"
        "  AND strpos(lower(t.artist), lower(q.an)) > 0"
        " WHERE t.is_active) x",
        2, p, PGRES_TUPLES_OK, &r, a->err);
    if (rc < 0)
        return rc;
    *val = strdup(PQgetvalue(r, 0, 0));
    *len = *val ? strlen(*val) : 0;
    PQclear(r);
    return *val ? 0 : AU_ENOMEM;
}

int au_store_tracks_bulk(PGconn *c, au_cache_t *cache, size_t n,
                         const char *const *tracks, const char *const *artists,
                         char **json, au_error_t *err)
{
    *json = NULL;
    if (n == 0) {
        *json = strdup("[]");
        return *json ? 0 : AU_ENOMEM;
    }
    pair_t *pairs = malloc(n * sizeof(*pairs));
    const char **ts = malloc(n * sizeof(*ts));
    const char **as = malloc(n * sizeof(*as));
    const char **parts = malloc(2 * n * sizeof(*parts));
    au_buf_t tl = {0}, al = {0};
    int rc = AU_ENOMEM;
    if (!pairs || !ts || !as || !parts)
        goto out;
    for (size_t i = 0; i < n; i++) {
        pairs[i].t = tracks[i];
        pairs[i].a = artists[i];
    }
    /* Sorted, so the same set of pairs is one cache entry. */
    qsort(pairs, n, sizeof(*pairs), pair_cmp);
    for (size_t i = 0; i < n; i++) {
        ts[i] = pairs[i].t;
        as[i] = pairs[i].a;
        parts[2 * i] = pairs[i].t;
        parts[2 * i + 1] = pairs[i].a;
    }
    if (au_buf_text_array(&tl, n, ts) < 0 || au_buf_text_array(&al, n, as) < 0)
        goto out;
    bulk_arg_t arg = {c, tl.data, al.data, err};
    size_t len;
    if (cache) {
        /* The database is part of the key (the original's key was not),
         * so two databases sharing one Redis never share an answer. */
        char key[160];
        char db[96];
        const char *dbp[] = {PQhost(c), PQport(c), PQdb(c)};
        au_cache_key(db, sizeof(db), "db", 3, dbp);
        au_cache_key(key, sizeof(key), db, 2 * n, parts);
        rc = au_cache_memoize(cache, AU_CK_BULK, key, bulk_fill, &arg, json,
                              &len);
    } else {
        rc = bulk_fill(&arg, json, &len);
    }
out:
    if (rc == AU_ENOMEM)
        au_error_set(err, rc, "tracks_bulk: out of memory");
    free(pairs);
    free(ts);
    free(as);
    free(parts);
    au_buf_free(&tl);
    au_buf_free(&al);
    return rc;
}

static const char *const update_whitelist[][2] = {
    {"score", "float8"},
    {"is_active", "boolean"},
    {"position", "int"},
    {"streams", "bigint"},
};

int au_store_update_trends_bulk(PGconn *c, size_t nkeys,
                                const char *const *track_keys, size_t nupd,
                                const au_update_t *upd, long *updated,
                                au_error_t *err)
{
    *updated = 0;
    if (nkeys == 0 || nupd == 0)
        return 0;
    if (nupd > 4)
        return au_error_set(err, AU_EINVAL, "update: too many columns");
    au_buf_t sql = {0}, keys = {0};
    const char *params[5];
    int rc = au_buf_put(&sql, "UPDATE trends SET ", 18);
    for (size_t i = 0; i < nupd; i++) {
        size_t w = 0,
               nw = sizeof(update_whitelist) / sizeof(update_whitelist[0]);
        while (w < nw && strcmp(upd[i].column, update_whitelist[w][0]))
            w++;
        if (w == nw) {
            rc = au_error_set(err, AU_EINVAL,
                              "update: column \"%s\" may not be updated "
                              "(allowed: score, is_active, position, "
                              "streams)",
                              upd[i].column);
            goto out;
        }
        char frag[96];
        int fl =
            snprintf(frag, sizeof(frag), "%s = $%zu::%s, ",
                     update_whitelist[w][0], i + 2, update_whitelist[w][1]);
        rc |= au_buf_put(&sql, frag, (size_t)fl);
        params[i + 1] = upd[i].value;
    }
    const char *tail = "last_updated = now() WHERE track_key = ANY($1)";
    rc |= au_buf_put(&sql, tail, strlen(tail));
    rc |= au_buf_text_array(&keys, nkeys, track_keys);
    if (rc) {
        rc = au_error_set(err, AU_ENOMEM, "update: out of memory");
        goto out;
    }
    params[0] = keys.data;
    PGresult *r;
    rc = au_pg_exec(c, sql.data, (int)nupd + 1, params, PGRES_COMMAND_OK, &r,
                    err);
    if (rc == 0) {
        *updated = strtol(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
out:
    au_buf_free(&sql);
    au_buf_free(&keys);
    return rc;
}

typedef struct {
    PGconn *c;
    const char *platform, *days, *as_of;
    au_error_t *err;
} summary_arg_t;

static int summary_fill(void *arg, char **val, size_t *len)
{
    summary_arg_t *a = arg;
    const char *p[] = {a->platform, a->days, a->as_of};
    PGresult *r;
    int rc = au_pg_exec(
        a->c,
        "WITH w AS (SELECT * FROM trends WHERE is_active"
        "  AND chart_date > coalesce($3::date, current_date) - $2::int"
        "  AND chart_date <= coalesce($3::date, current_date)"
        "  AND ($1::text IS NULL OR platform = $1)),"
        " top AS (SELECT track_name, artist, platform, score,"
        "  position AS rank FROM w"
        "  ORDER BY score DESC, chart_date DESC, track_key LIMIT 10) "
        "SELECT json_build_object("
        " 'stats', (SELECT json_build_object("
        "   'unique_tracks', count(DISTINCT track_key),"
        "   'platforms', count(DISTINCT platform),"
        "   'avg_score', round(avg(score)::numeric, 4),"
        "   'max_score', max(score),"
        "   'total_entries', count(*)) FROM w),"
        " 'top_tracks', (SELECT coalesce(json_agg(top), '[]') FROM top),"
        " 'period_days', $2::int,"
        " 'platform', coalesce($1, 'all'))::text",
        3, p, PGRES_TUPLES_OK, &r, a->err);
    if (rc < 0)
        return rc;
    *val = strdup(PQgetvalue(r, 0, 0));
    *len = *val ? strlen(*val) : 0;
    PQclear(r);
    return *val ? 0 : AU_ENOMEM;
}

int au_store_summary(PGconn *c, au_cache_t *cache, const char *platform,
                     int days, const char *as_of, char **json, au_error_t *err)
{
    char ds[16];
    snprintf(ds, sizeof(ds), "%d", days);
    summary_arg_t arg = {c, platform, ds, as_of, err};
    size_t len;
    *json = NULL;
    if (!cache)
        return summary_fill(&arg, json, &len);
    /* The original's key, plus the window's end so history queries for
     * different dates do not share an entry, plus the database. */
    char key[256], db[64];
    const char *dbp[] = {PQhost(c), PQport(c), PQdb(c)};
    au_cache_key(db, sizeof(db), "db", 3, dbp);
    snprintf(key, sizeof(key), "trending_summary:%s:%d:%s:%s",
             platform ? platform : "all", days, as_of ? as_of : "today", db);
    return au_cache_memoize(cache, AU_CK_SUMMARY, key, summary_fill, &arg, json,
                            &len);
}

int au_store_load_features(PGconn *c, const char *path, long *loaded,
                           au_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return au_error_set(err, AU_EIO, "%s: cannot open", path);
    au_buf_t b = {0};
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && rc == 0)
        rc = au_buf_put(&b, chunk, n);
    fclose(f);
    if (rc < 0) {
        au_buf_free(&b);
        return au_error_set(err, rc, "%s: out of memory", path);
    }
    /* PostgreSQL's CSV reader handles the quoting, CRLF and "4.79E-06";
     * the casts below reject anything that is not a number. */
    rc = exec_cmd(c, "BEGIN", err);
    if (rc == 0)
        rc = exec_cmd(c,
                      "CREATE TEMP TABLE au_feat_stage (track text, "
                      "artist text, uri text, danceability text, energy "
                      "text, key text, loudness text, mode text, speechiness "
                      "text, acousticness text, instrumentalness text, "
                      "liveness text, valence text, tempo text, duration_ms "
                      "text, time_signature text, chorus_hit text, sections "
                      "text, target text) ON COMMIT DROP",
                      err);
    if (rc == 0)
        rc = au_pg_copy(c,
                        "COPY au_feat_stage FROM STDIN WITH (FORMAT csv, "
                        "HEADER true)",
                        &b, err);
    au_buf_free(&b);
    PGresult *r = NULL;
    if (rc == 0)
        rc = au_pg_exec(
            c,
            "INSERT INTO audio_features AS f (spotify_id, danceability, "
            " energy, valence, tempo, acousticness, instrumentalness, "
            " speechiness, liveness, loudness) "
            "SELECT DISTINCT ON (id) id, danceability::real, energy::real, "
            " valence::real, tempo::real, acousticness::real, "
            " instrumentalness::real, speechiness::real, liveness::real, "
            " loudness::real FROM (SELECT substr(uri, 15) AS id, * "
            " FROM au_feat_stage WHERE uri LIKE 'spotify:track:%') s "
            "ORDER BY id ON CONFLICT (spotify_id) DO UPDATE SET "
            " danceability = EXCLUDED.danceability, energy = "
            " EXCLUDED.energy, valence = EXCLUDED.valence, tempo = "
            " EXCLUDED.tempo, acousticness = EXCLUDED.acousticness, "
            " instrumentalness = EXCLUDED.instrumentalness, speechiness = "
            " EXCLUDED.speechiness, liveness = EXCLUDED.liveness, "
            " loudness = EXCLUDED.loudness",
            0, NULL, PGRES_COMMAND_OK, &r, err);
    if (rc == 0) {
        *loaded = strtol(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        rc = exec_cmd(c, "COMMIT", err);
    }
    if (rc < 0)
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}
