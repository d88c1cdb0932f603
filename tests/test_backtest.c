/* test_backtest.c: the backtest's panel, series cuts, labels, metrics,
 * calibration, rankings, the fit before each block and the rolling-origin
 * run on hand-made panels whose expected values were worked out by hand
 * (the arithmetic is in the comments); the charts' content; and loading
 * series from a real PostgreSQL. */
#include "au_backtest.h"
#include "au_date.h"
#include "au_err.h"
#include "au_migrate.h"
#include "au_score.h"
#include "au_store.h"
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
    cr_assert_eq(m.lead[1], 1); /* lead 2 */
    cr_assert_eq(m.lead[3], 1); /* lead 4 */
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
    au_bt_metrics_t d;
    cr_assert_eq(au_bt_acc_paired(a, b, &d), 0);
    NEAR(d.p20, 0.05);
    NEAR(d.p20_ci.lo, 0.05);
    NEAR(d.p20_ci.hi, 0.05);
    /* Every hit of both is in the top 20 with lead 1: equal recall. */
    NEAR(d.recall20, 0.0);
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
    au_bt_metrics_t d;
    cr_assert_eq(au_bt_acc_paired(a, b, &d), AU_EINVAL);
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

/* ---- calibration ---------------------------------------------------- */

Test(calib, brier_skill_and_bins_of_one_hand_made_week)
{
    /* Forecasts 0.1 (miss) and 0.8 (hit), reference 0.5: squared errors
     * 0.01 + 0.04 = 0.05 against 0.25 + 0.25 = 0.5 over 2 rows: Brier
     * 0.025, reference 0.25, skill 1 - 0.05 / 0.5 = 0.9. 0.1 falls in bin
     * 1 (0.1-0.2), 0.8 in bin 8. */
    const double prob[] = {0.1, 0.8};
    const unsigned char hit[] = {0, 1};
    au_bt_cal_acc_t *a = au_bt_cal_new();
    cr_assert_eq(au_bt_cal_add(a, prob, hit, 2, 0.5), 0);
    au_bt_calib_t c;
    cr_assert_eq(au_bt_cal_result(a, &c), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.positives, 1);
    NEAR(c.brier, 0.025);
    NEAR(c.brier_ref, 0.25);
    NEAR(c.skill, 0.9);
    NEAR(c.brier_ci.lo, 0.025); /* one week: every resample is it */
    cr_assert_eq(c.bin_n[1], 1);
    NEAR(c.bin_pred[1], 0.1);
    NEAR(c.bin_obs[1], 0.0);
    cr_assert_eq(c.bin_n[8], 1);
    NEAR(c.bin_obs[8], 1.0);
    cr_assert(isnan(c.bin_pred[0]));
    au_bt_cal_destroy(&a);
    cr_assert_null(a);
}

Test(calib, rejects_forecasts_outside_zero_to_one)
{
    const double prob[] = {1.5};
    const unsigned char hit[] = {1};
    au_bt_cal_acc_t *a = au_bt_cal_new();
    cr_assert_eq(au_bt_cal_add(a, prob, hit, 1, 0.5), AU_EINVAL);
    au_bt_cal_destroy(&a);
}

/* ---- panels, series, labels ----------------------------------------- */

static au_bt_panel_t *panel(size_t nt, size_t nw)
{
    au_bt_panel_t *p = au_bt_panel_new(nt, nw);
    cr_assert(p);
    for (size_t w = 0; w < nw; w++) {
        p->week_t[w] = 1546560000.0 + 7.0 * 86400.0 * (double)w;
        snprintf(p->week_date[w], sizeof p->week_date[w], "w%02d",
                 (int)(w % 100));
    }
    snprintf(p->label, sizeof p->label, "XX 2019");
    return p;
}

static void set(au_bt_panel_t *p, size_t r, size_t w, int pos)
{
    p->pos[r * p->stride + w] = pos;
    p->streams[r * p->stride + w] = pos ? 10000.0 * (300 - pos) : NAN;
}

Test(series, dates_split_at_gaps_longer_than_two_missing_weeks)
{
    /* 0, 7, 14, then 28 (one week missing: bridged), 35, then 70 (four
     * missing: a new series), 77. */
    const long d[] = {0, 7, 14, 28, 35, 70, 77};
    size_t s[4];
    cr_assert_eq(au_bt_split_dates(d, 7, s, 4), 2);
    cr_assert_eq(s[0], 0);
    cr_assert_eq(s[1], 5);
    /* Two missing weeks are bridged, three are not; 10 days is no week. */
    const long two[] = {0, 21}, three[] = {0, 28}, odd[] = {0, 7, 17};
    cr_assert_eq(au_bt_split_dates(two, 2, s, 4), 1);
    cr_assert_eq(au_bt_split_dates(three, 2, s, 4), 2);
    cr_assert_eq(au_bt_split_dates(odd, 3, s, 4), 2);
    cr_assert_eq(s[1], 2);
    /* More series than room: counted, not written. */
    cr_assert_eq(au_bt_split_dates(three, 2, s, 1), 2);
}

Test(label, hit_is_the_first_week_past_the_line_within_four)
{
    const au_bt_task_t *top50 = au_bt_task(AU_BT_TASK_TOP50);
    au_bt_panel_t *p = panel(1, 10);
    static const int pos[10] = {100, 100, 100, 40, 60, 60, 60, 60, 60, 60};
    for (size_t w = 0; w < 10; w++)
        set(p, 0, w, pos[w]);
    int hit, lead;
    cr_assert_eq(au_bt_label(p, top50, 0, 0, &hit, &lead), 0);
    cr_assert_eq(hit, 1);
    cr_assert_eq(lead, 3);
    /* Week 3 itself is top 50 but later weeks are not: no hit. */
    cr_assert_eq(au_bt_label(p, top50, 0, 3, &hit, &lead), 0);
    cr_assert_eq(hit, 0);
    cr_assert_eq(au_bt_label(p, top50, 0, 5, &hit, &lead), 0);
    cr_assert_eq(au_bt_label(p, top50, 0, 6, &hit, &lead), AU_ERANGE);
    au_bt_panel_destroy(&p);
    cr_assert_null(p);
}

Test(label, top_10_task_takes_candidates_at_11_to_50)
{
    const au_bt_task_t *top10 = au_bt_task(AU_BT_TASK_TOP10);
    au_bt_panel_t *p = panel(2, 6);
    static const int a[6] = {30, 20, 9, 9, 9, 9},
                     b[6] = {51, 50, 11, 11, 11, 11};
    for (size_t w = 0; w < 6; w++) {
        set(p, 0, w, a[w]);
        set(p, 1, w, b[w]);
    }
    int hit, lead;
    cr_assert(au_bt_is_candidate(p, top10, 0, 0));
    cr_assert(!au_bt_is_candidate(p, top10, 1, 0)); /* #51 */
    cr_assert(au_bt_is_candidate(p, top10, 1, 1));  /* #50 */
    cr_assert(!au_bt_is_candidate(p, top10, 0, 2)); /* #9 */
    cr_assert_eq(au_bt_label(p, top10, 0, 0, &hit, &lead), 0);
    cr_assert_eq(hit, 1);
    cr_assert_eq(lead, 2);
    cr_assert_eq(au_bt_label(p, top10, 1, 1, &hit, &lead), 0);
    cr_assert_eq(hit, 0); /* #11 is not the top 10 */
    au_bt_panel_destroy(&p);
}

Test(label, weeks_need_their_lookback_and_horizon_present)
{
    /* 20 weeks, week 10 missing: week w needs w-2..w+4. */
    au_bt_panel_t *p = panel(1, 20);
    p->present[10] = 0;
    cr_assert(!au_bt_week_ok(p, 1));  /* no two weeks before */
    cr_assert(au_bt_week_ok(p, 5));   /* 3..9 */
    cr_assert(!au_bt_week_ok(p, 6));  /* 4..10 */
    cr_assert(!au_bt_week_ok(p, 12)); /* 10..16 */
    cr_assert(au_bt_week_ok(p, 13));  /* 11..17 */
    cr_assert(au_bt_week_ok(p, 15));  /* 13..19 */
    cr_assert(!au_bt_week_ok(p, 16)); /* 20 is past the end */
    au_bt_panel_destroy(&p);
}

Test(label, history_reaches_back_at_most_the_window_and_never_ahead)
{
    au_bt_panel_t *p = panel(2, 12);
    au_bt_hist_t h;
    au_bt_hist_of(p, 1, 10, &h);
    cr_assert_eq(h.n, AU_BT_MODEL_WINDOW);
    cr_assert_eq(h.pos, p->pos + p->stride + 3); /* weeks 3..10 */
    cr_assert_eq(h.streams, p->streams + p->stride + 3);
    au_bt_hist_of(p, 0, 3, &h);
    cr_assert_eq(h.n, 4);
    cr_assert_eq(h.pos, p->pos);
    au_bt_panel_destroy(&p);
}

/* ---- scores ---------------------------------------------------------- */

Test(score, viral_predictor_without_signals_is_the_position_score)
{
    /* One platform score ps = 100 (201 - pos) / 200, no social (0), no
     * audio (50): viral = 0.40 ps + 0.25 * 50. pos 51: ps 75 -> 42.5;
     * pos 151: ps 25 -> 22.5. */
    au_bt_panel_t *p = panel(2, 2);
    set(p, 0, 0, 60);
    set(p, 0, 1, 51);
    set(p, 1, 1, 151);
    au_bt_context_t c;
    cr_assert_eq(au_bt_context_new(p, &c), 0);
    size_t cand[] = {0, 1};
    double s[2];
    cr_assert_eq(au_bt_score(p, &c, AU_BT_VIRAL, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 42.5);
    NEAR(s[1], 22.5);
    /* The naive ranking it equals: closest to the line first. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_POSITION, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], -51.0);
    NEAR(s[1], -151.0);
    /* Gain: 60 -> 51 is 9; a new entry comes from 201: 201 - 151. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_GAIN, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 9.0);
    NEAR(s[1], 50.0);
    /* Streams 10000 (300 - pos): 249/240 - 1; the new entry's last week
     * is the floor of week 0, 2.4 M (the only track then): 149/240 - 1. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_STREAMS, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 249.0 / 240.0 - 1.0);
    NEAR(s[1], 149.0 / 240.0 - 1.0);
    /* Weeks on the chart, fewest first: 2 and 1. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_WEEKS, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], -2.0);
    NEAR(s[1], -1.0);
    /* A new personal best: 51 after 60, and a first entry. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_PEAK, NULL, 1, cand, 2, s), 0);
    NEAR(s[0], 1.0);
    NEAR(s[1], 1.0);
    /* The trend analyzer needs 5 points: both unranked. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_TREND, NULL, 1, cand, 2, s), 0);
    cr_assert(isnan(s[0]) && isnan(s[1]));
    /* The model needs a model. */
    cr_assert_eq(au_bt_score(p, &c, AU_BT_MODEL, NULL, 1, cand, 2, s),
                 AU_EINVAL);
    au_bt_context_free(&c);
    au_bt_panel_destroy(&p);
}

Test(score, context_floor_is_the_smallest_streams_of_each_week)
{
    /* Streams 10000 (300 - pos): week 0 holds #49 and #52, week 1 #50
     * and #120; a track off the chart does not count. */
    au_bt_panel_t *p = panel(3, 2);
    set(p, 0, 0, 49);
    set(p, 1, 0, 52);
    set(p, 0, 1, 50);
    set(p, 1, 1, 120);
    au_bt_context_t c;
    cr_assert_eq(au_bt_context_new(p, &c), 0);
    NEAR(c.floor[0], 10000.0 * 248);
    NEAR(c.floor[1], 10000.0 * 180);
    au_bt_context_free(&c);
    cr_assert_null(c.floor);
    au_bt_panel_destroy(&p);
}

/* ---- fitting before a block ----------------------------------------- */

/* 30 weeks, 30 tracks at positions 51..200 drifting up at different
 * speeds; some cross the line early, so both classes exist. */
static au_bt_panel_t *drift_panel(void)
{
    au_bt_panel_t *p = panel(30, 30);
    for (size_t r = 0; r < 30; r++)
        for (size_t w = 0; w < 30; w++) {
            int v = 60 + 4 * (int)r - (int)(w * (r % 5));
            set(p, r, w, v < 1 ? 1 : v);
        }
    return p;
}

Test(split, the_fit_before_a_block_never_reads_the_block)
{
    const au_bt_task_t *t = au_bt_task(AU_BT_TASK_TOP50);
    au_bt_panel_t *p = drift_panel();
    au_bt_model_t a = {0}, b = {0};
    cr_assert_eq(au_bt_fit_before(p, t, 12, &a), 0);
    /* Weeks 2..7 (w + 4 < 12), every track a candidate while below 50. */
    size_t rows = 0;
    for (size_t w = 2; w <= 7; w++)
        for (size_t r = 0; r < 30; r++)
            rows += au_bt_is_candidate(p, t, r, w);
    cr_assert_eq(a.rows, rows);
    cr_assert(a.positives > 0 && a.positives < a.rows);
    /* Rewrite everything from week 12 on: track 29 (never a hit) now hits
     * and every other track leaves the chart. The fit must not change by
     * a single bit. */
    for (size_t r = 0; r < 30; r++)
        for (size_t w = 12; w < 30; w++)
            set(p, r, w, r == 29 ? 1 : 0);
    cr_assert_eq(au_bt_fit_before(p, t, 12, &b), 0);
    cr_assert_eq(memcmp(a.beta, b.beta, sizeof a.beta), 0);
    cr_assert_eq(memcmp(a.mean, b.mean, sizeof a.mean), 0);
    au_bt_panel_destroy(&p);
}

Test(split, reading_past_a_view_aborts, .signal = SIGABRT)
{
    au_bt_panel_t *p = drift_panel();
    au_bt_panel_t view;
    au_bt_panel_head(p, 10, &view);
    au_bt_pos(&view, 0, 10);
}

/* ---- the run --------------------------------------------------------- */

/* The scenario of the run tests, 30 weeks: "a" at #1; fillers f00..f24
 * fixed at 101..125; t1 at 199 until week 22, then 180, 160, 140 in weeks
 * 23..25 and #40 from week 26; t2 at 200, then 195, 190, 185 in weeks
 * 23..25 and 180 after: it never reaches the top 50. Rows in key order:
 * a, f00..f24, t1, t2. */
#define SC_WEEKS 30
#define SC_TRACKS 28

static int scenario(size_t r, size_t w)
{
    if (r == 0)
        return 1;
    if (r <= 25)
        return 100 + (int)r;
    if (r == 26)
        return w < 23 ? 199 : w < 26 ? 180 - 20 * (int)(w - 23) : 40;
    return w < 23 ? 200 : w < 26 ? 195 - 5 * (int)(w - 23) : 180;
}

/* The hand count of the scenario. Evaluation weeks 16..25 (25 + 4 is the
 * last week), 27 candidates each (fillers, t1, t2): 270. t1 is a hit at
 * weeks 22..25 (leads 4, 3, 2, 1): 4 hits. By last week's gain t1 ranks
 * first in weeks 23..25 (gains 19, 20, 20 against t2's 5) and 26th in
 * week 22, where every gain is 0 and ties go by position: P@10 = 3 *
 * 0.1 / 10, P@20 = 3 * 0.05 / 10, recall 3 / 4, lead median{3, 2, 1}.
 * Stream growth (streams 10000 (300 - pos)) and the new-best rule order
 * the same way; the position ranking (fillers first) never has t1 in its
 * top 20, nor does "fewest weeks" (every track charts every week: ties
 * by position). */
static void check_scenario(const au_bt_result_t *r)
{
    cr_assert_eq(r->eval_first, 16);
    cr_assert_eq(r->eval_last, 25);
    cr_assert_eq(r->n_eval, 10);
    cr_assert_eq(r->n_fits, 2); /* blocks from weeks 16 and 24 */
    static const au_bt_method_t same[] = {AU_BT_GAIN, AU_BT_STREAMS,
                                          AU_BT_PEAK};
    for (int i = 0; i < 3; i++) {
        const au_bt_metrics_t *g = &r->m[same[i]];
        cr_assert_eq(g->weeks, 10);
        cr_assert_eq(g->candidates, 270);
        cr_assert_eq(g->hits, 4);
        cr_assert_eq(g->tp20, 3);
        NEAR(g->p10, 0.03);
        NEAR(g->p20, 0.015);
        NEAR(g->recall20, 0.75);
        NEAR(g->lead_median, 2.0);
    }
    NEAR(r->m[AU_BT_POSITION].p20, 0.0);
    NEAR(r->m[AU_BT_WEEKS].p20, 0.0);
    cr_assert(isnan(r->m[AU_BT_POSITION].lead_median));
    /* Gain, streams and peak tie; the first of them in order wins. */
    cr_assert_eq(r->best_naive, AU_BT_GAIN);
    NEAR(r->diff[AU_BT_STREAMS].p20, 0.0);
    NEAR(r->diff[AU_BT_POSITION].p20, -0.015);
    cr_assert_eq(r->m[AU_BT_MODEL].weeks, 10);
    cr_assert_eq(r->calib.n, 270);
}

Test(run, scenario_matches_the_hand_count)
{
    au_bt_panel_t *p = panel(SC_TRACKS, SC_WEEKS);
    for (size_t r = 0; r < SC_TRACKS; r++)
        for (size_t w = 0; w < SC_WEEKS; w++)
            set(p, r, w, scenario(r, w));
    au_bt_result_t r;
    au_error_t err = {0};
    cr_assert_eq(au_bt_run(p, AU_BT_TASK_TOP50, &r, &err), 0, "%s", err.msg);
    check_scenario(&r);
    au_bt_panel_destroy(&p);
}

Test(run, too_short_a_series_is_refused_naming_it)
{
    au_bt_panel_t *p = panel(2, AU_BT_MIN_WEEKS - 1);
    au_bt_result_t r;
    au_error_t err = {0};
    cr_assert_eq(au_bt_run(p, AU_BT_TASK_TOP50, &r, &err), AU_EINVAL);
    cr_assert(strstr(err.msg, "XX 2019"), "%s", err.msg);
    au_bt_panel_destroy(&p);
}

/* ---- the charts ------------------------------------------------------ */

static void name(au_bt_panel_t *p, size_t r, const char *key, const char *title,
                 const char *artist)
{
    p->keys[r] = strdup(key);
    p->names[r] = strdup(title);
    p->artists[r] = strdup(artist);
}

static size_t row_of(const au_bt_panel_t *p, const char *key)
{
    for (size_t r = 0; r < p->n_tracks; r++)
        if (p->keys[r] && strcmp(p->keys[r], key) == 0)
            return r;
    cr_assert_fail("no row %s", key);
    return 0;
}

Test(merge, one_song_under_two_ids_becomes_one_row)
{
    /* a: "Song" by X, weeks 0-2; b: the same, weeks 3-5 (a new id); c:
     * the same, weeks 2-3, on the chart with a and with b, so apart; d:
     * "Song" by Y; e: unnamed. a and b merge: 5 tracks, 4 rows. */
    au_bt_panel_t *p = panel(5, 6), *q = NULL;
    name(p, 0, "a", "Song", "X");
    name(p, 1, "b", "Song", "X");
    name(p, 2, "c", "Song", "X");
    name(p, 3, "d", "Song", "Y");
    for (size_t w = 0; w < 6; w++) {
        set(p, w < 3 ? 0 : 1, w, 60 - (int)w);
        set(p, 3, w, 100);
        set(p, 4, w, 150);
    }
    set(p, 2, 2, 90);
    set(p, 2, 3, 91);
    cr_assert_eq(au_bt_merge_ids(p, &q), 0);
    cr_assert_eq(q->n_tracks, 4);
    cr_assert_eq(q->merged, 1);
    size_t r = row_of(q, "a");
    for (size_t w = 0; w < 6; w++) {
        cr_assert_eq(au_bt_pos(q, r, w), 60 - (int)w);
        cr_assert_eq(q->id_no[r * q->stride + w], w < 3 ? 0 : 1);
    }
    NEAR(q->streams[r * q->stride + 4], 10000.0 * 244);
    cr_assert_eq(au_bt_pos(q, row_of(q, "c"), 3), 91);
    cr_assert_eq(au_bt_pos(q, row_of(q, "d"), 3), 100);
    cr_assert_str_eq(q->label, "XX 2019");
    au_bt_panel_destroy(&p);
    au_bt_panel_destroy(&q);
}

Test(chart, file_names_derive_from_the_one_given)
{
    char b[64];
    cr_assert_eq(
        au_bt_svg_name("docs/backtest.svg", AU_BT_SVG_TOP50, b, sizeof b), 0);
    cr_assert_str_eq(b, "docs/backtest.svg");
    cr_assert_eq(
        au_bt_svg_name("docs/backtest.svg", AU_BT_SVG_RELIABILITY, b, sizeof b),
        0);
    cr_assert_str_eq(b, "docs/backtest_reliability.svg");
    cr_assert_eq(au_bt_svg_name("out", AU_BT_SVG_TOP10, b, sizeof b), 0);
    cr_assert_str_eq(b, "out_top10.svg");
    cr_assert_eq(au_bt_svg_name("docs/backtest.svg", AU_BT_SVG_EXAMPLES, b, 8),
                 AU_ETOOBIG);
}

/* Every chart of the scenario run, with t1 relinked to a new id from
 * week 27 on, its title and artist holding characters SVG escapes, and
 * three tracks fixed at #20..22 so the top-10 task has candidates. The
 * scenario starts on 2019-01-04. */
static char *chart_of(int which)
{
    au_bt_panel_t *p = panel(SC_TRACKS + 4, SC_WEEKS);
    for (size_t r = 0; r < SC_TRACKS; r++) {
        char key[16];
        snprintf(key, sizeof key, "k%02zu", r);
        name(p, r, key, r == 26 ? "Song <1>" : key,
             r == 26 ? "Band & Co" : "x");
        for (size_t w = 0; w < SC_WEEKS; w++)
            set(p, r, w, scenario(r, w));
    }
    name(p, SC_TRACKS, "new", "Song <1>", "Band & Co");
    for (size_t r = SC_TRACKS + 1; r < SC_TRACKS + 4; r++) {
        name(p, r, "mid", "mid", "x");
        for (size_t w = 0; w < SC_WEEKS; w++)
            set(p, r, w, 20 + (int)(r - SC_TRACKS - 1));
    }
    for (size_t w = 27; w < SC_WEEKS; w++) {
        set(p, 26, w, 0);
        set(p, SC_TRACKS, w, 40);
    }
    snprintf(p->week_date[27], sizeof p->week_date[27], "2019-07-12");
    au_bt_panel_t *q = NULL;
    cr_assert_eq(au_bt_merge_ids(p, &q), 0);
    au_bt_panel_destroy(&p);
    p = q;
    au_bt_series_t s = {p, {{0}}};
    au_error_t err = {0};
    for (int t = 0; t < AU_BT_NTASKS; t++)
        cr_assert_eq(au_bt_run(p, t, &s.r[t], &err), 0, "%s", err.msg);
    /* The model learnt from one class only; the example is set here, so
     * the drawing is tested whatever it ranked. */
    au_bt_result_t *r = &s.r[AU_BT_TASK_TOP50];
    r->found = 1;
    r->ex_track = row_of(p, "k26");
    r->ex_week = 23;
    r->ex_rank = 1;
    r->ex_candidates = 27;
    r->ex_lead = 3;
    r->ex_prob = 0.25;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(au_bt_write_svg(f, which, &s, 1), 0);
    fclose(f);
    au_bt_panel_destroy(&p);
    cr_assert(strncmp(buf, "<svg", 4) == 0);
    cr_assert(strstr(buf, "</svg>"));
    return buf;
}

Test(chart, precision_names_each_ranking_with_legend_n_and_intervals)
{
    char *svg = chart_of(AU_BT_SVG_TOP50);
    cr_assert(strstr(svg, ">current position, closest to the line first<"));
    cr_assert(strstr(svg, ">= the position order without social signals<"));
    cr_assert(strstr(svg, ">strongest naive (per column)<"), "legend");
    cr_assert(strstr(svg, ">95% interval<"), "legend for the whiskers");
    cr_assert(strstr(svg, ">n = 10 weeks<"));
    cr_assert(strstr(svg, ">4 hits / 270<"));
    cr_assert(strstr(svg, ">XX 2019<"));
    free(svg);
}

Test(chart, examples_state_the_rule_and_mark_the_new_spotify_id)
{
    char *svg = chart_of(AU_BT_SVG_EXAMPLES);
    cr_assert(strstr(svg, "Chosen by a fixed rule"));
    cr_assert(strstr(svg, "the one with the longest lead (ties: the "
                          "earliest week, then the best rank)"));
    cr_assert(strstr(svg, "Spotify id changed on 2019-07-12"), "%s", svg);
    cr_assert(strstr(svg, "Song &lt;1&gt; (Band &amp; Co)"), "escaping");
    cr_assert(strstr(svg, ">2019<"), "year on the date axis");
    free(svg);
}

Test(chart, reliability_and_lead_charts_name_both_tasks)
{
    char *rel = chart_of(AU_BT_SVG_RELIABILITY);
    char *lead = chart_of(AU_BT_SVG_LEAD);
    cr_assert(strstr(rel, "task 51-200 to the top 50"));
    cr_assert(strstr(rel, "task 11-50 to the top 10"));
    cr_assert(strstr(rel, "Brier"));
    cr_assert(strstr(lead, "strongest naive ranking of the series"));
    free(rel);
    free(lead);
}

/* ---- against PostgreSQL --------------------------------------------- */

/* The rows go in through the store, the owner of the trends table. */
typedef struct {
    au_named_trend_t row[SC_WEEKS * SC_TRACKS + 2 * SC_WEEKS];
    char date[SC_WEEKS * SC_TRACKS + 2 * SC_WEEKS][AU_DATE_LEN + 1];
    char key[SC_WEEKS * SC_TRACKS + 2 * SC_WEEKS][16];
    size_t n;
} rows_t;

/* A row of spotify/weekly/<region> on 2019-01-04 plus `day` days. */
static void add(rows_t *t, const char *region, int day, const char *key,
                int pos)
{
    size_t i = t->n++;
    cr_assert(i < sizeof t->row / sizeof t->row[0]);
    au_date_format(au_date_from_ymd(2019, 1, 4) + day, t->date[i]);
    snprintf(t->key[i], sizeof t->key[i], "%s", key);
    t->row[i] = (au_named_trend_t){.platform = "spotify",
                                   .chart = "weekly",
                                   .region = region,
                                   .date = t->date[i],
                                   .track_key = t->key[i],
                                   .track_name = t->key[i],
                                   .artist = "artist",
                                   .artist_key = "artist",
                                   .position = pos,
                                   .streams = 10000 * (300 - pos),
                                   .score = au_position_score(pos, 200)};
}

/* "us": the scenario. "gb": 10 weeks with week 5 missing (bridged).
 * "de": weeks 0..3, then 10..12 (six missing: two series). */
static void synthetic(PGconn *c)
{
    static rows_t t;
    t.n = 0;
    for (size_t w = 0; w < SC_WEEKS; w++) {
        char key[8];
        for (size_t r = 0; r < SC_TRACKS; r++) {
            if (r == 0)
                snprintf(key, sizeof key, "a");
            else if (r <= 25)
                snprintf(key, sizeof key, "f%02zu", r - 1);
            else
                snprintf(key, sizeof key, "t%zu", r - 25);
            add(&t, "us", 7 * (int)w, key, scenario(r, w));
        }
        if (w < 10 && w != 5)
            add(&t, "gb", 7 * (int)w, "a", 1);
        if (w < 4 || (w >= 10 && w <= 12))
            add(&t, "de", 7 * (int)w, w < 4 ? "old" : "new", 7);
    }
    size_t saved = 0;
    au_error_t err = {0};
    cr_assert_eq(au_store_save_trends_bulk(c, t.row, t.n, &saved, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(saved, t.n);
}

Test(db, series_load_as_panels_and_run_as_counted_by_hand)
{
    char url[512];
    au_test_db_new(url, sizeof url);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    synthetic(c);

    au_bt_panel_t **v = NULL;
    size_t n = 0;
    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "gb", &v, &n, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(v[0]->n_weeks, 10);
    cr_assert_eq(v[0]->present[5], 0);
    cr_assert_eq(v[0]->present[6], 1);
    cr_assert_str_eq(v[0]->week_date[5], "2019-02-08"); /* absent, dated */
    cr_assert_str_eq(v[0]->label, "GB 2019");
    au_bt_panel_destroy(&v[0]);
    free(v);

    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "de", &v, &n, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(v[0]->n_weeks, 4);
    cr_assert_eq(v[0]->n_tracks, 1); /* only the track charting then */
    cr_assert_str_eq(v[0]->keys[0], "old");
    cr_assert_str_eq(v[1]->week_date[0], "2019-03-15");
    cr_assert_str_eq(v[1]->keys[0], "new");
    for (size_t i = 0; i < n; i++)
        au_bt_panel_destroy(&v[i]);
    free(v);

    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "fr", &v, &n, &err),
                 AU_ENOTFOUND);

    cr_assert_eq(au_bt_load(c, "spotify", "weekly", "us", &v, &n, &err), 0,
                 "%s", err.msg);
    PQfinish(c);
    cr_assert_eq(n, 1);
    au_bt_panel_t *p = v[0];
    free(v);
    cr_assert_eq(p->n_weeks, SC_WEEKS);
    cr_assert_eq(p->n_tracks, SC_TRACKS);
    cr_assert_str_eq(p->week_date[0], "2019-01-04");
    cr_assert_str_eq(p->keys[26], "t1");
    cr_assert_eq(au_bt_pos(p, 26, 23), 180);
    au_bt_result_t r;
    cr_assert_eq(au_bt_run(p, AU_BT_TASK_TOP50, &r, &err), 0, "%s", err.msg);
    check_scenario(&r);
    au_bt_panel_destroy(&p);
}
