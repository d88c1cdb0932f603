/* au_bt_model.h: the breakout predictor: the chance that a track on a
 * weekly chart reaches a line (the top 50, or the top 10) within the next
 * AU_BT_MODEL_HORIZON weeks, from its last AU_BT_MODEL_WINDOW weeks of
 * positions and streams.
 *
 * Pure (no I/O, no globals, no clock), so the analytics worker can call
 * it on the history it already keeps and the module can move into
 * common/score/ unchanged. The model is a logistic regression on the
 * features below, fitted by penalized Newton steps; its output is a
 * probability, calibrated in the sense that docs/backtest.md measures
 * (Brier score, reliability curve on weeks the fit never saw).
 *
 * Ownership: every pointer argument is borrowed; nothing here allocates
 * except au_bt_model_fit's scratch, which it frees. */
#ifndef AU_BT_MODEL_H
#define AU_BT_MODEL_H

#include <stddef.h>

#include "au_err.h"

#define AU_BT_MODEL_WINDOW 8  /* weeks of history the features read */
#define AU_BT_MODEL_HORIZON 4 /* weeks ahead the probability is about */
#define AU_BT_MODEL_CHART 200 /* positions of a full chart */
#define AU_BT_MODEL_NFEAT 12
#define AU_BT_MODEL_MAX_DIM 16 /* largest design au_bt_logit_fit takes */

/* One track's recent weeks, oldest first; the last is the week scored.
 * Weeks must be consecutive chart weeks: a week the track was not on the
 * chart has position 0 (its streams are ignored). n may be below the
 * window (a young series); at most AU_BT_MODEL_WINDOW weeks are read. */
typedef struct {
    const int *pos;        /* 1..AU_BT_MODEL_CHART, or 0: not charted */
    const double *streams; /* >= 0, or NAN when not reported; may be NULL */
    size_t n;              /* >= 1 */
} au_bt_hist_t;

/* The features of a track whose history is h, for the line `line` (50 or
 * 10: the position to reach), into x[AU_BT_MODEL_NFEAT]. The track must
 * be on the chart below the line this week (pos > line). NAN marks a
 * feature that cannot be computed (the model then uses its training
 * mean). docs/backtest.md ("The breakout model") defines each one:
 *  0 log(pos - line)               distance to the line
 *  1 log(pos[-1]) - log(pos)       last week's gain (off chart = 201)
 *  2 log(pos[-2]) - log(pos[-1])   the week before's gain
 *  3 log(s / s[-1])                stream growth (both weeks charted)
 *  4 log(s[-1] / s[-2])            the week before's stream growth
 *  5 1 when not charted last week  new entry or re-entry
 *  6 weeks charted in the window / AU_BT_MODEL_WINDOW
 *  7 log(best) - log(line)         best position in the window
 *  8 weeks since that best / AU_BT_MODEL_WINDOW
 *  9 1 when this week is the best of the window
 * 10 feature 0 when the track is new, else 0
 * 11 feature 0 times feature 3
 * Only the track's own history is read: nothing about the rest of the
 * chart, so a caller needs no more than it keeps per track. */
int au_bt_model_features(const au_bt_hist_t *h, int line, double *x);

/* Fits P(y=1|x) = 1/(1+exp(-(b0 + b.x))) to n rows of d features
 * (row-major x, d <= AU_BT_MODEL_MAX_DIM) by Newton's method (IRLS) with
 * an L2 penalty l2 on every coefficient, the intercept too, so separable
 * or one-class data still has a finite optimum. beta holds d+1 values,
 * intercept first: its values on entry are the starting point (zeros, or
 * a previous fit, which saves steps). *iters (may be NULL) gets the steps
 * used. AU_EINVAL for n 0, bad d, l2 <= 0, or a non-finite value. */
int au_bt_logit_fit(const double *x, const int *y, size_t n, size_t d,
                    double l2, double *beta, int *iters);
/* b0 + b.x. */
double au_bt_logit_eval(const double *beta, const double *x, size_t d);
/* 1 / (1 + exp(-z)), without overflow. */
double au_bt_sigmoid(double z);

/* A fitted model: standardization of each feature, then the logistic
 * weights on the standardized features. */
typedef struct {
    int line;
    double mean[AU_BT_MODEL_NFEAT], sd[AU_BT_MODEL_NFEAT];
    double beta[AU_BT_MODEL_NFEAT + 1];
    size_t rows, positives;
    int iters;
} au_bt_model_t;

#define AU_BT_MODEL_L2 1.0 /* penalty of every fit */

/* Fits a model for `line` to n feature rows x (AU_BT_MODEL_NFEAT each,
 * NAN allowed) and outcomes y (1: reached the line within the horizon).
 * m->beta on entry is the starting point, as for au_bt_logit_fit; the
 * rest of m is overwritten. AU_EINVAL for n 0; AU_ENOMEM. */
int au_bt_model_fit(const double *x, const int *y, size_t n, int line,
                    au_bt_model_t *m);
/* The probability, 0..1, for features x of au_bt_model_features. */
double au_bt_model_prob(const au_bt_model_t *m, const double *x);

/* The one call for a caller with a track's history (the analytics
 * worker): features and probability together. AU_EINVAL when the track
 * is not below m->line this week or h is malformed. */
int au_bt_breakout_prob(const au_bt_model_t *m, const au_bt_hist_t *h,
                        double *prob);

#endif
