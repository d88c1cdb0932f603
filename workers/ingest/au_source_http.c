#include "au_source_http.h"

#include "au_arena.h"
#include "au_keys.h"
#include "au_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    au_ctx_t *ctx;
    const au_http_req_t *req;
    au_source_check_fn check;
    void *arg;
    au_error_t *err;
    long status; /* what this process got from the service */
} fill_t;

/* A body that is not the service's JSON: a proxy's HTML page, an answer
 * cut short. The next attempt may well get the real one. */
static int transient_body(int rc)
{
    return rc == AU_EPARSE || rc == AU_ETRUNCATED || rc == AU_ETRAILING ||
           rc == AU_EUTF8;
}

static int fill(void *arg, char **val, size_t *len)
{
    fill_t *f = arg;
    au_http_resp_t resp;
    char url[1024];
    au_http_redact(f->req->url, url, sizeof(url));
    int rc = au_http_do(f->ctx->http, f->req, &resp, f->err);
    f->status = resp.status;
    if (rc < 0) {
        au_http_resp_clear(&resp);
        return rc;
    }
    /* Every answer the sources read is JSON; the services say so. */
    if (!strstr(resp.content_type, "json")) {
        rc = au_error_set(
            f->err, AU_ERETRY, "%s: answer of type \"%s\", not JSON, from %s",
            f->req->service, resp.content_type[0] ? resp.content_type : "none",
            url);
        au_http_resp_clear(&resp);
        return rc;
    }
    au_error_t cerr = {0};
    /* No body at all is a body cut short, as far as a parser can tell. */
    rc = f->check(resp.body ? resp.body : "", resp.len, f->arg, &cerr);
    if (rc < 0) {
        au_error_set(f->err, transient_body(rc) ? AU_ERETRY : rc, "%s: %s: %s",
                     f->req->service, url, cerr.msg);
        au_http_resp_clear(&resp);
        return f->err->code;
    }
    *val = resp.body;
    *len = resp.len;
    return 0;
}

int au_source_fetch(au_ctx_t *ctx, const au_http_req_t *req,
                    au_cache_kind_t kind, const char *key,
                    au_source_check_fn check, void *arg, char **body,
                    size_t *len, long *status, au_error_t *err)
{
    int rc = au_ctx_http_open(ctx, err);
    if (rc == 0 && ctx->keep)
        rc = ctx->keep(ctx, req->service, err);
    if (rc < 0)
        return rc;
    fill_t f = {ctx, req, check, arg, err, 0};
    err->code = 0;
    /* The others wait for the one asking as long as its request may take:
     * at MusicBrainz's 1 request/s its turn at the limiter alone can take
     * seconds, and a waiter that gave up sooner would ask again. */
    rc = au_cache_memoize_for(ctx->cache, kind, key,
                              au_http_deadline_ms(ctx->http), fill, &f, body,
                              len);
    if (status)
        *status = f.status;
    if (rc == 0)
        au_http_count(ctx->http, req->service, f.status == 0);
    if (rc < 0 && err->code == 0)
        rc = au_error_set(err, rc, "%s: %s", req->service, au_strerror(rc));
    return rc;
}

/* ---- a live chart in memory --------------------------------------------- */

struct au_live_t {
    au_arena_t *arena;
    au_source_row_t *rows;
    const char **keys; /* each row's track key, to find one listed twice */
    size_t n, cap, at;
    au_source_chart_t chart;
};

au_live_t *au_live_new(const char *platform, const char *chart,
                       const char *region, const char *date, const char *name)
{
    au_live_t *l = calloc(1, sizeof(*l));
    if (!l || !(l->arena = au_arena_new(16384))) {
        free(l);
        return NULL;
    }
    l->chart = (au_source_chart_t){
        au_arena_strdup(l->arena, platform), au_arena_strdup(l->arena, chart),
        au_arena_strdup(l->arena, region), au_arena_strdup(l->arena, date),
        au_arena_strdup(l->arena, name)};
    if (!l->chart.platform || !l->chart.chart || !l->chart.region ||
        !l->chart.date || !l->chart.name) {
        au_live_close(l);
        return NULL;
    }
    return l;
}

int au_live_add(au_live_t *l, int32_t position, int64_t streams,
                const char *track, const char *artist, const char *track_id,
                long where)
{
    char ak[AU_PROTO_MAX_STR + 1], tk[AU_PROTO_MAX_STR + 32];
    /* A name too long to key is refused by ingest's own checks, with the
     * row named; here it only cannot be a duplicate. */
    int keyed = au_artist_key(artist, ak, sizeof(ak)) >= 0 &&
                au_track_key(track_id, track, ak, tk, sizeof(tk)) >= 0;
    for (size_t i = 0; keyed && i < l->n; i++)
        if (l->keys[i] && !strcmp(l->keys[i], tk))
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        au_source_row_t *r = realloc(l->rows, cap * sizeof(*r));
        if (r)
            l->rows = r;
        const char **k = r ? realloc(l->keys, cap * sizeof(*k)) : NULL;
        if (!k)
            return AU_ENOMEM;
        l->keys = k;
        l->cap = cap;
    }
    au_source_row_t *r = &l->rows[l->n];
    *r =
        (au_source_row_t){position,
                          streams,
                          au_arena_strdup(l->arena, track),
                          au_arena_strdup(l->arena, artist),
                          track_id ? au_arena_strdup(l->arena, track_id) : NULL,
                          where};
    l->keys[l->n] = keyed ? au_arena_strdup(l->arena, tk) : NULL;
    if (!r->track_name || !r->artist || (track_id && !r->track_id) ||
        (keyed && !l->keys[l->n]))
        return AU_ENOMEM;
    l->n++;
    return 1;
}

size_t au_live_count(const au_live_t *l)
{
    return l->n;
}

void au_live_chart(const au_live_t *l, au_source_chart_t *chart)
{
    *chart = l->chart;
}

int au_live_next(void *state, au_source_row_t *row, au_error_t *err)
{
    (void)err;
    au_live_t *l = state;
    if (l->at == l->n)
        return 0;
    *row = l->rows[l->at++];
    return 1;
}

int au_live_rewind(void *state, au_error_t *err)
{
    (void)err;
    ((au_live_t *)state)->at = 0;
    return 0;
}

void au_live_close(void *state)
{
    au_live_t *l = state;
    if (!l)
        return;
    au_arena_destroy(&l->arena);
    free(l->rows);
    free(l->keys);
    free(l);
}

const char *au_live_param(json_t *params, const char *key)
{
    json_t *v = json_object_get(params, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
