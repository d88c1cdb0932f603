/* au_bt_boot.h: the block bootstrap over weeks that gives the backtest
 * its intervals, and the small order statistics it needs.
 *
 * Pure and reproducible: the draws come from a splitmix64 generator
 * seeded by the caller (no libc rand, no clock), so the same seed gives
 * the same intervals on every machine. docs/backtest.md ("Intervals")
 * says why blocks of weeks are resampled rather than single weeks. */
#ifndef AU_BT_BOOT_H
#define AU_BT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "au_err.h"

#define AU_BT_BOOT_REPS 2000      /* resamples behind every interval */
#define AU_BT_BOOT_BLOCK 4        /* weeks per block: the label horizon */
#define AU_BT_BOOT_SEED 0x617564u /* fixed, so every run agrees */
#define AU_BT_BOOT_LEVEL 0.95

/* A splitmix64 generator: the whole state is one counter. */
typedef struct {
    uint64_t state;
} au_bt_rng_t;

/* Starts the generator at seed. */
void au_bt_rng_seed(au_bt_rng_t *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t au_bt_rng_next(au_bt_rng_t *r);
/* Uniform in 0..n-1 without modulo bias; 0 for n 0. */
size_t au_bt_rng_below(au_bt_rng_t *r, size_t n);

/* One resample of n weeks into idx[0..n): blocks of `block` consecutive
 * weeks, each starting at a uniform week and wrapping from the last week
 * to the first (circular), laid end to end and cut at n. */
void au_bt_boot_draw(au_bt_rng_t *r, size_t n, size_t block, size_t *idx);

/* For reps resamples of the n rows of x (n weeks by d columns, row-major),
 * the column sums over each resample's weeks: out[k * d + j] is column j
 * summed over resample k. A statistic that is a function of column sums
 * (a mean, a pooled ratio, a median of counted values, the difference of
 * two methods measured on the same weeks) is then computed per resample
 * by the caller. AU_EINVAL for a zero size or NULL; AU_ENOMEM. */
int au_bt_boot_sums(const double *x, size_t n, size_t d, size_t block,
                    size_t reps, uint64_t seed, double *out);

/* The q-quantile (0 <= q <= 1) of v[0..n) by linear interpolation
 * between order statistics: position q * (m - 1) among the m values that
 * are not NAN. Sorts v in place (NANs last). NAN when m is 0. */
double au_bt_quantile(double *v, size_t n, double q);

/* The central interval of v[0..n) at level (0.95: the 0.025 and 0.975
 * quantiles), sorting v in place. */
void au_bt_interval(double *v, size_t n, double level, double *lo, double *hi);

/* Median of a multiset of the values 1..k given as counts (count[i] is
 * how often the value i + 1 occurs): the middle value, or the mean of the
 * middle two. NAN when every count is 0. */
double au_bt_median_counts(const double *count, size_t k);

#endif
