#include "au_enrich.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_bytes.h"
#include "au_log.h"
#include "au_queue.h"
#include "au_consumer.h"
#include "au_keys.h"
#include "au_store.h"
#include "au_zmq.h"

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

/* The cache keys of the batch's features: the features generation, then
 * the track id ("" for a record without one). */
static const char **feature_keys(au_batch_t *b, au_arena_t *arena,
                                 long long gen)
{
    size_t n = b->count;
    const char **keys = au_arena_alloc(arena, (n ? n : 1) * sizeof(*keys));
    for (size_t i = 0; keys && i < n; i++) {
        const char *id = b->records[i].track_id;
        size_t len = id ? strlen(id) + 24 : 1;
        char *k = au_arena_alloc(arena, len);
        if (!k)
            return NULL;
        if (id)
            snprintf(k, len, "%lld:%s", gen, id);
        else
            k[0] = '\0';
        keys[i] = k;
    }
    return keys;
}

/* Cache first, the store for what it lacks; the store's answer (features
 * or "none") goes to the cache under the current features generation. */
static int lookup_features(au_ctx_t *ctx, PGconn *c, au_batch_t *b,
                           au_arena_t *arena, au_error_t *err)
{
    size_t n = b->count, nmiss = 0;
    long long gen = 0;
    int rc = au_store_features_generation(c, &gen, err);
    if (rc < 0)
        return rc;
    const char **keys = feature_keys(b, arena, gen);
    const char **ids = au_arena_alloc(arena, (n ? n : 1) * sizeof(*ids));
    const char **mkeys = au_arena_alloc(arena, (n ? n : 1) * sizeof(*mkeys));
    size_t *miss = au_arena_alloc(arena, (n ? n : 1) * sizeof(*miss));
    size_t *flens = au_arena_alloc(arena, (n ? n : 1) * sizeof(*flens));
    unsigned char(*bytes)[FEATURE_BYTES] =
        au_arena_alloc(arena, (n ? n : 1) * sizeof(*bytes));
    char **vals = calloc(n ? n : 1, sizeof(*vals));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    if (!keys || !ids || !mkeys || !miss || !flens || !bytes || !vals ||
        !lens) {
        rc = au_error_set(err, AU_ENOMEM, "enrich: out of memory");
        goto out;
    }
    if (ctx->cache)
        au_cache_mget(ctx->cache, AU_CK_FEATURES, n, keys, vals, lens);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i][0] ||
            (vals[i] && decode_features(vals[i], lens[i], &b->records[i]) == 0))
            continue;
        ids[nmiss] = b->records[i].track_id;
        mkeys[nmiss] = keys[i];
        flens[nmiss] = 0;
        miss[nmiss++] = i;
    }
    if (nmiss == 0)
        goto out;
    feat_fill_t x = {b, miss, bytes, flens};
    rc = au_store_read_features(c, nmiss, ids, feature_row, &x, err);
    if (rc == 0 && ctx->cache) {
        const char **fvals = au_arena_alloc(arena, nmiss * sizeof(*fvals));
        for (size_t k = 0; fvals && k < nmiss; k++)
            fvals[k] = (const char *)bytes[k];
        if (fvals)
            au_cache_mset(ctx->cache, AU_CK_FEATURES, nmiss, mkeys, fvals,
                          flens);
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
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return err->code;
    int rc = lookup_features(ctx, c, b, arena, err);
    au_pool_put(ctx->pool, c);
    if (rc < 0)
        return rc;
    b->stage = AU_STAGE_ENRICHED;
    return 0;
}

/* Enriches one batch and forwards it to the analytics relays. */
/* Tells the queue what went wrong with a batch's job: a cause no retry
 * can fix ends it now, with that cause; any other is kept for the message
 * when its lease runs out. */
static void report(au_ctx_t *ctx, const au_batch_t *b, int rc,
                   const au_error_t *e)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c)
        return;
    char cause[300];
    snprintf(cause, sizeof(cause), "enrich: %s",
             e->msg[0] ? e->msg : au_strerror(rc));
    if (rc == AU_EINVAL || rc == AU_ETOOBIG) {
        if (au_queue_fail(c, b->job_id, b->attempt, cause, 1,
                          ctx->cfg.queue.backoff_base_ms,
                          ctx->cfg.queue.backoff_max_ms, &err) == 0)
            au_metrics_inc(ctx->metrics, AU_M_DEAD_JOBS, 1);
    } else {
        au_queue_note(c, b->job_id, b->attempt, cause, &err);
    }
    au_pool_put(ctx->pool, c);
}

static int enrich_batch(au_ctx_t *ctx, void *push, au_batch_t *b,
                        au_arena_t *arena)
{
    au_error_t err = {0};
    au_log_ctx_t lctx = {b->job_id, b->attempt, b->seq};
    int rc = 0;
    for (int tries = 0; tries < 3; tries++) {
        rc = au_enrich_batch(ctx, b, arena, &err);
        if (rc == 0 || rc == AU_EINVAL || au_drain_expired())
            break;
        au_log_ev(AU_LOG_WARN, &lctx, rc, "enrich: %s", err.msg);
        au_metrics_inc(ctx->metrics, AU_M_RETRIES, 1);
        poll(NULL, 0, 200 << tries);
    }
    char *out = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = au_batch_encode(b, &out, &len)) < 0)
        au_error_set(&err, rc,
                     "the enriched batch does not encode (over %d "
                     "bytes or invalid)",
                     ctx->cfg.zmq.max_msg_bytes);
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
        report(ctx, b, rc, &err);
    }
    return rc;
}

int au_enrich_main(au_ctx_t *ctx)
{
    au_error_t err = {0};
    void *sock = au_zmq_socket(ctx->zctx, ZMQ_DEALER, ctx->cfg.zmq.enrich_out,
                               0, &ctx->cfg, &err);
    void *push =
        sock ? au_zmq_socket(ctx->zctx, ZMQ_PUSH, ctx->cfg.zmq.analytics_in, 0,
                             &ctx->cfg, &err)
             : NULL;
    if (!sock || !push) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        if (sock)
            zmq_close(sock);
        return 1;
    }
    int rc = au_consumer_run(ctx, "enrich", sock, enrich_batch, push);
    zmq_close(sock);
    zmq_close(push);
    return rc;
}
