/* au_query.c: the read-only commands of `audora`: what is in the queue
 * (status, jobs, report, dlq list|show) and in the trend store (top,
 * summary, playlists, spread), as aligned tables or JSON. */
#include "au_query.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_chartname.h"
#include "au_fleet.h"
#include "au_out.h"
#include "au_queue.h"
#include "au_score.h"
#include "au_store.h"
#include "au_query_util.h"

/* ---- top ------------------------------------------------------------ */

void au_query_top_opts_init(au_query_top_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->by = AU_QUERY_BY_VIRAL;
    o->limit = 20;
}

int au_query_top_check(const au_query_top_opts_t *o, au_error_t *err)
{
    if (o->by != AU_QUERY_BY_VIRAL && o->by != AU_QUERY_BY_MOVEMENT &&
        o->by != AU_QUERY_BY_BREAKOUT)
        return au_error_set(err, AU_EINVAL, "--by %d: unknown ordering",
                            (int)o->by);
    int rc = au__q_check_limit(o->limit, err);
    if (rc == 0)
        rc = au__q_check_name("--platform", o->platform, err);
    if (rc == 0)
        rc = au__q_check_name("--region", o->region, err);
    if (rc == 0)
        rc = au__q_check_name("--chart", o->chart, err);
    if (rc == 0)
        rc = au__q_check_range(o->from, o->to, err);
    return rc;
}

/* The columns of au_store_top, in order. */
enum {
    TOP_KEY,
    TOP_NAME,
    TOP_ARTIST,
    TOP_PLATFORM,
    TOP_REGION,
    TOP_CHART,
    TOP_DATE,
    TOP_POSITION,
    TOP_VIRAL,
    TOP_CONFIDENCE,
    TOP_MOMENTUM,
    TOP_DIRECTION,
    TOP_PREV,
    TOP_CHANGE,
    TOP_BREAKOUT
};

static const char *const by_names[] = {
    [AU_QUERY_BY_VIRAL] = "viral",
    [AU_QUERY_BY_MOVEMENT] = "movement",
    [AU_QUERY_BY_BREAKOUT] = "breakout",
};

/* {"by", "count", "tracks": [{"rank", then every column of au_store_top,
 * typed}]}. */
static int top_json(const PGresult *r, au_query_by_t by, FILE *out,
                    au_error_t *err)
{
    int n = PQntuples(r);
    au_out_table_t *t = au_out_table_pg(r, 1);
    json_t *arr = json_array();
    json_t *root = json_pack("{s:s, s:i, s:o}", "by", by_names[by], "count", n,
                             "tracks", arr);
    int bad = !t || !root;
    for (int i = 0; i < n && !bad; i++) {
        json_t *row = json_pack("{s:i}", "rank", i + 1);
        json_t *cols = au_out_row_json(t, (size_t)i);
        bad = !row || !cols || json_object_update(row, cols) < 0;
        json_decref(cols);
        bad |= json_array_append_new(arr, row) < 0;
    }
    au_out_table_destroy(&t);
    if (bad)
        return au__q_json_fail(root, err, "top");
    return au_out_json(root, out, err);
}

/* One table row of r's row i, the columns `by` shows. */
static int top_row(au_out_table_t *t, const PGresult *r, int i,
                   au_query_by_t by)
{
    char rank[16], a[32], b[32], c[32];
    snprintf(rank, sizeof(rank), "%d", i + 1);
    const char *row[11] = {rank,
                           au__q_pg_str(r, i, TOP_NAME),
                           au__q_pg_str(r, i, TOP_ARTIST),
                           au__q_pg_str(r, i, TOP_REGION),
                           au__q_pg_str(r, i, TOP_CHART),
                           au__q_pg_str(r, i, TOP_DATE)};
    if (by == AU_QUERY_BY_VIRAL) {
        row[6] = au__q_pg_str(r, i, TOP_POSITION);
        row[7] = au__q_fmt_num(a, sizeof(a), r, i, TOP_VIRAL, "%.1f");
        row[8] = au__q_fmt_num(b, sizeof(b), r, i, TOP_CONFIDENCE, "%.2f");
        row[9] = au__q_fmt_num(c, sizeof(c), r, i, TOP_MOMENTUM, "%.1f");
        row[10] = au__q_pg_str(r, i, TOP_DIRECTION);
    } else if (by == AU_QUERY_BY_BREAKOUT) {
        row[6] = au__q_pg_str(r, i, TOP_POSITION);
        row[7] = au__q_fmt_num(a, sizeof(a), r, i, TOP_BREAKOUT, "%.3f");
        row[8] = au__q_fmt_num(b, sizeof(b), r, i, TOP_VIRAL, "%.1f");
    } else {
        snprintf(a, sizeof(a), "%+lld", au__q_pg_int(r, i, TOP_CHANGE));
        row[6] = a;
        row[7] = au__q_pg_str(r, i, TOP_PREV);
        row[8] = au__q_pg_str(r, i, TOP_POSITION);
    }
    return au_out_table_add(t, row);
}

static int top_table(const PGresult *r, au_query_by_t by, FILE *out,
                     au_error_t *err)
{
    static const char *const viral_heads[] = {
        "rank",     "track",       "artist",     "region",   "chart",    "date",
        "position", "viral_score", "confidence", "momentum", "direction"};
    static const char *const move_heads[] = {"rank",   "track", "artist",
                                             "region", "chart", "date",
                                             "gained", "was",   "now"};
    static const char *const breakout_heads[] = {
        "rank", "track",    "artist",   "region",     "chart",
        "date", "position", "breakout", "viral_score"};
    static const char *const what[] = {
        [AU_QUERY_BY_VIRAL] = "a viral score",
        [AU_QUERY_BY_MOVEMENT] = "a position change",
        [AU_QUERY_BY_BREAKOUT] = "a breakout chance (weekly, below the top 50)",
    };
    int n = PQntuples(r);
    if (n == 0) {
        fprintf(out, "no tracks with %s in the range\n", what[by]);
        return 0;
    }
    au_out_table_t *t = by == AU_QUERY_BY_VIRAL
                            ? au__q_tbl_new(11, viral_heads, "rlllllrrrrl")
                        : by == AU_QUERY_BY_BREAKOUT
                            ? au__q_tbl_new(9, breakout_heads, "rlllllrrr")
                            : au__q_tbl_new(9, move_heads, "rlllllrrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (int i = 0; i < n && rc == 0; i++)
        rc = top_row(t, r, i, by);
    if (rc == 0)
        rc = au_out_table_print(t, out);
    au_out_table_destroy(&t);
    if (rc < 0)
        return au_error_set(err, rc, "top: %s", au_strerror(rc));
    return 0;
}

int au_query_top(PGconn *c, const au_query_top_opts_t *o, int json, FILE *out,
                 au_error_t *err)
{
    int rc = au_query_top_check(o, err);
    if (rc < 0)
        return rc;
    static const au_top_by_t store_by[] = {
        [AU_QUERY_BY_VIRAL] = AU_TOP_BY_VIRAL,
        [AU_QUERY_BY_MOVEMENT] = AU_TOP_BY_MOVEMENT,
        [AU_QUERY_BY_BREAKOUT] = AU_TOP_BY_BREAKOUT,
    };
    au_store_top_q_t q = {store_by[o->by], o->platform, o->region, o->chart,
                          o->from,         o->to,       o->limit};
    PGresult *r;
    rc = au_store_top(c, &q, &r, err);
    if (rc < 0)
        return rc;
    rc = json ? top_json(r, o->by, out, err) : top_table(r, o->by, out, err);
    PQclear(r);
    return rc;
}

/* ---- summary -------------------------------------------------------- */

void au_query_summary_opts_init(au_query_summary_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->days = 7;
}

int au_query_summary_check(const au_query_summary_opts_t *o, au_error_t *err)
{
    int rc = au__q_check_days(o->days, err);
    if (rc == 0)
        rc = au__q_check_name("--platform", o->platform, err);
    if (rc == 0)
        rc = au__q_check_date("--as-of", o->as_of, err);
    return rc;
}

/* A JSON number or null as text. PostgreSQL writes a whole double as
 * 100, which jansson reads as an integer: both go through fmt. */
static const char *fmt_json_num(char *buf, size_t cap, const json_t *v,
                                const char *fmt)
{
    if (!json_is_number(v))
        return "-";
    snprintf(buf, cap, fmt, json_number_value(v));
    return buf;
}

static int summary_table(const char *js, const au_query_summary_opts_t *o,
                         FILE *out, au_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loads(js, 0, &jerr);
    json_t *stats = json_object_get(root, "stats");
    json_t *top = json_object_get(root, "top_tracks");
    if (!json_is_object(stats) || !json_is_array(top)) {
        json_decref(root);
        return au_error_set(err, AU_EPARSE,
                            "summary: unexpected summary JSON (%s)",
                            root ? "no stats or top_tracks" : jerr.text);
    }
    fprintf(out, "trending summary: %s, %d day(s) to %s\n",
            o->platform ? o->platform : "all platforms", o->days,
            o->as_of ? o->as_of : "today");
    static const struct {
        const char *key, *label, *fmt;
    } lines[] = {
        {"unique_tracks", "unique tracks", "%.0f"},
        {"platforms", "platforms", "%.0f"},
        {"total_entries", "total entries", "%.0f"},
        {"avg_score", "average score", "%.2f"},
        {"max_score", "max score", "%.2f"},
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char buf[48];
        fprintf(out, "  %-14s %s\n", lines[i].label,
                fmt_json_num(buf, sizeof(buf),
                             json_object_get(stats, lines[i].key),
                             lines[i].fmt));
    }
    fputc('\n', out);
    if (json_array_size(top) == 0) {
        fprintf(out, "no chart entries in the period\n");
        json_decref(root);
        return 0;
    }
    fprintf(out, "top tracks by position score:\n");
    static const char *const heads[] = {"rank",     "track", "artist",
                                        "platform", "score", "position"};
    au_out_table_t *t = au__q_tbl_new(6, heads, "rlllrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (size_t i = 0; i < json_array_size(top) && rc == 0; i++) {
        json_t *e = json_array_get(top, i);
        char rank[24], score[48], pos[48];
        snprintf(rank, sizeof(rank), "%zu", i + 1);
        const char *row[] = {
            rank,
            json_string_value(json_object_get(e, "track_name")),
            json_string_value(json_object_get(e, "artist")),
            json_string_value(json_object_get(e, "platform")),
            fmt_json_num(score, sizeof(score), json_object_get(e, "score"),
                         "%.2f"),
            fmt_json_num(pos, sizeof(pos), json_object_get(e, "rank"), "%.0f")};
        rc = au_out_table_add(t, row);
    }
    if (rc == 0)
        rc = au_out_table_print(t, out);
    au_out_table_destroy(&t);
    json_decref(root);
    if (rc < 0)
        return au_error_set(err, rc, "summary: %s", au_strerror(rc));
    return 0;
}

int au_query_summary(PGconn *c, au_cache_t *cache,
                     const au_query_summary_opts_t *o, int json, FILE *out,
                     au_error_t *err)
{
    int rc = au_query_summary_check(o, err);
    if (rc < 0)
        return rc;
    char *js = NULL;
    rc = au_store_summary(c, cache, o->platform, o->days, o->as_of, &js, err);
    if (rc < 0)
        return rc;
    if (json) {
        /* Re-indented like the other commands' JSON; same keys, order and
         * values as the store (and the cache) hold them. */
        json_error_t jerr;
        json_t *root = json_loads(js, 0, &jerr);
        rc = root ? au_out_json(root, out, err)
                  : au_error_set(err, AU_EPARSE, "summary: bad JSON: %s",
                                 jerr.text);
    } else {
        rc = summary_table(js, o, out, err);
    }
    free(js);
    return rc;
}

/* ---- report --------------------------------------------------------- */

typedef struct {
    au_queue_counts_t q;
    long long trends, tracks, artists;
    PGresult *dead, *top, *movers;
} report_t;

static int report_read(au_cmd_t *cmd, report_t *rp)
{
    PGconn *c = au_cmd_conn(cmd);
    au_error_t *err = &cmd->err;
    int rc = c ? au_queue_counts(c, &rp->q, err) : AU_EDBCONN;
    if (rc == 0)
        rc = au_store_counts(c, &rp->trends, &rp->tracks, &rp->artists, err);
    if (rc == 0)
        rc = au_queue_dead(c, &rp->dead, err);
    if (rc == 0)
        rc = au_store_top_streams(c, 10, &rp->top, err);
    if (rc == 0)
        rc = au_store_movers(c, 10, &rp->movers, err);
    return rc;
}

static json_t *rows_json(const PGresult *r)
{
    au_out_table_t *t = au_out_table_pg(r, 1);
    json_t *j = t ? au_out_table_json(t) : NULL;
    au_out_table_destroy(&t);
    return j;
}

static int report_json(au_cmd_t *cmd, const report_t *rp)
{
    const au_queue_counts_t *q = &rp->q;
    return au_cmd_json(
        cmd, json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:o, "
                       "s:o, s:o}",
                       "jobs", "done", (json_int_t)q->done, "dead",
                       (json_int_t)q->dead, "queued", (json_int_t)q->queued,
                       "running", (json_int_t)q->running, "rows", "trends",
                       (json_int_t)rp->trends, "tracks", (json_int_t)rp->tracks,
                       "artists", (json_int_t)rp->artists, "dead_jobs",
                       rows_json(rp->dead), "top_tracks", rows_json(rp->top),
                       "movers", rows_json(rp->movers)));
}

static int report_text(au_cmd_t *cmd, const report_t *rp)
{
    const au_queue_counts_t *q = &rp->q;
    printf("jobs: %ld done, %ld dead, %ld queued, %ld running\n", q->done,
           q->dead, q->queued, q->running);
    printf("\nrows: %lld trends, %lld tracks, %lld artists\n", rp->trends,
           rp->tracks, rp->artists);
    int rc = 0;
    if (PQntuples(rp->dead) > 0) {
        printf("\ndead jobs:\n");
        rc = au_cmd_table(cmd, rp->dead);
    }
    if (rc == 0) {
        printf("\ntop 10 tracks by streams (all charts):\n");
        rc = au_cmd_table(cmd, rp->top);
    }
    if (rc == 0) {
        printf("\nbiggest movers (positions gained since previous "
               "entry):\n");
        rc = au_cmd_table(cmd, rp->movers);
    }
    return rc;
}

static int cmd_report(au_cmd_t *cmd)
{
    report_t rp = {0};
    int rc = report_read(cmd, &rp);
    if (rc < 0)
        rc = au_cmd_fail(cmd);
    else if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        rc = report_json(cmd, &rp);
    else
        rc = report_text(cmd, &rp);
    PQclear(rp.dead);
    PQclear(rp.top);
    PQclear(rp.movers);
    return rc;
}

const au_cmd_def_t au_query_report_def = {
    {.prog = "audora report",
     .summary = "What the database holds: jobs, rows, dead jobs with their "
                "reason, the top\n10 tracks by streams and the biggest "
                "movers.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_report,
};

/* ---- the trend store's commands ------------------------------------- */

static const char *const top_by[] = {"viral", "movement", "breakout", NULL};

enum {
    TOPO_BY,
    TOPO_PLATFORM,
    TOPO_REGION,
    TOPO_CHART,
    TOPO_FROM,
    TOPO_TO,
    TOPO_LIMIT,
    TOPO_JSON,
    TOPO_N
};

static const au_cli_opt_t top_opts[] = {
    [TOPO_BY] = {.name = "by",
                 .kind = AU_CLI_ENUM,
                 .help = "rank by viral score (default), positions gained, "
                         "or breakout chance",
                 .words = top_by},
    [TOPO_PLATFORM] = {.name = "platform",
                       .kind = AU_CLI_STR,
                       .metavar = "P",
                       .help = "only this platform"},
    [TOPO_REGION] = {.name = "region",
                     .kind = AU_CLI_STR,
                     .metavar = "R",
                     .help = "only this region"},
    [TOPO_CHART] = {.name = "chart",
                    .kind = AU_CLI_STR,
                    .metavar = "C",
                    .help = "only this chart"},
    [TOPO_FROM] = {.name = "from",
                   .kind = AU_CLI_DATE,
                   .help = "first chart date"},
    [TOPO_TO] = {.name = "to", .kind = AU_CLI_DATE, .help = "last chart date"},
    [TOPO_LIMIT] = {.name = "limit",
                    .short_name = 'n',
                    .kind = AU_CLI_INT,
                    .metavar = "N",
                    .help = "tracks, default 20",
                    .lo = 1,
                    .hi = AU_QUERY_MAX_LIMIT},
    [TOPO_JSON] = {.name = "json", .kind = AU_CLI_FLAG, .help = "print JSON"},
};

static int cmd_top(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    /* The words of top_by, in au_query_by_t's order. */
    o.by = (au_query_by_t)au_cli_word(a, TOPO_BY, AU_QUERY_BY_VIRAL);
    o.platform = au_cli_str(a, TOPO_PLATFORM, NULL);
    o.region = au_cli_str(a, TOPO_REGION, NULL);
    o.chart = au_cli_str(a, TOPO_CHART, NULL);
    o.from = au_cli_str(a, TOPO_FROM, NULL);
    o.to = au_cli_str(a, TOPO_TO, NULL);
    o.limit = (int)au_cli_int(a, TOPO_LIMIT, o.limit);
    if (au_query_top_check(&o, &cmd->err) < 0)
        return au__q_check_failed(cmd);
    PGconn *c = au_cmd_conn(cmd);
    if (!c ||
        au_query_top(c, &o, au_cli_has(a, TOPO_JSON), stdout, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    return 0;
}

const au_cmd_def_t au_query_top_def = {
    {.prog = "audora top",
     .summary = "Top tracks of the active chart entries, one row per track.",
     .about = "Each track's best entry in the range (highest viral score, "
              "most positions\ngained since the previous chart, or highest "
              "breakout chance: the breakout\nmodel's probability of reaching "
              "the top 50 within 4 weeks, computed for\nweekly charts below "
              "the top 50; ties to the better position, then the\nlater "
              "date). Entries whose score was not computed are left out. "
              "Dates are\ninclusive.\n",
     .opts = top_opts,
     .nopts = TOPO_N},
    AU_CTX_DB,
    cmd_top,
};

enum { SUMO_PLATFORM, SUMO_DAYS, SUMO_AS_OF, SUMO_JSON, SUMO_N };

static const au_cli_opt_t summary_opts[] = {
    [SUMO_PLATFORM] = {.name = "platform",
                       .kind = AU_CLI_STR,
                       .metavar = "P",
                       .help = "only this platform"},
    [SUMO_DAYS] = {.name = "days",
                   .kind = AU_CLI_INT,
                   .metavar = "N",
                   .help = "days in the period, default 7",
                   .lo = 1,
                   .hi = AU_QUERY_MAX_DAYS},
    [SUMO_AS_OF] = {.name = "as-of",
                    .kind = AU_CLI_DATE,
                    .help = "last day of the period, default today"},
    [SUMO_JSON] = {.name = "json",
                   .kind = AU_CLI_FLAG,
                   .help = "print the summary as the store returns it"},
};

static int cmd_summary(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    au_query_summary_opts_t o;
    au_query_summary_opts_init(&o);
    o.platform = au_cli_str(a, SUMO_PLATFORM, NULL);
    o.days = (int)au_cli_int(a, SUMO_DAYS, o.days);
    o.as_of = au_cli_str(a, SUMO_AS_OF, NULL);
    if (au_query_summary_check(&o, &cmd->err) < 0)
        return au__q_check_failed(cmd);
    PGconn *c = au_cmd_conn(cmd);
    if (!c || au_query_summary(c, cmd->ctx.cache, &o, au_cli_has(a, SUMO_JSON),
                               stdout, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    return 0;
}

const au_cmd_def_t au_query_summary_def = {
    {.prog = "audora summary",
     .summary = "Trending summary of the active chart entries (cached 10 "
                "minutes).",
     .about = "Unique tracks, platforms, entries, average and best position "
              "score, and the\n10 best entries of the period.\n",
     .opts = summary_opts,
     .nopts = SUMO_N},
    AU_CTX_DB | AU_CTX_CACHE,
    cmd_summary,
};
