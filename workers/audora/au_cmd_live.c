/* au_cmd_live.c: the live sources from the command line: `audora push
 * lastfm`, `audora push spotify-playlist` (one job each, read by ingest
 * through its HTTP sources) and `audora sources` (their limits and what
 * the fleet's workers did with them). */
#include "au_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_fleet.h"
#include "au_out.h"
#include "au_queue.h"
#include "au_store.h"

/* Queues one job of kind with params (taken), placed by the push options
 * at first; prints its id, or the whole job with --json. */
static int queue_live(au_cmd_t *cmd, const char *kind, json_t *params,
                      size_t first)
{
    au_push_t job = {.kind = kind};
    int rc = params ? au_cmd_push_place(cmd, first, &job) : 0;
    if (rc != 0) {
        json_decref(params);
        return rc;
    }
    char *js =
        params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!js) {
        json_decref(params);
        return au_cmd_failf(cmd, "out of memory");
    }
    job.params = js;
    PGconn *c = au_cmd_conn(cmd);
    int64_t id = 0;
    rc = c ? au_queue_enqueue(c, &job, &id, &cmd->err) : -1;
    free(js);
    if (rc < 0) {
        json_decref(params);
        return au_cmd_fail(cmd);
    }
    if (au_cli_has(cmd->cli, first + AU_PUSH_JSON))
        return au_cmd_json(cmd, json_pack("{s:I, s:s, s:o, s:s, s:b}", "id",
                                          (json_int_t)id, "kind", kind,
                                          "params", params, "queue", job.queue,
                                          "queued", rc == 1));
    char *shown = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (rc == 1)
        printf("queued job %lld: %s %s\n", (long long)id, kind,
               shown ? shown : "");
    else
        printf("job %lld is the same job, already queued or running: %s %s "
               "(--force queues another)\n",
               (long long)id, kind, shown ? shown : "");
    free(shown);
    json_decref(params);
    return AU_EXIT_OK;
}

/* ---- push lastfm ---------------------------------------------------- */

enum {
    LF_COUNTRY,
    LF_TAG,
    LF_LIMIT,
    LF_DATE,
    LF_PUSH,
    LF_NOPTS = LF_PUSH + AU_PUSH_NOPTS
};

static const au_cli_opt_t lastfm_opts[] = {
    [LF_COUNTRY] = {.name = "country",
                    .kind = AU_CLI_STR,
                    .metavar = "NAME",
                    .help = "geo.getTopTracks: the country, as Last.fm names "
                            "it (\"United States\")"},
    [LF_TAG] = {.name = "tag",
                .kind = AU_CLI_STR,
                .metavar = "TAG",
                .help = "tag.getTopTracks: the tag (\"rap\")"},
    [LF_LIMIT] = {.name = "limit",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "tracks in the chart (default 50)",
                  .lo = 1,
                  .hi = 1000},
    [LF_DATE] = {.name = "date",
                 .kind = AU_CLI_DATE,
                 .help = "the chart's date (default today, UTC)"},
    AU_PUSH_OPTS(LF_PUSH),
};

static const char *const lastfm_methods[] = {
    "chart.getTopTracks", "geo.getTopTracks", "tag.getTopTracks", NULL};

static int cmd_push_lastfm(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    const char *m = a->args[0];
    int k = -1;
    for (int i = 0; lastfm_methods[i]; i++)
        if (!strcasecmp(m, lastfm_methods[i]))
            k = i;
    const au_cli_spec_t *spec = a->spec;
    if (k < 0)
        return au_cli_usage_error(spec,
                                  "unknown method \"%s\" (chart.getTopTracks, "
                                  "geo.getTopTracks or tag.getTopTracks)",
                                  m);
    int has_c = au_cli_has(a, LF_COUNTRY), has_t = au_cli_has(a, LF_TAG);
    if ((k == 1) != has_c)
        return au_cli_usage_error(
            spec, k == 1 ? "%s needs --country" : "%s takes no --country",
            lastfm_methods[k]);
    if ((k == 2) != has_t)
        return au_cli_usage_error(
            spec, k == 2 ? "%s needs --tag" : "%s takes no --tag",
            lastfm_methods[k]);
    char day[11];
    au_today_utc(day);
    json_t *p = json_pack("{s:s, s:I, s:s}", "method", lastfm_methods[k],
                          "limit", (json_int_t)au_cli_int(a, LF_LIMIT, 50),
                          "date", au_cli_str(a, LF_DATE, day));
    const char *arg = has_c   ? au_cli_str(a, LF_COUNTRY, "")
                      : has_t ? au_cli_str(a, LF_TAG, "")
                              : NULL;
    json_t *v = arg ? json_string(arg) : NULL;
    if (arg && !v) {
        json_decref(p);
        return au_cli_usage_error(spec, "\"%s\" is not UTF-8", arg);
    }
    if (p && v)
        json_object_set_new(p, has_c ? "country" : "tag", v);
    return queue_live(cmd, "lastfm_chart", p, LF_PUSH);
}

const au_cmd_def_t au_cmd_push_lastfm_def = {
    {.prog = "audora push lastfm",
     .summary = "Queue a Last.fm top-tracks chart: chart.getTopTracks "
                "(global),\ngeo.getTopTracks --country, tag.getTopTracks "
                "--tag.",
     .about = "Ingest reads it from lastfm.base_url with lastfm.api_key\n"
              "(AUDORA_LASTFM__API_KEY), page by page, into platform lastfm, "
              "chart top-tracks\n(or tag-TAG), region global (or the "
              "country), one row per track with its rank\nand play count "
              "(global) or listeners (geo).\n",
     .args = {"METHOD", 1, 1, AU_CLI_STR, 0, 0},
     .opts = lastfm_opts,
     .nopts = LF_NOPTS},
    AU_CTX_DB,
    cmd_push_lastfm,
};

/* ---- push spotify-playlist ------------------------------------------- */

enum {
    SP_CHART,
    SP_REGION,
    SP_DATE,
    SP_PUSH,
    SP_NOPTS = SP_PUSH + AU_PUSH_NOPTS
};

static const au_cli_opt_t spotify_opts[] = {
    [SP_CHART] = {.name = "chart",
                  .kind = AU_CLI_STR,
                  .metavar = "C",
                  .help = "the chart it is (default playlist-ID)"},
    [SP_REGION] = {.name = "region",
                   .kind = AU_CLI_STR,
                   .metavar = "R",
                   .help = "its region (default global)"},
    [SP_DATE] = {.name = "date",
                 .kind = AU_CLI_DATE,
                 .help = "the chart's date (default today, UTC)"},
    AU_PUSH_OPTS(SP_PUSH),
};

/* The id of ID, spotify:playlist:ID (or :track:) or its
 * https://open.spotify.com/... link with or without ?si=...; 0, or -1 when
 * it is none of them. */
static int spotify_id(const char *s, char out[23])
{
    const char *p = strrchr(s, '/');
    if (!p)
        p = strrchr(s, ':');
    p = p ? p + 1 : s;
    size_t n = strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "abcdefghijklmnopqrstuvwxyz");
    if (n != 22 || (p[n] && p[n] != '?'))
        return -1;
    memcpy(out, p, 22);
    out[22] = '\0';
    return 0;
}

static int cmd_push_spotify(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    char id[23], day[11];
    if (spotify_id(a->args[0], id) < 0)
        return au_cli_usage_error(a->spec,
                                  "\"%s\" is not a playlist id (22 letters "
                                  "and digits), spotify:playlist:ID or its "
                                  "open.spotify.com link",
                                  a->args[0]);
    au_today_utc(day);
    json_t *p = json_pack("{s:s, s:s}", "playlist", id, "date",
                          au_cli_str(a, SP_DATE, day));
    /* Chart names are printable ASCII (ingest checks them); a name that
     * is not UTF-8 cannot even go into the job. */
    const int opt[] = {SP_CHART, SP_REGION};
    const char *const key[] = {"chart", "region"};
    for (int i = 0; p && i < 2; i++) {
        if (!au_cli_has(a, (size_t)opt[i]))
            continue;
        json_t *v = json_string(au_cli_str(a, (size_t)opt[i], ""));
        if (!v) {
            json_decref(p);
            return au_cli_usage_error(a->spec, "--%s is not UTF-8", key[i]);
        }
        json_object_set_new(p, key[i], v);
    }
    return queue_live(cmd, "spotify_playlist", p, SP_PUSH);
}

const au_cmd_def_t au_cmd_push_spotify_def = {
    {.prog = "audora push spotify-playlist",
     .summary = "Queue a Spotify playlist (Top 50, Viral 50, any) as a "
                "chart.",
     .about = "Ingest reads it from spotify.api_url with a "
              "client-credentials token\n(AUDORA_SPOTIFY__CLIENT_ID, "
              "AUDORA_SPOTIFY__CLIENT_SECRET) shared by the fleet,\ninto "
              "platform spotify, one row per track in playlist order.\n",
     .args = {"ID", 1, 1, AU_CLI_STR, 0, 0},
     .opts = spotify_opts,
     .nopts = SP_NOPTS},
    AU_CTX_DB,
    cmd_push_spotify,
};

/* ---- push musicbrainz-artists ------------------------------------------ */

enum { MB_LIMIT, MB_PUSH, MB_NOPTS = MB_PUSH + AU_PUSH_NOPTS };

static const au_cli_opt_t mb_opts[] = {
    [MB_LIMIT] = {.name = "limit",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "without ARTIST: at most N of the stored artists "
                          "never looked up (default 100)",
                  .lo = 1,
                  .hi = 1000},
    AU_PUSH_OPTS(MB_PUSH),
};

static int cmd_push_mb(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    json_t *names = json_array();
    for (int i = 0; names && i < a->nargs; i++) {
        json_t *v = json_string(a->args[i]);
        if (!v) {
            json_decref(names);
            return au_cli_usage_error(a->spec, "ARTIST \"%s\" is not UTF-8",
                                      a->args[i]);
        }
        json_array_append_new(names, v);
    }
    if (names && a->nargs == 0) {
        PGconn *c = au_cmd_conn(cmd);
        PGresult *r = NULL;
        if (!c ||
            au_store_artists_to_look_up(c, (int)au_cli_int(a, MB_LIMIT, 100), 0,
                                        NULL, &r, &cmd->err) < 0) {
            json_decref(names);
            return au_cmd_fail(cmd);
        }
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(names, json_string(PQgetvalue(r, i, 0)));
        PQclear(r);
    }
    if (names && json_array_size(names) == 0) {
        json_decref(names);
        printf("no artist to look up\n");
        return AU_EXIT_OK;
    }
    return queue_live(cmd, "musicbrainz_artists",
                      names ? json_pack("{s:o}", "artists", names) : NULL,
                      MB_PUSH);
}

const au_cmd_def_t au_cmd_push_mb_def = {
    {.prog = "audora push musicbrainz-artists",
     .summary = "Queue a lookup of artists' MusicBrainz ids: each ARTIST, "
                "or the stored\nartists never looked up.",
     .about = "Ingest searches musicbrainz.base_url for each name at the "
              "fleet's limit\n(musicbrainz.rate_per_s, 1/s), keeps the id "
              "of the one result of exactly that\nname, and stores it "
              "in artists.mbid; answers stay in the cache for a day.\n",
     .args = {"ARTIST...", 0, AU_CLI_MANY, AU_CLI_STR, 0, 0},
     .opts = mb_opts,
     .nopts = MB_NOPTS},
    AU_CTX_DB,
    cmd_push_mb,
};

/* ---- push spotify-tracks|spotify-artists|spotify-features|
 *      musicbrainz-recordings ------------------------------------------ */

enum { LK_LIMIT, LK_PUSH, LK_NOPTS = LK_PUSH + AU_PUSH_NOPTS };

static const au_cli_opt_t lk_opts[] = {
    [LK_LIMIT] = {.name = "limit",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "without arguments: at most N of the stored ones "
                          "never looked up (default 1000)",
                  .lo = 1,
                  .hi = 1000},
    AU_PUSH_OPTS(LK_PUSH),
};

/* A lookup job: what its arguments are and where the stored ones come
 * from when none is given. */
typedef struct {
    const char *kind, *param; /* the job's kind and its list parameter */
    const char *what;         /* an argument, for a usage error */
    int (*arg)(const char *s, char out[23]);
    int (*stored)(PGconn *c, int limit, PGresult **out, au_error_t *err);
} lookup_t;

/* An ISRC as MusicBrainz and Spotify write it: upper case, no dashes. */
static int isrc_arg(const char *s, char out[23])
{
    size_t n = 0;
    for (; *s && n < 13; s++)
        if (*s != '-')
            out[n++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
    out[n] = '\0';
    if (n != 12)
        return -1;
    return strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 2 &&
                   strspn(out + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") >=
                       3 &&
                   strspn(out + 5, "0123456789") == 7
               ? 0
               : -1;
}

static int push_lookup(au_cmd_t *cmd, const lookup_t *lk)
{
    const au_cli_t *a = cmd->cli;
    json_t *ids = json_array();
    for (int i = 0; ids && i < a->nargs; i++) {
        char id[23];
        if (lk->arg(a->args[i], id) < 0) {
            json_decref(ids);
            return au_cli_usage_error(a->spec, "\"%s\" is not %s", a->args[i],
                                      lk->what);
        }
        json_array_append_new(ids, json_string(id));
    }
    if (ids && a->nargs == 0) {
        PGconn *c = au_cmd_conn(cmd);
        PGresult *r = NULL;
        if (!c || lk->stored(c, (int)au_cli_int(a, LK_LIMIT, 1000), &r,
                             &cmd->err) < 0) {
            json_decref(ids);
            return au_cmd_fail(cmd);
        }
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(ids, json_string(PQgetvalue(r, i, 0)));
        PQclear(r);
    }
    if (ids && json_array_size(ids) == 0) {
        json_decref(ids);
        printf("nothing to look up\n");
        return AU_EXIT_OK;
    }
    return queue_live(cmd, lk->kind,
                      ids ? json_pack("{s:o}", lk->param, ids) : NULL, LK_PUSH);
}

#define SPOTIFY_ARG                                                            \
    "a Spotify id (22 letters and digits), spotify:TYPE:ID or its link"

static int cmd_push_tracks(au_cmd_t *cmd)
{
    static const lookup_t lk = {"spotify_tracks", "ids", SPOTIFY_ARG,
                                spotify_id, au_store_tracks_to_look_up};
    return push_lookup(cmd, &lk);
}

static int cmd_push_artists(au_cmd_t *cmd)
{
    static const lookup_t lk = {"spotify_artists", "ids", SPOTIFY_ARG,
                                spotify_id,
                                au_store_spotify_artists_to_look_up};
    return push_lookup(cmd, &lk);
}

static int cmd_push_features(au_cmd_t *cmd)
{
    static const lookup_t lk = {"spotify_features", "ids", SPOTIFY_ARG,
                                spotify_id, au_store_features_to_look_up};
    return push_lookup(cmd, &lk);
}

static int cmd_push_recordings(au_cmd_t *cmd)
{
    static const lookup_t lk = {"musicbrainz_recordings", "isrcs",
                                "an ISRC (CC-XXX-YY-NNNNN, dashes optional)",
                                isrc_arg, au_store_isrcs_to_look_up};
    return push_lookup(cmd, &lk);
}

#define LOOKUP_DEF(p, sum, ab, argname, fn)                                    \
    {                                                                          \
        {.prog = p,                                                            \
         .summary = sum,                                                       \
         .about = ab,                                                          \
         .args = {argname, 0, AU_CLI_MANY, AU_CLI_STR, 0, 0},                  \
         .opts = lk_opts,                                                      \
         .nopts = LK_NOPTS},                                                   \
            AU_CTX_DB, fn,                                                     \
    }

const au_cmd_def_t au_cmd_push_tracks_def = LOOKUP_DEF(
    "audora push spotify-tracks",
    "Queue a lookup of tracks at the Spotify Web API: each ID, or the "
    "stored\ntracks never looked up.",
    "Ingest asks spotify.api_url for fifty tracks a request at the fleet's "
    "limit\n(spotify.rate_per_s) and stores their popularity and ISRC in "
    "tracks, and the\nSpotify id of each credited artist in artists; answers "
    "stay in the cache\nfor cache.ttl_bulk_s.\n",
    "ID...", cmd_push_tracks);

const au_cmd_def_t au_cmd_push_artists_def = LOOKUP_DEF(
    "audora push spotify-artists",
    "Queue a lookup of artists at the Spotify Web API: each ID, or the "
    "stored\nartists with a Spotify id never looked up.",
    "Ingest asks spotify.api_url for fifty artists a request and stores "
    "their\ngenres, popularity and followers in artists (an artist without "
    "an id is the\none of the answer's name). Artists get their ids from "
    "`push spotify-tracks`.\n",
    "ID...", cmd_push_artists);

const au_cmd_def_t au_cmd_push_features_def = LOOKUP_DEF(
    "audora push spotify-features",
    "Queue a lookup of audio features at the Spotify Web API: each track "
    "ID, or\nthe stored tracks that have none and were never asked for.",
    "Ingest asks spotify.api_url for a hundred tracks' features a request "
    "and\nstores them in audio_features, as `audora features load` does: "
    "charts scored\nbefore keep their moods until they are pushed again. "
    "The Web API refuses\naudio features to applications registered since "
    "November 2024 (403): those\nids stay without features.\n",
    "ID...", cmd_push_features);

const au_cmd_def_t au_cmd_push_recordings_def = LOOKUP_DEF(
    "audora push musicbrainz-recordings",
    "Queue a lookup of recordings at MusicBrainz by ISRC: each ISRC, or "
    "those of\nthe stored tracks never looked up.",
    "Ingest asks musicbrainz.base_url for each ISRC's recording at the "
    "fleet's\nlimit (musicbrainz.rate_per_s) and stores its MBID in tracks, "
    "and the MBID of\nits first credited artist in artists where the artist "
    "has none. Tracks get\ntheir ISRCs from `push spotify-tracks`.\n",
    "ISRC...", cmd_push_recordings);

/* ---- sources ---------------------------------------------------------- */

typedef struct {
    const char *service, *kind;
    int rate;
    int credentials; /* 1 set, 0 missing, -1 none needed */
} source_row_t;

static const char *field(const PGresult *r, int row, const char *name)
{
    int f = r && row >= 0 ? PQfnumber(r, name) : -1;
    return f >= 0 ? PQgetvalue(r, row, f) : "0";
}

/* The row of service in the fleet's sums, or -1 when no worker used it. */
static int row_of(const PGresult *r, const char *service)
{
    for (int k = 0; k < PQntuples(r); k++)
        if (!strcmp(PQgetvalue(r, k, 0), service))
            return k;
    return -1;
}

static int add_source(au_out_table_t *t, const source_row_t *s,
                      const PGresult *r)
{
    int row = row_of(r, s->service);
    char rate[16], wait[24], hit[16];
    snprintf(rate, sizeof(rate), "%d", s->rate);
    snprintf(wait, sizeof(wait), "%.1f",
             strtod(field(r, row, "limiter_wait_ms"), NULL) / 1000.0);
    double h = strtod(field(r, row, "cache_hits"), NULL),
           m = strtod(field(r, row, "cache_misses"), NULL);
    snprintf(hit, sizeof(hit), "%.3f", h + m > 0 ? h / (h + m) : 0.0);
    const char *brk = row < 0 ? NULL
                      : strtol(field(r, row, "open_breakers"), NULL, 10) > 0
                          ? "open"
                          : "closed";
    const char *cells[] = {s->service,
                           s->kind,
                           rate,
                           s->credentials < 0   ? "none needed"
                           : s->credentials > 0 ? "set"
                                                : "missing",
                           field(r, row, "workers"),
                           field(r, row, "requests"),
                           field(r, row, "retries"),
                           field(r, row, "throttled"),
                           field(r, row, "failures"),
                           field(r, row, "breaker_opens"),
                           brk,
                           wait,
                           h + m > 0 ? hit : NULL};
    return au_out_table_add(t, cells);
}

static int cmd_sources(au_cmd_t *cmd)
{
    const au_config_t *cfg = &cmd->ctx.cfg;
    const source_row_t s[] = {
        {"lastfm", "lastfm_chart", cfg->lastfm.rate_per_s,
         cfg->lastfm.api_key[0] != 0},
        {"spotify",
         "spotify_playlist, spotify_tracks, spotify_artists, spotify_features",
         cfg->spotify.rate_per_s,
         cfg->spotify.client_id[0] && cfg->spotify.client_secret[0]},
        {"musicbrainz", "musicbrainz_artists, musicbrainz_recordings",
         cfg->musicbrainz.rate_per_s, -1},
    };
    static const au_out_col_t cols[] = {
        {"service", AU_OUT_STR},        {"job_kind", AU_OUT_STR},
        {"limit_per_s", AU_OUT_INT},    {"credentials", AU_OUT_STR},
        {"workers", AU_OUT_INT},        {"requests", AU_OUT_INT},
        {"retries", AU_OUT_INT},        {"throttled", AU_OUT_INT},
        {"failures", AU_OUT_INT},       {"breaker_opens", AU_OUT_INT},
        {"breaker", AU_OUT_STR},        {"limiter_wait_s", AU_OUT_NUM},
        {"cache_hit_ratio", AU_OUT_NUM}};
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_fleet_sources(c, 30, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    au_out_table_t *t = au_out_table_new(cols, sizeof(cols) / sizeof(*cols));
    int rc = t ? 0 : AU_ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof(s) / sizeof(*s); i++)
        rc = add_source(t, &s[i], r);
    PQclear(r);
    if (rc < 0) {
        au_out_table_destroy(&t);
        return au_cmd_failf(cmd, "out of memory");
    }
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON)) {
        rc = au_cmd_json(cmd, au_out_table_json(t));
    } else {
        rc = au_out_table_print(t, stdout) < 0 ? AU_EXIT_FAIL : AU_EXIT_OK;
        printf("\nA limit holds for the whole fleet. The counts add up the "
               "workers seen in the\nlast 30 s since each started; breaker "
               "is \"open\" while any worker's is.\n");
    }
    au_out_table_destroy(&t);
    return rc;
}

const au_cmd_def_t au_cmd_sources_def = {
    {.prog = "audora sources",
     .summary = "The live sources: each service's shared limit, credentials, "
                "and what the\nworkers did with it (requests, retries, 429s, "
                "breakers, cache hits).",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_sources,
};
