/* au_breakout.c: the deployed breakout model and the weekly window an
 * entry's history gives it. */
#include "au_breakout.h"

#include <math.h>
#include <stdlib.h>

/* Coefficients: `audora backtest --region br,us,global --json` after the
 * 565 charts of docs/backtest.md ("Reproduce"), series "BR 2018-2025",
 * task "top 50", its "deploy_model" (a fit on every labelled week), as
 * that output prints them (six significant digits): the standardization
 * of each feature, then the intercept and one weight per standardized
 * feature. (The series' songs are joined by the stored names, which all
 * the charts in the store decide: a store holding other charts may fit
 * slightly different weights.) */
const au_bt_model_t au_breakout_top50 = {
    .line = 50,
    .mean = {4.03355, -0.00159318, -0.00553399, -0.0237433, -0.0209937,
             0.104371, 0.804718, 0.517047, 0.478908, 0.210867, 0.463874,
             -0.104299},
    .sd = {0.941622, 0.238962, 0.224978, 0.121317, 0.115819, 0.305741, 0.302265,
           0.554321, 0.345726, 0.407924, 1.38244, 0.465743},
    .beta = {-4.10736, -0.887918, 0.157464, -0.00391418, 0.164003, 0.157551,
             -0.587636, -0.385986, -0.44749, -0.753618, -0.0935968, 0.851897,
             0.128035},
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
