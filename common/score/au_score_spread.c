/* au_score_spread.c: cross-platform spread, the only measure between
 * platforms the predecessor really computed: the order in which platforms
 * picked a track up, the lag between them and the change in peak score
 * (docs/scorers.md, Cross-platform spread). Selecting the track's rows is
 * the store's job; this takes them as input. */
#include "au_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au_err.h"

static int obs_ok(const au_spread_obs_t *o)
{
    return o->platform && o->platform[0] && isfinite(o->first_detected) &&
           isfinite(o->score) && o->score >= 0.0 && o->score <= 100.0;
}

/* Ties in first appearance go by name, so the order, and with it every
 * step, does not depend on the order of the rows. */
static int by_first_seen(const void *a, const void *b)
{
    const au_spread_platform_t *x = a, *y = b;
    if (x->first_seen != y->first_seen)
        return x->first_seen < y->first_seen ? -1 : 1;
    return strcmp(x->platform, y->platform);
}

/* Index of name among the first n platforms, or n. */
static size_t find(const au_spread_platform_t *p, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n && strcmp(p[i].platform, name) != 0)
        i++;
    return i;
}

int au_spread_analyze(const au_spread_obs_t *obs, size_t n,
                      au_spread_platform_t *platforms, size_t cap,
                      size_t *n_platforms, au_spread_step_t *steps,
                      double *total_hours)
{
    if ((n && !obs) || !platforms || !steps || !n_platforms || !total_hours)
        return AU_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!obs_ok(&obs[i]))
            return AU_EINVAL;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = find(platforms, np, obs[i].platform);
        if (k == np) {
            if (np == cap)
                return AU_ETOOBIG;
            platforms[np++] = (au_spread_platform_t){
                obs[i].platform, obs[i].first_detected, obs[i].score};
            continue;
        }
        platforms[k].first_seen =
            fmin(platforms[k].first_seen, obs[i].first_detected);
        platforms[k].peak_score = fmax(platforms[k].peak_score, obs[i].score);
    }
    qsort(platforms, np, sizeof *platforms, by_first_seen);
    for (size_t i = 0; i + 1 < np; i++) {
        double change = platforms[i + 1].peak_score - platforms[i].peak_score;
        steps[i] = (au_spread_step_t){
            (platforms[i + 1].first_seen - platforms[i].first_seen) / 3600.0,
            change, fabs(change) / 10.0};
    }
    *n_platforms = np;
    *total_hours =
        np ? (platforms[np - 1].first_seen - platforms[0].first_seen) / 3600.0
           : 0.0;
    return 0;
}
