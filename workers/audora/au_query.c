/* au_query.c: `audora top|summary|playlists|spread`, read-only queries
 * over the trend store rendered as aligned tables or JSON. */
#include "au_query.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_chartname.h"
#include "au_ctx.h"
#include "au_queue.h"
#include "au_score.h"
#include "au_store.h"

/* More series than any chart source has; a bound on the allocation. */
#define SPREAD_MAX_SERIES 100000
/* Twelve significant digits: scores print as 72.5, not 72.500000000000001,
 * and no score is measured to more. */
#define JSON_FLAGS                                                             \
    (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

/* ---- the table printer ---------------------------------------------- */

#define TBL_MAX_COLS 16
#define TBL_MAX_WIDTH 40 /* code points; longer cells end in "..." */

typedef struct {
    size_t ncols;
    const char *const *heads;
    const char *align; /* per column: 'l' or 'r' */
    char **cells;      /* nrows * ncols, owned */
    size_t nrows, cap;
} tbl_t;

static void tbl_init(tbl_t *t, size_t ncols, const char *const *heads,
                     const char *align)
{
    assert(ncols <= TBL_MAX_COLS && strlen(align) == ncols);
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->heads = heads;
    t->align = align;
}

static void tbl_free(tbl_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Copies one row of ncols values; NULL shows as "-". */
static int tbl_add(tbl_t *t, const char *const *vals)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
        if (!cells)
            return AU_ENOMEM;
        t->cells = cells;
        t->cap = cap;
    }
    char **row = &t->cells[t->nrows * t->ncols];
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(vals[i] ? vals[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return AU_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

/* Terminal columns as code points: UTF-8 continuation bytes take none.
 * (Wide CJK glyphs take two; aligning those needs wcwidth and a locale,
 * which a script-facing tool should not depend on.) */
static size_t u8_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Bytes of the first n code points of s. */
static size_t u8_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (s[i] && n > 0) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

static size_t shown_width(const char *s)
{
    size_t w = u8_width(s);
    return w > TBL_MAX_WIDTH ? TBL_MAX_WIDTH : w;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

static void tbl_cell(FILE *out, const char *s, size_t width, char align,
                     int last)
{
    size_t w = u8_width(s), bytes = strlen(s);
    const char *cut = "";
    if (w > TBL_MAX_WIDTH) {
        bytes = u8_prefix(s, TBL_MAX_WIDTH - 3);
        w = TBL_MAX_WIDTH;
        cut = "...";
    }
    if (align == 'r')
        pad(out, width - w);
    fwrite(s, 1, bytes, out);
    fputs(cut, out);
    /* No trailing blanks: they only get in the way of diff and grep. */
    if (align != 'r' && !last)
        pad(out, width - w);
}

static void tbl_line(const tbl_t *t, FILE *out, const char *const *cells,
                     const size_t *width)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (c)
            fputs("  ", out);
        tbl_cell(out, cells[c], width[c], t->align[c], c + 1 == t->ncols);
    }
    fputc('\n', out);
}

static void tbl_print(const tbl_t *t, FILE *out)
{
    size_t width[TBL_MAX_COLS];
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = shown_width(t->heads[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = shown_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    tbl_line(t, out, t->heads, width);
    for (size_t r = 0; r < t->nrows; r++)
        tbl_line(t, out, (const char *const *)&t->cells[r * t->ncols], width);
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

static json_t *j_pg_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null()
                                    : json_integer(pg_int(r, row, col));
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

static int json_emit(json_t *root, FILE *out, au_error_t *err, const char *what)
{
    int rc = json_dumpf(root, out, JSON_FLAGS);
    json_decref(root);
    if (rc < 0 || fputc('\n', out) == EOF)
        return au_error_set(err, AU_EIO, "%s: cannot write the output", what);
    return 0;
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

static int top_json(const PGresult *r, au_query_by_t by, FILE *out,
                    au_error_t *err)
{
    int n = PQntuples(r);
    json_t *root = json_object(), *arr = json_array();
    int bad = !root || !arr;
    bad |= root &&
           jset(root, "by",
                json_string(by == AU_QUERY_BY_VIRAL ? "viral" : "movement"));
    bad |= root && jset(root, "count", json_integer(n));
    bad |= root && jset(root, "tracks", arr);
    for (int i = 0; i < n && !bad; i++) {
        json_t *t = json_object();
        bad |= json_array_append_new(arr, t);
        if (bad)
            break;
        bad |= jset(t, "rank", json_integer(i + 1));
        bad |= jset(t, "track_key", j_str(pg_str(r, i, TOP_KEY)));
        bad |= jset(t, "track_name", j_str(pg_str(r, i, TOP_NAME)));
        bad |= jset(t, "artist", j_str(pg_str(r, i, TOP_ARTIST)));
        bad |= jset(t, "platform", j_str(pg_str(r, i, TOP_PLATFORM)));
        bad |= jset(t, "region", j_str(pg_str(r, i, TOP_REGION)));
        bad |= jset(t, "chart", j_str(pg_str(r, i, TOP_CHART)));
        bad |= jset(t, "date", j_str(pg_str(r, i, TOP_DATE)));
        bad |= jset(t, "position", j_pg_int(r, i, TOP_POSITION));
        bad |= jset(t, "viral_score", j_pg_real(r, i, TOP_VIRAL));
        bad |= jset(t, "confidence", j_pg_real(r, i, TOP_CONFIDENCE));
        bad |= jset(t, "momentum", j_pg_real(r, i, TOP_MOMENTUM));
        bad |= jset(t, "direction", j_str(pg_str(r, i, TOP_DIRECTION)));
        bad |= jset(t, "prev_position", j_pg_int(r, i, TOP_PREV));
        bad |= jset(t, "position_change", j_pg_int(r, i, TOP_CHANGE));
    }
    if (bad) {
        if (!root)
            json_decref(arr);
        return json_fail(root, err, "top");
    }
    return json_emit(root, out, err, "top");
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
    tbl_t t;
    if (by == AU_QUERY_BY_VIRAL)
        tbl_init(&t, 11, viral_heads, "rlllllrrrrl");
    else
        tbl_init(&t, 9, move_heads, "rlllllrrr");
    int rc = 0;
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
            rc = tbl_add(&t, row);
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
            rc = tbl_add(&t, row);
        }
    }
    if (rc == 0)
        tbl_print(&t, out);
    tbl_free(&t);
    if (rc < 0)
        return au_error_set(err, rc, "top: out of memory");
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
    tbl_t t;
    tbl_init(&t, 6, heads, "rlllrr");
    int rc = 0;
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
        rc = tbl_add(&t, row);
    }
    if (rc == 0)
        tbl_print(&t, out);
    tbl_free(&t);
    json_decref(root);
    if (rc < 0)
        return au_error_set(err, rc, "summary: out of memory");
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
        rc = root ? json_emit(root, out, err, "summary")
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
    return json_emit(root, out, err, "playlists");
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
    tbl_t t;
    tbl_init(&t, 8, heads, "rllrrrrr");
    int rc = 0;
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
        rc = tbl_add(&t, cells);
    }
    if (rc == 0)
        tbl_print(&t, out);
    tbl_free(&t);
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
        return au_error_set(err, rc, "playlists: out of memory");
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
                   : json_emit(root, out, err, "spread");
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
    return json_emit(root, out, err, "spread");
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
    tbl_t t;
    tbl_init(&t, 6, heads, "rllrrr");
    int rc = 0;
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
        rc = tbl_add(&t, row);
    }
    if (rc == 0)
        tbl_print(&t, out);
    tbl_free(&t);
    if (rc < 0)
        return au_error_set(err, rc, "spread: out of memory");
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

/* ---- command-line --------------------------------------------------- */

static int usage_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "audora %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see audora %s --help)\n", cmd);
    va_end(ap);
    return 2;
}

typedef struct {
    const char *name;   /* "--limit" */
    const char **value; /* an option with a value, or */
    int *flag;          /* a bare flag */
} opt_t;

static const opt_t *find_opt(const opt_t *opts, size_t n, const char *a,
                             const char **inline_value)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(opts[i].name);
        if (strncmp(a, opts[i].name, len) != 0)
            continue;
        if (a[len] == '\0') {
            *inline_value = NULL;
            return &opts[i];
        }
        if (a[len] == '=') {
            *inline_value = a + len + 1;
            return &opts[i];
        }
    }
    return NULL;
}

/* Takes the command's own options out of argv, leaving configuration
 * flags and positional arguments in order; 0 or 2 (usage printed). */
static int take_opts(const char *cmd, int *argc, char **argv, const opt_t *opts,
                     size_t n)
{
    int out = 1, i = 1;
    for (; i < *argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--"))
            break;
        const opt_t *o = find_opt(opts, n, a, &v);
        if (!o) {
            argv[out++] = argv[i];
            continue;
        }
        if (o->flag) {
            if (v)
                return usage_err(cmd, "%s takes no value", o->name);
            *o->flag = 1;
            continue;
        }
        if (!v) {
            if (i + 1 >= *argc || !strncmp(argv[i + 1], "--", 2))
                return usage_err(cmd, "%s needs a value", o->name);
            v = argv[++i];
        }
        if (*o->value)
            return usage_err(cmd, "%s given twice", o->name);
        *o->value = v;
    }
    while (i < *argc)
        argv[out++] = argv[i++];
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* Collects exactly npos positional arguments. What else is left must be a
 * configuration flag ("--section.key V", "--env-file P"), which
 * au_ctx_init takes later. */
static int take_positionals(const char *cmd, int argc, char **argv,
                            const char **pos, int npos)
{
    int k = 0, rest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest && !strcmp(a, "--")) {
            rest = 1;
            continue;
        }
        if (!rest && !strncmp(a, "--", 2)) {
            size_t nl = strcspn(a + 2, "=");
            int cfg = memchr(a + 2, '.', nl) != NULL ||
                      (nl == 8 && !strncmp(a + 2, "env-file", 8));
            if (!cfg)
                return usage_err(cmd, "unknown option %s", a);
            if (!a[2 + nl])
                i++; /* its value is the next argument */
            continue;
        }
        if (k == npos)
            return usage_err(cmd, "unexpected argument \"%s\"", a);
        pos[k++] = a;
    }
    if (k < npos)
        return usage_err(cmd, "needs %d argument(s), got %d", npos, k);
    return 0;
}

static int wants_help(int argc, char **argv, const char *help)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 1;
        }
    }
    return 0;
}

/* Strict: optional '-', digits, nothing else, inside [lo, hi]. */
static int parse_int(const char *cmd, const char *flag, const char *s, long lo,
                     long hi, int *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    char *end;
    errno = 0;
    long v = isdigit((unsigned char)d[0]) ? strtol(s, &end, 10) : 0;
    if (!isdigit((unsigned char)d[0]) || errno || *end || v < lo || v > hi)
        return usage_err(cmd, "%s %s: not an integer in %ld..%ld", flag, s, lo,
                         hi);
    *out = (int)v;
    return 0;
}

/* Strict: digits with at most one '.', optional leading '-'; no
 * exponents, hex, inf or nan. */
static int parse_num(const char *cmd, const char *flag, const char *s,
                     double lo, double hi, double *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    size_t digits = strspn(d, "0123456789.");
    int dots = 0;
    for (const char *p = d; *p; p++)
        dots += *p == '.';
    char *end;
    double v = 0.0;
    int ok = d[0] && !d[digits] && dots <= 1 && strcmp(d, ".") != 0;
    if (ok) {
        v = strtod(s, &end);
        ok = !*end && v >= lo && v <= hi;
    }
    if (!ok)
        return usage_err(cmd, "%s %s: not a number in %g..%g", flag, s, lo, hi);
    *out = v;
    return 0;
}

typedef int (*core_fn)(PGconn *c, au_cache_t *cache, const void *opts, int json,
                       FILE *out, au_error_t *err);

/* Builds the context (which takes the configuration flags out of argv),
 * borrows a connection and runs the core on stdout. */
static int run_core(const char *cmd, int argc, char **argv, core_fn fn,
                    const void *opts, int json)
{
    au_ctx_t ctx;
    au_error_t err = {0};
    if (au_ctx_init(&ctx, "audora", AU_CTX_DB | AU_CTX_CACHE, &argc, argv,
                    &err) < 0) {
        fprintf(stderr, "audora %s: %s\n", cmd, err.msg);
        return 2;
    }
    int rc = 1;
    PGconn *c = au_pool_get(ctx.pool, &err);
    if (c) {
        rc = fn(c, ctx.cache, opts, json, stdout, &err) < 0;
        au_pool_put(ctx.pool, c);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = au_error_set(&err, AU_EIO, "cannot write the output") < 0;
    if (rc)
        fprintf(stderr, "audora %s: %s\n", cmd, err.msg);
    au_ctx_fini(&ctx);
    return rc;
}

/* A check that failed before any connection: a usage error. */
static int check_failed(const char *cmd, const au_error_t *err)
{
    return usage_err(cmd, "%s", err->msg);
}

static int top_core(PGconn *c, au_cache_t *cache, const void *o, int json,
                    FILE *out, au_error_t *err)
{
    (void)cache;
    return au_query_top(c, o, json, out, err);
}

static const char top_help[] =
    "usage: audora top [--by viral|movement] [--platform P] [--region R]\n"
    "                  [--chart C] [--from DATE] [--to DATE] [--limit N]\n"
    "                  [--json]\n"
    "\n"
    "Top tracks of the active chart entries, by viral score (default) or\n"
    "by movement (positions gained since the previous chart). One row per\n"
    "track: its best entry in the range (highest viral score, or most\n"
    "positions gained; ties to the better position, then the later date).\n"
    "Entries whose score was not computed are left out. Dates are\n"
    "YYYY-MM-DD, inclusive; --limit is 1..1000 (default 20).\n";

int au_query_top_cmd(int argc, char **argv)
{
    const char *cmd = "top";
    if (wants_help(argc, argv, top_help))
        return 0;
    au_query_top_opts_t o;
    au_query_top_opts_init(&o);
    const char *by = NULL, *limit = NULL;
    int json = 0;
    const opt_t opts[] = {
        {"--by", &by, NULL},           {"--platform", &o.platform, NULL},
        {"--region", &o.region, NULL}, {"--chart", &o.chart, NULL},
        {"--from", &o.from, NULL},     {"--to", &o.to, NULL},
        {"--limit", &limit, NULL},     {"--json", NULL, &json},
    };
    if (take_opts(cmd, &argc, argv, opts, sizeof(opts) / sizeof(opts[0])))
        return 2;
    if (by && !strcmp(by, "movement"))
        o.by = AU_QUERY_BY_MOVEMENT;
    else if (by && strcmp(by, "viral") != 0)
        return usage_err(cmd, "--by %s: must be viral or movement", by);
    if (limit &&
        parse_int(cmd, "--limit", limit, 1, AU_QUERY_MAX_LIMIT, &o.limit))
        return 2;
    au_error_t err = {0};
    if (au_query_top_check(&o, &err) < 0)
        return check_failed(cmd, &err);
    if (take_positionals(cmd, argc, argv, NULL, 0))
        return 2;
    return run_core(cmd, argc, argv, top_core, &o, json);
}

static int summary_core(PGconn *c, au_cache_t *cache, const void *o, int json,
                        FILE *out, au_error_t *err)
{
    return au_query_summary(c, cache, o, json, out, err);
}

static const char summary_help[] =
    "usage: audora summary [--platform P] [--days N] [--as-of DATE] [--json]\n"
    "\n"
    "Trending summary of the active chart entries in the N days (default\n"
    "7, at most 3650) up to DATE (YYYY-MM-DD, default today): unique\n"
    "tracks, platforms, entries, average and best position score, and the\n"
    "10 best entries. --json prints the summary as the store returns it;\n"
    "it is cached for 10 minutes.\n";

int au_query_summary_cmd(int argc, char **argv)
{
    const char *cmd = "summary";
    if (wants_help(argc, argv, summary_help))
        return 0;
    au_query_summary_opts_t o;
    au_query_summary_opts_init(&o);
    const char *days = NULL;
    int json = 0;
    const opt_t opts[] = {
        {"--platform", &o.platform, NULL},
        {"--days", &days, NULL},
        {"--as-of", &o.as_of, NULL},
        {"--json", NULL, &json},
    };
    if (take_opts(cmd, &argc, argv, opts, sizeof(opts) / sizeof(opts[0])))
        return 2;
    if (days && parse_int(cmd, "--days", days, 1, AU_QUERY_MAX_DAYS, &o.days))
        return 2;
    au_error_t err = {0};
    if (au_query_summary_check(&o, &err) < 0)
        return check_failed(cmd, &err);
    if (take_positionals(cmd, argc, argv, NULL, 0))
        return 2;
    return run_core(cmd, argc, argv, summary_core, &o, json);
}

static int playlists_core(PGconn *c, au_cache_t *cache, const void *o, int json,
                          FILE *out, au_error_t *err)
{
    (void)cache;
    return au_query_playlists(c, o, json, out, err);
}

static const char playlists_help[] =
    "usage: audora playlists --mood NAME [--min-score S] [--limit N]\n"
    "                        [--from DATE] [--to DATE] [--json]\n"
    "\n"
    "Mood playlist of the tracks charted between the dates that have audio\n"
    "features (load them with `audora features load`), scored with the\n"
    "original mood scorer; one entry per track, best first. NAME is one of\n"
    "happy_upbeat, chill_relaxed, energetic_intense, melancholic, focus,\n"
    "party_dance, late_night, morning_energy (any case), or all. Tracks\n"
    "without audio features are excluded, never estimated; their number\n"
    "is reported. --min-score 0..100 (default 60), --limit 1..1000 tracks\n"
    "per mood (default 50).\n";

int au_query_playlists_cmd(int argc, char **argv)
{
    const char *cmd = "playlists";
    if (wants_help(argc, argv, playlists_help))
        return 0;
    au_query_playlist_opts_t o;
    au_query_playlist_opts_init(&o);
    const char *mood = NULL, *min = NULL, *limit = NULL;
    int json = 0;
    const opt_t opts[] = {
        {"--mood", &mood, NULL},   {"--min-score", &min, NULL},
        {"--limit", &limit, NULL}, {"--from", &o.from, NULL},
        {"--to", &o.to, NULL},     {"--json", NULL, &json},
    };
    if (take_opts(cmd, &argc, argv, opts, sizeof(opts) / sizeof(opts[0])))
        return 2;
    au_error_t err = {0};
    if (!mood)
        return usage_err(cmd, "--mood NAME is required (or --mood all)");
    if (au_query_mood_parse(mood, &o.mood, &err) < 0)
        return check_failed(cmd, &err);
    if (min && parse_num(cmd, "--min-score", min, 0.0, 100.0, &o.min_score))
        return 2;
    if (limit &&
        parse_int(cmd, "--limit", limit, 1, AU_QUERY_MAX_LIMIT, &o.limit))
        return 2;
    if (au_query_playlist_check(&o, &err) < 0)
        return check_failed(cmd, &err);
    if (take_positionals(cmd, argc, argv, NULL, 0))
        return 2;
    return run_core(cmd, argc, argv, playlists_core, &o, json);
}

static int spread_core(PGconn *c, au_cache_t *cache, const void *o, int json,
                       FILE *out, au_error_t *err)
{
    (void)cache;
    return au_query_spread(c, o, json, out, err);
}

static const char spread_help[] =
    "usage: audora spread TRACK ARTIST [--days N] [--as-of DATE] [--json]\n"
    "\n"
    "Cross-platform spread of a track, as the original computed it: every\n"
    "chart entry in the N days (default 30) up to DATE whose track name\n"
    "contains TRACK and whose artist contains ARTIST (any case), grouped by\n"
    "series (platform/chart/region), each with its first chart date and\n"
    "peak position score, in order of first appearance, with the lag in\n"
    "hours and the score change between consecutive series. Read-only:\n"
    "the original also stored each pair in cross_platform_correlations;\n"
    "a query should not write, so this one does not.\n";

int au_query_spread_cmd(int argc, char **argv)
{
    const char *cmd = "spread";
    if (wants_help(argc, argv, spread_help))
        return 0;
    au_query_spread_opts_t o;
    au_query_spread_opts_init(&o);
    const char *days = NULL;
    int json = 0;
    const opt_t opts[] = {
        {"--days", &days, NULL},
        {"--as-of", &o.as_of, NULL},
        {"--json", NULL, &json},
    };
    if (take_opts(cmd, &argc, argv, opts, sizeof(opts) / sizeof(opts[0])))
        return 2;
    if (days && parse_int(cmd, "--days", days, 1, AU_QUERY_MAX_DAYS, &o.days))
        return 2;
    const char *pos[2];
    if (take_positionals(cmd, argc, argv, pos, 2))
        return 2;
    o.track = pos[0];
    o.artist = pos[1];
    au_error_t err = {0};
    if (au_query_spread_check(&o, &err) < 0)
        return check_failed(cmd, &err);
    return run_core(cmd, argc, argv, spread_core, &o, json);
}
