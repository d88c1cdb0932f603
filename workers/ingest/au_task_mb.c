/* au_task_mb.c: the MusicBrainz tasks: musicbrainz_artists (the MBID of
 * each artist a job names, from an artist search of ws/2, into
 * artists.mbid) and musicbrainz_recordings (the recording of each ISRC a
 * job names, into tracks.mbid, and its artist's MBID where the artist has
 * none).
 *
 * musicbrainz_artists' parameters: artists, 1..1000 names as the charts
 * spell them. Each name is searched for (artist:"NAME", ten results) at
 * MusicBrainz's fleet-wide limit (1 request/s by default); the answer is
 * cached for the artist kind's TTL (24 h) under the service root and the
 * artist key, and fetched by one worker while any other that needs it
 * waits, so jobs that share artists ask once per artist. The id kept is
 * that of the one result whose name is the artist's (compared as artist
 * keys); none, or two different artists of that name, is "not found": a
 * score alone would have taken "DJ AC-DC" (100) for AC/DC (86). Every
 * artist named is marked looked up; an id found before is kept when a
 * later search finds none.
 *
 * musicbrainz_recordings' parameters: isrcs, 1..1000 ISRCs (the Spotify
 * track lookups store them). Each is looked up (GET /isrc/{isrc}), cached
 * and shared like a search; a 404 is "no recording". Every track of an
 * ISRC asked is marked looked up. */
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

#define MB_MAX_ITEMS 1000 /* artists or ISRCs a job names */

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
    size_t n;
    json_t *v = au_task_list(params, "artists", MB_MAX_ITEMS, "names", &n, err);
    if (!v)
        return err->code;
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

/* Runs one(ctx, i, arg) for i in [0, n), keeping the job's lease. An
 * answer no retry can change (a 4xx, a body of the wrong shape) is item
 * i's "not found", logged, not the job's end: the others would be blocked
 * behind it for good; the service being down ends the job, to be
 * retried. */
static int
each_item(au_ctx_t *ctx, const au_job_t *job, size_t n, const char *what,
          int (*one)(au_ctx_t *ctx, size_t i, void *arg, au_error_t *err),
          void *arg, au_error_t *err)
{
    long long last = au_now_ms();
    for (size_t i = 0; i < n; i++) {
        char doing[96];
        snprintf(doing, sizeof(doing), "musicbrainz: %s %zu of %zu", what,
                 i + 1, n);
        int rc = au_task_keep(ctx, job, &last, doing, err);
        if (rc == 0 && au_stop_requested)
            rc = au_error_set(err, AU_EINTR, "stopping");
        if (rc == 0)
            rc = one(ctx, i, arg, err);
        if (rc < 0 && !au_task_transient(rc))
            au_log_ev(AU_LOG_WARN, NULL, rc, "%s: %s", doing, err->msg);
        else if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct {
    artists_t *l;
    au_arena_t *keep, *a;
} artist_run_t;

static int one_artist(au_ctx_t *ctx, size_t i, void *arg, au_error_t *err)
{
    artist_run_t *r = arg;
    const char *id = NULL;
    int rc = look_up(ctx, r->l->names[i], r->l->keys[i], r->a, &id, err);
    if (rc == 0 && id && !(r->l->mbids[i] = au_arena_strdup(r->keep, id)))
        rc = au_error_set(err, AU_ENOMEM, "out of memory");
    return rc;
}

static int mb_run(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                  long *rows, au_error_t *err)
{
    au_arena_t *keep = au_arena_new(16384), *a = au_arena_new(65536);
    artists_t l = {0};
    int rc = keep && a ? read_artists(params, keep, &l, err)
                       : au_error_set(err, AU_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        l.mbids[i] = NULL;
    artist_run_t r = {&l, keep, a};
    if (rc == 0)
        rc = each_item(ctx, job, l.n, "artist", one_artist, &r, err);
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

/* ---- musicbrainz_recordings ------------------------------------------- */

static int check_isrc(const char *body, size_t len, void *arg, au_error_t *err)
{
    au_mb_recordings_t r;
    au_arena_reset(arg);
    return au_mb_parse_isrc(body, len, arg, &r, err);
}

typedef struct {
    size_t n;
    const char **isrcs, **mbids, **artist_keys, **artist_mbids;
    au_arena_t *keep, *a;
} isrcs_t;

/* An ISRC is twelve characters: country (2 letters), registrant (3
 * letters or digits), year (2 digits), designation (5 digits). */
static int is_isrc(const char *s)
{
    static const char *const cls[] = {"A", "A", "X", "X", "X", "D",
                                      "D", "D", "D", "D", "D", "D"};
    for (int i = 0; i < 12; i++) {
        char c = s[i];
        int letter = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
        if (!(cls[i][0] == 'A'   ? letter
              : cls[i][0] == 'D' ? digit
                                 : letter || digit))
            return 0;
    }
    return s[12] == '\0';
}

static int read_isrcs(json_t *params, isrcs_t *l, au_error_t *err)
{
    size_t n;
    json_t *v = au_task_list(params, "isrcs", MB_MAX_ITEMS, "ISRCs", &n, err);
    if (!v)
        return err->code;
    const char ***cols[] = {&l->isrcs, &l->mbids, &l->artist_keys,
                            &l->artist_mbids};
    for (size_t k = 0; k < 4; k++)
        if (!(*cols[k] = au_arena_alloc(l->keep, n * sizeof(char *))))
            return au_error_set(err, AU_ENOMEM, "out of memory");
    l->n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s || strlen(s) != 12 || !is_isrc(s))
            return au_error_set(err, AU_EINVAL,
                                "isrcs[%zu]: not an ISRC (CC-XXX-YY-NNNNN "
                                "without dashes, upper case)",
                                i);
        int dup = 0;
        for (size_t j = 0; j < l->n && !dup; j++)
            dup = !strcmp(l->isrcs[j], s);
        if (dup)
            continue;
        l->isrcs[l->n] = s;
        l->mbids[l->n] = l->artist_keys[l->n] = l->artist_mbids[l->n] = NULL;
        l->n++;
    }
    return 0;
}

/* The recording of an ISRC when MusicBrainz lists exactly one (several
 * are an ISRC put on different recordings, which none of them can be
 * told from here), with its first credited artist. */
static int one_isrc(au_ctx_t *ctx, size_t i, void *arg, au_error_t *err)
{
    isrcs_t *l = arg;
    const au_config_t *cfg = &ctx->cfg;
    char url[AU_CFG_STR + 64];
    snprintf(url, sizeof(url), "%s/isrc/%s?inc=artist-credits&fmt=json",
             cfg->musicbrainz.base_url, l->isrcs[i]);
    const char *parts[] = {cfg->musicbrainz.base_url, l->isrcs[i]};
    char ck[64];
    au_cache_key(ck, sizeof(ck), "mb-isrc", 2, parts);
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    au_http_req_t req = {.service = "musicbrainz", .url = url, .headers = hdrs};
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int rc = au_source_fetch(ctx, &req, AU_CK_ARTIST, ck, check_isrc, l->a,
                             &body, &len, &status, err);
    au_mb_recordings_t r = {0};
    if (rc == 0) {
        au_arena_reset(l->a);
        rc = au_mb_parse_isrc(body, len, l->a, &r, err);
    }
    free(body);
    if (rc == AU_EHTTP && status == 404)
        return 0; /* MusicBrainz knows no recording of it */
    for (uint32_t k = 1; rc == 0 && k < r.n; k++)
        if (strcmp(r.recordings[k].id, r.recordings[0].id) != 0)
            return 0;
    if (rc < 0 || r.n == 0)
        return rc;
    const au_mb_recording_t *rec = &r.recordings[0];
    char key[AU_PROTO_MAX_STR + 1];
    l->mbids[i] = au_arena_strdup(l->keep, rec->id);
    if (rec->ncredits > 0 && rec->credits[0].artist_id &&
        au_artist_key(rec->credits[0].artist_name, key, sizeof(key)) > 0) {
        l->artist_keys[i] = au_arena_strdup(l->keep, key);
        l->artist_mbids[i] =
            au_arena_strdup(l->keep, rec->credits[0].artist_id);
    }
    if (!l->mbids[i] ||
        (rec->ncredits > 0 && l->artist_keys[i] && !l->artist_mbids[i]))
        return au_error_set(err, AU_ENOMEM, "out of memory");
    return 0;
}

static int isrc_run(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                    long *rows, au_error_t *err)
{
    isrcs_t l = {.keep = au_arena_new(16384), .a = au_arena_new(65536)};
    int rc = l.keep && l.a ? read_isrcs(params, &l, err)
                           : au_error_set(err, AU_ENOMEM, "out of memory");
    if (rc == 0)
        rc = each_item(ctx, job, l.n, "isrc", one_isrc, &l, err);
    PGconn *c = rc == 0 ? au_pool_get(ctx->pool, err) : NULL;
    if (rc == 0 && !c)
        rc = AU_ERETRY;
    if (rc == 0)
        rc = au_store_set_recordings(c, l.n, l.isrcs, l.mbids, l.artist_keys,
                                     l.artist_mbids, rows, err);
    au_pool_put(ctx->pool, c);
    au_arena_destroy(&l.keep);
    au_arena_destroy(&l.a);
    return rc;
}

const au_task_t au_task_mb_recordings = {"musicbrainz_recordings", isrc_run};
