/* au_score_pattern.c: the rule-based viral pattern analyzer. Five signals
 * (growth, platforms, creators, timing, audio) from hand-set rules, not a
 * trained model; every weight and threshold below is the predecessor's, and
 * docs/scorers.md, Pattern analyzer, lists them with the choices made where
 * the predecessor gave no answer. */
#include "au_score.h"

#include <math.h>
#include <stdio.h>

#include "au_date.h"
#include "au_err.h"

/* Beyond this many seconds from the epoch the calendar arithmetic could
 * overflow; no real date is that far out (about three million years). */
#define MAX_ABS_TIME 1e14

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

static double pstd(const double *x, size_t n)
{
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)n);
}

/* Month 1..12 of a UTC time, from the shared civil calendar. */
static int utc_month(double t)
{
    int year, month, day;
    au_date_to_ymd((long)floor(t / AU_SCORE_DAY), &year, &month, &day);
    return month;
}

/* January first; docs/scorers.md, Pattern analyzer, has the table. */
static const double seasonal_by_month[12] = {0.8, 0.7, 0.8, 0.9, 1.0, 1.1,
                                             1.2, 1.1, 1.0, 0.9, 0.8, 0.9};

/* 1 when name equals lower, a lower-case ASCII name, without regard to
 * case: the predecessor lower-cased genre and platform names before looking
 * them up, so "Rap" and "TikTok" count. Not strcasecmp, which follows the
 * process locale; a pure function reads no global state. */
static int name_is(const char *name, const char *lower)
{
    for (; *name && *lower; name++, lower++) {
        int c = (unsigned char)*name;
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)*lower)
            return 0;
    }
    return *name == '\0' && *lower == '\0';
}

static int optional_ok(double x, double lo, double hi)
{
    return isnan(x) || (isfinite(x) && x >= lo && x <= hi);
}

static int check_input(const au_pattern_input_t *in, double now)
{
    if (!isfinite(now) || fabs(now) > MAX_ABS_TIME)
        return AU_EINVAL;
    if ((in->n_history && !in->score_history) ||
        (in->n_platforms && !in->platforms) ||
        (in->n_creators && !in->creators))
        return AU_EINVAL;
    for (size_t i = 0; i < in->n_history; i++)
        if (!isfinite(in->score_history[i]))
            return AU_EINVAL;
    for (size_t i = 0; i < in->n_platforms; i++)
        if (!in->platforms[i].name || !isfinite(in->platforms[i].score))
            return AU_EINVAL;
    for (size_t i = 0; i < in->n_creators; i++)
        if ((unsigned)in->creators[i] > AU_TIER_OTHER)
            return AU_EINVAL;
    if (!isnan(in->release_date) && !isfinite(in->release_date))
        return AU_EINVAL;
    if (in->has_audio && (!optional_ok(in->danceability, 0.0, 1.0) ||
                          !optional_ok(in->energy, 0.0, 1.0) ||
                          !optional_ok(in->valence, 0.0, 1.0) ||
                          !optional_ok(in->tempo, 1e-9, 1e4)))
        return AU_EINVAL;
    return 0;
}

void au_pattern_input_init(au_pattern_input_t *in)
{
    if (!in)
        return;
    *in = (au_pattern_input_t){0};
    in->release_date = NAN;
    in->danceability = in->energy = in->valence = in->tempo = NAN;
}

/* Velocities are the differences of the history. With fewer than two
 * points there is no pattern at all (AU_GROWTH_INSUFFICIENT), and with
 * fewer than two velocities no consistency, so a single step can never
 * look steady. */
static void analyze_growth(const double *h, size_t n, au_pattern_t *r)
{
    size_t m = n > 0 ? n - 1 : 0; /* number of velocities */
    r->current_velocity = m >= 1 ? h[n - 1] - h[n - 2] : 0.0;
    r->growth_acceleration =
        m >= 2 ? (h[n - 1] - h[n - 2]) - (h[n - 2] - h[n - 3]) : 0.0;
    r->consistency = NAN;
    r->velocity_slope = NAN;
    r->velocity_trend = AU_VTREND_STABLE;
    if (m >= 2) {
        /* The velocities' mean telescopes to (last - first) / m; one pass
         * gathers their spread and their least-squares slope over i. */
        double vmean = (h[n - 1] - h[0]) / (double)m, ss = 0.0;
        double xmean = (double)(m - 1) / 2.0, sxy = 0.0, sxx = 0.0;
        for (size_t i = 0; i < m; i++) {
            double d = (h[i + 1] - h[i]) - vmean;
            ss += d * d;
            sxy += ((double)i - xmean) * d;
            sxx += ((double)i - xmean) * ((double)i - xmean);
        }
        r->consistency = 1.0 / (1.0 + sqrt(ss / (double)m));
        if (m >= 3)
            r->velocity_slope = sxy / sxx;
    }
    if (r->velocity_slope > 0.5)
        r->velocity_trend = AU_VTREND_ACCELERATING;
    else if (r->velocity_slope < -0.5)
        r->velocity_trend = AU_VTREND_DECELERATING;

    double v = r->current_velocity;
    if (n < 2)
        r->pattern = AU_GROWTH_INSUFFICIENT;
    else if (v > 5.0 && r->growth_acceleration > 0.0)
        r->pattern = AU_GROWTH_EXPLOSIVE;
    else if (v > 2.0 && r->consistency > 0.7)
        r->pattern = AU_GROWTH_STEADY;
    else if (v < 0.0)
        r->pattern = AU_GROWTH_DECLINING;
    else
        r->pattern = AU_GROWTH_STABLE;

    /* In au_growth_t order; too little history gets the "otherwise"
     * value, neither rewarded nor punished. */
    static const double signal[] = {0.9, 0.7, 0.1, 0.4, 0.4};
    r->growth_signal = signal[r->pattern];
}

/* One bit per platform type, so diversity counts distinct types; every
 * unlisted name shares the one "other" type. */
static unsigned platform_type_bit(const char *name)
{
    static const char *const types[][3] = {
        {"tiktok", "instagram", "snapchat"},
        {"youtube", "vimeo", NULL},
        {"twitter", "facebook", NULL},
        {"spotify", "apple_music", "soundcloud"},
        {"reddit", "discord", "tumblr"},
    };
    size_t ntypes = sizeof types / sizeof types[0];
    for (size_t t = 0; t < ntypes; t++)
        for (size_t k = 0; k < 3; k++)
            if (types[t][k] && name_is(name, types[t][k]))
                return 1u << t;
    return 1u << ntypes; /* "other" */
}

static void analyze_platforms(const au_platform_score_t *p, size_t n,
                              au_pattern_t *r)
{
    /* No platforms counts as one, so such a track carries the
     * single-platform risk. */
    r->platform_count = n ? n : 1;
    r->alignment = NAN;
    r->diversity = NAN;
    if (n > 1) {
        double m = 0.0, ss = 0.0;
        unsigned types = 0;
        for (size_t i = 0; i < n; i++)
            m += p[i].score;
        m /= (double)n;
        for (size_t i = 0; i < n; i++) {
            ss += (p[i].score - m) * (p[i].score - m);
            types |= platform_type_bit(p[i].name);
        }
        double cv = m > 0.0 ? sqrt(ss / (double)n) / m : 1.0;
        r->alignment = 1.0 / (1.0 + cv);
        size_t ntypes = 0;
        for (; types; types &= types - 1)
            ntypes++;
        r->diversity = (double)ntypes / (double)n;
    }
    if (n >= 3)
        r->cross_platform_score = fmin(1.0, (double)n / 5.0);
    else
        r->cross_platform_score = n == 2 ? 0.6 : (n == 1 ? 0.2 : 0.0);
    r->platform_signal = r->cross_platform_score;
}

static void analyze_creators(const au_tier_t *c, size_t n, au_pattern_t *r)
{
    static const double weight[] = {10.0, 5.0, 2.0, 1.0, 0.5};
    double sum = 0.0;
    size_t small = 0;
    for (size_t i = 0; i < n; i++) {
        sum += weight[c[i]];
        small += c[i] == AU_TIER_MICRO || c[i] == AU_TIER_NANO;
    }
    r->influence = fmin(1.0, sum / 100.0);
    /* A share of small creators means nothing among a handful. */
    r->organic = n > 5 ? fmin(1.0, 1.5 * (double)small / (double)n) : 0.0;
    r->creator_signal = (r->influence + r->organic) / 2.0;
}

static void analyze_timing(double release, double now, au_pattern_t *r)
{
    r->seasonal = seasonal_by_month[utc_month(now) - 1];
    if (isnan(release)) {
        /* Without a date the window earns nothing, but the timing is
         * neutral rather than late: no late-timing risk. */
        r->days_since_release = NAN;
        r->window_score = 0.0;
        r->timing = AU_TIMING_NEUTRAL;
    } else {
        /* Whole days, as Python's timedelta.days: 7.9 days is still 7. */
        double days = floor((now - release) / AU_SCORE_DAY);
        r->days_since_release = days;
        if (days <= 7.0)
            r->window_score = 1.0, r->timing = AU_TIMING_OPTIMAL;
        else if (days <= 30.0)
            r->window_score = 0.8, r->timing = AU_TIMING_GOOD;
        else if (days <= 90.0)
            r->window_score = 0.4, r->timing = AU_TIMING_MODERATE;
        else
            r->window_score = 0.1, r->timing = AU_TIMING_LOW;
    }
    r->temporal_signal = clamp01((r->window_score + r->seasonal - 0.5) / 1.5);
}

static double or_default(double x, double dflt)
{
    return isnan(x) ? dflt : x;
}

/* Returns the effective danceability for the key factors. */
static double analyze_audio(const au_pattern_input_t *in, au_pattern_t *r)
{
    if (!in->has_audio) {
        r->tempo_score = r->catchiness = r->viral_audio = 0.0;
        r->audio_signal = 0.0;
        return 0.0;
    }
    double d = or_default(in->danceability, 0.5);
    double e = or_default(in->energy, 0.5);
    double v = or_default(in->valence, 0.5);
    double t = or_default(in->tempo, 120.0);
    r->tempo_score = (t >= 100.0 && t <= 140.0)
                         ? 1.0
                         : fmax(0.3, 1.0 - fabs(t - 120.0) / 60.0);
    r->catchiness = 0.4 * d + 0.3 * v + 0.3 * r->tempo_score;
    r->viral_audio =
        0.35 * d + 0.25 * e + 0.25 * r->catchiness + 0.15 * r->tempo_score;
    r->audio_signal = r->viral_audio;
    return d;
}

static unsigned key_factors(const au_pattern_t *r, double dance)
{
    unsigned f = 0;
    if (r->growth_signal > 0.7 && r->pattern == AU_GROWTH_EXPLOSIVE)
        f |= AU_FACTOR_EXPLOSIVE_GROWTH;
    /* Never true: steady growth scores exactly 0.7. Kept as ported rather
     * than guessing the threshold that was meant. */
    if (r->growth_signal > 0.7 && r->pattern == AU_GROWTH_STEADY)
        f |= AU_FACTOR_STEADY_GROWTH;
    if (r->platform_signal > 0.6 && r->platform_count >= 3)
        f |= AU_FACTOR_CROSS_PLATFORM;
    if (r->creator_signal > 0.6 && r->organic > 0.7)
        f |= AU_FACTOR_ORGANIC_CREATORS;
    if (r->creator_signal > 0.6 && r->influence > 0.7)
        f |= AU_FACTOR_INFLUENCERS;
    if (r->temporal_signal > 0.6 && r->timing == AU_TIMING_OPTIMAL)
        f |= AU_FACTOR_OPTIMAL_TIMING;
    if (r->audio_signal > 0.7 && dance > 0.8)
        f |= AU_FACTOR_DANCEABLE;
    if (r->audio_signal > 0.7 && r->catchiness > 0.8)
        f |= AU_FACTOR_CATCHY;
    return f;
}

static int saturated_genre(const char *g)
{
    return g &&
           (name_is(g, "pop") || name_is(g, "hip-hop") || name_is(g, "rap"));
}

static void assess_risks(const au_pattern_input_t *in, au_pattern_t *r)
{
    double sum = 0.0;
    r->risks = 0;
    if (saturated_genre(in->genre)) {
        r->risks |= AU_PRISK_SATURATED_GENRE;
        sum += 0.2;
    }
    if (r->platform_count == 1) {
        r->risks |= AU_PRISK_SINGLE_PLATFORM;
        sum += 0.3;
    }
    if (r->timing == AU_TIMING_LOW) {
        r->risks |= AU_PRISK_LATE_TIMING;
        sum += 0.25;
    }
    /* Counts creators of any tier: three nano creators are not "few". */
    if (in->n_creators < 3) {
        r->risks |= AU_PRISK_FEW_CREATORS;
        sum += 0.2;
    }
    if (r->viral_audio < 0.4) {
        r->risks |= AU_PRISK_WEAK_AUDIO;
        sum += 0.15;
    }
    r->risk_score = fmin(1.0, sum);
    if (r->risk_score > 0.7)
        r->risk_level = AU_RISK_HIGH;
    else if (r->risk_score > 0.4)
        r->risk_level = AU_RISK_MEDIUM;
    else
        r->risk_level = AU_RISK_LOW;
}

/* The AU_MISS_* bits, and in *coverage the share of viral_probability's
 * weight resting on measured inputs. The seasonal factor always comes from
 * now, but timing earns credit only with a release date, the one thing it
 * measures about the track. */
static unsigned missing_of(const au_pattern_input_t *in, double *coverage)
{
    unsigned m = 0;
    double audio_share = 0.0;
    if (in->n_history < 2)
        m |= AU_MISS_MOMENTUM;
    if (in->n_history < 3)
        m |= AU_MISS_ACCEL;
    if (!in->n_platforms)
        m |= AU_MISS_PLATFORMS;
    if (!in->n_creators)
        m |= AU_MISS_CREATORS;
    if (isnan(in->release_date))
        m |= AU_MISS_RELEASE;
    if (!in->genre)
        m |= AU_MISS_GENRE;
    if (in->has_audio) {
        double a[4] = {in->danceability, in->energy, in->valence, in->tempo};
        for (size_t i = 0; i < 4; i++)
            audio_share += isnan(a[i]) ? 0.0 : 0.25;
        if (isnan(a[0]) || isnan(a[1]) || isnan(a[2]))
            m |= AU_MISS_AUDIO;
        if (isnan(a[3]))
            m |= AU_MISS_TEMPO;
    } else {
        m |= AU_MISS_AUDIO | AU_MISS_TEMPO;
    }
    *coverage = (in->n_history >= 2 ? 0.25 : 0.0) +
                (in->n_platforms ? 0.20 : 0.0) + (in->n_creators ? 0.20 : 0.0) +
                (isnan(in->release_date) ? 0.0 : 0.15) + 0.20 * audio_share;
    return m;
}

int au_pattern_analyze(const au_pattern_input_t *in, double now,
                       au_pattern_t *out)
{
    if (!in || !out)
        return AU_EINVAL;
    int rc = check_input(in, now);
    if (rc)
        return rc;
    au_pattern_t r = {0};
    analyze_growth(in->score_history, in->n_history, &r);
    analyze_platforms(in->platforms, in->n_platforms, &r);
    analyze_creators(in->creators, in->n_creators, &r);
    analyze_timing(in->release_date, now, &r);
    double dance = analyze_audio(in, &r);

    double s[5] = {r.growth_signal, r.platform_signal, r.creator_signal,
                   r.temporal_signal, r.audio_signal};
    r.viral_probability =
        0.25 * s[0] + 0.20 * s[1] + 0.20 * s[2] + 0.15 * s[3] + 0.20 * s[4];
    r.confidence = 1.0 / (1.0 + 2.0 * pstd(s, 5));
    if (r.viral_probability >= 0.8)
        r.category = AU_VIRAL_HIGHLY_LIKELY, r.days_to_peak = 3;
    else if (r.viral_probability >= 0.6)
        r.category = AU_VIRAL_LIKELY, r.days_to_peak = 7;
    else if (r.viral_probability >= 0.4)
        r.category = AU_VIRAL_POSSIBLE, r.days_to_peak = 14;
    else
        r.category = AU_VIRAL_UNLIKELY, r.days_to_peak = 30;
    r.predicted_peak = now + r.days_to_peak * AU_SCORE_DAY;
    r.key_factors = key_factors(&r, dance);
    assess_risks(in, &r);

    double coverage;
    r.missing = missing_of(in, &coverage);
    r.measured_confidence = r.confidence * coverage;
    *out = r;
    return 0;
}

int au_pattern_factor_text(unsigned factor, size_t n_platforms, char *buf,
                           size_t cap)
{
    const char *text = NULL;
    if (!buf)
        return AU_EINVAL;
    switch (factor) {
    case AU_FACTOR_EXPLOSIVE_GROWTH:
        text = "Explosive growth pattern detected";
        break;
    case AU_FACTOR_STEADY_GROWTH:
        text = "Consistent steady growth";
        break;
    case AU_FACTOR_CROSS_PLATFORM:
        return snprintf(buf, cap,
                        "Strong cross-platform presence (%zu platforms)",
                        n_platforms);
    case AU_FACTOR_ORGANIC_CREATORS:
        text = "High organic creator engagement";
        break;
    case AU_FACTOR_INFLUENCERS:
        text = "Strong influencer support";
        break;
    case AU_FACTOR_OPTIMAL_TIMING:
        text = "Optimal viral timing window";
        break;
    case AU_FACTOR_DANCEABLE:
        text = "High danceability score";
        break;
    case AU_FACTOR_CATCHY:
        text = "Highly catchy audio profile";
        break;
    default:
        return AU_EINVAL;
    }
    return snprintf(buf, cap, "%s", text);
}

const char *au_growth_name(au_growth_t g)
{
    static const char *const names[] = {"explosive_growth", "steady_growth",
                                        "declining", "stable",
                                        "insufficient_data"};
    return (unsigned)g <= AU_GROWTH_INSUFFICIENT ? names[g] : "unknown";
}

const char *au_timing_name(au_timing_t t)
{
    static const char *const names[] = {"optimal", "good", "moderate", "low",
                                        "neutral"};
    return (unsigned)t <= AU_TIMING_NEUTRAL ? names[t] : "unknown";
}

const char *au_viral_category_name(au_viral_category_t c)
{
    static const char *const names[] = {"highly_likely", "likely", "possible",
                                        "unlikely"};
    return (unsigned)c <= AU_VIRAL_UNLIKELY ? names[c] : "unknown";
}

const char *au_pattern_risk_name(unsigned risk)
{
    switch (risk) {
    case AU_PRISK_SATURATED_GENRE:
        return "saturated_genre";
    case AU_PRISK_SINGLE_PLATFORM:
        return "single_platform";
    case AU_PRISK_LATE_TIMING:
        return "late_timing";
    case AU_PRISK_FEW_CREATORS:
        return "few_creators";
    case AU_PRISK_WEAK_AUDIO:
        return "weak_audio";
    }
    return "unknown";
}
