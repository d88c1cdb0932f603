/* au_backtest.h: `audora backtest`, breakout predictors scored against
 * real weekly chart history.
 *
 * The task: at week w, rank the tracks at positions 51..200 by predicted
 * breakout; a hit is a candidate that reaches position <= 50 in one of the
 * weeks w+1..w+4. Only weeks with 4 later weeks are evaluated.
 *
 * The data is a panel: one row per track, one column per consecutive weekly
 * chart, position 0 where the track was not on that chart. Everything but
 * au_bt_load and au_backtest_cmd is pure (no I/O, no clock, no randomness),
 * so tests can run it on hand-made panels. docs/backtest.md explains every
 * definition and the results. */
#ifndef AU_BACKTEST_H
#define AU_BACKTEST_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "au_err.h"

#define AU_BT_HORIZON 4 /* weeks after w in which a hit must happen */
#define AU_BT_TOP 50    /* a hit reaches this position or better */
#define AU_BT_FIRST_CAND 51
#define AU_BT_LAST_CAND 200
#define AU_BT_OFF 201    /* the position of "not on the chart" */
#define AU_BT_LOOKBACK 2 /* weeks before w the features read */
#define AU_BT_NFEAT 7
#define AU_BT_MIN_WEEKS 14 /* smallest panel with training and eval rows */
#define AU_BT_MAX_WEEKS 520
#define AU_BT_MAX_TRACKS ((size_t)1 << 20)
#define AU_BT_MAX_DIM 16 /* largest logistic design au_bt_logit_fit takes */

/* A panel, or a view of the first weeks of one (au_bt_panel_head). Row r,
 * week w is at r * stride + w. The panel owns its arrays; a view borrows
 * them. */
typedef struct {
    size_t n_tracks, n_weeks, stride;
    int *pos;              /* 1..200, 0 when not on the chart that week */
    double *streams;       /* NAN when not on the chart or not reported */
    double *week_t;        /* chart date, seconds since the epoch */
    char (*week_date)[11]; /* "YYYY-MM-DD" */
    char **keys, **names, **artists; /* per track; names may be NULL */
    int owner;
} au_bt_panel_t;

/* An empty panel (every position 0, every stream NAN, no names); NULL when
 * out of memory or beyond AU_BT_MAX_TRACKS / AU_BT_MAX_WEEKS. */
au_bt_panel_t *au_bt_panel_new(size_t n_tracks, size_t n_weeks);
/* Frees a panel made by au_bt_panel_new or au_bt_load; NULL-safe. */
void au_bt_panel_destroy(au_bt_panel_t **self_p);
/* A view of the first n_weeks weeks of p: nothing later is reachable
 * through it, which is how training is kept off the evaluation weeks. */
int au_bt_panel_head(const au_bt_panel_t *p, size_t n_weeks,
                     au_bt_panel_t *view);
/* Position of track r in week w, AU_BT_OFF when not on the chart. */
int au_bt_pos(const au_bt_panel_t *p, size_t r, size_t w);

/* Reads the platform/chart/region series back from the trends table. The
 * chart dates must be consecutive weeks (7 days apart), else AU_EINVAL
 * with the reason in err; no rows is AU_ENOTFOUND, more than
 * AU_BT_MAX_WEEKS dates AU_ETOOBIG. Positions beyond 200 are dropped. The
 * caller frees *out with au_bt_panel_destroy. */
int au_bt_load(PGconn *c, const char *platform, const char *chart,
               const char *region, au_bt_panel_t **out, au_error_t *err);

/* ---- labels, metrics ------------------------------------------------ */

/* 1 when track r is a candidate (position 51..200) in week w. */
int au_bt_is_candidate(const au_bt_panel_t *p, size_t r, size_t w);
/* *hit 1 when r reaches the top 50 in w+1..w+AU_BT_HORIZON, *lead the
 * weeks from w to the first such week (0 without a hit). AU_ERANGE when the
 * panel (or view) has fewer than AU_BT_HORIZON weeks after w. */
int au_bt_label(const au_bt_panel_t *p, size_t r, size_t w, int *hit,
                int *lead);

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
 * median lead over those top-20 hits, NAN without any. Each *_ci is the
 * block bootstrap interval over the weeks (au_bt_boot.h). */
typedef struct {
    size_t weeks, candidates, hits, tp20;
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

/* Per-week rows of one method over a run of weeks. */
typedef struct au_bt_acc_t au_bt_acc_t;
au_bt_acc_t *au_bt_acc_new(void);
void au_bt_acc_destroy(au_bt_acc_t **self_p);
/* Adds one week: hit and lead flags of its candidates in ranked order. */
int au_bt_acc_add(au_bt_acc_t *a, const unsigned char *hit_ranked,
                  const int *lead_ranked, size_t n);
/* The metrics of every week added so far, with their intervals. */
int au_bt_acc_result(const au_bt_acc_t *a, au_bt_metrics_t *out);
/* P@20 of a minus P@20 of b over the same weeks, and its interval from
 * resampling the weeks of both together. AU_EINVAL unless both hold the
 * same number of weeks (at least one). */
int au_bt_acc_paired_p20(const au_bt_acc_t *a, const au_bt_acc_t *b,
                         double *diff, au_bt_ci_t *ci);

/* Writes into order[0..n) the indices 0..n-1 by score, highest first; NAN
 * scores last; ties by better (lower) position, then by index. */
int au_bt_rank(const double *score, const int *pos, size_t n, size_t *order);

/* ---- own scorer: logistic regression -------------------------------- */

/* Fits P(y=1|x) = 1/(1+exp(-(b0 + b.x))) to n rows of d features (row-major
 * x, d <= AU_BT_MAX_DIM) by Newton's method (IRLS) with an L2 penalty l2 on
 * every coefficient, the intercept too, so separable or one-class data still
 * has a finite optimum. beta gets d+1 values, intercept first; *iters (may
 * be NULL) the iterations used. AU_EINVAL for n 0, bad d, l2 <= 0, or a
 * non-finite value. */
int au_bt_logit_fit(const double *x, const int *y, size_t n, size_t d,
                    double l2, double *beta, int *iters);
/* b0 + b.x. */
double au_bt_logit_eval(const double *beta, const double *x, size_t d);

/* The features of track r at week w (needs w >= AU_BT_LOOKBACK): position
 * score (201-pos)/200; gains over 1 and 2 weeks /200 (off chart = 201);
 * log stream growth; log streams; log(1 + weeks on chart up to w); new
 * entry flag. NAN where streams are missing. */
int au_bt_features(const au_bt_panel_t *p, size_t r, size_t w, double *x);

typedef struct {
    double mean[AU_BT_NFEAT], sd[AU_BT_NFEAT];
    double beta[AU_BT_NFEAT + 1]; /* on standardized features */
    size_t rows, positives;
    size_t first_week, last_week; /* training weeks w */
    int iters;
} au_bt_model_t;

/* Trains on every candidate of every week w in AU_BT_LOOKBACK ..
 * n_weeks - 1 - AU_BT_HORIZON of p. Pass a view from au_bt_panel_head: the
 * labels then cannot see past it. */
int au_bt_train(const au_bt_panel_t *p, double l2, au_bt_model_t *m);
/* The model's logit for raw features x (NAN features count as the mean). */
double au_bt_model_score(const au_bt_model_t *m, const double *x);

/* ---- the backtest --------------------------------------------------- */

typedef enum {
    AU_BT_POSITION, /* current position, closest to 50 first */
    AU_BT_VIRAL,    /* ported enhanced viral predictor */
    AU_BT_TREND,    /* ported trend analyzer, strength * |growth| */
    AU_BT_GAIN,     /* last week's position gain */
    AU_BT_STREAMS,  /* week-over-week stream growth */
    AU_BT_LOGIT,    /* own logistic regression */
    AU_BT_NMETHODS
} au_bt_method_t;

/* Short name, e.g. "viral". */
const char *au_bt_method_name(au_bt_method_t m);
/* First week a method can score (it needs that many weeks before). */
size_t au_bt_method_first_week(au_bt_method_t m);

/* Scores of the candidates cand[0..n) at week w, higher = more likely to
 * break out; NAN ranks last (trend with too few points). model is needed by
 * AU_BT_LOGIT only. */
int au_bt_score(const au_bt_panel_t *p, au_bt_method_t m,
                const au_bt_model_t *model, size_t w, const size_t *cand,
                size_t n, double *score);

typedef struct {
    size_t n_weeks, split;        /* training sees weeks 0..split-1 */
    size_t eval_first, eval_last; /* evaluation weeks w */
    au_bt_model_t model;
    au_bt_metrics_t eval[AU_BT_NMETHODS]; /* on eval_first..eval_last */
    au_bt_metrics_t all[AU_BT_NMETHODS];  /* first_week..eval_last, not
                                             filled for AU_BT_LOGIT */
    /* On the evaluation weeks: the naive ranking (position, gain,
     * streams) with the best P@20, and the logistic model's P@20 minus
     * that one's, paired over the same weeks. */
    au_bt_method_t best_naive;
    double diff_p20;
    au_bt_ci_t diff_p20_ci;
    /* The example for the chart, by the rule AU_BT_EXAMPLE_RULE: found 0
     * if the model has no top-20 hit. */
    int found;
    size_t ex_track, ex_week, ex_rank, ex_candidates;
    int ex_lead;
} au_bt_result_t;

#define AU_BT_EXAMPLE_RULE                                                     \
    "of the logistic model's top-20 picks that became hits, the one with "     \
    "the longest lead (ties: earliest week, then best rank)"

/* 1 when ranking m is a naive one (no model, nothing ported). */
int au_bt_method_is_naive(au_bt_method_t m);

/* Writes into out[0..cap) the other tracks of p with the same name and
 * artist as track r (a song relinked to a new Spotify id is a new track
 * key); returns how many there are, which may exceed cap. */
size_t au_bt_same_song(const au_bt_panel_t *p, size_t r, size_t *out,
                       size_t cap);

/* The whole backtest over p: split = n_weeks / 2, train on a view of the
 * first split weeks, evaluate every method on weeks split ..
 * n_weeks-1-AU_BT_HORIZON, and the ported and naive ones also from their
 * first week. */
int au_bt_run(const au_bt_panel_t *p, au_bt_result_t *r, au_error_t *err);

/* Human-readable table, JSON, and the SVG chart (hand-written SVG). */
void au_bt_print(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                 const char *what);
int au_bt_print_json(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                     const char *what);
int au_bt_write_svg(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                    const char *what);

/* `audora backtest [--json] [--svg FILE] [--platform P] [--chart C]
 * [--region R]`; argv[0] is "backtest". Returns the exit status. */
int au_backtest_cmd(int argc, char **argv);

#endif
