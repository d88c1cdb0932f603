/* au_score_entry.c: every derived value of one chart entry, as a pure
 * function of the entry, its series history and its track's features
 * (docs/ARCHITECTURE.md, "Derived columns"). The analytics worker calls it
 * for new entries and for the successors a late date changes; nothing
 * else decides a stored score. */
#include "au_score.h"

#include <math.h>
#include <string.h>

#include "au_breakout.h"
#include "au_err.h"

/* The mood whose score is highest (ties to the first in enum order). */
static void best_mood(const au_entry_in_t *in, au_entry_t *out)
{
    out->mood = -1;
    out->mood_score = NAN;
    if (!in->has_features)
        return;
    au_mood_features_t f = {in->valence, in->energy, in->danceability,
                            in->tempo};
    for (int mood = 0; mood < AU_MOOD_COUNT; mood++) {
        double sc;
        if (au_mood_score(&f, (au_mood_t)mood, &sc, NULL) == 0 &&
            (out->mood < 0 || sc > out->mood_score)) {
            out->mood_score = sc;
            out->mood = mood;
        }
    }
}

int au_entry_score(const au_entry_in_t *in, au_entry_t *out)
{
    if (!in || !out || (in->n_history > 0 && !in->history) ||
        in->n_history > AU_ENTRY_HISTORY || in->position < 1 ||
        in->chart_size < 1)
        return AU_EINVAL;
    for (size_t k = 0; k < in->n_history; k++)
        if (in->history[k].day >= in->day || in->history[k].position < 1 ||
            (k > 0 && in->history[k].day <= in->history[k - 1].day))
            return AU_EINVAL;
    memset(out, 0, sizeof(*out));
    out->score = au_position_score(in->position, in->chart_size);
    out->prev_position =
        in->n_history ? in->history[in->n_history - 1].position : 0;
    au_point_t pts[AU_ENTRY_HISTORY + 1];
    size_t np = 0;
    for (size_t k = 0; k < in->n_history; k++)
        pts[np++] = (au_point_t){
            AU_SCORE_DAY * (double)in->history[k].day,
            au_position_score(in->history[k].position, in->chart_size)};
    pts[np++] = (au_point_t){AU_SCORE_DAY * (double)in->day, out->score};

    /* One platform: the entry's own chart. Other charts of the same
     * service are not other platforms (docs/scorers.md, Viral predictor
     * in the pipeline), and no social counts exist in chart data. */
    au_viral_input_t vi;
    au_viral_input_init(&vi);
    vi.platform_scores = &out->score;
    vi.n_platforms = 1;
    vi.history = pts;
    vi.n_history = np;
    if (in->has_features) {
        vi.danceability = in->danceability;
        vi.energy = in->energy;
        vi.valence = in->valence;
    }
    int rc = au_viral_predict(&vi, &out->viral);
    if (rc < 0)
        return rc;
    out->direction = -1;
    au_trend_metrics_t m;
    if (np >= AU_TREND_MIN_POINTS && au_trend_analyze(pts, np, &m) == 0)
        out->direction = (int)au_trend_direction(&m);
    best_mood(in, out);
    out->breakout = NAN;
    if (in->weekly) {
        au_breakout_hist_t bh[AU_ENTRY_HISTORY];
        for (size_t k = 0; k < in->n_history; k++)
            bh[k] = (au_breakout_hist_t){in->history[k].day,
                                         in->history[k].position,
                                         in->history[k].streams};
        out->breakout = au_breakout_entry(in->day, in->position, in->streams,
                                          bh, in->n_history);
    }
    return 0;
}
