/* au_bt_io.c: the backtest's edges: reading the panel from PostgreSQL,
 * printing the table and JSON, drawing the SVG, and the command. */
#include "au_args.h"
#include "au_backtest.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const method_labels[AU_BT_NMETHODS] = {
    "ported viral predictor (viral_score)",
    "ported trend analyzer (strength*|growth|)",
    "baseline: last week's position gain",
    "baseline: stream growth week over week",
    "own: logistic regression (train 1st half)"};

static void fmt_num(char *buf, size_t cap, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
}

static void print_row(FILE *f, int m, const au_bt_metrics_t *x, size_t first)
{
    char p10[16], p20[16], rec[16], lead[16];
    fmt_num(p10, sizeof p10, x->p10, "%.3f");
    fmt_num(p20, sizeof p20, x->p20, "%.3f");
    fmt_num(rec, sizeof rec, x->recall20, "%.3f");
    fmt_num(lead, sizeof lead, x->lead_median, "%.1f");
    fprintf(f, "  %-42s %5s %5s %6s %4zu/%-4zu %5s  %2zu from #%zu\n",
            method_labels[m], p10, p20, rec, x->tp20, x->hits, lead, x->weeks,
            first + 1);
}

static void print_header(FILE *f)
{
    fprintf(f, "  %-42s %5s %5s %6s %9s %5s  %s\n", "method", "P@10", "P@20",
            "R@20", "TP20/hits", "lead", "weeks");
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
            "training: weeks #%zu..#%zu (%s .. %s) of a view holding "
            "weeks #1..#%zu only; %zu rows, %zu hits, %d Newton steps\n",
            m->first_week + 1, m->last_week + 1, p->week_date[m->first_week],
            p->week_date[m->last_week], r->split, m->rows, m->positives,
            m->iters);
    const au_bt_metrics_t *e = &r->eval[AU_BT_VIRAL];
    fprintf(f,
            "\nevaluation weeks #%zu..#%zu (%s .. %s), every method: "
            "%zu candidates, %zu hits, base rate %.3f\n",
            r->eval_first + 1, r->eval_last + 1, p->week_date[r->eval_first],
            p->week_date[r->eval_last], e->candidates, e->hits, e->base_rate);
    print_header(f);
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        print_row(f, i, &r->eval[i], r->eval_first);
    fprintf(f,
            "\nall evaluable weeks (each method from the first week it "
            "can score, to #%zu):\n",
            r->eval_last + 1);
    print_header(f);
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        if (i != AU_BT_LOGIT)
            print_row(f, i, &r->all[i],
                      au_bt_method_first_week((au_bt_method_t)i));
    fprintf(f,
            "\nlogistic weights (standardized features): intercept "
            "%.3f",
            m->beta[0]);
    static const char *const feat[AU_BT_NFEAT] = {
        "pos_score",   "gain1",        "gain2",    "log_stream_growth",
        "log_streams", "log_weeks_on", "new_entry"};
    for (int j = 0; j < AU_BT_NFEAT; j++)
        fprintf(f, "%s %s %.3f", j % 3 == 0 ? ",\n " : ",", feat[j],
                m->beta[j + 1]);
    fprintf(f, "\n");
    if (r->found)
        fprintf(f,
                "\nexample: \"%s\" by %s, at #%d in %s, ranked %zu by "
                "the logistic model, top %d %d week(s) later\n",
                p->names[r->ex_track] ? p->names[r->ex_track] : "?",
                p->artists[r->ex_track] ? p->artists[r->ex_track] : "?",
                au_bt_pos(p, r->ex_track, r->ex_week), p->week_date[r->ex_week],
                r->ex_rank, AU_BT_TOP, r->ex_lead);
}

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *metrics_json(const au_bt_metrics_t *x, size_t first)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}",
                     "weeks", (json_int_t)x->weeks, "first_week",
                     (json_int_t)(first + 1), "candidates",
                     (json_int_t)x->candidates, "hits", (json_int_t)x->hits,
                     "tp20", (json_int_t)x->tp20, "precision_at_10",
                     jnum(x->p10), "precision_at_20", jnum(x->p20),
                     "recall_at_20", jnum(x->recall20), "lead_median_weeks",
                     jnum(x->lead_median), "base_rate", jnum(x->base_rate));
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
        "s:o, s:o}",
        "series", what, "weeks", (json_int_t)r->n_weeks, "first_date",
        p->week_date[0], "last_date", p->week_date[r->n_weeks - 1], "split",
        (json_int_t)r->split, "eval_first_date", p->week_date[r->eval_first],
        "eval_last_date", p->week_date[r->eval_last], "model", "rows",
        (json_int_t)r->model.rows, "positives", (json_int_t)r->model.positives,
        "iterations", (json_int_t)r->model.iters, "beta", beta, "eval", eval,
        "all", all);
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

static void svg_bars(FILE *f, const au_bt_result_t *r)
{
    const double x0 = 200, y0 = 60, w = 420, bh = 30, gap = 14;
    /* The axis ends at the next quarter above the best bar, so small
     * precisions are not squeezed into the left edge. */
    double top = 0.25;
    for (int i = 0; i < AU_BT_NMETHODS; i++)
        while (!isnan(r->eval[i].p20) && r->eval[i].p20 > top && top < 1.0)
            top += 0.25;
    fprintf(f, "<text x=\"20\" y=\"30\" font-size=\"16\" font-weight=\"bold\">"
               "Precision@20 on the evaluation weeks</text>\n");
    for (int t = 0; t <= 5; t++) {
        double v = top * t / 5.0, x = x0 + w * v / top;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n",
                x, y0 - 5, x, y0 + 5 * (bh + gap));
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "text-anchor=\"middle\">%.2f</text>\n",
                x, y0 + 5 * (bh + gap) + 14, v);
    }
    for (int i = 0; i < AU_BT_NMETHODS; i++) {
        double y = y0 + i * (bh + gap), v = r->eval[i].p20;
        double bw = isnan(v) ? 0 : w * v / top;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
                "text-anchor=\"end\">%s</text>\n",
                x0 - 8, y + bh / 2 + 4, au_bt_method_name((au_bt_method_t)i));
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\" fill=\"%s\"/>\n",
                x0, y, bw, bh,
                i < 2   ? "#c0504d"
                : i < 4 ? "#7f7f7f"
                        : "#4f81bd");
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%.3f"
                "</text>\n",
                x0 + bw + 6, y + bh / 2 + 4, isnan(v) ? 0.0 : v);
    }
    double br = r->eval[0].base_rate;
    if (!isnan(br)) {
        double x = x0 + w * br / top;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n",
                x, y0 - 8, x, y0 + 5 * (bh + gap) - gap);
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">random "
                "(base rate %.3f)</text>\n",
                x + 4, y0 - 10, br);
    }
}

static void svg_track(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r)
{
    const double x0 = 70, y0 = 360, w = 600, h = 240;
    size_t nw = p->n_weeks, t = r->ex_track;
    fprintf(f,
            "<text x=\"20\" y=\"%.1f\" font-size=\"16\" "
            "font-weight=\"bold\">Example: ",
            y0 - 30);
    svg_text(f, p->names[t] ? p->names[t] : p->keys[t]);
    fputs(" (", f);
    svg_text(f, p->artists[t] ? p->artists[t] : "?");
    fprintf(f, "), chart position by week</text>\n");
    /* Position 1 at the top: y grows with the position. */
#define PX(wk) (x0 + w * (double)(wk) / (double)(nw - 1))
#define PY(ps) (y0 + h * ((double)(ps)-1.0) / 199.0)
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#999\"/>\n",
            x0, y0, w, h);
    static const int ticks[] = {1, 50, 100, 150, 200};
    for (int i = 0; i < 5; i++) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "text-anchor=\"end\">%d</text>\n",
                x0 - 6, PY(ticks[i]) + 4, ticks[i]);
    }
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#2a2\" stroke-dasharray=\"5 3\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#2a2\">"
            "top %d</text>\n",
            x0, PY(AU_BT_TOP + 0.5), x0 + w, PY(AU_BT_TOP + 0.5), x0 + w + 4,
            PY(AU_BT_TOP + 0.5) + 4, AU_BT_TOP);
    for (size_t k = 0; k < nw; k += 4)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "text-anchor=\"middle\">%s</text>\n",
                PX(k), y0 + h + 16, p->week_date[k] + 5);
    double xm = PX(r->ex_week);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#c0504d\" stroke-width=\"2\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
            "fill=\"#c0504d\">predicted %s (rank %zu)</text>\n",
            xm, y0, xm, y0 + h, xm + 4, y0 + h - 6, p->week_date[r->ex_week],
            r->ex_rank);
    /* Weeks off the chart break the line rather than being drawn at 201. */
    int open = 0;
    for (size_t k = 0; k < nw; k++) {
        int v = p->pos[t * p->stride + k];
        if (!v) {
            if (open)
                fputs("\" fill=\"none\" stroke=\"#4f81bd\" "
                      "stroke-width=\"2\"/>\n",
                      f);
            open = 0;
            continue;
        }
        fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline points=\"", PX(k),
                PY(v));
        open = 1;
    }
    if (open)
        fputs("\" fill=\"none\" stroke=\"#4f81bd\" stroke-width=\"2\"/>\n", f);
    for (size_t k = 0; k < nw; k++) {
        int v = p->pos[t * p->stride + k];
        if (v)
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                    "fill=\"#4f81bd\"/>\n",
                    PX(k), PY(v));
    }
#undef PX
#undef PY
}

int au_bt_write_svg(FILE *f, const au_bt_panel_t *p, const au_bt_result_t *r)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" "
            "height=\"%d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            r->found ? 640 : 320);
    svg_bars(f, r);
    if (r->found)
        svg_track(f, p, r);
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
    rc = au_bt_write_svg(f, p, &r);
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
