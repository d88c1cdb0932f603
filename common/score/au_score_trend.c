/* au_score_trend.c: the trend analyzer. Metrics of a time series (velocity,
 * acceleration, run-length momentum, volatility, strength), the direction
 * rule and the pieces of the predecessor's trend queries; docs/scorers.md,
 * Trend analyzer, has the formulas and golden values. */
#include "au_score.h"

#include <math.h>

#include "au_err.h"

/* Fewer than AU_TREND_MIN_POINTS is an error rather than empty metrics, so
 * a caller cannot mistake "too short" for a score. Equal times are allowed:
 * every metric works on the index, not on the gap. */
static int check_points(const au_point_t *p, size_t n)
{
    if (!p || n < AU_TREND_MIN_POINTS)
        return AU_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i].t) || !isfinite(p[i].value))
            return AU_EINVAL;
        if (i > 0 && p[i].t < p[i - 1].t)
            return AU_EINVAL;
    }
    return 0;
}

static int sign(double x)
{
    return (x > 0.0) - (x < 0.0);
}

/* Longest run of consecutive differences with the same non-zero sign, as a
 * share of all differences; a zero difference ends a run. */
static double run_momentum(const au_point_t *p, size_t n)
{
    size_t best = 0, run = 0;
    int prev = 0;
    for (size_t i = 1; i < n; i++) {
        int s = sign(p[i].value - p[i - 1].value);
        if (s == 0)
            run = 0;
        else if (s == prev)
            run++;
        else
            run = 1;
        prev = s;
        if (run > best)
            best = run;
    }
    return fmin(1.0, (double)best / (double)(n - 1));
}

/* Mean of the values and the sums of the least-squares fit over the
 * indices 0..n-1. */
typedef struct {
    double ymean, xmean, sxx, syy, sxy;
} fit_t;

static fit_t fit(const au_point_t *p, size_t n)
{
    fit_t f = {0};
    for (size_t i = 0; i < n; i++)
        f.ymean += p[i].value;
    f.ymean /= (double)n;
    f.xmean = (double)(n - 1) / 2.0;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)i - f.xmean, dy = p[i].value - f.ymean;
        f.sxx += dx * dx;
        f.syy += dy * dy;
        f.sxy += dx * dy;
    }
    return f;
}

int au_trend_analyze(const au_point_t *points, size_t n,
                     au_trend_metrics_t *out)
{
    if (!out)
        return AU_EINVAL;
    int rc = check_points(points, n);
    if (rc)
        return rc;
    au_trend_metrics_t m = {0};
    const au_point_t *p = points;
    /* Both means telescope: first differences to the end points, second
     * differences to the first and last first difference. */
    m.velocity = (p[n - 1].value - p[0].value) / (double)(n - 1);
    m.acceleration =
        ((p[n - 1].value - p[n - 2].value) - (p[1].value - p[0].value)) /
        (double)(n - 2);
    m.momentum = run_momentum(p, n);

    fit_t f = fit(p, n);
    double std = sqrt(f.syy / (double)n);
    m.volatility = f.ymean != 0.0 ? std / f.ymean : 0.0;

    m.peak_index = 0;
    for (size_t i = 1; i < n; i++)
        if (p[i].value > p[m.peak_index].value)
            m.peak_index = i;
    m.peak_value = p[m.peak_index].value;
    m.peak_time = p[m.peak_index].t;

    m.growth_rate = p[0].value != 0.0
                        ? (p[n - 1].value - p[0].value) / p[0].value * 100.0
                        : 0.0;
    /* A constant series has no correlation (0/0): call it 0, no trend. The
     * cap keeps rounding from reporting a strength above 1. */
    m.strength = f.syy > 0.0 ? fabs(f.sxy / sqrt(f.sxx * f.syy)) : 0.0;
    m.strength = fmin(1.0, m.strength);
    *out = m;
    return 0;
}

au_direction_t au_trend_classify(double growth_rate, double volatility,
                                 double strength)
{
    /* Growth is tested before volatility, so a fast-growing erratic series
     * is viral, not volatile; the golden artist_4 depends on that order. */
    if (growth_rate >= 50.0)
        return AU_DIR_VIRAL;
    if (volatility >= 0.30)
        return AU_DIR_VOLATILE;
    if (strength < 0.7)
        return AU_DIR_STABLE;
    if (growth_rate >= 15.0)
        return AU_DIR_RISING;
    if (growth_rate <= -15.0)
        return AU_DIR_FALLING;
    return AU_DIR_STABLE;
}

au_direction_t au_trend_direction(const au_trend_metrics_t *m)
{
    return au_trend_classify(m->growth_rate, m->volatility, m->strength);
}

int au_trend_is_emerging(const au_trend_metrics_t *m, double first_value)
{
    return m->growth_rate > 20.0 && m->strength > 0.7 && m->momentum > 0.5 &&
           first_value < 100.0;
}

double au_trend_rank_key(const au_trend_metrics_t *m)
{
    return m->strength * fabs(m->growth_rate);
}

int au_trend_window(au_timeframe_t tf, double *seconds, size_t *min_points)
{
    static const struct {
        double seconds;
        size_t min_points;
    } windows[] = {
        {24 * 3600.0, 5},           {30 * AU_SCORE_DAY, 7},
        {12 * 7 * AU_SCORE_DAY, 4}, {12 * 30 * AU_SCORE_DAY, 3},
        {8 * 90 * AU_SCORE_DAY, 2}, {5 * 365 * AU_SCORE_DAY, 2},
    };
    if ((unsigned)tf > AU_TF_YEARLY || !seconds || !min_points)
        return AU_EINVAL;
    *seconds = windows[tf].seconds;
    *min_points = windows[tf].min_points;
    return 0;
}

int au_trend_window_select(const au_point_t *points, size_t n,
                           au_timeframe_t tf, double now, size_t *first,
                           size_t *count, int *enough)
{
    double window;
    size_t min_points;
    if ((n && !points) || !first || !count || !enough || !isfinite(now))
        return AU_EINVAL;
    int rc = au_trend_window(tf, &window, &min_points);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(points[i].t) || (i > 0 && points[i].t < points[i - 1].t))
            return AU_EINVAL;
    }
    /* The predecessor deleted points older than its retention, so its
     * longer windows never reached further back; the windows keep that
     * meaning (docs/scorers.md, Trend analyzer). */
    double cutoff = now - fmin(window, AU_TREND_RETENTION_DAYS * AU_SCORE_DAY);
    size_t i = 0;
    while (i < n && points[i].t < cutoff)
        i++;
    *first = i;
    *count = n - i;
    *enough = *count >= min_points;
    return 0;
}

int au_trend_continuation(const au_point_t *points, size_t n, size_t periods,
                          double *predicted, au_continuation_t *out)
{
    au_trend_metrics_t m;
    if (!out || (periods && !predicted))
        return AU_EINVAL;
    int rc = au_trend_analyze(points, n, &m);
    if (rc)
        return rc;
    fit_t f = fit(points, n);
    au_continuation_t c = {0};
    c.slope = f.sxy / f.sxx;
    c.intercept = f.ymean - c.slope * f.xmean;
    c.confidence = m.strength * (1.0 - m.volatility);
    c.rising = c.slope > 0.0;
    c.volatility_warning = m.volatility > 0.3;
    for (size_t k = 0; k < periods; k++)
        predicted[k] = c.intercept + c.slope * (double)(n + k);
    *out = c;
    return 0;
}

const char *au_direction_name(au_direction_t d)
{
    static const char *const names[] = {"rising",   "falling",  "stable",
                                        "volatile", "emerging", "viral"};
    return (unsigned)d <= AU_DIR_VIRAL ? names[d] : "unknown";
}
