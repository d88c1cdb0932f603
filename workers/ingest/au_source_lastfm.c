/* au_source_lastfm.c: the lastfm_chart source: a Last.fm top-tracks chart
 * read page by page from the API 2.0.
 *
 * Job parameters: method (chart.getTopTracks, geo.getTopTracks or
 * tag.getTopTracks, in any case), country (geo: a country name as Last.fm
 * spells it, "Greece"), tag (tag), limit (1..1000 tracks, default 50) and
 * date (YYYY-MM-DD, default today in UTC: the day the chart is read).
 * The chart is platform "lastfm", chart "top-tracks" (or "tag-<tag>"),
 * region "global" (or the country, lower case, blanks as '-'). Each track
 * is a row at its rank with its play count (chart) or listeners (geo);
 * tag charts carry neither.
 *
 * The service's quirks are the parser's (au_svc.h): numbers as strings,
 * geo ranks from 0, "" for no MBID. A page may hold more tracks than the
 * limit asked for, and a track may come back on the next page: only
 * ranks after the last one kept count, and the chart stops at the limit.
 * Pages are cached (the chart kind, 1 h) by method, argument, page and
 * date, so a job run twice within the hour asks the service nothing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_arena.h"
#include "au_proto.h"
#include "au_source_http.h"
#include "au_svc.h"

#define LASTFM_MAX_LIMIT 1000
#define LASTFM_PAGE 100 /* tracks asked for per request */

static const char *const methods[] = {"chart.getTopTracks", "geo.getTopTracks",
                                      "tag.getTopTracks"};

typedef struct {
    const char *method, *arg; /* arg: the country or tag, or NULL */
    long limit;
    char date[11];
} lastfm_job_t;

/* Last.fm's own error codes that say "not now" rather than "never":
 * operation failed (8), service offline (11), temporarily unavailable
 * (16), rate limit exceeded (29). */
static int retryable_code(const char *msg)
{
    const char *p = strstr(msg, "last.fm error ");
    long code = p ? strtol(p + 14, NULL, 10) : 0;
    return code == 8 || code == 11 || code == 16 || code == 29;
}

static int check_page(const char *body, size_t len, void *arg, au_error_t *err)
{
    au_arena_t *a = arg;
    au_lastfm_page_t page;
    au_arena_reset(a);
    int rc = au_lastfm_parse_top_tracks(body, len, a, &page, err);
    if (rc == AU_ESERVICE && retryable_code(err->msg))
        rc = err->code = AU_ERETRY;
    return rc;
}

/* The country or tag as a chart name: lower case, blanks as '-'. */
static void slug(const char *prefix, const char *s, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", prefix);
    for (; *s && n + 1 < cap; s++)
        out[n++] = *s == ' ' ? '-' : (char)tolower((unsigned char)*s);
    out[n < cap ? n : cap - 1] = '\0';
}

static int read_params(json_t *params, lastfm_job_t *j, au_error_t *err)
{
    const char *m = au_live_param(params, "method");
    int k = -1;
    for (int i = 0; m && i < 3; i++)
        if (!strcasecmp(m, methods[i]))
            k = i;
    if (k < 0)
        return au_error_set(err, AU_EINVAL,
                            "job parameter \"method\" must be "
                            "chart.getTopTracks, geo.getTopTracks or "
                            "tag.getTopTracks");
    j->method = methods[k];
    const char *need = k == 1 ? "country" : k == 2 ? "tag" : NULL;
    j->arg = need ? au_live_param(params, need) : NULL;
    if (need && (!j->arg || !*j->arg || strlen(j->arg) > 48))
        return au_error_set(err, AU_EMISSING,
                            "job parameter \"%s\" missing, empty or over 48 "
                            "bytes (%s needs it)",
                            need, j->method);
    json_t *lim = json_object_get(params, "limit");
    j->limit = lim ? (json_is_integer(lim) ? json_integer_value(lim) : -1) : 50;
    if (j->limit < 1 || j->limit > LASTFM_MAX_LIMIT)
        return au_error_set(err, AU_ERANGE,
                            "job parameter \"limit\" must be an integer "
                            "1..%d",
                            LASTFM_MAX_LIMIT);
    const char *d = au_live_param(params, "date");
    long day;
    if (d && au_chart_date_check(d, &day, err) < 0)
        return err->code;
    if (d)
        snprintf(j->date, sizeof(j->date), "%s", d);
    else
        au_today_utc(j->date);
    return 0;
}

/* One page: fetched (or from the cache) and parsed into a. */
static int get_page(au_ctx_t *ctx, const lastfm_job_t *j, long page,
                    au_arena_t *a, au_lastfm_page_t *out, au_error_t *err)
{
    const au_config_t *cfg = &ctx->cfg;
    if (!cfg->lastfm.api_key[0])
        return au_error_set(err, AU_ECONFIG,
                            "lastfm: no API key (set lastfm.api_key, "
                            "AUDORA_LASTFM__API_KEY)");
    char key[256], arg[160] = "", url[1024];
    if (au_http_escape(cfg->lastfm.api_key, key, sizeof(key)) < 0 ||
        (j->arg && au_http_escape(j->arg, arg, sizeof(arg)) < 0))
        return au_error_set(err, AU_ETOOBIG, "lastfm: parameters too long");
    const char *argname = j->method[0] == 'g' ? "country" : "tag";
    snprintf(url, sizeof(url),
             "%s?method=%s&format=json&limit=%d&page=%ld%s%s%s%s&api_key=%s",
             cfg->lastfm.base_url, j->method, LASTFM_PAGE, page,
             j->arg ? "&" : "", j->arg ? argname : "", j->arg ? "=" : "", arg,
             key);
    char pg[24], lim[24];
    snprintf(pg, sizeof(pg), "%ld", page);
    snprintf(lim, sizeof(lim), "%d", LASTFM_PAGE);
    const char *parts[] = {cfg->lastfm.base_url,
                           j->method,
                           j->arg ? j->arg : "",
                           lim,
                           pg,
                           j->date};
    char ck[64];
    au_cache_key(ck, sizeof(ck), "lastfm", 6, parts);
    au_http_req_t req = {.service = "lastfm", .url = url};
    char *body = NULL;
    size_t len = 0;
    int rc = au_source_fetch(ctx, &req, AU_CK_CHART, ck, check_page, a, &body,
                             &len, NULL, err);
    /* Last.fm may say "not now" with a 4xx status too: the message holds
     * the start of its body. */
    static const char *const later[] = {"\"error\":8,", "\"error\":11,",
                                        "\"error\":16,", "\"error\":29,"};
    for (size_t i = 0; rc == AU_EHTTP && i < 4; i++)
        if (strstr(err->msg, later[i]))
            rc = err->code = AU_ERETRY;
    if (rc == 0) {
        au_arena_reset(a);
        rc = au_lastfm_parse_top_tracks(body, len, a, out, err);
    }
    free(body);
    return rc;
}

/* Reads pages until the limit, the last page, or a page with nothing
 * new. */
static int read_chart(au_ctx_t *ctx, const lastfm_job_t *j, au_live_t *l,
                      au_error_t *err)
{
    au_arena_t *a = au_arena_new(65536);
    if (!a)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    int32_t last = 0;
    int rc = 0;
    long maxpages = (j->limit + LASTFM_PAGE - 1) / LASTFM_PAGE + 1;
    for (long page = 1; rc == 0 && page <= maxpages; page++) {
        au_lastfm_page_t p;
        if ((rc = get_page(ctx, j, page, a, &p, err)) < 0)
            break;
        size_t before = au_live_count(l);
        for (uint32_t i = 0; i < p.count; i++) {
            const au_lastfm_track_t *t = &p.tracks[i];
            if (t->position <= last)
                continue;
            if (au_live_count(l) == (size_t)j->limit)
                break;
            int64_t n = p.kind == AU_LASTFM_CHART ? t->playcount : t->listeners;
            rc = au_live_add(l, t->position, n < 0 ? -1 : n, t->name, t->artist,
                             NULL, (page - 1) * LASTFM_PAGE + i + 1);
            if (rc < 0)
                break;
            last = t->position;
        }
        rc = rc < 0 ? au_error_set(err, rc, "out of memory") : 0;
        if (au_live_count(l) == before ||
            au_live_count(l) == (size_t)j->limit ||
            (p.total_pages >= 0 && page >= p.total_pages))
            break;
    }
    au_arena_destroy(&a);
    return rc;
}

static int lastfm_open(au_ctx_t *ctx, json_t *params, void **state,
                       au_source_chart_t *chart, au_error_t *err)
{
    lastfm_job_t j;
    int rc = read_params(params, &j, err);
    if (rc < 0)
        return rc;
    char cname[AU_CHART_NAME_MAX + 1] = "top-tracks", region[64] = "global";
    if (j.method[0] == 't')
        slug("tag-", j.arg, cname, sizeof(cname));
    else if (j.method[0] == 'g')
        slug("", j.arg, region, sizeof(region));
    char name[256];
    snprintf(name, sizeof(name), "lastfm %s%s%s", j.method, j.arg ? " " : "",
             j.arg ? j.arg : "");
    au_live_t *l = au_live_new("lastfm", cname, region, j.date, name);
    if (!l)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    *state = l;
    au_live_chart(l, chart);
    return read_chart(ctx, &j, l, err);
}

const au_source_t au_source_lastfm = {"lastfm_chart", lastfm_open, au_live_next,
                                      au_live_rewind, au_live_close};
