/* au_score.h: Audora's deterministic scorers as pure functions.
 *
 * Five scorers ported from the Python system Audora replaced: the viral
 * predictor (au_viral_*), the rule-based pattern analyzer (au_pattern_*),
 * the trend analyzer (au_trend_*), the mood scorer and playlist builder
 * (au_mood_*) and the cross-platform spread (au_spread_*); plus the chart
 * position score. docs/scorers.md gives each one's formulas, where its
 * constants come from, the golden values the tests check, its deliberate
 * deviations and the choices made where the predecessor was silent; the
 * comments below are the contracts.
 *
 * Every function is pure: no I/O, no globals, no randomness, no clock. Where
 * a scorer depends on the date, the caller passes `now` as seconds since the
 * Unix epoch (UTC). Timestamps everywhere are doubles in the same unit; days
 * are differences divided by AU_SCORE_DAY. Functions return 0 or AU_EINVAL
 * for invalid input (NULL, NaN where not allowed, out-of-range values,
 * unsorted timestamps); au_mood_playlists_new can also return
 * AU_ENOMEM/AU_ETOOBIG, au_spread_analyze AU_ETOOBIG.
 *
 * Optional numeric inputs are NAN when not reported. Nothing is invented
 * for them: a scorer uses the fallback estimate its golden values rest on,
 * sets the input's AU_MISS_* bit in `missing` and gives it no credit in
 * `measured_confidence` (docs/scorers.md, Missing inputs).
 */
#ifndef AU_SCORE_H
#define AU_SCORE_H

#include <stddef.h>
#include <stdint.h>

#define AU_SCORE_DAY 86400.0

/* One observation of a time series: t in seconds since the epoch. */
typedef struct {
    double t;
    double value;
} au_point_t;

/* Which inputs were missing; for each bit set the scorer used its fallback
 * estimate (docs/scorers.md, Missing inputs). */
enum {
    AU_MISS_PLATFORMS = 1u << 0, /* no platform scores */
    AU_MISS_SOCIAL = 1u << 1,    /* at least one social count not reported */
    AU_MISS_AUDIO = 1u << 2,     /* at least one audio feature not reported */
    AU_MISS_MOMENTUM = 1u << 3,  /* < 2 history points: momentum estimated
                                    (pattern: no growth pattern) */
    AU_MISS_ACCEL = 1u << 4,     /* < 3 history points: acceleration 0 or
                                    estimated */
    AU_MISS_CREATORS = 1u << 5,  /* no creators */
    AU_MISS_RELEASE = 1u << 6,   /* no release date */
    AU_MISS_GENRE = 1u << 7,     /* no genre */
    AU_MISS_TEMPO = 1u << 8      /* tempo not reported */
};

/* ---- Viral predictor (docs/scorers.md, Viral predictor) -------------- */

typedef enum { AU_RISK_LOW, AU_RISK_MEDIUM, AU_RISK_HIGH } au_risk_t;

typedef enum {
    AU_REC_STRONG_BUY,
    AU_REC_BUY,
    AU_REC_WATCH,
    AU_REC_CAUTION,
    AU_REC_PASS,
    AU_REC_HOLD
} au_rec_t;

/* Inputs; borrowed, never freed. NAN marks a social count or audio feature
 * that was not reported. Use au_viral_input_init to start from "nothing
 * reported". */
typedef struct {
    const double *platform_scores; /* each in [0, 100] */
    size_t n_platforms;
    double mentions, shares, comments;    /* >= 0 or NAN */
    double danceability, energy, valence; /* [0, 1] or NAN */
    const au_point_t *history;            /* t strictly increasing */
    size_t n_history;
} au_viral_input_t;

typedef struct {
    double viral_score;  /* 0..100 */
    double confidence;   /* 0..1, credits fallbacks like measurements */
    double momentum;     /* 0..100 */
    double acceleration; /* -100..100 */
    double velocity;     /* cross-platform velocity, 0..100 */
    int peak_eta_days;
    int peak_min_days; /* confidence interval of the ETA */
    int peak_max_days;
    au_risk_t risk;
    au_rec_t recommendation;
    double platform_avg; /* the three components of viral_score */
    double social_score;
    double audio_score;
    unsigned missing;           /* AU_MISS_* bits */
    double measured_confidence; /* confidence without credit for fallbacks */
} au_viral_t;

/* Sets every optional input to "not reported" and every count to 0. */
void au_viral_input_init(au_viral_input_t *in);
/* Scores one track. measured_confidence = (confidence with consistency 0
 * instead of 0.5 when there are no platforms) times the share of
 * viral_score's weight that was measured (platforms 0.40, social 0.35 and
 * audio 0.25, the last two prorated by how many of their 3 values exist). */
int au_viral_predict(const au_viral_input_t *in, au_viral_t *out);
/* Writes into order[0..n) the indices of results by viral_score, highest
 * first, ties in input order. */
int au_viral_order(const au_viral_t *results, size_t n, size_t *order);
/* "Low", "Medium", "High". */
const char *au_risk_name(au_risk_t risk);
/* "STRONG BUY", "BUY", "WATCH", "CAUTION", "PASS", "HOLD". */
const char *au_rec_name(au_rec_t rec);

/* ---- Rule-based pattern analyzer (docs/scorers.md, Pattern analyzer) -- */

typedef enum {
    AU_TIER_MEGA,  /* weight 10 */
    AU_TIER_MACRO, /* 5 */
    AU_TIER_MICRO, /* 2 */
    AU_TIER_NANO,  /* 1 */
    AU_TIER_OTHER  /* 0.5 */
} au_tier_t;

typedef struct {
    const char *name; /* any case: "TikTok" is "tiktok" */
    double score;
} au_platform_score_t;

typedef struct {
    const double *score_history; /* oldest first */
    size_t n_history;
    const au_platform_score_t *platforms; /* n_platforms 0 = none given */
    size_t n_platforms;
    const au_tier_t *creators;
    size_t n_creators;
    double release_date; /* seconds since the epoch, or NAN */
    int has_audio;       /* 0: no audio at all, every audio quantity is 0 */
    double danceability, energy, valence; /* [0, 1] or NAN (then 0.5) */
    double tempo;                         /* BPM > 0 or NAN (then 120) */
    const char *genre;                    /* any case; NULL when unknown */
} au_pattern_input_t;

typedef enum {
    AU_GROWTH_EXPLOSIVE,
    AU_GROWTH_STEADY,
    AU_GROWTH_DECLINING,
    AU_GROWTH_STABLE,
    AU_GROWTH_INSUFFICIENT
} au_growth_t;

typedef enum {
    AU_VTREND_STABLE,
    AU_VTREND_ACCELERATING,
    AU_VTREND_DECELERATING
} au_vtrend_t;

typedef enum {
    AU_TIMING_OPTIMAL,
    AU_TIMING_GOOD,
    AU_TIMING_MODERATE,
    AU_TIMING_LOW,
    AU_TIMING_NEUTRAL /* no release date: window score 0 */
} au_timing_t;

typedef enum {
    AU_VIRAL_HIGHLY_LIKELY,
    AU_VIRAL_LIKELY,
    AU_VIRAL_POSSIBLE,
    AU_VIRAL_UNLIKELY
} au_viral_category_t;

/* Key factors, in the order they are tested. */
enum {
    AU_FACTOR_EXPLOSIVE_GROWTH = 1u << 0,
    AU_FACTOR_STEADY_GROWTH = 1u << 1,
    AU_FACTOR_CROSS_PLATFORM = 1u << 2,
    AU_FACTOR_ORGANIC_CREATORS = 1u << 3,
    AU_FACTOR_INFLUENCERS = 1u << 4,
    AU_FACTOR_OPTIMAL_TIMING = 1u << 5,
    AU_FACTOR_DANCEABLE = 1u << 6,
    AU_FACTOR_CATCHY = 1u << 7
};

/* Risks and their contributions to risk_score. */
enum {
    AU_PRISK_SATURATED_GENRE = 1u << 0, /* pop, hip-hop, rap: +0.20 */
    AU_PRISK_SINGLE_PLATFORM = 1u << 1, /* +0.30 */
    AU_PRISK_LATE_TIMING = 1u << 2,     /* +0.25 */
    AU_PRISK_FEW_CREATORS = 1u << 3,    /* +0.20 */
    AU_PRISK_WEAK_AUDIO = 1u << 4       /* +0.15 */
};

typedef struct {
    /* growth */
    double current_velocity;
    double growth_acceleration;
    double consistency;    /* NAN with fewer than 2 velocities */
    double velocity_slope; /* NAN with fewer than 3 velocities */
    au_growth_t pattern;
    au_vtrend_t velocity_trend;
    /* platforms */
    size_t platform_count; /* 1 when none given */
    double alignment;      /* NAN unless more than 1 platform */
    double diversity;      /* NAN unless more than 1 platform */
    double cross_platform_score;
    /* creators */
    double influence;
    double organic;
    /* temporal */
    double days_since_release; /* NAN without a release date */
    double window_score;
    au_timing_t timing;
    double seasonal;
    /* audio */
    double tempo_score;
    double catchiness;
    double viral_audio;
    /* the five signals, each 0..1 */
    double growth_signal;
    double platform_signal;
    double creator_signal;
    double temporal_signal;
    double audio_signal;
    double viral_probability; /* 0..1 */
    double confidence;        /* 0..1 */
    au_viral_category_t category;
    int days_to_peak;
    double predicted_peak; /* now + days_to_peak days */
    unsigned key_factors;  /* AU_FACTOR_* */
    unsigned risks;        /* AU_PRISK_* */
    double risk_score;     /* 0..1 */
    au_risk_t risk_level;
    unsigned missing;           /* AU_MISS_* */
    double measured_confidence; /* confidence times measured signal weight */
} au_pattern_t;

/* Starts from "nothing given": no history, platforms, creators, date,
 * audio or genre. */
void au_pattern_input_init(au_pattern_input_t *in);
/* Scores one track; now (seconds since the epoch, UTC) gives the days since
 * release, the seasonal month and predicted_peak. measured_confidence is
 * confidence times the summed weight of the signals that rest on data
 * (growth with >= 2 points, platforms, creators, release date, audio
 * prorated by its 4 values). */
int au_pattern_analyze(const au_pattern_input_t *in, double now,
                       au_pattern_t *out);
/* Writes the key-factor sentence of one AU_FACTOR_* bit into buf
 * (cross-platform names the platform count); returns the length as snprintf
 * does, or AU_EINVAL for an unknown bit or NULL buf. */
int au_pattern_factor_text(unsigned factor, size_t n_platforms, char *buf,
                           size_t cap);
/* "explosive_growth", "steady_growth", "declining", "stable",
 * "insufficient_data". */
const char *au_growth_name(au_growth_t g);
/* "optimal", "good", "moderate", "low", "neutral". */
const char *au_timing_name(au_timing_t t);
/* "highly_likely", "likely", "possible", "unlikely". */
const char *au_viral_category_name(au_viral_category_t c);
/* Short name of one AU_PRISK_* bit, e.g. "single_platform"; "unknown" for
 * anything else. */
const char *au_pattern_risk_name(unsigned risk);

/* ---- Trend analyzer (docs/scorers.md, Trend analyzer) ---------------- */

#define AU_TREND_MIN_POINTS 5
#define AU_TREND_RETENTION_DAYS 365

typedef enum {
    AU_DIR_RISING,
    AU_DIR_FALLING,
    AU_DIR_STABLE,
    AU_DIR_VOLATILE,
    AU_DIR_EMERGING, /* never classified: a caller's label for items that
                        pass au_trend_is_emerging */
    AU_DIR_VIRAL
} au_direction_t;

typedef enum {
    AU_TF_HOURLY,
    AU_TF_DAILY,
    AU_TF_WEEKLY,
    AU_TF_MONTHLY,
    AU_TF_QUARTERLY,
    AU_TF_YEARLY
} au_timeframe_t;

typedef struct {
    double velocity;     /* mean first difference */
    double acceleration; /* mean second difference */
    double momentum;     /* longest same-sign run / differences, 0..1 */
    double volatility;   /* std / mean, 0 when the mean is 0 */
    double peak_value;
    double peak_time;
    size_t peak_index;  /* first maximum */
    double growth_rate; /* percent, 0 when the first value is 0 */
    double strength;    /* |Pearson r(index, value)|, 0..1 */
} au_trend_metrics_t;

typedef struct {
    double slope;
    double intercept;       /* of the fit over indices 0..n-1 */
    double confidence;      /* strength * (1 - volatility); can be negative */
    int rising;             /* slope > 0 */
    int volatility_warning; /* volatility > 0.3 */
} au_continuation_t;

/* Metrics of points sorted by t (non-decreasing), at least
 * AU_TREND_MIN_POINTS of them; fewer is AU_EINVAL. */
int au_trend_analyze(const au_point_t *points, size_t n,
                     au_trend_metrics_t *out);
/* The direction rule, first match: growth >= 50 viral, volatility >= 0.30
 * volatile, strength < 0.7 stable, growth >= 15 rising, growth <= -15
 * falling, otherwise stable. */
au_direction_t au_trend_classify(double growth_rate, double volatility,
                                 double strength);
/* au_trend_classify applied to metrics. */
au_direction_t au_trend_direction(const au_trend_metrics_t *m);
/* 1 when an item counts as emerging: growth > 20, strength > 0.7,
 * momentum > 0.5 and a first value below 100. */
int au_trend_is_emerging(const au_trend_metrics_t *m, double first_value);
/* Sort key of the category ranking: strength * |growth|. */
double au_trend_rank_key(const au_trend_metrics_t *m);
/* Length in seconds and minimum point count of a timeframe's window. */
int au_trend_window(au_timeframe_t tf, double *seconds, size_t *min_points);
/* Of sorted points, the suffix inside tf's window ending at now: *first is
 * its start index, *count its length, *enough 1 when count reaches the
 * window's minimum. */
int au_trend_window_select(const au_point_t *points, size_t n,
                           au_timeframe_t tf, double now, size_t *first,
                           size_t *count, int *enough);
/* Least-squares line over the indices, projected to indices
 * n .. n+periods-1 into predicted[0..periods). Needs what au_trend_analyze
 * needs. */
int au_trend_continuation(const au_point_t *points, size_t n, size_t periods,
                          double *predicted, au_continuation_t *out);
/* "rising", "falling", "stable", "volatile", "emerging", "viral". */
const char *au_direction_name(au_direction_t d);

/* ---- Mood scorer and playlists (docs/scorers.md, Mood scorer) -------- */

typedef enum {
    AU_MOOD_HAPPY_UPBEAT,
    AU_MOOD_CHILL_RELAXED,
    AU_MOOD_ENERGETIC_INTENSE,
    AU_MOOD_MELANCHOLIC,
    AU_MOOD_FOCUS,
    AU_MOOD_PARTY_DANCE,
    AU_MOOD_LATE_NIGHT,
    AU_MOOD_MORNING_ENERGY,
    AU_MOOD_COUNT
} au_mood_t;

/* NAN marks a feature that was not measured; the score then uses the
 * per-track default (0.5, tempo 120) and coverage drops. */
typedef struct {
    double valence;      /* [0, 1] */
    double energy;       /* [0, 1] */
    double danceability; /* [0, 1] */
    double tempo;        /* BPM >= 0 */
} au_mood_features_t;

/* Score 0..100 of one track for one mood. coverage (may be NULL) receives
 * the share of the mood's weight carried by measured features, 0..1. */
int au_mood_score(const au_mood_features_t *f, au_mood_t mood, double *score,
                  double *coverage);
/* "HAPPY_UPBEAT", ... the mood's name in upper case. */
const char *au_mood_name(au_mood_t mood);
/* "Happy & Upbeat", ... the mood's label, without emoji. */
const char *au_mood_label(au_mood_t mood);

#define AU_MOOD_MAX_TRACKS ((size_t)1 << 24)

typedef struct {
    double min_score;    /* keep scores >= this; default 60 */
    size_t max_per_mood; /* default 50 */
    double min_coverage; /* 0..1; default 0 keeps tracks scored on defaults */
} au_mood_options_t;

typedef struct {
    size_t index; /* into the caller's track array */
    double score;
    double coverage;
} au_mood_entry_t;

typedef struct au_mood_playlists_t au_mood_playlists_t;

/* The defaults: min_score 60, 50 per mood, min_coverage 0. */
void au_mood_options_default(au_mood_options_t *opt);
/* Builds one list per mood: every track scoring >= min_score with enough
 * coverage, best first, capped at max_per_mood; a track may be in several.
 * opt NULL means defaults. More than AU_MOOD_MAX_TRACKS is AU_ETOOBIG. The
 * caller owns *out and frees it with au_mood_playlists_destroy. */
int au_mood_playlists_new(const au_mood_features_t *tracks, size_t n,
                          const au_mood_options_t *opt,
                          au_mood_playlists_t **out);
/* Number of entries in one mood's list (0 for an invalid mood). */
size_t au_mood_playlists_size(const au_mood_playlists_t *self, au_mood_t mood);
/* The entries of one mood's list, borrowed from self; NULL when empty. */
const au_mood_entry_t *
au_mood_playlists_entries(const au_mood_playlists_t *self, au_mood_t mood);
/* Frees the playlists and sets *self_p to NULL; NULL-safe. */
void au_mood_playlists_destroy(au_mood_playlists_t **self_p);

/* ---- Cross-platform spread (docs/scorers.md, Cross-platform spread) -- */

/* One stored trend row of the track: which platform, when first detected,
 * and its score there. */
typedef struct {
    const char *platform;
    double first_detected;
    double score; /* [0, 100] */
} au_spread_obs_t;

typedef struct {
    const char *platform; /* borrowed from the observations */
    double first_seen;    /* MIN(first_detected) */
    double peak_score;    /* MAX(score) */
} au_spread_platform_t;

/* The move from platforms[i] to platforms[i + 1]. */
typedef struct {
    double lag_hours;
    double score_change;         /* later peak minus earlier peak */
    double propagation_strength; /* |score_change| / 10 */
} au_spread_step_t;

/* Groups observations by platform and orders platforms by first
 * appearance. platforms and steps are caller arrays of cap entries (steps
 * uses n_platforms - 1). *total_hours is the time from the first platform to
 * the last. More distinct platforms than cap is AU_ETOOBIG. n 0 gives
 * *n_platforms 0 ("no cross-platform data"). */
int au_spread_analyze(const au_spread_obs_t *obs, size_t n,
                      au_spread_platform_t *platforms, size_t cap,
                      size_t *n_platforms, au_spread_step_t *steps,
                      double *total_hours);

/* ---- position score ---------------------------------------------------- */

/* The trend score of a chart position, 0..100: 100 at position 1, falling
 * linearly to 100 / chart_size at the last position, 0 beyond the chart
 * (or for a position < 1 or a chart_size < 1). Every place that turns a
 * position into a score (analytics, the backtest, the benchmark's plain
 * COPY rows) calls this one function. */
double au_position_score(int position, int chart_size);

/* ---- a chart entry's derived values ------------------------------------ */

#define AU_ENTRY_HISTORY 8 /* earlier entries of the series an entry reads */

/* One earlier entry of the same track in the same series. */
typedef struct {
    long day;        /* days since 1970-01-01 */
    int position;    /* >= 1 */
    int64_t streams; /* -1: not reported */
} au_entry_hist_t;

typedef struct {
    long day;                       /* the entry's chart date */
    int position;                   /* >= 1 */
    int64_t streams;                /* -1: not reported */
    int chart_size;                 /* positions in a full chart, >= 1 */
    int weekly;                     /* 1: a weekly chart (the breakout
                                       model applies) */
    const au_entry_hist_t *history; /* the <= AU_ENTRY_HISTORY newest
                                       entries before day, oldest first */
    size_t n_history;
    int has_features; /* the track's audio features, when known */
    double danceability, energy, valence, tempo;
} au_entry_in_t;

typedef struct {
    double score;      /* au_position_score of the entry */
    int prev_position; /* newest earlier entry's position; 0: none */
    au_viral_t viral;  /* the viral predictor on the entry */
    int direction;     /* an au_direction_t, -1 with too few points */
    int mood;          /* the best au_mood_t, -1 without features */
    double mood_score; /* NAN without features */
    double breakout;   /* au_breakout_entry on a weekly chart; else NAN */
} au_entry_t;

/* Every derived value of a chart entry, a function of its inputs alone:
 * the same entry, history and features give the same values in any
 * process, in any order. AU_EINVAL for bad input (history not strictly
 * before day and in date order, positions < 1, more than
 * AU_ENTRY_HISTORY entries). */
int au_entry_score(const au_entry_in_t *in, au_entry_t *out);

#endif
