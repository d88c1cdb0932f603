/* au_bt_io.c: the backtest's edges: reading the panels from PostgreSQL,
 * printing the tables and JSON, and the command. The charts are in
 * au_bt_svg.c. */
#include "au_backtest.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "au_bt_boot.h"
#include "au_ctx.h"
#include "au_date.h"
#include "au_store.h"

/* ---- loading -------------------------------------------------------- */

/* The days of every chart date of s. */
static int parse_dates(const au_series_t *s, long *days, au_error_t *err)
{
    for (size_t i = 0; i < s->n_dates; i++)
        if (au_date_parse(s->dates[i], strlen(s->dates[i]), &days[i]) < 0)
            return au_error_set(err, AU_EPARSE,
                                "backtest: chart date %zu unreadable", i);
    return 0;
}

/* "<REGION> <first year>[-<last year>]". */
static void panel_label(au_bt_panel_t *p, const char *region)
{
    char up[24];
    size_t i;
    for (i = 0; region[i] && i + 1 < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)region[i]);
    up[i] = '\0';
    int y0 = au_date_year(lround(p->week_t[0] / AU_DATE_DAY_S));
    int y1 = au_date_year(lround(p->week_t[p->n_weeks - 1] / AU_DATE_DAY_S));
    if (y0 == y1)
        snprintf(p->label, sizeof p->label, "%s %d", up, y0);
    else
        snprintf(p->label, sizeof p->label, "%s %d-%d", up, y0, y1);
}

/* Every calendar week from the first date d0 on, present or not. */
static void panel_weeks(au_bt_panel_t *p, long d0)
{
    for (size_t w = 0; w < p->n_weeks; w++) {
        long d = d0 + 7 * (long)w;
        p->week_t[w] = (double)d * AU_DATE_DAY_S;
        au_date_format(d, p->week_date[w]);
        p->present[w] = 0;
    }
}

/* The tracks of s that chart in dates [a, b): map[track] their panel row
 * (SIZE_MAX when not), the count returned. */
static size_t segment_tracks(const au_series_t *s, size_t a, size_t b,
                             size_t *map)
{
    size_t n = 0;
    for (size_t t = 0; t < s->n_tracks; t++)
        map[t] = SIZE_MAX;
    for (size_t i = 0; i < s->n_rows; i++) {
        const au_series_row_t *row = &s->rows[i];
        if (row->date >= a && row->date < b && map[row->track] == SIZE_MAX)
            map[row->track] = 0;
    }
    for (size_t t = 0; t < s->n_tracks; t++)
        if (map[t] != SIZE_MAX)
            map[t] = n++;
    return n;
}

static int fill_names(au_bt_panel_t *p, const au_series_t *s, const size_t *map)
{
    for (size_t t = 0; t < s->n_tracks; t++) {
        size_t r = map[t];
        if (r == SIZE_MAX)
            continue;
        p->keys[r] = strdup(s->keys[t]);
        p->names[r] = strdup(s->names[t]);
        p->artists[r] = strdup(s->artists[t]);
        if (!p->keys[r] || !p->names[r] || !p->artists[r])
            return AU_ENOMEM;
    }
    return 0;
}

/* The panel of dates [a, b) of s. */
static int segment_panel(const au_series_t *s, const long *days, size_t a,
                         size_t b, size_t *map, const char *region,
                         au_bt_panel_t **out, au_error_t *err)
{
    long span = (days[b - 1] - days[a]) / 7 + 1;
    if (span > AU_BT_MAX_WEEKS)
        return au_error_set(err, AU_ETOOBIG,
                            "backtest: %s from %s: %ld weeks, at most %d",
                            region, s->dates[a], span, AU_BT_MAX_WEEKS);
    size_t nt = segment_tracks(s, a, b, map);
    au_bt_panel_t *p = au_bt_panel_new(nt, (size_t)span);
    if (!p || fill_names(p, s, map) < 0) {
        au_bt_panel_destroy(&p);
        return au_error_set(err, AU_ENOMEM, "backtest: panel too big");
    }
    panel_weeks(p, days[a]);
    for (size_t i = a; i < b; i++)
        p->present[(days[i] - days[a]) / 7] = 1;
    for (size_t i = 0; i < s->n_rows; i++) {
        const au_series_row_t *row = &s->rows[i];
        if (row->date < a || row->date >= b || row->position < 1 ||
            row->position > AU_BT_LAST_POS)
            continue; /* beyond the 200 the tasks are about */
        size_t cell = map[row->track] * p->stride +
                      (size_t)(days[row->date] - days[a]) / 7;
        p->pos[cell] = row->position;
        if (row->streams >= 0)
            p->streams[cell] = (double)row->streams;
    }
    panel_label(p, region);
    int rc = au_bt_merge_ids(p, out);
    au_bt_panel_destroy(&p);
    if (rc < 0)
        return au_error_set(err, rc, "backtest: merging ids: %s",
                            au_strerror(rc));
    return 0;
}

/* Cuts s into panels with au_bt_split_dates. */
static int panels_of(const au_series_t *s, const char *region,
                     au_bt_panel_t ***out, size_t *n_out, au_error_t *err)
{
    long *days = malloc(s->n_dates * sizeof(*days));
    size_t *start = malloc((s->n_dates + 1) * sizeof(*start));
    size_t *map = malloc((s->n_tracks ? s->n_tracks : 1) * sizeof(*map));
    au_bt_panel_t **v = NULL;
    size_t n = 0;
    int rc = days && start && map ? 0 : AU_ENOMEM;
    if (rc < 0)
        au_error_set(err, rc, "backtest: out of memory");
    if (rc == 0)
        rc = parse_dates(s, days, err);
    if (rc == 0) {
        n = au_bt_split_dates(days, s->n_dates, start, s->n_dates);
        start[n] = s->n_dates;
        v = calloc(n, sizeof(*v));
        if (!v)
            rc = au_error_set(err, AU_ENOMEM, "backtest: out of memory");
    }
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = segment_panel(s, days, start[k], start[k + 1], map, region, &v[k],
                           err);
    if (rc < 0 && v) {
        for (size_t k = 0; k < n; k++)
            au_bt_panel_destroy(&v[k]);
        free(v);
        v = NULL;
    }
    free(days);
    free(start);
    free(map);
    *out = v;
    *n_out = rc == 0 ? n : 0;
    return rc;
}

int au_bt_load(PGconn *c, const char *platform, const char *chart,
               const char *region, au_bt_panel_t ***out, size_t *n_out,
               au_error_t *err)
{
    *out = NULL;
    *n_out = 0;
    au_series_t *s = NULL;
    int rc = au_store_read_series(c, platform, chart, region, &s, err);
    if (rc < 0)
        return rc;
    if (s->n_dates == 0)
        rc = au_error_set(err, AU_ENOTFOUND, "backtest: no %s/%s/%s rows",
                          platform, chart, region);
    else
        rc = panels_of(s, region, out, n_out, err);
    au_series_destroy(&s);
    return rc;
}

/* ---- printing ------------------------------------------------------- */

static void fmt_num(char *buf, size_t cap, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v + 0.0); /* + 0.0: no "-0.0" */
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
        snprintf(buf, cap, "%s (%s..%s)", a, lo, hi);
}

static void print_row(FILE *f, int m, const au_bt_metrics_t *x)
{
    char p10[80], p20[80], rec[80], lead[80];
    fmt_ci(p10, sizeof p10, x->p10, x->p10_ci, "%.3f");
    fmt_ci(p20, sizeof p20, x->p20, x->p20_ci, "%.3f");
    fmt_ci(rec, sizeof rec, x->recall20, x->recall20_ci, "%.3f");
    fmt_ci(lead, sizeof lead, x->lead_median, x->lead_ci, "%.1f");
    fprintf(f, "  %-8s %-20s %-20s %-20s %5zu/%-5zu %s\n",
            au_bt_method_name((au_bt_method_t)m), p10, p20, rec, x->tp20,
            x->hits, lead);
}

/* "+24%": d relative to base, "-" when base is 0. */
static void fmt_rel(char *buf, size_t cap, double d, double base)
{
    fmt_num(buf, cap, base > 0 ? 100.0 * d / base : NAN, "%+.0f%%");
}

static void print_diff(FILE *f, int m, const au_bt_metrics_t *d,
                       const au_bt_metrics_t *base)
{
    char p10[80], p20[80], rec[80], lead[80], r10[24], r20[24];
    fmt_ci(p10, sizeof p10, d->p10, d->p10_ci, "%+.3f");
    fmt_ci(p20, sizeof p20, d->p20, d->p20_ci, "%+.3f");
    fmt_ci(rec, sizeof rec, d->recall20, d->recall20_ci, "%+.3f");
    fmt_ci(lead, sizeof lead, d->lead_median, d->lead_ci, "%+.1f");
    fmt_rel(r10, sizeof r10, d->p10, base->p10);
    fmt_rel(r20, sizeof r20, d->p20, base->p20);
    fprintf(f, "  %-8s %-23s %-5s %-23s %-5s %-23s %s\n",
            au_bt_method_name((au_bt_method_t)m), p10, r10, p20, r20, rec,
            lead);
}

static void print_calib(FILE *f, const au_bt_calib_t *c)
{
    char b[80], sk[80];
    fmt_ci(b, sizeof b, c->brier, c->brier_ci, "%.4f");
    fmt_ci(sk, sizeof sk, c->skill, c->skill_ci, "%+.3f");
    fprintf(f,
            "  model probabilities: Brier %s, base-rate forecast %.4f, "
            "skill %s\n  reliability (bin: n, mean forecast, observed):",
            b, c->brier_ref, sk);
    for (int i = 0; i < AU_BT_BINS; i++)
        if (c->bin_n[i])
            fprintf(f, "%s %.1f-%.1f: %zu, %.3f, %.3f", i % 2 ? "" : "\n   ",
                    i / 10.0, (i + 1) / 10.0, c->bin_n[i], c->bin_pred[i],
                    c->bin_obs[i]);
    fprintf(f, "\n");
}

static void print_example(FILE *f, const au_bt_panel_t *p,
                          const au_bt_result_t *r)
{
    const au_bt_task_t *t = au_bt_task(r->task);
    size_t k = r->ex_track;
    fprintf(f,
            "  example (%s):\n    \"%s\" by %s, #%d on %s, ranked %zu of "
            "%zu (p = %.2f), in the top %d %d week(s) later\n",
            AU_BT_EXAMPLE_RULE, p->names[k] ? p->names[k] : "?",
            p->artists[k] ? p->artists[k] : "?", au_bt_pos(p, k, r->ex_week),
            p->week_date[r->ex_week], r->ex_rank, r->ex_candidates, r->ex_prob,
            t->line, r->ex_lead);
}

static void print_result(FILE *f, const au_bt_panel_t *p,
                         const au_bt_result_t *r)
{
    const au_bt_task_t *t = au_bt_task(r->task);
    const au_bt_metrics_t *base = &r->m[r->best_naive];
    fprintf(f,
            "\n%s, task %s: %zu evaluation weeks %s .. %s, %zu blocks "
            "(one fit each), %zu candidates, %zu hits (base rate %.3f)\n",
            p->label, t->name, r->n_eval, p->week_date[r->eval_first],
            p->week_date[r->eval_last], r->n_fits, base->candidates, base->hits,
            base->base_rate);
    fprintf(f, "  %-8s %-20s %-20s %-20s %11s %s\n", "method", "P@10 (95% CI)",
            "P@20 (95% CI)", "R@20 (95% CI)", "TP20/hits", "lead (95% CI)");
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        print_row(f, m, &r->m[m]);
    fprintf(f,
            "  minus the strongest naive ranking by P@%d (%s), paired over "
            "the same weeks:\n",
            t->k, au_bt_method_name(r->best_naive));
    fprintf(f, "  %-8s %-23s %-5s %-23s %-5s %-23s %s\n", "method",
            "P@10 (95% CI)", "rel.", "P@20 (95% CI)", "rel.", "R@20 (95% CI)",
            "lead (95% CI)");
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        if (m != (int)r->best_naive)
            print_diff(f, m, &r->diff[m], base);
    print_calib(f, &r->calib);
    if (r->found)
        print_example(f, p, r);
}

void au_bt_print(FILE *f, const au_bt_series_t *s, size_t n)
{
    fprintf(f,
            "backtest: rolling origin, blocks of %d weeks, the first after "
            "%d weeks; a hit reaches the line within %d weeks\n",
            AU_BT_BLOCK, AU_BT_WARMUP, AU_BT_HORIZON);
    fprintf(f, "P@k: mean over weeks of hits in the top k / k. R@20: top-20 "
               "hits / all hits, pooled. lead: median weeks to the line of "
               "top-20 hits.\n");
    fprintf(f,
            "95%% CI: block bootstrap over weeks, %d resamples of %d-week "
            "blocks, fixed seed.\n",
            AU_BT_BOOT_REPS, AU_BT_BOOT_BLOCK);
    fprintf(f, "methods:");
    for (int m = 0; m < AU_BT_NMETHODS; m++)
        fprintf(f, "\n  %-8s %s (%s)", au_bt_method_name((au_bt_method_t)m),
                au_bt_method_label((au_bt_method_t)m),
                au_bt_method_note((au_bt_method_t)m));
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f,
                "\n== %s: %zu weekly charts %s .. %s, %zu songs (%zu more "
                "Spotify ids joined to the song they relink)\n",
                s[i].p->label, s[i].p->n_weeks, s[i].p->week_date[0],
                s[i].p->week_date[s[i].p->n_weeks - 1], s[i].p->n_tracks,
                s[i].p->merged);
        for (int t = 0; t < AU_BT_NTASKS; t++)
            print_result(f, s[i].p, &s[i].r[t]);
    }
}

/* ---- JSON ----------------------------------------------------------- */

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *jci(au_bt_ci_t ci)
{
    return json_pack("[o, o]", jnum(ci.lo), jnum(ci.hi));
}

static json_t *metrics_json(const au_bt_metrics_t *x)
{
    json_t *lead = json_array();
    for (int i = 0; i < AU_BT_HORIZON; i++)
        json_array_append_new(lead, json_integer((json_int_t)x->lead[i]));
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o}",
        "weeks", (json_int_t)x->weeks, "candidates", (json_int_t)x->candidates,
        "hits", (json_int_t)x->hits, "tp20", (json_int_t)x->tp20,
        "precision_at_10", jnum(x->p10), "precision_at_10_ci", jci(x->p10_ci),
        "precision_at_20", jnum(x->p20), "precision_at_20_ci", jci(x->p20_ci),
        "recall_at_20", jnum(x->recall20), "recall_at_20_ci",
        jci(x->recall20_ci), "lead_median_weeks", jnum(x->lead_median),
        "lead_median_ci", jci(x->lead_ci), "top20_hits_by_lead", lead,
        "base_rate", jnum(x->base_rate));
}

static json_t *calib_json(const au_bt_calib_t *c)
{
    json_t *bins = json_array();
    for (int i = 0; i < AU_BT_BINS; i++)
        json_array_append_new(
            bins, json_pack("{s:f, s:f, s:I, s:o, s:o}", "from", i / 10.0, "to",
                            (i + 1) / 10.0, "n", (json_int_t)c->bin_n[i],
                            "mean_forecast", jnum(c->bin_pred[i]), "observed",
                            jnum(c->bin_obs[i])));
    return json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "n", (json_int_t)c->n,
        "hits", (json_int_t)c->positives, "brier", jnum(c->brier), "brier_ci",
        jci(c->brier_ci), "brier_base_rate", jnum(c->brier_ref), "skill",
        jnum(c->skill), "skill_ci", jci(c->skill_ci), "reliability", bins);
}

static json_t *model_json(const au_bt_model_t *m)
{
    json_t *mean = json_array(), *sd = json_array(), *beta = json_array();
    for (int j = 0; j < AU_BT_MODEL_NFEAT; j++) {
        json_array_append_new(mean, json_real(m->mean[j]));
        json_array_append_new(sd, json_real(m->sd[j]));
    }
    for (int j = 0; j <= AU_BT_MODEL_NFEAT; j++)
        json_array_append_new(beta, json_real(m->beta[j]));
    return json_pack("{s:i, s:I, s:I, s:o, s:o, s:o}", "line", m->line, "rows",
                     (json_int_t)m->rows, "positives", (json_int_t)m->positives,
                     "mean", mean, "sd", sd, "beta", beta);
}

static json_t *result_json(const au_bt_panel_t *p, const au_bt_result_t *r)
{
    json_t *m = json_object(), *d = json_object();
    for (int i = 0; i < AU_BT_NMETHODS; i++) {
        const char *n = au_bt_method_name((au_bt_method_t)i);
        json_object_set_new(m, n, metrics_json(&r->m[i]));
        json_object_set_new(d, n, metrics_json(&r->diff[i]));
    }
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:s, s:I, s:o, s:s, s:o, s:o, s:o}", "task",
        au_bt_task(r->task)->name, "eval_weeks", (json_int_t)r->n_eval,
        "eval_first", p->week_date[r->eval_first], "eval_last",
        p->week_date[r->eval_last], "fits", (json_int_t)r->n_fits, "methods", m,
        "strongest_naive", au_bt_method_name(r->best_naive),
        "minus_strongest_naive", d, "calibration", calib_json(&r->calib),
        "last_model", model_json(&r->model));
    if (o)
        json_object_set_new(o, "deploy_model", model_json(&r->deploy));
    if (o && r->found)
        json_object_set_new(
            o, "example",
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:f, s:i}", "rule",
                      AU_BT_EXAMPLE_RULE, "track_key", p->keys[r->ex_track],
                      "name",
                      p->names[r->ex_track] ? p->names[r->ex_track] : "",
                      "week", p->week_date[r->ex_week], "position",
                      au_bt_pos(p, r->ex_track, r->ex_week), "rank",
                      (json_int_t)r->ex_rank, "probability", r->ex_prob, "lead",
                      r->ex_lead));
    return o;
}

int au_bt_print_json(FILE *f, const au_bt_series_t *s, size_t n)
{
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        const au_bt_panel_t *p = s[i].p;
        json_t *tasks = json_array();
        for (int t = 0; t < AU_BT_NTASKS; t++)
            json_array_append_new(tasks, result_json(p, &s[i].r[t]));
        json_array_append_new(
            all, json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:o}", "series",
                           p->label, "weeks", (json_int_t)p->n_weeks,
                           "first_date", p->week_date[0], "last_date",
                           p->week_date[p->n_weeks - 1], "songs",
                           (json_int_t)p->n_tracks, "ids_merged",
                           (json_int_t)p->merged, "tasks", tasks));
    }
    int rc = json_dumpf(all, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0
                 ? 0
                 : AU_EIO;
    fputc('\n', f);
    json_decref(all);
    return rc;
}

/* ---- the command ---------------------------------------------------- */

/* Every panel of every region, and the results of those long enough. */
typedef struct {
    au_bt_panel_t **p;
    size_t n;
    au_bt_series_t *s;
    size_t ns;
} batch_t;

static void batch_free(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        au_bt_panel_destroy(&b->p[i]);
    free(b->p);
    free(b->s);
    memset(b, 0, sizeof(*b));
}

/* Appends the panels of one region. */
static int load_region(PGconn *c, const char *platform, const char *chart,
                       const char *region, batch_t *b, au_error_t *err)
{
    au_bt_panel_t **v = NULL;
    size_t n = 0;
    int rc = au_bt_load(c, platform, chart, region, &v, &n, err);
    if (rc < 0)
        return rc;
    au_bt_panel_t **all = realloc(b->p, (b->n + n) * sizeof(*all));
    if (!all) {
        for (size_t i = 0; i < n; i++)
            au_bt_panel_destroy(&v[i]);
        free(v);
        return au_error_set(err, AU_ENOMEM, "backtest: out of memory");
    }
    memcpy(all + b->n, v, n * sizeof(*v));
    b->p = all;
    b->n += n;
    free(v);
    return 0;
}

/* Loads each region of the comma-separated list. */
static int load_all(au_pool_t *pool, const char *platform, const char *chart,
                    const char *regions, batch_t *b, au_error_t *err)
{
    char one[64];
    PGconn *c = au_pool_get(pool, err);
    if (!c)
        return AU_EIO;
    int rc = 0;
    for (const char *r = regions; rc == 0 && *r;) {
        size_t len = strcspn(r, ",");
        if (len == 0 || len >= sizeof one)
            rc = au_error_set(err, AU_EINVAL, "backtest: bad region list %s",
                              regions);
        else {
            memcpy(one, r, len);
            one[len] = '\0';
            rc = load_region(c, platform, chart, one, b, err);
        }
        r += len + (r[len] == ',');
    }
    au_pool_put(pool, c);
    return rc;
}

/* Runs both tasks on every panel long enough; names the others. */
static int run_all(batch_t *b, au_error_t *err)
{
    b->s = calloc(b->n ? b->n : 1, sizeof(*b->s));
    if (!b->s)
        return au_error_set(err, AU_ENOMEM, "backtest: out of memory");
    for (size_t i = 0; i < b->n; i++) {
        const au_bt_panel_t *p = b->p[i];
        if (p->n_weeks < AU_BT_MIN_WEEKS) {
            fprintf(stderr,
                    "audora backtest: %s (%s .. %s) skipped: %zu weeks, "
                    "the backtest needs %d\n",
                    p->label, p->week_date[0], p->week_date[p->n_weeks - 1],
                    p->n_weeks, AU_BT_MIN_WEEKS);
            continue;
        }
        au_bt_series_t *s = &b->s[b->ns];
        s->p = p;
        for (int t = 0; t < AU_BT_NTASKS; t++)
            if (au_bt_run(p, t, &s->r[t], err) < 0)
                return AU_EINVAL;
        b->ns++;
    }
    if (b->ns == 0)
        return au_error_set(err, AU_ENOTFOUND,
                            "backtest: no series with %d weeks or more",
                            AU_BT_MIN_WEEKS);
    return 0;
}

static int write_svgs(const char *base, const batch_t *b, au_error_t *err)
{
    char name[1024];
    for (int k = 0; k < AU_BT_NSVG; k++) {
        if (au_bt_svg_name(base, k, name, sizeof name) < 0)
            return au_error_set(err, AU_ETOOBIG, "backtest: name too long");
        FILE *f = fopen(name, "w");
        if (!f)
            return au_error_set(err, AU_EIO, "cannot write %s", name);
        int rc = au_bt_write_svg(f, k, b->s, b->ns);
        if (fclose(f) != 0 || rc < 0)
            return au_error_set(err, AU_EIO, "writing %s failed", name);
    }
    return 0;
}

/* Everything after the command line: load, run, print, draw. */
static int backtest(au_ctx_t *ctx, int json, const char *svg,
                    const char *platform, const char *chart,
                    const char *regions, au_error_t *err)
{
    batch_t b = {0};
    int rc = load_all(ctx->pool, platform, chart, regions, &b, err);
    if (rc == 0)
        rc = run_all(&b, err);
    if (rc == 0 && json)
        rc = au_bt_print_json(stdout, b.s, b.ns);
    else if (rc == 0)
        au_bt_print(stdout, b.s, b.ns);
    if (rc == 0)
        rc = write_svgs(svg, &b, err);
    if (rc == 0 && !json)
        printf("\ncharts: %s and its _top10, _reliability, _lead, _examples "
               "siblings\n",
               svg);
    batch_free(&b);
    return rc;
}

int au_backtest_run(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    if (!au_cmd_conn(cmd))
        return au_cmd_fail(cmd);
    int rc = backtest(&cmd->ctx, au_cli_has(a, AU_BT_OPT_JSON),
                      au_cli_str(a, AU_BT_OPT_SVG, "backtest.svg"),
                      au_cli_str(a, AU_BT_OPT_PLATFORM, "spotify"),
                      au_cli_str(a, AU_BT_OPT_CHART, "weekly"),
                      au_cli_str(a, AU_BT_OPT_REGION, "us"), &cmd->err);
    return rc < 0 ? au_cmd_fail(cmd) : AU_EXIT_OK;
}
