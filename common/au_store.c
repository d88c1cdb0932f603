#include "au_store.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_date.h"
#include "au_log.h"

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

/* ---- the trends columns, declared once ------------------------------------
 *
 * X(column, SQL type, how a row's value is written, the value, role).
 * Every statement that lists the columns (the load table, COPY, the
 * upsert, its conflict update) is generated from this table, so a new
 * score column is one line here plus a migration (docs/ARCHITECTURE.md,
 * "A new score column"). Roles: KEY is the natural key, VAL is set on
 * insert and on conflict, DIM only feeds the tracks and artists upserts
 * from the load table. */
#define AU_TREND_COLUMNS(X)                                                    \
    X(platform, "text", text, t->platform, KEY)                                \
    X(chart, "text", text, t->chart, KEY)                                      \
    X(region, "text", text, t->region, KEY)                                    \
    X(chart_date, "date", text, t->date, KEY)                                  \
    X(track_key, "text", text, t->track_key, KEY)                              \
    X(spotify_id, "text", text, t->spotify_id, DIM)                            \
    X(artist_key, "text", text, t->artist_key, DIM)                            \
    X(position, "int", int, t->position, VAL)                                  \
    X(streams, "bigint", i64_or_null, t->streams < 0 ? NULL : &t->streams,     \
      VAL)                                                                     \
    X(track_name, "text", text, t->track_name, VAL)                            \
    X(artist, "text", text, t->artist, VAL)                                    \
    X(score, "float8", real, t->score, VAL)                                    \
    X(prev_position, "int", i32_or_null,                                       \
      t->prev_position ? &t->prev_position : NULL, VAL)                        \
    X(position_change, "int", i32_or_null,                                     \
      t->prev_position ? &t->position_change : NULL, VAL)                      \
    X(job_id, "bigint", i64_or_null, t->job_id ? &t->job_id : NULL, VAL)       \
    X(platform_score, "float8", real, scored(t, t->platform_score), VAL)       \
    X(momentum, "float8", real, scored(t, t->momentum), VAL)                   \
    X(acceleration, "float8", real, scored(t, t->acceleration), VAL)           \
    X(viral_score, "float8", real, scored(t, t->viral_score), VAL)             \
    X(confidence, "float8", real, scored(t, t->confidence), VAL)               \
    X(mood_score, "float8", real, scored(t, t->mood_score), VAL)               \
    X(direction, "text", text, t->has_analytics ? t->direction : NULL, VAL)    \
    X(mood, "text", text, t->has_analytics ? t->mood : NULL, VAL)

enum { KEY, VAL, DIM };

typedef struct {
    const char *name, *type;
    int role;
} column_t;

static const column_t columns[] = {
#define AU__COL(name, type, put, value, role) {#name, type, role},
    AU_TREND_COLUMNS(AU__COL)
#undef AU__COL
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

static double scored(const au_trend_t *t, double v)
{
    return t->has_analytics ? v : NAN;
}

static int put_text(au_buf_t *b, const char *s)
{
    return au_buf_copy_field(b, s);
}

static int put_int(au_buf_t *b, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    return au_buf_put(b, tmp, (size_t)n);
}

/* NULL is SQL NULL. */
static int put_i32_or_null(au_buf_t *b, const int32_t *v)
{
    return v ? put_int(b, *v) : au_buf_put(b, "\\N", 2);
}

static int put_i64_or_null(au_buf_t *b, const int64_t *v)
{
    return v ? put_int(b, *v) : au_buf_put(b, "\\N", 2);
}

static int put_real(au_buf_t *b, double v)
{
    if (!isfinite(v))
        return au_buf_put(b, "\\N", 2);
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    return au_buf_put(b, tmp, (size_t)n);
}

/* One row of the load table, in the declared column order. */
static int load_row(au_buf_t *b, const au_trend_t *t)
{
    int rc = 0;
    size_t col = 0;
#define AU__PUT(name, type, put, value, role)                                  \
    rc |= put_##put(b, value);                                                 \
    rc |= au_buf_put(b, ++col < NCOLUMNS ? "\t" : "\n", 1);
    AU_TREND_COLUMNS(AU__PUT)
#undef AU__PUT
    return rc ? AU_ENOMEM : 0;
}

/* Appends the names of the columns of the given roles (mask of 1 << role),
 * each written as fmt with the name substituted for every %1$s. */
static int list_columns(au_buf_t *b, unsigned roles, const char *fmt,
                        const char *sep)
{
    int rc = 0, first = 1;
    for (size_t i = 0; i < NCOLUMNS; i++) {
        if (!(roles & (1u << columns[i].role)))
            continue;
        char item[160];
        int n =
            snprintf(item, sizeof(item), fmt, columns[i].name, columns[i].type);
        if (!first)
            rc |= au_buf_put(b, sep, strlen(sep));
        rc |= au_buf_put(b, item, (size_t)n);
        first = 0;
    }
    return rc;
}

#define ROLE(r) (1u << (r))

/* The statements generated from the column table, built once. */
static struct {
    au_buf_t create_load, upsert;
    int built;
} gen;

static int build_sql(void)
{
    if (gen.built)
        return 0;
    au_buf_t *c = &gen.create_load, *u = &gen.upsert;
    const char *k = "platform, chart, region, chart_date, track_key";
    int rc = au_buf_put(c, "CREATE TEMP TABLE IF NOT EXISTS au_load (", 41);
    rc |= list_columns(c, ROLE(KEY) | ROLE(DIM) | ROLE(VAL), "%s %s", ", ");
    rc |= au_buf_put(c, ") ON COMMIT DELETE ROWS", 23);
    rc |= au_buf_put(u, "INSERT INTO trends (", 20);
    rc |= list_columns(u, ROLE(KEY) | ROLE(VAL), "%s", ", ");
    rc |= au_buf_put(u, ") SELECT DISTINCT ON (", 22);
    rc |= au_buf_put(u, k, strlen(k));
    rc |= au_buf_put(u, ") ", 2);
    rc |= list_columns(u, ROLE(KEY) | ROLE(VAL), "%s", ", ");
    rc |= au_buf_put(u, " FROM au_load ORDER BY ", 23);
    rc |= au_buf_put(u, k, strlen(k));
    rc |= au_buf_put(u, ", position ON CONFLICT (", 24);
    rc |= au_buf_put(u, k, strlen(k));
    rc |= au_buf_put(u, ") DO UPDATE SET ", 16);
    rc |= list_columns(u, ROLE(VAL), "%1$s = EXCLUDED.%1$s", ", ");
    rc |= au_buf_put(u, ", last_updated = now()", 22);
    if (rc) {
        au_buf_free(c);
        au_buf_free(u);
        return AU_ENOMEM;
    }
    gen.built = 1;
    return 0;
}

/* The successor fix-up: the entry right after each loaded row in its
 * series takes the loaded position as its previous one. It is what makes
 * the stored change independent of the order in which dates arrive.
 * LATERAL finds each loaded row's successor with one probe of the series
 * index; most rows arrive in date order and have none. */
static const char successors_sql[] =
    "UPDATE trends n SET prev_position = s.position, "
    " position_change = s.position - n.position, last_updated = now() "
    "FROM (SELECT DISTINCT ON (platform, chart, region, chart_date, "
    "  track_key) * FROM au_load ORDER BY platform, chart, region, "
    "  chart_date, track_key, position) s "
    "CROSS JOIN LATERAL (SELECT m.chart_date FROM trends m "
    "  WHERE m.platform = s.platform AND m.chart = s.chart "
    "  AND m.region = s.region AND m.track_key = s.track_key "
    "  AND m.chart_date > s.chart_date "
    "  ORDER BY m.chart_date LIMIT 1) nx "
    "WHERE n.platform = s.platform AND n.chart = s.chart "
    " AND n.region = s.region AND n.chart_date = nx.chart_date "
    " AND n.track_key = s.track_key "
    " AND n.prev_position IS DISTINCT FROM s.position";

static const char artists_sql[] =
    "INSERT INTO artists (artist_key, name) "
    "SELECT DISTINCT ON (artist_key) artist_key, artist FROM au_load "
    "ORDER BY artist_key ON CONFLICT (artist_key) DO NOTHING";

static const char tracks_sql[] =
    "INSERT INTO tracks (track_key, spotify_id, name, artist_key) "
    "SELECT DISTINCT ON (track_key) track_key, spotify_id, track_name, "
    " artist_key FROM au_load ORDER BY track_key "
    "ON CONFLICT (track_key) DO NOTHING";

int au_store_write_trends(PGconn *c, const au_trend_t *rows, size_t n,
                          size_t *written, au_error_t *err)
{
    return au_store_write_trends_opt(c, rows, n, 0, written, err);
}

/* The rows that pass au_trend_validate, as COPY text; *ok counts them. */
static int load_rows(const au_trend_t *rows, size_t n, au_buf_t *b, size_t *ok,
                     au_error_t *err)
{
    *ok = 0;
    for (size_t i = 0; i < n; i++) {
        au_error_t verr = {0};
        if (au_trend_validate(&rows[i], &verr) < 0) {
            au_warn("store: skipping row %zu (%s): %s", i,
                    rows[i].track_name ? rows[i].track_name : "?", verr.msg);
            continue;
        }
        if (load_row(b, &rows[i]) < 0)
            return au_error_set(err, AU_ENOMEM, "store: out of memory");
        (*ok)++;
    }
    return 0;
}

int au_store_write_trends_opt(PGconn *c, const au_trend_t *rows, size_t n,
                              unsigned flags, size_t *written, au_error_t *err)
{
    au_buf_t b = {0};
    size_t ok = 0;
    *written = 0;
    if (build_sql() < 0)
        return au_error_set(err, AU_ENOMEM, "store: out of memory");
    int rc = load_rows(rows, n, &b, &ok, err);
    if (rc < 0 || ok == 0) {
        au_buf_free(&b);
        return rc;
    }
    rc = exec_cmd(c, gen.create_load.data, err);
    if (rc == 0)
        rc = au_pg_copy(c, "COPY au_load FROM STDIN", &b, err);
    au_buf_free(&b);
    /* Dimensions first: trends rows name their track. */
    if (rc == 0 && !(flags & AU_STORE_SKIP_DIMENSIONS))
        rc = exec_cmd(c, artists_sql, err);
    if (rc == 0 && !(flags & AU_STORE_SKIP_DIMENSIONS))
        rc = exec_cmd(c, tracks_sql, err);
    if (rc == 0)
        rc = exec_cmd(c, gen.upsert.data, err);
    if (rc == 0 && !(flags & AU_STORE_SKIP_SUCCESSORS))
        rc = exec_cmd(c, successors_sql, err);
    if (rc == 0)
        rc = exec_cmd(c, "TRUNCATE au_load", err);
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
    char(*text)[2][16] = malloc(n * sizeof(*text));
    au_buf_t lit[6] = {{0}};
    int rc = col && text ? 0 : AU_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (au_date_format(s[i].day, text[i][0]) < 0)
            rc = AU_ERANGE;
        snprintf(text[i][1], sizeof(text[i][1]), "%d", (int)s[i].prev_position);
    }
    for (int k = 0; k < 6 && rc == 0; k++) {
        for (size_t i = 0; i < n; i++) {
            const char *v[] = {s[i].platform, s[i].chart,     s[i].region,
                               text[i][0],    s[i].track_key, text[i][1]};
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
        au_error_set(err, rc, "successors: %s", au_strerror(rc));
    }
    for (int k = 0; k < 6; k++)
        au_buf_free(&lit[k]);
    free(col);
    free(text);
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
        char day[AU_DATE_LEN + 1], peak[AU_DATE_LEN + 1];
        au_date_format(p[i].prediction_day, day);
        /* A peak past the calendar's end is stored as unknown. */
        int has_peak = au_date_format(p[i].predicted_peak_day, peak) == 0;
        rc |= put_real(&b, p[i].confidence);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= au_buf_copy_field(&b, day);
        rc |= au_buf_put(&b, "\t", 1);
        rc |= au_buf_copy_field(&b, has_peak ? peak : NULL);
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
                  "CREATE TEMP TABLE IF NOT EXISTS au_pred_load ("
                  " track_key text, track_name text, artist text,"
                  " confidence float8, prediction_date date,"
                  " predicted_peak_date date, predicted_peak_score float8,"
                  " prediction_features jsonb) ON COMMIT DELETE ROWS",
                  err);
    if (rc == 0)
        rc = au_pg_copy(c, "COPY au_pred_load FROM STDIN", &b, err);
    au_buf_free(&b);
    if (rc == 0)
        rc = exec_cmd(
            c,
            "INSERT INTO viral_predictions (track_key, track_name, artist, "
            " confidence, prediction_date, predicted_peak_date, "
            " predicted_peak_score, prediction_features) "
            "SELECT DISTINCT ON (track_key, prediction_date) * "
            "FROM au_pred_load "
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
        rc = exec_cmd(c, "TRUNCATE au_pred_load", err);
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
        /* The database is part of the key (the Python predecessor's was not),
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
    /* The summary's key, plus the window's end so history queries for
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
