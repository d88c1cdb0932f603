/* au_bt_model.c: the breakout predictor's features, the penalized
 * logistic fit and the probability. */
#include "au_bt_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OFF_CHART (AU_BT_MODEL_CHART + 1)

/* ---- features ------------------------------------------------------- */

/* Position k weeks before the last (0: this week), OFF_CHART when not
 * charted; 0 when the history does not reach back that far. */
static int pos_back(const au_bt_hist_t *h, size_t k)
{
    if (k >= h->n)
        return 0;
    int v = h->pos[h->n - 1 - k];
    return v ? v : OFF_CHART;
}

/* Streams k weeks back when the track charted then and they were
 * reported, else NAN. */
static double streams_back(const au_bt_hist_t *h, size_t k)
{
    if (k >= h->n || !h->pos[h->n - 1 - k] || !h->streams)
        return NAN;
    double s = h->streams[h->n - 1 - k];
    return s > 0.0 ? s : NAN;
}

static double log_ratio(double a, double b)
{
    return isnan(a) || isnan(b) || !(a > 0.0) || !(b > 0.0) ? NAN : log(a / b);
}

/* Best position of the window and how many weeks ago it was (the most
 * recent week if it was reached more than once). */
static void window_best(const au_bt_hist_t *h, int *best, size_t *ago,
                        size_t *charted)
{
    size_t k_max = h->n < AU_BT_MODEL_WINDOW ? h->n : AU_BT_MODEL_WINDOW;
    *best = OFF_CHART;
    *ago = 0;
    *charted = 0;
    for (size_t k = 0; k < k_max; k++) {
        int v = pos_back(h, k);
        if (v == OFF_CHART)
            continue;
        (*charted)++;
        if (v < *best) {
            *best = v;
            *ago = k;
        }
    }
}

int au_bt_model_features(const au_bt_hist_t *h, int line, double *x)
{
    if (!h || !h->pos || !x || h->n == 0 || line < 1 ||
        line >= AU_BT_MODEL_CHART)
        return AU_EINVAL;
    int p0 = pos_back(h, 0), p1 = pos_back(h, 1), p2 = pos_back(h, 2);
    if (p0 <= line || p0 > AU_BT_MODEL_CHART)
        return AU_EINVAL;
    int best;
    size_t ago, charted;
    window_best(h, &best, &ago, &charted);
    double s0 = streams_back(h, 0), s1 = streams_back(h, 1);
    double s2 = streams_back(h, 2);
    x[0] = log((double)(p0 - line));
    x[1] = p1 ? log((double)p1) - log((double)p0) : NAN;
    x[2] = p2 ? log((double)p2) - log((double)p1) : NAN;
    x[3] = log_ratio(s0, s1);
    x[4] = log_ratio(s1, s2);
    x[5] = p1 ? (p1 == OFF_CHART ? 1.0 : 0.0) : NAN;
    x[6] = (double)charted / AU_BT_MODEL_WINDOW;
    x[7] = log((double)best) - log((double)line);
    x[8] = (double)ago / AU_BT_MODEL_WINDOW;
    x[9] = p0 == best ? 1.0 : 0.0;
    x[10] = isnan(x[5]) ? NAN : x[5] * x[0];
    x[11] = x[0] * x[3];
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

double au_bt_sigmoid(double z)
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

/* Gradient g and Hessian h (lower triangle, then mirrored) of the
 * penalized log-likelihood at beta. */
static void newton_system(const double *x, const int *y, size_t n, size_t d,
                          double l2, const double *beta, double *g, double *h)
{
    size_t m = d + 1;
    double row[AU_BT_MODEL_MAX_DIM + 1];
    for (size_t j = 0; j < m; j++) {
        g[j] = -l2 * beta[j];
        for (size_t k = 0; k < m; k++)
            h[j * m + k] = j == k ? l2 : 0.0;
    }
    row[0] = 1.0;
    for (size_t i = 0; i < n; i++) {
        memcpy(row + 1, x + i * d, d * sizeof(double));
        double pr = au_bt_sigmoid(au_bt_logit_eval(beta, x + i * d, d));
        double wt = pr * (1.0 - pr), r = (y[i] ? 1.0 : 0.0) - pr;
        for (size_t j = 0; j < m; j++) {
            g[j] += r * row[j];
            double wj = wt * row[j];
            for (size_t k = 0; k <= j; k++)
                h[j * m + k] += wj * row[k];
        }
    }
    for (size_t j = 0; j < m; j++)
        for (size_t k = j + 1; k < m; k++)
            h[j * m + k] = h[k * m + j];
}

/* log(sigmoid(z)) without overflow or loss for large |z|. */
static double log_sigmoid(double z)
{
    return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z));
}

/* The penalized log-likelihood at beta. */
static double objective(const double *x, const int *y, size_t n, size_t d,
                        double l2, const double *beta)
{
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        double z = au_bt_logit_eval(beta, x + i * d, d);
        f += log_sigmoid(y[i] ? z : -z);
    }
    for (size_t j = 0; j <= d; j++)
        f -= 0.5 * l2 * beta[j] * beta[j];
    return f;
}

/* Moves beta along the Newton direction g, halving the step until the
 * objective does not fall (a full step can overshoot from a start far
 * from the optimum, e.g. a warm start on new data). Returns the largest
 * change of a coefficient. */
static double damped_step(const double *x, const int *y, size_t n, size_t d,
                          double l2, double *beta, const double *g)
{
    double old[AU_BT_MODEL_MAX_DIM + 1], f0, t = 1.0;
    memcpy(old, beta, (d + 1) * sizeof(double));
    f0 = objective(x, y, n, d, l2, beta);
    for (int k = 0; k < 40; k++, t *= 0.5) {
        for (size_t j = 0; j <= d; j++)
            beta[j] = old[j] + t * g[j];
        if (objective(x, y, n, d, l2, beta) >= f0 - 1e-12 * fabs(f0))
            break;
    }
    double step = 0.0;
    for (size_t j = 0; j <= d; j++)
        step = fmax(step, fabs(beta[j] - old[j]));
    return step;
}

int au_bt_logit_fit(const double *x, const int *y, size_t n, size_t d,
                    double l2, double *beta, int *iters)
{
    if (!x || !y || !beta || n == 0 || d == 0 || d > AU_BT_MODEL_MAX_DIM ||
        !(l2 > 0.0) || !isfinite(l2))
        return AU_EINVAL;
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return AU_EINVAL;
    for (size_t j = 0; j <= d; j++)
        if (!isfinite(beta[j]))
            return AU_EINVAL;
    double h[(AU_BT_MODEL_MAX_DIM + 1) * (AU_BT_MODEL_MAX_DIM + 1)];
    double g[AU_BT_MODEL_MAX_DIM + 1];
    int it;
    /* Damped Newton on the penalized log-likelihood: strictly concave, so
     * it converges from anywhere finite, in a handful of steps near the
     * optimum; 100 is a safety cap. */
    for (it = 1; it <= 100; it++) {
        newton_system(x, y, n, d, l2, beta, g, h);
        if (solve_spd(h, g, d + 1) < 0)
            return AU_EINVAL;
        if (damped_step(x, y, n, d, l2, beta, g) < 1e-10)
            break;
    }
    if (iters)
        *iters = it > 100 ? 100 : it;
    return 0;
}

/* ---- the model ------------------------------------------------------ */

static void standardize(const au_bt_model_t *m, const double *x, double *z)
{
    for (size_t j = 0; j < AU_BT_MODEL_NFEAT; j++)
        z[j] = isnan(x[j]) ? 0.0 : (x[j] - m->mean[j]) / m->sd[j];
}

/* Mean and standard deviation of each feature over its non-NAN rows. */
static void moments(const double *x, size_t n, au_bt_model_t *m)
{
    const size_t d = AU_BT_MODEL_NFEAT;
    for (size_t j = 0; j < d; j++) {
        double s = 0.0, ss = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * d + j];
            if (!isnan(v)) {
                s += v;
                k++;
            }
        }
        m->mean[j] = k ? s / (double)k : 0.0;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * d + j];
            if (!isnan(v))
                ss += (v - m->mean[j]) * (v - m->mean[j]);
        }
        double sd = k ? sqrt(ss / (double)k) : 0.0;
        m->sd[j] = sd > 1e-12 ? sd : 1.0;
    }
}

int au_bt_model_fit(const double *x, const int *y, size_t n, int line,
                    au_bt_model_t *m)
{
    const size_t d = AU_BT_MODEL_NFEAT;
    if (!x || !y || !m || n == 0)
        return AU_EINVAL;
    double *z = malloc(n * d * sizeof(*z));
    if (!z)
        return AU_ENOMEM;
    m->line = line;
    m->rows = n;
    m->positives = 0;
    moments(x, n, m);
    for (size_t i = 0; i < n; i++) {
        standardize(m, x + i * d, z + i * d);
        m->positives += y[i] != 0;
    }
    int rc = au_bt_logit_fit(z, y, n, d, AU_BT_MODEL_L2, m->beta, &m->iters);
    free(z);
    return rc;
}

double au_bt_model_prob(const au_bt_model_t *m, const double *x)
{
    double z[AU_BT_MODEL_NFEAT];
    standardize(m, x, z);
    return au_bt_sigmoid(au_bt_logit_eval(m->beta, z, AU_BT_MODEL_NFEAT));
}

int au_bt_breakout_prob(const au_bt_model_t *m, const au_bt_hist_t *h,
                        double *prob)
{
    double x[AU_BT_MODEL_NFEAT];
    if (!m || !prob)
        return AU_EINVAL;
    int rc = au_bt_model_features(h, m->line, x);
    if (rc < 0)
        return rc;
    *prob = au_bt_model_prob(m, x);
    return 0;
}
