/* au_backtest.c: the pure part of the backtest: panel, labels, metrics,
 * rankings, the logistic fit and the run. */
#include "au_backtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au_bt_boot.h"
#include "au_score.h"

au_bt_panel_t *au_bt_panel_new(size_t n_tracks, size_t n_weeks)
{
    if (n_tracks > AU_BT_MAX_TRACKS || n_weeks > AU_BT_MAX_WEEKS)
        return NULL;
    au_bt_panel_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    size_t cells = n_tracks * n_weeks;
    p->n_tracks = n_tracks;
    p->n_weeks = n_weeks;
    p->stride = n_weeks;
    p->owner = 1;
    p->pos = calloc(cells ? cells : 1, sizeof(*p->pos));
    p->streams = malloc((cells ? cells : 1) * sizeof(*p->streams));
    p->week_t = calloc(n_weeks ? n_weeks : 1, sizeof(*p->week_t));
    p->week_date = calloc(n_weeks ? n_weeks : 1, sizeof(*p->week_date));
    p->keys = calloc(n_tracks ? n_tracks : 1, sizeof(char *));
    p->names = calloc(n_tracks ? n_tracks : 1, sizeof(char *));
    p->artists = calloc(n_tracks ? n_tracks : 1, sizeof(char *));
    if (!p->pos || !p->streams || !p->week_t || !p->week_date || !p->keys ||
        !p->names || !p->artists) {
        au_bt_panel_destroy(&p);
        return NULL;
    }
    for (size_t i = 0; i < cells; i++)
        p->streams[i] = NAN;
    return p;
}

void au_bt_panel_destroy(au_bt_panel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_bt_panel_t *p = *self_p;
    if (p->owner) {
        for (size_t r = 0; r < p->n_tracks; r++) {
            if (p->keys)
                free(p->keys[r]);
            if (p->names)
                free(p->names[r]);
            if (p->artists)
                free(p->artists[r]);
        }
        free(p->pos);
        free(p->streams);
        free(p->week_t);
        free(p->week_date);
        free(p->keys);
        free(p->names);
        free(p->artists);
        free(p);
    }
    *self_p = NULL;
}

int au_bt_panel_head(const au_bt_panel_t *p, size_t n_weeks,
                     au_bt_panel_t *view)
{
    if (!p || !view || n_weeks > p->n_weeks)
        return AU_EINVAL;
    *view = *p;
    view->n_weeks = n_weeks;
    view->owner = 0;
    return 0;
}

int au_bt_pos(const au_bt_panel_t *p, size_t r, size_t w)
{
    /* Reading past a view's end would be the leak the view exists to
     * prevent, so it is a programmer error, not a value. */
    if (r >= p->n_tracks || w >= p->n_weeks)
        abort();
    int v = p->pos[r * p->stride + w];
    return v ? v : AU_BT_OFF;
}

static double streams_at(const au_bt_panel_t *p, size_t r, size_t w)
{
    if (r >= p->n_tracks || w >= p->n_weeks)
        abort();
    return p->streams[r * p->stride + w];
}

int au_bt_is_candidate(const au_bt_panel_t *p, size_t r, size_t w)
{
    int v = au_bt_pos(p, r, w);
    return v >= AU_BT_FIRST_CAND && v <= AU_BT_LAST_CAND;
}

int au_bt_label(const au_bt_panel_t *p, size_t r, size_t w, int *hit, int *lead)
{
    if (!p || !hit || !lead || r >= p->n_tracks)
        return AU_EINVAL;
    if (w + AU_BT_HORIZON >= p->n_weeks)
        return AU_ERANGE;
    *hit = 0;
    *lead = 0;
    for (int k = 1; k <= AU_BT_HORIZON; k++) {
        if (au_bt_pos(p, r, w + (size_t)k) <= AU_BT_TOP) {
            *hit = 1;
            *lead = k;
            return 0;
        }
    }
    return 0;
}

/* ---- metrics -------------------------------------------------------- */

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

struct au_bt_acc_t {
    double *rows; /* AU_BT_WK_COLS per week */
    size_t n, cap;
};

au_bt_acc_t *au_bt_acc_new(void)
{
    return calloc(1, sizeof(au_bt_acc_t));
}

void au_bt_acc_destroy(au_bt_acc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows);
    free(*self_p);
    *self_p = NULL;
}

int au_bt_acc_add(au_bt_acc_t *a, const unsigned char *hit_ranked,
                  const int *lead_ranked, size_t n)
{
    if (!a || (n && (!hit_ranked || !lead_ranked)))
        return AU_EINVAL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        double *r = realloc(a->rows, cap * AU_BT_WK_COLS * sizeof(*r));
        if (!r)
            return AU_ENOMEM;
        a->rows = r;
        a->cap = cap;
    }
    double *row = a->rows + a->n * AU_BT_WK_COLS;
    memset(row, 0, AU_BT_WK_COLS * sizeof(*row));
    row[AU_BT_WK_P10] = au_bt_precision_at(hit_ranked, n, 10);
    row[AU_BT_WK_P20] = au_bt_precision_at(hit_ranked, n, 20);
    row[AU_BT_WK_CAND] = (double)n;
    for (size_t i = 0; i < n; i++) {
        if (!hit_ranked[i])
            continue;
        row[AU_BT_WK_HITS] += 1.0;
        if (i >= 20)
            continue;
        if (lead_ranked[i] < 1 || lead_ranked[i] > AU_BT_HORIZON)
            return AU_EINVAL;
        row[AU_BT_WK_TP20] += 1.0;
        row[AU_BT_WK_LEAD + lead_ranked[i] - 1] += 1.0;
    }
    a->n++;
    return 0;
}

const double *au_bt_acc_weeks(const au_bt_acc_t *a, size_t *n)
{
    *n = a->n;
    return a->rows;
}

void metrics_of_sums(const double *s, size_t weeks, au_bt_metrics_t *out)
{
    double w = (double)weeks;
    memset(out, 0, sizeof(*out));
    out->weeks = weeks;
    out->candidates = (size_t)s[AU_BT_WK_CAND];
    out->hits = (size_t)s[AU_BT_WK_HITS];
    out->tp20 = (size_t)s[AU_BT_WK_TP20];
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

/* Column sums of n rows. */
static void sum_rows(const double *rows, size_t n, size_t d, double *s)
{
    memset(s, 0, d * sizeof(*s));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            s[j] += rows[i * d + j];
}

int au_bt_acc_result(const au_bt_acc_t *a, au_bt_metrics_t *out)
{
    double s[AU_BT_WK_COLS];
    sum_rows(a->rows, a->n, AU_BT_WK_COLS, s);
    metrics_of_sums(s, a->n, out);
    if (a->n == 0)
        return 0;
    const size_t reps = AU_BT_BOOT_REPS;
    double *sums = malloc(reps * AU_BT_WK_COLS * sizeof(*sums));
    double *v = malloc(4 * reps * sizeof(*v));
    int rc = sums && v ? 0 : AU_ENOMEM;
    if (rc == 0)
        rc = au_bt_boot_sums(a->rows, a->n, AU_BT_WK_COLS, AU_BT_BOOT_BLOCK,
                             reps, AU_BT_BOOT_SEED, sums);
    if (rc == 0) {
        for (size_t k = 0; k < reps; k++) {
            au_bt_metrics_t m;
            metrics_of_sums(sums + k * AU_BT_WK_COLS, a->n, &m);
            v[k] = m.p10;
            v[reps + k] = m.p20;
            v[2 * reps + k] = m.recall20;
            v[3 * reps + k] = m.lead_median;
        }
        au_bt_ci_t *ci[4] = {&out->p10_ci, &out->p20_ci, &out->recall20_ci,
                             &out->lead_ci};
        for (size_t j = 0; j < 4; j++)
            au_bt_interval(v + j * reps, reps, AU_BT_BOOT_LEVEL, &ci[j]->lo,
                           &ci[j]->hi);
    }
    free(sums);
    free(v);
    return rc;
}

int au_bt_acc_paired_p20(const au_bt_acc_t *a, const au_bt_acc_t *b,
                         double *diff, au_bt_ci_t *ci)
{
    if (!a || !b || a->n == 0 || a->n != b->n)
        return AU_EINVAL;
    const size_t n = a->n, reps = AU_BT_BOOT_REPS;
    /* Both methods' P@20 of a week side by side, so each resample takes
     * the same weeks for both: the pairing. */
    double *x = malloc(2 * n * sizeof(*x));
    double *sums = malloc(2 * reps * sizeof(*sums));
    int rc = x && sums ? 0 : AU_ENOMEM;
    if (rc == 0) {
        double sa = 0.0, sb = 0.0;
        for (size_t i = 0; i < n; i++) {
            x[2 * i] = a->rows[i * AU_BT_WK_COLS + AU_BT_WK_P20];
            x[2 * i + 1] = b->rows[i * AU_BT_WK_COLS + AU_BT_WK_P20];
            sa += x[2 * i];
            sb += x[2 * i + 1];
        }
        *diff = (sa - sb) / (double)n;
        rc = au_bt_boot_sums(x, n, 2, AU_BT_BOOT_BLOCK, reps, AU_BT_BOOT_SEED,
                             sums);
    }
    if (rc == 0) {
        for (size_t k = 0; k < reps; k++)
            sums[k] = (sums[2 * k] - sums[2 * k + 1]) / (double)n;
        au_bt_interval(sums, reps, AU_BT_BOOT_LEVEL, &ci->lo, &ci->hi);
    }
    free(x);
    free(sums);
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

/* ---- logistic regression -------------------------------------------- */

double au_bt_logit_eval(const double *beta, const double *x, size_t d)
{
    double z = beta[0];
    for (size_t j = 0; j < d; j++)
        z += beta[j + 1] * x[j];
    return z;
}

static double sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Solves the symmetric positive definite m x m system a s = g in place by
 * Cholesky; the penalty keeps a positive definite. */
static int solve_spd(double *a, double *g, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        double s = a[j * m + j];
        for (size_t k = 0; k < j; k++)
            s -= a[j * m + k] * a[j * m + k];
        if (!(s > 0.0))
            return AU_EINVAL;
        a[j * m + j] = sqrt(s);
        for (size_t i = j + 1; i < m; i++) {
            double t = a[i * m + j];
            for (size_t k = 0; k < j; k++)
                t -= a[i * m + k] * a[j * m + k];
            a[i * m + j] = t / a[j * m + j];
        }
    }
    for (size_t i = 0; i < m; i++) {
        for (size_t k = 0; k < i; k++)
            g[i] -= a[i * m + k] * g[k];
        g[i] /= a[i * m + i];
    }
    for (size_t i = m; i-- > 0;) {
        for (size_t k = i + 1; k < m; k++)
            g[i] -= a[k * m + i] * g[k];
        g[i] /= a[i * m + i];
    }
    return 0;
}

int au_bt_logit_fit(const double *x, const int *y, size_t n, size_t d,
                    double l2, double *beta, int *iters)
{
    if (!x || !y || !beta || n == 0 || d == 0 || d > AU_BT_MAX_DIM ||
        !(l2 > 0.0) || !isfinite(l2))
        return AU_EINVAL;
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return AU_EINVAL;
    size_t m = d + 1;
    double h[(AU_BT_MAX_DIM + 1) * (AU_BT_MAX_DIM + 1)];
    double g[AU_BT_MAX_DIM + 1], row[AU_BT_MAX_DIM + 1];
    for (size_t j = 0; j < m; j++)
        beta[j] = 0.0;
    int it;
    /* Newton on the penalized log-likelihood: strictly convex, so from 0 it
     * converges in a handful of steps; 100 is a safety cap. */
    for (it = 1; it <= 100; it++) {
        for (size_t j = 0; j < m; j++) {
            g[j] = -l2 * beta[j];
            for (size_t k = 0; k < m; k++)
                h[j * m + k] = j == k ? l2 : 0.0;
        }
        for (size_t i = 0; i < n; i++) {
            row[0] = 1.0;
            memcpy(row + 1, x + i * d, d * sizeof(double));
            double pr = sigmoid(au_bt_logit_eval(beta, x + i * d, d));
            double wt = pr * (1.0 - pr);
            for (size_t j = 0; j < m; j++) {
                g[j] += ((y[i] ? 1.0 : 0.0) - pr) * row[j];
                for (size_t k = 0; k <= j; k++)
                    h[j * m + k] += wt * row[j] * row[k];
            }
        }
        for (size_t j = 0; j < m; j++)
            for (size_t k = j + 1; k < m; k++)
                h[j * m + k] = h[k * m + j];
        if (solve_spd(h, g, m) < 0)
            return AU_EINVAL;
        double step = 0.0;
        for (size_t j = 0; j < m; j++) {
            beta[j] += g[j];
            step = fmax(step, fabs(g[j]));
        }
        if (step < 1e-10)
            break;
    }
    if (iters)
        *iters = it > 100 ? 100 : it;
    return 0;
}

/* ---- features and the model ----------------------------------------- */

/* Streams a week before w: the track's own when it charted, otherwise the
 * smallest on that chart, an upper bound of what it had (so the growth is
 * a lower bound). NAN when unknown. */
static double prev_streams(const au_bt_panel_t *p, size_t r, size_t w)
{
    double s = streams_at(p, r, w - 1);
    if (p->pos[r * p->stride + w - 1])
        return s;
    double lo = NAN;
    for (size_t t = 0; t < p->n_tracks; t++) {
        if (!p->pos[t * p->stride + w - 1])
            continue;
        double v = streams_at(p, t, w - 1);
        if (!isnan(v) && (isnan(lo) || v < lo))
            lo = v;
    }
    return lo;
}

static double stream_growth(const au_bt_panel_t *p, size_t r, size_t w)
{
    double now = streams_at(p, r, w), prev = prev_streams(p, r, w);
    if (isnan(now) || isnan(prev) || prev <= 0.0)
        return NAN;
    return now / prev - 1.0;
}

int au_bt_features(const au_bt_panel_t *p, size_t r, size_t w, double *x)
{
    if (!p || !x || r >= p->n_tracks || w >= p->n_weeks || w < AU_BT_LOOKBACK)
        return AU_EINVAL;
    int now = au_bt_pos(p, r, w);
    int p1 = au_bt_pos(p, r, w - 1), p2 = au_bt_pos(p, r, w - 2);
    double s = streams_at(p, r, w);
    double g = stream_growth(p, r, w);
    size_t on = 0;
    for (size_t t = 0; t <= w; t++)
        on += p->pos[r * p->stride + t] != 0;
    x[0] = (double)(AU_BT_OFF - now) / 200.0;
    x[1] = (double)(p1 - now) / 200.0;
    x[2] = (double)(p2 - now) / 200.0;
    x[3] = isnan(g) || g <= -1.0 ? NAN : log1p(g);
    x[4] = isnan(s) || s <= 0.0 ? NAN : log(s);
    x[5] = log1p((double)on);
    x[6] = p1 == AU_BT_OFF ? 1.0 : 0.0;
    return 0;
}

static void standardize(const au_bt_model_t *m, const double *x, double *z)
{
    for (size_t j = 0; j < AU_BT_NFEAT; j++)
        z[j] = isnan(x[j]) ? 0.0 : (x[j] - m->mean[j]) / m->sd[j];
}

double au_bt_model_score(const au_bt_model_t *m, const double *x)
{
    double z[AU_BT_NFEAT];
    standardize(m, x, z);
    return au_bt_logit_eval(m->beta, z, AU_BT_NFEAT);
}

int au_bt_train(const au_bt_panel_t *p, double l2, au_bt_model_t *m)
{
    if (!p || !m || p->n_weeks < AU_BT_LOOKBACK + AU_BT_HORIZON + 1)
        return AU_EINVAL;
    memset(m, 0, sizeof(*m));
    m->first_week = AU_BT_LOOKBACK;
    m->last_week = p->n_weeks - 1 - AU_BT_HORIZON;
    size_t cap = 0;
    for (size_t w = m->first_week; w <= m->last_week; w++)
        for (size_t r = 0; r < p->n_tracks; r++)
            cap += (size_t)au_bt_is_candidate(p, r, w);
    if (cap == 0)
        return AU_EINVAL;
    double *x = malloc(cap * AU_BT_NFEAT * sizeof(*x));
    int *y = malloc(cap * sizeof(*y));
    int rc = AU_ENOMEM;
    if (!x || !y)
        goto out;
    size_t n = 0;
    for (size_t w = m->first_week; w <= m->last_week; w++) {
        for (size_t r = 0; r < p->n_tracks; r++) {
            int hit, lead;
            if (!au_bt_is_candidate(p, r, w))
                continue;
            if ((rc = au_bt_label(p, r, w, &hit, &lead)) < 0 ||
                (rc = au_bt_features(p, r, w, x + n * AU_BT_NFEAT)) < 0)
                goto out;
            y[n] = hit;
            m->positives += (size_t)hit;
            n++;
        }
    }
    m->rows = n;
    for (size_t j = 0; j < AU_BT_NFEAT; j++) {
        double s = 0.0, ss = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * AU_BT_NFEAT + j];
            if (isnan(v))
                continue;
            s += v;
            k++;
        }
        m->mean[j] = k ? s / (double)k : 0.0;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * AU_BT_NFEAT + j];
            if (!isnan(v))
                ss += (v - m->mean[j]) * (v - m->mean[j]);
        }
        double sd = k ? sqrt(ss / (double)k) : 0.0;
        m->sd[j] = sd > 1e-12 ? sd : 1.0;
    }
    for (size_t i = 0; i < n; i++) {
        double raw[AU_BT_NFEAT];
        memcpy(raw, x + i * AU_BT_NFEAT, sizeof(raw));
        standardize(m, raw, x + i * AU_BT_NFEAT);
    }
    rc = au_bt_logit_fit(x, y, n, AU_BT_NFEAT, l2, m->beta, &m->iters);
out:
    free(x);
    free(y);
    return rc;
}

/* ---- methods -------------------------------------------------------- */

static const char *const method_names[AU_BT_NMETHODS] = {
    "position", "viral", "trend", "gain", "streams", "logit"};

int au_bt_method_is_naive(au_bt_method_t m)
{
    return m == AU_BT_POSITION || m == AU_BT_GAIN || m == AU_BT_STREAMS;
}

const char *au_bt_method_name(au_bt_method_t m)
{
    return (unsigned)m < AU_BT_NMETHODS ? method_names[m] : "unknown";
}

size_t au_bt_method_first_week(au_bt_method_t m)
{
    switch (m) {
    case AU_BT_GAIN:
    case AU_BT_STREAMS:
        return 1;
    case AU_BT_LOGIT:
        return AU_BT_LOOKBACK;
    default:
        return 0;
    }
}

/* The chart's own score of a position; 201 (off the chart) scores 0. */
static double pos_score(int pos)
{
    return au_position_score(pos, AU_BT_LAST_CAND);
}

/* The track's position scores in the charted weeks up to w. */
static size_t history(const au_bt_panel_t *p, size_t r, size_t w,
                      au_point_t *pts)
{
    size_t n = 0;
    for (size_t t = 0; t <= w; t++) {
        int v = p->pos[r * p->stride + t];
        if (v)
            pts[n++] = (au_point_t){p->week_t[t], pos_score(v)};
    }
    return n;
}

static int score_one(const au_bt_panel_t *p, au_bt_method_t m,
                     const au_bt_model_t *model, size_t r, size_t w,
                     au_point_t *pts, double *out)
{
    int pos = au_bt_pos(p, r, w), rc;
    *out = NAN;
    switch (m) {
    case AU_BT_POSITION:
        /* Every candidate is at 51..200: the best position is the one
         * closest to the top-50 line. */
        *out = -(double)pos;
        return 0;
    case AU_BT_VIRAL: {
        au_viral_input_t in;
        au_viral_t v;
        double ps = pos_score(pos);
        au_viral_input_init(&in);
        in.platform_scores = &ps;
        in.n_platforms = 1;
        in.history = pts;
        in.n_history = history(p, r, w, pts);
        if ((rc = au_viral_predict(&in, &v)) < 0)
            return rc;
        *out = v.viral_score;
        return 0;
    }
    case AU_BT_TREND: {
        au_trend_metrics_t tm;
        size_t n = history(p, r, w, pts);
        if (n < AU_TREND_MIN_POINTS)
            return 0;
        if ((rc = au_trend_analyze(pts, n, &tm)) < 0)
            return rc;
        *out = au_trend_rank_key(&tm);
        return 0;
    }
    case AU_BT_GAIN:
        if (w >= 1)
            *out = (double)(au_bt_pos(p, r, w - 1) - pos);
        return 0;
    case AU_BT_STREAMS:
        if (w >= 1)
            *out = stream_growth(p, r, w);
        return 0;
    case AU_BT_LOGIT: {
        double x[AU_BT_NFEAT];
        if (!model)
            return AU_EINVAL;
        if ((rc = au_bt_features(p, r, w, x)) < 0)
            return rc;
        *out = au_bt_model_score(model, x);
        return 0;
    }
    default:
        return AU_EINVAL;
    }
}

int au_bt_score(const au_bt_panel_t *p, au_bt_method_t m,
                const au_bt_model_t *model, size_t w, const size_t *cand,
                size_t n, double *score)
{
    if (!p || (n && (!cand || !score)) || w >= p->n_weeks)
        return AU_EINVAL;
    au_point_t *pts = malloc((w + 1) * sizeof(*pts));
    if (!pts)
        return AU_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = score_one(p, m, model, cand[i], w, pts, &score[i]);
    free(pts);
    return rc;
}

/* ---- the run -------------------------------------------------------- */

typedef struct {
    size_t *cand, *order;
    int *pos, *lead, *lead_ranked;
    double *score;
    unsigned char *hit, *hit_ranked;
} week_buf_t;

static void week_buf_free(week_buf_t *b)
{
    free(b->cand);
    free(b->order);
    free(b->pos);
    free(b->lead);
    free(b->lead_ranked);
    free(b->score);
    free(b->hit);
    free(b->hit_ranked);
}

static int week_buf_alloc(week_buf_t *b, size_t n)
{
    size_t k = n ? n : 1;
    memset(b, 0, sizeof(*b));
    b->cand = malloc(k * sizeof(*b->cand));
    b->order = malloc(k * sizeof(*b->order));
    b->pos = malloc(k * sizeof(*b->pos));
    b->lead = malloc(k * sizeof(*b->lead));
    b->lead_ranked = malloc(k * sizeof(*b->lead_ranked));
    b->score = malloc(k * sizeof(*b->score));
    b->hit = malloc(k);
    b->hit_ranked = malloc(k);
    if (!b->cand || !b->order || !b->pos || !b->lead || !b->lead_ranked ||
        !b->score || !b->hit || !b->hit_ranked) {
        week_buf_free(b);
        return AU_ENOMEM;
    }
    return 0;
}

/* Ranks week w's candidates by method m and adds the week to acc. */
static int eval_week(const au_bt_panel_t *p, au_bt_method_t m,
                     const au_bt_model_t *model, size_t w, week_buf_t *b,
                     au_bt_acc_t *acc, au_bt_result_t *r)
{
    size_t n = 0;
    int rc;
    for (size_t t = 0; t < p->n_tracks; t++) {
        if (!au_bt_is_candidate(p, t, w))
            continue;
        int hit;
        b->cand[n] = t;
        b->pos[n] = au_bt_pos(p, t, w);
        if ((rc = au_bt_label(p, t, w, &hit, &b->lead[n])) < 0)
            return rc;
        b->hit[n] = (unsigned char)hit;
        n++;
    }
    if ((rc = au_bt_score(p, m, model, w, b->cand, n, b->score)) < 0 ||
        (rc = au_bt_rank(b->score, b->pos, n, b->order)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        b->hit_ranked[i] = b->hit[b->order[i]];
        b->lead_ranked[i] = b->lead[b->order[i]];
    }
    if (r && m == AU_BT_LOGIT) {
        for (size_t i = 0; i < n && i < 20; i++) {
            if (!b->hit_ranked[i] ||
                (r->found && r->ex_lead >= b->lead_ranked[i]))
                continue;
            r->found = 1;
            r->ex_track = b->cand[b->order[i]];
            r->ex_week = w;
            r->ex_rank = i + 1;
            r->ex_candidates = n;
            r->ex_lead = b->lead_ranked[i];
        }
    }
    return au_bt_acc_add(acc, b->hit_ranked, b->lead_ranked, n);
}

/* Ranks every week first..last by method m into acc. */
static int eval_range(const au_bt_panel_t *p, au_bt_method_t m,
                      const au_bt_model_t *model, size_t first, size_t last,
                      au_bt_acc_t *acc, au_bt_result_t *r)
{
    week_buf_t b;
    int rc = week_buf_alloc(&b, p->n_tracks);
    if (rc < 0)
        return rc;
    for (size_t w = first; w <= last && rc == 0; w++)
        rc = eval_week(p, m, model, w, &b, acc, r);
    week_buf_free(&b);
    return rc;
}

/* The same into fresh metrics. */
static int eval_metrics(const au_bt_panel_t *p, au_bt_method_t m,
                        const au_bt_model_t *model, size_t first, size_t last,
                        au_bt_metrics_t *out)
{
    au_bt_acc_t *acc = au_bt_acc_new();
    int rc = acc ? eval_range(p, m, model, first, last, acc, NULL) : AU_ENOMEM;
    if (rc == 0)
        rc = au_bt_acc_result(acc, out);
    au_bt_acc_destroy(&acc);
    return rc;
}

/* The best naive ranking on the evaluation weeks, and the model's paired
 * P@20 difference against it. */
static int compare_to_naive(au_bt_result_t *r, au_bt_acc_t *const *acc)
{
    r->best_naive = AU_BT_POSITION;
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        if (au_bt_method_is_naive((au_bt_method_t)m) &&
            r->eval[m].p20 > r->eval[r->best_naive].p20)
            r->best_naive = (au_bt_method_t)m;
    return au_bt_acc_paired_p20(acc[AU_BT_LOGIT], acc[r->best_naive],
                                &r->diff_p20, &r->diff_p20_ci);
}

static int eval_all(const au_bt_panel_t *p, au_bt_result_t *r, au_error_t *err)
{
    au_bt_acc_t *acc[AU_BT_NMETHODS] = {0};
    int rc = 0;
    for (int m = 0; m < AU_BT_NMETHODS && rc == 0; m++) {
        au_bt_method_t mm = (au_bt_method_t)m;
        acc[m] = au_bt_acc_new();
        rc = acc[m] ? eval_range(p, mm, &r->model, r->eval_first, r->eval_last,
                                 acc[m], r)
                    : AU_ENOMEM;
        if (rc == 0)
            rc = au_bt_acc_result(acc[m], &r->eval[m]);
        if (rc == 0 && mm != AU_BT_LOGIT)
            rc = eval_metrics(p, mm, NULL, au_bt_method_first_week(mm),
                              r->eval_last, &r->all[m]);
        if (rc < 0)
            au_error_set(err, rc, "backtest: scoring %s: %s",
                         au_bt_method_name(mm), au_strerror(rc));
    }
    if (rc == 0 && (rc = compare_to_naive(r, acc)) < 0)
        au_error_set(err, rc, "backtest: paired bootstrap: %s",
                     au_strerror(rc));
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        au_bt_acc_destroy(&acc[m]);
    return rc;
}

int au_bt_run(const au_bt_panel_t *p, au_bt_result_t *r, au_error_t *err)
{
    if (!p || !r)
        return au_error_set(err, AU_EINVAL, "backtest: no panel");
    memset(r, 0, sizeof(*r));
    if (p->n_weeks < AU_BT_MIN_WEEKS)
        return au_error_set(err, AU_EINVAL,
                            "backtest: %zu weekly charts, need at least %d",
                            p->n_weeks, AU_BT_MIN_WEEKS);
    r->n_weeks = p->n_weeks;
    r->split = p->n_weeks / 2;
    r->eval_first = r->split;
    r->eval_last = p->n_weeks - 1 - AU_BT_HORIZON;
    au_bt_panel_t train;
    int rc = au_bt_panel_head(p, r->split, &train);
    if (rc == 0)
        rc = au_bt_train(&train, 1.0, &r->model);
    if (rc < 0)
        return au_error_set(err, rc, "backtest: training failed: %s",
                            au_strerror(rc));
    return eval_all(p, r, err);
}

size_t au_bt_same_song(const au_bt_panel_t *p, size_t r, size_t *out,
                       size_t cap)
{
    size_t n = 0;
    if (!p->names[r] || !p->artists[r])
        return 0;
    for (size_t t = 0; t < p->n_tracks; t++) {
        if (t == r || !p->names[t] || !p->artists[t] ||
            strcmp(p->names[t], p->names[r]) != 0 ||
            strcmp(p->artists[t], p->artists[r]) != 0)
            continue;
        if (n < cap)
            out[n] = t;
        n++;
    }
    return n;
}
