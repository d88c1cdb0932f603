/* au_bt_boot.c: splitmix64, the circular block bootstrap, quantiles. */
#include "au_bt_boot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void au_bt_rng_seed(au_bt_rng_t *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t au_bt_rng_next(au_bt_rng_t *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t au_bt_rng_below(au_bt_rng_t *r, size_t n)
{
    if (n == 0)
        return 0;
    /* Draws below 2^64 mod n would make the low residues more likely;
     * skipping them leaves a whole number of copies of 0..n-1. */
    uint64_t m = (uint64_t)n, floor = -m % m, x;
    do
        x = au_bt_rng_next(r);
    while (x < floor);
    return (size_t)(x % m);
}

void au_bt_boot_draw(au_bt_rng_t *r, size_t n, size_t block, size_t *idx)
{
    size_t k = 0;
    if (block == 0)
        block = 1;
    while (k < n) {
        size_t start = au_bt_rng_below(r, n);
        for (size_t j = 0; j < block && k < n; j++)
            idx[k++] = (start + j) % n;
    }
}

int au_bt_boot_sums(const double *x, size_t n, size_t d, size_t block,
                    size_t reps, uint64_t seed, double *out)
{
    if (!x || !out || n == 0 || d == 0 || block == 0 || reps == 0)
        return AU_EINVAL;
    size_t *idx = malloc(n * sizeof(*idx));
    if (!idx)
        return AU_ENOMEM;
    au_bt_rng_t r;
    au_bt_rng_seed(&r, seed);
    for (size_t k = 0; k < reps; k++) {
        double *s = out + k * d;
        au_bt_boot_draw(&r, n, block, idx);
        memset(s, 0, d * sizeof(*s));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                s[j] += x[idx[i] * d + j];
    }
    free(idx);
    return 0;
}

static int cmp_nan_last(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    int xn = isnan(x), yn = isnan(y);
    if (xn || yn)
        return xn - yn;
    return (x > y) - (x < y);
}

double au_bt_quantile(double *v, size_t n, double q)
{
    if (!v || n == 0)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_nan_last);
    size_t m = n;
    while (m > 0 && isnan(v[m - 1]))
        m--;
    if (m == 0)
        return NAN;
    double h = q * (double)(m - 1);
    size_t i = (size_t)floor(h);
    if (i + 1 >= m)
        return v[m - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

void au_bt_interval(double *v, size_t n, double level, double *lo, double *hi)
{
    *lo = au_bt_quantile(v, n, (1.0 - level) / 2.0);
    /* v is sorted now; the second call sorts it again, cheaply. */
    *hi = au_bt_quantile(v, n, (1.0 + level) / 2.0);
}

/* The value at 0-based position i of the multiset. */
static double nth_counted(const double *count, size_t k, double i)
{
    double seen = 0.0;
    for (size_t v = 0; v < k; v++) {
        seen += count[v];
        if (seen > i)
            return (double)(v + 1);
    }
    return (double)k;
}

double au_bt_median_counts(const double *count, size_t k)
{
    double total = 0.0;
    for (size_t v = 0; v < k; v++)
        total += count[v];
    if (!(total > 0.0))
        return NAN;
    double mid = floor((total - 1.0) / 2.0);
    if (fmod(total, 2.0) == 1.0)
        return nth_counted(count, k, mid);
    return (nth_counted(count, k, mid) + nth_counted(count, k, mid + 1)) / 2.0;
}
