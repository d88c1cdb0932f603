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

/* More series than any chart source has; a bound on the allocation. */
#define SPREAD_MAX_SERIES 100000
#define TBL_MAX_COLS 16

/* A text table for the cores: columns named heads, aligned by align ('r'
 * a number, right; 'l' text, left). NULL when out of memory. */
static au_out_table_t *tbl_new(size_t ncols, const char *const *heads,
                               const char *align)
{
    au_out_col_t cols[TBL_MAX_COLS];
    assert(ncols <= TBL_MAX_COLS && strlen(align) == ncols);
    for (size_t i = 0; i < ncols; i++)
        cols[i] =
            (au_out_col_t){heads[i], align[i] == 'r' ? AU_OUT_NUM : AU_OUT_STR};
    return au_out_table_new(cols, ncols);
}

/* ---- result and JSON helpers ---------------------------------------- */

static const char *pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static double pg_num(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NAN
                                    : strtod(PQgetvalue(r, row, col), NULL);
}

static long long pg_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A number cell: "-" for SQL NULL. */
static const char *fmt_num(char *buf, size_t cap, const PGresult *r, int row,
                           int col, const char *fmt)
{
    if (PQgetisnull(r, row, col))
        return "-";
    snprintf(buf, cap, fmt, pg_num(r, row, col));
    return buf;
}

static json_t *j_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *j_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *j_pg_real(const PGresult *r, int row, int col)
{
    return j_real(pg_num(r, row, col));
}

/* Sets o[k] = v, taking v; 0 or -1. A NULL v (out of memory, or text
 * that is not UTF-8) fails the set, so callers OR the results. */
static int jset(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v);
}

static int json_fail(json_t *root, au_error_t *err, const char *what)
{
    json_decref(root);
    return au_error_set(err, AU_ENOMEM,
                        "%s: cannot build JSON (out of memory or text "
                        "that is not UTF-8)",
                        what);
}

/* ---- option checks -------------------------------------------------- */

static int check_date(const char *flag, const char *s, au_error_t *err)
{
    if (s && !au_chartname_valid_date(s, strlen(s)))
        return au_error_set(err, AU_EINVAL, "%s %s: not a YYYY-MM-DD date",
                            flag, s);
    return 0;
}

static int check_name(const char *flag, const char *s, au_error_t *err)
{
    if (s && !s[0])
        return au_error_set(err, AU_EINVAL, "%s: empty value", flag);
    return 0;
}

static int check_range(const char *from, const char *to, au_error_t *err)
{
    int rc = check_date("--from", from, err);
    if (rc == 0)
        rc = check_date("--to", to, err);
    /* ISO dates compare as strings. */
    if (rc == 0 && from && to && strcmp(from, to) > 0)
        rc = au_error_set(err, AU_EINVAL, "--from %s is after --to %s", from,
                          to);
    return rc;
}

static int check_limit(int limit, au_error_t *err)
{
    if (limit < 1 || limit > AU_QUERY_MAX_LIMIT)
        return au_error_set(err, AU_EINVAL, "--limit %d: must be 1..%d", limit,
                            AU_QUERY_MAX_LIMIT);
    return 0;
}

static int check_days(int days, au_error_t *err)
{
    if (days < 1 || days > AU_QUERY_MAX_DAYS)
        return au_error_set(err, AU_EINVAL, "--days %d: must be 1..%d", days,
                            AU_QUERY_MAX_DAYS);
    return 0;
}

/* ---- top ------------------------------------------------------------ */

void au_query_top_opts_init(au_query_top_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->by = AU_QUERY_BY_VIRAL;
    o->limit = 20;
}

int au_query_top_check(const au_query_top_opts_t *o, au_error_t *err)
{
    if (o->by != AU_QUERY_BY_VIRAL && o->by != AU_QUERY_BY_MOVEMENT)
        return au_error_set(err, AU_EINVAL, "--by %d: unknown ordering",
                            (int)o->by);
    int rc = check_limit(o->limit, err);
    if (rc == 0)
        rc = check_name("--platform", o->platform, err);
    if (rc == 0)
        rc = check_name("--region", o->region, err);
    if (rc == 0)
        rc = check_name("--chart", o->chart, err);
    if (rc == 0)
        rc = check_range(o->from, o->to, err);
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
    TOP_CHANGE
};

/* {"by", "count", "tracks": [{"rank", then every column of au_store_top,
 * typed}]}. */
static int top_json(const PGresult *r, au_query_by_t by, FILE *out,
                    au_error_t *err)
{
    int n = PQntuples(r);
    au_out_table_t *t = au_out_table_pg(r, 1);
    json_t *arr = json_array();
    json_t *root = json_pack("{s:s, s:i, s:o}", "by",
                             by == AU_QUERY_BY_VIRAL ? "viral" : "movement",
                             "count", n, "tracks", arr);
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
        return json_fail(root, err, "top");
    return au_out_json(root, out, err);
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
    int n = PQntuples(r);
    if (n == 0) {
        fprintf(out, "no tracks with %s in the range\n",
                by == AU_QUERY_BY_VIRAL ? "a viral score"
                                        : "a position change");
        return 0;
    }
    au_out_table_t *t = by == AU_QUERY_BY_VIRAL
                            ? tbl_new(11, viral_heads, "rlllllrrrrl")
                            : tbl_new(9, move_heads, "rlllllrrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (int i = 0; i < n && rc == 0; i++) {
        char rank[16], a[32], b[32], c[32];
        snprintf(rank, sizeof(rank), "%d", i + 1);
        const char *common[] = {rank,
                                pg_str(r, i, TOP_NAME),
                                pg_str(r, i, TOP_ARTIST),
                                pg_str(r, i, TOP_REGION),
                                pg_str(r, i, TOP_CHART),
                                pg_str(r, i, TOP_DATE)};
        if (by == AU_QUERY_BY_VIRAL) {
            const char *row[] = {
                common[0],
                common[1],
                common[2],
                common[3],
                common[4],
                common[5],
                pg_str(r, i, TOP_POSITION),
                fmt_num(a, sizeof(a), r, i, TOP_VIRAL, "%.1f"),
                fmt_num(b, sizeof(b), r, i, TOP_CONFIDENCE, "%.2f"),
                fmt_num(c, sizeof(c), r, i, TOP_MOMENTUM, "%.1f"),
                pg_str(r, i, TOP_DIRECTION)};
            rc = au_out_table_add(t, row);
        } else {
            snprintf(a, sizeof(a), "%+lld", pg_int(r, i, TOP_CHANGE));
            const char *row[] = {common[0],
                                 common[1],
                                 common[2],
                                 common[3],
                                 common[4],
                                 common[5],
                                 a,
                                 pg_str(r, i, TOP_PREV),
                                 pg_str(r, i, TOP_POSITION)};
            rc = au_out_table_add(t, row);
        }
    }
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
    au_store_top_q_t q = {o->by == AU_QUERY_BY_VIRAL ? AU_TOP_BY_VIRAL
                                                     : AU_TOP_BY_MOVEMENT,
                          o->platform,
                          o->region,
                          o->chart,
                          o->from,
                          o->to,
                          o->limit};
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
    int rc = check_days(o->days, err);
    if (rc == 0)
        rc = check_name("--platform", o->platform, err);
    if (rc == 0)
        rc = check_date("--as-of", o->as_of, err);
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
    au_out_table_t *t = tbl_new(6, heads, "rlllrr");
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

/* ---- playlists ------------------------------------------------------ */

void au_query_playlist_opts_init(au_query_playlist_opts_t *o)
{
    au_mood_options_t d;
    au_mood_options_default(&d);
    memset(o, 0, sizeof(*o));
    o->mood = AU_QUERY_ALL_MOODS;
    o->min_score = d.min_score;
    o->limit = (int)d.max_per_mood;
}

int au_query_mood_parse(const char *name, int *mood, au_error_t *err)
{
    if (name && !strcasecmp(name, "all")) {
        *mood = AU_QUERY_ALL_MOODS;
        return 0;
    }
    char names[200];
    size_t len = 0;
    for (int m = 0; m < AU_MOOD_COUNT; m++) {
        const char *mn = au_mood_name((au_mood_t)m);
        if (name && !strcasecmp(name, mn)) {
            *mood = m;
            return 0;
        }
        for (size_t i = 0; mn[i] && len + 3 < sizeof(names); i++)
            names[len++] = (char)tolower((unsigned char)mn[i]);
        names[len++] = ',';
        names[len++] = ' ';
    }
    names[len] = '\0';
    return au_error_set(err, AU_EINVAL, "--mood %s: unknown mood; one of %sall",
                        name ? name : "(none)", names);
}

int au_query_playlist_check(const au_query_playlist_opts_t *o, au_error_t *err)
{
    if (o->mood != AU_QUERY_ALL_MOODS &&
        (o->mood < 0 || o->mood >= AU_MOOD_COUNT))
        return au_error_set(err, AU_EINVAL, "--mood %d: unknown mood", o->mood);
    if (!(o->min_score >= 0.0 && o->min_score <= 100.0))
        return au_error_set(err, AU_EINVAL, "--min-score %g: must be 0..100",
                            o->min_score);
    int rc = check_limit(o->limit, err);
    if (rc == 0)
        rc = check_range(o->from, o->to, err);
    return rc;
}

enum { PL_KEY, PL_NAME, PL_ARTIST, PL_VAL, PL_ENERGY, PL_DANCE, PL_TEMPO };

typedef struct {
    const PGresult *r;
    const au_mood_playlists_t *pl;
    const au_query_playlist_opts_t *o;
    long charted, scored;
} pl_view_t;

static int pl_json(const pl_view_t *v, FILE *out, au_error_t *err)
{
    json_t *root = json_object(), *moods = json_array();
    int bad = !root || !moods;
    bad |= root && jset(root, "moods", moods);
    for (int m = 0; m < AU_MOOD_COUNT && !bad; m++) {
        if (v->o->mood != AU_QUERY_ALL_MOODS && v->o->mood != m)
            continue;
        size_t n = au_mood_playlists_size(v->pl, (au_mood_t)m);
        const au_mood_entry_t *e =
            au_mood_playlists_entries(v->pl, (au_mood_t)m);
        json_t *mo = json_object(), *tracks = json_array();
        bad |= json_array_append_new(moods, mo);
        if (bad) {
            json_decref(tracks);
            break;
        }
        bad |= jset(mo, "mood", json_string(au_mood_name((au_mood_t)m)));
        bad |= jset(mo, "label", json_string(au_mood_label((au_mood_t)m)));
        bad |= jset(mo, "track_count", json_integer((json_int_t)n));
        bad |= jset(mo, "tracks", tracks);
        for (size_t i = 0; i < n && !bad; i++) {
            int row = (int)e[i].index;
            json_t *t = json_object(), *f = json_object();
            bad |= json_array_append_new(tracks, t);
            if (bad) {
                json_decref(f);
                break;
            }
            bad |= jset(t, "rank", json_integer((json_int_t)i + 1));
            bad |= jset(t, "track_key", j_str(pg_str(v->r, row, PL_KEY)));
            bad |= jset(t, "track_name", j_str(pg_str(v->r, row, PL_NAME)));
            bad |= jset(t, "artist", j_str(pg_str(v->r, row, PL_ARTIST)));
            bad |= jset(t, "mood_score", j_real(e[i].score));
            bad |= jset(t, "features", f);
            bad |= f == NULL;
            if (bad)
                break;
            bad |= jset(f, "valence", j_pg_real(v->r, row, PL_VAL));
            bad |= jset(f, "energy", j_pg_real(v->r, row, PL_ENERGY));
            bad |= jset(f, "danceability", j_pg_real(v->r, row, PL_DANCE));
            bad |= jset(f, "tempo", j_pg_real(v->r, row, PL_TEMPO));
        }
    }
    if (!bad) {
        bad |= jset(root, "min_score", json_real(v->o->min_score));
        bad |= jset(root, "limit", json_integer(v->o->limit));
        bad |= jset(root, "tracks_scored", json_integer(v->scored));
        bad |= jset(root, "excluded_without_features",
                    json_integer(v->charted - v->scored));
    }
    if (bad) {
        if (!root)
            json_decref(moods);
        return json_fail(root, err, "playlists");
    }
    return au_out_json(root, out, err);
}

static int pl_table_mood(const pl_view_t *v, au_mood_t m, FILE *out)
{
    static const char *const heads[] = {"rank",         "track",   "artist",
                                        "mood_score",   "valence", "energy",
                                        "danceability", "tempo"};
    size_t n = au_mood_playlists_size(v->pl, m);
    const au_mood_entry_t *e = au_mood_playlists_entries(v->pl, m);
    if (n == 0) {
        fprintf(out, "%s (%s): no track scores >= %.1f\n", au_mood_name(m),
                au_mood_label(m), v->o->min_score);
        return 0;
    }
    fprintf(out, "%s (%s): %zu track(s) scoring >= %.1f\n", au_mood_name(m),
            au_mood_label(m), n, v->o->min_score);
    au_out_table_t *t = tbl_new(8, heads, "rllrrrrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int row = (int)e[i].index;
        char rank[24], sc[32], va[32], en[32], da[32], te[32];
        snprintf(rank, sizeof(rank), "%zu", i + 1);
        snprintf(sc, sizeof(sc), "%.3f", e[i].score);
        const char *cells[] = {
            rank,
            pg_str(v->r, row, PL_NAME),
            pg_str(v->r, row, PL_ARTIST),
            sc,
            fmt_num(va, sizeof(va), v->r, row, PL_VAL, "%.3f"),
            fmt_num(en, sizeof(en), v->r, row, PL_ENERGY, "%.3f"),
            fmt_num(da, sizeof(da), v->r, row, PL_DANCE, "%.3f"),
            fmt_num(te, sizeof(te), v->r, row, PL_TEMPO, "%.1f")};
        rc = au_out_table_add(t, cells);
    }
    if (rc == 0)
        rc = au_out_table_print(t, out);
    au_out_table_destroy(&t);
    return rc;
}

static int pl_table(const pl_view_t *v, FILE *out, au_error_t *err)
{
    int rc = 0, first = 1;
    for (int m = 0; m < AU_MOOD_COUNT && rc == 0; m++) {
        if (v->o->mood != AU_QUERY_ALL_MOODS && v->o->mood != m)
            continue;
        if (!first)
            fputc('\n', out);
        first = 0;
        rc = pl_table_mood(v, (au_mood_t)m, out);
    }
    if (rc < 0)
        return au_error_set(err, rc, "playlists: %s", au_strerror(rc));
    fprintf(out,
            "\n%ld track(s) with audio features scored; %ld track(s) "
            "without audio features excluded\n",
            v->scored, v->charted - v->scored);
    return 0;
}

int au_query_playlists(PGconn *c, const au_query_playlist_opts_t *o, int json,
                       FILE *out, au_error_t *err)
{
    int rc = au_query_playlist_check(o, err);
    if (rc < 0)
        return rc;
    PGresult *r = NULL;
    long charted = 0;
    au_mood_features_t *feat = NULL;
    au_mood_playlists_t *pl = NULL;
    rc = au_store_playlist_tracks(c, o->from, o->to, &r, &charted, err);
    if (rc < 0)
        goto cleanup;
    size_t n = (size_t)PQntuples(r);
    feat = malloc((n ? n : 1) * sizeof(*feat));
    if (!feat) {
        rc = au_error_set(err, AU_ENOMEM, "playlists: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        feat[i] =
            (au_mood_features_t){.valence = pg_num(r, (int)i, PL_VAL),
                                 .energy = pg_num(r, (int)i, PL_ENERGY),
                                 .danceability = pg_num(r, (int)i, PL_DANCE),
                                 .tempo = pg_num(r, (int)i, PL_TEMPO)};
    au_mood_options_t mo = {o->min_score, (size_t)o->limit, 0.0};
    rc = au_mood_playlists_new(feat, n, &mo, &pl);
    if (rc < 0) {
        au_error_set(err, rc, "playlists: scoring %zu track(s): %s", n,
                     au_strerror(rc));
        goto cleanup;
    }
    pl_view_t v = {r, pl, o, charted, (long)n};
    rc = json ? pl_json(&v, out, err) : pl_table(&v, out, err);
cleanup:
    au_mood_playlists_destroy(&pl);
    free(feat);
    PQclear(r);
    return rc;
}

/* ---- spread --------------------------------------------------------- */

void au_query_spread_opts_init(au_query_spread_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->days = 30;
}

int au_query_spread_check(const au_query_spread_opts_t *o, au_error_t *err)
{
    if (!o->track || !o->track[0])
        return au_error_set(err, AU_EINVAL, "TRACK: must not be empty");
    if (!o->artist || !o->artist[0])
        return au_error_set(err, AU_EINVAL, "ARTIST: must not be empty");
    int rc = check_days(o->days, err);
    if (rc == 0)
        rc = check_date("--as-of", o->as_of, err);
    return rc;
}

enum { SP_SERIES, SP_FIRST, SP_DAY, SP_PEAK, SP_TRACKS };

typedef struct {
    const au_query_spread_opts_t *o;
    const PGresult *r;
    const au_spread_obs_t *obs;
    const au_spread_platform_t *pf;
    const au_spread_step_t *steps;
    size_t n;
    double total_hours;
} spread_view_t;

/* The first_seen date of a platform: its name is a row's own string. */
static const char *spread_date(const spread_view_t *v, const char *platform)
{
    for (int i = 0; i < PQntuples(v->r); i++)
        if (v->obs[i].platform == platform)
            return PQgetvalue(v->r, i, SP_FIRST);
    return NULL;
}

static int spread_json(const spread_view_t *v, FILE *out, au_error_t *err)
{
    json_t *root = json_object();
    int bad = !root;
    bad |= root && jset(root, "track_name", j_str(v->o->track));
    bad |= root && jset(root, "artist", j_str(v->o->artist));
    if (v->n == 0) {
        bad |= root && jset(root, "message",
                            json_string("No cross-platform data found"));
        bad |= root && jset(root, "platform_count", json_integer(0));
        return bad ? json_fail(root, err, "spread")
                   : au_out_json(root, out, err);
    }
    json_t *pfs = json_array(), *pat = json_array();
    bad |= root && jset(root, "platforms", pfs);
    bad |= root && jset(root, "platform_count", json_integer((json_int_t)v->n));
    bad |= root && jset(root, "first_platform", j_str(v->pf[0].platform));
    bad |= root && jset(root, "propagation_pattern", pat);
    bad |= root && jset(root, "total_propagation_time", j_real(v->total_hours));
    bad |= root && jset(root, "matched_tracks",
                        json_integer(pg_int(v->r, 0, SP_TRACKS)));
    bad |= root && jset(root, "period_days", json_integer(v->o->days));
    bad |= root && jset(root, "as_of", j_str(v->o->as_of));
    for (size_t i = 0; i < v->n && !bad; i++) {
        json_t *p = json_object();
        bad |= json_array_append_new(pfs, p);
        if (bad)
            break;
        bad |= jset(p, "platform", j_str(v->pf[i].platform));
        bad |= jset(p, "first_seen", j_str(spread_date(v, v->pf[i].platform)));
        bad |= jset(p, "peak_score", j_real(v->pf[i].peak_score));
    }
    for (size_t i = 0; i + 1 < v->n && !bad; i++) {
        json_t *s = json_object();
        bad |= json_array_append_new(pat, s);
        if (bad)
            break;
        bad |= jset(s, "from_platform", j_str(v->pf[i].platform));
        bad |= jset(s, "to_platform", j_str(v->pf[i + 1].platform));
        bad |= jset(s, "hours_difference", j_real(v->steps[i].lag_hours));
        bad |= jset(s, "score_change", j_real(v->steps[i].score_change));
        bad |= jset(s, "propagation_strength",
                    j_real(v->steps[i].propagation_strength));
    }
    if (bad) {
        if (!root) {
            json_decref(pfs);
            json_decref(pat);
        }
        return json_fail(root, err, "spread");
    }
    return au_out_json(root, out, err);
}

static int spread_table(const spread_view_t *v, FILE *out, au_error_t *err)
{
    if (v->n == 0) {
        fprintf(out, "No cross-platform data found\n");
        return 0;
    }
    fprintf(out,
            "\"%s\" by \"%s\": %zu platform(s), first on %s; %lld "
            "matching track(s)\n",
            v->o->track, v->o->artist, v->n, v->pf[0].platform,
            pg_int(v->r, 0, SP_TRACKS));
    static const char *const heads[] = {"rank",       "platform",
                                        "first_seen", "peak_score",
                                        "lag_hours",  "score_change"};
    au_out_table_t *t = tbl_new(6, heads, "rllrrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        char rank[24], peak[32], lag[32] = "-", change[32] = "-";
        snprintf(rank, sizeof(rank), "%zu", i + 1);
        snprintf(peak, sizeof(peak), "%.2f", v->pf[i].peak_score);
        if (i > 0) {
            snprintf(lag, sizeof(lag), "%.1f", v->steps[i - 1].lag_hours);
            snprintf(change, sizeof(change), "%+.2f",
                     v->steps[i - 1].score_change);
        }
        const char *row[] = {rank,
                             v->pf[i].platform,
                             spread_date(v, v->pf[i].platform),
                             peak,
                             lag,
                             change};
        rc = au_out_table_add(t, row);
    }
    if (rc == 0)
        rc = au_out_table_print(t, out);
    au_out_table_destroy(&t);
    if (rc < 0)
        return au_error_set(err, rc, "spread: %s", au_strerror(rc));
    fprintf(out, "total propagation time: %.1f hour(s)\n", v->total_hours);
    return 0;
}

int au_query_spread(PGconn *c, const au_query_spread_opts_t *o, int json,
                    FILE *out, au_error_t *err)
{
    int rc = au_query_spread_check(o, err);
    if (rc < 0)
        return rc;
    PGresult *r;
    rc = au_store_spread(c, o->track, o->artist, o->days, o->as_of, &r, err);
    if (rc < 0)
        return rc;
    size_t n = (size_t)PQntuples(r);
    au_spread_obs_t *obs = NULL;
    au_spread_platform_t *pf = NULL;
    au_spread_step_t *steps = NULL;
    if (n > SPREAD_MAX_SERIES) {
        rc = au_error_set(err, AU_ETOOBIG, "spread: %zu series match (max %d)",
                          n, SPREAD_MAX_SERIES);
        goto cleanup;
    }
    obs = malloc((n ? n : 1) * sizeof(*obs));
    pf = malloc((n ? n : 1) * sizeof(*pf));
    steps = malloc((n ? n : 1) * sizeof(*steps));
    if (!obs || !pf || !steps) {
        rc = au_error_set(err, AU_ENOMEM, "spread: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        obs[i] = (au_spread_obs_t){PQgetvalue(r, (int)i, SP_SERIES),
                                   86400.0 * pg_num(r, (int)i, SP_DAY),
                                   pg_num(r, (int)i, SP_PEAK)};
    spread_view_t v = {o, r, obs, pf, steps, 0, 0.0};
    rc = au_spread_analyze(obs, n, pf, n, &v.n, steps, &v.total_hours);
    if (rc < 0) {
        au_error_set(err, rc, "spread: %s", au_strerror(rc));
        goto cleanup;
    }
    rc = json ? spread_json(&v, out, err) : spread_table(&v, out, err);
cleanup:
    free(obs);
    free(pf);
    free(steps);
    PQclear(r);
    return rc;
}

/* ---- the queue and the fleet ---------------------------------------- */

static json_t *counts_json(const au_queue_counts_t *q)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "queued",
                     (json_int_t)q->queued, "ready", (json_int_t)q->ready,
                     "running", (json_int_t)q->running, "done",
                     (json_int_t)q->done, "dead", (json_int_t)q->dead, "rows",
                     (json_int_t)q->rows, "oldest_ready_s", q->oldest_ready_s);
}

typedef struct {
    au_queue_counts_t q;
    PGresult *newest, *fleet; /* the newest job; the live workers */
    long batches;
    long long rows;
} status_t;

static int status_json(au_cmd_t *cmd, const status_t *s)
{
    au_out_table_t *w = au_out_table_pg(s->fleet, 1);
    json_t *max = PQntuples(s->newest) > 0
                      ? au_out_value(PQgetvalue(s->newest, 0, 0), AU_OUT_INT)
                      : json_null();
    json_t *root = json_pack("{s:o, s:o, s:o, s:{s:i, s:I, s:I}}", "queue",
                             counts_json(&s->q), "max_job_id", max, "workers",
                             w ? au_out_table_json(w) : NULL, "throughput",
                             "window_s", 60, "batches", (json_int_t)s->batches,
                             "rows", (json_int_t)s->rows);
    au_out_table_destroy(&w);
    return au_cmd_json(cmd, root);
}

static int status_text(au_cmd_t *cmd, const status_t *s)
{
    const au_queue_counts_t *q = &s->q;
    printf("queue: %ld queued (%ld ready), %ld running, %ld done, %ld dead; "
           "%lld rows written by done jobs\n",
           q->queued, q->ready, q->running, q->done, q->dead, q->rows);
    if (q->ready > 0)
        printf("oldest ready job waiting: %.1f s\n", q->oldest_ready_s);
    if (PQntuples(s->newest) > 0)
        printf("newest job: %s\n", PQgetvalue(s->newest, 0, 0));
    printf("\nworkers (seen in the last 30 s):\n");
    int rc = PQntuples(s->fleet) > 0 ? au_cmd_table(cmd, s->fleet)
                                     : (puts("none"), 0);
    printf("\nthroughput: %ld batches, %lld rows in the last minute\n",
           s->batches, s->rows);
    return rc;
}

static int cmd_status(au_cmd_t *cmd)
{
    status_t s = {0};
    PGconn *c = au_cmd_conn(cmd);
    int rc = c ? au_queue_counts(c, &s.q, &cmd->err) : AU_EDBCONN;
    if (rc == 0)
        rc = au_queue_list(c, NULL, 1, &s.newest, &cmd->err);
    if (rc == 0)
        rc = au_fleet_list(c, 30, &s.fleet, &cmd->err);
    if (rc == 0)
        rc = au_queue_throughput(c, 60, &s.batches, &s.rows, &cmd->err);
    if (rc < 0)
        rc = au_cmd_fail(cmd);
    else if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        rc = status_json(cmd, &s);
    else
        rc = status_text(cmd, &s);
    PQclear(s.newest);
    PQclear(s.fleet);
    return rc;
}

const au_cmd_def_t au_query_status_def = {
    {.prog = "audora status",
     .summary = "Queue depth, the newest job id, live workers, throughput.",
     .about = "With --json, max_job_id is the highest job id (null when "
              "there is none):\nremember it before pushing, then `audora "
              "wait --since-id` it.\n",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_status,
    NULL,
};

/* A PGresult as {"key": [rows]} or as a table; `none` when it is empty. */
static int print_rows(au_cmd_t *cmd, int json, const PGresult *r,
                      const char *key, const char *none)
{
    if (json) {
        au_out_table_t *t = au_out_table_pg(r, 1);
        json_t *root = json_pack("{s:o}", key, t ? au_out_table_json(t) : NULL);
        au_out_table_destroy(&t);
        return au_cmd_json(cmd, root);
    }
    if (PQntuples(r) == 0 && none) {
        puts(none);
        return 0;
    }
    return au_cmd_table(cmd, r);
}

enum { JOBS_STATE, JOBS_LIMIT, JOBS_JSON, JOBS_NOPTS };

static const char *const job_states[] = {"queued", "running", "done", "dead",
                                         NULL};

static const au_cli_opt_t jobs_opts[] = {
    [JOBS_JSON] = {.name = "json",
                   .kind = AU_CLI_FLAG,
                   .help = "print JSON instead of text"},
    [JOBS_STATE] = {.name = "state",
                    .short_name = 's',
                    .kind = AU_CLI_ENUM,
                    .help = "only jobs in this state",
                    .words = job_states},
    [JOBS_LIMIT] = {.name = "limit",
                    .short_name = 'n',
                    .kind = AU_CLI_INT,
                    .metavar = "N",
                    .help = "the newest N jobs, default 50",
                    .lo = 1,
                    .hi = 100000},
};

static int cmd_jobs(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    int state = au_cli_word(a, JOBS_STATE, -1);
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c ||
        au_queue_list(c, state < 0 ? NULL : job_states[state],
                      (int)au_cli_int(a, JOBS_LIMIT, 50), &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = print_rows(cmd, au_cli_has(a, JOBS_JSON), r, "jobs", "no jobs");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_query_jobs_def = {
    {.prog = "audora jobs",
     .summary = "The newest jobs, with their state, rows and last error.",
     .opts = jobs_opts,
     .nopts = JOBS_NOPTS},
    AU_CTX_DB,
    cmd_jobs,
    NULL,
};

static int cmd_dlq_list(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_queue_dead(c, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = print_rows(cmd, au_cli_has(cmd->cli, AU_CMD_OPT_JSON), r,
                        "dead_jobs", "no dead jobs");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_query_dlq_list_def = {
    {.prog = "audora dlq list",
     .summary = "Dead jobs, oldest first, with the reason each died.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_dlq_list,
    NULL,
};

/* A job whole; its parameters as JSON in JSON (not a string of it). */
static int show_job(au_cmd_t *cmd, const PGresult *r)
{
    au_out_table_t *t = au_out_table_pg(r, 1);
    if (!t)
        return au_cmd_failf(cmd, "out of memory");
    int rc = 0;
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON)) {
        json_t *o = au_out_row_json(t, 0);
        int p = PQfnumber(r, "params");
        if (o && p >= 0 && !PQgetisnull(r, 0, p))
            json_object_set_new(o, "params",
                                au_out_value(PQgetvalue(r, 0, p), AU_OUT_JSON));
        rc = au_cmd_json(cmd, o);
    } else if (au_out_record_print(t, 0, stdout) < 0) {
        rc = au_cmd_failf(cmd, "cannot write the output");
    }
    au_out_table_destroy(&t);
    return rc;
}

static int cmd_dlq_show(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_queue_show(c, cmd->cli->ints[0], &r, &cmd->err) < 0)
        return au_cmd_fail(cmd); /* "no job 9999" */
    int rc = show_job(cmd, r);
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_query_dlq_show_def = {
    {.prog = "audora dlq show",
     .summary = "One job, every field (any job, dead or not).",
     .args = {"ID", 1, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_dlq_show,
    NULL,
};

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
    NULL,
};

/* ---- the trend store's commands ------------------------------------- */

/* A check that failed after parsing: still a usage error. */
static int check_failed(au_cmd_t *cmd)
{
    return au_cli_usage_error(cmd->cli->spec, "%s", cmd->err.msg);
}

static const char *const top_by[] = {"viral", "movement", NULL};

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
                 .help = "rank by viral score (default) or positions gained",
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
    o.by =
        au_cli_word(a, TOPO_BY, 0) ? AU_QUERY_BY_MOVEMENT : AU_QUERY_BY_VIRAL;
    o.platform = au_cli_str(a, TOPO_PLATFORM, NULL);
    o.region = au_cli_str(a, TOPO_REGION, NULL);
    o.chart = au_cli_str(a, TOPO_CHART, NULL);
    o.from = au_cli_str(a, TOPO_FROM, NULL);
    o.to = au_cli_str(a, TOPO_TO, NULL);
    o.limit = (int)au_cli_int(a, TOPO_LIMIT, o.limit);
    if (au_query_top_check(&o, &cmd->err) < 0)
        return check_failed(cmd);
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
              "or most positions\ngained since the previous chart; ties to "
              "the better position, then the later\ndate). Entries whose "
              "score was not computed are left out. Dates are\ninclusive.\n",
     .opts = top_opts,
     .nopts = TOPO_N},
    AU_CTX_DB,
    cmd_top,
    NULL,
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
        return check_failed(cmd);
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
    NULL,
};

enum { PLO_MOOD, PLO_MIN, PLO_LIMIT, PLO_FROM, PLO_TO, PLO_JSON, PLO_N };

static const au_cli_opt_t playlists_opts[] = {
    [PLO_MOOD] = {.name = "mood",
                  .kind = AU_CLI_STR,
                  .metavar = "NAME",
                  .help = "one of the moods above (any case), or all",
                  .flags = AU_CLI_REQUIRED},
    [PLO_MIN] = {.name = "min-score",
                 .kind = AU_CLI_NUM,
                 .metavar = "S",
                 .help = "lowest mood score listed, default 60",
                 .min = 0,
                 .max = 100},
    [PLO_LIMIT] = {.name = "limit",
                   .short_name = 'n',
                   .kind = AU_CLI_INT,
                   .metavar = "N",
                   .help = "tracks per mood, default 50",
                   .lo = 1,
                   .hi = AU_QUERY_MAX_LIMIT},
    [PLO_FROM] = {.name = "from",
                  .kind = AU_CLI_DATE,
                  .help = "first chart date"},
    [PLO_TO] = {.name = "to", .kind = AU_CLI_DATE, .help = "last chart date"},
    [PLO_JSON] = {.name = "json", .kind = AU_CLI_FLAG, .help = "print JSON"},
};

static int cmd_playlists(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    if (au_query_mood_parse(au_cli_str(a, PLO_MOOD, NULL), &o.mood, &cmd->err) <
        0)
        return check_failed(cmd);
    o.min_score = au_cli_num(a, PLO_MIN, o.min_score);
    o.limit = (int)au_cli_int(a, PLO_LIMIT, o.limit);
    o.from = au_cli_str(a, PLO_FROM, NULL);
    o.to = au_cli_str(a, PLO_TO, NULL);
    if (au_query_playlist_check(&o, &cmd->err) < 0)
        return check_failed(cmd);
    PGconn *c = au_cmd_conn(cmd);
    if (!c || au_query_playlists(c, &o, au_cli_has(a, PLO_JSON), stdout,
                                 &cmd->err) < 0)
        return au_cmd_fail(cmd);
    return 0;
}

const au_cmd_def_t au_query_playlists_def = {
    {.prog = "audora playlists",
     .summary = "Mood playlists of the charted tracks that have audio "
                "features.",
     .about = "Tracks charted between the dates that have audio features "
              "(load them with\n`audora features load`), scored with the "
              "mood scorer; one entry per track,\nbest first. Tracks "
              "without audio features are excluded, never estimated;\n"
              "their number is reported. Moods: happy_upbeat, "
              "chill_relaxed,\nenergetic_intense, melancholic, focus, "
              "party_dance, late_night,\nmorning_energy.\n",
     .opts = playlists_opts,
     .nopts = PLO_N},
    AU_CTX_DB,
    cmd_playlists,
    NULL,
};

enum { SPO_DAYS, SPO_AS_OF, SPO_JSON, SPO_N };

static const au_cli_opt_t spread_opts[] = {
    [SPO_DAYS] = {.name = "days",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "days in the period, default 30",
                  .lo = 1,
                  .hi = AU_QUERY_MAX_DAYS},
    [SPO_AS_OF] = {.name = "as-of",
                   .kind = AU_CLI_DATE,
                   .help = "last day of the period, default today"},
    [SPO_JSON] = {.name = "json", .kind = AU_CLI_FLAG, .help = "print JSON"},
};

static int cmd_spread(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    o.track = a->args[0];
    o.artist = a->args[1];
    o.days = (int)au_cli_int(a, SPO_DAYS, o.days);
    o.as_of = au_cli_str(a, SPO_AS_OF, NULL);
    if (au_query_spread_check(&o, &cmd->err) < 0)
        return check_failed(cmd);
    PGconn *c = au_cmd_conn(cmd);
    if (!c ||
        au_query_spread(c, &o, au_cli_has(a, SPO_JSON), stdout, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    return 0;
}

const au_cmd_def_t au_query_spread_def = {
    {.prog = "audora spread",
     .summary = "Cross-platform spread of a track: where it charted first, "
                "and then where.",
     .about = "Every chart entry of the period whose track name contains "
              "TRACK and whose\nartist contains ARTIST (any case), grouped "
              "by series (platform/chart/region),\neach with its first chart "
              "date and peak position score, in order of first\nappearance, "
              "with the lag in hours and the score change between "
              "consecutive\nseries. Read-only.\n",
     .args = {"TRACK ARTIST", 2, 2, AU_CLI_STR, 0, 0},
     .opts = spread_opts,
     .nopts = SPO_N},
    AU_CTX_DB,
    cmd_spread,
    NULL,
};
