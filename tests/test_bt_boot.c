/* test_bt_boot.c: the backtest's bootstrap: the generator against the
 * published splitmix64 sequence, the block layout of a resample, sums,
 * quantiles and counted medians worked out by hand. */
#include "au_bt_boot.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#define EPS 1e-12
#define NEAR(a, b)                                                             \
    cr_assert_float_eq((a), (b), EPS, "%s = %.15g, want %.15g", #a,            \
                       (double)(a), (double)(b))

Test(rng, follows_the_published_splitmix64_sequence)
{
    /* The reference implementation's first outputs for seed 1234567. */
    au_bt_rng_t r;
    au_bt_rng_seed(&r, 1234567);
    cr_assert_eq(au_bt_rng_next(&r), 6457827717110365317ull);
    cr_assert_eq(au_bt_rng_next(&r), 3203168211198807973ull);
    cr_assert_eq(au_bt_rng_next(&r), 9817491932198370423ull);
}

Test(rng, below_stays_in_range_and_reaches_every_value)
{
    au_bt_rng_t r;
    size_t seen[6] = {0};
    au_bt_rng_seed(&r, 7);
    for (int i = 0; i < 6000; i++) {
        size_t v = au_bt_rng_below(&r, 6);
        cr_assert(v < 6);
        seen[v]++;
    }
    /* 1000 expected per value; 700 is over 9 standard deviations off. */
    for (int v = 0; v < 6; v++)
        cr_assert(seen[v] > 700, "value %d drawn %zu times", v, seen[v]);
    cr_assert_eq(au_bt_rng_below(&r, 1), 0);
    cr_assert_eq(au_bt_rng_below(&r, 0), 0);
}

Test(draw, lays_circular_blocks_end_to_end_and_cuts_the_last)
{
    /* 10 weeks in blocks of 4: weeks 0-3, 4-7 and 8-9 of the resample
     * each run on from a start, wrapping from week 9 to week 0. */
    au_bt_rng_t r;
    size_t idx[10];
    au_bt_rng_seed(&r, 42);
    for (int rep = 0; rep < 50; rep++) {
        au_bt_boot_draw(&r, 10, 4, idx);
        for (size_t i = 0; i < 10; i++) {
            cr_assert(idx[i] < 10);
            if (i % 4)
                cr_assert_eq(idx[i], (idx[i - 1] + 1) % 10);
        }
    }
}

Test(sums, single_week_resamples_are_that_week)
{
    const double x[] = {0.25, 3.0};
    double out[2 * 5];
    cr_assert_eq(au_bt_boot_sums(x, 1, 2, 4, 5, 1, out), 0);
    for (int k = 0; k < 5; k++) {
        NEAR(out[2 * k], 0.25);
        NEAR(out[2 * k + 1], 3.0);
    }
}

Test(sums, constant_weeks_sum_to_n_times_the_row_whatever_the_draw)
{
    double x[7 * 2], out[2 * 100];
    for (int i = 0; i < 7; i++)
        x[2 * i] = 2.0, x[2 * i + 1] = -1.5;
    cr_assert_eq(au_bt_boot_sums(x, 7, 2, 3, 100, 9, out), 0);
    for (int k = 0; k < 100; k++) {
        NEAR(out[2 * k], 14.0);
        NEAR(out[2 * k + 1], -10.5);
    }
}

Test(sums, same_seed_gives_the_same_resamples)
{
    const double x[] = {1, 5, 2, 8, 3, 0};
    double a[50], b[50];
    cr_assert_eq(au_bt_boot_sums(x, 6, 1, 2, 50, 77, a), 0);
    cr_assert_eq(au_bt_boot_sums(x, 6, 1, 2, 50, 77, b), 0);
    cr_assert_arr_eq(a, b, sizeof a);
}

Test(sums, reject_empty_input)
{
    const double x[] = {1};
    double out[1];
    cr_assert_eq(au_bt_boot_sums(x, 0, 1, 1, 1, 0, out), AU_EINVAL);
    cr_assert_eq(au_bt_boot_sums(x, 1, 0, 1, 1, 0, out), AU_EINVAL);
    cr_assert_eq(au_bt_boot_sums(x, 1, 1, 0, 1, 0, out), AU_EINVAL);
    cr_assert_eq(au_bt_boot_sums(x, 1, 1, 1, 0, 0, out), AU_EINVAL);
}

Test(interval, of_two_weeks_zero_and_one_spans_zero_to_one)
{
    /* Weeks 0 and 1, one-week blocks: a resample's mean is 0, 0.5 or 1
     * with chances 1/4, 1/2, 1/4. Of 2000 resamples about 500 are 0, so
     * the 0.025 quantile (the 50th smallest) is 0; likewise 1 on top. */
    const double x[] = {0.0, 1.0};
    double s[2000];
    cr_assert_eq(au_bt_boot_sums(x, 2, 1, 1, 2000, 3, s), 0);
    for (int k = 0; k < 2000; k++)
        s[k] /= 2.0;
    double lo, hi;
    au_bt_interval(s, 2000, 0.95, &lo, &hi);
    NEAR(lo, 0.0);
    NEAR(hi, 1.0);
}

Test(quantile, interpolates_between_order_statistics)
{
    double v[] = {4, 1, 3, 2};
    NEAR(au_bt_quantile(v, 4, 0.5), 2.5); /* position 1.5 */
    NEAR(au_bt_quantile(v, 4, 0.0), 1.0);
    NEAR(au_bt_quantile(v, 4, 1.0), 4.0);
    NEAR(au_bt_quantile(v, 4, 0.25), 1.75); /* position 0.75 */
}

Test(quantile, ignores_nan_and_is_nan_when_nothing_is_left)
{
    double v[] = {NAN, 2, 1}, w[] = {NAN, NAN};
    NEAR(au_bt_quantile(v, 3, 0.5), 1.5);
    cr_assert(isnan(au_bt_quantile(w, 2, 0.5)));
    cr_assert(isnan(au_bt_quantile(NULL, 0, 0.5)));
}

Test(median_counts, is_the_middle_value_or_the_mean_of_the_middle_two)
{
    const double odd[] = {1, 1, 0, 1};  /* {1, 2, 4} */
    const double even[] = {1, 0, 0, 1}; /* {1, 4} */
    const double one[] = {0, 3, 0, 0};  /* {2, 2, 2} */
    const double none[] = {0, 0, 0, 0};
    const double skew[] = {3, 1, 0, 0}; /* {1, 1, 1, 2} */
    NEAR(au_bt_median_counts(odd, 4), 2.0);
    NEAR(au_bt_median_counts(even, 4), 2.5);
    NEAR(au_bt_median_counts(one, 4), 2.0);
    NEAR(au_bt_median_counts(skew, 4), 1.0);
    cr_assert(isnan(au_bt_median_counts(none, 4)));
}
