/* au_store_named.c: the store API by names, as the Python predecessor had
 * it (save_trends_bulk, get_tracks_with_artists_bulk, update_trends_bulk,
 * get_trending_summary_cached) plus loading audio features. Writes resolve
 * names to numbers through au_store_ident.c; reads go through the
 * trends_v view, which gives trends its names back. */
#include "au_store.h"

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

int au_named_trend_validate(const au_named_trend_t *t, au_error_t *err)
{
    if (!t->platform || !*t->platform || !t->chart || !*t->chart ||
        !t->region || !*t->region || !t->date ||
        au_date_parse(t->date, strlen(t->date), NULL) < 0)
        return au_error_set(err, AU_EINVAL,
                            "platform, chart, region and a date are required");
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

/* The rows that validate, resolved to numbers: out[*m], *m <= n. */
static int resolve_rows(PGconn *c, const au_named_trend_t *rows, size_t n,
                        au_trend_t *out, size_t *m, au_error_t *err)
{
    au_track_ref_t *refs = calloc(n ? n : 1, sizeof(*refs));
    int32_t *ids = calloc(n ? n : 1, sizeof(*ids));
    int rc = refs && ids ? 0 : au_error_set(err, AU_ENOMEM, "out of memory");
    *m = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const au_named_trend_t *t = &rows[i];
        au_error_t verr = {0};
        if (au_named_trend_validate(t, &verr) < 0) {
            au_warn("store: skipping row %zu (%s): %s", i,
                    t->track_name ? t->track_name : "?", verr.msg);
            continue;
        }
        int32_t sid;
        long day;
        au_date_parse(t->date, strlen(t->date), &day);
        rc = au_store_series_id(c, t->platform, t->chart, t->region, &sid, err);
        refs[*m] = (au_track_ref_t){t->track_key, t->spotify_id, t->track_name,
                                    t->artist,    t->artist_key, day};
        out[*m] = (au_trend_t){.series_id = sid,
                               .day = day,
                               .position = t->position,
                               .streams = t->streams,
                               .prev_position = t->prev_position,
                               .score = t->score,
                               .momentum = NAN,
                               .acceleration = NAN,
                               .viral_score = NAN,
                               .confidence = NAN,
                               .mood_score = NAN,
                               .direction = -1,
                               .mood = -1,
                               .breakout = NAN};
        (*m)++;
    }
    if (rc == 0)
        rc = au_store_resolve_tracks(c, refs, *m, ids, err);
    for (size_t i = 0; rc == 0 && i < *m; i++)
        out[i].track_id = ids[i];
    free(refs);
    free(ids);
    return rc;
}

static int cmp_row(const void *a, const void *b)
{
    const au_trend_t *x = a, *y = b;
    long d[] = {(long)x->series_id - y->series_id,
                (long)x->track_id - y->track_id, x->day - y->day,
                (long)x->position - y->position};
    for (int i = 0; i < 4; i++)
        if (d[i])
            return d[i] < 0 ? -1 : 1;
    return 0;
}

/* One row per entry, the best position of its duplicates: an upsert may
 * touch a row once per statement. */
static size_t dedupe(au_trend_t *rows, size_t n)
{
    qsort(rows, n, sizeof(*rows), cmp_row);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || rows[i].series_id != rows[m - 1].series_id ||
            rows[i].track_id != rows[m - 1].track_id ||
            rows[i].day != rows[m - 1].day)
            rows[m++] = rows[i];
    return m;
}

int au_store_save_trends_bulk(PGconn *c, const au_named_trend_t *rows, size_t n,
                              size_t *saved, au_error_t *err)
{
    *saved = 0;
    if (n == 0)
        return 0;
    au_trend_t *out = calloc(n, sizeof(*out));
    if (!out)
        return au_error_set(err, AU_ENOMEM, "save: out of memory");
    size_t m = 0;
    int rc = resolve_rows(c, rows, n, out, &m, err);
    size_t unique = rc == 0 ? dedupe(out, m) : 0;
    if (rc == 0)
        rc = exec_cmd(c, "BEGIN", err);
    if (rc == 0)
        rc = au_store_write_trends(c, out, unique, AU_WRITE_UPSERT, err);
    if (rc == 0)
        rc = exec_cmd(c, "COMMIT", err);
    if (rc < 0)
        PQclear(PQexec(c, "ROLLBACK"));
    else
        *saved = m;
    free(out);
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
        " JOIN trends_v t ON strpos(lower(t.track_name), lower(q.tn)) > 0"
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
            snprintf(frag, sizeof(frag), "%s%s = $%zu::%s", i ? ", " : "",
                     update_whitelist[w][0], i + 2, update_whitelist[w][1]);
        rc |= au_buf_put(&sql, frag, (size_t)fl);
        params[i + 1] = upd[i].value;
    }
    const char *tail = " WHERE track_id IN "
                       "(SELECT id FROM tracks WHERE track_key = ANY($1))";
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
        "WITH w AS (SELECT * FROM trends_v WHERE is_active"
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
        rc = exec_cmd(c,
                      "UPDATE store_meta SET features_generation = "
                      "features_generation + 1",
                      err);
    }
    if (rc == 0)
        rc = exec_cmd(c, "COMMIT", err);
    if (rc < 0)
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}

/* ---- MusicBrainz ids of artists ------------------------------------- */

int au_store_artists_to_look_up(PGconn *c, int limit, size_t n,
                                const char *const *keys, PGresult **out,
                                au_error_t *err)
{
    au_buf_t b = {0};
    au_params_t p = {0};
    au_params_int(&p, limit);
    if (n > 0 && au_buf_text_array(&b, n, keys) < 0) {
        au_buf_free(&b);
        return au_error_set(err, AU_ENOMEM, "artists: out of memory");
    }
    au_params_str(&p, n > 0 ? b.data : NULL);
    int rc = au_pg_run(c,
                       "SELECT name, artist_key FROM artists WHERE "
                       "CASE WHEN $2::text[] IS NULL THEN mbid_checked_at IS "
                       " NULL ELSE artist_key = ANY ($2::text[]) END "
                       "ORDER BY id LIMIT $1::int",
                       &p, PGRES_TUPLES_OK, out, err);
    au_buf_free(&b);
    return rc;
}

/* Runs sql with ncol text arrays as $1..$ncol, column k holding cols[k][i]
 * for the n rows, NULL sent as '' (the statements read '' as "none").
 * *count: the first column of the statement's one row when it returns
 * rows (expect PGRES_TUPLES_OK), else the rows it changed. */
static int run_columns(PGconn *c, const char *sql, size_t n, size_t ncol,
                       const char *const *const *cols, ExecStatusType expect,
                       long *count, au_error_t *err)
{
    *count = 0;
    if (n == 0)
        return 0;
    au_buf_t b[AU_PG_MAX_PARAMS] = {{0}};
    const char **v = malloc(n * sizeof(*v));
    int rc = v && ncol <= AU_PG_MAX_PARAMS ? 0 : AU_ENOMEM;
    au_params_t p = {0};
    for (size_t k = 0; rc == 0 && k < ncol; k++) {
        for (size_t i = 0; i < n; i++)
            v[i] = cols[k][i] ? cols[k][i] : "";
        rc = au_buf_text_array(&b[k], n, v);
        au_params_str(&p, b[k].data);
    }
    free(v);
    PGresult *r = NULL;
    if (rc < 0)
        au_error_set(err, AU_ENOMEM, "store: out of memory");
    else
        rc = au_pg_run(c, sql, &p, expect, &r, err);
    if (rc == 0 && expect == PGRES_TUPLES_OK)
        *count = PQntuples(r) ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    else if (rc == 0)
        *count = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    for (size_t k = 0; k < ncol; k++)
        au_buf_free(&b[k]);
    return rc;
}

/* A query of stored rows to look up: sql with $1 the most rows. */
static int select_limit(PGconn *c, const char *sql, int limit, PGresult **out,
                        au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, limit);
    return au_pg_run(c, sql, &p, PGRES_TUPLES_OK, out, err);
}

int au_store_set_mbids(PGconn *c, size_t n, const char *const *keys,
                       const char *const *mbids, long *updated, au_error_t *err)
{
    const char *const *cols[] = {keys, mbids};
    return run_columns(c,
                       "UPDATE artists a SET mbid = coalesce(nullif(u.m, "
                       " '')::uuid, a.mbid), "
                       " mbid_checked_at = now() FROM unnest($1::text[], "
                       " $2::text[]) u(k, m) WHERE a.artist_key = u.k",
                       n, 2, cols, PGRES_COMMAND_OK, updated, err);
}

/* ---- what the Spotify Web API says of tracks ------------------------ */

int au_store_tracks_to_look_up(PGconn *c, int limit, PGresult **out,
                               au_error_t *err)
{
    return select_limit(c,
                        "SELECT spotify_id FROM tracks WHERE spotify_id IS NOT "
                        "NULL AND spotify_checked_at IS NULL ORDER BY id "
                        "LIMIT $1::int",
                        limit, out, err);
}

int au_store_set_track_meta(PGconn *c, size_t n, const char *const *ids,
                            const char *const *popularity,
                            const char *const *isrc, long *updated,
                            au_error_t *err)
{
    const char *const *cols[] = {ids, popularity, isrc};
    return run_columns(
        c,
        "UPDATE tracks t SET popularity = coalesce(nullif(u.p, "
        " '')::smallint, t.popularity), isrc = coalesce(nullif(u.s, ''), "
        " t.isrc), spotify_checked_at = now() FROM unnest($1::text[], "
        " $2::text[], $3::text[]) u(id, p, s) WHERE t.spotify_id = u.id",
        n, 3, cols, PGRES_COMMAND_OK, updated, err);
}

/* ---- what the Spotify Web API says of artists ----------------------- */

int au_store_spotify_artists_to_look_up(PGconn *c, int limit, PGresult **out,
                                        au_error_t *err)
{
    return select_limit(
        c,
        "SELECT spotify_id FROM artists WHERE spotify_id IS NOT "
        "NULL AND spotify_checked_at IS NULL ORDER BY id "
        "LIMIT $1::int",
        limit, out, err);
}

int au_store_set_artist_ids(PGconn *c, size_t n, const char *const *keys,
                            const char *const *ids, long *updated,
                            au_error_t *err)
{
    const char *const *cols[] = {keys, ids};
    /* The first id a key is credited with stays: a later credit of the
     * same name is as likely a namesake as a correction. */
    return run_columns(c,
                       "UPDATE artists a SET spotify_id = u.id FROM "
                       " (SELECT DISTINCT ON (k) k, id FROM unnest("
                       " $1::text[], $2::text[]) WITH ORDINALITY u(k, id, o) "
                       " ORDER BY k, o) u "
                       "WHERE a.artist_key = u.k AND a.spotify_id IS NULL",
                       n, 2, cols, PGRES_COMMAND_OK, updated, err);
}

int au_store_set_artist_meta(PGconn *c, size_t n, const char *const *ids,
                             const char *const *keys,
                             const char *const *popularity,
                             const char *const *followers,
                             const char *const *genres, long *updated,
                             au_error_t *err)
{
    const char *const *cols[] = {ids, keys, popularity, followers, genres};
    /* An artist is the one holding the id, or without any id the one of
     * the answer's name; ids asked for and not answered are only marked
     * (keys[i] NULL). genres[i] is a JSON array of strings. */
    return run_columns(
        c,
        "UPDATE artists a SET spotify_id = u.id, popularity = "
        " coalesce(nullif(u.p, '')::smallint, a.popularity), followers = "
        " coalesce(nullif(u.f, '')::bigint, a.followers), genres = CASE "
        " WHEN u.g = '' THEN a.genres ELSE ARRAY(SELECT "
        " jsonb_array_elements_text(u.g::jsonb)) END, spotify_checked_at = "
        " now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
        " $5::text[]) u(id, k, p, f, g) "
        "WHERE a.spotify_id = u.id OR (u.k <> '' AND a.spotify_id IS NULL "
        " AND a.artist_key = u.k)",
        n, 5, cols, PGRES_COMMAND_OK, updated, err);
}

/* ---- audio features from the Spotify Web API ------------------------ */

int au_store_features_to_look_up(PGconn *c, int limit, PGresult **out,
                                 au_error_t *err)
{
    return select_limit(
        c,
        "SELECT k.spotify_id FROM tracks k WHERE k.spotify_id IS "
        "NOT NULL AND k.features_checked_at IS NULL AND NOT "
        "EXISTS (SELECT 1 FROM audio_features f WHERE "
        "f.spotify_id = k.spotify_id) ORDER BY k.id "
        "LIMIT $1::int",
        limit, out, err);
}

int au_store_set_features(PGconn *c, size_t n, const char *const *ids,
                          const char *const *const f[4], long *stored,
                          au_error_t *err)
{
    const char *const *cols[] = {ids, f[0], f[1], f[2], f[3]};
    /* One statement: the features, the generation (so that no cached
     * copy of what was there before is served: docs/ARCHITECTURE.md,
     * Derived columns) when any changed, and every id marked asked. */
    return run_columns(
        c,
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
        " $4::text[], $5::text[]) u(id, d, e, v, t)), "
        "w AS (INSERT INTO audio_features AS x (spotify_id, danceability, "
        " energy, valence, tempo) SELECT id, d::real, e::real, v::real, "
        " t::real FROM u WHERE d <> '' ON CONFLICT (spotify_id) DO UPDATE "
        " SET danceability = excluded.danceability, energy = "
        " excluded.energy, valence = excluded.valence, tempo = excluded.tempo "
        " WHERE (x.danceability, x.energy, x.valence, x.tempo) IS DISTINCT "
        " FROM (excluded.danceability, excluded.energy, excluded.valence, "
        " excluded.tempo) RETURNING 1), "
        "g AS (UPDATE store_meta SET features_generation = "
        " features_generation + 1 WHERE EXISTS (SELECT 1 FROM w)), "
        "k AS (UPDATE tracks t SET features_checked_at = now() FROM u "
        " WHERE t.spotify_id = u.id) "
        "SELECT count(*) FROM w",
        n, 5, cols, PGRES_TUPLES_OK, stored, err);
}

/* ---- MusicBrainz recordings of tracks ------------------------------- */

int au_store_isrcs_to_look_up(PGconn *c, int limit, PGresult **out,
                              au_error_t *err)
{
    return select_limit(c,
                        "SELECT isrc FROM tracks WHERE isrc IS NOT NULL AND "
                        "mbid_checked_at IS NULL GROUP BY isrc ORDER BY "
                        "min(id) LIMIT $1::int",
                        limit, out, err);
}

int au_store_set_recordings(PGconn *c, size_t n, const char *const *isrcs,
                            const char *const *mbids,
                            const char *const *artist_keys,
                            const char *const *artist_mbids, long *updated,
                            au_error_t *err)
{
    const char *const *cols[] = {isrcs, mbids, artist_keys, artist_mbids};
    /* A track takes its ISRC's recording; the recording's first credited
     * artist gives its MBID to the stored artist of that name (an id
     * already there stays: an artist search found it). */
    return run_columns(
        c,
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
        " $4::text[]) u(i, m, k, am)), "
        "a AS (UPDATE artists a SET mbid = u.am::uuid FROM u WHERE u.k <> '' "
        " AND u.am <> '' AND a.artist_key = u.k AND a.mbid IS NULL), "
        "t AS (UPDATE tracks t SET mbid = coalesce(nullif(u.m, '')::uuid, "
        " t.mbid), mbid_checked_at = now() FROM u WHERE t.isrc = u.i "
        " RETURNING 1) "
        "SELECT count(*) FROM t",
        n, 4, cols, PGRES_TUPLES_OK, updated, err);
}
