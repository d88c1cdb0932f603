/* test_query.c: the query commands (top, summary, playlists, spread)
 * against a real, migrated PostgreSQL holding a small hand-made chart
 * history. Every expected row, score and table line below was worked out
 * by hand from that data set (the mood scores from the reference's golden
 * values and its formula), never taken from the code under test. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_cmd.h"
#include "au_migrate.h"
#include "au_query.h"
#include "au_score.h"
#include "au_test.h"

/* Five tracks on spotify daily charts of two regions over three days, one
 * weekly entry, and one inactive entry:
 * - Alpha Song/Ann: us 01-01 pos 5 viral 70; us 01-02 pos 2 (+3) viral 80;
 *   gb 01-02 pos 10 viral 65; weekly us 01-05 pos 1, viral not computed.
 * - Beta/Bob: us 01-01 pos 20 viral 75; us 01-02 pos 8 (+12) viral 72.5;
 *   gb 01-03 pos 1, viral not computed.
 * - Gamma/Cat: gb 01-02 pos 30 viral 90; gb 01-03 pos 40 (-10) viral 60.
 * - Delta/Dan: us 01-03 pos 3 viral 50.
 * - Epsilon/Eve: gb 01-01 pos 50 viral 99, inactive.
 * Audio features: Alpha (.9, .85, .8, 120) and Beta (.2, .3, .4, 80), the
 * reference's two golden tracks; Gamma without a tempo; Delta and Epsilon
 * none; ZZZ has features but never charted. */
static const char data_sql[] =
    "INSERT INTO trends_v (platform, chart, region, chart_date, track_key,"
    " position, track_name, artist, score, prev_position, position_change,"
    " viral_score, confidence, momentum, direction, is_active) VALUES"
    " ('spotify','daily','us','2024-01-01','spotify:AAA',5,'Alpha Song',"
    "  'Ann',97.5,NULL,NULL,70,0.6,50,NULL,true),"
    " ('spotify','daily','us','2024-01-02','spotify:AAA',2,'Alpha Song',"
    "  'Ann',99,5,3,80,0.7,60,'rising',true),"
    " ('spotify','daily','gb','2024-01-02','spotify:AAA',10,'Alpha Song',"
    "  'Ann',95,NULL,NULL,65,0.5,40,NULL,true),"
    " ('spotify','weekly','us','2024-01-05','spotify:AAA',1,'Alpha Song',"
    "  'Ann',100,NULL,NULL,NULL,NULL,NULL,NULL,true),"
    " ('spotify','daily','us','2024-01-01','spotify:BBB',20,'Beta','Bob',"
    "  90,NULL,NULL,75,0.55,45,NULL,true),"
    " ('spotify','daily','us','2024-01-02','spotify:BBB',8,'Beta','Bob',"
    "  96,20,12,72.5,0.65,55,'rising',true),"
    " ('spotify','daily','gb','2024-01-03','spotify:BBB',1,'Beta','Bob',"
    "  100,NULL,NULL,NULL,NULL,NULL,NULL,true),"
    " ('spotify','daily','gb','2024-01-02','spotify:CCC',30,'Gamma','Cat',"
    "  85,NULL,NULL,90,0.8,70,'viral',true),"
    " ('spotify','daily','gb','2024-01-03','spotify:CCC',40,'Gamma','Cat',"
    "  80,30,-10,60,0.75,65,'falling',true),"
    " ('spotify','daily','us','2024-01-03','spotify:DDD',3,'Delta','Dan',"
    "  98,NULL,NULL,50,0.4,30,NULL,true),"
    " ('spotify','daily','gb','2024-01-01','spotify:EEE',50,'Epsilon',"
    "  'Eve',75.5,NULL,NULL,99,0.9,80,'viral',false);"
    "INSERT INTO audio_features (spotify_id, danceability, energy, valence,"
    " tempo) VALUES ('AAA',0.8,0.85,0.9,120), ('BBB',0.4,0.3,0.2,80),"
    " ('CCC',0.5,0.5,0.5,NULL), ('ZZZ',0.5,0.5,0.5,100);";

static PGconn *conn;
static char url[512];

static void setup(void)
{
    au_test_db_new(url, sizeof(url));
    conn = PQconnectdb(url);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(conn, NULL, &err), 0, "%s", err.msg);
    PGresult *r = PQexec(conn, data_sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
                 PQresultErrorMessage(r));
    PQclear(r);
}

static void teardown(void)
{
    PQfinish(conn);
    conn = NULL;
}

TestSuite(query, .init = setup, .fini = teardown);

/* A memory stream and its text. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} out_t;

static FILE *out_open(out_t *o)
{
    memset(o, 0, sizeof(*o));
    o->f = open_memstream(&o->buf, &o->len);
    cr_assert(o->f);
    return o->f;
}

static const char *out_text(out_t *o)
{
    fclose(o->f);
    o->f = NULL;
    return o->buf;
}

static json_t *out_json(out_t *o)
{
    json_error_t jerr;
    json_t *j = json_loads(out_text(o), 0, &jerr);
    cr_assert(j, "not JSON (%s): %s", jerr.text, o->buf);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_number(v), "%s is not a number", k);
    return json_number_value(v);
}

/* ---- top ------------------------------------------------------------ */

typedef struct {
    const char *name, *region, *date;
    int position;
    double viral;
} top_row_t;

static void expect_top(const au_query_top_opts_t *o, const top_row_t *want,
                       size_t n)
{
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, o, 1, out_open(&out), &err), 0, "%s",
                 err.msg);
    json_t *j = out_json(&out);
    json_t *tracks = json_object_get(j, "tracks");
    cr_assert_eq(json_array_size(tracks), n, "got %zu rows: %s",
                 json_array_size(tracks), out.buf);
    cr_expect_eq(jnum(j, "count"), (double)n);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tracks, i);
        cr_expect_eq(jnum(t, "rank"), (double)(i + 1));
        cr_expect_str_eq(jstr(t, "track_name"), want[i].name, "row %zu", i);
        cr_expect_str_eq(jstr(t, "region"), want[i].region, "row %zu", i);
        cr_expect_str_eq(jstr(t, "date"), want[i].date, "row %zu", i);
        cr_expect_eq(jnum(t, "position"), want[i].position, "row %zu", i);
        cr_expect_eq(jnum(t, "viral_score"), want[i].viral, "row %zu", i);
    }
    json_decref(j);
    free(out.buf);
}

Test(query, top_ranks_each_track_by_its_best_active_viral_entry)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    /* Epsilon's 99 is inactive; Beta's and Alpha's latest entries have no
     * viral score and do not count. */
    const top_row_t want[] = {{"Gamma", "gb", "2024-01-02", 30, 90},
                              {"Alpha Song", "us", "2024-01-02", 2, 80},
                              {"Beta", "us", "2024-01-01", 20, 75},
                              {"Delta", "us", "2024-01-03", 3, 50}};
    expect_top(&o, want, 4);
}

Test(query, top_filters_by_region_dates_chart_and_limit)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.region = "gb";
    const top_row_t gb[] = {{"Gamma", "gb", "2024-01-02", 30, 90},
                            {"Alpha Song", "gb", "2024-01-02", 10, 65}};
    expect_top(&o, gb, 2);

    au_query_top_opts_init(&o);
    o.to = "2024-01-01";
    const top_row_t first_day[] = {{"Beta", "us", "2024-01-01", 20, 75},
                                   {"Alpha Song", "us", "2024-01-01", 5, 70}};
    expect_top(&o, first_day, 2);

    au_query_top_opts_init(&o);
    o.from = "2024-01-03";
    o.to = "2024-01-03";
    const top_row_t last_day[] = {{"Gamma", "gb", "2024-01-03", 40, 60},
                                  {"Delta", "us", "2024-01-03", 3, 50}};
    expect_top(&o, last_day, 2);

    au_query_top_opts_init(&o);
    o.limit = 2;
    o.platform = "spotify";
    o.chart = "daily";
    const top_row_t two[] = {{"Gamma", "gb", "2024-01-02", 30, 90},
                             {"Alpha Song", "us", "2024-01-02", 2, 80}};
    expect_top(&o, two, 2);
}

Test(query, top_by_movement_ranks_positions_gained)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.by = AU_QUERY_BY_MOVEMENT;
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 1, out_open(&out), &err), 0, "%s",
                 err.msg);
    json_t *j = out_json(&out);
    cr_expect_str_eq(jstr(j, "by"), "movement");
    json_t *t = json_object_get(j, "tracks");
    cr_assert_eq(json_array_size(t), 3, "%s", out.buf);
    const char *names[] = {"Beta", "Alpha Song", "Gamma"};
    const int gained[] = {12, 3, -10}, was[] = {20, 5, 30}, now[] = {8, 2, 40};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(t, i);
        cr_expect_str_eq(jstr(e, "track_name"), names[i]);
        cr_expect_eq(jnum(e, "position_change"), gained[i], "row %zu", i);
        cr_expect_eq(jnum(e, "prev_position"), was[i], "row %zu", i);
        cr_expect_eq(jnum(e, "position"), now[i], "row %zu", i);
    }
    json_decref(j);
    free(out.buf);
}

Test(query, top_by_breakout_ranks_the_chance_of_reaching_the_top_50)
{
    /* Three weekly entries below the line with their chances, as the
     * analytics worker stores them. */
    PGresult *r = PQexec(
        conn,
        "INSERT INTO trends_v (platform, chart, region, chart_date, "
        " track_key, position, track_name, artist, score) VALUES"
        " ('spotify','weekly','br','2024-01-04','spotify:FFF',60,'Foxtrot',"
        "  'Fay',70.5),"
        " ('spotify','weekly','br','2024-01-04','spotify:GGG',120,'Golf',"
        "  'Gus',40.5),"
        " ('spotify','weekly','br','2024-01-04','spotify:HHH',180,'Hotel',"
        "  'Hal',10.5);"
        "UPDATE trends t SET breakout = v.b FROM tracks k, (VALUES "
        " ('spotify:FFF', 0.25::real), ('spotify:GGG', 0.625), "
        " ('spotify:HHH', 0.125)) v(key, b) "
        "WHERE k.id = t.track_id AND k.track_key = v.key");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
                 PQresultErrorMessage(r));
    PQclear(r);
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.by = AU_QUERY_BY_BREAKOUT;
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 1, out_open(&out), &err), 0, "%s",
                 err.msg);
    json_t *j = out_json(&out);
    cr_expect_str_eq(jstr(j, "by"), "breakout");
    json_t *t = json_object_get(j, "tracks");
    cr_assert_eq(json_array_size(t), 3, "%s", out.buf);
    const char *names[] = {"Golf", "Foxtrot", "Hotel"};
    const double chance[] = {0.625, 0.25, 0.125};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(t, i);
        cr_expect_str_eq(jstr(e, "track_name"), names[i]);
        cr_expect_eq(jnum(e, "breakout"), chance[i], "row %zu", i);
    }
    json_decref(j);
    free(out.buf);
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0);
    const char *txt = out_text(&out);
    cr_expect(strstr(txt, "breakout"), "%s", txt);
    cr_expect(strstr(txt, "0.625"), "%s", txt);
    free(out.buf);
    /* Nothing weekly in the range. */
    o.to = "2024-01-03";
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0);
    cr_expect_str_eq(out_text(&out),
                     "no tracks with a breakout chance (weekly, below the top "
                     "50) in the range\n");
    free(out.buf);
}

Test(query, top_table_is_aligned_with_a_dash_for_missing_values)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    const char *want =
        "rank  track       artist  region  chart  date        position  "
        "viral_score  confidence  momentum  direction\n"
        "   1  Gamma       Cat     gb      daily  2024-01-02        30  "
        "       90.0        0.80      70.0  viral\n"
        "   2  Alpha Song  Ann     us      daily  2024-01-02         2  "
        "       80.0        0.70      60.0  rising\n"
        "   3  Beta        Bob     us      daily  2024-01-01        20  "
        "       75.0        0.55      45.0  -\n"
        "   4  Delta       Dan     us      daily  2024-01-03         3  "
        "       50.0        0.40      30.0  -\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, top_movement_table_shows_gained_was_now)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.by = AU_QUERY_BY_MOVEMENT;
    o.limit = 2;
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    const char *want =
        "rank  track       artist  region  chart  date        gained  was  "
        "now\n"
        "   1  Beta        Bob     us      daily  2024-01-02     +12   20    "
        "8\n"
        "   2  Alpha Song  Ann     us      daily  2024-01-02      +3    5    "
        "2\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, long_cells_are_cut_at_forty_code_points)
{
    /* 45 two-byte letters: cut to 37 of them and "...", 40 columns. */
    char name[128], cut[128];
    for (int i = 0; i < 45; i++)
        memcpy(name + 2 * i, "\xc3\x84", 2);
    name[90] = '\0';
    memcpy(cut, name, 74);
    snprintf(cut + 74, sizeof(cut) - 74, "%s", "...  Zed");
    const char *p[] = {name};
    PGresult *r = PQexecParams(
        conn,
        "INSERT INTO trends_v (platform, chart, region, chart_date, track_key,"
        " position, track_name, artist, score, viral_score) VALUES"
        " ('spotify','daily','us','2024-01-04','spotify:LONG',7,$1,'Zed',"
        "  97,95)",
        1, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
                 PQresultErrorMessage(r));
    PQclear(r);
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.limit = 1;
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    const char *text = out_text(&out);
    /* "track" padded to 40 columns, then the two-blank separator. */
    char head[96];
    snprintf(head, sizeof(head), "rank  track%37sartist  region", "");
    cr_expect(!strncmp(text, head, strlen(head)), "%s", text);
    const char *row = strchr(text, '\n') + 1;
    cr_expect(!strncmp(row, "   1  ", 6), "%s", text);
    cr_expect(!strncmp(row + 6, cut, strlen(cut)), "%s", text);
    free(out.buf);
}

Test(query, top_with_nothing_in_range_says_so)
{
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    o.chart = "weekly";
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_top(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    cr_expect_str_eq(out_text(&out),
                     "no tracks with a viral score in the range\n");
    free(out.buf);
}

Test(query, top_rejects_bad_options_naming_flag_and_value)
{
    struct {
        const char *from, *to;
        int limit;
        const char *msg;
    } cases[] = {
        {"2024-02-30", NULL, 20, "--from 2024-02-30: not a YYYY-MM-DD date"},
        {NULL, "24-01-01", 20, "--to 24-01-01: not a YYYY-MM-DD date"},
        {"2024-01-03", "2024-01-01", 20,
         "--from 2024-01-03 is after --to 2024-01-01"},
        {NULL, NULL, 0, "--limit 0: must be 1..1000"},
        {NULL, NULL, 1001, "--limit 1001: must be 1..1000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        au_query_top_opts_t o;
        au_query_top_opts_init(&o);
        o.from = cases[i].from;
        o.to = cases[i].to;
        o.limit = cases[i].limit;
        out_t out;
        au_error_t err = {0};
        cr_expect_eq(au_query_top(conn, &o, 0, out_open(&out), &err), AU_EINVAL,
                     "case %zu", i);
        cr_expect_str_eq(err.msg, cases[i].msg, "case %zu", i);
        cr_expect_str_eq(out_text(&out), "", "case %zu wrote output", i);
        free(out.buf);
    }
}

/* ---- summary -------------------------------------------------------- */

static au_query_summary_opts_t summary_opts(void)
{
    au_query_summary_opts_t o;
    au_query_summary_opts_init(&o);
    o.days = 3;
    o.as_of = "2024-01-03";
    return o;
}

Test(query, summary_json_is_the_store_summary)
{
    au_query_summary_opts_t o = summary_opts();
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_summary(conn, NULL, &o, 1, out_open(&out), &err), 0,
                 "%s", err.msg);
    json_t *j = out_json(&out);
    json_t *stats = json_object_get(j, "stats");
    /* Nine active daily entries in 2024-01-01..03 (the weekly one is
     * later, Epsilon's inactive), scores summing to 840.5. */
    cr_expect_eq(jnum(stats, "total_entries"), 9);
    cr_expect_eq(jnum(stats, "unique_tracks"), 4);
    cr_expect_eq(jnum(stats, "platforms"), 1);
    cr_expect_eq(jnum(stats, "max_score"), 100);
    cr_expect(fabs(jnum(stats, "avg_score") - 93.3889) < 1e-9);
    json_t *top = json_object_get(j, "top_tracks");
    cr_assert_eq(json_array_size(top), 9);
    cr_expect_str_eq(jstr(json_array_get(top, 0), "track_name"), "Beta");
    cr_expect_str_eq(jstr(json_array_get(top, 8), "track_name"), "Gamma");
    cr_expect_eq(jnum(json_array_get(top, 8), "score"), 80);
    json_decref(j);
    free(out.buf);
}

Test(query, summary_table_shows_stats_lines_and_top_entries)
{
    au_query_summary_opts_t o = summary_opts();
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_summary(conn, NULL, &o, 0, out_open(&out), &err), 0,
                 "%s", err.msg);
    const char *want =
        "trending summary: all platforms, 3 day(s) to 2024-01-03\n"
        "  unique tracks  4\n"
        "  platforms      1\n"
        "  total entries  9\n"
        "  average score  93.39\n"
        "  max score      100.00\n"
        "\n"
        "top tracks by position score:\n"
        "rank  track       artist  platform   score  position\n"
        "   1  Beta        Bob     spotify   100.00         1\n"
        "   2  Alpha Song  Ann     spotify    99.00         2\n"
        "   3  Delta       Dan     spotify    98.00         3\n"
        "   4  Alpha Song  Ann     spotify    97.50         5\n"
        "   5  Beta        Bob     spotify    96.00         8\n"
        "   6  Alpha Song  Ann     spotify    95.00        10\n"
        "   7  Beta        Bob     spotify    90.00        20\n"
        "   8  Gamma       Cat     spotify    85.00        30\n"
        "   9  Gamma       Cat     spotify    80.00        40\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, summary_of_an_empty_period_has_no_table)
{
    au_query_summary_opts_t o = summary_opts();
    o.as_of = "2023-06-01";
    o.platform = "spotify";
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_summary(conn, NULL, &o, 0, out_open(&out), &err), 0,
                 "%s", err.msg);
    const char *want = "trending summary: spotify, 3 day(s) to 2023-06-01\n"
                       "  unique tracks  0\n"
                       "  platforms      0\n"
                       "  total entries  0\n"
                       "  average score  -\n"
                       "  max score      -\n"
                       "\n"
                       "no chart entries in the period\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, summary_rejects_bad_days_and_dates)
{
    au_query_summary_opts_t o = summary_opts();
    o.days = 0;
    au_error_t err = {0};
    cr_expect_eq(au_query_summary_check(&o, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg, "--days 0: must be 1..3650");
    o = summary_opts();
    o.as_of = "2024/01/03";
    cr_expect_eq(au_query_summary_check(&o, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg, "--as-of 2024/01/03: not a YYYY-MM-DD date");
}

/* ---- playlists ------------------------------------------------------ */

typedef struct {
    const char *name;
    double score;
} pl_want_t;

/* The moods' lists in enum order. Alpha's and Beta's scores are the
 * reference's golden values where it gives one; the others follow its
 * formula by hand, e.g. CHILL for Beta (.2, .3, .4, 80): valence .2 is .1
 * below .3 -> .8, energy and tempo inside -> 1, danceability .4 -> .4:
 * (.8*.8 + 1.5 + 1 + .5*.4) / 3.8 = 87.8947. */
static void expect_moods(json_t *moods, const pl_want_t want[][2],
                         const size_t *count)
{
    cr_assert_eq(json_array_size(moods), AU_MOOD_COUNT);
    for (size_t m = 0; m < AU_MOOD_COUNT; m++) {
        json_t *mo = json_array_get(moods, m);
        cr_expect_str_eq(jstr(mo, "mood"), au_mood_name((au_mood_t)m));
        json_t *t = json_object_get(mo, "tracks");
        cr_assert_eq(json_array_size(t), count[m], "mood %s",
                     au_mood_name((au_mood_t)m));
        cr_expect_eq(jnum(mo, "track_count"), count[m]);
        for (size_t i = 0; i < count[m]; i++) {
            json_t *e = json_array_get(t, i);
            cr_expect_str_eq(jstr(e, "track_name"), want[m][i].name);
            cr_expect(fabs(jnum(e, "mood_score") - want[m][i].score) < 1e-3,
                      "%s %s: %f, want %f", au_mood_name((au_mood_t)m),
                      want[m][i].name, jnum(e, "mood_score"), want[m][i].score);
        }
    }
}

static json_t *playlists_json(const au_query_playlist_opts_t *o, out_t *out)
{
    au_error_t err = {0};
    cr_assert_eq(au_query_playlists(conn, o, 1, out_open(out), &err), 0, "%s",
                 err.msg);
    return out_json(out);
}

Test(query, playlists_for_all_moods_match_hand_computed_scores)
{
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    out_t out;
    json_t *j = playlists_json(&o, &out);
    const pl_want_t want[AU_MOOD_COUNT][2] = {
        [AU_MOOD_HAPPY_UPBEAT] = {{"Alpha Song", 95.556}},
        [AU_MOOD_CHILL_RELAXED] = {{"Beta", 87.8947}},
        /* Alpha: (.5 + 2 + 1.5*.8 + .8) / 5 */
        [AU_MOOD_ENERGETIC_INTENSE] = {{"Alpha Song", 90.0}},
        [AU_MOOD_MELANCHOLIC] = {{"Beta", 95.610}},
        /* Alpha: (.5*.4 + .7 + .8 + .3*.8) / 2.6 */
        [AU_MOOD_FOCUS] = {{"Beta", 93.077}, {"Alpha Song", 74.6154}},
        [AU_MOOD_PARTY_DANCE] = {{"Alpha Song", 92.982}},
        [AU_MOOD_LATE_NIGHT] = {{"Beta", 92.5}},
        [AU_MOOD_MORNING_ENERGY] = {{"Alpha Song", 93.556}},
    };
    const size_t count[AU_MOOD_COUNT] = {1, 1, 1, 1, 2, 1, 1, 1};
    expect_moods(json_object_get(j, "moods"), want, count);
    /* Charted: Alpha, Beta, Gamma (no tempo), Delta, Epsilon (none). */
    cr_expect_eq(jnum(j, "tracks_scored"), 2);
    cr_expect_eq(jnum(j, "excluded_without_features"), 3);
    json_t *f = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(j, "moods"), 0),
                            "tracks"),
            0),
        "features");
    cr_expect(fabs(jnum(f, "valence") - 0.9) < 1e-6);
    cr_expect(fabs(jnum(f, "energy") - 0.85) < 1e-6);
    cr_expect(fabs(jnum(f, "danceability") - 0.8) < 1e-6);
    cr_expect_eq(jnum(f, "tempo"), 120);
    json_decref(j);
    free(out.buf);
}

Test(query, playlists_honour_min_score_limit_and_dates)
{
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    o.mood = AU_MOOD_FOCUS;
    o.min_score = 80;
    out_t out;
    json_t *j = playlists_json(&o, &out);
    json_t *moods = json_object_get(j, "moods");
    cr_assert_eq(json_array_size(moods), 1);
    json_t *t = json_object_get(json_array_get(moods, 0), "tracks");
    cr_assert_eq(json_array_size(t), 1);
    cr_expect_str_eq(jstr(json_array_get(t, 0), "track_name"), "Beta");
    json_decref(j);
    free(out.buf);

    au_query_playlist_opts_init(&o);
    o.mood = AU_MOOD_FOCUS;
    o.limit = 1;
    j = playlists_json(&o, &out);
    t = json_object_get(json_array_get(json_object_get(j, "moods"), 0),
                        "tracks");
    cr_assert_eq(json_array_size(t), 1);
    cr_expect_str_eq(jstr(json_array_get(t, 0), "track_name"), "Beta");
    json_decref(j);
    free(out.buf);

    /* On 2024-01-03 only Beta, Gamma and Delta charted. */
    au_query_playlist_opts_init(&o);
    o.from = o.to = "2024-01-03";
    j = playlists_json(&o, &out);
    const pl_want_t want[AU_MOOD_COUNT][2] = {
        [AU_MOOD_CHILL_RELAXED] = {{"Beta", 87.8947}},
        [AU_MOOD_MELANCHOLIC] = {{"Beta", 95.610}},
        [AU_MOOD_FOCUS] = {{"Beta", 93.077}},
        [AU_MOOD_LATE_NIGHT] = {{"Beta", 92.5}},
    };
    const size_t count[AU_MOOD_COUNT] = {0, 1, 0, 1, 1, 0, 1, 0};
    expect_moods(json_object_get(j, "moods"), want, count);
    cr_expect_eq(jnum(j, "tracks_scored"), 1);
    cr_expect_eq(jnum(j, "excluded_without_features"), 2);
    json_decref(j);
    free(out.buf);
}

Test(query, playlist_table_reports_excluded_tracks)
{
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    cr_assert_eq(au_query_mood_parse("Happy_Upbeat", &o.mood, NULL), 0);
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_playlists(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    const char *want =
        "HAPPY_UPBEAT (Happy & Upbeat): 1 track(s) scoring >= 60.0\n"
        "rank  track       artist  mood_score  valence  energy  "
        "danceability  tempo\n"
        "   1  Alpha Song  Ann         95.556    0.900   0.850  "
        "       0.800  120.0\n"
        "\n"
        "2 track(s) with audio features scored; 3 track(s) without audio "
        "features excluded\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, mood_names_parse_case_insensitively_and_unknown_lists_valid)
{
    int m = 99;
    cr_expect_eq(au_query_mood_parse("late_night", &m, NULL), 0);
    cr_expect_eq(m, AU_MOOD_LATE_NIGHT);
    cr_expect_eq(au_query_mood_parse("ALL", &m, NULL), 0);
    cr_expect_eq(m, AU_QUERY_ALL_MOODS);
    au_error_t err = {0};
    cr_expect_eq(au_query_mood_parse("sleepy", &m, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg,
                     "--mood sleepy: unknown mood; one of happy_upbeat, "
                     "chill_relaxed, energetic_intense, melancholic, focus, "
                     "party_dance, late_night, morning_energy, all");
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    o.min_score = 100.5;
    cr_expect_eq(au_query_playlist_check(&o, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg, "--min-score 100.5: must be 0..100");
}

/* ---- spread --------------------------------------------------------- */

static json_t *spread_json(const char *track, const char *artist, int days,
                           const char *as_of, out_t *out)
{
    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    o.track = track;
    o.artist = artist;
    o.days = days;
    o.as_of = as_of;
    au_error_t err = {0};
    cr_assert_eq(au_query_spread(conn, &o, 1, out_open(out), &err), 0, "%s",
                 err.msg);
    return out_json(out);
}

Test(query, spread_orders_series_by_first_appearance_with_lags)
{
    out_t out;
    json_t *j = spread_json("ALPHA", "ann", 30, "2024-01-05", &out);
    cr_expect_str_eq(jstr(j, "track_name"), "ALPHA");
    cr_expect_eq(jnum(j, "platform_count"), 3);
    cr_expect_eq(jnum(j, "matched_tracks"), 1);
    cr_expect_str_eq(jstr(j, "first_platform"), "spotify/daily/us");
    json_t *p = json_object_get(j, "platforms");
    const char *names[] = {"spotify/daily/us", "spotify/daily/gb",
                           "spotify/weekly/us"};
    const char *first[] = {"2024-01-01", "2024-01-02", "2024-01-05"};
    const double peak[] = {99, 95, 100};
    cr_assert_eq(json_array_size(p), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(p, i);
        cr_expect_str_eq(jstr(e, "platform"), names[i]);
        cr_expect_str_eq(jstr(e, "first_seen"), first[i]);
        cr_expect_eq(jnum(e, "peak_score"), peak[i]);
    }
    json_t *pat = json_object_get(j, "propagation_pattern");
    cr_assert_eq(json_array_size(pat), 2);
    json_t *s0 = json_array_get(pat, 0), *s1 = json_array_get(pat, 1);
    cr_expect_str_eq(jstr(s0, "from_platform"), "spotify/daily/us");
    cr_expect_str_eq(jstr(s0, "to_platform"), "spotify/daily/gb");
    cr_expect_eq(jnum(s0, "hours_difference"), 24);
    cr_expect_eq(jnum(s0, "score_change"), -4);
    cr_expect(fabs(jnum(s0, "propagation_strength") - 0.4) < 1e-12);
    cr_expect_eq(jnum(s1, "hours_difference"), 72);
    cr_expect_eq(jnum(s1, "score_change"), 5);
    cr_expect(fabs(jnum(s1, "propagation_strength") - 0.5) < 1e-12);
    cr_expect_eq(jnum(j, "total_propagation_time"), 96);
    json_decref(j);
    free(out.buf);
}

Test(query, spread_window_ends_at_as_of)
{
    out_t out;
    json_t *j = spread_json("song", "Ann", 1, "2024-01-01", &out);
    cr_expect_eq(jnum(j, "platform_count"), 1);
    cr_expect_eq(json_array_size(json_object_get(j, "propagation_pattern")), 0);
    cr_expect_eq(jnum(j, "total_propagation_time"), 0);
    json_decref(j);
    free(out.buf);
}

Test(query, spread_treats_percent_literally_and_reports_no_data)
{
    out_t out;
    json_t *j = spread_json("%", "%", 30, "2024-01-05", &out);
    cr_expect_str_eq(jstr(j, "message"), "No cross-platform data found");
    cr_expect_eq(jnum(j, "platform_count"), 0);
    json_decref(j);
    free(out.buf);

    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    o.track = "Nothing";
    o.artist = "Nobody";
    au_error_t err = {0};
    cr_assert_eq(au_query_spread(conn, &o, 0, out_open(&out), &err), 0);
    cr_expect_str_eq(out_text(&out), "No cross-platform data found\n");
    free(out.buf);
}

Test(query, spread_table_lists_lag_and_score_change)
{
    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    o.track = "alpha";
    o.artist = "ANN";
    o.as_of = "2024-01-05";
    out_t out;
    au_error_t err = {0};
    cr_assert_eq(au_query_spread(conn, &o, 0, out_open(&out), &err), 0, "%s",
                 err.msg);
    const char *want =
        "\"alpha\" by \"ANN\": 3 platform(s), first on spotify/daily/us; 1 "
        "matching track(s), 1 recording(s)\n"
        "rank  platform           first_seen  peak_score  lag_hours  "
        "score_change\n"
        "   1  spotify/daily/us   2024-01-01       99.00          -  "
        "           -\n"
        "   2  spotify/daily/gb   2024-01-02       95.00       24.0  "
        "       -4.00\n"
        "   3  spotify/weekly/us  2024-01-05      100.00       72.0  "
        "       +5.00\n"
        "total propagation time: 96.0 hour(s)\n";
    cr_expect_str_eq(out_text(&out), want);
    free(out.buf);
}

Test(query, spread_rejects_empty_track_and_bad_days)
{
    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    o.track = "";
    o.artist = "Ann";
    au_error_t err = {0};
    cr_expect_eq(au_query_spread_check(&o, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg, "TRACK: must not be empty");
    o.track = "Alpha";
    o.days = 4000;
    cr_expect_eq(au_query_spread_check(&o, &err), AU_EINVAL);
    cr_expect_str_eq(err.msg, "--days 4000: must be 1..3650");
}

/* ---- the commands --------------------------------------------------- */

static char *read_redirected(FILE *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert(m);
    char chunk[4096];
    size_t n;
    rewind(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    return buf;
}

/* Runs `audora ARGS...`, which must fail on its arguments before any
 * connection (no database URL is configured here); returns its stderr. */
static char *usage_error(int argc, const char *const *args)
{
    char *argv[16] = {"audora"};
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    cr_expect_eq(au_cmd_main(argc + 1, argv), 2, "%s", args[argc - 1]);
    fflush(stderr);
    return read_redirected(cr_get_redirected_stderr());
}

static void expect_usage_error(int argc, const char *const *args,
                               const char *msg)
{
    char *e = usage_error(argc, args);
    cr_expect(strstr(e, msg), "want \"%s\" in: %s", msg, e);
    free(e);
}

Test(query, commands_reject_bad_arguments_naming_flag_and_value,
     .init = cr_redirect_stderr)
{
    const char *a1[] = {"top", "--limit", "5x"};
    expect_usage_error(3, a1, "--limit 5x: not an integer in 1..1000");
    const char *a2[] = {"top", "--by", "speed"};
    expect_usage_error(3, a2,
                       "--by speed: must be viral, movement or breakout");
    const char *a3[] = {"top", "--from", "2024-1-01"};
    expect_usage_error(3, a3, "--from 2024-1-01: not a YYYY-MM-DD date");
    const char *a4[] = {"top", "--bogus"};
    expect_usage_error(2, a4, "unknown option --bogus");
    const char *a5[] = {"top", "--limit"};
    expect_usage_error(2, a5, "--limit needs a value");
    const char *a6[] = {"playlists"};
    expect_usage_error(1, a6, "--mood NAME");
    const char *a7[] = {"playlists", "--mood", "sleepy"};
    expect_usage_error(3, a7, "one of happy_upbeat, chill_relaxed");
    const char *a8[] = {"playlists", "--mood", "all", "--min-score", "1e2"};
    expect_usage_error(5, a8, "--min-score 1e2: not a number in 0..100");
    const char *a9[] = {"spread", "Alpha"};
    expect_usage_error(2, a9, "expects TRACK ARTIST (got 1 argument)");
    const char *a10[] = {"summary", "--days", "-1"};
    expect_usage_error(3, a10, "--days -1: not an integer in 1..3650");
    const char *a11[] = {"summary", "extra"};
    expect_usage_error(2, a11, "unexpected argument \"extra\"");
}

Test(query, top_command_prints_json_from_the_configured_database,
     .init = cr_redirect_stdout)
{
    setenv("AUDORA_DATABASE__URL", url, 1);
    setenv("AUDORA_REDIS__URL", au_test_redis_url(), 1);
    char *argv[] = {"audora",  "top", "--json", "--region=us",
                    "--limit", "1",   NULL};
    cr_assert_eq(au_cmd_main(6, argv), 0);
    fflush(stdout);
    char *text = read_redirected(cr_get_redirected_stdout());
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    cr_assert(j, "not JSON (%s): %s", jerr.text, text);
    json_t *t = json_object_get(j, "tracks");
    cr_assert_eq(json_array_size(t), 1, "%s", text);
    cr_expect_str_eq(jstr(json_array_get(t, 0), "track_name"), "Alpha Song");
    json_decref(j);
    free(text);
}
