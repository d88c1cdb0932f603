/* test_backtest.c: the backtest's metrics, ranking, logistic fit, labels
 * and train/eval split on hand-made panels whose expected values were
 * worked out by hand (the arithmetic is in the comments), and one run
 * against a real PostgreSQL. */
#include "au_backtest.h"
#include "au_err.h"
#include "au_migrate.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9
#define NEAR(a, b)                                                             \
    cr_assert_float_eq((a), (b), EPS, "%s = %.12g, want %.12g", #a,            \
                       (double)(a), (double)(b))

/* ---- metrics -------------------------------------------------------- */

Test(metrics, precision_divides_by_k_or_by_the_candidates_when_fewer)
{
    const unsigned char h[] = {1, 0, 1, 0, 0};
    NEAR(au_bt_precision_at(h, 5, 1), 1.0);
    NEAR(au_bt_precision_at(h, 5, 2), 0.5);
    /* Only 5 candidates: 2 hits / 5. */
    NEAR(au_bt_precision_at(h, 5, 10), 0.4);
    NEAR(au_bt_precision_at(h, 0, 10), 0.0);
}

Test(metrics, pooled_recall_and_lead_over_two_weeks)
{
    /* Week 1: 25 candidates, hits ranked 1 (lead 2), 16 (lead 4) and 23
     * (lead 1). Week 2: 25 candidates, one hit ranked 22 (lead 3).
     * P@10 = (1/10 + 0) / 2 = 0.05; P@20 = (2/20 + 0) / 2 = 0.05;
     * recall = 2 top-20 hits / 4 hits = 0.5; lead = median{2, 4} = 3;
     * base rate = 4 / 50. */
    unsigned char h1[25] = {0}, h2[25] = {0};
    int l1[25] = {0}, l2[25] = {0};
    h1[0] = 1, l1[0] = 2;
    h1[15] = 1, l1[15] = 4;
    h1[22] = 1, l1[22] = 1;
    h2[21] = 1, l2[21] = 3;
    au_bt_acc_t *a = au_bt_acc_new();
    cr_assert(a);
    cr_assert_eq(au_bt_acc_add(a, h1, l1, 25), 0);
    cr_assert_eq(au_bt_acc_add(a, h2, l2, 25), 0);
    au_bt_metrics_t m;
    cr_assert_eq(au_bt_acc_result(a, &m), 0);
    au_bt_acc_destroy(&a);
    cr_assert_null(a);
    cr_assert_eq(m.weeks, 2);
    cr_assert_eq(m.candidates, 50);
    cr_assert_eq(m.hits, 4);
    cr_assert_eq(m.tp20, 2);
    NEAR(m.p10, 0.05);
    NEAR(m.p20, 0.05);
    NEAR(m.recall20, 0.5);
    NEAR(m.lead_median, 3.0);
    NEAR(m.base_rate, 0.08);
}

Test(metrics, no_hit_in_the_top_20_leaves_the_lead_undefined)
{
    unsigned char h[30] = {0};
    int l[30] = {0};
    h[25] = 1, l[25] = 1;
    au_bt_acc_t *a = au_bt_acc_new();
    cr_assert_eq(au_bt_acc_add(a, h, l, 30), 0);
    au_bt_metrics_t m;
    cr_assert_eq(au_bt_acc_result(a, &m), 0);
    au_bt_acc_destroy(&a);
    NEAR(m.recall20, 0.0);
    cr_assert(isnan(m.lead_median));
}

Test(metrics, intervals_of_identical_weeks_are_the_point_value)
{
    /* Three identical weeks: hits ranked 1 (lead 1) and 12 (lead 3) of
     * 20. Every resample is those weeks again, so every interval is a
     * point: P@10 = 0.1, P@20 = 0.1, recall 1, lead median{1, 3} = 2. */
    unsigned char h[20] = {0};
    int l[20] = {0};
    h[0] = 1, l[0] = 1;
    h[11] = 1, l[11] = 3;
    au_bt_acc_t *a = au_bt_acc_new();
    for (int w = 0; w < 3; w++)
        cr_assert_eq(au_bt_acc_add(a, h, l, 20), 0);
    au_bt_metrics_t m;
    cr_assert_eq(au_bt_acc_result(a, &m), 0);
    NEAR(m.p10_ci.lo, 0.1);
    NEAR(m.p10_ci.hi, 0.1);
    NEAR(m.p20_ci.lo, 0.1);
    NEAR(m.p20_ci.hi, 0.1);
    NEAR(m.recall20_ci.lo, 1.0);
    NEAR(m.lead_ci.hi, 2.0);
    au_bt_acc_destroy(&a);
}

Test(metrics, paired_difference_of_a_constant_gain_has_no_spread)
{
    /* Method a finds one more hit in its top 20 than b every week, so it
     * is 1/20 better in every resample, whichever weeks are drawn. Week w
     * of b has w % 3 hits in its top 20. */
    au_bt_acc_t *a = au_bt_acc_new(), *b = au_bt_acc_new();
    for (int w = 0; w < 9; w++) {
        unsigned char ha[20] = {0}, hb[20] = {0};
        int l[20];
        for (int i = 0; i < 20; i++)
            l[i] = 1;
        for (int i = 0; i < w % 3; i++)
            ha[i] = hb[i] = 1;
        ha[19] = 1;
        cr_assert_eq(au_bt_acc_add(a, ha, l, 20), 0);
        cr_assert_eq(au_bt_acc_add(b, hb, l, 20), 0);
    }
    double d;
    au_bt_ci_t ci;
    cr_assert_eq(au_bt_acc_paired_p20(a, b, &d, &ci), 0);
    NEAR(d, 0.05);
    NEAR(ci.lo, 0.05);
    NEAR(ci.hi, 0.05);
    /* An unpaired interval of a alone does spread: its weeks differ. */
    au_bt_metrics_t m;
    cr_assert_eq(au_bt_acc_result(a, &m), 0);
    cr_assert(m.p20_ci.hi > m.p20_ci.lo);
    au_bt_acc_destroy(&a);
    au_bt_acc_destroy(&b);
}

Test(metrics, paired_difference_needs_the_same_weeks)
{
    au_bt_acc_t *a = au_bt_acc_new(), *b = au_bt_acc_new();
    unsigned char h[1] = {0};
    int l[1] = {0};
    cr_assert_eq(au_bt_acc_add(a, h, l, 1), 0);
    double d;
    au_bt_ci_t ci;
    cr_assert_eq(au_bt_acc_paired_p20(a, b, &d, &ci), AU_EINVAL);
    au_bt_acc_destroy(&a);
    au_bt_acc_destroy(&b);
}

Test(rank, orders_by_score_then_position_with_nan_last)
{
    const double s[] = {1, NAN, 3, 3, 2};
    const int pos[] = {60, 55, 90, 70, 100};
    size_t o[5];
    cr_assert_eq(au_bt_rank(s, pos, 5, o), 0);
    const size_t want[] = {3, 2, 4, 0, 1};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(o[i], want[i], "rank %zu: %zu, want %zu", i, o[i],
                     want[i]);
}

/* ---- panels and labels ---------------------------------------------- */

static au_bt_panel_t *panel(size_t nt, size_t nw)
{
    au_bt_panel_t *p = au_bt_panel_new(nt, nw);
    cr_assert(p);
    for (size_t w = 0; w < nw; w++) {
        p->week_t[w] = 1546560000.0 + 7.0 * 86400.0 * (double)w;
        snprintf(p->week_date[w], sizeof p->week_date[w], "w%02d",
                 (int)(w % 100));
    }
    return p;
}

static void set(au_bt_panel_t *p, size_t r, size_t w, int pos)
{
    p->pos[r * p->stride + w] = pos;
    p->streams[r * p->stride + w] = pos ? 10000.0 * (300 - pos) : NAN;
}

Test(label, hit_is_the_first_top_50_week_within_four)
{
    au_bt_panel_t *p = panel(1, 10);
    static const int pos[10] = {100, 100, 100, 40, 60, 60, 60, 60, 60, 60};
    for (size_t w = 0; w < 10; w++)
        set(p, 0, w, pos[w]);
    int hit, lead;
    cr_assert_eq(au_bt_label(p, 0, 0, &hit, &lead), 0);
    cr_assert_eq(hit, 1);
    cr_assert_eq(lead, 3);
    /* Week 3 itself is top 50 but later weeks are not: no hit. */
    cr_assert_eq(au_bt_label(p, 0, 3, &hit, &lead), 0);
    cr_assert_eq(hit, 0);
    cr_assert_eq(au_bt_label(p, 0, 5, &hit, &lead), 0);
    cr_assert_eq(au_bt_label(p, 0, 6, &hit, &lead), AU_ERANGE);
    au_bt_panel_destroy(&p);
    cr_assert_null(p);
}

Test(features, are_position_gains_streams_and_history)
{
    au_bt_panel_t *p = panel(2, 3);
    set(p, 0, 1, 150);
    set(p, 0, 2, 120);
    set(p, 1, 0, 190); /* the only other track sets week 1's floor */
    set(p, 1, 1, 195);
    double x[AU_BT_NFEAT];
    cr_assert_eq(au_bt_features(p, 0, 2, x), 0);
    NEAR(x[0], 81.0 / 200.0);               /* (201-120)/200 */
    NEAR(x[1], 30.0 / 200.0);               /* 150 -> 120 */
    NEAR(x[2], 81.0 / 200.0);               /* off (201) -> 120 */
    NEAR(x[3], log(1800000.0 / 1500000.0)); /* streams growth */
    NEAR(x[4], log(1800000.0));
    NEAR(x[5], log(3.0)); /* 2 weeks on chart */
    NEAR(x[6], 0.0);
    /* Week 1 has only one week before it: the features need two. */
    cr_assert_eq(au_bt_features(p, 0, 1, x), AU_EINVAL);
    au_bt_panel_destroy(&p);
}

Test(score, viral_predictor_without_signals_is_the_position_score)
{
    /* One platform score ps = 100 (201 - pos) / 200, no social (0), no
     * audio (50): viral = 0.40 ps + 0.25 * 50. pos 51: ps 75 -> 42.5;
     * pos 151: ps 25 -> 22.5. */
    au_bt_panel_t *p = panel(2, 2);
    set(p, 0, 0, 60);
    set(p, 0, 1, 51);
    set(p, 1, 1, 151);
    size_t cand[] = {0, 1};
    double s[2];
    cr_assert_eq(au_bt_score(p, AU_BT_VIRAL, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 42.5);
    NEAR(s[1], 22.5);
    /* The naive ranking it equals: closest to 50 first. */
    cr_assert_eq(au_bt_score(p, AU_BT_POSITION, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], -51.0);
    NEAR(s[1], -151.0);
    /* Gain: 60 -> 51 is 9; a new entry comes from 201: 201 - 151. */
    cr_assert_eq(au_bt_score(p, AU_BT_GAIN, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 9.0);
    NEAR(s[1], 50.0);
    /* The trend analyzer needs 5 points: both unranked. */
    cr_assert_eq(au_bt_score(p, AU_BT_TREND, NULL, 1, cand, 2, s), 0);
    cr_assert(isnan(s[0]) && isnan(s[1]));
    au_bt_panel_destroy(&p);
}

/* ---- logistic fit --------------------------------------------------- */

Test(logit, separable_toy_set_is_classified_exactly)
{
    const double x[] = {-2, 1, -1, 0, -0.5, -1, 0.5, 1, 1, 0, 2, -1};
    const int y[] = {0, 0, 0, 1, 1, 1};
    double b[3];
    int it = 0;
    cr_assert_eq(au_bt_logit_fit(x, y, 6, 2, 1e-3, b, &it), 0);
    cr_assert(it > 1 && it < 100, "iterations %d", it);
    for (size_t i = 0; i < 6; i++) {
        double z = au_bt_logit_eval(b, x + 2 * i, 2);
        cr_assert(y[i] ? z > 0 : z < 0, "row %zu: logit %g", i, z);
    }
    cr_assert(b[1] > 0);
}

Test(logit, constant_feature_recovers_the_log_odds)
{
    /* x is always 0, so only the intercept moves; 3 of 4 positive gives
     * log(0.75 / 0.25) = log 3, minus a penalty shift of order l2. */
    const double x[] = {0, 0, 0, 0};
    const int y[] = {1, 1, 1, 0};
    double b[2];
    cr_assert_eq(au_bt_logit_fit(x, y, 4, 1, 1e-8, b, NULL), 0);
    cr_assert_float_eq(b[0], log(3.0), 1e-6);
    cr_assert_float_eq(b[1], 0.0, 1e-12);
}

Test(logit, rejects_empty_input_and_non_finite_values)
{
    const double x[] = {0, NAN};
    const int y[] = {1, 0};
    double b[2];
    cr_assert_eq(au_bt_logit_fit(x, y, 0, 1, 1.0, b, NULL), AU_EINVAL);
    cr_assert_eq(au_bt_logit_fit(x, y, 2, 1, 1.0, b, NULL), AU_EINVAL);
    cr_assert_eq(au_bt_logit_fit(x, y, 1, 1, 0.0, b, NULL), AU_EINVAL);
}

/* ---- the train/eval split ------------------------------------------- */

/* 20 weeks, 30 tracks at positions 51..200 drifting up; some break into
 * the top 50 during the first 10 weeks so both classes exist. */
static au_bt_panel_t *drift_panel(void)
{
    au_bt_panel_t *p = panel(30, 20);
    for (size_t r = 0; r < 30; r++)
        for (size_t w = 0; w < 20; w++) {
            int v = 60 + 4 * (int)r - (int)(w * (r % 5));
            set(p, r, w, v < 1 ? 1 : v);
        }
    return p;
}

Test(split, training_labels_never_look_past_the_view)
{
    au_bt_panel_t *p = drift_panel();
    au_bt_panel_t view;
    cr_assert_eq(au_bt_panel_head(p, 10, &view), 0);
    int hit, lead;
    /* Week 5 needs weeks 6..9: inside. Week 6 needs week 10: refused. */
    cr_assert_eq(au_bt_label(&view, 0, 5, &hit, &lead), 0);
    cr_assert_eq(au_bt_label(&view, 0, 6, &hit, &lead), AU_ERANGE);
    au_bt_model_t a, b;
    cr_assert_eq(au_bt_train(&view, 1.0, &a), 0);
    cr_assert_eq(a.first_week, AU_BT_LOOKBACK);
    cr_assert_eq(a.last_week, 5);
    cr_assert(a.positives > 0 && a.positives < a.rows);
    /* Rewrite everything after week 9: track 29 (never a hit) now hits in
     * week 10 and every other track leaves the chart. The model trained on
     * the view must not change by a single bit. */
    for (size_t r = 0; r < 30; r++)
        for (size_t w = 10; w < 20; w++)
            set(p, r, w, r == 29 ? 1 : 0);
    cr_assert_eq(au_bt_train(&view, 1.0, &b), 0);
    cr_assert_eq(memcmp(a.beta, b.beta, sizeof a.beta), 0);
    cr_assert_eq(a.rows, b.rows);
    au_bt_panel_destroy(&p);
}

Test(split, reading_past_a_view_aborts, .signal = SIGABRT)
{
    au_bt_panel_t *p = drift_panel();
    au_bt_panel_t view;
    au_bt_panel_head(p, 10, &view);
    au_bt_pos(&view, 0, 10);
}

Test(split, run_trains_on_the_first_half_and_evaluates_the_second)
{
    au_bt_panel_t *p = drift_panel();
    au_bt_result_t r;
    au_error_t err = {0};
    cr_assert_eq(au_bt_run(p, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.split, 10);
    cr_assert_eq(r.model.last_week + AU_BT_HORIZON, 9);
    cr_assert_eq(r.eval_first, 10);
    cr_assert_eq(r.eval_last, 15);
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        cr_assert_eq(r.eval[m].weeks, 6);
    au_bt_panel_destroy(&p);
}

/* ---- the chart ----------------------------------------------------- */

static void name(au_bt_panel_t *p, size_t r, const char *key, const char *title,
                 const char *artist)
{
    p->keys[r] = strdup(key);
    p->names[r] = strdup(title);
    p->artists[r] = strdup(artist);
}

Test(chart, same_song_finds_the_other_ids_of_a_title_and_artist)
{
    au_bt_panel_t *p = panel(4, 2);
    name(p, 0, "spotify:a", "F.N", "Lil Tjay");
    name(p, 1, "spotify:b", "F.N", "Someone Else");
    name(p, 2, "spotify:c", "F.N", "Lil Tjay");
    name(p, 3, "spotify:d", "Other", "Lil Tjay");
    size_t o[2];
    cr_assert_eq(au_bt_same_song(p, 0, o, 2), 1);
    cr_assert_eq(o[0], 2);
    cr_assert_eq(au_bt_same_song(p, 3, o, 2), 0);
    au_bt_panel_destroy(&p);
}

/* The SVG of a hand-made result: a track relinked from key a to key b
 * in week 5 of a series that starts on 2018-12-07. */
static char *chart_of_relinked_track(void)
{
    au_bt_panel_t *p = panel(2, 10);
    for (size_t w = 0; w < 10; w++)
        p->week_t[w] = 1544140800.0 + 7.0 * 86400.0 * (double)w;
    name(p, 0, "spotify:a", "Song <1>", "Band & Co");
    name(p, 1, "spotify:b", "Song <1>", "Band & Co");
    for (size_t w = 0; w < 5; w++)
        set(p, 0, w, 150 - 20 * (int)w);
    for (size_t w = 5; w < 10; w++)
        set(p, 1, w, 40);
    snprintf(p->week_date[5], sizeof p->week_date[5], "2019-01-11");
    au_bt_result_t r;
    memset(&r, 0, sizeof r);
    r.n_weeks = 10;
    r.eval_first = 2;
    r.eval_last = 5;
    for (int m = 0; m < AU_BT_NMETHODS; m++) {
        r.eval[m].weeks = 4;
        r.eval[m].p20 = 0.05 * m;
        r.eval[m].p20_ci = (au_bt_ci_t){0.02 * m, 0.07 * m};
    }
    r.best_naive = AU_BT_STREAMS;
    r.found = 1;
    r.ex_track = 0;
    r.ex_week = 2;
    r.ex_rank = 3;
    r.ex_candidates = 2;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(au_bt_write_svg(f, p, &r, "spotify/weekly/xx"), 0);
    fclose(f);
    au_bt_panel_destroy(&p);
    return buf;
}

Test(chart, names_the_position_ranking_and_says_the_viral_one_equals_it)
{
    char *svg = chart_of_relinked_track();
    cr_assert(strstr(svg, ">current position, closest to 50 first<"));
    cr_assert(strstr(svg, ">= position order without social signals<"));
    cr_assert(strstr(svg, "naive ranking"), "no legend");
    cr_assert(strstr(svg, "95% interval"), "no legend for the whiskers");
    cr_assert(strstr(svg, "n = 4 evaluation weeks"));
    free(svg);
}

Test(chart, states_the_example_rule_and_marks_the_new_spotify_id)
{
    char *svg = chart_of_relinked_track();
    cr_assert(strstr(svg, "Chosen by a fixed rule: " AU_BT_EXAMPLE_RULE));
    cr_assert(strstr(svg, "new Spotify id from 2019-01-11"));
    cr_assert(strstr(svg, "Song &lt;1&gt; (Band &amp; Co)"), "escaping");
    /* The axis starts on 2018-12-07 with a tick every 4 weeks: year 2018
     * under the first tick, 2019 under week 4 (2019-01-04). */
    cr_assert(strstr(svg, ">2018<"));
    cr_assert(strstr(svg, ">2019<"));
    cr_assert(strstr(svg, ">Dec 7<"));
    free(svg);
}

/* ---- against PostgreSQL --------------------------------------------- */

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s: %s", sql,
                 PQerrorMessage(c));
    PQclear(res);
}

static void insert(PGconn *c, const char *region, int week, const char *key,
                   int pos)
{
    char sql[512];
    /* 2019-01-04 plus whole weeks; streams follow the position. */
    snprintf(sql, sizeof sql,
             "INSERT INTO trends (platform, chart, region, chart_date, "
             "track_key, position, streams, track_name, artist, score) "
             "VALUES ('spotify', 'weekly', '%s', "
             "date '2019-01-04' + %d, '%s', %d, %d, 'name %s', 'artist', "
             "%f)",
             region, 7 * week, key, pos, 10000 * (300 - pos), key,
             (201 - pos) / 2.0);
    exec_ok(c, sql);
}

/* 14 weeks: "a" at #1; fillers f00..f24 fixed at 101..125; t1 climbs
 * 199 -> 180, 160, 140 in weeks 7..9 and reaches #40 in week 10; t2 creeps
 * 200 -> 195, 190, 185, 180 and never reaches the top 50. */
static void synthetic(PGconn *c)
{
    exec_ok(c, "BEGIN");
    for (int w = 0; w < 14; w++) {
        char key[8];
        insert(c, "us", w, "a", 1);
        for (int i = 0; i < 25; i++) {
            snprintf(key, sizeof key, "f%02d", i);
            insert(c, "us", w, key, 101 + i);
        }
        static const int t1[] = {199, 199, 199, 199, 199, 199, 199,
                                 180, 160, 140, 40,  40,  40,  40};
        insert(c, "us", w, "t1", t1[w]);
        insert(c, "us", w, "t2",
               w < 7    ? 200
               : w < 10 ? 195 - 5 * (w - 7)
                        : 180);
        /* A second series with week 5 missing. */
        if (w != 5)
            insert(c, "gb", w, "a", 1);
    }
    exec_ok(c, "COMMIT");
}

Test(db, backtest_over_a_synthetic_series_matches_hand_counts)
{
    char url[512];
    au_test_db_new(url, sizeof url);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    synthetic(c);

    au_bt_panel_t *p = NULL;
    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "gb", &p, &err), AU_EINVAL);
    cr_assert(strstr(err.msg, "14 days"), "%s", err.msg);
    cr_assert_null(p);

    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "us", &p, &err), 0, "%s",
                 err.msg);
    PQfinish(c);
    cr_assert_eq(p->n_weeks, 14);
    cr_assert_eq(p->n_tracks, 28);
    cr_assert_str_eq(p->week_date[0], "2019-01-04");
    cr_assert_str_eq(p->week_date[13], "2019-04-05");
    cr_assert_str_eq(p->keys[26], "t1");
    cr_assert_eq(au_bt_pos(p, 26, 7), 180);

    au_bt_result_t r;
    cr_assert_eq(au_bt_run(p, &r, &err), 0, "%s", err.msg);
    /* split 7: evaluation weeks 7, 8, 9 (9 + 4 = 13, the last week). Each
     * has 27 candidates (25 fillers, t1, t2); the only hit is t1, first in
     * the top 50 in week 10, so leads 3, 2, 1. */
    cr_assert_eq(r.eval_first, 7);
    cr_assert_eq(r.eval_last, 9);
    const au_bt_metrics_t *g = &r.eval[AU_BT_GAIN];
    cr_assert_eq(g->weeks, 3);
    cr_assert_eq(g->candidates, 81);
    cr_assert_eq(g->hits, 3);
    /* Gains: t1 19, 20, 20; t2 5 each week; fillers 0. t1 ranks first:
     * P@10 = 1/10, P@20 = 1/20, recall 3/3, lead median{3,2,1} = 2. */
    NEAR(g->p10, 0.1);
    NEAR(g->p20, 0.05);
    NEAR(g->recall20, 1.0);
    NEAR(g->lead_median, 2.0);
    /* Stream growth: t1 120/101-1, 140/120-1, 160/140-1 beats t2's
     * 105/100-1, 110/105-1, 115/110-1: the same result. */
    const au_bt_metrics_t *s = &r.eval[AU_BT_STREAMS];
    NEAR(s->p10, 0.1);
    NEAR(s->recall20, 1.0);
    NEAR(s->lead_median, 2.0);
    /* The viral score is the position: 25 fillers first, t1 26th. */
    const au_bt_metrics_t *v = &r.eval[AU_BT_VIRAL];
    NEAR(v->p20, 0.0);
    NEAR(v->recall20, 0.0);
    cr_assert(isnan(v->lead_median));
    /* Over all evaluable weeks 0..9 t1 is also a hit at week 6 (lead 4). */
    cr_assert_eq(r.all[AU_BT_VIRAL].weeks, 10);
    cr_assert_eq(r.all[AU_BT_VIRAL].hits, 4);
    cr_assert_eq(r.all[AU_BT_GAIN].weeks, 9);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(au_bt_write_svg(f, p, &r, "spotify/weekly/us"), 0);
    fclose(f);
    cr_assert(strncmp(buf, "<svg", 4) == 0);
    cr_assert(strstr(buf, "</svg>"));
    free(buf);
    au_bt_panel_destroy(&p);
}
