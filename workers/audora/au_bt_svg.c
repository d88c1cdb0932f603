/* au_bt_svg.c: the backtest's charts, hand-written SVG: precision per
 * method and series with intervals (one file per task), the model's
 * reliability curves, the lead-time distribution and one example track
 * per series. docs/backtest.md describes each chart. */
#include "au_backtest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "au_bt_boot.h"
#include "au_date.h"

#define C_NAIVE "#7f7f7f"
#define C_BEST "#404040"
#define C_PORTED "#c0504d"
#define C_OWN "#4f81bd"
#define C_RELINK "#e69f00"

/* ---- primitives ----------------------------------------------------- */

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
static void label(FILE *f, double x, double y, int size, const char *anchor,
                  const char *fill, const char *s)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" "
            "text-anchor=\"%s\" fill=\"%s\">",
            x, y, size, anchor, fill);
    svg_text(f, s);
    fputs("</text>\n", f);
}

static void bold(FILE *f, double x, double y, int size, const char *s)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" "
            "font-weight=\"bold\">",
            x, y, size);
    svg_text(f, s);
    fputs("</text>\n", f);
}

static void line(FILE *f, double x1, double y1, double x2, double y2,
                 const char *stroke, const char *extra)
{
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" %s/>\n",
            x1, y1, x2, y2, stroke, extra);
}

static void rect(FILE *f, double x, double y, double w, double h,
                 const char *fill)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"%s\"/>\n",
            x, y, w > 0 ? w : 0, h > 0 ? h : 0, fill);
}

static void frame(FILE *f, double x, double y, double w, double h)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#999\"/>\n",
            x, y, w, h);
}

static void begin(FILE *f, int w, int h)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            w, h);
}

/* A horizontal interval with end caps. */
static void whisker(FILE *f, double x1, double x2, double y)
{
    const char *st = "stroke-width=\"1.5\"";
    line(f, x1, y, x2, y, "#000", st);
    line(f, x1, y - 5, x1, y + 5, "#000", st);
    line(f, x2, y - 5, x2, y + 5, "#000", st);
}

static void swatch(FILE *f, double x, double y, const char *fill,
                   const char *text)
{
    rect(f, x, y - 11, 14, 14, fill);
    label(f, x + 20, y, 12, "start", "#000", text);
}

static const char *method_colour(au_bt_method_t m, au_bt_method_t best)
{
    if (m == AU_BT_MODEL)
        return C_OWN;
    if (m == best)
        return C_BEST;
    return au_bt_method_is_naive(m) ? C_NAIVE : C_PORTED;
}

int au_bt_svg_name(const char *base, int which, char *out, size_t cap)
{
    static const char *const suffix[AU_BT_NSVG] = {"", "_top10", "_reliability",
                                                   "_lead", "_examples"};
    if (which < 0 || which >= AU_BT_NSVG)
        return AU_EINVAL;
    size_t len = strlen(base);
    if (len >= 4 && strcmp(base + len - 4, ".svg") == 0)
        len -= 4;
    int n = snprintf(out, cap, "%.*s%s.svg", (int)len, base, suffix[which]);
    return n < 0 || (size_t)n >= cap ? AU_ETOOBIG : 0;
}

/* ---- precision per method and series -------------------------------- */

#define P_LEFT 330.0 /* method labels */
#define P_COL 160.0  /* one series */
#define P_BAR 118.0  /* bar area of a column */
#define P_ROW 32.0
#define P_TOP 96.0

/* The axis of every column: the next 0.1 above every interval. */
static double precision_top(const au_bt_series_t *s, size_t n, int task)
{
    int k = au_bt_task(task)->k;
    double top = 0.1;
    for (size_t i = 0; i < n; i++)
        for (int m = 0; m < AU_BT_NMETHODS; m++) {
            au_bt_ci_t ci;
            double v = au_bt_precision_k(&s[i].r[task].m[m], k, &ci);
            v = fmax(v, ci.hi);
            while (!isnan(v) && v > top + 1e-9 && top < 1.0)
                top += 0.1;
        }
    return top;
}

static void precision_column(FILE *f, const au_bt_series_t *s, int task,
                             double x0, double top)
{
    const au_bt_result_t *r = &s->r[task];
    const au_bt_metrics_t *b = &r->m[r->best_naive];
    int k = au_bt_task(task)->k;
    double y_end = P_TOP + AU_BT_NMETHODS * P_ROW;
    char buf[160];
    label(f, x0 + P_BAR / 2, P_TOP - 40, 13, "middle", "#000", s->p->label);
    snprintf(buf, sizeof buf, "n = %zu weeks", r->n_eval);
    label(f, x0 + P_BAR / 2, P_TOP - 26, 11, "middle", "#333", buf);
    snprintf(buf, sizeof buf, "%zu hits / %zu", b->hits, b->candidates);
    label(f, x0 + P_BAR / 2, P_TOP - 13, 11, "middle", "#333", buf);
    for (double v = 0.0; v <= top + 1e-9; v += 0.1) {
        double x = x0 + P_BAR * v / top;
        line(f, x, P_TOP - 4, x, y_end, "#e4e4e4", "");
        snprintf(buf, sizeof buf, "%.1f", v);
        label(f, x, y_end + 13, 10, "middle", "#000", buf);
    }
    for (int m = 0; m < AU_BT_NMETHODS; m++) {
        au_bt_ci_t ci;
        double y = P_TOP + m * P_ROW;
        double v = au_bt_precision_k(&r->m[m], k, &ci);
        rect(f, x0, y + 4, P_BAR * (isnan(v) ? 0.0 : v) / top, P_ROW - 10,
             method_colour((au_bt_method_t)m, r->best_naive));
        if (!isnan(ci.lo))
            whisker(f, x0 + P_BAR * ci.lo / top, x0 + P_BAR * ci.hi / top,
                    y + P_ROW / 2 - 1);
    }
    double xb = x0 + P_BAR * b->base_rate / top;
    line(f, xb, P_TOP - 4, xb, y_end, "#000", "stroke-dasharray=\"4 3\"");
}

/* Under the columns: the model minus the strongest naive ranking. */
static void precision_diffs(FILE *f, const au_bt_series_t *s, size_t n,
                            int task, double y)
{
    int k = au_bt_task(task)->k;
    char buf[160];
    snprintf(buf, sizeof buf, "own model minus the strongest naive, P@%d:", k);
    label(f, P_LEFT - 10, y, 12, "end", "#000", buf);
    label(f, P_LEFT - 10, y + 15, 11, "end", "#333",
          "(paired, same weeks; relative; 95% interval)");
    for (size_t i = 0; i < n; i++) {
        const au_bt_result_t *r = &s[i].r[task];
        au_bt_ci_t ci;
        double d = au_bt_precision_k(&r->diff[AU_BT_MODEL], k, &ci);
        double base = au_bt_precision_k(&r->m[r->best_naive], k, NULL);
        double x = P_LEFT + (double)i * P_COL + P_BAR / 2;
        snprintf(buf, sizeof buf, "%+.3f (%+.0f%%)", d,
                 base > 0 ? 100.0 * d / base : 0.0);
        label(f, x, y, 12, "middle", ci.lo > 0 ? C_OWN : "#000", buf);
        snprintf(buf, sizeof buf, "%+.3f..%+.3f", ci.lo, ci.hi);
        label(f, x, y + 15, 11, "middle", "#333", buf);
        snprintf(buf, sizeof buf, "vs %s", au_bt_method_name(r->best_naive));
        label(f, x, y + 30, 11, "middle", "#333", buf);
    }
}

static void precision_legend(FILE *f, double y)
{
    swatch(f, 20, y, C_NAIVE, "naive ranking");
    swatch(f, 140, y, C_BEST, "strongest naive (per column)");
    swatch(f, 350, y, C_PORTED, "ported scorer, as it is");
    swatch(f, 530, y, C_OWN, "own breakout model");
    whisker(f, 680, 706, y - 4);
    label(f, 712, y, 12, "start", "#000", "95% interval");
    line(f, 810, y - 13, 810, y + 3, "#000", "stroke-dasharray=\"4 3\"");
    label(f, 816, y, 12, "start", "#000", "random");
    label(f, 20, y + 20, 11, "start", "#333",
          "A difference in blue has its whole 95% interval above 0.");
}

static void svg_precision(FILE *f, const au_bt_series_t *s, size_t n, int task)
{
    const au_bt_task_t *t = au_bt_task(task);
    double top = precision_top(s, n, task);
    double width = P_LEFT + (double)n * P_COL + 10;
    double y_end = P_TOP + AU_BT_NMETHODS * P_ROW;
    char buf[240];
    begin(f, (int)fmax(width, 940), (int)y_end + 140);
    snprintf(buf, sizeof buf,
             "Tracks at #%d-%d: which reach the top %d within %d weeks? "
             "Precision@%d per ranking",
             t->first, t->last, t->line, AU_BT_HORIZON, t->k);
    bold(f, 20, 24, 15, buf);
    snprintf(buf, sizeof buf,
             "Rolling origin: fits use only weeks before each %d-week block. "
             "Bars: P@%d of %d candidates a week; whiskers: 95%% block "
             "bootstrap over weeks.",
             AU_BT_BLOCK, t->k, t->last - t->first + 1);
    label(f, 20, 42, 11, "start", "#333", buf);
    for (int m = 0; m < AU_BT_NMETHODS; m++) {
        double y = P_TOP + m * P_ROW;
        label(f, P_LEFT - 10, y + 13, 12, "end", "#000",
              au_bt_method_label((au_bt_method_t)m));
        label(f, P_LEFT - 10, y + 25, 10, "end", "#666",
              au_bt_method_note((au_bt_method_t)m));
    }
    for (size_t i = 0; i < n; i++)
        precision_column(f, &s[i], task, P_LEFT + (double)i * P_COL, top);
    precision_diffs(f, s, n, task, y_end + 38);
    precision_legend(f, y_end + 104);
    fputs("</svg>\n", f);
}

/* ---- reliability ---------------------------------------------------- */

#define R_SIZE 170.0
#define R_GAP 60.0

static void reliability_plot(FILE *f, const au_bt_series_t *s, int task,
                             double x0, double y0)
{
    const au_bt_calib_t *c = &s->r[task].calib;
    char buf[160];
    frame(f, x0, y0, R_SIZE, R_SIZE);
    line(f, x0, y0 + R_SIZE, x0 + R_SIZE, y0, "#bbb",
         "stroke-dasharray=\"4 3\"");
    for (int k = 0; k <= 4; k++) {
        double v = k / 4.0;
        snprintf(buf, sizeof buf, "%.2g", v);
        label(f, x0 + R_SIZE * v, y0 + R_SIZE + 13, 10, "middle", "#000", buf);
        label(f, x0 - 4, y0 + R_SIZE * (1 - v) + 3, 10, "end", "#000", buf);
    }
    fputs("<polyline fill=\"none\" stroke=\"" C_OWN
          "\" stroke-width=\"1.5\" points=\"",
          f);
    for (int b = 0; b < AU_BT_BINS; b++)
        if (c->bin_n[b])
            fprintf(f, "%.1f,%.1f ", x0 + R_SIZE * c->bin_pred[b],
                    y0 + R_SIZE * (1 - c->bin_obs[b]));
    fputs("\"/>\n", f);
    for (int b = 0; b < AU_BT_BINS; b++) {
        if (!c->bin_n[b])
            continue;
        /* Area grows with the bin's rows, so thin bins look thin. */
        double rad = 1.5 + 1.2 * sqrt(log10(1.0 + (double)c->bin_n[b]));
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n",
                x0 + R_SIZE * c->bin_pred[b], y0 + R_SIZE * (1 - c->bin_obs[b]),
                rad, C_OWN);
    }
    label(f, x0, y0 - 22, 12, "start", "#000", s->p->label);
    snprintf(buf, sizeof buf, "Brier %.4f (base rate %.4f)", c->brier,
             c->brier_ref);
    label(f, x0, y0 - 8, 10, "start", "#333", buf);
}

static void svg_reliability(FILE *f, const au_bt_series_t *s, size_t n)
{
    double w = 70 + (double)n * (R_SIZE + R_GAP);
    begin(f, (int)fmax(w, 900), 2 * (R_SIZE + 80) + 120);
    bold(f, 20, 24, 15,
         "Is the model's probability calibrated? Observed share of hits "
         "against the forecast");
    label(f, 20, 42, 11, "start", "#333",
          "Every evaluation week, forecasts made before its block, binned "
          "by tenths; dot area grows with the rows in the bin; dashed: "
          "perfect calibration.");
    for (int t = 0; t < AU_BT_NTASKS; t++) {
        double y0 = 100 + t * (R_SIZE + 80);
        char buf[120];
        snprintf(buf, sizeof buf, "task %s", au_bt_task(t)->name);
        label(f, 20, y0 - 40, 13, "start", "#000", buf);
        for (size_t i = 0; i < n; i++)
            reliability_plot(f, &s[i], t, 60 + (double)i * (R_SIZE + R_GAP),
                             y0);
    }
    label(f, 20, 2 * (R_SIZE + 80) + 100, 11, "start", "#333",
          "x: mean forecast of the bin; y: share of its rows that reached "
          "the line within 4 weeks.");
    fputs("</svg>\n", f);
}

/* ---- lead times ----------------------------------------------------- */

#define L_W 190.0
#define L_H 120.0

static void lead_plot(FILE *f, const au_bt_series_t *s, int task, double x0,
                      double y0)
{
    const au_bt_result_t *r = &s->r[task];
    const au_bt_metrics_t *a = &r->m[AU_BT_MODEL], *b = &r->m[r->best_naive];
    double top = 1;
    char buf[64];
    for (int k = 0; k < AU_BT_HORIZON; k++)
        top = fmax(top, fmax((double)a->lead[k], (double)b->lead[k]));
    frame(f, x0, y0, L_W, L_H);
    for (int k = 0; k < AU_BT_HORIZON; k++) {
        double xc = x0 + L_W * (k + 0.5) / AU_BT_HORIZON, bw = 16;
        double ha = L_H * (double)a->lead[k] / top;
        double hb = L_H * (double)b->lead[k] / top;
        rect(f, xc - bw, y0 + L_H - ha, bw, ha, C_OWN);
        rect(f, xc, y0 + L_H - hb, bw, hb, C_BEST);
        snprintf(buf, sizeof buf, "%d", k + 1);
        label(f, xc, y0 + L_H + 13, 10, "middle", "#000", buf);
        snprintf(buf, sizeof buf, "%zu", a->lead[k]);
        label(f, xc - bw / 2, y0 + L_H - ha - 3, 9, "middle", C_OWN, buf);
        snprintf(buf, sizeof buf, "%zu", b->lead[k]);
        label(f, xc + bw / 2, y0 + L_H - hb - 3, 9, "middle", C_BEST, buf);
    }
    label(f, x0, y0 - 22, 12, "start", "#000", s->p->label);
    snprintf(buf, sizeof buf, "median %.1f vs %.1f (%s)", a->lead_median,
             b->lead_median, au_bt_method_name(r->best_naive));
    label(f, x0, y0 - 8, 10, "start", "#333", buf);
}

static void svg_lead(FILE *f, const au_bt_series_t *s, size_t n)
{
    double w = 40 + (double)n * (L_W + 40);
    begin(f, (int)fmax(w, 900), 2 * (L_H + 90) + 110);
    bold(f, 20, 24, 15,
         "How early? Weeks from the ranking to the first week past the "
         "line, top-20 hits");
    label(f, 20, 42, 11, "start", "#333",
          "Counts of the top-20 picks that became hits, by lead (1-4 "
          "weeks): own model (blue) and the strongest naive ranking of the "
          "series (dark grey).");
    for (int t = 0; t < AU_BT_NTASKS; t++) {
        double y0 = 100 + t * (L_H + 90);
        char buf[120];
        snprintf(buf, sizeof buf, "task %s", au_bt_task(t)->name);
        label(f, 20, y0 - 40, 13, "start", "#000", buf);
        for (size_t i = 0; i < n; i++)
            lead_plot(f, &s[i], t, 40 + (double)i * (L_W + 40), y0);
    }
    swatch(f, 20, 2 * (L_H + 90) + 90, C_OWN, "own breakout model");
    swatch(f, 200, 2 * (L_H + 90) + 90, C_BEST,
           "strongest naive ranking of the series");
    fputs("</svg>\n", f);
}

/* ---- examples ------------------------------------------------------- */

#define E_W 760.0
#define E_H 150.0
#define E_SPAN 40 /* weeks shown around the example week */

typedef struct {
    double x0, y0, w, h;
    size_t first, last; /* weeks shown */
} plot_t;

static double plot_x(const plot_t *g, size_t k)
{
    double span = (double)(g->last - g->first);
    return g->x0 + g->w * (double)(k - g->first) / (span > 0 ? span : 1);
}

/* Position 1 at the top: y grows with the position. */
static double plot_y(const plot_t *g, double pos)
{
    return g->y0 + g->h * (pos - 1.0) / (AU_BT_LAST_POS - 1.0);
}

/* A tick at the first week of each month with its name, and the year
 * under January and under the first tick. */
static void date_axis(FILE *f, const au_bt_panel_t *p, const plot_t *g)
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
    int shown = 0, last_m = 0;
    char buf[16];
    for (size_t k = g->first; k <= g->last; k++) {
        int y, m, d;
        au_date_to_ymd(lround(p->week_t[k] / AU_DATE_DAY_S), &y, &m, &d);
        if (m == last_m)
            continue;
        last_m = m;
        double x = plot_x(g, k), yb = g->y0 + g->h;
        line(f, x, yb, x, yb + 4, "#999", "");
        label(f, x, yb + 14, 9, "middle", "#000", mon[m - 1]);
        if (!shown || m == 1) {
            snprintf(buf, sizeof buf, "%d", y);
            label(f, x, yb + 26, 10, "middle", "#000", buf);
            shown = 1;
        }
    }
}

/* Track t's positions in the weeks shown, broken where it was off the
 * chart, with a dot per charted week. */
static void track_line(FILE *f, const au_bt_panel_t *p, const plot_t *g,
                       size_t t, const char *colour)
{
    int open = 0;
    for (size_t k = g->first; k <= g->last + 1; k++) {
        int v = k <= g->last ? p->pos[t * p->stride + k] : 0;
        if (!v) {
            if (open)
                fprintf(f,
                        "\" fill=\"none\" stroke=\"%s\" "
                        "stroke-width=\"2\"/>\n",
                        colour);
            open = 0;
            continue;
        }
        fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline points=\"",
                plot_x(g, k), plot_y(g, v));
        open = 1;
    }
    for (size_t k = g->first; k <= g->last; k++) {
        int v = p->pos[t * p->stride + k];
        if (v)
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" "
                    "fill=\"%s\"/>\n",
                    plot_x(g, k), plot_y(g, v), colour);
    }
}

/* The weeks the song changed Spotify id: a dotted line and the date,
 * staggered so close changes stay readable. Dots of every id after the
 * first are orange. */
static void id_changes(FILE *f, const au_bt_panel_t *p, const plot_t *g,
                       size_t t)
{
    int last = -1, shown = 0;
    char buf[80];
    for (size_t k = g->first; k <= g->last; k++) {
        size_t cell = t * p->stride + k;
        if (!p->pos[cell])
            continue;
        if (p->id_no[cell])
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" "
                    "fill=\"%s\"/>\n",
                    plot_x(g, k), plot_y(g, p->pos[cell]), C_RELINK);
        if (last >= 0 && p->id_no[cell] != last) {
            double x = plot_x(g, k);
            line(f, x, g->y0, x, g->y0 + g->h, C_RELINK,
                 "stroke-dasharray=\"2 3\"");
            snprintf(buf, sizeof buf, "Spotify id changed on %s",
                     p->week_date[k]);
            /* Near the right edge the text runs leftwards. */
            int left = x > g->x0 + g->w - 190;
            label(f, left ? x - 4 : x + 4,
                  g->y0 + 12 + 12 * (double)(shown++ % 3), 10,
                  left ? "end" : "start", C_RELINK, buf);
        }
        last = p->id_no[cell];
    }
}

static void example_plot(FILE *f, const au_bt_series_t *s, double y0)
{
    const au_bt_panel_t *p = s->p;
    const au_bt_result_t *r = &s->r[AU_BT_TASK_TOP50];
    size_t w = r->ex_week, t = r->ex_track;
    plot_t g = {90, y0 + 30, E_W, E_H, w > E_SPAN / 2 ? w - E_SPAN / 2 : 0, 0};
    g.last = g.first + E_SPAN < p->n_weeks ? g.first + E_SPAN : p->n_weeks - 1;
    char buf[320];
    snprintf(buf, sizeof buf,
             "%s: %s (%s), #%d on %s, ranked %zu of %zu by the model "
             "(p = %.2f), top 50 after %d week(s)",
             p->label, p->names[t] ? p->names[t] : p->keys[t],
             p->artists[t] ? p->artists[t] : "?", au_bt_pos(p, t, w),
             p->week_date[w], r->ex_rank, r->ex_candidates, r->ex_prob,
             r->ex_lead);
    label(f, 20, y0 + 20, 12, "start", "#000", buf);
    frame(f, g.x0, g.y0, g.w, g.h);
    static const int ticks[] = {1, 50, 100, 150, 200};
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof buf, "%d", ticks[i]);
        label(f, g.x0 - 5, plot_y(&g, ticks[i]) + 3, 10, "end", "#000", buf);
    }
    double y50 = plot_y(&g, 50.5);
    line(f, g.x0, y50, g.x0 + g.w, y50, "#2a2", "stroke-dasharray=\"5 3\"");
    label(f, g.x0 + g.w + 4, y50 + 3, 10, "start", "#2a2", "top 50");
    line(f, plot_x(&g, w), g.y0, plot_x(&g, w), g.y0 + g.h, C_PORTED,
         "stroke-width=\"2\"");
    label(f, plot_x(&g, w) - 4, g.y0 + g.h - 5, 10, "end", C_PORTED,
          "ranked here");
    date_axis(f, p, &g);
    track_line(f, p, &g, t, C_OWN);
    id_changes(f, p, &g, t);
}

static void svg_examples(FILE *f, const au_bt_series_t *s, size_t n)
{
    const double step = E_H + 80;
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        shown += s[i].r[AU_BT_TASK_TOP50].found != 0;
    begin(f, 940, (int)(104 + (double)shown * step + 20));
    bold(f, 20, 24, 15,
         "One example per series: chart position by week around the week "
         "it was ranked");
    label(f, 20, 42, 11, "start", "#333",
          "Chosen by a fixed rule, task 51-200 to the top 50: of the model's "
          "top-20 picks that became hits,");
    label(f, 20, 56, 11, "start", "#333",
          "the one with the longest lead (ties: the earliest week, then the "
          "best rank). A song Spotify relinked to a new id is one song "
          "here:");
    label(f, 20, 70, 11, "start", "#333",
          "its weeks under a later id are orange and the change is "
          "marked.");
    double y = 84;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].r[AU_BT_TASK_TOP50].found)
            continue;
        example_plot(f, &s[i], y);
        y += step;
    }
    fputs("</svg>\n", f);
}

int au_bt_write_svg(FILE *f, int which, const au_bt_series_t *s, size_t n)
{
    switch (which) {
    case AU_BT_SVG_TOP50:
        svg_precision(f, s, n, AU_BT_TASK_TOP50);
        break;
    case AU_BT_SVG_TOP10:
        svg_precision(f, s, n, AU_BT_TASK_TOP10);
        break;
    case AU_BT_SVG_RELIABILITY:
        svg_reliability(f, s, n);
        break;
    case AU_BT_SVG_LEAD:
        svg_lead(f, s, n);
        break;
    case AU_BT_SVG_EXAMPLES:
        svg_examples(f, s, n);
        break;
    default:
        return AU_EINVAL;
    }
    return ferror(f) ? AU_EIO : 0;
}
