/* au_breakout.c: the deployed breakout model and the weekly window an
 * entry's history gives it. */
#include "au_breakout.h"

#include <math.h>
#include <stdlib.h>

/* Coefficients: `audora backtest --region br --json` over the 417 Brazil
 * charts of fixtures/real/chart_history (docs/backtest.md, "Reproduce"),
 * series "BR 2018-2025", task "top 50", its "deploy_model" (a fit on
 * every labelled week), as that output prints them (six significant
 * digits): the standardization of each feature, then the intercept and
 * one weight per standardized feature. */
const au_bt_model_t au_breakout_top50 = {
    .line = 50,
    .mean = {4.03355, -0.00160407, -0.00554329, -0.0237412, -0.0209872,
             0.104338, 0.804798, 0.517013, 0.479008, 0.21077, 0.463723,
             -0.10429},
    .sd = {0.941622, 0.238956, 0.224976, 0.121315, 0.11582, 0.305699, 0.302193,
           0.554294, 0.345709, 0.407855, 1.38224, 0.465737},
    .beta = {-4.10754, -0.887965, 0.15734, -0.00395459, 0.164034, 0.157464,
             -0.587762, -0.386047, -0.447354, -0.753517, -0.0933786, 0.852024,
             0.127892},
    .rows = 61636,
    .positives = 3135,
};

double au_breakout_entry(long day, int position, int64_t streams,
                         const au_breakout_hist_t *h, size_t n)
{
    const au_bt_model_t *m = &au_breakout_top50;
    if (position <= m->line || position > AU_BT_MODEL_CHART)
        return NAN;
    /* Week w of the window is AU_BT_MODEL_WINDOW - 1 - w weeks back; the
     * last is the entry itself. */
    int pos[AU_BT_MODEL_WINDOW] = {0};
    double st[AU_BT_MODEL_WINDOW];
    for (int w = 0; w < AU_BT_MODEL_WINDOW; w++)
        st[w] = NAN;
    pos[AU_BT_MODEL_WINDOW - 1] = position;
    st[AU_BT_MODEL_WINDOW - 1] = streams >= 0 ? (double)streams : NAN;
    for (size_t k = 0; k < n; k++) {
        long back = day - h[k].day;
        long weeks = (back + AU_BREAKOUT_SLACK_DAYS) / 7;
        if (back <= 0 || weeks < 1 || weeks >= AU_BT_MODEL_WINDOW ||
            labs(back - 7 * weeks) > AU_BREAKOUT_SLACK_DAYS)
            continue;
        /* Two entries in one week's slack (a daily chart read as weekly):
         * the later one, as the loop goes oldest first. */
        int w = AU_BT_MODEL_WINDOW - 1 - (int)weeks;
        pos[w] = h[k].position;
        st[w] = h[k].streams >= 0 ? (double)h[k].streams : NAN;
    }
    au_bt_hist_t bh = {pos, st, AU_BT_MODEL_WINDOW};
    double p;
    return au_bt_breakout_prob(m, &bh, &p) == 0 ? p : NAN;
}
