/* au_bt_metrics.c: the backtest's metrics: precision, pooled recall and
 * lead per week, their bootstrap intervals, paired differences, the
 * ranking order, and the calibration of probability forecasts. */
#include "au_backtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au_bt_boot.h"

double au_bt_precision_at(const unsigned char *hit_ranked, size_t n, size_t k)
{
    size_t m = k < n ? k : n;
    if (m == 0)
        return 0.0;
    size_t h = 0;
    for (size_t i = 0; i < m; i++)
        h += hit_ranked[i] != 0;
    return (double)h / (double)m;
}

double au_bt_precision_k(const au_bt_metrics_t *m, int k, au_bt_ci_t *ci)
{
    if (ci)
        *ci = k == 10 ? m->p10_ci : m->p20_ci;
    return k == 10 ? m->p10 : m->p20;
}

/* ---- rows of per-week sums ------------------------------------------ */

/* A growable table of d doubles per week. */
typedef struct {
    double *v;
    size_t n, cap, d;
} rows_t;

/* A zeroed new row, or NULL when out of memory. */
static double *rows_push(rows_t *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        double *v = realloc(t->v, cap * t->d * sizeof(*v));
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    double *row = t->v + t->n * t->d;
    memset(row, 0, t->d * sizeof(*row));
    return row;
}

static void sum_rows(const rows_t *t, double *s)
{
    memset(s, 0, t->d * sizeof(*s));
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->d; j++)
            s[j] += t->v[i * t->d + j];
}

/* The bootstrap sums of t's weeks (AU_BT_BOOT_REPS rows of t->d); the
 * caller frees them. */
static int boot(const rows_t *t, double **sums)
{
    *sums = malloc(AU_BT_BOOT_REPS * t->d * sizeof(**sums));
    if (!*sums)
        return AU_ENOMEM;
    return au_bt_boot_sums(t->v, t->n, t->d, AU_BT_BOOT_BLOCK, AU_BT_BOOT_REPS,
                           AU_BT_BOOT_SEED, *sums);
}

/* ---- ranking metrics ------------------------------------------------ */

struct au_bt_acc_t {
    rows_t rows; /* AU_BT_WK_COLS per week */
};

au_bt_acc_t *au_bt_acc_new(void)
{
    au_bt_acc_t *a = calloc(1, sizeof(*a));
    if (a)
        a->rows.d = AU_BT_WK_COLS;
    return a;
}

void au_bt_acc_destroy(au_bt_acc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows.v);
    free(*self_p);
    *self_p = NULL;
}

int au_bt_acc_add(au_bt_acc_t *a, const unsigned char *hit_ranked,
                  const int *lead_ranked, size_t n)
{
    if (!a || (n && (!hit_ranked || !lead_ranked)))
        return AU_EINVAL;
    for (size_t i = 0; i < n && i < 20; i++)
        if (hit_ranked[i] &&
            (lead_ranked[i] < 1 || lead_ranked[i] > AU_BT_HORIZON))
            return AU_EINVAL;
    double *row = rows_push(&a->rows);
    if (!row)
        return AU_ENOMEM;
    row[AU_BT_WK_P10] = au_bt_precision_at(hit_ranked, n, 10);
    row[AU_BT_WK_P20] = au_bt_precision_at(hit_ranked, n, 20);
    row[AU_BT_WK_CAND] = (double)n;
    for (size_t i = 0; i < n; i++) {
        if (!hit_ranked[i])
            continue;
        row[AU_BT_WK_HITS] += 1.0;
        if (i < 20) {
            row[AU_BT_WK_TP20] += 1.0;
            row[AU_BT_WK_LEAD + lead_ranked[i] - 1] += 1.0;
        }
    }
    a->rows.n++;
    return 0;
}

/* The metrics (intervals left NAN) of column sums over `weeks` weeks. */
static void metrics_of_sums(const double *s, size_t weeks, au_bt_metrics_t *out)
{
    double w = (double)weeks;
    memset(out, 0, sizeof(*out));
    out->weeks = weeks;
    out->candidates = (size_t)s[AU_BT_WK_CAND];
    out->hits = (size_t)s[AU_BT_WK_HITS];
    out->tp20 = (size_t)s[AU_BT_WK_TP20];
    for (int i = 0; i < AU_BT_HORIZON; i++)
        out->lead[i] = (size_t)s[AU_BT_WK_LEAD + i];
    out->p10 = weeks ? s[AU_BT_WK_P10] / w : NAN;
    out->p20 = weeks ? s[AU_BT_WK_P20] / w : NAN;
    out->recall20 =
        s[AU_BT_WK_HITS] > 0 ? s[AU_BT_WK_TP20] / s[AU_BT_WK_HITS] : NAN;
    out->base_rate =
        s[AU_BT_WK_CAND] > 0 ? s[AU_BT_WK_HITS] / s[AU_BT_WK_CAND] : NAN;
    out->lead_median = au_bt_median_counts(s + AU_BT_WK_LEAD, AU_BT_HORIZON);
    out->p10_ci = out->p20_ci = out->recall20_ci = out->lead_ci =
        (au_bt_ci_t){NAN, NAN};
}

/* The four statistics with intervals, in the order of `vals`. */
enum { ST_P10, ST_P20, ST_RECALL, ST_LEAD, ST_N };

static void stats_of(const au_bt_metrics_t *m, double *v)
{
    v[ST_P10] = m->p10;
    v[ST_P20] = m->p20;
    v[ST_RECALL] = m->recall20;
    v[ST_LEAD] = m->lead_median;
}

/* Intervals of the ST_N statistics from their resampled values v
 * (ST_N blocks of AU_BT_BOOT_REPS). */
static void set_intervals(double *v, au_bt_metrics_t *out)
{
    const size_t reps = AU_BT_BOOT_REPS;
    au_bt_ci_t *ci[ST_N] = {&out->p10_ci, &out->p20_ci, &out->recall20_ci,
                            &out->lead_ci};
    for (size_t j = 0; j < ST_N; j++)
        au_bt_interval(v + j * reps, reps, AU_BT_BOOT_LEVEL, &ci[j]->lo,
                       &ci[j]->hi);
}

int au_bt_acc_result(const au_bt_acc_t *a, au_bt_metrics_t *out)
{
    const size_t reps = AU_BT_BOOT_REPS, n = a->rows.n;
    double s[AU_BT_WK_COLS], *sums = NULL;
    sum_rows(&a->rows, s);
    metrics_of_sums(s, n, out);
    if (n == 0)
        return 0;
    double *v = malloc(ST_N * reps * sizeof(*v));
    int rc = v ? boot(&a->rows, &sums) : AU_ENOMEM;
    for (size_t k = 0; rc == 0 && k < reps; k++) {
        au_bt_metrics_t m;
        double st[ST_N];
        metrics_of_sums(sums + k * AU_BT_WK_COLS, n, &m);
        stats_of(&m, st);
        for (size_t j = 0; j < ST_N; j++)
            v[j * reps + k] = st[j];
    }
    if (rc == 0)
        set_intervals(v, out);
    free(sums);
    free(v);
    return rc;
}

/* out = a - b for the four statistics (NAN when either is). */
static void diff_of(const au_bt_metrics_t *a, const au_bt_metrics_t *b,
                    au_bt_metrics_t *out)
{
    double x[ST_N], y[ST_N];
    stats_of(a, x);
    stats_of(b, y);
    out->p10 = x[ST_P10] - y[ST_P10];
    out->p20 = x[ST_P20] - y[ST_P20];
    out->recall20 = x[ST_RECALL] - y[ST_RECALL];
    out->lead_median = x[ST_LEAD] - y[ST_LEAD];
}

int au_bt_acc_paired(const au_bt_acc_t *a, const au_bt_acc_t *b,
                     au_bt_metrics_t *diff)
{
    if (!a || !b || !diff || a->rows.n == 0 || a->rows.n != b->rows.n)
        return AU_EINVAL;
    const size_t n = a->rows.n, d = AU_BT_WK_COLS, reps = AU_BT_BOOT_REPS;
    /* Both methods' columns of a week side by side, so each resample
     * takes the same weeks for both: the pairing. */
    rows_t both = {malloc(n * 2 * d * sizeof(double)), n, n, 2 * d};
    double *v = malloc(ST_N * reps * sizeof(*v)), *sums = NULL;
    int rc = both.v && v ? 0 : AU_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        memcpy(both.v + i * 2 * d, a->rows.v + i * d, d * sizeof(double));
        memcpy(both.v + i * 2 * d + d, b->rows.v + i * d, d * sizeof(double));
    }
    if (rc == 0) {
        au_bt_metrics_t ma, mb;
        double s[2 * AU_BT_WK_COLS];
        sum_rows(&both, s);
        metrics_of_sums(s, n, &ma);
        metrics_of_sums(s + d, n, &mb);
        *diff = ma;
        diff_of(&ma, &mb, diff);
        rc = boot(&both, &sums);
    }
    for (size_t k = 0; rc == 0 && k < reps; k++) {
        au_bt_metrics_t ma, mb, md;
        double st[ST_N];
        metrics_of_sums(sums + k * 2 * d, n, &ma);
        metrics_of_sums(sums + k * 2 * d + d, n, &mb);
        diff_of(&ma, &mb, &md);
        stats_of(&md, st);
        for (size_t j = 0; j < ST_N; j++)
            v[j * reps + k] = st[j];
    }
    if (rc == 0)
        set_intervals(v, diff);
    free(both.v);
    free(sums);
    free(v);
    return rc;
}

/* ---- ranking -------------------------------------------------------- */

typedef struct {
    double score;
    int pos;
    size_t index;
} rank_item_t;

static int cmp_rank(const void *a, const void *b)
{
    const rank_item_t *x = a, *y = b;
    int xn = isnan(x->score), yn = isnan(y->score);
    if (xn != yn)
        return xn - yn;
    if (!xn && x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int au_bt_rank(const double *score, const int *pos, size_t n, size_t *order)
{
    if (n == 0)
        return 0;
    if (!score || !pos || !order)
        return AU_EINVAL;
    rank_item_t *it = malloc(n * sizeof(*it));
    if (!it)
        return AU_ENOMEM;
    for (size_t i = 0; i < n; i++)
        it[i] = (rank_item_t){score[i], pos[i], i};
    qsort(it, n, sizeof(*it), cmp_rank);
    for (size_t i = 0; i < n; i++)
        order[i] = it[i].index;
    free(it);
    return 0;
}

/* ---- calibration ---------------------------------------------------- */

/* Per week: squared errors of the forecasts and of the reference, rows,
 * hits, and per bin the rows, the summed forecast and the hits. */
enum {
    CAL_SSE,
    CAL_SSE_REF,
    CAL_N,
    CAL_HITS,
    CAL_BIN_N,
    CAL_BIN_PRED = CAL_BIN_N + AU_BT_BINS,
    CAL_BIN_HITS = CAL_BIN_PRED + AU_BT_BINS,
    CAL_COLS = CAL_BIN_HITS + AU_BT_BINS
};

struct au_bt_cal_acc_t {
    rows_t rows;
};

au_bt_cal_acc_t *au_bt_cal_new(void)
{
    au_bt_cal_acc_t *a = calloc(1, sizeof(*a));
    if (a)
        a->rows.d = CAL_COLS;
    return a;
}

void au_bt_cal_destroy(au_bt_cal_acc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows.v);
    free(*self_p);
    *self_p = NULL;
}

int au_bt_cal_add(au_bt_cal_acc_t *a, const double *prob,
                  const unsigned char *hit, size_t n, double ref)
{
    if (!a || (n && (!prob || !hit)) || !(ref >= 0.0 && ref <= 1.0))
        return AU_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(prob[i] >= 0.0 && prob[i] <= 1.0))
            return AU_EINVAL;
    double *row = rows_push(&a->rows);
    if (!row)
        return AU_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        double y = hit[i] ? 1.0 : 0.0;
        int bin = (int)(prob[i] * AU_BT_BINS);
        if (bin >= AU_BT_BINS)
            bin = AU_BT_BINS - 1;
        row[CAL_SSE] += (prob[i] - y) * (prob[i] - y);
        row[CAL_SSE_REF] += (ref - y) * (ref - y);
        row[CAL_N] += 1.0;
        row[CAL_HITS] += y;
        row[CAL_BIN_N + bin] += 1.0;
        row[CAL_BIN_PRED + bin] += prob[i];
        row[CAL_BIN_HITS + bin] += y;
    }
    a->rows.n++;
    return 0;
}

static void calib_of_sums(const double *s, au_bt_calib_t *out)
{
    memset(out, 0, sizeof(*out));
    out->n = (size_t)s[CAL_N];
    out->positives = (size_t)s[CAL_HITS];
    out->brier = s[CAL_N] > 0 ? s[CAL_SSE] / s[CAL_N] : NAN;
    out->brier_ref = s[CAL_N] > 0 ? s[CAL_SSE_REF] / s[CAL_N] : NAN;
    out->skill = s[CAL_SSE_REF] > 0 ? 1.0 - s[CAL_SSE] / s[CAL_SSE_REF] : NAN;
    for (int b = 0; b < AU_BT_BINS; b++) {
        double k = s[CAL_BIN_N + b];
        out->bin_n[b] = (size_t)k;
        out->bin_pred[b] = k > 0 ? s[CAL_BIN_PRED + b] / k : NAN;
        out->bin_obs[b] = k > 0 ? s[CAL_BIN_HITS + b] / k : NAN;
    }
    out->brier_ci = out->skill_ci = (au_bt_ci_t){NAN, NAN};
}

int au_bt_cal_result(const au_bt_cal_acc_t *a, au_bt_calib_t *out)
{
    const size_t reps = AU_BT_BOOT_REPS;
    double s[CAL_COLS], *sums = NULL;
    sum_rows(&a->rows, s);
    calib_of_sums(s, out);
    if (a->rows.n == 0)
        return 0;
    double *v = malloc(2 * reps * sizeof(*v));
    int rc = v ? boot(&a->rows, &sums) : AU_ENOMEM;
    for (size_t k = 0; rc == 0 && k < reps; k++) {
        au_bt_calib_t c;
        calib_of_sums(sums + k * CAL_COLS, &c);
        v[k] = c.brier;
        v[reps + k] = c.skill;
    }
    if (rc == 0) {
        au_bt_interval(v, reps, AU_BT_BOOT_LEVEL, &out->brier_ci.lo,
                       &out->brier_ci.hi);
        au_bt_interval(v + reps, reps, AU_BT_BOOT_LEVEL, &out->skill_ci.lo,
                       &out->skill_ci.hi);
    }
    free(sums);
    free(v);
    return rc;
}
