/* test_bt_model.c: the breakout predictor: its features on hand-made
 * histories (the arithmetic is in the comments), the penalized logistic
 * fit, and the probability. */
#include "au_bt_model.h"

#include <criterion/criterion.h>
#include <math.h>

#define EPS 1e-9
#define NEAR(a, b)                                                             \
    cr_assert_float_eq((a), (b), EPS, "%s = %.12g, want %.12g", #a,            \
                       (double)(a), (double)(b))

/* ---- features ------------------------------------------------------- */

Test(features, of_a_climber_below_the_line)
{
    /* Five weeks: #45, off, #120, #90, #60; streams 1.0, 1.5, 2.0 M in
     * the last three. */
    const int pos[] = {45, 0, 120, 90, 60};
    const double st[] = {9e6, NAN, 1e6, 1.5e6, 2e6};
    au_bt_hist_t h = {pos, st, 5};
    double x[AU_BT_MODEL_NFEAT];
    cr_assert_eq(au_bt_model_features(&h, 50, x), 0);
    NEAR(x[0], log(10.0));         /* 60 - 50 */
    NEAR(x[1], log(90.0 / 60.0));  /* last week's gain */
    NEAR(x[2], log(120.0 / 90.0)); /* the week before's */
    NEAR(x[3], log(2e6 / 1.5e6));  /* stream growth */
    NEAR(x[4], log(1.5e6 / 1e6));  /* the week before's */
    NEAR(x[5], 0.0);               /* charted last week */
    NEAR(x[6], 4.0 / 8.0);         /* 4 charted weeks of 8 */
    NEAR(x[7], log(45.0 / 50.0));  /* best: #45, above the line */
    NEAR(x[8], 4.0 / 8.0);         /* 4 weeks ago */
    NEAR(x[9], 0.0);               /* not at its best */
    NEAR(x[10], 0.0);              /* not new */
    NEAR(x[11], log(10.0) * log(4.0 / 3.0));
}

Test(features, of_a_new_entry_without_a_previous_week)
{
    /* Off, off, #130: gains from 201; no stream growth. */
    const int pos[] = {0, 0, 130};
    const double st[] = {NAN, NAN, 5e5};
    au_bt_hist_t h = {pos, st, 3};
    double x[AU_BT_MODEL_NFEAT];
    cr_assert_eq(au_bt_model_features(&h, 50, x), 0);
    NEAR(x[0], log(80.0));
    NEAR(x[1], log(201.0 / 130.0));
    NEAR(x[2], 0.0); /* 201 -> 201 */
    cr_assert(isnan(x[3]) && isnan(x[4]));
    NEAR(x[5], 1.0);
    NEAR(x[6], 1.0 / 8.0);
    NEAR(x[7], log(130.0 / 50.0));
    NEAR(x[8], 0.0);
    NEAR(x[9], 1.0);
    NEAR(x[10], log(80.0));
    cr_assert(isnan(x[11]));
}

Test(features, of_a_first_week_leave_the_past_missing)
{
    const int pos[] = {70};
    au_bt_hist_t h = {pos, NULL, 1};
    double x[AU_BT_MODEL_NFEAT];
    cr_assert_eq(au_bt_model_features(&h, 50, x), 0);
    cr_assert(isnan(x[1]) && isnan(x[2]) && isnan(x[3]) && isnan(x[5]) &&
              isnan(x[10]));
    NEAR(x[6], 1.0 / 8.0);
}

Test(features, read_only_the_last_eight_weeks)
{
    /* #1 nine weeks back lies outside the window: the best is #20. */
    const int pos[] = {1, 0, 0, 0, 0, 0, 0, 20, 30, 40};
    au_bt_hist_t h = {pos, NULL, 10};
    double x[AU_BT_MODEL_NFEAT];
    cr_assert_eq(au_bt_model_features(&h, 10, x), 0);
    NEAR(x[7], log(20.0 / 10.0));
    NEAR(x[8], 2.0 / 8.0);
    NEAR(x[6], 3.0 / 8.0);
}

Test(features, refuse_a_track_at_or_above_the_line_or_off_the_chart)
{
    const int at[] = {50}, off[] = {0};
    au_bt_hist_t h = {at, NULL, 1};
    double x[AU_BT_MODEL_NFEAT];
    cr_assert_eq(au_bt_model_features(&h, 50, x), AU_EINVAL);
    h.pos = off;
    cr_assert_eq(au_bt_model_features(&h, 50, x), AU_EINVAL);
    h.n = 0;
    cr_assert_eq(au_bt_model_features(&h, 50, x), AU_EINVAL);
}

/* ---- logistic fit --------------------------------------------------- */

Test(logit, separable_toy_set_is_classified_exactly)
{
    const double x[] = {-2, 1, -1, 0, -0.5, -1, 0.5, 1, 1, 0, 2, -1};
    const int y[] = {0, 0, 0, 1, 1, 1};
    double b[3] = {0};
    int it = 0;
    cr_assert_eq(au_bt_logit_fit(x, y, 6, 2, 1e-3, b, &it), 0);
    cr_assert(it > 1 && it < 100, "iterations %d", it);
    for (size_t i = 0; i < 6; i++) {
        double z = au_bt_logit_eval(b, x + 2 * i, 2);
        cr_assert(y[i] ? z > 0 : z < 0, "row %zu: logit %g", i, z);
    }
    cr_assert(b[1] > 0);
}

Test(logit, constant_feature_recovers_the_log_odds)
{
    /* x is always 0, so only the intercept moves; 3 of 4 positive gives
     * log(0.75 / 0.25) = log 3, minus a penalty shift of order l2. */
    const double x[] = {0, 0, 0, 0};
    const int y[] = {1, 1, 1, 0};
    double b[2] = {0};
    cr_assert_eq(au_bt_logit_fit(x, y, 4, 1, 1e-8, b, NULL), 0);
    cr_assert_float_eq(b[0], log(3.0), 1e-6);
    cr_assert_float_eq(b[1], 0.0, 1e-12);
}

Test(logit, warm_start_reaches_the_same_optimum)
{
    const double x[] = {-2, 1, -1, 0, -0.5, -1, 0.5, 1, 1, 0, 2, -1};
    const int y[] = {0, 1, 0, 1, 0, 1};
    double a[3] = {0}, b[3] = {3, -2, 1};
    cr_assert_eq(au_bt_logit_fit(x, y, 6, 2, 0.5, a, NULL), 0);
    cr_assert_eq(au_bt_logit_fit(x, y, 6, 2, 0.5, b, NULL), 0);
    for (int j = 0; j < 3; j++)
        cr_assert_float_eq(a[j], b[j], 1e-9);
}

Test(logit, rejects_empty_input_and_non_finite_values)
{
    const double x[] = {0, NAN};
    const int y[] = {1, 0};
    double b[2] = {0};
    cr_assert_eq(au_bt_logit_fit(x, y, 0, 1, 1.0, b, NULL), AU_EINVAL);
    cr_assert_eq(au_bt_logit_fit(x, y, 2, 1, 1.0, b, NULL), AU_EINVAL);
    cr_assert_eq(au_bt_logit_fit(x, y, 1, 1, 0.0, b, NULL), AU_EINVAL);
}

Test(logit, sigmoid_is_symmetric_and_does_not_overflow)
{
    NEAR(au_bt_sigmoid(0.0), 0.5);
    NEAR(au_bt_sigmoid(2.0) + au_bt_sigmoid(-2.0), 1.0);
    NEAR(au_bt_sigmoid(-1000.0), 0.0);
    NEAR(au_bt_sigmoid(1000.0), 1.0);
}

/* ---- the model ------------------------------------------------------ */

Test(model, with_uninformative_features_fits_the_penalized_base_rate)
{
    /* 400 rows, 300 hits, every feature missing (so 0 once
     * standardized): only the intercept b moves, and the penalized
     * optimum solves 300 - 400 sigmoid(b) - l2 b = 0. */
    static double x[400 * AU_BT_MODEL_NFEAT];
    static int y[400];
    for (size_t i = 0; i < 400 * AU_BT_MODEL_NFEAT; i++)
        x[i] = NAN;
    for (int i = 0; i < 400; i++)
        y[i] = i < 300;
    au_bt_model_t m = {0};
    cr_assert_eq(au_bt_model_fit(x, y, 400, 50, &m), 0);
    double b = m.beta[0];
    cr_assert_float_eq(300.0 - 400.0 * au_bt_sigmoid(b) - AU_BT_MODEL_L2 * b,
                       0.0, 1e-6);
    cr_assert_eq(m.rows, 400);
    cr_assert_eq(m.positives, 300);
    NEAR(au_bt_model_prob(&m, x), au_bt_sigmoid(b));
}

Test(model, standardizes_with_the_training_mean_and_deviation)
{
    /* Feature 0 takes 1 and 3 (mean 2, deviation 1), the rest are
     * missing; the row with 3 is the hit. */
    double x[2 * AU_BT_MODEL_NFEAT];
    const int y[] = {0, 1};
    for (size_t i = 0; i < 2 * AU_BT_MODEL_NFEAT; i++)
        x[i] = NAN;
    x[0] = 1.0;
    x[AU_BT_MODEL_NFEAT] = 3.0;
    au_bt_model_t m = {0};
    cr_assert_eq(au_bt_model_fit(x, y, 2, 50, &m), 0);
    NEAR(m.mean[0], 2.0);
    NEAR(m.sd[0], 1.0);
    NEAR(m.sd[1], 1.0); /* no values: left at 1 */
    cr_assert(m.beta[1] > 0);
    /* A missing feature counts as the mean: standardized 0. */
    NEAR(au_bt_model_prob(&m, x + AU_BT_MODEL_NFEAT),
         au_bt_sigmoid(m.beta[0] + m.beta[1]));
}

Test(model, breakout_prob_is_the_probability_of_the_features)
{
    const int pos[] = {80, 75, 66};
    const double st[] = {1e6, 1.1e6, 1.3e6};
    au_bt_hist_t h = {pos, st, 3};
    au_bt_model_t m = {.line = 50};
    for (int j = 0; j < AU_BT_MODEL_NFEAT; j++) {
        m.mean[j] = 0.1 * j;
        m.sd[j] = 1.0 + j;
        m.beta[j + 1] = j % 2 ? 0.3 : -0.2;
    }
    m.beta[0] = -2.0;
    double x[AU_BT_MODEL_NFEAT], p = -1;
    cr_assert_eq(au_bt_model_features(&h, 50, x), 0);
    cr_assert_eq(au_bt_breakout_prob(&m, &h, &p), 0);
    NEAR(p, au_bt_model_prob(&m, x));
    cr_assert(p > 0 && p < 1);
    m.line = 70; /* #66 is already past a line at 70 */
    cr_assert_eq(au_bt_breakout_prob(&m, &h, &p), AU_EINVAL);
}
