/* au_score_viral.c: the enhanced viral predictor. A weighted sum of
 * platform, social and audio scores, plus momentum, acceleration and peak
 * timing from the track's history; every constant is the predecessor's
 * (docs/scorers.md, Viral predictor). */
#include "au_score.h"

#include <math.h>

#include "au_err.h"

static double clip(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static double mean(const double *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

/* Population variance (divide by n), as numpy's default was. */
static double pvar(const double *x, size_t n)
{
    double m = mean(x, n);
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return s / (double)n;
}

/* The weights exp(linspace(-1, 0, n)): recent entries weigh most, the last
 * e times the first. numpy's linspace of one point is its start. */
static double exp_weight(size_t k, size_t n)
{
    if (n < 2)
        return exp(-1.0);
    return exp(-1.0 + (double)k / (double)(n - 1));
}

static int optional_ok(double x, double lo, double hi)
{
    return isnan(x) || (isfinite(x) && x >= lo && x <= hi);
}

static int check_input(const au_viral_input_t *in)
{
    if (in->n_platforms > 0 && !in->platform_scores)
        return AU_EINVAL;
    for (size_t i = 0; i < in->n_platforms; i++) {
        double s = in->platform_scores[i];
        if (!isfinite(s) || s < 0.0 || s > 100.0)
            return AU_EINVAL;
    }
    if (!optional_ok(in->mentions, 0.0, INFINITY) ||
        !optional_ok(in->shares, 0.0, INFINITY) ||
        !optional_ok(in->comments, 0.0, INFINITY))
        return AU_EINVAL;
    if (!optional_ok(in->danceability, 0.0, 1.0) ||
        !optional_ok(in->energy, 0.0, 1.0) ||
        !optional_ok(in->valence, 0.0, 1.0))
        return AU_EINVAL;
    if (in->n_history > 0 && !in->history)
        return AU_EINVAL;
    /* Strictly increasing times: the rates divide by the gap. */
    for (size_t i = 0; i < in->n_history; i++) {
        const au_point_t *p = &in->history[i];
        if (!isfinite(p->t) || !isfinite(p->value))
            return AU_EINVAL;
        if (i > 0 && !(p->t > in->history[i - 1].t))
            return AU_EINVAL;
    }
    return 0;
}

void au_viral_input_init(au_viral_input_t *in)
{
    if (!in)
        return;
    *in = (au_viral_input_t){0};
    in->mentions = in->shares = in->comments = NAN;
    in->danceability = in->energy = in->valence = NAN;
}

/* Counts the reported values and sums them with missing ones as dflt. */
static size_t sum_present(const double *v, size_t n, double dflt, double *sum)
{
    size_t present = 0;
    *sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            *sum += dflt;
        } else {
            *sum += v[i];
            present++;
        }
    }
    return present;
}

/* Rate between history points i and i+1, in value per day. */
static double rate(const au_point_t *h, size_t i)
{
    return (h[i + 1].value - h[i].value) /
           ((h[i + 1].t - h[i].t) / AU_SCORE_DAY);
}

static double momentum_of(const au_point_t *h, size_t n)
{
    size_t m = n - 1;
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < m; i++) {
        double w = exp_weight(i, m);
        num += w * rate(h, i);
        den += w;
    }
    return clip(num / den + 50.0, 0.0, 100.0);
}

static double acceleration_of(const au_point_t *h, size_t n)
{
    size_t m = n - 2;
    double num = 0.0, den = 0.0;
    for (size_t j = 0; j < m; j++) {
        double dt = (h[j + 1].t - h[j].t + h[j + 2].t - h[j + 1].t) / 2.0;
        double acc = (rate(h, j + 1) - rate(h, j)) / (dt / AU_SCORE_DAY);
        double w = exp_weight(j, m);
        num += w * acc;
        den += w;
    }
    return clip(10.0 * num / den, -100.0, 100.0);
}

static double velocity_of(const double *s, size_t n)
{
    size_t above = 0;
    for (size_t i = 0; i < n; i++)
        above += s[i] > 50.0;
    double share = (double)above / (double)n;
    double var = pvar(s, n);
    return 40.0 * share + 40.0 * (mean(s, n) / 100.0) +
           20.0 * ((100.0 - fmin(100.0, var)) / 100.0);
}

/* Base ETA by momentum and acceleration, then the viral-score adjustment,
 * whose range uses the already adjusted ETA. */
static void peak_timing(au_viral_t *r)
{
    int eta, lo, hi;
    if (r->momentum > 80.0 && r->acceleration > 50.0) {
        eta = 3, lo = 2, hi = 5;
    } else if (r->momentum > 60.0 && r->acceleration > 0.0) {
        eta = 7, lo = 5, hi = 10;
    } else if (r->momentum > 40.0) {
        eta = 14, lo = 10, hi = 20;
    } else {
        eta = 30, lo = 20, hi = 45;
    }
    if (r->viral_score > 80.0) {
        eta = eta - 3 > 1 ? eta - 3 : 1;
        lo = lo - 2 > 1 ? lo - 2 : 1;
        hi = hi - 3 > eta + 2 ? hi - 3 : eta + 2;
    } else if (r->viral_score < 40.0) {
        eta += 5;
        lo += 3;
        hi += 7;
    }
    r->peak_eta_days = eta;
    r->peak_min_days = lo;
    r->peak_max_days = hi;
}

static au_risk_t risk_of(const au_viral_t *r)
{
    if (r->viral_score > 75.0 && r->confidence > 0.8 && r->momentum > 70.0)
        return AU_RISK_LOW;
    if (r->confidence < 0.5 || r->viral_score < 40.0)
        return AU_RISK_HIGH;
    return AU_RISK_MEDIUM;
}

static au_rec_t rec_of(const au_viral_t *r)
{
    if (r->viral_score > 85.0 && r->momentum > 70.0)
        return AU_REC_STRONG_BUY;
    if (r->viral_score > 70.0 && r->acceleration > 30.0)
        return AU_REC_BUY;
    if (r->viral_score > 60.0 && r->momentum > 50.0)
        return AU_REC_WATCH;
    if (r->acceleration < -30.0)
        return AU_REC_CAUTION;
    if (r->viral_score < 40.0)
        return AU_REC_PASS;
    return AU_REC_HOLD;
}

/* The three components of viral_score. A social count that was not
 * reported adds 0 and an audio feature 0.5, so no audio at all gives 50:
 * the golden values rest on these fallbacks. *social_n and *audio_n count
 * the values that were reported. */
static void components(const au_viral_input_t *in, au_viral_t *r,
                       size_t *social_n, size_t *audio_n)
{
    size_t np = in->n_platforms;
    r->platform_avg = np ? mean(in->platform_scores, np) : 50.0;
    if (!np)
        r->missing |= AU_MISS_PLATFORMS;

    double social[3] = {in->mentions, in->shares, in->comments};
    double counts[3];
    *social_n = 0;
    for (size_t i = 0; i < 3; i++) {
        counts[i] = isnan(social[i]) ? 0.0 : social[i];
        *social_n += !isnan(social[i]);
    }
    if (*social_n < 3)
        r->missing |= AU_MISS_SOCIAL;
    r->social_score =
        fmin(100.0, counts[0] / 100.0 + counts[1] / 50.0 + counts[2] / 25.0);

    double audio[3] = {in->danceability, in->energy, in->valence};
    double audio_sum;
    *audio_n = sum_present(audio, 3, 0.5, &audio_sum);
    if (*audio_n < 3)
        r->missing |= AU_MISS_AUDIO;
    r->audio_score = audio_sum / 3.0 * 100.0;
}

/* Momentum needs two points and acceleration three. With at most one point
 * both are estimated from viral_score; two points give acceleration 0, not
 * the estimate, as the predecessor did. Either way `missing` says so. */
static void history_scores(const au_point_t *h, size_t nh, au_viral_t *r)
{
    if (nh >= 2) {
        r->momentum = momentum_of(h, nh);
    } else {
        r->momentum = 0.8 * r->viral_score;
        r->missing |= AU_MISS_MOMENTUM;
    }
    if (nh >= 3) {
        r->acceleration = acceleration_of(h, nh);
    } else {
        r->acceleration = nh >= 2 ? 0.0 : 0.5 * (r->viral_score - 50.0);
        r->missing |= AU_MISS_ACCEL;
    }
}

/* confidence credits consistency 0.5 when there are no platforms to be
 * consistent; measured_confidence credits 0 there and is scaled by the
 * share of viral_score's weight that was reported (docs/scorers.md,
 * Missing inputs). */
static void confidences(const au_viral_input_t *in, size_t social_n,
                        size_t audio_n, au_viral_t *r)
{
    size_t np = in->n_platforms, nh = in->n_history;
    double consistency = 0.5, measured_consistency = 0.0;
    if (np) {
        consistency = 1.0 - sqrt(pvar(in->platform_scores, np)) / 100.0;
        measured_consistency = consistency;
    }
    double base =
        0.4 * fmin(1.0, (double)np / 4.0) + 0.3 * fmin(1.0, (double)nh / 10.0);
    r->confidence = base + 0.3 * consistency;
    double coverage = (np ? 0.40 : 0.0) + 0.35 * (double)social_n / 3.0 +
                      0.25 * (double)audio_n / 3.0;
    r->measured_confidence = (base + 0.3 * measured_consistency) * coverage;
}

int au_viral_predict(const au_viral_input_t *in, au_viral_t *out)
{
    if (!in || !out)
        return AU_EINVAL;
    int rc = check_input(in);
    if (rc)
        return rc;
    au_viral_t r = {0};
    size_t social_n, audio_n;
    components(in, &r, &social_n, &audio_n);
    r.viral_score =
        0.40 * r.platform_avg + 0.35 * r.social_score + 0.25 * r.audio_score;
    history_scores(in->history, in->n_history, &r);
    r.velocity = in->n_platforms
                     ? velocity_of(in->platform_scores, in->n_platforms)
                     : 0.0;
    confidences(in, social_n, audio_n, &r);
    peak_timing(&r);
    r.risk = risk_of(&r);
    r.recommendation = rec_of(&r);
    *out = r;
    return 0;
}

int au_viral_order(const au_viral_t *results, size_t n, size_t *order)
{
    if (n > 0 && (!results || !order))
        return AU_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isnan(results[i].viral_score))
            return AU_EINVAL;
    /* Insertion sort is stable, which keeps ties in input order. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 &&
               results[order[j - 1]].viral_score < results[i].viral_score) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return 0;
}

const char *au_risk_name(au_risk_t risk)
{
    switch (risk) {
    case AU_RISK_LOW:
        return "Low";
    case AU_RISK_MEDIUM:
        return "Medium";
    case AU_RISK_HIGH:
        return "High";
    }
    return "unknown";
}

const char *au_rec_name(au_rec_t rec)
{
    switch (rec) {
    case AU_REC_STRONG_BUY:
        return "STRONG BUY";
    case AU_REC_BUY:
        return "BUY";
    case AU_REC_WATCH:
        return "WATCH";
    case AU_REC_CAUTION:
        return "CAUTION";
    case AU_REC_PASS:
        return "PASS";
    case AU_REC_HOLD:
        return "HOLD";
    }
    return "unknown";
}
