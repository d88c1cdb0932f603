/* au_breakout.h: the breakout predictor the pipeline runs: the chance
 * that a track on a weekly chart reaches the top 50 within 4 weeks, from
 * its own last 8 weeks in that chart (au_bt_model.h). The model is the
 * one docs/backtest.md evaluates, refitted on every labelled week of the
 * Brazil series 2018-2025 ("deploy_model" of `audora backtest --json`),
 * its coefficients compiled in (au_breakout.c says how to regenerate
 * them). Pure, like every scorer. */
#ifndef AU_BREAKOUT_H
#define AU_BREAKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "au_bt_model.h"

/* The deployed model: line 50, horizon 4 weeks. */
extern const au_bt_model_t au_breakout_top50;

/* Days either side of a whole number of weeks that still count as that
 * week: chart days drift (a holiday, a late export). */
#define AU_BREAKOUT_SLACK_DAYS 3

/* One earlier entry of the track in the same weekly chart. */
typedef struct {
    long day;        /* days since 1970-01-01, before the entry's */
    int position;    /* >= 1 */
    int64_t streams; /* -1: not reported */
} au_breakout_hist_t;

/* The probability for an entry of `day` at `position` with `streams`
 * (-1: not reported), given the track's earlier entries in the same
 * weekly chart, oldest first (any number; only the last 7 weeks are
 * read). A week without an entry is a week off the chart, including
 * weeks before the chart's first stored week. NAN when the model does not
 * apply: the entry is at or above the line (position <= 50), or below a
 * full chart (> 200). */
double au_breakout_entry(long day, int position, int64_t streams,
                         const au_breakout_hist_t *h, size_t n);

#endif
