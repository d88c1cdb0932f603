#include "au_enrich.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_bytes.h"
#include "au_log.h"
#include "au_consumer.h"
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

/* Cached value: the four features as little-endian float32 (16 bytes),
 * or an empty value for a track known to have none, so a miss in the
 * table is cached too and not asked again. Any other length is not
 * trusted (a miss). */
#define FEATURE_BYTES (4 * AU_FEATURES)

static void set_features(au_record_t *r, const float f[AU_FEATURES])
{
    r->has_features = true;
    r->danceability = f[0];
    r->energy = f[1];
    r->valence = f[2];
    r->tempo = f[3];
}

static int decode_features(const char *v, size_t len, au_record_t *r)
{
    if (len == 0)
        return 0;
    if (len != FEATURE_BYTES)
        return -1;
    float f[AU_FEATURES];
    for (int k = 0; k < AU_FEATURES; k++)
        f[k] = au_get_f32((const unsigned char *)v + 4 * k);
    set_features(r, f);
    return 0;
}

/* What the database said about each missing track, for the records and
 * for the cache. */
typedef struct {
    au_batch_t *b;
    const size_t *miss; /* record index of each looked-up id */
    unsigned char (*bytes)[FEATURE_BYTES];
    size_t *lens;
} feat_fill_t;

static int feature_row(void *arg, size_t k, const float f[AU_FEATURES])
{
    feat_fill_t *x = arg;
    /* The decoder's ranges: a value outside them is not a feature. */
    if (!(f[0] >= 0 && f[0] <= 1 && f[1] >= 0 && f[1] <= 1 && f[2] >= 0 &&
          f[2] <= 1 && f[3] >= 0 && f[3] <= 1000))
        return 0;
    for (int i = 0; i < AU_FEATURES; i++)
        au_put_f32(x->bytes[k] + 4 * i, f[i]);
    x->lens[k] = FEATURE_BYTES;
    set_features(&x->b->records[x->miss[k]], f);
    return 0;
}

static int lookup_features(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                           au_error_t *err)
{
    size_t n = b->count, nmiss = 0;
    const char **keys = au_arena_alloc(arena, (n ? n : 1) * sizeof(*keys));
    const char **ids = au_arena_alloc(arena, (n ? n : 1) * sizeof(*ids));
    size_t *miss = au_arena_alloc(arena, (n ? n : 1) * sizeof(*miss));
    size_t *flens = au_arena_alloc(arena, (n ? n : 1) * sizeof(*flens));
    unsigned char(*bytes)[FEATURE_BYTES] =
        au_arena_alloc(arena, (n ? n : 1) * sizeof(*bytes));
    char **vals = calloc(n ? n : 1, sizeof(*vals));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    int rc = 0;
    if (!keys || !ids || !miss || !flens || !bytes || !vals || !lens) {
        rc = au_error_set(err, AU_ENOMEM, "enrich: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = b->records[i].track_id ? b->records[i].track_id : "";
    if (ctx->cache)
        au_cache_mget(ctx->cache, AU_CK_FEATURES, n, keys, vals, lens);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i][0] ||
            (vals[i] && decode_features(vals[i], lens[i], &b->records[i]) == 0))
            continue;
        ids[nmiss] = keys[i];
        flens[nmiss] = 0;
        miss[nmiss++] = i;
    }
    if (nmiss == 0)
        goto out;
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c) {
        rc = err->code;
        goto out;
    }
    feat_fill_t x = {b, miss, bytes, flens};
    rc = au_store_read_features(c, nmiss, ids, feature_row, &x, err);
    au_pool_put(ctx->pool, c);
    if (rc == 0 && ctx->cache) {
        const char **fvals = au_arena_alloc(arena, nmiss * sizeof(*fvals));
        for (size_t k = 0; fvals && k < nmiss; k++)
            fvals[k] = (const char *)bytes[k];
        if (fvals)
            au_cache_mset(ctx->cache, AU_CK_FEATURES, nmiss, ids, fvals, flens);
    }
out:
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(vals);
    free(lens);
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
    int rc = lookup_features(ctx, b, arena, err);
    if (rc < 0)
        return rc;
    b->stage = AU_STAGE_ENRICHED;
    return 0;
}

/* Enriches one batch and forwards it to the analytics relays. */
static int enrich_batch(au_ctx_t *ctx, void *push, au_batch_t *b,
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
    int rc = au_consumer_run(ctx, "enrich", pull, enrich_batch, push);
    zmq_close(pull);
    zmq_close(push);
    return rc;
}
