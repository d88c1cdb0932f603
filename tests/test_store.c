/* test_store.c: the trend store and the analytics ledger commit, against
 * the real PostgreSQL (and Redis where the cache is involved) of
 * tests/run.sh. Each test works in a fresh, migrated database.
 *
 * The Redis server is shared by every test and every run while the
 * databases are not, so tests that cache use names unique to the process
 * and the moment: a leftover entry must never answer for a new database. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "au_analytics.h"
#include "au_arena.h"
#include "au_cache.h"
#include "au_config.h"
#include "au_date.h"
#include "au_digest.h"
#include "au_migrate.h"
#include "au_pool.h"
#include "au_queue.h"
#include "au_store.h"
#include "au_test.h"

#define FEATURES_CSV "audio_features/spotify_hit_predictor_dataset-of-10s.csv"

static PGconn *migrated_db(char *url, size_t cap)
{
    au_test_db_new(url, cap);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The first value of a query as malloc'd text ("NULL" for SQL NULL). */
static char *query_text(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    cr_assert_geq(PQntuples(r), 1, "%s: no row", sql);
    char *v = strdup(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static long query_long(PGconn *c, const char *sql)
{
    char *v = query_text(c, sql);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

static void expect_text(PGconn *c, const char *sql, const char *want)
{
    char *v = query_text(c, sql);
    cr_expect_str_eq(v, want, "%s: got \"%s\", want \"%s\"", sql, v, want);
    free(v);
}

/* A valid row of the spotify/daily/us series. */
static au_named_trend_t row(const char *date, const char *key, const char *name,
                            int32_t position, double score)
{
    return (au_named_trend_t){.platform = "spotify",
                              .chart = "daily",
                              .region = "us",
                              .date = date,
                              .track_key = key,
                              .track_name = name,
                              .artist = "The Band",
                              .artist_key = "the band",
                              .position = position,
                              .streams = 1000 * position,
                              .score = score};
}

static void save_ok(PGconn *c, const au_named_trend_t *rows, size_t n,
                    size_t want)
{
    size_t saved = 999;
    au_error_t err = {0};
    cr_assert_eq(au_store_save_trends_bulk(c, rows, n, &saved, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(saved, want, "saved %zu of %zu, want %zu", saved, n, want);
}

/* Process- and moment-unique text, for names that reach Redis. */
static const char *nonce(void)
{
    static char buf[48];
    if (!buf[0]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(buf, sizeof(buf), "%d-%lld-%ld", (int)getpid(),
                 (long long)ts.tv_sec, ts.tv_nsec);
    }
    return buf;
}

static au_cache_t *redis_cache(void)
{
    au_config_t cfg;
    au_config_defaults(&cfg);
    snprintf(cfg.redis.url, sizeof(cfg.redis.url), "%s", au_test_redis_url());
    au_error_t err = {0};
    au_cache_t *cache = au_cache_new(&cfg, &err);
    cr_assert_not_null(cache, "%s", err.msg);
    return cache;
}

static json_t *parse_json(const char *s)
{
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    cr_assert_not_null(j, "not JSON (%s): %s", jerr.text, s);
    return j;
}

/* ---- save_trends_bulk ---- */

Test(store, save_writes_valid_rows_and_skips_invalid_ones)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_named_trend_t rows[] = {
        row("2019-01-01", "k1", "One", 1, 100),
        row("2019-01-01", "k2", "Two", 2, 99.5),
        row("2019-01-01", "bad-score", "Bad", 3, 150),
        row("2019-01-01", "k3", "Three", 3, 99),
        row("2019-01-01", "bad-name", "", 4, 98.5),
        row("2019-01-01", "k4", "Four", 5, 98),
    };
    save_ok(c, rows, 6, 4);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends"), 4);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends_v WHERE "
                               "track_key LIKE 'bad%'"),
                 0);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM tracks"), 4);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM artists"), 1);
    expect_text(c, "SELECT streams FROM trends_v WHERE track_key = 'k4'",
                "5000");
    PQfinish(c);
}

Test(store, saving_the_same_rows_again_updates_values_not_the_count)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_named_trend_t rows[] = {
        row("2019-01-01", "k1", "One", 1, 100),
        row("2019-01-01", "k2", "Two", 2, 99.5),
    };
    save_ok(c, rows, 2, 2);
    rows[0].score = 42.5;
    rows[0].streams = -1;
    rows[1].position = 7;
    rows[1].track_name = "Two (Remastered)";
    save_ok(c, rows, 2, 2);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends"), 2);
    expect_text(c,
                "SELECT score || ' ' || coalesce(streams::text, 'null') "
                "FROM trends_v WHERE track_key = 'k1'",
                "42.5 null");
    /* Two spellings on the same (earliest) date: the smaller one in byte
     * order, whichever was saved first, so every order of the same charts
     * stores the same name. */
    expect_text(c,
                "SELECT position || ' ' || track_name FROM trends_v "
                "WHERE track_key = 'k2'",
                "7 Two");
    rows[1].track_name = "TWO";
    save_ok(c, rows, 2, 2);
    expect_text(c, "SELECT track_name FROM trends_v WHERE track_key = 'k2'",
                "TWO");
    PQfinish(c);
}

Test(store, same_natural_key_twice_in_one_call_keeps_the_best_position)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_named_trend_t rows[] = {
        row("2019-01-01", "k1", "One", 9, 90),
        row("2019-01-01", "k1", "One", 4, 95),
        row("2019-01-01", "k1", "One", 6, 93),
    };
    size_t saved = 0;
    au_error_t err = {0};
    cr_assert_eq(au_store_save_trends_bulk(c, rows, 3, &saved, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends"), 1);
    expect_text(c, "SELECT position || ' ' || score FROM trends", "4 95");
    PQfinish(c);
}

Test(store, an_earlier_chart_gives_a_track_its_name_a_later_one_does_not)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_named_trend_t later = row("2019-01-08", "k1", "Later Name", 5, 98);
    later.artist = "THE BAND";
    save_ok(c, &later, 1, 1);
    au_named_trend_t earlier = row("2019-01-01", "k1", "Earlier Name", 9, 96);
    earlier.artist = "The Band";
    save_ok(c, &earlier, 1, 1);
    au_named_trend_t latest = row("2019-01-15", "k1", "Latest Name", 2, 99.5);
    latest.artist = "the band";
    save_ok(c, &latest, 1, 1);
    /* The earliest chart's spelling, whatever the order they came in: the
     * track's name and artist, and the artist's own name. */
    expect_text(c, "SELECT name || '/' || artist FROM tracks",
                "Earlier Name/The Band");
    expect_text(c, "SELECT name FROM artists", "The Band");
    expect_text(c, "SELECT count(DISTINCT track_name) FROM trends_v", "1");
    PQfinish(c);
}

Test(store, copy_escaping_round_trips_tabs_newlines_backslashes_quotes)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    const char *name = "a\tb\nc\\d \"q\" 'e' \\N \r end\\";
    const char *artist = "O'Brien \\t \"&\" Co";
    au_named_trend_t r = row("2019-01-01", "k\\1", name, 1, 100);
    r.artist = artist;
    r.artist_key = "o'brien\tco";
    save_ok(c, &r, 1, 1);
    PGresult *res = PQexec(c, "SELECT track_name, artist, track_key FROM "
                              "trends_v");
    cr_assert_eq(PQntuples(res), 1);
    cr_expect_str_eq(PQgetvalue(res, 0, 0), name);
    cr_expect_str_eq(PQgetvalue(res, 0, 1), artist);
    cr_expect_str_eq(PQgetvalue(res, 0, 2), "k\\1");
    PQclear(res);
    res = PQexec(c, "SELECT t.name, a.artist_key FROM tracks t JOIN "
                    "artists a ON a.id = t.artist_id");
    cr_assert_eq(PQntuples(res), 1);
    cr_expect_str_eq(PQgetvalue(res, 0, 0), name);
    cr_expect_str_eq(PQgetvalue(res, 0, 1), "o'brien\tco");
    PQclear(res);
    PQfinish(c);
}

/* ---- tracks_bulk ---- */

static void save_bulk_fixture(PGconn *c, const char *tag)
{
    static char names[4][96];
    snprintf(names[0], sizeof(names[0]), "Blinding Lights %s", tag);
    snprintf(names[1], sizeof(names[1]), "Lights Out %s", tag);
    snprintf(names[2], sizeof(names[2]), "Save Your Tears %s", tag);
    snprintf(names[3], sizeof(names[3]), "Other Song %s", tag);
    au_named_trend_t rows[] = {
        row("2020-03-01", "bl", names[0], 10, 95.5),
        row("2020-03-01", "lo", names[1], 2, 99.5),
        row("2020-03-01", "syt", names[2], 1, 100),
        row("2020-03-01", "os", names[3], 50, 75.5),
    };
    rows[0].artist = "The Weeknd";
    rows[2].artist = "The Weeknd";
    rows[3].artist = "The Weeknd";
    rows[3].platform = "apple"; /* matches, but inactive below */
    save_ok(c, rows, 4, 4);
    exec_ok(c, "UPDATE trends SET is_active = false WHERE track_id = "
               "(SELECT id FROM tracks WHERE track_key = 'os')");
}

Test(store, tracks_bulk_matches_substrings_ignoring_case_best_score_first)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_bulk_fixture(c, "x");
    const char *tracks[] = {"LIGHTS", "tears", "song"};
    const char *artists[] = {"weeknd", "WEEK", "weeknd"};
    char *js = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_tracks_bulk(c, NULL, 3, tracks, artists, &js, &err),
                 0, "%s", err.msg);
    json_t *j = parse_json(js);
    cr_assert(json_is_array(j));
    /* "Lights Out" is by The Band: its artist does not match. The
     * inactive "Other Song" is left out. */
    cr_assert_eq(json_array_size(j), 2, "%s", js);
    json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1);
    cr_expect_str_eq(json_string_value(json_object_get(a, "track_key")), "syt");
    cr_expect_str_eq(json_string_value(json_object_get(b, "track_key")), "bl");
    cr_expect_eq(json_number_value(json_object_get(a, "score")), 100.0);
    cr_expect_eq(json_integer_value(json_object_get(b, "rank")), 10);
    cr_expect_str_eq(json_string_value(json_object_get(b, "artist")),
                     "The Weeknd");
    cr_expect_str_eq(json_string_value(json_object_get(b, "platform")),
                     "spotify");
    cr_expect_str_eq(json_string_value(json_object_get(b, "region")), "us");
    cr_expect_str_eq(json_string_value(json_object_get(b, "chart")), "daily");
    cr_expect_str_eq(json_string_value(json_object_get(b, "trend_date")),
                     "2020-03-01");
    json_decref(j);
    free(js);
    PQfinish(c);
}

Test(store, tracks_bulk_sends_one_query_for_all_pairs)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_bulk_fixture(c, "x");
    char *tbuf = NULL;
    size_t tlen = 0;
    FILE *trace = open_memstream(&tbuf, &tlen);
    cr_assert_not_null(trace);
    PQtrace(c, trace);
    PQsetTraceFlags(c, PQTRACE_SUPPRESS_TIMESTAMPS);
    const char *tracks[] = {"lights", "tears", "song", "a", "b"};
    const char *artists[] = {"weeknd", "weeknd", "x", "y", "z"};
    char *js = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_tracks_bulk(c, NULL, 5, tracks, artists, &js, &err),
                 0, "%s", err.msg);
    PQuntrace(c);
    fclose(trace);
    int queries = 0;
    for (char *line = tbuf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "F\t", 2) &&
            (strstr(line, "\tParse\t") || strstr(line, "\tQuery\t")))
            queries++;
        line = nl ? nl + 1 : NULL;
    }
    cr_expect_eq(queries, 1, "%d queries for 5 pairs", queries);
    free(tbuf);
    free(js);
    PQfinish(c);
}

Test(store, tracks_bulk_of_no_pairs_is_an_empty_array)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    char *js = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_tracks_bulk(c, NULL, 0, NULL, NULL, &js, &err), 0);
    cr_expect_str_eq(js, "[]");
    free(js);
    /* No match at all is an empty array too, not null. */
    const char *t[] = {"nothing"}, *a[] = {"nobody"};
    cr_assert_eq(au_store_tracks_bulk(c, NULL, 1, t, a, &js, &err), 0, "%s",
                 err.msg);
    cr_expect_str_eq(js, "[]");
    free(js);
    PQfinish(c);
}

Test(store, tracks_bulk_answer_is_cached_and_without_cache_sees_deletes)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_bulk_fixture(c, nonce());
    au_cache_t *cache = redis_cache();
    char want[64];
    snprintf(want, sizeof(want), "tears %s", nonce());
    const char *t[] = {want}, *a[] = {"weeknd"};
    char *first = NULL, *second = NULL, *uncached = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_tracks_bulk(c, cache, 1, t, a, &first, &err), 0, "%s",
                 err.msg);
    cr_assert(strstr(first, "syt") != NULL, "%s", first);
    exec_ok(c, "DELETE FROM trends");
    cr_assert_eq(au_store_tracks_bulk(c, cache, 1, t, a, &second, &err), 0,
                 "%s", err.msg);
    cr_expect_str_eq(second, first, "the second call was not cached");
    cr_assert_eq(au_store_tracks_bulk(c, NULL, 1, t, a, &uncached, &err), 0,
                 "%s", err.msg);
    cr_expect_str_eq(uncached, "[]");
    au_cache_stats_t st;
    au_cache_stats(cache, AU_CK_BULK, &st);
    cr_expect_geq(st.hits, 1);
    free(first);
    free(second);
    free(uncached);
    au_cache_destroy(&cache);
    PQfinish(c);
}

Test(store, tracks_bulk_pairs_in_another_order_hit_the_same_cache_entry)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_bulk_fixture(c, nonce());
    au_cache_t *cache = redis_cache();
    char t1[64], t2[64];
    snprintf(t1, sizeof(t1), "tears %s", nonce());
    snprintf(t2, sizeof(t2), "blinding lights %s", nonce());
    const char *ta[] = {t1, t2}, *aa[] = {"weeknd", "the weeknd"};
    const char *tb[] = {t2, t1}, *ab[] = {"the weeknd", "weeknd"};
    char *first = NULL, *second = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_tracks_bulk(c, cache, 2, ta, aa, &first, &err), 0,
                 "%s", err.msg);
    json_t *j = parse_json(first);
    cr_expect_eq(json_array_size(j), 2, "%s", first);
    json_decref(j);
    exec_ok(c, "DELETE FROM trends");
    cr_assert_eq(au_store_tracks_bulk(c, cache, 2, tb, ab, &second, &err), 0,
                 "%s", err.msg);
    cr_expect_str_eq(second, first, "reordered pairs missed the cache");
    free(first);
    free(second);
    au_cache_destroy(&cache);
    PQfinish(c);
}

/* ---- update_trends_bulk ---- */

static void save_update_fixture(PGconn *c)
{
    au_named_trend_t rows[] = {
        row("2019-01-01", "k1", "One", 1, 100),
        row("2019-01-02", "k1", "One", 2, 99.5),
        row("2019-01-01", "k2", "Two", 3, 99),
        row("2019-01-01", "k3", "Three", 4, 98.5),
    };
    save_ok(c, rows, 4, 4);
}

Test(store, update_bulk_sets_whitelisted_columns_on_every_row_of_the_keys)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_update_fixture(c);
    const char *keys[] = {"k1", "k2"};
    au_update_t upd[] = {
        {"score", "12.5"}, {"is_active", "false"}, {"streams", NULL}};
    long n = -1;
    au_error_t err = {0};
    cr_assert_eq(au_store_update_trends_bulk(c, 2, keys, 3, upd, &n, &err), 0,
                 "%s", err.msg);
    cr_expect_eq(n, 3);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends WHERE "
                               "score = 12.5 AND NOT is_active AND "
                               "streams IS NULL"),
                 3);
    expect_text(c,
                "SELECT score || ' ' || is_active FROM trends_v "
                "WHERE track_key = 'k3'",
                "98.5 true");
    PQfinish(c);
}

Test(store, update_bulk_rejects_columns_outside_the_whitelist)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_update_fixture(c);
    const char *keys[] = {"k1", "k2", "k3"};
    const char *bad[] = {"track_name", "score = 1; DROP TABLE trends; --",
                         "SCORE", "score ", "job_id"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        /* A good column first: nothing may be applied partially. */
        au_update_t upd[] = {{"position", "77"}, {bad[i], "1"}};
        long n = -1;
        au_error_t err = {0};
        cr_expect_eq(au_store_update_trends_bulk(c, 3, keys, 2, upd, &n, &err),
                     AU_EINVAL, "column \"%s\" accepted", bad[i]);
        cr_expect_eq(n, 0);
    }
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends"), 4);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends WHERE "
                               "position = 77 OR score = 1"),
                 0);
    PQfinish(c);
}

Test(store, update_bulk_with_no_keys_or_no_columns_updates_nothing)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    save_update_fixture(c);
    const char *keys[] = {"k1"};
    au_update_t upd[] = {{"score", "1"}};
    long n = -1;
    au_error_t err = {0};
    cr_expect_eq(au_store_update_trends_bulk(c, 0, keys, 1, upd, &n, &err), 0);
    cr_expect_eq(n, 0);
    n = -1;
    cr_expect_eq(au_store_update_trends_bulk(c, 1, keys, 0, upd, &n, &err), 0);
    cr_expect_eq(n, 0);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends WHERE "
                               "score = 1"),
                 0);
    PQfinish(c);
}

/* ---- summary ---- */

Test(store, summary_has_stats_and_top_ten_over_the_window_ending_as_of)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    static char names[12][16], keys[12][8];
    au_named_trend_t rows[16];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof(names[i]), "Track %02d", i + 1);
        snprintf(keys[i], sizeof(keys[i]), "t%02d", i + 1);
        rows[n++] = row("2019-01-10", keys[i], names[i], 20 - i, 51 + i);
    }
    rows[n] = row("2019-01-04", "t01", "Track 01", 30, 20);
    rows[n++].platform = "apple";
    /* Just outside the window (10-7 = 01-03) and after as_of. */
    rows[n++] = row("2019-01-03", "z", "Too Old", 1, 99);
    rows[n++] = row("2019-01-11", "y", "Too New", 1, 98);
    save_ok(c, rows, n, n);
    char *js = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_store_summary(c, NULL, NULL, 7, "2019-01-10", &js, &err), 0,
                 "%s", err.msg);
    json_t *j = parse_json(js);
    json_t *st = json_object_get(j, "stats");
    cr_assert(json_is_object(st), "%s", js);
    cr_expect_eq(json_integer_value(json_object_get(st, "unique_tracks")), 12,
                 "%s", js);
    cr_expect_eq(json_integer_value(json_object_get(st, "platforms")), 2);
    cr_expect_eq(json_integer_value(json_object_get(st, "total_entries")), 13);
    /* (51 + ... + 62 + 20) / 13 = 698 / 13 */
    cr_expect(fabs(json_number_value(json_object_get(st, "avg_score")) -
                   53.6923) < 1e-4,
              "%s", js);
    cr_expect_eq(json_number_value(json_object_get(st, "max_score")), 62.0);
    cr_expect_eq(json_integer_value(json_object_get(j, "period_days")), 7);
    cr_expect_str_eq(json_string_value(json_object_get(j, "platform")), "all");
    json_t *top = json_object_get(j, "top_tracks");
    cr_assert_eq(json_array_size(top), 10, "%s", js);
    for (size_t i = 0; i < 10; i++) {
        json_t *t = json_array_get(top, i);
        char want[16];
        snprintf(want, sizeof(want), "Track %02d", (int)(12 - i));
        cr_expect_str_eq(json_string_value(json_object_get(t, "track_name")),
                         want, "top %zu", i);
        cr_expect_eq(json_number_value(json_object_get(t, "score")),
                     62.0 - (double)i);
        cr_expect_eq(json_integer_value(json_object_get(t, "rank")),
                     (json_int_t)(9 + i));
        cr_expect_str_eq(json_string_value(json_object_get(t, "platform")),
                         "spotify");
        cr_expect_str_eq(json_string_value(json_object_get(t, "artist")),
                         "The Band");
    }
    json_decref(j);
    free(js);

    cr_assert_eq(au_store_summary(c, NULL, "apple", 7, "2019-01-10", &js, &err),
                 0, "%s", err.msg);
    j = parse_json(js);
    st = json_object_get(j, "stats");
    cr_expect_eq(json_integer_value(json_object_get(st, "total_entries")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(j, "platform")),
                     "apple");
    json_decref(j);
    free(js);

    /* A window with nothing in it still has the shape. */
    cr_assert_eq(au_store_summary(c, NULL, NULL, 7, "2000-01-01", &js, &err), 0,
                 "%s", err.msg);
    j = parse_json(js);
    st = json_object_get(j, "stats");
    cr_expect_eq(json_integer_value(json_object_get(st, "total_entries")), 0);
    cr_expect_eq(json_array_size(json_object_get(j, "top_tracks")), 0);
    cr_expect(json_is_array(json_object_get(j, "top_tracks")), "%s", js);
    json_decref(j);
    free(js);
    PQfinish(c);
}

/* ---- audio features ---- */

static double feature(PGconn *c, const char *id, const char *col)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT %s::text FROM audio_features WHERE spotify_id = '%s'", col,
             id);
    char *v = query_text(c, sql);
    double d = strtod(v, NULL);
    free(v);
    return d;
}

static void expect_close(double got, double want, const char *what)
{
    /* real is a 4-byte float: six significant digits survive. */
    cr_expect(fabs(got - want) <= fabs(want) * 1e-6, "%s: %.9g, want %.9g",
              what, got, want);
}

Test(store, load_features_reads_the_real_hit_predictor_csv)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", au_test_fixtures(), FEATURES_CSV);
    long loaded = -1;
    au_error_t err = {0};
    cr_assert_eq(au_store_load_features(c, path, &loaded, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(loaded, 6378);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM audio_features"), 6378);
    /* Line 24: Faster,Matt Nathanson,spotify:track:6plKFdrBnKF0y3CRuceTDh,
     * 0.742,0.853,9,-4.147,1,0.0393,0.00743,4.79E-06,0.332,0.95,107.03 */
    const char *id = "6plKFdrBnKF0y3CRuceTDh";
    expect_close(feature(c, id, "danceability"), 0.742, "danceability");
    expect_close(feature(c, id, "energy"), 0.853, "energy");
    expect_close(feature(c, id, "loudness"), -4.147, "loudness");
    expect_close(feature(c, id, "speechiness"), 0.0393, "speechiness");
    expect_close(feature(c, id, "acousticness"), 0.00743, "acousticness");
    expect_close(feature(c, id, "instrumentalness"), 4.79e-06,
                 "instrumentalness");
    expect_close(feature(c, id, "liveness"), 0.332, "liveness");
    expect_close(feature(c, id, "valence"), 0.95, "valence");
    expect_close(feature(c, id, "tempo"), 107.03, "tempo");
    /* Loading again upserts: still one row per track. */
    cr_assert_eq(au_store_load_features(c, path, &loaded, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM audio_features"), 6378);
    PQfinish(c);
}

Test(store, load_features_of_a_missing_file_is_an_io_error)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    long loaded = -1;
    au_error_t err = {0};
    cr_expect_eq(au_store_load_features(c, "/nonexistent/x.csv", &loaded, &err),
                 AU_EIO);
    PQfinish(c);
}

/* ---- the analytics ledger commit ---- */

typedef struct {
    char url[512];
    PGconn *c; /* for setting up and looking */
    au_ctx_t ctx;
    au_arena_t *arena;
    au_record_t recs[2][2];
    au_batch_t b[2];
    char names[4][64]; /* spellings that change with the date */
} ledger_t;

static void ledger_setup(ledger_t *L, au_cache_t *cache)
{
    memset(L, 0, sizeof(*L));
    L->c = migrated_db(L->url, sizeof(L->url));
    au_config_defaults(&L->ctx.cfg);
    snprintf(L->ctx.component, sizeof(L->ctx.component), "analytics");
    snprintf(L->ctx.worker_id, sizeof(L->ctx.worker_id), "test");
    au_error_t err = {0};
    L->ctx.pool = au_pool_new(L->url, 2, 2000, 0, &err);
    cr_assert_not_null(L->ctx.pool, "%s", err.msg);
    L->ctx.cache = cache;
    L->arena = au_arena_new(64 * 1024);
    cr_assert_not_null(L->arena);
}

static void ledger_teardown(ledger_t *L)
{
    au_arena_destroy(&L->arena);
    au_pool_destroy(&L->ctx.pool);
    au_cache_destroy(&L->ctx.cache);
    PQfinish(L->c);
}

/* A record as enrich hands it on: for key "kb", the Spotify id
 * kb00000000000000000000 and the key spotify:kb00000000000000000000 (the
 * keys analytics computes again from the fields). */
#define ID_OF(k) k "00000000000000000000"
#define KEY_OF(k) "spotify:" ID_OF(k)
static const struct {
    const char *short_key, *id, *key;
} IDS[] = {{"ka", ID_OF("ka"), KEY_OF("ka")},
           {"kb", ID_OF("kb"), KEY_OF("kb")},
           {"kc", ID_OF("kc"), KEY_OF("kc")},
           {"kd", ID_OF("kd"), KEY_OF("kd")}};

static au_record_t rec(const char *key, const char *name, int32_t pos)
{
    size_t i = 0;
    while (i < 4 && strcmp(IDS[i].short_key, key) != 0)
        i++;
    cr_assert_lt(i, 4, "no id for %s", key);
    return (au_record_t){.position = pos,
                         .streams = 5000 - pos,
                         .track_name = name,
                         .artist = "The Band",
                         .track_id = IDS[i].id,
                         .track_key = IDS[i].key,
                         .artist_key = "the band"};
}

/* Two enriched batches of two records each for job/attempt on date. */
static void make_batches(ledger_t *L, int64_t job, int32_t attempt,
                         const char *date, const char *const keys[4],
                         const int32_t pos[4])
{
    /* kb is spelt after its chart's date (the earliest must win), and kd
     * is credited to another artist from 2019-01-05 on (both artists are
     * stored, whichever chart comes first). */
    snprintf(L->names[1], sizeof(L->names[1]), "Song B (%s)", date);
    for (int s = 0; s < 2; s++) {
        L->recs[s][0] = rec(keys[2 * s], "Song A", pos[2 * s]);
        L->recs[s][1] =
            rec(keys[2 * s + 1], s ? "Song B" : L->names[1], pos[2 * s + 1]);
        L->b[s] = (au_batch_t){.job_id = job,
                               .attempt = attempt,
                               .seq = s,
                               .nbatches = 2,
                               .last = s == 1,
                               .stage = AU_STAGE_ENRICHED,
                               .platform = "spotify",
                               .chart = "daily",
                               .region = "us",
                               .date = date,
                               .count = 2,
                               .records = L->recs[s]};
    }
    if (strcmp(date, "2019-01-05") >= 0) {
        L->recs[1][1].artist = "Band & Friends";
        L->recs[1][1].artist_key = "band & friends";
    }
    /* What ingest would record when it validated the chart: its series,
     * date, batches and fingerprints. An attempt that no longer runs
     * records nothing (the fencing tests want exactly that). */
    int32_t sid = 0;
    long day = 0;
    au_error_t err = {0};
    au_date_parse(date, strlen(date), &day);
    cr_assert_eq(au_store_series_id(L->c, "spotify", "daily", "us", &sid, &err),
                 0, "%s", err.msg);
    unsigned char d[2 * AU_DIGEST_BYTES];
    au_digest_batch(&L->b[0], d);
    au_digest_batch(&L->b[1], d + AU_DIGEST_BYTES);
    int rc = au_queue_plan(L->c, job, attempt, sid, day, 2, 4, d, &err);
    cr_assert(rc == 0 || rc == AU_ESTALE, "plan: %s", err.msg);
}

static int64_t push_claim(ledger_t *L, au_job_t *job)
{
    au_error_t err = {0};
    int64_t id = 0;
    cr_assert_eq(au_queue_push(L->c, "ingest", "{}", 5, &id, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(au_queue_claim(L->c, "test", 60, job, &err), 1, "%s", err.msg);
    cr_assert_eq(job->id, id);
    return id;
}

/* As the worker does: a retryable failure is tried again (ids remembered
 * from an earlier test's database are one). */
static int commit(ledger_t *L, au_batch_t *b, au_commit_t *res, au_error_t *err)
{
    int rc = AU_ERETRY;
    for (int tries = 0; tries < 3 && rc == AU_ERETRY; tries++) {
        au_arena_reset(L->arena);
        rc = au_analytics_commit(&L->ctx, b, L->arena, res, err);
    }
    return rc;
}

static const char *const KEYS[4] = {"ka", "kb", "kc", "kd"};
static const int32_t POS[4] = {1, 3, 10, 200};

Test(ledger, committing_a_batch_writes_its_rows_and_a_ledger_row)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    au_commit_t res;
    au_error_t err = {0};
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(res.applied, 1);
    cr_expect_eq(res.job_done, 0);
    cr_expect_eq(res.rows, 2);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 2);
    /* Position score with the default chart of 200: 100 * (201 - p) /
     * 200, so position 1 -> 100 and 3 -> 99. */
    expect_text(L.c,
                "SELECT string_agg(substr(track_key, 9, 2) || '=' || score, "
                "',' ORDER BY track_key) FROM trends_v",
                "ka=100,kb=99");
    expect_text(L.c,
                "SELECT job_id || ' ' || attempt || ' ' || seq || "
                "' ' || rows FROM batch_ledger",
                "1 1 0 2");
    expect_text(L.c,
                "SELECT state || ' ' || rows_written || ' ' || "
                "nbatches FROM jobs",
                "running 2 2");
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, committing_the_same_batch_again_is_dup_and_changes_nothing)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    au_batch_t again = L.b[0];
    au_commit_t res;
    au_error_t err = {0};
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    exec_ok(L.c, "UPDATE trends SET score = 1");
    cr_expect_eq(commit(&L, &again, &res, &err), AU_EDUP, "%s", err.msg);
    cr_expect_eq(res.applied, 0);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 1);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends WHERE "
                                 "score = 1"),
                 2, "the redelivered batch rewrote the rows");
    expect_text(L.c, "SELECT state || ' ' || rows_written FROM jobs",
                "running 2");
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, committing_the_last_missing_batch_marks_the_job_done)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    au_commit_t res;
    au_error_t err = {0};
    /* Out of order: the last batch first does not finish the job. */
    cr_assert_eq(commit(&L, &L.b[1], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(res.job_done, 0);
    expect_text(L.c, "SELECT state FROM jobs", "running");
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(res.job_done, 1);
    expect_text(L.c,
                "SELECT state || ' ' || rows_written || ' ' || "
                "(finished_at IS NOT NULL) FROM jobs",
                "done 4 true");
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 4);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 2);
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, batch_of_an_older_attempt_is_stale_and_writes_nothing)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    int64_t id = push_claim(&L, &job);
    au_error_t err = {0};
    cr_assert_eq(au_queue_fail(L.c, id, job.attempt, "crash", 0, 1, 1, &err), 0,
                 "%s", err.msg);
    exec_ok(L.c, "UPDATE jobs SET run_after = now() - interval '1 s'");
    au_job_t job2;
    cr_assert_eq(au_queue_claim(L.c, "test", 60, &job2, &err), 1);
    cr_assert_eq(job2.attempt, 2);
    make_batches(&L, id, 1, "2019-01-01", KEYS, POS);
    au_commit_t res;
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_ESTALE, "%s", err.msg);
    cr_expect_eq(res.applied, 0);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 0);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 0);
    expect_text(L.c, "SELECT state || ' ' || attempt FROM jobs", "running 2");
    /* The current attempt's batch goes through. */
    make_batches(&L, id, 2, "2019-01-01", KEYS, POS);
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    au_job_clear(&job);
    au_job_clear(&job2);
    ledger_teardown(&L);
}

Test(ledger, batch_for_a_dead_job_is_stale)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    int64_t id = push_claim(&L, &job);
    au_error_t err = {0};
    cr_assert_eq(au_queue_fail(L.c, id, job.attempt, "bad", 1, 1, 1, &err), 0,
                 "%s", err.msg);
    make_batches(&L, id, job.attempt, "2019-01-01", KEYS, POS);
    au_commit_t res;
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_ESTALE, "%s", err.msg);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 0);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 0);
    expect_text(L.c, "SELECT state FROM jobs", "dead");
    /* A job that does not exist at all is not found. */
    L.b[1].job_id = id + 1000;
    cr_expect_eq(commit(&L, &L.b[1], &res, &err), AU_ENOTFOUND);
    au_job_clear(&job);
    ledger_teardown(&L);
}

static void commit_job(ledger_t *L, const char *date, const int32_t pos[4])
{
    au_job_t job;
    push_claim(L, &job);
    make_batches(L, job.id, job.attempt, date, KEYS, pos);
    au_commit_t res;
    au_error_t err = {0};
    for (int s = 0; s < 2; s++)
        cr_assert_eq(commit(L, &L->b[s], &res, &err), 0, "%s: %s", date,
                     err.msg);
    cr_expect_eq(res.job_done, 1);
    au_job_clear(&job);
}

static void check_previous_positions(ledger_t *L)
{
    const int32_t d1[4] = {1, 3, 10, 200};
    const int32_t d2[4] = {2, 1, 10, 150};
    commit_job(L, "2019-01-01", d1);
    commit_job(L, "2019-01-02", d2);
    expect_text(L->c,
                "SELECT string_agg(coalesce(prev_position::text, "
                "'-') || ':' || coalesce(position_change::text, '-'),"
                " ',' ORDER BY track_key) FROM trends_v WHERE "
                "chart_date = '2019-01-01'",
                "-:-,-:-,-:-,-:-");
    /* Change is previous minus current: ka fell 1, kb rose 2. */
    expect_text(L->c,
                "SELECT string_agg(prev_position || ':' || "
                "position_change, ',' ORDER BY track_key) FROM "
                "trends_v WHERE chart_date = '2019-01-02'",
                "1:-1,3:2,10:0,200:50");
}

Test(ledger, previous_position_comes_from_the_previous_date_of_the_series)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    check_previous_positions(&L);
    ledger_teardown(&L);
}

/* Every derived column of the spotify/daily/us series, one line per row
 * in key order: what "the stored values" means below. */
static char *derived_snapshot(PGconn *c)
{
    return query_text(
        c, "SELECT string_agg(concat_ws('|', track_key, chart_date, "
           "position, prev_position, score, momentum, acceleration, "
           "viral_score, confidence, direction, mood, mood_score, "
           "track_name, artist), E'\\n' ORDER BY track_key, chart_date) || "
           "E'\\n' || (SELECT string_agg(artist_key || '|' || name, ',' "
           "ORDER BY artist_key) FROM artists) FROM trends_v");
}

/* Six dates of four tracks that move, enter and leave. */
static const int32_t SIX[6][4] = {{1, 3, 10, 200}, {2, 1, 10, 150},
                                  {5, 2, 9, 140},  {9, 4, 1, 120},
                                  {12, 6, 2, 60},  {20, 7, 3, 40}};
static const char *const SIX_DATES[6] = {"2019-01-01", "2019-01-02",
                                         "2019-01-03", "2019-01-05",
                                         "2019-01-06", "2019-01-08"};

static char *committed_in_order(const int order[6])
{
    ledger_t L;
    ledger_setup(&L, NULL);
    for (int k = 0; k < 6; k++)
        commit_job(&L, SIX_DATES[order[k]], SIX[order[k]]);
    char *snap = derived_snapshot(L.c);
    ledger_teardown(&L);
    return snap;
}

Test(ledger, dates_in_any_order_give_the_values_of_an_in_order_run)
{
    const int in_order[6] = {0, 1, 2, 3, 4, 5};
    const int shuffled[6] = {3, 0, 5, 1, 4, 2};
    const int reversed[6] = {5, 4, 3, 2, 1, 0};
    char *want = committed_in_order(in_order);
    char *a = committed_in_order(shuffled);
    char *b = committed_in_order(reversed);
    cr_expect_str_eq(a, want, "shuffled:\n%s\nin order:\n%s", a, want);
    cr_expect_str_eq(b, want, "reversed:\n%s\nin order:\n%s", b, want);
    free(want);
    free(a);
    free(b);
}

Test(ledger, pushing_a_date_again_changes_no_stored_value)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    for (int k = 0; k < 6; k++)
        commit_job(&L, SIX_DATES[k], SIX[k]);
    char *before = derived_snapshot(L.c);
    long preds = query_long(L.c, "SELECT count(*) FROM viral_predictions");
    commit_job(&L, SIX_DATES[2], SIX[2]);
    commit_job(&L, SIX_DATES[0], SIX[0]);
    char *after = derived_snapshot(L.c);
    cr_expect_str_eq(after, before);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM viral_predictions"),
                 preds);
    free(before);
    free(after);
    ledger_teardown(&L);
}

Test(ledger, a_late_date_rewrites_the_entries_that_follow_it)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    commit_job(&L, "2019-01-02", SIX[1]);
    expect_text(L.c,
                "SELECT coalesce(prev_position::text, '-') FROM trends_v "
                "WHERE track_key = '" KEY_OF("kb") "'",
                "-");
    commit_job(&L, "2019-01-01", SIX[0]);
    /* kb was 3 on the first and 1 on the second: up two. */
    expect_text(L.c,
                "SELECT prev_position || ':' || position_change FROM trends_v "
                "WHERE track_key = '" KEY_OF("kb") "' AND "
                                                   "chart_date = '2019-01-02'",
                "3:2");
    ledger_teardown(&L);
}

Test(ledger, a_batch_that_is_not_the_one_ingest_planned_is_refused)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    au_commit_t res;
    au_error_t err = {0};
    /* A record altered on the way. */
    L.b[0].records[1].position = 2;
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH, "%s", err.msg);
    L.b[0].records[1].position = POS[1];
    /* A batch count that would cut the job short. */
    L.b[1].nbatches = 1;
    L.b[1].seq = 0;
    cr_expect_eq(commit(&L, &L.b[1], &res, &err), AU_EMISMATCH, "%s", err.msg);
    L.b[1].nbatches = 2;
    L.b[1].seq = 1;
    /* The right batch for another chart. */
    L.b[0].region = "gb";
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH, "%s", err.msg);
    L.b[0].region = "us";
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 0);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 0);
    /* The genuine ones still go through and finish the job. */
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(commit(&L, &L.b[1], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(res.job_done, 1);
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, a_batch_of_an_attempt_without_a_plan_is_refused)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    exec_ok(L.c, "UPDATE jobs SET plan_attempt = NULL");
    au_commit_t res;
    au_error_t err = {0};
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH, "%s", err.msg);
    cr_expect(strstr(err.msg, "no plan") != NULL, "%s", err.msg);
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, a_track_twice_in_one_batch_is_refused_as_no_chart)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    const char *dup[4] = {"ka", "ka", "kc", "kd"};
    make_batches(&L, job.id, job.attempt, "2019-01-01", dup, POS);
    au_commit_t res;
    au_error_t err = {0};
    cr_expect_eq(commit(&L, &L.b[0], &res, &err), AU_EINVAL);
    cr_expect(strstr(err.msg, "listed twice") != NULL, "%s", err.msg);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 0);
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, a_record_whose_keys_are_not_its_fields_is_refused)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    /* The same fields under another track's key: the row would land on
     * a track it is not. The plan's fingerprint covers the fields, not
     * what enrich adds, so analytics computes the keys again. */
    L.recs[0][1].track_key = IDS[0].key;
    au_commit_t res;
    au_error_t err = {0};
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH, "%s", err.msg);
    cr_expect_str_eq(err.msg, "record 1: its track or artist key is not the "
                              "one its fields give");
    L.recs[0][1].track_key = IDS[1].key;
    L.recs[0][0].artist_key = "someone else";
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH);
    L.recs[0][0].artist_key = NULL;
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), AU_EMISMATCH);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 0);
    L.recs[0][0].artist_key = "the band";
    cr_assert_eq(commit(&L, &L.b[0], &res, &err), 0, "%s", err.msg);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM trends"), 2);
    au_job_clear(&job);
    ledger_teardown(&L);
}

Test(ledger, batch_whose_commit_failed_can_be_committed_again)
{
    ledger_t L;
    ledger_setup(&L, NULL);
    au_pool_destroy(&L.ctx.pool);
    au_error_t err = {0};
    /* A short statement timeout, so a held lock fails the write. */
    L.ctx.pool = au_pool_new(L.url, 2, 2000, 300, &err);
    cr_assert_not_null(L.ctx.pool);
    au_job_t job;
    push_claim(&L, &job);
    make_batches(&L, job.id, job.attempt, "2019-01-01", KEYS, POS);
    /* Blocks the artist insert, after the batch has been scored. */
    exec_ok(L.c, "BEGIN");
    exec_ok(L.c, "LOCK TABLE artists IN SHARE MODE");
    au_commit_t res;
    int rc = commit(&L, &L.b[0], &res, &err);
    exec_ok(L.c, "ROLLBACK");
    cr_assert(rc == AU_EDB || rc == AU_ERETRY, "rc %d: %s", rc, err.msg);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 0);
    /* Regression: the batch used to be marked scored before the write,
     * so a retry was refused as "batch is not enriched". */
    err = (au_error_t){0};
    rc = commit(&L, &L.b[0], &res, &err);
    cr_expect_eq(rc, 0, "retry: rc %d: %s", rc, err.msg);
    cr_expect_eq(query_long(L.c, "SELECT count(*) FROM batch_ledger"), 1);
    au_job_clear(&job);
    ledger_teardown(&L);
}
