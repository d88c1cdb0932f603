/* au_task_mb.c: the musicbrainz_artists task: the MusicBrainz id of each
 * artist a job names, from an artist search of ws/2, into artists.mbid.
 *
 * Job parameters: artists, 1..1000 names as the charts spell them. Each
 * name is searched for (artist:"NAME", ten results) at MusicBrainz's
 * fleet-wide limit (1 request/s by default); the answer is cached for the
 * artist kind's TTL (24 h) under the service root and the artist key, and
 * fetched by one worker while any other that needs it waits, so jobs that
 * share artists ask once per artist. The id kept is that of the one
 * result whose name is the artist's (compared as artist keys); none, or
 * two different artists of that name, is "not found": a score alone
 * would have taken "DJ AC-DC" (100) for AC/DC (86). An answer no retry
 * can change (a 4xx, a body that is not a search) counts as not found
 * for that artist, logged; the service being down fails the job, to be
 * retried. Every artist named is marked looked up; an id found before is
 * kept when a later search finds none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_keys.h"
#include "au_log.h"
#include "au_zmq.h"
#include "au_source_http.h"
#include "au_store.h"
#include "au_svc.h"

#define MB_MAX_ARTISTS 1000

static int check_search(const char *body, size_t len, void *arg,
                        au_error_t *err)
{
    au_mb_artists_t r;
    au_arena_reset(arg);
    return au_mb_parse_artist_search(body, len, arg, &r, err);
}

/* The one MBID of the results named like key, or NULL. */
static const char *pick(const au_mb_artists_t *r, const char *key)
{
    const char *found = NULL;
    char k[AU_PROTO_MAX_STR + 1];
    for (uint32_t i = 0; i < r->n; i++) {
        if (au_artist_key(r->artists[i].name, k, sizeof(k)) < 0 ||
            strcmp(k, key) != 0)
            continue;
        if (found && strcmp(found, r->artists[i].id) != 0)
            return NULL;
        found = r->artists[i].id;
    }
    return found;
}

/* Looks one artist up: *mbid (in a) or NULL. */
static int look_up(au_ctx_t *ctx, const char *name, const char *key,
                   au_arena_t *a, const char **mbid, au_error_t *err)
{
    const au_config_t *cfg = &ctx->cfg;
    /* Lucene's phrase query: only '"' and '\' need a backslash. */
    char q[2 * AU_PROTO_MAX_STR + 16], eq[6 * AU_PROTO_MAX_STR + 48];
    size_t n = (size_t)snprintf(q, sizeof(q), "artist:\"");
    for (const char *s = name; *s && n + 4 < sizeof(q); s++) {
        if (*s == '"' || *s == '\\')
            q[n++] = '\\';
        q[n++] = *s;
    }
    snprintf(q + n, sizeof(q) - n, "\"");
    if (au_http_escape(q, eq, sizeof(eq)) < 0)
        return au_error_set(err, AU_ETOOBIG, "musicbrainz: name too long");
    char url[sizeof(eq) + AU_CFG_STR + 64];
    snprintf(url, sizeof(url), "%s/artist?query=%s&limit=10&fmt=json",
             cfg->musicbrainz.base_url, eq);
    const char *parts[] = {cfg->musicbrainz.base_url, key};
    char ck[64];
    au_cache_key(ck, sizeof(ck), "mb-artist", 2, parts);
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    au_http_req_t req = {.service = "musicbrainz", .url = url, .headers = hdrs};
    char *body = NULL;
    size_t len = 0;
    int rc = au_source_fetch(ctx, &req, AU_CK_ARTIST, ck, check_search, a,
                             &body, &len, NULL, err);
    au_mb_artists_t r;
    if (rc == 0) {
        au_arena_reset(a);
        rc = au_mb_parse_artist_search(body, len, a, &r, err);
    }
    free(body);
    *mbid = rc == 0 ? pick(&r, key) : NULL;
    return rc;
}

typedef struct {
    size_t n;
    const char **names, **keys, **mbids;
} artists_t;

static int read_artists(json_t *params, au_arena_t *keep, artists_t *l,
                        au_error_t *err)
{
    json_t *v = json_object_get(params, "artists");
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0 || n > MB_MAX_ARTISTS)
        return au_error_set(err, AU_EINVAL,
                            "job parameter \"artists\" must be an array of "
                            "1..%d names",
                            MB_MAX_ARTISTS);
    l->names = au_arena_alloc(keep, n * sizeof(char *));
    l->keys = au_arena_alloc(keep, n * sizeof(char *));
    l->mbids = au_arena_alloc(keep, n * sizeof(char *));
    if (!l->names || !l->keys || !l->mbids)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    l->n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        char k[AU_PROTO_MAX_STR + 1];
        if (!s || au_artist_key(s, k, sizeof(k)) <= 0)
            return au_error_set(err, AU_EINVAL,
                                "artists[%zu]: not a name (a non-blank string "
                                "of at most %d bytes)",
                                i, AU_PROTO_MAX_STR);
        int dup = 0;
        for (size_t j = 0; j < l->n && !dup; j++)
            dup = !strcmp(l->keys[j], k);
        if (dup)
            continue;
        l->names[l->n] = au_arena_strdup(keep, s);
        l->keys[l->n] = au_arena_strdup(keep, k);
        if (!l->names[l->n] || !l->keys[l->n])
            return au_error_set(err, AU_ENOMEM, "out of memory");
        l->n++;
    }
    return 0;
}

static int mb_run(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                  long *rows, au_error_t *err)
{
    au_arena_t *keep = au_arena_new(16384), *a = au_arena_new(65536);
    artists_t l = {0};
    int rc = keep && a ? read_artists(params, keep, &l, err)
                       : au_error_set(err, AU_ENOMEM, "out of memory");
    long long last = au_now_ms();
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char what[96];
        snprintf(what, sizeof(what), "musicbrainz: artist %zu of %zu", i + 1,
                 l.n);
        if ((rc = au_task_keep(ctx, job, &last, what, err)) < 0)
            break;
        if (au_stop_requested) {
            rc = au_error_set(err, AU_EINTR, "stopping");
            break;
        }
        const char *id = NULL;
        rc = look_up(ctx, l.names[i], l.keys[i], a, &id, err);
        /* An answer no retry can change (a 4xx, a body that is not a
         * search) is this artist's "not found", not the job's end: the
         * others would be blocked behind it for good. */
        if (rc < 0 && !au_task_transient(rc))
            au_log_ev(AU_LOG_WARN, NULL, rc, "musicbrainz: %s: %s", l.names[i],
                      err->msg);
        else if (rc < 0)
            break;
        rc = 0;
        l.mbids[i] = id ? au_arena_strdup(keep, id) : NULL;
        if (id && !l.mbids[i])
            rc = au_error_set(err, AU_ENOMEM, "out of memory");
    }
    PGconn *c = rc == 0 ? au_pool_get(ctx->pool, err) : NULL;
    if (rc == 0 && !c)
        rc = AU_ERETRY;
    if (rc == 0)
        rc = au_store_set_mbids(c, l.n, l.keys, l.mbids, rows, err);
    au_pool_put(ctx->pool, c);
    au_arena_destroy(&keep);
    au_arena_destroy(&a);
    return rc;
}

const au_task_t au_task_mb_artists = {"musicbrainz_artists", mb_run};
