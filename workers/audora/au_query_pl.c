/* au_query_pl.c: `audora playlists` and `audora spread`: mood playlists
 * of the charted tracks and the cross-platform spread of one track. */
#include "au_query.h"

#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_out.h"
#include "au_query_util.h"
#include "au_score.h"
#include "au_store.h"

/* More series than any chart source has; a bound on the allocation. */
#define SPREAD_MAX_SERIES 100000

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
    int rc = au__q_check_limit(o->limit, err);
    if (rc == 0)
        rc = au__q_check_range(o->from, o->to, err);
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
    bad |= root && au__q_jset(root, "moods", moods);
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
        bad |= au__q_jset(mo, "mood", json_string(au_mood_name((au_mood_t)m)));
        bad |=
            au__q_jset(mo, "label", json_string(au_mood_label((au_mood_t)m)));
        bad |= au__q_jset(mo, "track_count", json_integer((json_int_t)n));
        bad |= au__q_jset(mo, "tracks", tracks);
        for (size_t i = 0; i < n && !bad; i++) {
            int row = (int)e[i].index;
            json_t *t = json_object(), *f = json_object();
            bad |= json_array_append_new(tracks, t);
            if (bad) {
                json_decref(f);
                break;
            }
            bad |= au__q_jset(t, "rank", json_integer((json_int_t)i + 1));
            bad |= au__q_jset(t, "track_key",
                              au__q_j_str(au__q_pg_str(v->r, row, PL_KEY)));
            bad |= au__q_jset(t, "track_name",
                              au__q_j_str(au__q_pg_str(v->r, row, PL_NAME)));
            bad |= au__q_jset(t, "artist",
                              au__q_j_str(au__q_pg_str(v->r, row, PL_ARTIST)));
            bad |= au__q_jset(t, "mood_score", au__q_j_real(e[i].score));
            bad |= au__q_jset(t, "features", f);
            bad |= f == NULL;
            if (bad)
                break;
            bad |= au__q_jset(f, "valence", au__q_j_pg_real(v->r, row, PL_VAL));
            bad |=
                au__q_jset(f, "energy", au__q_j_pg_real(v->r, row, PL_ENERGY));
            bad |= au__q_jset(f, "danceability",
                              au__q_j_pg_real(v->r, row, PL_DANCE));
            bad |= au__q_jset(f, "tempo", au__q_j_pg_real(v->r, row, PL_TEMPO));
        }
    }
    if (!bad) {
        bad |= au__q_jset(root, "min_score", json_real(v->o->min_score));
        bad |= au__q_jset(root, "limit", json_integer(v->o->limit));
        bad |= au__q_jset(root, "tracks_scored", json_integer(v->scored));
        bad |= au__q_jset(root, "excluded_without_features",
                          json_integer(v->charted - v->scored));
    }
    if (bad) {
        if (!root)
            json_decref(moods);
        return au__q_json_fail(root, err, "playlists");
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
    au_out_table_t *t = au__q_tbl_new(8, heads, "rllrrrrr");
    int rc = t ? 0 : AU_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int row = (int)e[i].index;
        char rank[24], sc[32], va[32], en[32], da[32], te[32];
        snprintf(rank, sizeof(rank), "%zu", i + 1);
        snprintf(sc, sizeof(sc), "%.3f", e[i].score);
        const char *cells[] = {
            rank,
            au__q_pg_str(v->r, row, PL_NAME),
            au__q_pg_str(v->r, row, PL_ARTIST),
            sc,
            au__q_fmt_num(va, sizeof(va), v->r, row, PL_VAL, "%.3f"),
            au__q_fmt_num(en, sizeof(en), v->r, row, PL_ENERGY, "%.3f"),
            au__q_fmt_num(da, sizeof(da), v->r, row, PL_DANCE, "%.3f"),
            au__q_fmt_num(te, sizeof(te), v->r, row, PL_TEMPO, "%.1f")};
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
        feat[i] = (au_mood_features_t){
            .valence = au__q_pg_num(r, (int)i, PL_VAL),
            .energy = au__q_pg_num(r, (int)i, PL_ENERGY),
            .danceability = au__q_pg_num(r, (int)i, PL_DANCE),
            .tempo = au__q_pg_num(r, (int)i, PL_TEMPO)};
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
    int rc = au__q_check_days(o->days, err);
    if (rc == 0)
        rc = au__q_check_date("--as-of", o->as_of, err);
    return rc;
}

enum { SP_SERIES, SP_FIRST, SP_DAY, SP_PEAK, SP_TRACKS, SP_RECORDINGS };

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
    bad |= root && au__q_jset(root, "track_name", au__q_j_str(v->o->track));
    bad |= root && au__q_jset(root, "artist", au__q_j_str(v->o->artist));
    if (v->n == 0) {
        bad |= root && au__q_jset(root, "message",
                                  json_string("No cross-platform data found"));
        bad |= root && au__q_jset(root, "platform_count", json_integer(0));
        return bad ? au__q_json_fail(root, err, "spread")
                   : au_out_json(root, out, err);
    }
    json_t *pfs = json_array(), *pat = json_array();
    bad |= root && au__q_jset(root, "platforms", pfs);
    bad |= root &&
           au__q_jset(root, "platform_count", json_integer((json_int_t)v->n));
    bad |= root &&
           au__q_jset(root, "first_platform", au__q_j_str(v->pf[0].platform));
    bad |= root && au__q_jset(root, "propagation_pattern", pat);
    bad |= root && au__q_jset(root, "total_propagation_time",
                              au__q_j_real(v->total_hours));
    bad |= root && au__q_jset(root, "matched_tracks",
                              json_integer(au__q_pg_int(v->r, 0, SP_TRACKS)));
    bad |=
        root && au__q_jset(root, "matched_recordings",
                           json_integer(au__q_pg_int(v->r, 0, SP_RECORDINGS)));
    bad |= root && au__q_jset(root, "period_days", json_integer(v->o->days));
    bad |= root && au__q_jset(root, "as_of", au__q_j_str(v->o->as_of));
    for (size_t i = 0; i < v->n && !bad; i++) {
        json_t *p = json_object();
        bad |= json_array_append_new(pfs, p);
        if (bad)
            break;
        bad |= au__q_jset(p, "platform", au__q_j_str(v->pf[i].platform));
        bad |= au__q_jset(p, "first_seen",
                          au__q_j_str(spread_date(v, v->pf[i].platform)));
        bad |= au__q_jset(p, "peak_score", au__q_j_real(v->pf[i].peak_score));
    }
    for (size_t i = 0; i + 1 < v->n && !bad; i++) {
        json_t *s = json_object();
        bad |= json_array_append_new(pat, s);
        if (bad)
            break;
        bad |= au__q_jset(s, "from_platform", au__q_j_str(v->pf[i].platform));
        bad |= au__q_jset(s, "to_platform", au__q_j_str(v->pf[i + 1].platform));
        bad |= au__q_jset(s, "hours_difference",
                          au__q_j_real(v->steps[i].lag_hours));
        bad |= au__q_jset(s, "score_change",
                          au__q_j_real(v->steps[i].score_change));
        bad |= au__q_jset(s, "propagation_strength",
                          au__q_j_real(v->steps[i].propagation_strength));
    }
    if (bad) {
        if (!root) {
            json_decref(pfs);
            json_decref(pat);
        }
        return au__q_json_fail(root, err, "spread");
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
            "matching track(s), %lld recording(s)\n",
            v->o->track, v->o->artist, v->n, v->pf[0].platform,
            au__q_pg_int(v->r, 0, SP_TRACKS),
            au__q_pg_int(v->r, 0, SP_RECORDINGS));
    static const char *const heads[] = {"rank",       "platform",
                                        "first_seen", "peak_score",
                                        "lag_hours",  "score_change"};
    au_out_table_t *t = au__q_tbl_new(6, heads, "rllrrr");
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
                                   86400.0 * au__q_pg_num(r, (int)i, SP_DAY),
                                   au__q_pg_num(r, (int)i, SP_PEAK)};
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
        return au__q_check_failed(cmd);
    o.min_score = au_cli_num(a, PLO_MIN, o.min_score);
    o.limit = (int)au_cli_int(a, PLO_LIMIT, o.limit);
    o.from = au_cli_str(a, PLO_FROM, NULL);
    o.to = au_cli_str(a, PLO_TO, NULL);
    if (au_query_playlist_check(&o, &cmd->err) < 0)
        return au__q_check_failed(cmd);
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
        return au__q_check_failed(cmd);
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
};
