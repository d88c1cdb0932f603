/* au_bt_io.c: the backtest's edges: reading the panel from PostgreSQL,
 * printing the table and JSON, drawing the SVG, and the command. */
#include "au_args.h"
#include "au_backtest.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au_bt_boot.h"
#include "au_ctx.h"
#include "au_date.h"
#include "au_store.h"

/* ---- loading -------------------------------------------------------- */

/* Fills the weeks from the series' chart dates, checking they are
 * consecutive weekly charts. */
static int load_weeks(au_bt_panel_t *p, const au_series_t *s, au_error_t *err)
{
    for (size_t w = 0; w < p->n_weeks; w++) {
        long days = 0;
        if (au_date_parse(s->dates[w], strlen(s->dates[w]), &days) < 0)
            return au_error_set(err, AU_EPARSE,
                                "backtest: chart date %zu unreadable", w);
        memcpy(p->week_date[w], s->dates[w], sizeof(p->week_date[w]));
        p->week_t[w] = (double)days * AU_DATE_DAY_S;
        if (w > 0 && p->week_t[w] - p->week_t[w - 1] != 7 * AU_DATE_DAY_S)
            return au_error_set(
                err, AU_EINVAL,
                "backtest: %s to %s is %.0f days; the backtest needs "
                "consecutive weekly charts",
                p->week_date[w - 1], p->week_date[w],
                (p->week_t[w] - p->week_t[w - 1]) / AU_DATE_DAY_S);
    }
    return 0;
}

static int panel_of(const au_series_t *s, au_bt_panel_t *p, au_error_t *err)
{
    int rc = load_weeks(p, s, err);
    if (rc < 0)
        return rc;
    for (size_t r = 0; r < s->n_tracks; r++) {
        p->keys[r] = strdup(s->keys[r]);
        p->names[r] = strdup(s->names[r]);
        p->artists[r] = strdup(s->artists[r]);
        if (!p->keys[r] || !p->names[r] || !p->artists[r])
            return au_error_set(err, AU_ENOMEM, "backtest: out of memory");
    }
    for (size_t i = 0; i < s->n_rows; i++) {
        const au_series_row_t *row = &s->rows[i];
        if (row->position < 1 || row->position > AU_BT_LAST_CAND)
            continue; /* beyond the 200 the task is about */
        p->pos[row->track * p->stride + row->date] = row->position;
        if (row->streams >= 0)
            p->streams[row->track * p->stride + row->date] =
                (double)row->streams;
    }
    return 0;
}

int au_bt_load(PGconn *c, const char *platform, const char *chart,
               const char *region, au_bt_panel_t **out, au_error_t *err)
{
    *out = NULL;
    au_series_t *s = NULL;
    int rc = au_store_read_series(c, platform, chart, region, &s, err);
    if (rc < 0)
        return rc;
    au_bt_panel_t *p = NULL;
    if (s->n_dates == 0) {
        rc = au_error_set(err, AU_ENOTFOUND, "backtest: no %s/%s/%s rows",
                          platform, chart, region);
    } else if (s->n_dates > AU_BT_MAX_WEEKS || s->n_tracks > AU_BT_MAX_TRACKS) {
        rc = au_error_set(err, AU_ETOOBIG,
                          "backtest: %s/%s/%s has %zu chart dates and %zu "
                          "tracks; at most %d dates",
                          platform, chart, region, s->n_dates, s->n_tracks,
                          AU_BT_MAX_WEEKS);
    } else if (!(p = au_bt_panel_new(s->n_tracks, s->n_dates))) {
        rc = au_error_set(err, AU_ENOMEM, "backtest: panel too big");
    } else if ((rc = panel_of(s, p, err)) == 0) {
        *out = p;
        p = NULL;
    }
    au_series_destroy(&s);
    au_bt_panel_destroy(&p);
    return rc;
}

/* ---- printing ------------------------------------------------------- */

/* What each ranking really does, for the table and the chart. The viral
 * predictor's second line says why its bar equals the position bar:
 * docs/backtest.md ("The methods") has the arithmetic. */
static const char *const method_labels[AU_BT_NMETHODS] = {
    "current position, closest to 50 first",
    "ported viral predictor",
    "ported trend analyzer, strength*|growth|",
    "last week's position gain",
    "stream growth week over week",
    "own logistic regression"};
static const char *const method_notes[AU_BT_NMETHODS] = {
    "naive",
    "= position order without social signals",
    "tracks with < 5 charted weeks last",
    "naive",
    "naive",
    "fitted on earlier weeks only"};

static void fmt_num(char *buf, size_t cap, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
}

/* "0.163 (0.120-0.207)", or "-" for an undefined value. */
static void fmt_ci(char *buf, size_t cap, double v, au_bt_ci_t ci,
                   const char *fmt)
{
    char a[24], lo[24], hi[24];
    fmt_num(a, sizeof a, v, fmt);
    fmt_num(lo, sizeof lo, ci.lo, fmt);
    fmt_num(hi, sizeof hi, ci.hi, fmt);
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%s (%s-%s)", a, lo, hi);
}

static void print_row(FILE *f, int m, const au_bt_metrics_t *x, size_t first)
{
    char p10[80], p20[80], rec[80], lead[80];
    fmt_ci(p10, sizeof p10, x->p10, x->p10_ci, "%.3f");
    fmt_ci(p20, sizeof p20, x->p20, x->p20_ci, "%.3f");
    fmt_ci(rec, sizeof rec, x->recall20, x->recall20_ci, "%.3f");
    fmt_ci(lead, sizeof lead, x->lead_median, x->lead_ci, "%.1f");
    fprintf(f, "  %-40s %-19s %-19s %-19s %4zu/%-4zu %-13s %2zu from #%zu\n",
            method_labels[m], p10, p20, rec, x->tp20, x->hits, lead, x->weeks,
            first + 1);
}

static void print_header(FILE *f)
{
    fprintf(f, "  %-40s %-19s %-19s %-19s %9s %-13s %s\n", "method",
            "P@10 (95% CI)", "P@20 (95% CI)", "R@20 (95% CI)", "TP20/hits",
            "lead (95% CI)", "weeks");
}

static void print_model(FILE *f, const au_bt_model_t *m)
{
    static const char *const feat[AU_BT_NFEAT] = {
        "pos_score",   "gain1",        "gain2",    "log_stream_growth",
        "log_streams", "log_weeks_on", "new_entry"};
    fprintf(f,
            "\nlogistic weights (standardized features): intercept "
            "%.3f",
            m->beta[0]);
    for (int j = 0; j < AU_BT_NFEAT; j++)
        fprintf(f, "%s %s %.3f", j % 3 == 0 ? ",\n " : ",", feat[j],
                m->beta[j + 1]);
    fprintf(f, "\n");
}

static void print_example(FILE *f, const au_bt_panel_t *p,
                          const au_bt_result_t *r)
{
    size_t t = r->ex_track;
    fprintf(f,
            "\nexample (%s):\n  \"%s\" by %s, at #%d in %s, ranked %zu by "
            "the logistic model, top %d %d week(s) later\n",
            AU_BT_EXAMPLE_RULE, p->names[t] ? p->names[t] : "?",
            p->artists[t] ? p->artists[t] : "?", au_bt_pos(p, t, r->ex_week),
            p->week_date[r->ex_week], r->ex_rank, AU_BT_TOP, r->ex_lead);
}

void au_bt_print(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                 const char *what)
{
    const au_bt_model_t *m = &r->model;
    fprintf(f, "backtest: %s, %zu consecutive weekly charts %s .. %s\n", what,
            r->n_weeks, p->week_date[0], p->week_date[r->n_weeks - 1]);
    fprintf(f,
            "task: at week w rank the tracks at positions %d-%d; hit = "
            "position <= %d in weeks w+1..w+%d\n",
            AU_BT_FIRST_CAND, AU_BT_LAST_CAND, AU_BT_TOP, AU_BT_HORIZON);
    fprintf(f, "P@k: mean over weeks of hits in the top k / k. R@20: top-20 "
               "hits / all hits, pooled over weeks.\n");
    fprintf(f,
            "lead: median weeks from w to the first top-%d week, over "
            "top-20 hits.\n",
            AU_BT_TOP);
    fprintf(f,
            "95%% CI: block bootstrap over weeks, %d resamples of %d-week "
            "blocks, fixed seed.\n",
            AU_BT_BOOT_REPS, AU_BT_BOOT_BLOCK);
    fprintf(f,
            "training: weeks #%zu..#%zu (%s .. %s) of a view holding "
            "weeks #1..#%zu only; %zu rows, %zu hits, %d Newton steps\n",
            m->first_week + 1, m->last_week + 1, p->week_date[m->first_week],
            p->week_date[m->last_week], r->split, m->rows, m->positives,
            m->iters);
    const au_bt_metrics_t *e = &r->eval[AU_BT_POSITION];
    fprintf(f,
            "\nevaluation weeks #%zu..#%zu (%s .. %s), every method: "
            "%zu candidates, %zu hits, base rate %.3f\n",
            r->eval_first + 1, r->eval_last + 1, p->week_date[r->eval_first],
            p->week_date[r->eval_last], e->candidates, e->hits, e->base_rate);
    print_header(f);
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        print_row(f, i, &r->eval[i], r->eval_first);
    fprintf(f, "  (the ported viral predictor ranks as the current position "
               "when no social signals exist)\n");
    fprintf(f,
            "\nlogistic minus the best naive ranking (%s), P@20 paired over "
            "the same weeks: %+.3f (95%% CI %+.3f to %+.3f)\n",
            method_labels[r->best_naive], r->diff_p20, r->diff_p20_ci.lo,
            r->diff_p20_ci.hi);
    fprintf(f,
            "\nall evaluable weeks (each method from the first week it "
            "can score, to #%zu):\n",
            r->eval_last + 1);
    print_header(f);
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        if (i != AU_BT_LOGIT)
            print_row(f, i, &r->all[i],
                      au_bt_method_first_week((au_bt_method_t)i));
    print_model(f, m);
    if (r->found)
        print_example(f, p, r);
}

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *jci(au_bt_ci_t ci)
{
    return json_pack("[o, o]", jnum(ci.lo), jnum(ci.hi));
}

static json_t *metrics_json(const au_bt_metrics_t *x, size_t first)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o}",
        "weeks", (json_int_t)x->weeks, "first_week", (json_int_t)(first + 1),
        "candidates", (json_int_t)x->candidates, "hits", (json_int_t)x->hits,
        "tp20", (json_int_t)x->tp20, "precision_at_10", jnum(x->p10),
        "precision_at_10_ci", jci(x->p10_ci), "precision_at_20", jnum(x->p20),
        "precision_at_20_ci", jci(x->p20_ci), "recall_at_20", jnum(x->recall20),
        "recall_at_20_ci", jci(x->recall20_ci), "lead_median_weeks",
        jnum(x->lead_median), "lead_median_ci", jci(x->lead_ci), "base_rate",
        jnum(x->base_rate));
}

int au_bt_print_json(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                     const char *what)
{
    json_t *eval = json_object(), *all = json_object(), *beta = json_array();
    for (int i = 0; i < AU_BT_NMETHODS; i++) {
        const char *n = au_bt_method_name((au_bt_method_t)i);
        json_object_set_new(eval, n, metrics_json(&r->eval[i], r->eval_first));
        if (i != AU_BT_LOGIT)
            json_object_set_new(
                all, n,
                metrics_json(&r->all[i],
                             au_bt_method_first_week((au_bt_method_t)i)));
    }
    for (int j = 0; j <= AU_BT_NFEAT; j++)
        json_array_append_new(beta, json_real(r->model.beta[j]));
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:{s:I, s:I, s:I, s:o}, "
        "s:o, s:o, s:{s:s, s:o, s:o}}",
        "series", what, "weeks", (json_int_t)r->n_weeks, "first_date",
        p->week_date[0], "last_date", p->week_date[r->n_weeks - 1], "split",
        (json_int_t)r->split, "eval_first_date", p->week_date[r->eval_first],
        "eval_last_date", p->week_date[r->eval_last], "model", "rows",
        (json_int_t)r->model.rows, "positives", (json_int_t)r->model.positives,
        "iterations", (json_int_t)r->model.iters, "beta", beta, "eval", eval,
        "all", all, "logit_minus_best_naive", "method",
        au_bt_method_name(r->best_naive), "precision_at_20", jnum(r->diff_p20),
        "precision_at_20_ci", jci(r->diff_p20_ci));
    if (!o)
        return AU_ENOMEM;
    int rc = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0
                 ? 0
                 : AU_EIO;
    fputc('\n', f);
    json_decref(o);
    return rc;
}

/* ---- SVG ------------------------------------------------------------ */

#define SVG_W 960
#define C_NAIVE "#7f7f7f"
#define C_PORTED "#c0504d"
#define C_OWN "#4f81bd"
#define C_RELINK "#e69f00"

static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A line of text; anchor "start", "middle" or "end"; s is escaped. */
static void svg_label(FILE *f, double x, double y, int size, const char *anchor,
                      const char *fill, const char *s)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" "
            "text-anchor=\"%s\" fill=\"%s\">",
            x, y, size, anchor, fill);
    svg_text(f, s);
    fputs("</text>\n", f);
}

static void svg_line(FILE *f, double x1, double y1, double x2, double y2,
                     const char *stroke, const char *extra)
{
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" %s/>\n",
            x1, y1, x2, y2, stroke, extra);
}

static const char *method_colour(au_bt_method_t m)
{
    if (m == AU_BT_LOGIT)
        return C_OWN;
    return au_bt_method_is_naive(m) ? C_NAIVE : C_PORTED;
}

/* The precision axis ends at the next 0.05 above every interval, with a
 * grid line every 0.05 (every 0.1 past 0.5). */
static double bars_top(const au_bt_result_t *r, double *step)
{
    double top = 0.05;
    for (int i = 0; i < AU_BT_NMETHODS; i++) {
        double v = fmax(r->eval[i].p20, r->eval[i].p20_ci.hi);
        while (!isnan(v) && v > top + 1e-9 && top < 1.0)
            top += 0.05;
    }
    *step = top > 0.5 ? 0.1 : 0.05;
    return top;
}

static void svg_bar(FILE *f, int i, const au_bt_metrics_t *m, double y,
                    double x0, double w, double top)
{
    const double bh = 24;
    double v = isnan(m->p20) ? 0.0 : m->p20;
    char buf[96];
    svg_label(f, x0 - 8, y + 10, 13, "end", "#000", method_labels[i]);
    svg_label(f, x0 - 8, y + 24, 11, "end", "#666", method_notes[i]);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"%s\"/>\n",
            x0, y, w * v / top, bh, method_colour((au_bt_method_t)i));
    double lo = m->p20_ci.lo, hi = m->p20_ci.hi, ym = y + bh / 2;
    if (!isnan(lo) && !isnan(hi)) {
        double xl = x0 + w * lo / top, xh = x0 + w * hi / top;
        svg_line(f, xl, ym, xh, ym, "#000", "stroke-width=\"1.5\"");
        svg_line(f, xl, ym - 6, xl, ym + 6, "#000", "stroke-width=\"1.5\"");
        svg_line(f, xh, ym - 6, xh, ym + 6, "#000", "stroke-width=\"1.5\"");
    }
    fmt_ci(buf, sizeof buf, m->p20, m->p20_ci, "%.3f");
    double xt = x0 + w * fmax(v, isnan(hi) ? v : hi) / top + 8;
    svg_label(f, xt, ym + 4, 12, "start", "#000", buf);
}

static void svg_legend_box(FILE *f, double x, double y, const char *fill,
                           const char *text)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
            "fill=\"%s\"/>\n",
            x, y - 11, fill);
    svg_label(f, x + 20, y, 12, "start", "#000", text);
}

static void svg_legend(FILE *f, double y)
{
    svg_legend_box(f, 20, y, C_NAIVE, "naive ranking");
    svg_legend_box(f, 160, y, C_PORTED, "scorer ported as it is");
    svg_legend_box(f, 350, y, C_OWN, "own model");
    svg_line(f, 460, y - 4, 490, y - 4, "#000", "stroke-width=\"1.5\"");
    svg_label(f, 496, y, 12, "start", "#000",
              "95% interval (block bootstrap over weeks)");
    svg_line(f, 760, y - 14, 760, y + 3, "#000", "stroke-dasharray=\"4 3\"");
    svg_label(f, 766, y, 12, "start", "#000", "random ranking");
}

static double svg_bars(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                       const char *what)
{
    const double x0 = 300, y0 = 78, w = 400, row = 40;
    const au_bt_metrics_t *e = &r->eval[AU_BT_POSITION];
    double step, top = bars_top(r, &step);
    double y_axis = y0 + AU_BT_NMETHODS * row;
    char buf[320];
    svg_label(f, 20, 26, 16, "start", "#000",
              "Which tracks at #51-200 reach the top 50 within 4 weeks? "
              "Precision@20 per ranking");
    snprintf(buf, sizeof buf,
             "%s: n = %zu evaluation weeks (%s to %s), %zu candidates, %zu "
             "hits; fitting used earlier weeks only",
             what, e->weeks, p->week_date[r->eval_first],
             p->week_date[r->eval_last], e->candidates, e->hits);
    svg_label(f, 20, 46, 12, "start", "#333", buf);
    for (double v = 0.0; v <= top + 1e-9; v += step) {
        double x = x0 + w * v / top;
        svg_line(f, x, y0 - 6, x, y_axis, "#ddd", "");
        snprintf(buf, sizeof buf, "%.2f", v);
        svg_label(f, x, y_axis + 14, 11, "middle", "#000", buf);
    }
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        svg_bar(f, i, &r->eval[i], y0 + i * row, x0, w, top);
    if (!isnan(e->base_rate)) {
        double x = x0 + w * e->base_rate / top;
        svg_line(f, x, y0 - 10, x, y_axis - 12, "#000",
                 "stroke-dasharray=\"4 3\"");
        snprintf(buf, sizeof buf, "random (base rate %.3f)", e->base_rate);
        svg_label(f, x + 4, y0 - 10, 11, "start", "#000", buf);
    }
    svg_legend(f, y_axis + 40);
    snprintf(buf, sizeof buf,
             "Own logistic regression minus the best naive ranking (%s), "
             "paired over the same weeks:",
             method_labels[r->best_naive]);
    svg_label(f, 20, y_axis + 66, 12, "start", "#000", buf);
    snprintf(buf, sizeof buf,
             "P@20 %+.3f, 95%% interval %+.3f to %+.3f (same bootstrap, "
             "both methods resampled together)",
             r->diff_p20, r->diff_p20_ci.lo, r->diff_p20_ci.hi);
    svg_label(f, 20, y_axis + 82, 12, "start", "#000", buf);
    return y_axis + 82;
}

typedef struct {
    double x0, y0, w, h;
    size_t n_weeks;
} plot_t;

static double plot_x(const plot_t *g, size_t k)
{
    return g->x0 + g->w * (double)k / (double)(g->n_weeks - 1);
}

/* Position 1 at the top: y grows with the position. */
static double plot_y(const plot_t *g, double pos)
{
    return g->y0 + g->h * (pos - 1.0) / 199.0;
}

static void week_ymd(const au_bt_panel_t *p, size_t k, int *y, int *m, int *d)
{
    au_date_to_ymd(lround(p->week_t[k] / AU_DATE_DAY_S), y, m, d);
}

/* Ticks every 4 weeks with the day and month, and the year under the
 * first tick and under the first tick of each new year; a series longer
 * than 80 weeks gets one tick per year instead. */
static void svg_date_axis(FILE *f, const au_bt_panel_t *p, const plot_t *g)
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
    int shown_year = 0;
    char buf[32];
    for (size_t k = 0; k < g->n_weeks; k++) {
        int y, m, d, py = 0, pm, pd;
        week_ymd(p, k, &y, &m, &d);
        if (k > 0)
            week_ymd(p, k - 1, &py, &pm, &pd);
        double x = plot_x(g, k), yb = g->y0 + g->h;
        if (g->n_weeks > 80) {
            if (k > 0 && y == py)
                continue;
            svg_line(f, x, yb, x, yb + 5, "#999", "");
            snprintf(buf, sizeof buf, "%d", y);
            svg_label(f, x, yb + 17, 11, "middle", "#000", buf);
            continue;
        }
        if (k % 4)
            continue;
        svg_line(f, x, yb, x, yb + 5, "#999", "");
        snprintf(buf, sizeof buf, "%s %d", mon[m - 1], d);
        svg_label(f, x, yb + 17, 10, "middle", "#000", buf);
        if (y != shown_year) {
            snprintf(buf, sizeof buf, "%d", y);
            svg_label(f, x, yb + 31, 11, "middle", "#000", buf);
            shown_year = y;
        }
    }
}

/* Track t's positions as lines broken by the weeks off the chart, with a
 * dot per charted week. */
static void svg_track_line(FILE *f, const au_bt_panel_t *p, const plot_t *g,
                           size_t t, const char *colour, const char *dash)
{
    int open = 0;
    for (size_t k = 0; k <= g->n_weeks; k++) {
        int v = k < g->n_weeks ? p->pos[t * p->stride + k] : 0;
        if (!v) {
            if (open)
                fprintf(f,
                        "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                        "%s/>\n",
                        colour, dash);
            open = 0;
            continue;
        }
        fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline points=\"",
                plot_x(g, k), plot_y(g, v));
        open = 1;
    }
    for (size_t k = 0; k < g->n_weeks; k++) {
        int v = p->pos[t * p->stride + k];
        if (v)
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                    "fill=\"%s\"/>\n",
                    plot_x(g, k), plot_y(g, v), colour);
    }
}

static size_t first_charted(const au_bt_panel_t *p, size_t t)
{
    for (size_t k = 0; k < p->n_weeks; k++)
        if (p->pos[t * p->stride + k])
            return k;
    return 0;
}

/* The same song under other Spotify ids: drawn dashed, with the week the
 * new id appears marked, since the backtest sees separate tracks. */
static void svg_relinks(FILE *f, const au_bt_panel_t *p, const plot_t *g,
                        size_t t, double y_legend)
{
    size_t other[4];
    size_t n = au_bt_same_song(p, t, other, 4);
    char buf[200];
    for (size_t i = 0; i < n && i < 4; i++) {
        size_t k = first_charted(p, other[i]);
        double x = plot_x(g, k);
        svg_track_line(f, p, g, other[i], C_RELINK, "stroke-dasharray=\"6 4\"");
        svg_line(f, x, g->y0, x, g->y0 + g->h, C_RELINK,
                 "stroke-dasharray=\"2 3\"");
        snprintf(buf, sizeof buf, "new Spotify id from %s", p->week_date[k]);
        svg_label(f, x + 4, g->y0 + 14 + 14 * (double)i, 11, "start", C_RELINK,
                  buf);
    }
    fprintf(f,
            "<line x1=\"20\" y1=\"%.1f\" x2=\"50\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"2\"/>\n",
            y_legend - 4, y_legend - 4, C_OWN);
    snprintf(buf, sizeof buf, "track key %s (the one the model ranked)",
             p->keys[t]);
    svg_label(f, 56, y_legend, 12, "start", "#000", buf);
    if (n == 0)
        return;
    fprintf(f,
            "<line x1=\"20\" y1=\"%.1f\" x2=\"50\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n",
            y_legend + 14, y_legend + 14, C_RELINK);
    svg_label(f, 56, y_legend + 18, 12, "start", "#000",
              "same title and artist under a new Spotify id: a separate "
              "track to the backtest");
}

static void svg_track(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                      double top)
{
    const plot_t g = {70, top + 70, 800, 220, p->n_weeks};
    size_t t = r->ex_track;
    char buf[320];
    snprintf(buf, sizeof buf, "Example: %s (%s), chart position by week",
             p->names[t] ? p->names[t] : p->keys[t],
             p->artists[t] ? p->artists[t] : "?");
    svg_label(f, 20, top + 26, 16, "start", "#000", buf);
    snprintf(buf, sizeof buf, "Chosen by a fixed rule: %s.",
             AU_BT_EXAMPLE_RULE);
    svg_label(f, 20, top + 46, 12, "start", "#333", buf);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#999\"/>\n",
            g.x0, g.y0, g.w, g.h);
    static const int ticks[] = {1, 50, 100, 150, 200};
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof buf, "%d", ticks[i]);
        svg_label(f, g.x0 - 6, plot_y(&g, ticks[i]) + 4, 11, "end", "#000",
                  buf);
    }
    double y50 = plot_y(&g, AU_BT_TOP + 0.5);
    svg_line(f, g.x0, y50, g.x0 + g.w, y50, "#2a2", "stroke-dasharray=\"5 3\"");
    svg_label(f, g.x0 + g.w + 4, y50 + 4, 11, "start", "#2a2", "top 50");
    double xm = plot_x(&g, r->ex_week);
    svg_line(f, xm, g.y0, xm, g.y0 + g.h, C_PORTED, "stroke-width=\"2\"");
    snprintf(buf, sizeof buf, "on %s the model ranked it %zu of %zu",
             p->week_date[r->ex_week], r->ex_rank, r->ex_candidates);
    svg_label(f, xm - 4, g.y0 + g.h - 6, 11, "end", C_PORTED, buf);
    svg_date_axis(f, p, &g);
    svg_track_line(f, p, &g, t, C_OWN, "");
    svg_relinks(f, p, &g, t, g.y0 + g.h + 56);
}

int au_bt_write_svg(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r,
                    const char *what)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            SVG_W, r->found ? 816 : 436);
    double y = svg_bars(f, p, r, what);
    if (r->found)
        svg_track(f, p, r, y + 24);
    fputs("</svg>\n", f);
    return ferror(f) ? AU_EIO : 0;
}

/* ---- the command ---------------------------------------------------- */

/* An option's value, or dflt when it is not given. */
static const char *opt_or(int *argc, char **argv, const char *name,
                          const char *dflt)
{
    const char *v = au_args_take_opt(argc, argv, name);
    return v ? v : dflt;
}

int au_backtest_cmd(int argc, char **argv)
{
    int json = au_args_take_flag(&argc, argv, "--json");
    const char *svg = opt_or(&argc, argv, "--svg", "backtest.svg");
    const char *platform = opt_or(&argc, argv, "--platform", "spotify");
    const char *chart = opt_or(&argc, argv, "--chart", "weekly");
    const char *region = opt_or(&argc, argv, "--region", "us");
    au_ctx_t ctx;
    au_error_t err = {0};
    if (au_ctx_init(&ctx, "audora", AU_CTX_DB, &argc, argv, &err) < 0) {
        fprintf(stderr, "audora backtest: %s\n", err.msg);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "audora backtest: unexpected argument %s\n", argv[1]);
        au_ctx_fini(&ctx);
        return 2;
    }
    au_bt_panel_t *p = NULL;
    au_bt_result_t r;
    int status = 1;
    char what[256];
    snprintf(what, sizeof what, "%s/%s/%s", platform, chart, region);
    PGconn *c = au_pool_get(ctx.pool, &err);
    if (!c)
        goto out;
    int rc = au_bt_load(c, platform, chart, region, &p, &err);
    au_pool_put(ctx.pool, c);
    if (rc < 0 || au_bt_run(p, &r, &err) < 0)
        goto out;
    if (json)
        rc = au_bt_print_json(stdout, p, &r, what);
    else
        au_bt_print(stdout, p, &r, what);
    FILE *f = fopen(svg, "w");
    if (!f) {
        au_error_set(&err, AU_EIO, "cannot write %s", svg);
        goto out;
    }
    rc = au_bt_write_svg(f, p, &r, what);
    if (fclose(f) != 0 || rc < 0) {
        au_error_set(&err, AU_EIO, "writing %s failed", svg);
        goto out;
    }
    if (!json)
        printf("\nchart: %s\n", svg);
    status = 0;
out:
    if (status)
        fprintf(stderr, "audora backtest: %s\n", err.msg);
    au_bt_panel_destroy(&p);
    au_ctx_fini(&ctx);
    return status;
}
