/* au_backtest.h: `audora backtest`, breakout rankings scored against real
 * weekly chart history with a rolling origin.
 *
 * Two tasks: at week w, rank the tracks at positions 51..200 by how likely
 * they are to reach the top 50 in one of the weeks w+1..w+4; and the same
 * for the tracks at 11..50 and the top 10. Every evaluation week is out of
 * sample: the weeks are cut into blocks, and for each block every method
 * may use only the weeks before it to choose or fit anything.
 *
 * The data is a panel: one row per track, one column per calendar week of
 * one series, position 0 where the track was not on that week's chart; a
 * week whose chart is missing upstream is marked absent. Everything but
 * au_bt_load and the command is pure (no I/O, no clock; the bootstrap's
 * draws come from a fixed seed), so tests run it on hand-made panels.
 * docs/backtest.md explains every definition and the results. */
#ifndef AU_BACKTEST_H
#define AU_BACKTEST_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "au_bt_model.h"
#include "au_cmd.h"
#include "au_err.h"

#define AU_BT_HORIZON AU_BT_MODEL_HORIZON /* weeks after w for a hit */
#define AU_BT_LAST_POS AU_BT_MODEL_CHART  /* positions the panel keeps */
#define AU_BT_OFF (AU_BT_LAST_POS + 1)    /* "not on the chart" */
#define AU_BT_LOOKBACK 2 /* earlier weeks a week w needs present */
#define AU_BT_WARMUP 16  /* weeks of a series before its first eval week */
#define AU_BT_BLOCK 8    /* evaluation weeks per block (one refit each) */
#define AU_BT_MIN_WEEKS (AU_BT_WARMUP + AU_BT_HORIZON + AU_BT_BLOCK)
#define AU_BT_MAX_BRIDGE 2 /* missing weeks bridged inside one series */
#define AU_BT_MAX_WEEKS 520
#define AU_BT_MAX_TRACKS ((size_t)1 << 20)
#define AU_BT_BINS 10 /* reliability curve bins */

/* ---- tasks ---------------------------------------------------------- */

typedef struct {
    int first, last; /* candidates: positions first..last at week w */
    int line;        /* a hit reaches this position or better */
    int k;           /* the headline precision, P@k: 20 of the 150
                        candidates at 51..200, 10 of the 40 at 11..50 */
    const char *name;
} au_bt_task_t;

enum { AU_BT_TASK_TOP50, AU_BT_TASK_TOP10, AU_BT_NTASKS };

/* The task table entry i (AU_BT_TASK_*), NULL beyond it. */
const au_bt_task_t *au_bt_task(int i);

/* ---- the panel ------------------------------------------------------ */

/* A panel, or a view of its first weeks (au_bt_panel_head). Row r, week w
 * is at r * stride + w. The panel owns its arrays; a view borrows them. */
typedef struct {
    size_t n_tracks, n_weeks, stride;
    int *pos;               /* 1..200, 0 when not on the chart that week */
    double *streams;        /* NAN when not on the chart or not reported */
    unsigned char *present; /* per week: 0 when that chart is missing */
    unsigned char *id_no;   /* per cell: which of the song's Spotify ids
                               charted (0: the first; au_bt_merge_ids) */
    double *week_t;         /* chart date, seconds since the epoch */
    char (*week_date)[11];  /* "YYYY-MM-DD" */
    char **keys, **names, **artists; /* per track; names may be NULL */
    char label[64];                  /* e.g. "BR 2018-2025" */
    size_t merged;                   /* ids joined to another row */
    int owner;
} au_bt_panel_t;

/* An empty panel (every position 0, every stream NAN, every week present,
 * no names); NULL when out of memory or beyond AU_BT_MAX_TRACKS /
 * AU_BT_MAX_WEEKS. */
au_bt_panel_t *au_bt_panel_new(size_t n_tracks, size_t n_weeks);
/* Frees a panel made by au_bt_panel_new or au_bt_load; NULL-safe. */
void au_bt_panel_destroy(au_bt_panel_t **self_p);
/* A view of the first n_weeks weeks of p: nothing later is reachable
 * through it, which is how fitting is kept off the evaluation weeks. */
int au_bt_panel_head(const au_bt_panel_t *p, size_t n_weeks,
                     au_bt_panel_t *view);
/* Position of track r in week w, AU_BT_OFF when not on the chart. Aborts
 * past the panel or view: reading there is a programmer error. */
int au_bt_pos(const au_bt_panel_t *p, size_t r, size_t w);

/* One song under several Spotify ids: Spotify relinks a track to a new id
 * (a re-release, a new album) and the store keys tracks by id, so the
 * song's history breaks in two. au_bt_merge_ids joins the tracks of p
 * with the same name and artist into one row as long as no two of them
 * are on the same chart in the same week (the first id's key names the
 * row; id_no says which id each week had). *out is a new panel (the
 * caller destroys it) whose `merged` counts the tracks that joined
 * another. Tracks without a name are never merged. */
int au_bt_merge_ids(const au_bt_panel_t *p, au_bt_panel_t **out);

/* Splits n chart dates (days since 1970-01-01, ascending) into series:
 * consecutive weekly charts, a gap of up to AU_BT_MAX_BRIDGE missing
 * weeks bridged (those weeks absent), a longer gap or a step that is not
 * whole weeks starting a new series. Writes the index of each series'
 * first date into start[] (cap entries) and returns the number of
 * series, which may exceed cap. */
size_t au_bt_split_dates(const long *days, size_t n, size_t *start, size_t cap);

/* Reads the platform/chart/region series back from the trends table
 * (au_store_read_series) and cuts it with au_bt_split_dates into panels
 * of the tracks that chart in each. *out gets *n_out panels, each labelled
 * "<REGION> <first year>[-<last year>]"; the caller frees each with
 * au_bt_panel_destroy and the array with free. No rows is AU_ENOTFOUND;
 * a series of more than AU_BT_MAX_WEEKS weeks AU_ETOOBIG. Positions
 * beyond 200 are dropped. */
int au_bt_load(PGconn *c, const char *platform, const char *chart,
               const char *region, au_bt_panel_t ***out, size_t *n_out,
               au_error_t *err);

/* ---- labels --------------------------------------------------------- */

/* 1 when week w can be evaluated: weeks w-AU_BT_LOOKBACK..w+AU_BT_HORIZON
 * all lie inside p (or the view) and are present. */
int au_bt_week_ok(const au_bt_panel_t *p, size_t w);
/* 1 when track r is a candidate of task t in week w. */
int au_bt_is_candidate(const au_bt_panel_t *p, const au_bt_task_t *t, size_t r,
                       size_t w);
/* *hit 1 when r reaches t->line in w+1..w+AU_BT_HORIZON, *lead the weeks
 * from w to the first such week (0 without a hit). AU_ERANGE when the
 * panel (or view) has fewer than AU_BT_HORIZON weeks after w. */
int au_bt_label(const au_bt_panel_t *p, const au_bt_task_t *t, size_t r,
                size_t w, int *hit, int *lead);
/* The breakout model's view of track r at week w: its last weeks up to
 * and including w. Only weeks <= w are reachable through *h, so nothing
 * later can leak into the features. */
void au_bt_hist_of(const au_bt_panel_t *p, size_t r, size_t w, au_bt_hist_t *h);

/* ---- metrics -------------------------------------------------------- */

/* Hits among the first k of n ranked flags, divided by min(k, n); 0 for
 * n 0. hit_ranked[i] is 1 when the i-th ranked candidate is a hit. */
double au_bt_precision_at(const unsigned char *hit_ranked, size_t n, size_t k);

/* A 95 % interval; NAN ends when the statistic is undefined. */
typedef struct {
    double lo, hi;
} au_bt_ci_t;

/* Metrics pooled over weeks. precision@k is the mean over weeks of
 * au_bt_precision_at. recall20 = (hits ranked in the top 20, summed over
 * weeks) / (hits, summed over weeks), NAN without hits. lead_median is the
 * median lead over those top-20 hits, NAN without any; lead[i] counts the
 * top-20 hits with lead i + 1. Each *_ci is the block bootstrap interval
 * over the weeks (au_bt_boot.h). */
typedef struct {
    size_t weeks, candidates, hits, tp20;
    size_t lead[AU_BT_HORIZON];
    double p10, p20, recall20, lead_median, base_rate;
    au_bt_ci_t p10_ci, p20_ci, recall20_ci, lead_ci;
} au_bt_metrics_t;

/* What one evaluated week contributes, one column each: the statistics
 * above are functions of these columns summed over weeks, which is what
 * lets the bootstrap resample weeks. */
enum {
    AU_BT_WK_P10,
    AU_BT_WK_P20,
    AU_BT_WK_CAND,
    AU_BT_WK_HITS,
    AU_BT_WK_TP20,
    AU_BT_WK_LEAD, /* AU_BT_HORIZON columns: top-20 hits with lead 1.. */
    AU_BT_WK_COLS = AU_BT_WK_LEAD + AU_BT_HORIZON
};

/* P@k of m for k 10 or 20 (the task's headline), and its interval. */
double au_bt_precision_k(const au_bt_metrics_t *m, int k, au_bt_ci_t *ci);

/* Per-week rows of one method over a run of weeks. */
typedef struct au_bt_acc_t au_bt_acc_t;
au_bt_acc_t *au_bt_acc_new(void);
void au_bt_acc_destroy(au_bt_acc_t **self_p);
/* Adds one week: hit and lead flags of its candidates in ranked order. */
int au_bt_acc_add(au_bt_acc_t *a, const unsigned char *hit_ranked,
                  const int *lead_ranked, size_t n);
/* The metrics of every week added so far, with their intervals. */
int au_bt_acc_result(const au_bt_acc_t *a, au_bt_metrics_t *out);
/* a minus b over the same weeks: P@10, P@20, recall20 and lead_median
 * differences (the counts are a's), each with the interval from
 * resampling the weeks of both together. AU_EINVAL unless both hold the
 * same number of weeks (at least one). */
int au_bt_acc_paired(const au_bt_acc_t *a, const au_bt_acc_t *b,
                     au_bt_metrics_t *diff);

/* Writes into order[0..n) the indices 0..n-1 by score, highest first; NAN
 * scores last; ties by better (lower) position, then by index. */
int au_bt_rank(const double *score, const int *pos, size_t n, size_t *order);

/* Probability forecasts against outcomes, for the Brier score and the
 * reliability curve. Weeks are the resampling unit, as for the metrics. */
typedef struct {
    size_t n, positives;
    double brier, brier_ref; /* mean squared error; ref: the forecast
                                "training base rate" for every row */
    double skill;            /* 1 - brier / brier_ref */
    au_bt_ci_t brier_ci, skill_ci;
    size_t bin_n[AU_BT_BINS];    /* rows with forecast in bin i (of 0..1) */
    double bin_pred[AU_BT_BINS]; /* mean forecast of the bin, NAN if empty */
    double bin_obs[AU_BT_BINS];  /* share of hits in the bin */
} au_bt_calib_t;

/* Per-week probability forecasts and outcomes. */
typedef struct au_bt_cal_acc_t au_bt_cal_acc_t;
au_bt_cal_acc_t *au_bt_cal_new(void);
void au_bt_cal_destroy(au_bt_cal_acc_t **self_p);
/* Adds one week: forecasts prob[0..n) (0..1), outcomes hit[0..n), and the
 * reference forecast ref used for every row of the week. */
int au_bt_cal_add(au_bt_cal_acc_t *a, const double *prob,
                  const unsigned char *hit, size_t n, double ref);
/* Brier score, skill, their intervals and the reliability bins. */
int au_bt_cal_result(const au_bt_cal_acc_t *a, au_bt_calib_t *out);

/* ---- methods -------------------------------------------------------- */

typedef enum {
    AU_BT_POSITION, /* naive: current position, closest to the line first */
    AU_BT_GAIN,     /* naive: last week's position gain */
    AU_BT_STREAMS,  /* naive: stream growth week over week */
    AU_BT_WEEKS,    /* naive: fewest weeks on the chart first */
    AU_BT_PEAK,     /* naive: at a new personal best first */
    AU_BT_VIRAL,    /* ported enhanced viral predictor, as it is */
    AU_BT_TREND,    /* ported trend analyzer, strength * |growth| */
    AU_BT_MODEL,    /* own breakout model (au_bt_model.h) */
    AU_BT_NMETHODS
} au_bt_method_t;

/* Short name, e.g. "viral". */
const char *au_bt_method_name(au_bt_method_t m);
/* What the ranking really does, e.g. "current position, closest to the
 * line first". */
const char *au_bt_method_label(au_bt_method_t m);
/* What the label leaves out, e.g. "= the position order without social
 * signals" for the viral predictor. */
const char *au_bt_method_note(au_bt_method_t m);
/* 1 when ranking m is a naive one (no model, nothing ported). */
int au_bt_method_is_naive(au_bt_method_t m);

/* Per-week context the scores read, for every week of a panel: floor[w]
 * the smallest streams on that chart, NAN where none are reported. */
typedef struct {
    double *floor;
} au_bt_context_t;

/* Fills the context (the caller frees it with au_bt_context_free). */
int au_bt_context_new(const au_bt_panel_t *p, au_bt_context_t *c);
void au_bt_context_free(au_bt_context_t *c);

/* Scores of the candidates cand[0..n) at week w, higher = more likely to
 * break out; NAN ranks last (the trend analyzer with too few points).
 * model (fitted for the task's line) is needed by AU_BT_MODEL only. */
int au_bt_score(const au_bt_panel_t *p, const au_bt_context_t *c,
                au_bt_method_t m, const au_bt_model_t *model, size_t w,
                const size_t *cand, size_t n, double *score);

/* Fits the breakout model for task t on a view of the first b weeks of p:
 * every candidate of every week w with w + AU_BT_HORIZON < b. m->beta on
 * entry is the starting point (zeros or the previous block's fit). */
int au_bt_fit_before(const au_bt_panel_t *p, const au_bt_task_t *t, size_t b,
                     au_bt_model_t *m);

/* ---- the backtest --------------------------------------------------- */

typedef struct {
    int task;                             /* AU_BT_TASK_* */
    size_t n_weeks;                       /* of the panel */
    size_t eval_first, eval_last, n_eval; /* evaluated weeks */
    size_t n_fits;                        /* blocks, one model fit each */
    au_bt_metrics_t m[AU_BT_NMETHODS];
    /* The naive ranking with the best headline precision (P@k of the
     * task) over the evaluated weeks (in hindsight, which favours it), and
     * every method minus it, paired over the same weeks. */
    au_bt_method_t best_naive;
    au_bt_metrics_t diff[AU_BT_NMETHODS];
    au_bt_calib_t calib; /* the model's probabilities */
    au_bt_model_t model; /* the last block's fit */
    /* A fit on every labelled week of the panel, evaluation weeks too:
     * not part of any figure, but the model to deploy (JSON
     * "deploy_model"). */
    au_bt_model_t deploy;
    /* The example, by AU_BT_EXAMPLE_RULE; found 0 if none. */
    int found;
    size_t ex_track, ex_week, ex_rank, ex_candidates;
    int ex_lead;
    double ex_prob;
} au_bt_result_t;

#define AU_BT_EXAMPLE_RULE                                                     \
    "of the model's top-20 picks that became hits, the one with the "          \
    "longest lead (ties: the earliest week, then the best rank)"

/* The rolling-origin backtest of task t over p: evaluation weeks are the
 * weeks w >= AU_BT_WARMUP with au_bt_week_ok, cut into blocks of
 * AU_BT_BLOCK; the model is refitted before each block with
 * au_bt_fit_before. AU_EINVAL (reason in err) for a panel too short. */
int au_bt_run(const au_bt_panel_t *p, int task, au_bt_result_t *r,
              au_error_t *err);

/* ---- output (au_bt_io.c, au_bt_svg.c) -------------------------------- */

/* One series' results for both tasks. */
typedef struct {
    const au_bt_panel_t *p;
    au_bt_result_t r[AU_BT_NTASKS];
} au_bt_series_t;

/* Human-readable tables and JSON of every series. */
void au_bt_print(FILE *f, const au_bt_series_t *s, size_t n);
int au_bt_print_json(FILE *f, const au_bt_series_t *s, size_t n);

/* The charts, hand-written SVG: precision with intervals per method and
 * series (one file per task), the reliability curve, the lead-time
 * distribution and one example per series. au_bt_svg_name gives the
 * file names derived from the one the user named. */
enum {
    AU_BT_SVG_TOP50,
    AU_BT_SVG_TOP10,
    AU_BT_SVG_RELIABILITY,
    AU_BT_SVG_LEAD,
    AU_BT_SVG_EXAMPLES,
    AU_BT_NSVG
};
/* "docs/backtest.svg" gives docs/backtest.svg, docs/backtest_top10.svg,
 * ... (the first is the name itself). AU_ETOOBIG when a name does not
 * fit cap bytes. */
int au_bt_svg_name(const char *base, int which, char *out, size_t cap);
/* Writes chart `which` (AU_BT_SVG_*) of the n series; AU_EIO when the
 * stream fails. */
int au_bt_write_svg(FILE *f, int which, const au_bt_series_t *s, size_t n);

/* `audora backtest [--json] [--svg FILE] [--platform P] [--chart C]
 * [--region R[,R...]]`: the handler of the command, whose options are at
 * these indexes of its table (au_cmd.c). Returns the exit status. */
enum {
    AU_BT_OPT_JSON,
    AU_BT_OPT_SVG,
    AU_BT_OPT_PLATFORM,
    AU_BT_OPT_CHART,
    AU_BT_OPT_REGION,
    AU_BT_NOPTS
};
int au_backtest_run(au_cmd_t *cmd);

#endif
