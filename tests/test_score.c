/* test_score.c: the deterministic scorers against the golden values of
 * docs/scorers.md (copied verbatim below), plus cases whose expected values
 * were worked out by hand from the formulas there (the arithmetic is in the
 * comments), range sweeps and determinism. */
#include "au_err.h"
#include "au_breakout.h"
#include "au_score.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The golden tables are rounded to 4 or 5 significant digits. */
#define GOLD_EPS 1e-3
#define NEAR(actual, expected)                                                 \
    cr_assert_float_eq((actual), (expected), GOLD_EPS, "%s = %.6f, want %.6f", \
                       #actual, (double)(actual), (double)(expected))

/* 2024-07-15T00:00:00Z and 2024-02-10T00:00:00Z. */
#define JULY_15_2024 1721001600.0
#define FEB_10_2024 1707523200.0
#define DAY AU_SCORE_DAY

/* ---- enhanced viral predictor: golden table ------------------------- */

typedef struct {
    double viral, conf, momentum, accel, velocity;
    int eta, lo, hi;
    au_risk_t risk;
    au_rec_t rec;
} viral_gold_t;

static void check_gold(const au_viral_t *r, const viral_gold_t *g)
{
    NEAR(r->viral_score, g->viral);
    NEAR(r->confidence, g->conf);
    NEAR(r->momentum, g->momentum);
    NEAR(r->acceleration, g->accel);
    NEAR(r->velocity, g->velocity);
    cr_assert_eq(r->peak_eta_days, g->eta);
    cr_assert_eq(r->peak_min_days, g->lo);
    cr_assert_eq(r->peak_max_days, g->hi);
    cr_assert_str_eq(au_risk_name(r->risk), au_risk_name(g->risk));
    cr_assert_str_eq(au_rec_name(r->recommendation), au_rec_name(g->rec));
}

static void demo_hit(au_viral_input_t *in, double *scores, au_point_t *hist)
{
    static const double s[] = {85, 92, 78, 88};
    static const double h[] = {45, 52, 61, 68, 75, 82, 88};
    au_viral_input_init(in);
    memcpy(scores, s, sizeof s);
    in->platform_scores = scores;
    in->n_platforms = 4;
    in->mentions = 15000;
    in->shares = 3500;
    in->comments = 850;
    in->danceability = .85;
    in->energy = .78;
    in->valence = .72;
    for (size_t i = 0; i < 7; i++)
        hist[i] = (au_point_t){JULY_15_2024 + (double)i * DAY, h[i]};
    in->history = hist;
    in->n_history = 7;
}

Test(viral, viral_hit_example_matches_golden_values)
{
    au_viral_input_t in;
    double scores[4];
    au_point_t hist[7];
    au_viral_t r;
    demo_hit(&in, scores, hist);
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    viral_gold_t g = {88.8833, 0.89465, 56.9737, -3.7481,        89.0625,
                      11,      8,       17,      AU_RISK_MEDIUM, AU_REC_WATCH};
    check_gold(&r, &g);
}

Test(viral, established_hit_matches_golden_values)
{
    static const double s[] = {95, 88, 92, 90};
    au_viral_input_t in;
    au_viral_t r;
    au_viral_input_init(&in);
    in.platform_scores = s;
    in.n_platforms = 4;
    in.mentions = 25000;
    in.shares = 5000;
    in.comments = 1200;
    in.danceability = .92;
    in.energy = .85;
    in.valence = .88;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    viral_gold_t g = {
        93.5833, 0.69224, 74.8667, 21.7917,        95.1625,
        4,       3,       7,       AU_RISK_MEDIUM, AU_REC_STRONG_BUY};
    check_gold(&r, &g);
}

Test(viral, slow_burner_matches_golden_values)
{
    static const double s[] = {55, 48};
    au_viral_input_t in;
    au_viral_t r;
    au_viral_input_init(&in);
    in.platform_scores = s;
    in.n_platforms = 2;
    in.mentions = 2000;
    in.shares = 350;
    in.comments = 120;
    in.danceability = .45;
    in.energy = .38;
    in.valence = .42;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    viral_gold_t g = {42.1467, 0.4895, 33.7173, -3.9267,      58.15,
                      30,      20,     45,      AU_RISK_HIGH, AU_REC_HOLD};
    check_gold(&r, &g);
}

Test(viral, empty_input_matches_golden_values)
{
    au_viral_input_t in;
    au_viral_t r;
    au_viral_input_init(&in);
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    viral_gold_t g = {32.5, 0.15, 26, -8.75,        0,
                      35,   23,   52, AU_RISK_HIGH, AU_REC_PASS};
    check_gold(&r, &g);
}

/* ---- enhanced viral predictor: missing inputs ------------------------ */

Test(viral, complete_input_reports_nothing_missing_and_full_confidence)
{
    au_viral_input_t in;
    double scores[4];
    au_point_t hist[7];
    au_viral_t r;
    demo_hit(&in, scores, hist);
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    cr_assert_eq(r.missing, 0u);
    NEAR(r.measured_confidence, 0.89465);
}

Test(viral, empty_input_flags_every_fallback_and_has_no_measured_confidence)
{
    au_viral_input_t in;
    au_viral_t r;
    au_viral_input_init(&in);
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    cr_assert_eq(r.missing, AU_MISS_PLATFORMS | AU_MISS_SOCIAL | AU_MISS_AUDIO |
                                AU_MISS_MOMENTUM | AU_MISS_ACCEL);
    NEAR(r.platform_avg, 50.0);
    NEAR(r.audio_score, 50.0);
    NEAR(r.social_score, 0.0);
    NEAR(r.measured_confidence, 0.0);
}

Test(viral, missing_history_flags_momentum_and_acceleration_as_estimates)
{
    static const double s[] = {95, 88, 92, 90};
    au_viral_input_t in;
    au_viral_t r;
    au_viral_input_init(&in);
    in.platform_scores = s;
    in.n_platforms = 4;
    in.mentions = 25000;
    in.shares = 5000;
    in.comments = 1200;
    in.danceability = .92;
    in.energy = .85;
    in.valence = .88;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    cr_assert_eq(r.missing, AU_MISS_MOMENTUM | AU_MISS_ACCEL);
}

/* Demo hit without its audio: viral_score falls back to audio 50, so
 * viral = .4*85.75 + .35*100 + .25*50 = 81.8; the measured confidence
 * keeps platforms .40 and social .35 of the weight: .89465 * .75. */
Test(viral, missing_audio_lowers_measured_confidence_by_its_weight)
{
    au_viral_input_t in;
    double scores[4];
    au_point_t hist[7];
    au_viral_t r;
    demo_hit(&in, scores, hist);
    in.danceability = in.energy = in.valence = NAN;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    cr_assert_eq(r.missing, AU_MISS_AUDIO);
    NEAR(r.viral_score, 81.8);
    NEAR(r.confidence, 0.89465);
    NEAR(r.measured_confidence, 0.89465 * 0.75);
}

/* Two points one day apart rising by 10: momentum = 10 + 50; acceleration
 * needs three points, so it is 0 rather than the no-history estimate. */
Test(viral, two_history_points_give_measured_momentum_and_zero_acceleration)
{
    au_viral_input_t in;
    au_viral_t r;
    au_point_t h[2] = {{1000.0, 20.0}, {1000.0 + DAY, 30.0}};
    au_viral_input_init(&in);
    in.history = h;
    in.n_history = 2;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    NEAR(r.momentum, 60.0);
    NEAR(r.acceleration, 0.0);
    cr_assert(r.missing & AU_MISS_ACCEL);
    cr_assert_not(r.missing & AU_MISS_MOMENTUM);
}

/* Rates are per day: +12 over two days is 6/day, so momentum 56. */
Test(viral, momentum_divides_by_the_gap_in_days)
{
    au_viral_input_t in;
    au_viral_t r;
    au_point_t h[2] = {{0.0, 40.0}, {2 * DAY, 52.0}};
    au_viral_input_init(&in);
    in.history = h;
    in.n_history = 2;
    cr_assert_eq(au_viral_predict(&in, &r), 0);
    NEAR(r.momentum, 56.0);
}

Test(viral, invalid_inputs_are_rejected)
{
    au_viral_input_t in;
    au_viral_t r;
    double bad_score[] = {50, NAN};
    double over[] = {101};
    au_point_t same_t[2] = {{10.0, 1.0}, {10.0, 2.0}};
    au_point_t backwards[2] = {{20.0, 1.0}, {10.0, 2.0}};

    au_viral_input_init(&in);
    cr_assert_eq(au_viral_predict(NULL, &r), AU_EINVAL);
    cr_assert_eq(au_viral_predict(&in, NULL), AU_EINVAL);
    in.platform_scores = bad_score;
    in.n_platforms = 2;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
    in.platform_scores = over;
    in.n_platforms = 1;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
    in.platform_scores = NULL;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);

    au_viral_input_init(&in);
    in.mentions = -1;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
    in.mentions = INFINITY;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
    au_viral_input_init(&in);
    in.energy = 1.5;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);

    au_viral_input_init(&in);
    in.history = same_t;
    in.n_history = 2;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
    in.history = backwards;
    cr_assert_eq(au_viral_predict(&in, &r), AU_EINVAL);
}

Test(viral, batch_order_is_by_score_descending_with_ties_in_input_order)
{
    au_viral_t res[4] = {{.viral_score = 50},
                         {.viral_score = 70},
                         {.viral_score = 50},
                         {.viral_score = 90}};
    size_t order[4];
    cr_assert_eq(au_viral_order(res, 4, order), 0);
    cr_assert_eq(order[0], 3);
    cr_assert_eq(order[1], 1);
    cr_assert_eq(order[2], 0);
    cr_assert_eq(order[3], 2);
}

Test(viral, recommendation_and_risk_names_carry_no_emoji)
{
    static const char *const want[] = {"STRONG BUY", "BUY",  "WATCH",
                                       "CAUTION",    "PASS", "HOLD"};
    for (int i = AU_REC_STRONG_BUY; i <= AU_REC_HOLD; i++)
        cr_assert_str_eq(au_rec_name((au_rec_t)i), want[i]);
    cr_assert_str_eq(au_risk_name(AU_RISK_LOW), "Low");
    cr_assert_str_eq(au_risk_name(AU_RISK_HIGH), "High");
}

/* A small deterministic generator, so the sweep covers many inputs while
 * every run sees the same ones. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static double unit(uint32_t *s)
{
    return (double)lcg(s) / (double)(1u << 24);
}

Test(viral, scores_stay_in_range_over_a_sweep_of_inputs)
{
    uint32_t seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        double scores[6];
        au_point_t hist[12];
        au_viral_input_t in;
        au_viral_t r;
        au_viral_input_init(&in);
        in.n_platforms = lcg(&seed) % 7;
        for (size_t i = 0; i < in.n_platforms; i++)
            scores[i] = 100.0 * unit(&seed);
        in.platform_scores = scores;
        if (lcg(&seed) % 4)
            in.mentions = 50000.0 * unit(&seed);
        if (lcg(&seed) % 4)
            in.comments = 3000.0 * unit(&seed);
        if (lcg(&seed) % 3)
            in.energy = unit(&seed);
        in.n_history = lcg(&seed) % 13;
        double t = 0.0;
        for (size_t i = 0; i < in.n_history; i++) {
            t += 3600.0 + 3.0 * DAY * unit(&seed);
            hist[i] = (au_point_t){t, 1000.0 * unit(&seed) - 200.0};
        }
        in.history = hist;
        cr_assert_eq(au_viral_predict(&in, &r), 0);
        cr_assert(r.viral_score >= 0 && r.viral_score <= 100);
        cr_assert(r.confidence >= 0 && r.confidence <= 1);
        cr_assert(r.measured_confidence >= 0 &&
                  r.measured_confidence <= r.confidence + 1e-12);
        cr_assert(r.momentum >= 0 && r.momentum <= 100);
        cr_assert(r.acceleration >= -100 && r.acceleration <= 100);
        cr_assert(r.velocity >= 0 && r.velocity <= 100);
        cr_assert(r.peak_min_days >= 1);
        cr_assert(r.peak_min_days <= r.peak_eta_days);
        cr_assert(r.peak_eta_days <= r.peak_max_days);
    }
}

Test(viral, same_input_gives_identical_result)
{
    au_viral_input_t in;
    double scores[4];
    au_point_t hist[7];
    au_viral_t a, b;
    demo_hit(&in, scores, hist);
    cr_assert_eq(au_viral_predict(&in, &a), 0);
    cr_assert_eq(au_viral_predict(&in, &b), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
}

/* ---- rule-based pattern analyzer: worked by hand --------------------- */

static const double strong_history[] = {10, 20, 35, 55};
static const au_platform_score_t three_platforms[] = {
    {"tiktok", 80}, {"youtube", 60}, {"spotify", 70}};
static const au_tier_t six_creators[] = {AU_TIER_MEGA,  AU_TIER_MACRO,
                                         AU_TIER_MICRO, AU_TIER_MICRO,
                                         AU_TIER_NANO,  AU_TIER_NANO};

static void strong_track(au_pattern_input_t *in)
{
    au_pattern_input_init(in);
    in->score_history = strong_history;
    in->n_history = 4;
    in->platforms = three_platforms;
    in->n_platforms = 3;
    in->creators = six_creators;
    in->n_creators = 6;
    in->release_date = JULY_15_2024 - 5.5 * DAY;
    in->has_audio = 1;
    in->danceability = .9;
    in->energy = .7;
    in->valence = .6;
    in->tempo = 128;
    in->genre = "pop";
}

/* Velocities 10, 15, 20: current 20, acceleration 5 -> explosive (.9);
 * consistency 1/(1 + sqrt(50/3)) = .196754; slope 5 -> accelerating.
 * 3 platforms -> min(1, 3/5) = .6; alignment 1/(1 + 8.16497/70) = .895542;
 * 3 types of 3 -> diversity 1. Creators: (10+5+2+2+1+1)/100 = .21,
 * organic min(1, 1.5*4/6) = 1 -> .605. Released 5.5 days ago -> day 5,
 * optimal 1.0; July 1.2 -> temporal min(1, 1.7/1.5) = 1. Tempo 128 -> 1;
 * catchiness .36+.18+.3 = .84; audio .315+.175+.21+.15 = .85.
 * p = .225+.12+.121+.15+.17 = .786 -> likely, 7 days. Signals mean .791,
 * population variance .13012/5 = .026024, std .161320 ->
 * confidence 1/1.322641 = .756062. */
Test(pattern, strong_track_scores_as_worked_by_hand)
{
    au_pattern_input_t in;
    au_pattern_t r;
    strong_track(&in);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.pattern, AU_GROWTH_EXPLOSIVE);
    NEAR(r.current_velocity, 20);
    NEAR(r.growth_acceleration, 5);
    NEAR(r.consistency, 0.196754);
    cr_assert_eq(r.velocity_trend, AU_VTREND_ACCELERATING);
    NEAR(r.alignment, 0.895542);
    NEAR(r.diversity, 1.0);
    NEAR(r.cross_platform_score, 0.6);
    NEAR(r.influence, 0.21);
    NEAR(r.organic, 1.0);
    NEAR(r.days_since_release, 5);
    cr_assert_eq(r.timing, AU_TIMING_OPTIMAL);
    NEAR(r.seasonal, 1.2);
    NEAR(r.temporal_signal, 1.0);
    NEAR(r.catchiness, 0.84);
    NEAR(r.viral_audio, 0.85);
    NEAR(r.viral_probability, 0.786);
    NEAR(r.confidence, 0.756062);
    cr_assert_eq(r.category, AU_VIRAL_LIKELY);
    cr_assert_eq(r.days_to_peak, 7);
    NEAR(r.predicted_peak, JULY_15_2024 + 7 * DAY);
    cr_assert_eq(r.missing, 0u);
    NEAR(r.measured_confidence, 0.756062);
}

/* .6 is not > .6, so three platforms do not make the cross-platform
 * factor; the explosive, organic, timing, danceable and catchy ones do. */
Test(pattern, strong_track_key_factors_follow_the_strict_thresholds)
{
    au_pattern_input_t in;
    au_pattern_t r;
    char buf[80];
    strong_track(&in);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.key_factors, AU_FACTOR_EXPLOSIVE_GROWTH |
                                    AU_FACTOR_ORGANIC_CREATORS |
                                    AU_FACTOR_OPTIMAL_TIMING |
                                    AU_FACTOR_DANCEABLE | AU_FACTOR_CATCHY);
    au_pattern_factor_text(AU_FACTOR_CATCHY, 3, buf, sizeof buf);
    cr_assert_str_eq(buf, "Highly catchy audio profile");
}

Test(pattern, four_platforms_add_the_cross_platform_factor_with_its_count)
{
    static const au_platform_score_t four[] = {
        {"tiktok", 80}, {"youtube", 60}, {"spotify", 70}, {"reddit", 50}};
    au_pattern_input_t in;
    au_pattern_t r;
    char buf[80];
    strong_track(&in);
    in.platforms = four;
    in.n_platforms = 4;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    NEAR(r.cross_platform_score, 0.8);
    cr_assert(r.key_factors & AU_FACTOR_CROSS_PLATFORM);
    au_pattern_factor_text(AU_FACTOR_CROSS_PLATFORM, r.platform_count, buf,
                           sizeof buf);
    cr_assert_str_eq(buf, "Strong cross-platform presence (4 platforms)");
}

Test(pattern, pop_genre_is_the_only_risk_of_the_strong_track)
{
    au_pattern_input_t in;
    au_pattern_t r;
    strong_track(&in);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.risks, AU_PRISK_SATURATED_GENRE);
    NEAR(r.risk_score, 0.2);
    cr_assert_eq(r.risk_level, AU_RISK_LOW);
}

/* Genres are looked up without regard to case, as the predecessor
 * lower-cased them first; the match is still whole-name. */
Test(pattern, genre_is_saturated_whatever_its_case)
{
    static const struct {
        const char *genre;
        int saturated;
    } cases[] = {{"Rap", 1}, {"POP", 1},     {"Hip-Hop", 1},
                 {"rap", 1}, {"Rock", 0},    {"rapcore", 0},
                 {"Ra", 0},  {"Hip Hop", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        au_pattern_input_t in;
        au_pattern_t r;
        au_pattern_input_init(&in);
        in.genre = cases[i].genre;
        cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
        cr_assert_eq(!!(r.risks & AU_PRISK_SATURATED_GENRE), cases[i].saturated,
                     "genre \"%s\"", cases[i].genre);
    }
}

/* "TikTok" and "INSTAGRAM" are short video and "YouTube" long video: 2
 * types of 3 platforms, diversity 2/3, exactly as for the lower-case
 * names. Were the capitals not folded, all three would be "other" (1/3). */
Test(pattern, platform_type_is_found_whatever_the_case_of_its_name)
{
    static const au_platform_score_t mixed[] = {
        {"TikTok", 80}, {"INSTAGRAM", 60}, {"YouTube", 70}};
    static const au_platform_score_t lower[] = {
        {"tiktok", 80}, {"instagram", 60}, {"youtube", 70}};
    au_pattern_input_t in;
    au_pattern_t a, b;
    au_pattern_input_init(&in);
    in.platforms = mixed;
    in.n_platforms = 3;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &a), 0);
    in.platforms = lower;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &b), 0);
    NEAR(a.diversity, 2.0 / 3.0);
    NEAR(b.diversity, 2.0 / 3.0);
    NEAR(a.alignment, b.alignment);
    NEAR(a.viral_probability, b.viral_probability);
}

/* No release date: the window scores 0 and the timing is neutral, neither
 * optimal nor late. In July (1.2) temporal = (0 + 1.2 - .5)/1.5. */
Test(pattern, without_a_release_date_timing_is_neutral_and_scores_0)
{
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.timing, AU_TIMING_NEUTRAL);
    cr_assert_str_eq(au_timing_name(r.timing), "neutral");
    NEAR(r.window_score, 0.0);
    NEAR(r.temporal_signal, 0.7 / 1.5);
    cr_assert_not(r.risks & AU_PRISK_LATE_TIMING);
    cr_assert_not(r.key_factors & AU_FACTOR_OPTIMAL_TIMING);
    cr_assert(r.missing & AU_MISS_RELEASE);
}

Test(pattern, names_are_the_documented_strings)
{
    cr_assert_str_eq(au_growth_name(AU_GROWTH_EXPLOSIVE), "explosive_growth");
    cr_assert_str_eq(au_growth_name(AU_GROWTH_INSUFFICIENT),
                     "insufficient_data");
    cr_assert_str_eq(au_timing_name(AU_TIMING_LOW), "low");
    cr_assert_str_eq(au_timing_name((au_timing_t)99), "unknown");
    cr_assert_str_eq(au_viral_category_name(AU_VIRAL_HIGHLY_LIKELY),
                     "highly_likely");
    cr_assert_str_eq(au_pattern_risk_name(AU_PRISK_SINGLE_PLATFORM),
                     "single_platform");
    cr_assert_str_eq(
        au_pattern_risk_name(AU_PRISK_SINGLE_PLATFORM | AU_PRISK_WEAK_AUDIO),
        "unknown");
}

/* Nothing given, in February (.7): growth .4; platforms 0 (count 1);
 * creators 0; temporal (0 + .7 - .5)/1.5 = .133333; audio 0.
 * p = .1 + .15*.133333 = .12 -> unlikely, 30 days. Signals mean .106667,
 * variance .024178, std .155492 -> confidence 1/1.310984 = .762786.
 * Risks: single platform .3 + few creators .2 + weak audio .15 = .65. */
Test(pattern, empty_input_uses_the_fallbacks_and_flags_them)
{
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    cr_assert_eq(au_pattern_analyze(&in, FEB_10_2024, &r), 0);
    cr_assert_eq(r.pattern, AU_GROWTH_INSUFFICIENT);
    NEAR(r.growth_signal, 0.4);
    cr_assert_eq(r.platform_count, 1);
    NEAR(r.temporal_signal, 0.133333);
    NEAR(r.viral_probability, 0.12);
    NEAR(r.confidence, 0.762786);
    cr_assert_eq(r.category, AU_VIRAL_UNLIKELY);
    cr_assert_eq(r.days_to_peak, 30);
    cr_assert_eq(r.risks, AU_PRISK_SINGLE_PLATFORM | AU_PRISK_FEW_CREATORS |
                              AU_PRISK_WEAK_AUDIO);
    NEAR(r.risk_score, 0.65);
    cr_assert_eq(r.risk_level, AU_RISK_MEDIUM);
    cr_assert_eq(r.missing, AU_MISS_MOMENTUM | AU_MISS_ACCEL |
                                AU_MISS_PLATFORMS | AU_MISS_CREATORS |
                                AU_MISS_RELEASE | AU_MISS_GENRE |
                                AU_MISS_AUDIO | AU_MISS_TEMPO);
    NEAR(r.measured_confidence, 0.0);
    cr_assert(isnan(r.days_since_release));
}

/* Velocities 3, 3, 3: not explosive (acceleration 0), consistency 1 ->
 * steady, whose signal .7 never passes the factor's "> .7". */
Test(pattern, steady_growth_scores_0_7_and_never_adds_its_key_factor)
{
    static const double h[] = {10, 13, 16, 19};
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    in.score_history = h;
    in.n_history = 4;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.pattern, AU_GROWTH_STEADY);
    NEAR(r.growth_signal, 0.7);
    NEAR(r.consistency, 1.0);
    cr_assert_eq(r.key_factors & AU_FACTOR_STEADY_GROWTH, 0u);
}

Test(pattern, falling_scores_are_declining)
{
    static const double h[] = {50, 45, 44};
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    in.score_history = h;
    in.n_history = 3;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    cr_assert_eq(r.pattern, AU_GROWTH_DECLINING);
    NEAR(r.growth_signal, 0.1);
}

/* The seasonal factor follows the caller's now in UTC: the last second of
 * 2023 is December (.9), the first of 2024 January (.8). */
Test(pattern, seasonal_month_comes_from_now_in_utc)
{
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    cr_assert_eq(au_pattern_analyze(&in, 1704067199.0, &r), 0);
    NEAR(r.seasonal, 0.9);
    cr_assert_eq(au_pattern_analyze(&in, 1704067200.0, &r), 0);
    NEAR(r.seasonal, 0.8);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    NEAR(r.seasonal, 1.2);
    cr_assert_eq(au_pattern_analyze(&in, FEB_10_2024, &r), 0);
    NEAR(r.seasonal, 0.7);
}

Test(pattern, release_windows_use_whole_days_since_release)
{
    static const struct {
        double days;
        au_timing_t timing;
    } cases[] = {{7.9, AU_TIMING_OPTIMAL},   {8.0, AU_TIMING_GOOD},
                 {30.9, AU_TIMING_GOOD},     {31.0, AU_TIMING_MODERATE},
                 {90.9, AU_TIMING_MODERATE}, {91.0, AU_TIMING_LOW}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        au_pattern_input_t in;
        au_pattern_t r;
        au_pattern_input_init(&in);
        in.release_date = JULY_15_2024 - cases[i].days * DAY;
        cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
        cr_assert_eq(r.timing, cases[i].timing, "%.1f days: %s", cases[i].days,
                     au_timing_name(r.timing));
        cr_assert_eq(!!(r.risks & AU_PRISK_LATE_TIMING),
                     cases[i].timing == AU_TIMING_LOW);
    }
}

/* Tempo 180 is outside 100..140: max(.3, 1 - 60/60) = .3; missing
 * danceability, energy and valence default to .5. */
Test(pattern, audio_defaults_and_tempo_penalty)
{
    au_pattern_input_t in;
    au_pattern_t r;
    au_pattern_input_init(&in);
    in.has_audio = 1;
    in.tempo = 180;
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &r), 0);
    NEAR(r.tempo_score, 0.3);
    /* catchiness .2 + .15 + .09 = .44; audio .175 + .125 + .11 + .045 */
    NEAR(r.catchiness, 0.44);
    NEAR(r.viral_audio, 0.455);
    cr_assert(r.missing & AU_MISS_AUDIO);
    cr_assert_not(r.missing & AU_MISS_TEMPO);
}

Test(pattern, invalid_inputs_are_rejected)
{
    au_pattern_input_t in;
    au_pattern_t r;
    double nan_history[] = {1, NAN};
    au_tier_t bad_tier[] = {(au_tier_t)9};
    au_pattern_input_init(&in);
    cr_assert_eq(au_pattern_analyze(NULL, 0, &r), AU_EINVAL);
    cr_assert_eq(au_pattern_analyze(&in, NAN, &r), AU_EINVAL);
    in.score_history = nan_history;
    in.n_history = 2;
    cr_assert_eq(au_pattern_analyze(&in, 0, &r), AU_EINVAL);
    au_pattern_input_init(&in);
    in.creators = bad_tier;
    in.n_creators = 1;
    cr_assert_eq(au_pattern_analyze(&in, 0, &r), AU_EINVAL);
    au_pattern_input_init(&in);
    in.has_audio = 1;
    in.valence = 2;
    cr_assert_eq(au_pattern_analyze(&in, 0, &r), AU_EINVAL);
}

Test(pattern, outputs_stay_in_range_over_a_sweep_of_inputs)
{
    static const char *const names[] = {"tiktok",  "youtube", "twitter",
                                        "spotify", "reddit",  "myspace"};
    uint32_t seed = 777;
    for (int iter = 0; iter < 3000; iter++) {
        double h[8];
        au_platform_score_t p[6];
        au_tier_t c[10];
        au_pattern_input_t in;
        au_pattern_t r;
        au_pattern_input_init(&in);
        in.n_history = lcg(&seed) % 9;
        for (size_t i = 0; i < in.n_history; i++)
            h[i] = 100.0 * unit(&seed);
        in.score_history = h;
        in.n_platforms = lcg(&seed) % 7;
        for (size_t i = 0; i < in.n_platforms; i++)
            p[i] = (au_platform_score_t){names[i], 100.0 * unit(&seed)};
        in.platforms = p;
        in.n_creators = lcg(&seed) % 11;
        for (size_t i = 0; i < in.n_creators; i++)
            c[i] = (au_tier_t)(lcg(&seed) % 5);
        in.creators = c;
        if (lcg(&seed) % 2)
            in.release_date = JULY_15_2024 - 200.0 * DAY * unit(&seed);
        in.has_audio = lcg(&seed) % 2;
        in.danceability = unit(&seed);
        in.tempo = 40.0 + 200.0 * unit(&seed);
        double now = JULY_15_2024 + 365.0 * DAY * unit(&seed);
        cr_assert_eq(au_pattern_analyze(&in, now, &r), 0);
        double s[] = {r.growth_signal,   r.platform_signal, r.creator_signal,
                      r.temporal_signal, r.audio_signal,    r.viral_probability,
                      r.risk_score};
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
            cr_assert(s[i] >= 0.0 && s[i] <= 1.0, "value %zu = %f", i, s[i]);
        cr_assert(r.confidence > 0.0 && r.confidence <= 1.0);
        cr_assert(r.measured_confidence >= 0.0 &&
                  r.measured_confidence <= r.confidence + 1e-12);
    }
}

Test(pattern, same_input_gives_identical_result)
{
    au_pattern_input_t in;
    au_pattern_t a, b;
    strong_track(&in);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &a), 0);
    cr_assert_eq(au_pattern_analyze(&in, JULY_15_2024, &b), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
}

/* ---- trend analyzer --------------------------------------------------- */

static void daily(au_point_t *p, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (au_point_t){JULY_15_2024 + (double)i * DAY, v[i]};
}

/* The predecessor's sample series (10 daily points each); the expected
 * values are the golden values of docs/scorers.md, Trend analyzer. */
static const double artist_1[10] = {100,  150,  300,  800,  1500,
                                    2200, 2800, 3000, 2900, 2800};
static const double artist_2[10] = {200, 230, 270, 320, 380,
                                    450, 530, 620, 720, 830};
static const double artist_3[10] = {1000, 950, 880, 800, 720,
                                    650,  580, 520, 470, 420};
static const double artist_4[10] = {300, 500, 200, 700, 150,
                                    600, 250, 800, 100, 650};

static au_trend_metrics_t analyze10(const double *v)
{
    au_point_t p[10];
    au_trend_metrics_t m;
    daily(p, v, 10);
    cr_assert_eq(au_trend_analyze(p, 10, &m), 0);
    return m;
}

Test(trend, artist_1_is_viral_with_the_golden_metrics)
{
    au_trend_metrics_t m = analyze10(artist_1);
    NEAR(m.velocity, 300);
    NEAR(m.acceleration, -18.75);
    NEAR(m.momentum, 0.7778);
    NEAR(m.volatility, 0.7034);
    NEAR(m.growth_rate, 2700);
    NEAR(m.strength, 0.9533);
    NEAR(m.peak_value, 3000);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_VIRAL);
}

Test(trend, artist_2_is_viral_with_the_golden_metrics)
{
    au_trend_metrics_t m = analyze10(artist_2);
    NEAR(m.velocity, 70);
    NEAR(m.growth_rate, 315);
    NEAR(m.strength, 0.9841);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_VIRAL);
}

Test(trend, artist_2_continuation_matches_golden_values)
{
    /* Golden: 840, 910, ... 1260 (7 periods), confidence .5422. */
    au_point_t p[10];
    double pred[7];
    au_continuation_t c;
    daily(p, artist_2, 10);
    cr_assert_eq(au_trend_continuation(p, 10, 7, pred, &c), 0);
    for (int i = 0; i < 7; i++)
        NEAR(pred[i], 840 + 70 * i);
    NEAR(c.confidence, 0.5422);
    cr_assert(c.rising);
    cr_assert(c.volatility_warning);
}

Test(trend, artist_3_is_falling_with_the_golden_metrics)
{
    au_trend_metrics_t m = analyze10(artist_3);
    NEAR(m.growth_rate, -58);
    NEAR(m.volatility, 0.2774);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_FALLING);
}

/* The sample's "volatile" artist is classed viral: growth is checked
 * before volatility (docs/scorers.md, Trend analyzer). */
Test(trend, artist_4_volatile_series_is_viral_because_growth_comes_first)
{
    au_trend_metrics_t m = analyze10(artist_4);
    NEAR(m.growth_rate, 350.0 / 3.0); /* the table's 116.67, rounded */
    NEAR(m.strength, 0.1769);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_VIRAL);
}

/* 10, 12, 11, 13, 15, 14: differences 2 -1 2 2 -1 -> velocity .8,
 * second differences -3 3 0 -3 -> -.75, longest run 2 of 5 -> .4.
 * Mean 12.5, squared deviations 17.5 -> std sqrt(17.5/6) = 1.707825,
 * volatility .136626. Growth 40 %. sxy 15.5, sxx 17.5, syy 17.5 ->
 * r = .885714. Rising: growth >= 15, volatility < .3, strength >= .7. */
Test(trend, small_series_metrics_as_worked_by_hand)
{
    static const double v[] = {10, 12, 11, 13, 15, 14};
    au_point_t p[6];
    au_trend_metrics_t m;
    daily(p, v, 6);
    cr_assert_eq(au_trend_analyze(p, 6, &m), 0);
    NEAR(m.velocity, 0.8);
    NEAR(m.acceleration, -0.75);
    NEAR(m.momentum, 0.4);
    NEAR(m.volatility, 0.136626);
    NEAR(m.growth_rate, 40);
    NEAR(m.strength, 0.885714);
    NEAR(m.peak_value, 15);
    cr_assert_eq(m.peak_index, 4);
    NEAR(m.peak_time, JULY_15_2024 + 4 * DAY);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_RISING);
    cr_assert_not(au_trend_is_emerging(&m, 10));
    NEAR(au_trend_rank_key(&m), 0.885714 * 40);
}

/* Differences 1 1 0 1 1 1: the zero breaks the run, longest 3 of 6.
 * Growth 100 and strength .97 would make it emerging, but momentum .5 is
 * not above .5. */
Test(trend, zero_difference_ends_a_momentum_run)
{
    static const double v[] = {5, 6, 7, 7, 8, 9, 10};
    au_point_t p[7];
    au_trend_metrics_t m;
    daily(p, v, 7);
    cr_assert_eq(au_trend_analyze(p, 7, &m), 0);
    NEAR(m.momentum, 0.5);
    cr_assert_not(au_trend_is_emerging(&m, 5));
}

/* 50, 55, 60, 66, 75: growth 50 %, strength near 1, momentum 1. */
Test(trend, steady_climb_from_a_small_start_is_emerging)
{
    static const double v[] = {50, 55, 60, 66, 75};
    au_point_t p[5];
    au_trend_metrics_t m;
    daily(p, v, 5);
    cr_assert_eq(au_trend_analyze(p, 5, &m), 0);
    NEAR(m.momentum, 1.0);
    NEAR(m.growth_rate, 50);
    cr_assert(au_trend_is_emerging(&m, 50));
    cr_assert_not(au_trend_is_emerging(&m, 100));
}

Test(trend, constant_series_has_zero_strength_and_is_stable)
{
    static const double v[] = {40, 40, 40, 40, 40};
    au_point_t p[5];
    au_trend_metrics_t m;
    daily(p, v, 5);
    cr_assert_eq(au_trend_analyze(p, 5, &m), 0);
    NEAR(m.strength, 0);
    NEAR(m.volatility, 0);
    NEAR(m.momentum, 0);
    cr_assert_eq(au_trend_direction(&m), AU_DIR_STABLE);
}

Test(trend, zero_first_value_gives_zero_growth)
{
    static const double v[] = {0, 5, 10, 20, 40};
    au_point_t p[5];
    au_trend_metrics_t m;
    daily(p, v, 5);
    cr_assert_eq(au_trend_analyze(p, 5, &m), 0);
    NEAR(m.growth_rate, 0);
}

/* An exactly linear 200, 270, ..., 830: slope 70, intercept 200, so the
 * line continues at index 10 with 900. Strength 1; std 70*sqrt(99/12) =
 * 201.0597 over mean 515 -> volatility .390407 -> confidence .609593. */
Test(trend, continuation_of_a_linear_series_extends_the_line)
{
    double v[10], pred[7];
    au_point_t p[10];
    au_continuation_t c;
    for (size_t i = 0; i < 10; i++)
        v[i] = 200.0 + 70.0 * (double)i;
    daily(p, v, 10);
    cr_assert_eq(au_trend_continuation(p, 10, 7, pred, &c), 0);
    NEAR(c.slope, 70);
    NEAR(c.intercept, 200);
    NEAR(pred[0], 900);
    NEAR(pred[6], 1320);
    NEAR(c.confidence, 0.609593);
    cr_assert(c.rising);
    cr_assert(c.volatility_warning);
}

Test(trend, falling_continuation_is_not_rising)
{
    static const double v[] = {90, 80, 82, 70, 60};
    au_point_t p[5];
    au_continuation_t c;
    daily(p, v, 5);
    cr_assert_eq(au_trend_continuation(p, 5, 3, NULL, &c), AU_EINVAL);
    cr_assert_eq(au_trend_continuation(p, 5, 0, NULL, &c), 0);
    cr_assert_not(c.rising);
}

Test(trend, fewer_than_five_points_or_unsorted_points_are_rejected)
{
    static const double v[] = {1, 2, 3, 4, 5};
    au_point_t p[5];
    au_trend_metrics_t m;
    daily(p, v, 5);
    cr_assert_eq(au_trend_analyze(p, 4, &m), AU_EINVAL);
    cr_assert_eq(au_trend_analyze(NULL, 5, &m), AU_EINVAL);
    p[3].t = p[1].t - 1;
    cr_assert_eq(au_trend_analyze(p, 5, &m), AU_EINVAL);
    daily(p, v, 5);
    p[2].value = NAN;
    cr_assert_eq(au_trend_analyze(p, 5, &m), AU_EINVAL);
}

Test(trend, windows_have_the_documented_lengths_and_minimums)
{
    static const struct {
        double days;
        size_t min;
    } want[] = {{1, 5}, {30, 7}, {84, 4}, {360, 3}, {720, 2}, {1825, 2}};
    for (int tf = AU_TF_HOURLY; tf <= AU_TF_YEARLY; tf++) {
        double secs;
        size_t min;
        cr_assert_eq(au_trend_window((au_timeframe_t)tf, &secs, &min), 0);
        NEAR(secs / DAY, want[tf].days);
        cr_assert_eq(min, want[tf].min);
    }
    double secs;
    size_t min;
    cr_assert_eq(au_trend_window((au_timeframe_t)6, &secs, &min), AU_EINVAL);
}

/* Points 40, 31, 29, 20, 10, 5, 2, 1 and 0 days before now: the daily
 * window (30 days) keeps the last 7, just enough; the hourly one keeps the
 * last 2 (a point exactly 24 h old is inside); the yearly window is bounded
 * by the 365-day retention. */
Test(trend, window_select_keeps_points_since_the_cutoff)
{
    static const double ago[] = {40, 31, 29, 20, 10, 5, 2, 1, 0};
    au_point_t p[9];
    size_t first, count;
    int enough;
    for (size_t i = 0; i < 9; i++)
        p[i] = (au_point_t){JULY_15_2024 - ago[i] * DAY, (double)i};
    cr_assert_eq(au_trend_window_select(p, 9, AU_TF_DAILY, JULY_15_2024, &first,
                                        &count, &enough),
                 0);
    cr_assert_eq(first, 2);
    cr_assert_eq(count, 7);
    cr_assert(enough);
    cr_assert_eq(au_trend_window_select(p, 9, AU_TF_HOURLY, JULY_15_2024,
                                        &first, &count, &enough),
                 0);
    cr_assert_eq(first, 7);
    cr_assert_eq(count, 2);
    cr_assert_not(enough);

    au_point_t old[2] = {{JULY_15_2024 - 400 * DAY, 1},
                         {JULY_15_2024 - 300 * DAY, 2}};
    cr_assert_eq(au_trend_window_select(old, 2, AU_TF_YEARLY, JULY_15_2024,
                                        &first, &count, &enough),
                 0);
    cr_assert_eq(first, 1);
    cr_assert_eq(count, 1);
}

Test(trend, metrics_stay_in_range_over_a_sweep_of_series)
{
    uint32_t seed = 4242;
    for (int iter = 0; iter < 2000; iter++) {
        au_point_t p[30];
        au_trend_metrics_t m;
        au_continuation_t c;
        double pred[3];
        size_t n = AU_TREND_MIN_POINTS + lcg(&seed) % 26;
        for (size_t i = 0; i < n; i++)
            p[i] = (au_point_t){(double)i * 3600.0,
                                (double)(lcg(&seed) % 5) * 250.0};
        cr_assert_eq(au_trend_analyze(p, n, &m), 0);
        cr_assert(m.momentum >= 0.0 && m.momentum <= 1.0);
        cr_assert(m.strength >= 0.0 && m.strength <= 1.0);
        cr_assert(m.volatility >= 0.0);
        cr_assert(m.peak_index < n);
        cr_assert(au_direction_name(au_trend_direction(&m))[0] != 'u');
        cr_assert_eq(au_trend_continuation(p, n, 3, pred, &c), 0);
        cr_assert(isfinite(pred[2]));
    }
}

/* ---- mood scorer: golden values --------------------------------------- */

static void check_mood(const au_mood_features_t *f, au_mood_t mood, double want)
{
    double score;
    cr_assert_eq(au_mood_score(f, mood, &score, NULL), 0);
    cr_assert_float_eq(score, want, GOLD_EPS, "%s: %.4f, want %.3f",
                       au_mood_name(mood), score, want);
}

Test(mood, upbeat_track_golden_scores_match)
{
    au_mood_features_t f = {
        .valence = .9, .energy = .85, .danceability = .8, .tempo = 120};
    check_mood(&f, AU_MOOD_HAPPY_UPBEAT, 95.556);
    check_mood(&f, AU_MOOD_PARTY_DANCE, 92.982);
    check_mood(&f, AU_MOOD_MORNING_ENERGY, 93.556);
    check_mood(&f, AU_MOOD_MELANCHOLIC, 29.268);
}

Test(mood, quiet_track_golden_scores_match)
{
    au_mood_features_t f = {
        .valence = .2, .energy = .3, .danceability = .4, .tempo = 80};
    check_mood(&f, AU_MOOD_MELANCHOLIC, 95.610);
    check_mood(&f, AU_MOOD_FOCUS, 93.077);
    check_mood(&f, AU_MOOD_LATE_NIGHT, 92.5);
    check_mood(&f, AU_MOOD_HAPPY_UPBEAT, 32.444);
}

/* All features missing: the defaults .5/.5/.5/120. HAPPY: valence
 * and energy .1 below .6 -> .8 each, tempo 1, danceability .5 >= .5 ->
 * (1.2 + .96 + .8 + .5)/4.5 = 76.889, with nothing measured. */
Test(mood, missing_features_use_the_defaults_with_zero_coverage)
{
    au_mood_features_t f = {NAN, NAN, NAN, NAN};
    double score, cov;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_HAPPY_UPBEAT, &score, &cov), 0);
    NEAR(score, 76.889);
    NEAR(cov, 0.0);
    f.energy = .5;
    f.tempo = 120;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_HAPPY_UPBEAT, &score, &cov), 0);
    NEAR(score, 76.889);
    NEAR(cov, 2.0 / 4.5);
}

/* Below the 0.7 minimum, PARTY counts half the danceability: .6 -> .3. */
Test(mood, danceability_below_minimum_counts_half)
{
    au_mood_features_t f = {
        .valence = .8, .energy = .8, .danceability = .6, .tempo = 120};
    double score;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_PARTY_DANCE, &score, NULL), 0);
    /* (1 + 1.5 + 1.2 + 2 * .3) / 5.7 */
    NEAR(score, 4.3 / 5.7 * 100.0);
}

Test(mood, names_and_labels_have_no_emoji)
{
    cr_assert_str_eq(au_mood_name(AU_MOOD_LATE_NIGHT), "LATE_NIGHT");
    cr_assert_str_eq(au_mood_label(AU_MOOD_LATE_NIGHT), "Late Night Vibes");
    cr_assert_str_eq(au_mood_label(AU_MOOD_MELANCHOLIC),
                     "Melancholic & Reflective");
    cr_assert_str_eq(au_mood_name(AU_MOOD_COUNT), "unknown");
}

Test(mood, invalid_features_are_rejected)
{
    au_mood_features_t f = {
        .valence = 1.2, .energy = .5, .danceability = .5, .tempo = 120};
    double score;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_FOCUS, &score, NULL), AU_EINVAL);
    f.valence = .5;
    f.tempo = INFINITY;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_FOCUS, &score, NULL), AU_EINVAL);
    f.tempo = 120;
    cr_assert_eq(au_mood_score(&f, AU_MOOD_COUNT, &score, NULL), AU_EINVAL);
    cr_assert_eq(au_mood_score(NULL, AU_MOOD_FOCUS, &score, NULL), AU_EINVAL);
}

Test(mood, scores_stay_in_range_over_a_grid_of_features)
{
    for (int v = 0; v <= 10; v++)
        for (int e = 0; e <= 10; e++)
            for (int d = 0; d <= 10; d++)
                for (int t = 0; t <= 250; t += 25) {
                    au_mood_features_t f = {v / 10.0, e / 10.0, d / 10.0,
                                            (double)t};
                    for (int m = 0; m < AU_MOOD_COUNT; m++) {
                        double s, c;
                        cr_assert_eq(au_mood_score(&f, (au_mood_t)m, &s, &c),
                                     0);
                        cr_assert(s >= 0.0 && s <= 100.0);
                        cr_assert_float_eq(c, 1.0, 1e-12);
                    }
                }
}

/* ---- mood playlists ---------------------------------------------------- */

static const au_mood_features_t upbeat = {.9, .85, .8, 120};
static const au_mood_features_t quiet = {.2, .3, .4, 80};

Test(mood, playlists_keep_scores_above_minimum_best_first_ties_in_order)
{
    au_mood_features_t tracks[] = {upbeat, quiet, upbeat};
    au_mood_playlists_t *pl = NULL;
    cr_assert_eq(au_mood_playlists_new(tracks, 3, NULL, &pl), 0);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_HAPPY_UPBEAT), 2);
    const au_mood_entry_t *e =
        au_mood_playlists_entries(pl, AU_MOOD_HAPPY_UPBEAT);
    cr_assert_eq(e[0].index, 0);
    cr_assert_eq(e[1].index, 2);
    NEAR(e[0].score, 95.556);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_MELANCHOLIC), 1);
    e = au_mood_playlists_entries(pl, AU_MOOD_MELANCHOLIC);
    cr_assert_eq(e[0].index, 1);
    NEAR(e[0].score, 95.610);
    au_mood_playlists_destroy(&pl);
    cr_assert_null(pl);
    au_mood_playlists_destroy(&pl);
}

/* FOCUS scores the quiet track 93.077 and the upbeat one below 60. */
Test(mood, playlists_sort_by_score_and_cap_per_mood)
{
    au_mood_features_t tracks[] = {upbeat, quiet, upbeat, quiet, upbeat};
    au_mood_options_t opt;
    au_mood_options_default(&opt);
    opt.max_per_mood = 2;
    au_mood_playlists_t *pl = NULL;
    cr_assert_eq(au_mood_playlists_new(tracks, 5, &opt, &pl), 0);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_HAPPY_UPBEAT), 2);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_FOCUS), 2);
    const au_mood_entry_t *e = au_mood_playlists_entries(pl, AU_MOOD_FOCUS);
    cr_assert_eq(e[0].index, 1);
    cr_assert_eq(e[1].index, 3);
    for (int m = 0; m < AU_MOOD_COUNT; m++) {
        size_t n = au_mood_playlists_size(pl, (au_mood_t)m);
        e = au_mood_playlists_entries(pl, (au_mood_t)m);
        for (size_t i = 0; i + 1 < n; i++)
            cr_assert(e[i].score >= e[i + 1].score);
        for (size_t i = 0; i < n; i++)
            cr_assert(e[i].score >= 60.0);
    }
    au_mood_playlists_destroy(&pl);
}

/* The all-missing track scores 76.889 for HAPPY on defaults alone: it is
 * listed by default and dropped with min_coverage. */
Test(mood, min_coverage_drops_tracks_scored_on_defaults)
{
    au_mood_features_t tracks[] = {{NAN, NAN, NAN, NAN}};
    au_mood_options_t opt;
    au_mood_playlists_t *pl = NULL;
    au_mood_options_default(&opt);
    cr_assert_eq(au_mood_playlists_new(tracks, 1, &opt, &pl), 0);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_HAPPY_UPBEAT), 1);
    au_mood_playlists_destroy(&pl);
    opt.min_coverage = 0.5;
    cr_assert_eq(au_mood_playlists_new(tracks, 1, &opt, &pl), 0);
    cr_assert_eq(au_mood_playlists_size(pl, AU_MOOD_HAPPY_UPBEAT), 0);
    cr_assert_null(au_mood_playlists_entries(pl, AU_MOOD_HAPPY_UPBEAT));
    au_mood_playlists_destroy(&pl);
}

Test(mood, empty_track_list_gives_empty_playlists)
{
    au_mood_playlists_t *pl = NULL;
    cr_assert_eq(au_mood_playlists_new(NULL, 0, NULL, &pl), 0);
    for (int m = 0; m < AU_MOOD_COUNT; m++)
        cr_assert_eq(au_mood_playlists_size(pl, (au_mood_t)m), 0);
    au_mood_playlists_destroy(&pl);
}

Test(mood, playlists_reject_bad_options_and_tracks)
{
    au_mood_features_t bad[] = {upbeat, {2, .5, .5, 120}};
    au_mood_options_t opt;
    au_mood_playlists_t *pl = NULL;
    cr_assert_eq(au_mood_playlists_new(bad, 2, NULL, &pl), AU_EINVAL);
    cr_assert_null(pl);
    au_mood_options_default(&opt);
    opt.min_score = NAN;
    cr_assert_eq(au_mood_playlists_new(bad, 1, &opt, &pl), AU_EINVAL);
    au_mood_options_default(&opt);
    opt.min_coverage = 1.5;
    cr_assert_eq(au_mood_playlists_new(bad, 1, &opt, &pl), AU_EINVAL);
    cr_assert_eq(au_mood_playlists_new(bad, AU_MOOD_MAX_TRACKS + 1, NULL, &pl),
                 AU_ETOOBIG);
}

/* ---- cross-platform spread -------------------------------------------- */

/* TikTok first (two rows: earliest t0, peak 70), YouTube 26 h later
 * (peak 50), Spotify 50 h after TikTok (peak 90): lags 26 h and 24 h,
 * changes -20 and +40, strengths 2 and 4, 50 h in all. */
Test(spread, platforms_ordered_by_first_appearance_with_lags_and_strengths)
{
    const double t0 = JULY_15_2024;
    au_spread_obs_t obs[] = {{"spotify", t0 + 50 * 3600.0, 90},
                             {"tiktok", t0 + 2 * 3600.0, 70},
                             {"youtube", t0 + 26 * 3600.0, 50},
                             {"tiktok", t0, 40},
                             {"youtube", t0 + 30 * 3600.0, 45}};
    au_spread_platform_t p[5];
    au_spread_step_t s[5];
    size_t np;
    double total;
    cr_assert_eq(au_spread_analyze(obs, 5, p, 5, &np, s, &total), 0);
    cr_assert_eq(np, 3);
    cr_assert_str_eq(p[0].platform, "tiktok");
    cr_assert_str_eq(p[1].platform, "youtube");
    cr_assert_str_eq(p[2].platform, "spotify");
    NEAR(p[0].first_seen, t0);
    NEAR(p[0].peak_score, 70);
    NEAR(p[1].peak_score, 50);
    NEAR(s[0].lag_hours, 26);
    NEAR(s[0].score_change, -20);
    NEAR(s[0].propagation_strength, 2);
    NEAR(s[1].lag_hours, 24);
    NEAR(s[1].score_change, 40);
    NEAR(s[1].propagation_strength, 4);
    NEAR(total, 50);
}

Test(spread, no_observations_give_no_platforms)
{
    au_spread_platform_t p[1];
    au_spread_step_t s[1];
    size_t np = 99;
    double total = -1;
    cr_assert_eq(au_spread_analyze(NULL, 0, p, 1, &np, s, &total), 0);
    cr_assert_eq(np, 0);
    NEAR(total, 0);
}

Test(spread, more_platforms_than_capacity_is_too_big)
{
    au_spread_obs_t obs[] = {{"a", 0, 1}, {"b", 1, 1}, {"c", 2, 1}};
    au_spread_platform_t p[2];
    au_spread_step_t s[2];
    size_t np;
    double total;
    cr_assert_eq(au_spread_analyze(obs, 3, p, 2, &np, s, &total), AU_ETOOBIG);
    obs[1].score = 150;
    cr_assert_eq(au_spread_analyze(obs, 3, p, 3, &np, s, &total), AU_EINVAL);
}

Test(spread, simultaneous_first_appearances_are_ordered_by_name)
{
    au_spread_obs_t obs[] = {{"youtube", 5, 10}, {"reddit", 5, 20}};
    au_spread_platform_t p[2];
    au_spread_step_t s[2];
    size_t np;
    double total;
    cr_assert_eq(au_spread_analyze(obs, 2, p, 2, &np, s, &total), 0);
    cr_assert_str_eq(p[0].platform, "reddit");
    NEAR(s[0].lag_hours, 0);
    NEAR(s[0].propagation_strength, 1);
}

/* ---- a chart entry's derived values ------------------------------------ */

static au_entry_in_t entry(long day, int position)
{
    au_entry_in_t in = {
        .day = day, .position = position, .streams = -1, .chart_size = 200};
    return in;
}

Test(entry, first_entry_is_scored_from_its_own_position_alone)
{
    au_entry_in_t in = entry(18000, 1);
    au_entry_t out;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    NEAR(out.score, 100.0);
    cr_assert_eq(out.prev_position, 0);
    /* One platform at 100, no social counts, audio at its 50 fallback:
     * 0.40 * 100 + 0.35 * 0 + 0.25 * 50. */
    NEAR(out.viral.viral_score, 52.5);
    /* One history point: momentum 0.8 * viral, acceleration
     * 0.5 * (viral - 50). */
    NEAR(out.viral.momentum, 42.0);
    NEAR(out.viral.acceleration, 1.25);
    cr_assert_eq(out.direction, -1);
    cr_assert_eq(out.mood, -1);
    cr_assert(isnan(out.mood_score));
}

Test(entry, previous_position_is_the_newest_earlier_entry)
{
    au_entry_hist_t h[] = {{17990, 50, -1}, {17999, 7, -1}};
    au_entry_in_t in = entry(18000, 3);
    in.history = h;
    in.n_history = 2;
    au_entry_t out;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    cr_assert_eq(out.prev_position, 7);
    NEAR(out.score, 99.0);
}

Test(entry, five_points_give_a_direction_and_features_a_mood)
{
    au_entry_hist_t h[] = {{1, 100, -1}, {2, 80, -1}, {3, 60, -1}, {4, 40, -1}};
    au_entry_in_t in = entry(5, 20);
    in.history = h;
    in.n_history = 4;
    in.has_features = 1;
    in.danceability = 0.9;
    in.energy = 0.8;
    in.valence = 0.9;
    in.tempo = 125;
    au_entry_t out;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    cr_assert_geq(out.direction, 0);
    cr_assert_lt(out.direction, (int)AU_DIR_VIRAL + 1);
    cr_assert_geq(out.mood, 0);
    cr_assert_lt(out.mood, AU_MOOD_COUNT);
    cr_assert(out.mood_score >= 0 && out.mood_score <= 100);
}

Test(entry, the_same_inputs_give_the_same_values)
{
    au_entry_hist_t h[] = {{10, 30, -1}, {11, 25, -1}, {12, 9, -1}};
    au_entry_in_t in = entry(13, 4);
    in.history = h;
    in.n_history = 3;
    au_entry_t a, b;
    cr_assert_eq(au_entry_score(&in, &a), 0);
    cr_assert_eq(au_entry_score(&in, &b), 0);
    /* Bit for bit: stored values must not depend on the run. */
    const double x[] = {a.score, a.viral.viral_score, a.viral.momentum,
                        a.viral.acceleration, a.viral.measured_confidence};
    const double y[] = {b.score, b.viral.viral_score, b.viral.momentum,
                        b.viral.acceleration, b.viral.measured_confidence};
    cr_assert_eq(memcmp(x, y, sizeof(x)), 0);
    cr_assert_eq(a.prev_position, b.prev_position);
    cr_assert_eq(a.direction, b.direction);
}

Test(entry, history_not_strictly_before_the_entry_is_invalid)
{
    au_entry_hist_t late[] = {{20, 5, -1}};
    au_entry_hist_t unsorted[] = {{12, 5, -1}, {11, 4, -1}};
    au_entry_hist_t bad_pos[] = {{11, 0, -1}};
    au_entry_in_t in = entry(20, 4);
    au_entry_t out;
    in.history = late;
    in.n_history = 1;
    cr_assert_eq(au_entry_score(&in, &out), AU_EINVAL);
    in.history = unsorted;
    in.n_history = 2;
    cr_assert_eq(au_entry_score(&in, &out), AU_EINVAL);
    in.history = bad_pos;
    in.n_history = 1;
    cr_assert_eq(au_entry_score(&in, &out), AU_EINVAL);
    in = entry(20, 0);
    cr_assert_eq(au_entry_score(&in, &out), AU_EINVAL);
    in = entry(20, 1);
    in.n_history = AU_ENTRY_HISTORY + 1;
    in.history = late;
    cr_assert_eq(au_entry_score(&in, &out), AU_EINVAL);
}

/* ---- the breakout model on an entry ---------------------------------- */

Test(entry, breakout_is_computed_for_weekly_entries_below_the_line_only)
{
    au_entry_in_t in = entry(18000, 80);
    au_entry_t out;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    cr_assert(isnan(out.breakout), "not a weekly chart");
    in.weekly = 1;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    cr_assert(out.breakout > 0 && out.breakout < 1, "%g", out.breakout);
    in = entry(18000, 50);
    in.weekly = 1;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    cr_assert(isnan(out.breakout), "at the line already");
}

/* The window an entry's history gives the model is the backtest's: the
 * last 8 chart weeks, oldest first, 0 for a week off the chart, the
 * entry itself last; a week read within 3 days of its date. */
Test(entry, breakout_reads_the_same_window_as_the_backtest)
{
    const long d = 18000;
    au_entry_hist_t h[] = {
        {d - 56, 10, 900000},  /* eight weeks back: outside the window */
        {d - 22, 150, 300000}, /* three weeks back, a day early */
        {d - 7, 120, 400000},  /* last week; two weeks back off the chart */
    };
    au_entry_in_t in = entry(d, 80);
    in.streams = 500000;
    in.weekly = 1;
    in.history = h;
    in.n_history = 3;
    au_entry_t out;
    cr_assert_eq(au_entry_score(&in, &out), 0);
    const int pos[8] = {0, 0, 0, 0, 150, 0, 120, 80};
    const double st[8] = {NAN, NAN, NAN, NAN, 300000, NAN, 400000, 500000};
    au_bt_hist_t bh = {pos, st, 8};
    double want;
    cr_assert_eq(au_bt_breakout_prob(&au_breakout_top50, &bh, &want), 0);
    cr_assert_eq(out.breakout, want, "%.17g != %.17g", out.breakout, want);
    /* The same track falling instead of climbing is less likely to
     * break out. */
    h[2].position = 60;
    h[2].streams = 700000;
    au_entry_t fall;
    cr_assert_eq(au_entry_score(&in, &fall), 0);
    cr_assert_lt(fall.breakout, out.breakout);
}
