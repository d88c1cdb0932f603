#include "au_enrich.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_log.h"
#include "au_queue.h"
#include "au_stage.h"
#include "au_store.h"
#include "au_zmq.h"

static int is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' ||
           ch == '\f';
}

int au_artist_key(const char *artist, char *out, size_t cap)
{
    size_t n = 0;
    int pending_space = 0;
    for (const unsigned char *s = (const unsigned char *)artist; *s; s++) {
        if (is_space(*s)) {
            pending_space = n > 0;
            continue;
        }
        if (n + 2 + (size_t)pending_space > cap)
            return AU_ETOOBIG;
        if (pending_space)
            out[n++] = ' ';
        pending_space = 0;
        out[n++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
    }
    if (cap == 0)
        return AU_ETOOBIG;
    out[n] = '\0';
    return (int)n;
}

int au_track_key(const char *track_id, const char *name, const char *artist_key,
                 char *out, size_t cap)
{
    int n;
    if (track_id && *track_id) {
        n = snprintf(out, cap, "spotify:%s", track_id);
    } else {
        char norm[AU_PROTO_MAX_STR + 1];
        if (au_artist_key(name, norm, sizeof(norm)) < 0)
            return AU_ETOOBIG;
        const char *parts[] = {norm, artist_key};
        char key[64];
        au_cache_key(key, sizeof(key), "nk", 2, parts);
        n = snprintf(out, cap, "%s", key);
    }
    return (n < 0 || (size_t)n >= cap) ? AU_ETOOBIG : n;
}

/* Cached value: "d,e,v,t" or "-" for a track known to have none, so a
 * miss in the table is cached too and not asked again. */
static int parse_features(const char *v, au_record_t *r)
{
    if (v[0] == '-')
        return 0;
    float f[4];
    char *end;
    const char *p = v;
    for (int i = 0; i < 4; i++) {
        f[i] = strtof(p, &end);
        if (end == p)
            return 0;
        p = *end == ',' ? end + 1 : end;
    }
    r->has_features = true;
    r->danceability = f[0];
    r->energy = f[1];
    r->valence = f[2];
    r->tempo = f[3];
    return 1;
}

static int lookup_features(au_ctx_t *ctx, au_batch_t *b, au_error_t *err)
{
    size_t n = b->count;
    const char **keys = calloc(n, sizeof(*keys));
    char **vals = calloc(n, sizeof(*vals));
    size_t *lens = calloc(n, sizeof(*lens));
    size_t *miss = calloc(n, sizeof(*miss));
    au_buf_t lit = {0};
    int rc = 0;
    size_t nmiss = 0;
    if (!keys || !vals || !lens || !miss) {
        rc = au_error_set(err, AU_ENOMEM, "enrich: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = b->records[i].track_id ? b->records[i].track_id : "";
    if (ctx->cache)
        au_cache_mget(ctx->cache, AU_CK_FEATURES, n, keys, vals, lens);
    for (size_t i = 0; i < n; i++) {
        if (vals[i])
            parse_features(vals[i], &b->records[i]);
        else if (keys[i][0])
            miss[nmiss++] = i;
    }
    if (nmiss == 0)
        goto out;
    const char **ids = calloc(nmiss, sizeof(*ids));
    for (size_t i = 0; ids && i < nmiss; i++)
        ids[i] = keys[miss[i]];
    rc = ids ? au_buf_text_array(&lit, nmiss, ids) : AU_ENOMEM;
    free(ids);
    if (rc) {
        rc = au_error_set(err, AU_ENOMEM, "enrich: out of memory");
        goto out;
    }
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c) {
        rc = err->code;
        goto out;
    }
    const char *p[] = {lit.data};
    PGresult *r;
    rc = au_pg_exec(c,
                    "SELECT spotify_id, danceability, energy, valence, "
                    "tempo FROM audio_features WHERE spotify_id = "
                    "ANY($1::text[])",
                    1, p, PGRES_TUPLES_OK, &r, err);
    au_pool_put(ctx->pool, c);
    if (rc < 0)
        goto out;
    /* Every miss gets a cache entry: the features, or "-". */
    const char **fill_vals = calloc(nmiss, sizeof(*fill_vals));
    const char **fill_keys = calloc(nmiss, sizeof(*fill_keys));
    size_t *fill_lens = calloc(nmiss, sizeof(*fill_lens));
    char(*text)[96] = calloc(nmiss, sizeof(*text));
    if (!fill_vals || !fill_keys || !fill_lens || !text) {
        rc = au_error_set(err, AU_ENOMEM, "enrich: out of memory");
    } else {
        for (size_t i = 0; i < nmiss; i++) {
            const char *id = keys[miss[i]];
            snprintf(text[i], sizeof(text[i]), "-");
            for (int row = 0; row < PQntuples(r); row++) {
                if (strcmp(PQgetvalue(r, row, 0), id) != 0)
                    continue;
                snprintf(text[i], sizeof(text[i]), "%s,%s,%s,%s",
                         PQgetvalue(r, row, 1), PQgetvalue(r, row, 2),
                         PQgetvalue(r, row, 3), PQgetvalue(r, row, 4));
                break;
            }
            parse_features(text[i], &b->records[miss[i]]);
            fill_keys[i] = id;
            fill_vals[i] = text[i];
            fill_lens[i] = strlen(text[i]);
        }
        if (ctx->cache)
            au_cache_mset(ctx->cache, AU_CK_FEATURES, nmiss, fill_keys,
                          fill_vals, fill_lens);
    }
    free(fill_vals);
    free(fill_keys);
    free(fill_lens);
    free(text);
    PQclear(r);
out:
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(keys);
    free(vals);
    free(lens);
    free(miss);
    au_buf_free(&lit);
    return rc;
}

int au_enrich_batch(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                    au_error_t *err)
{
    char ak[AU_PROTO_MAX_STR + 1], tk[AU_PROTO_MAX_STR + 1];
    for (uint32_t i = 0; i < b->count; i++) {
        au_record_t *r = &b->records[i];
        if (au_artist_key(r->artist, ak, sizeof(ak)) <= 0 ||
            au_track_key(r->track_id, r->track_name, ak, tk, sizeof(tk)) < 0)
            return au_error_set(err, AU_EINVAL,
                                "record %u: cannot build identity", i);
        r->artist_key = au_arena_strdup(arena, ak);
        r->track_key = au_arena_strdup(arena, tk);
        if (!r->artist_key || !r->track_key)
            return au_error_set(err, AU_ENOMEM, "enrich: out of memory");
        r->has_features = false;
    }
    int rc = lookup_features(ctx, b, err);
    if (rc < 0)
        return rc;
    b->stage = AU_STAGE_ENRICHED;
    return 0;
}

/* Enriches one batch and forwards it to the analytics relays. */
static int enrich_stage(au_ctx_t *ctx, void *push, au_batch_t *b,
                        au_arena_t *arena)
{
    au_error_t err = {0};
    au_log_ctx_t lctx = {b->job_id, b->attempt, b->seq};
    int rc = 0;
    for (int tries = 0; tries < 3; tries++) {
        rc = au_enrich_batch(ctx, b, arena, &err);
        if (rc == 0 || au_stop_requested)
            break;
        au_log_ev(AU_LOG_WARN, &lctx, rc, "enrich: %s", err.msg);
        au_metrics_inc(ctx->metrics, AU_M_RETRIES, 1);
        poll(NULL, 0, 200 << tries);
    }
    char *out = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = au_batch_encode(b, &out, &len);
    if (rc == 0)
        rc = au_zmq_send(push, out, len, -1);
    free(out);
    if (rc == 0) {
        au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
        au_metrics_inc(ctx->metrics, AU_M_RECORDS_OUT, b->count);
    } else if (rc != AU_EINTR) {
        au_metrics_error(ctx->metrics, rc);
        au_log_ev(AU_LOG_ERROR, &lctx, rc, "batch not forwarded: %s",
                  err.msg[0] ? err.msg : au_strerror(rc));
    }
    return rc;
}

int au_enrich_main(au_ctx_t *ctx)
{
    au_error_t err = {0};
    void *pull = au_zmq_socket(ctx->zctx, ZMQ_PULL, ctx->cfg.zmq.enrich_out, 0,
                               &ctx->cfg, &err);
    void *push =
        pull ? au_zmq_socket(ctx->zctx, ZMQ_PUSH, ctx->cfg.zmq.analytics_in, 0,
                             &ctx->cfg, &err)
             : NULL;
    if (!pull || !push) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        if (pull)
            zmq_close(pull);
        return 1;
    }
    int rc = au_stage_run(ctx, "enrich", pull, enrich_stage, push);
    zmq_close(pull);
    zmq_close(push);
    return rc;
}
