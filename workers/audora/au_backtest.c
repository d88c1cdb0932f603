/* au_backtest.c: the pure part of the backtest: panel, series cuts,
 * labels, the rankings, the model fit before each block, and the
 * rolling-origin run. */
#include "au_backtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au_score.h"

/* ---- tasks ---------------------------------------------------------- */

static const au_bt_task_t tasks[AU_BT_NTASKS] = {
    {51, 200, 50, 20, "51-200 to the top 50"},
    {11, 50, 10, 10, "11-50 to the top 10"},
};

const au_bt_task_t *au_bt_task(int i)
{
    return i >= 0 && i < AU_BT_NTASKS ? &tasks[i] : NULL;
}

/* ---- the panel ------------------------------------------------------ */

au_bt_panel_t *au_bt_panel_new(size_t n_tracks, size_t n_weeks)
{
    if (n_tracks > AU_BT_MAX_TRACKS || n_weeks > AU_BT_MAX_WEEKS)
        return NULL;
    au_bt_panel_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    size_t cells = n_tracks * n_weeks, nt = n_tracks ? n_tracks : 1;
    size_t nw = n_weeks ? n_weeks : 1;
    p->n_tracks = n_tracks;
    p->n_weeks = n_weeks;
    p->stride = n_weeks;
    p->owner = 1;
    p->pos = calloc(cells ? cells : 1, sizeof(*p->pos));
    p->streams = malloc((cells ? cells : 1) * sizeof(*p->streams));
    p->present = malloc(nw);
    p->id_no = calloc(cells ? cells : 1, 1);
    p->week_t = calloc(nw, sizeof(*p->week_t));
    p->week_date = calloc(nw, sizeof(*p->week_date));
    p->keys = calloc(nt, sizeof(char *));
    p->names = calloc(nt, sizeof(char *));
    p->artists = calloc(nt, sizeof(char *));
    if (!p->pos || !p->streams || !p->present || !p->id_no || !p->week_t ||
        !p->week_date || !p->keys || !p->names || !p->artists) {
        au_bt_panel_destroy(&p);
        return NULL;
    }
    for (size_t i = 0; i < cells; i++)
        p->streams[i] = NAN;
    memset(p->present, 1, nw);
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
        free(p->present);
        free(p->id_no);
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

size_t au_bt_split_dates(const long *days, size_t n, size_t *start, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        long step = i ? days[i] - days[i - 1] : 0;
        int same =
            i && step > 0 && step % 7 == 0 && step / 7 - 1 <= AU_BT_MAX_BRIDGE;
        if (same)
            continue;
        if (k < cap)
            start[k] = i;
        k++;
    }
    return k;
}

/* ---- labels --------------------------------------------------------- */

int au_bt_week_ok(const au_bt_panel_t *p, size_t w)
{
    if (w < AU_BT_LOOKBACK || w + AU_BT_HORIZON >= p->n_weeks)
        return 0;
    for (size_t k = w - AU_BT_LOOKBACK; k <= w + AU_BT_HORIZON; k++)
        if (!p->present[k])
            return 0;
    return 1;
}

int au_bt_is_candidate(const au_bt_panel_t *p, const au_bt_task_t *t, size_t r,
                       size_t w)
{
    int v = au_bt_pos(p, r, w);
    return v >= t->first && v <= t->last;
}

int au_bt_label(const au_bt_panel_t *p, const au_bt_task_t *t, size_t r,
                size_t w, int *hit, int *lead)
{
    if (!p || !t || !hit || !lead || r >= p->n_tracks)
        return AU_EINVAL;
    if (w + AU_BT_HORIZON >= p->n_weeks)
        return AU_ERANGE;
    *hit = 0;
    *lead = 0;
    for (int k = 1; k <= AU_BT_HORIZON; k++) {
        if (au_bt_pos(p, r, w + (size_t)k) <= t->line) {
            *hit = 1;
            *lead = k;
            return 0;
        }
    }
    return 0;
}

/* For every week of p the smallest streams on its chart; one pass in
 * row order. */
static void week_floor(const au_bt_panel_t *p, double *floor)
{
    for (size_t w = 0; w < p->n_weeks; w++)
        floor[w] = NAN;
    for (size_t r = 0; r < p->n_tracks; r++) {
        const int *pos = p->pos + r * p->stride;
        const double *s = p->streams + r * p->stride;
        for (size_t w = 0; w < p->n_weeks; w++)
            if (pos[w] && !isnan(s[w]) && (isnan(floor[w]) || s[w] < floor[w]))
                floor[w] = s[w];
    }
}

void au_bt_hist_of(const au_bt_panel_t *p, size_t r, size_t w, au_bt_hist_t *h)
{
    if (r >= p->n_tracks || w >= p->n_weeks)
        abort();
    size_t first = w + 1 > AU_BT_MODEL_WINDOW ? w + 1 - AU_BT_MODEL_WINDOW : 0;
    h->pos = p->pos + r * p->stride + first;
    h->streams = p->streams + r * p->stride + first;
    h->n = w + 1 - first;
}

int au_bt_context_new(const au_bt_panel_t *p, au_bt_context_t *c)
{
    c->floor = malloc((p->n_weeks ? p->n_weeks : 1) * sizeof(*c->floor));
    if (!c->floor)
        return AU_ENOMEM;
    week_floor(p, c->floor);
    return 0;
}

void au_bt_context_free(au_bt_context_t *c)
{
    free(c->floor);
    c->floor = NULL;
}

/* ---- methods -------------------------------------------------------- */

static const char *const method_names[AU_BT_NMETHODS] = {
    "position", "gain", "streams", "weeks", "peak", "viral", "trend", "model"};

static const char *const method_labels[AU_BT_NMETHODS] = {
    "current position, closest to the line first",
    "last week's position gain",
    "stream growth week over week",
    "fewest weeks on the chart first",
    "at a new personal best first",
    "ported viral predictor",
    "ported trend analyzer, strength*|growth|",
    "own breakout model"};

static const char *const method_notes[AU_BT_NMETHODS] = {
    "naive",
    "naive; a new entry comes from #201",
    "naive; a new entry from the chart's lowest streams",
    "naive; weeks counted from the series' start",
    "naive; a new entry counts as a best",
    "= the position order without social signals",
    "tracks with fewer than 5 charted weeks last",
    "logistic, last 8 weeks, refitted before each block"};

const char *au_bt_method_name(au_bt_method_t m)
{
    return (unsigned)m < AU_BT_NMETHODS ? method_names[m] : "unknown";
}

const char *au_bt_method_label(au_bt_method_t m)
{
    return (unsigned)m < AU_BT_NMETHODS ? method_labels[m] : "unknown";
}

const char *au_bt_method_note(au_bt_method_t m)
{
    return (unsigned)m < AU_BT_NMETHODS ? method_notes[m] : "";
}

int au_bt_method_is_naive(au_bt_method_t m)
{
    return m <= AU_BT_PEAK;
}

/* The track's position scores in the charted weeks up to w. */
static size_t history(const au_bt_panel_t *p, size_t r, size_t w,
                      au_point_t *pts)
{
    size_t n = 0;
    for (size_t t = 0; t <= w; t++) {
        int v = p->pos[r * p->stride + t];
        if (v)
            pts[n++] = (au_point_t){p->week_t[t],
                                    au_position_score(v, AU_BT_LAST_POS)};
    }
    return n;
}

static int score_viral(const au_bt_panel_t *p, size_t r, size_t w,
                       au_point_t *pts, double *out)
{
    au_viral_input_t in;
    au_viral_t v;
    double ps = au_position_score(au_bt_pos(p, r, w), AU_BT_LAST_POS);
    au_viral_input_init(&in);
    in.platform_scores = &ps;
    in.n_platforms = 1;
    in.history = pts;
    in.n_history = history(p, r, w, pts);
    int rc = au_viral_predict(&in, &v);
    if (rc == 0)
        *out = v.viral_score;
    return rc;
}

static int score_trend(const au_bt_panel_t *p, size_t r, size_t w,
                       au_point_t *pts, double *out)
{
    au_trend_metrics_t tm;
    size_t n = history(p, r, w, pts);
    if (n < AU_TREND_MIN_POINTS)
        return 0;
    int rc = au_trend_analyze(pts, n, &tm);
    if (rc == 0)
        *out = au_trend_rank_key(&tm);
    return rc;
}

/* Stream growth into week w; a track not charted the week before is
 * given that chart's smallest streams, an upper bound of what it had, so
 * its growth is a lower bound. */
static double stream_growth(const au_bt_panel_t *p, const au_bt_context_t *c,
                            size_t r, size_t w)
{
    if (w == 0)
        return NAN;
    double now = streams_at(p, r, w);
    double prev = au_bt_pos(p, r, w - 1) == AU_BT_OFF ? c->floor[w - 1]
                                                      : streams_at(p, r, w - 1);
    if (isnan(now) || isnan(prev) || prev <= 0.0)
        return NAN;
    return now / prev - 1.0;
}

/* Weeks charted up to w, and whether w is a new personal best. */
static void chart_record(const au_bt_panel_t *p, size_t r, size_t w,
                         size_t *weeks, int *new_best)
{
    int best = AU_BT_OFF;
    *weeks = 0;
    for (size_t t = 0; t < w; t++) {
        int v = p->pos[r * p->stride + t];
        if (v) {
            (*weeks)++;
            best = v < best ? v : best;
        }
    }
    *weeks += 1;
    *new_best = au_bt_pos(p, r, w) < best;
}

static int score_model(const au_bt_panel_t *p, const au_bt_model_t *model,
                       size_t r, size_t w, double *out)
{
    au_bt_hist_t h;
    if (!model)
        return AU_EINVAL;
    au_bt_hist_of(p, r, w, &h);
    return au_bt_breakout_prob(model, &h, out);
}

static int score_one(const au_bt_panel_t *p, const au_bt_context_t *c,
                     au_bt_method_t m, const au_bt_model_t *model, size_t r,
                     size_t w, au_point_t *pts, double *out)
{
    int pos = au_bt_pos(p, r, w), nb;
    size_t weeks;
    *out = NAN;
    switch (m) {
    case AU_BT_POSITION:
        *out = -(double)pos; /* candidates sit below the line */
        return 0;
    case AU_BT_GAIN:
        if (w >= 1)
            *out = (double)(au_bt_pos(p, r, w - 1) - pos);
        return 0;
    case AU_BT_STREAMS:
        *out = stream_growth(p, c, r, w);
        return 0;
    case AU_BT_WEEKS:
        chart_record(p, r, w, &weeks, &nb);
        *out = -(double)weeks;
        return 0;
    case AU_BT_PEAK:
        chart_record(p, r, w, &weeks, &nb);
        *out = nb;
        return 0;
    case AU_BT_VIRAL:
        return score_viral(p, r, w, pts, out);
    case AU_BT_TREND:
        return score_trend(p, r, w, pts, out);
    case AU_BT_MODEL:
        return score_model(p, model, r, w, out);
    default:
        return AU_EINVAL;
    }
}

int au_bt_score(const au_bt_panel_t *p, const au_bt_context_t *c,
                au_bt_method_t m, const au_bt_model_t *model, size_t w,
                const size_t *cand, size_t n, double *score)
{
    if (!p || !c || (n && (!cand || !score)) || w >= p->n_weeks)
        return AU_EINVAL;
    au_point_t *pts = malloc((w + 1) * sizeof(*pts));
    if (!pts)
        return AU_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = score_one(p, c, m, model, cand[i], w, pts, &score[i]);
    free(pts);
    return rc;
}

/* ---- fitting -------------------------------------------------------- */

typedef struct {
    double *x;
    int *y;
    size_t n, cap;
} rows_t;

static int rows_reserve(rows_t *t, size_t more)
{
    if (t->n + more <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->n + more)
        cap *= 2;
    double *x = realloc(t->x, cap * AU_BT_MODEL_NFEAT * sizeof(*x));
    if (!x)
        return AU_ENOMEM;
    t->x = x;
    int *y = realloc(t->y, cap * sizeof(*y));
    if (!y)
        return AU_ENOMEM;
    t->y = y;
    t->cap = cap;
    return 0;
}

/* The candidates of week w of the view v as training rows. */
static int add_week_rows(const au_bt_panel_t *v, const au_bt_task_t *t,
                         size_t w, rows_t *rows)
{
    int rc = rows_reserve(rows, (size_t)(t->last - t->first + 1));
    for (size_t r = 0; r < v->n_tracks && rc == 0; r++) {
        int hit, lead;
        au_bt_hist_t h;
        if (!au_bt_is_candidate(v, t, r, w))
            continue;
        if (rows->n == rows->cap)
            rc = rows_reserve(rows, 1);
        if (rc == 0)
            rc = au_bt_label(v, t, r, w, &hit, &lead);
        if (rc < 0)
            break;
        au_bt_hist_of(v, r, w, &h);
        rc = au_bt_model_features(&h, t->line,
                                  rows->x + rows->n * AU_BT_MODEL_NFEAT);
        rows->y[rows->n] = hit;
        rows->n += rc == 0;
    }
    return rc;
}

int au_bt_fit_before(const au_bt_panel_t *p, const au_bt_task_t *t, size_t b,
                     au_bt_model_t *m)
{
    au_bt_panel_t v;
    rows_t rows = {0};
    if (!t || !m || au_bt_panel_head(p, b, &v) < 0)
        return AU_EINVAL;
    int rc = 0;
    /* au_bt_week_ok on the view admits only weeks whose labels end
     * inside it: w + AU_BT_HORIZON < b. */
    for (size_t w = 0; w < b && rc == 0; w++)
        if (au_bt_week_ok(&v, w))
            rc = add_week_rows(&v, t, w, &rows);
    if (rc == 0)
        rc = rows.n ? au_bt_model_fit(rows.x, rows.y, rows.n, t->line, m)
                    : AU_ENOTFOUND;
    free(rows.x);
    free(rows.y);
    return rc;
}

/* ---- the run -------------------------------------------------------- */

typedef struct {
    size_t *cand, *order;
    int *pos, *lead, *lead_ranked;
    double *score;
    unsigned char *hit, *hit_ranked;
    size_t n; /* candidates of the current week */
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
    memset(b, 0, sizeof(*b));
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

/* What a run accumulates. */
typedef struct {
    const au_bt_panel_t *p;
    const au_bt_task_t *t;
    au_bt_context_t c;
    au_bt_acc_t *acc[AU_BT_NMETHODS];
    au_bt_cal_acc_t *cal;
    au_bt_model_t model;
    double base_rate; /* of the model's training rows: the reference */
    week_buf_t b;
    au_bt_result_t *r;
} run_t;

/* Week w's candidates and their labels into the buffer. */
static int collect(run_t *u, size_t w)
{
    week_buf_t *b = &u->b;
    b->n = 0;
    for (size_t t = 0; t < u->p->n_tracks; t++) {
        int hit, rc;
        if (!au_bt_is_candidate(u->p, u->t, t, w))
            continue;
        b->cand[b->n] = t;
        b->pos[b->n] = au_bt_pos(u->p, t, w);
        rc = au_bt_label(u->p, u->t, t, w, &hit, &b->lead[b->n]);
        if (rc < 0)
            return rc;
        b->hit[b->n] = (unsigned char)hit;
        b->n++;
    }
    return 0;
}

/* The example: among the model's top-20 hits, the longest lead; weeks
 * come in order and ranks ascending, so a strict improvement keeps the
 * earliest week and the best rank on ties. */
static void consider_example(run_t *u, size_t w)
{
    week_buf_t *b = &u->b;
    au_bt_result_t *r = u->r;
    for (size_t i = 0; i < b->n && i < 20; i++) {
        if (!b->hit_ranked[i] || (r->found && r->ex_lead >= b->lead_ranked[i]))
            continue;
        r->found = 1;
        r->ex_track = b->cand[b->order[i]];
        r->ex_week = w;
        r->ex_rank = i + 1;
        r->ex_candidates = b->n;
        r->ex_lead = b->lead_ranked[i];
        r->ex_prob = b->score[b->order[i]];
    }
}

static int eval_method(run_t *u, au_bt_method_t m, size_t w)
{
    week_buf_t *b = &u->b;
    int rc = au_bt_score(u->p, &u->c, m, &u->model, w, b->cand, b->n, b->score);
    if (rc == 0)
        rc = au_bt_rank(b->score, b->pos, b->n, b->order);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        b->hit_ranked[i] = b->hit[b->order[i]];
        b->lead_ranked[i] = b->lead[b->order[i]];
    }
    if (m == AU_BT_MODEL) {
        consider_example(u, w);
        rc = au_bt_cal_add(u->cal, b->score, b->hit, b->n, u->base_rate);
    }
    return rc < 0
               ? rc
               : au_bt_acc_add(u->acc[m], b->hit_ranked, b->lead_ranked, b->n);
}

/* Refits the model on the weeks before w (warm-started from the last
 * fit) and takes its training base rate as the reference forecast. */
static int refit(run_t *u, size_t w)
{
    int rc = au_bt_fit_before(u->p, u->t, w, &u->model);
    if (rc < 0)
        return rc;
    u->r->n_fits++;
    u->base_rate = (double)u->model.positives / (double)u->model.rows;
    return 0;
}

static int eval_weeks(run_t *u, au_error_t *err)
{
    au_bt_result_t *r = u->r;
    size_t block_end = 0;
    int rc = 0;
    for (size_t w = AU_BT_WARMUP; w < u->p->n_weeks && rc == 0; w++) {
        if (!au_bt_week_ok(u->p, w))
            continue;
        if (w >= block_end) {
            rc = refit(u, w);
            /* No candidate before w yet: the evaluation starts later, for
             * every method alike. */
            if (rc == AU_ENOTFOUND && r->n_fits == 0) {
                rc = 0;
                continue;
            }
            if (rc < 0)
                return au_error_set(
                    err, rc, "backtest: %s: fitting before %s: %s", u->p->label,
                    u->p->week_date[w], au_strerror(rc));
            block_end = w + AU_BT_BLOCK;
        }
        if (r->n_eval == 0)
            r->eval_first = w;
        r->eval_last = w;
        r->n_eval++;
        rc = collect(u, w);
        for (int m = 0; m < AU_BT_NMETHODS && rc == 0; m++)
            rc = eval_method(u, (au_bt_method_t)m, w);
    }
    if (rc < 0)
        return au_error_set(err, rc, "backtest: %s: %s", u->p->label,
                            au_strerror(rc));
    return 0;
}

static int summarize(run_t *u)
{
    au_bt_result_t *r = u->r;
    int rc = 0;
    for (int m = 0; m < AU_BT_NMETHODS && rc == 0; m++)
        rc = au_bt_acc_result(u->acc[m], &r->m[m]);
    int k = u->t->k;
    r->best_naive = AU_BT_POSITION;
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        if (au_bt_method_is_naive((au_bt_method_t)m) &&
            au_bt_precision_k(&r->m[m], k, NULL) >
                au_bt_precision_k(&r->m[r->best_naive], k, NULL))
            r->best_naive = (au_bt_method_t)m;
    for (int m = 0; m < AU_BT_NMETHODS && rc == 0; m++)
        rc = au_bt_acc_paired(u->acc[m], u->acc[r->best_naive], &r->diff[m]);
    if (rc == 0)
        rc = au_bt_cal_result(u->cal, &r->calib);
    r->model = r->deploy = u->model;
    if (rc == 0)
        rc = au_bt_fit_before(u->p, u->t, u->p->n_weeks, &r->deploy);
    return rc;
}

static int run_init(run_t *u)
{
    int rc = au_bt_context_new(u->p, &u->c);
    if (rc == 0)
        rc = week_buf_alloc(&u->b, u->p->n_tracks);
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        u->acc[m] = au_bt_acc_new();
    u->cal = au_bt_cal_new();
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        if (!u->acc[m])
            rc = AU_ENOMEM;
    return rc == 0 && !u->cal ? AU_ENOMEM : rc;
}

static void run_free(run_t *u)
{
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        au_bt_acc_destroy(&u->acc[m]);
    au_bt_cal_destroy(&u->cal);
    au_bt_context_free(&u->c);
    week_buf_free(&u->b);
}

int au_bt_run(const au_bt_panel_t *p, int task, au_bt_result_t *r,
              au_error_t *err)
{
    if (!p || !r || !au_bt_task(task))
        return au_error_set(err, AU_EINVAL, "backtest: no panel or task");
    memset(r, 0, sizeof(*r));
    r->task = task;
    r->n_weeks = p->n_weeks;
    if (p->n_weeks < AU_BT_MIN_WEEKS)
        return au_error_set(err, AU_EINVAL,
                            "backtest: %s: %zu weeks, need at least %d",
                            p->label, p->n_weeks, AU_BT_MIN_WEEKS);
    run_t u = {.p = p, .t = au_bt_task(task), .r = r};
    int rc = run_init(&u);
    if (rc < 0)
        au_error_set(err, rc, "backtest: out of memory");
    if (rc == 0)
        rc = eval_weeks(&u, err);
    if (rc == 0 && r->n_eval == 0)
        rc = au_error_set(err, AU_EINVAL, "backtest: %s: no week to evaluate",
                          p->label);
    if (rc == 0) {
        rc = summarize(&u);
        if (rc < 0)
            au_error_set(err, rc, "backtest: %s: intervals: %s", p->label,
                         au_strerror(rc));
    }
    run_free(&u);
    return rc;
}

/* ---- one song, several ids ----------------------------------------- */

typedef struct {
    const au_bt_panel_t *p;
    size_t r, first; /* track and its first charted week */
} song_t;

static size_t first_week(const au_bt_panel_t *p, size_t r)
{
    for (size_t w = 0; w < p->n_weeks; w++)
        if (p->pos[r * p->stride + w])
            return w;
    return p->n_weeks;
}

static int same_song(const au_bt_panel_t *p, size_t a, size_t b)
{
    return p->names[a] && p->names[b] && p->artists[a] && p->artists[b] &&
           strcmp(p->names[a], p->names[b]) == 0 &&
           strcmp(p->artists[a], p->artists[b]) == 0;
}

/* By name, artist, then first week: each song's ids in the order they
 * appeared. Unnamed tracks sort first, each on its own. */
static int cmp_song(const void *x, const void *y)
{
    const song_t *a = x, *b = y;
    const au_bt_panel_t *p = a->p;
    int an = p->names[a->r] && p->artists[a->r];
    int bn = p->names[b->r] && p->artists[b->r];
    if (an != bn)
        return an - bn;
    int c = an ? strcmp(p->names[a->r], p->names[b->r]) : 0;
    if (c == 0 && an)
        c = strcmp(p->artists[a->r], p->artists[b->r]);
    if (c)
        return c;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return (a->r > b->r) - (a->r < b->r);
}

/* 1 when tracks a and b are on a chart in the same week. */
static int co_chart(const au_bt_panel_t *p, size_t a, size_t b)
{
    for (size_t w = 0; w < p->n_weeks; w++)
        if (p->pos[a * p->stride + w] && p->pos[b * p->stride + w])
            return 1;
    return 0;
}

/* 1 when track s[i] can join row `row` of its song (whose tracks are
 * s[g..i)): no track already in that row charts in a week it does. */
static int fits(const au_bt_panel_t *p, const song_t *s, const size_t *row,
                size_t g, size_t i, size_t r)
{
    for (size_t k = g; k < i; k++)
        if (row[k] == r && co_chart(p, s[k].r, s[i].r))
            return 0;
    return 1;
}

/* The merged panel's row of each track s[i], and its member number in
 * that row (0: the row's first id). A track joins the first row of its
 * song it fits, or starts a new one. Returns the number of rows. */
static size_t assign_rows(const au_bt_panel_t *p, const song_t *s, size_t *row,
                          size_t *member)
{
    size_t rows = 0, g = 0;
    for (size_t i = 0; i < p->n_tracks; i++) {
        if (i == 0 || !same_song(p, s[i].r, s[g].r))
            g = i; /* the song's first track */
        row[i] = rows;
        member[i] = 0;
        for (size_t j = g; j < i; j++) {
            if (member[j] != 0 || !fits(p, s, row, g, i, row[j]))
                continue; /* j does not start a row, or i collides */
            row[i] = row[j];
            for (size_t k = g; k < i; k++)
                member[i] += row[k] == row[j];
            break;
        }
        rows += row[i] == rows;
    }
    return rows;
}

static int copy_track(au_bt_panel_t *q, const au_bt_panel_t *p, size_t from,
                      size_t to, size_t member)
{
    for (size_t w = 0; w < p->n_weeks; w++) {
        size_t a = from * p->stride + w, b = to * q->stride + w;
        if (!p->pos[a])
            continue;
        q->pos[b] = p->pos[a];
        q->streams[b] = p->streams[a];
        q->id_no[b] = (unsigned char)(member < 255 ? member : 255);
    }
    if (member)
        return 0;
    q->keys[to] = p->keys[from] ? strdup(p->keys[from]) : NULL;
    q->names[to] = p->names[from] ? strdup(p->names[from]) : NULL;
    q->artists[to] = p->artists[from] ? strdup(p->artists[from]) : NULL;
    if ((p->keys[from] && !q->keys[to]) || (p->names[from] && !q->names[to]) ||
        (p->artists[from] && !q->artists[to]))
        return AU_ENOMEM;
    return 0;
}

int au_bt_merge_ids(const au_bt_panel_t *p, au_bt_panel_t **out)
{
    size_t n = p->n_tracks ? p->n_tracks : 1;
    song_t *s = malloc(n * sizeof(*s));
    size_t *row = malloc(n * sizeof(*row)), *member = malloc(n * sizeof(*row));
    au_bt_panel_t *q = NULL;
    int rc = s && row && member ? 0 : AU_ENOMEM;
    *out = NULL;
    for (size_t i = 0; rc == 0 && i < p->n_tracks; i++)
        s[i] = (song_t){p, i, first_week(p, i)};
    if (rc == 0) {
        qsort(s, p->n_tracks, sizeof(*s), cmp_song);
        size_t rows = assign_rows(p, s, row, member);
        q = au_bt_panel_new(rows, p->n_weeks);
        rc = q ? 0 : AU_ENOMEM;
    }
    if (rc == 0) {
        memcpy(q->present, p->present, p->n_weeks);
        memcpy(q->week_t, p->week_t, p->n_weeks * sizeof(*q->week_t));
        memcpy(q->week_date, p->week_date, p->n_weeks * sizeof(*q->week_date));
        memcpy(q->label, p->label, sizeof q->label);
        q->merged = p->merged + (p->n_tracks - q->n_tracks);
    }
    for (size_t i = 0; rc == 0 && i < p->n_tracks; i++)
        rc = copy_track(q, p, s[i].r, row[i], member[i]);
    if (rc < 0)
        au_bt_panel_destroy(&q);
    *out = q;
    free(s);
    free(row);
    free(member);
    return rc;
}
