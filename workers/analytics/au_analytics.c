/* au_analytics.c: the analytics stage. One batch becomes one transaction:
 * fence and ledger check, history and cross-chart reads, scoring, the
 * rows, the predictions and the ledger entry (docs/ARCHITECTURE.md,
 * "Delivery"). */
#include "au_analytics.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_bytes.h"
#include "au_consumer.h"
#include "au_date.h"
#include "au_log.h"
#include "au_queue.h"
#include "au_score.h"
#include "au_store.h"
#include "au_zmq.h"

/* ---- a track's history in its series -------------------------------- */

typedef struct {
    long day;
    int32_t position;
    int64_t streams;
} hist_entry_t;

/* Date order, at most AU_HISTORY_KEEP entries (one more while an entry is
 * being inserted). */
typedef struct {
    int n;
    hist_entry_t e[AU_HISTORY_KEEP + 1];
} history_t;

/* The cached form: per entry the day (int32), the position (int32) and
 * the streams (int64), little endian, oldest first. */
#define HIST_BYTES 16

/* Inserts (or replaces) the entry of e->day, keeping date order and the
 * newest AU_HISTORY_KEEP entries. */
static void history_put(history_t *h, const hist_entry_t *e)
{
    int i = 0;
    while (i < h->n && h->e[i].day < e->day)
        i++;
    if (i < h->n && h->e[i].day == e->day) {
        h->e[i] = *e;
        return;
    }
    memmove(&h->e[i + 1], &h->e[i], (size_t)(h->n - i) * sizeof(*e));
    h->e[i] = *e;
    h->n++;
    if (h->n > AU_HISTORY_KEEP) {
        memmove(&h->e[0], &h->e[1], (size_t)(h->n - 1) * sizeof(*e));
        h->n--;
    }
}

/* A cached value that is not a whole number of entries in date order is
 * not trusted: the caller reads the database instead. */
static int history_decode(const char *v, size_t len, history_t *h)
{
    h->n = 0;
    if (len % HIST_BYTES != 0 || len / HIST_BYTES > AU_HISTORY_KEEP)
        return -1;
    const unsigned char *p = (const unsigned char *)v;
    for (size_t k = 0; k < len / HIST_BYTES; k++, p += HIST_BYTES) {
        hist_entry_t e = {(int32_t)au_get_u32(p), (int32_t)au_get_u32(p + 4),
                          (int64_t)au_get_u64(p + 8)};
        if (e.position < 1 || (h->n > 0 && e.day <= h->e[h->n - 1].day))
            return -1;
        h->e[h->n++] = e;
    }
    return 0;
}

static size_t history_encode(const history_t *h, unsigned char *out)
{
    for (int k = 0; k < h->n; k++, out += HIST_BYTES) {
        au_put_u32(out, (uint32_t)(int32_t)h->e[k].day);
        au_put_u32(out + 4, (uint32_t)h->e[k].position);
        au_put_u64(out + 8, (uint64_t)h->e[k].streams);
    }
    return (size_t)h->n * HIST_BYTES;
}

/* ---- one batch's work ------------------------------------------------- */

/* Everything the transaction of one batch reads and computes; every array
 * has one element per record and lives in the batch's arena. */
typedef struct {
    au_ctx_t *ctx;
    PGconn *c;
    au_batch_t *b;
    au_arena_t *arena;
    au_error_t *err;
    au_batch_ref_t ref;
    long day;            /* the batch's chart date */
    const char **tkeys;  /* track keys */
    const char **hkeys;  /* history cache keys */
    const char **dims;   /* "t:<track>", "a:<artist>": 2 per record */
    history_t *hist;     /* newest entries of each track's series */
    double *score;       /* position score, computed once */
    size_t *cross_start; /* platform scores: own chart first, then the */
    size_t *cross_count; /* other charts of the date */
    double *cross;
    au_trend_t *rows;
    au_viral_t *viral;
    au_successor_t *succ;
    size_t nsucc;
    unsigned flags; /* AU_STORE_* */
} work_t;

static int oom(work_t *w)
{
    return au_error_set(w->err, AU_ENOMEM, "analytics: out of memory");
}

static void *alloc_n(work_t *w, size_t n, size_t size)
{
    return au_arena_alloc(w->arena, (n ? n : 1) * size);
}

static char *join_key(au_arena_t *a, const char *prefix, const char *key)
{
    size_t p = strlen(prefix), n = strlen(key);
    char *k = au_arena_alloc(a, p + n + 1);
    if (k) {
        memcpy(k, prefix, p);
        memcpy(k + p, key, n + 1);
    }
    return k;
}

static int work_init(work_t *w)
{
    au_batch_t *b = w->b;
    size_t n = b->count;
    w->ref = (au_batch_ref_t){b->job_id, b->attempt, b->seq, b->nbatches};
    au_date_parse(b->date, strlen(b->date), &w->day);
    w->tkeys = alloc_n(w, n, sizeof(*w->tkeys));
    w->hkeys = alloc_n(w, n, sizeof(*w->hkeys));
    w->dims = alloc_n(w, 2 * n, sizeof(*w->dims));
    w->hist = alloc_n(w, n, sizeof(*w->hist));
    w->score = alloc_n(w, n, sizeof(*w->score));
    w->rows = alloc_n(w, n, sizeof(*w->rows));
    w->viral = alloc_n(w, n, sizeof(*w->viral));
    w->succ = alloc_n(w, n, sizeof(*w->succ));
    char *series =
        au_arena_alloc(w->arena, strlen(b->platform) + strlen(b->chart) +
                                     strlen(b->region) + 4);
    if (!w->tkeys || !w->hkeys || !w->dims || !w->hist || !w->score ||
        !w->rows || !w->viral || !w->succ || !series)
        return oom(w);
    snprintf(series,
             strlen(b->platform) + strlen(b->chart) + strlen(b->region) + 4,
             "%s:%s:%s:", b->platform, b->chart, b->region);
    int chart_size = w->ctx->cfg.analytics.chart_size;
    for (size_t i = 0; i < n; i++) {
        const au_record_t *r = &b->records[i];
        w->tkeys[i] = r->track_key;
        w->hkeys[i] = join_key(w->arena, series, r->track_key);
        w->dims[2 * i] = join_key(w->arena, "t:", r->track_key);
        w->dims[2 * i + 1] = join_key(w->arena, "a:", r->artist_key);
        if (!w->hkeys[i] || !w->dims[2 * i] || !w->dims[2 * i + 1])
            return oom(w);
        w->score[i] = au_position_score(r->position, chart_size);
        w->hist[i].n = 0;
    }
    return 0;
}

/* ---- reads ------------------------------------------------------------ */

static int hist_row(void *arg, size_t i, const au_store_hist_t *h)
{
    history_t *hist = arg;
    hist_entry_t e = {h->day, h->position, h->streams};
    history_put(&hist[i], &e);
    return 0;
}

/* Cache first; the database for every track the cache does not hold (or
 * holds in a form it does not trust). */
static int load_history(work_t *w)
{
    size_t n = w->b->count, nmiss = 0;
    char **vals = calloc(n ? n : 1, sizeof(*vals));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    size_t *miss = alloc_n(w, n, sizeof(*miss));
    const char **mkeys = alloc_n(w, n, sizeof(*mkeys));
    history_t *mhist = alloc_n(w, n, sizeof(*mhist));
    int rc = 0;
    if (!vals || !lens || !miss || !mkeys || !mhist) {
        rc = oom(w);
        goto out;
    }
    if (w->ctx->cache)
        au_cache_mget(w->ctx->cache, AU_CK_HISTORY, n, w->hkeys, vals, lens);
    for (size_t i = 0; i < n; i++) {
        if (vals[i] && history_decode(vals[i], lens[i], &w->hist[i]) == 0)
            continue;
        miss[nmiss] = i;
        mkeys[nmiss] = w->tkeys[i];
        mhist[nmiss++].n = 0;
    }
    const au_batch_t *b = w->b;
    rc = au_store_read_history(w->c, b->platform, b->chart, b->region, nmiss,
                               mkeys, AU_HISTORY_KEEP, hist_row, mhist, w->err);
    for (size_t k = 0; rc == 0 && k < nmiss; k++)
        w->hist[miss[k]] = mhist[k];
out:
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(vals);
    free(lens);
    return rc;
}

/* Positions in the other charts, gathered before they are bucketed per
 * record. */
typedef struct {
    size_t *idx;
    int32_t *pos;
    size_t n, cap;
} cross_rows_t;

static int cross_row(void *arg, size_t i, int32_t position)
{
    cross_rows_t *x = arg;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 1024;
        size_t *idx = realloc(x->idx, cap * sizeof(*idx));
        if (idx)
            x->idx = idx;
        int32_t *pos = idx ? realloc(x->pos, cap * sizeof(*pos)) : NULL;
        if (!pos)
            return AU_ENOMEM;
        x->pos = pos;
        x->cap = cap;
    }
    x->idx[x->n] = i;
    x->pos[x->n++] = position;
    return 0;
}

/* Positions of this batch's tracks in the other charts and regions of the
 * same date: each is one "platform" score for the viral predictor, so a
 * track charting in thirty countries at once spreads wide. */
static int load_cross(work_t *w)
{
    const au_batch_t *b = w->b;
    size_t n = b->count;
    cross_rows_t x = {0};
    int rc = au_store_read_cross(w->c, b->platform, b->chart, b->region,
                                 b->date, n, w->tkeys, cross_row, &x, w->err);
    w->cross_start = alloc_n(w, n, sizeof(*w->cross_start));
    w->cross_count = alloc_n(w, n, sizeof(*w->cross_count));
    w->cross = alloc_n(w, n + x.n, sizeof(*w->cross));
    size_t *next = alloc_n(w, n, sizeof(*next));
    if (rc == 0 && (!w->cross_start || !w->cross_count || !w->cross || !next))
        rc = oom(w);
    if (rc < 0)
        goto out;
    int chart_size = w->ctx->cfg.analytics.chart_size;
    for (size_t i = 0; i < n; i++)
        w->cross_count[i] = 1;
    for (size_t k = 0; k < x.n; k++)
        w->cross_count[x.idx[k]]++;
    for (size_t i = 0, at = 0; i < n; i++) {
        w->cross_start[i] = at;
        w->cross[at] = w->score[i];
        next[i] = at + 1;
        at += w->cross_count[i];
    }
    for (size_t k = 0; k < x.n; k++)
        w->cross[next[x.idx[k]]++] = au_position_score(x.pos[k], chart_size);
out:
    free(x.idx);
    free(x.pos);
    return rc;
}

/* ---- scoring ----------------------------------------------------------- */

/* The newest entry strictly before the batch's date, or NULL. */
static const hist_entry_t *history_prev(const history_t *h, long day)
{
    const hist_entry_t *p = NULL;
    for (int i = 0; i < h->n && h->e[i].day < day; i++)
        p = &h->e[i];
    return p;
}

static void best_mood(const au_record_t *r, au_trend_t *t)
{
    t->mood = NULL;
    t->mood_score = NAN;
    if (!r->has_features)
        return;
    au_mood_features_t f = {r->valence, r->energy, r->danceability, r->tempo};
    for (int mood = 0; mood < AU_MOOD_COUNT; mood++) {
        double sc;
        if (au_mood_score(&f, (au_mood_t)mood, &sc, NULL) == 0 &&
            (t->mood == NULL || sc > t->mood_score)) {
            t->mood_score = sc;
            t->mood = au_mood_name((au_mood_t)mood);
        }
    }
}

/* Runs the ported scorers on record i. Inputs that do not exist (no
 * social signals in chart data, no audio features for most tracks, short
 * histories) stay missing: the predictor's documented fallbacks apply and
 * `confidence` is its measured_confidence, which gives them no credit
 * (docs/scorers.md). */
static void score_record(work_t *w, size_t i)
{
    const au_record_t *r = &w->b->records[i];
    const history_t *h = &w->hist[i];
    au_trend_t *t = &w->rows[i];
    au_viral_t *v = &w->viral[i];
    int chart_size = w->ctx->cfg.analytics.chart_size;
    au_point_t pts[AU_HISTORY_KEEP + 1];
    size_t np = 0;
    for (int k = 0; k < h->n && h->e[k].day < w->day; k++)
        pts[np++] =
            (au_point_t){AU_DATE_DAY_S * (double)h->e[k].day,
                         au_position_score(h->e[k].position, chart_size)};
    pts[np++] = (au_point_t){AU_DATE_DAY_S * (double)w->day, w->score[i]};

    au_viral_input_t in;
    au_viral_input_init(&in);
    in.platform_scores = w->cross + w->cross_start[i];
    in.n_platforms = w->cross_count[i];
    in.history = pts;
    in.n_history = np;
    if (r->has_features) {
        in.danceability = r->danceability;
        in.energy = r->energy;
        in.valence = r->valence;
    }
    t->has_analytics = 1;
    t->platform_score = w->score[i];
    t->momentum = t->acceleration = t->viral_score = t->confidence = NAN;
    if (au_viral_predict(&in, v) == 0) {
        t->momentum = v->momentum;
        t->acceleration = v->acceleration;
        t->viral_score = v->viral_score;
        t->confidence = v->measured_confidence;
    }
    t->direction = NULL;
    au_trend_metrics_t m;
    if (np >= AU_TREND_MIN_POINTS && au_trend_analyze(pts, np, &m) == 0)
        t->direction = au_direction_name(au_trend_direction(&m));
    best_mood(r, t);
}

static void build_rows(work_t *w)
{
    const au_batch_t *b = w->b;
    for (uint32_t i = 0; i < b->count; i++) {
        const au_record_t *r = &b->records[i];
        const hist_entry_t *prev = history_prev(&w->hist[i], w->day);
        w->rows[i] = (au_trend_t){.platform = b->platform,
                                  .chart = b->chart,
                                  .region = b->region,
                                  .date = b->date,
                                  .track_key = r->track_key,
                                  .spotify_id = r->track_id,
                                  .track_name = r->track_name,
                                  .artist = r->artist,
                                  .artist_key = r->artist_key,
                                  .position = r->position,
                                  .streams = r->streams,
                                  .score = w->score[i],
                                  .prev_position = prev ? prev->position : 0,
                                  .position_change =
                                      prev ? prev->position - r->position : 0,
                                  .job_id = b->job_id};
        score_record(w, i);
    }
}

/* The history says which tracks already have a later entry in this
 * series (a date arriving late): each such successor takes this batch's
 * position as its previous one. The history holds the newest entries, so
 * it knows for sure unless it is full and this date precedes all of it;
 * then the store's own set-based fix-up runs instead. */
static void plan_successors(work_t *w)
{
    const au_batch_t *b = w->b;
    w->nsucc = 0;
    w->flags |= AU_STORE_SKIP_SUCCESSORS;
    for (uint32_t i = 0; i < b->count; i++) {
        const history_t *h = &w->hist[i];
        int k = 0;
        while (k < h->n && h->e[k].day <= w->day)
            k++;
        if (k == h->n)
            continue;
        if (h->n == AU_HISTORY_KEEP && k == 0)
            w->flags &= ~(unsigned)AU_STORE_SKIP_SUCCESSORS;
        w->succ[w->nsucc++] =
            (au_successor_t){b->platform, b->chart,
                             b->region,   b->records[i].track_key,
                             h->e[k].day, b->records[i].position};
    }
}

/* ---- writes ------------------------------------------------------------ */

static int write_predictions(work_t *w)
{
    const au_batch_t *b = w->b;
    au_prediction_t *p = alloc_n(w, b->count, sizeof(*p));
    if (!p)
        return oom(w);
    size_t n = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        const au_viral_t *v = &w->viral[i];
        if (!(w->rows[i].viral_score >= w->ctx->cfg.analytics.viral_threshold))
            continue;
        char *feat = au_arena_alloc(w->arena, 256);
        if (!feat)
            return oom(w);
        snprintf(feat, 256,
                 "{\"viral_score\":%.4f,\"momentum\":%.4f,"
                 "\"acceleration\":%.4f,\"velocity\":%.4f,"
                 "\"peak_eta_days\":%d,\"risk\":\"%s\","
                 "\"recommendation\":\"%s\",\"missing\":%u}",
                 v->viral_score, v->momentum, v->acceleration, v->velocity,
                 v->peak_eta_days, au_risk_name(v->risk),
                 au_rec_name(v->recommendation), v->missing);
        p[n++] = (au_prediction_t){
            .track_key = w->rows[i].track_key,
            .track_name = w->rows[i].track_name,
            .artist = w->rows[i].artist,
            .confidence = v->measured_confidence,
            .prediction_day = w->day,
            .predicted_peak_day = w->day + v->peak_eta_days,
            .predicted_peak_score = v->viral_score,
            .features_json = feat,
        };
    }
    return au_store_write_predictions(w->c, p, n, w->err);
}

/* Track and artist keys this process has committed: a batch whose keys
 * are all here skips the dimension upserts. A bounded LRU, so memory stays
 * flat; forgetting a key only costs one redundant upsert. Rows are never
 * deleted from tracks or artists, so a remembered key stays true. */
#define KNOWN_MAX 200000
static void *known;

static int all_known(const char **keys, size_t n)
{
    if (!known)
        known = au_cache_local_new(KNOWN_MAX);
    if (!known || n == 0)
        return 0;
    char **vals = calloc(n, sizeof(*vals));
    size_t *lens = calloc(n, sizeof(*lens));
    int all = vals && lens &&
              au_cache_local_backend.mget(known, n, keys, vals, lens) == 0;
    for (size_t i = 0; vals && i < n; i++) {
        all = all && vals[i] != NULL;
        free(vals[i]);
    }
    free(vals);
    free(lens);
    return all;
}

static void remember(work_t *w)
{
    size_t n = 2 * (size_t)w->b->count;
    const char **vals = alloc_n(w, n, sizeof(*vals));
    size_t *lens = alloc_n(w, n, sizeof(*lens));
    if (!known || !vals || !lens)
        return;
    for (size_t i = 0; i < n; i++) {
        vals[i] = "";
        lens[i] = 0;
    }
    au_cache_local_backend.mset(known, n, w->dims, vals, lens, 0);
}

static int exec_simple(PGconn *c, const char *sql, au_error_t *err)
{
    return au_pg_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err);
}

/* The transaction, with the series lock held: everything or nothing. */
static int commit_locked(work_t *w, au_commit_t *res)
{
    int rc = exec_simple(w->c, "BEGIN", w->err);
    /* Every statement below probes indexes with keys from one batch. A
     * table that grew since its last ANALYZE makes the planner guess hash
     * joins over whole series instead; nested loops are always right
     * here, so say so rather than depend on autovacuum's timing. */
    if (rc == 0)
        rc = exec_simple(w->c, "SET LOCAL enable_hashjoin = off", w->err);
    if (rc == 0)
        rc = exec_simple(w->c, "SET LOCAL enable_mergejoin = off", w->err);
    if (rc == 0)
        rc = au_queue_batch_check(w->c, &w->ref, w->err);
    if (rc == 0)
        rc = load_history(w);
    if (rc == 0)
        rc = load_cross(w);
    if (rc < 0)
        return rc;
    build_rows(w);
    plan_successors(w);
    if (all_known(w->dims, 2 * (size_t)w->b->count))
        w->flags |= AU_STORE_SKIP_DIMENSIONS;
    size_t written = 0;
    rc = au_store_write_trends_opt(w->c, w->rows, w->b->count, w->flags,
                                   &written, w->err);
    if (rc == 0 && (w->flags & AU_STORE_SKIP_SUCCESSORS))
        rc = au_store_fix_successors(w->c, w->succ, w->nsucc, w->err);
    if (rc == 0)
        rc = write_predictions(w);
    if (rc == 0)
        rc = au_queue_batch_done(w->c, &w->ref, (long)written,
                                 w->ctx->cfg.queue.lease_s, &res->job_done,
                                 w->err);
    if (rc < 0)
        return rc;
    /* Drop the cached histories before COMMIT: if this process dies
     * between COMMIT and the refill below, readers fall back to the
     * database instead of trusting a list without this batch. */
    if (w->ctx->cache)
        au_cache_mdel(w->ctx->cache, AU_CK_HISTORY, w->b->count, w->hkeys);
    rc = exec_simple(w->c, "COMMIT", w->err);
    if (rc < 0)
        return rc;
    /* Only now: a failed attempt must leave the batch committable, and
     * only committed keys are remembered. */
    remember(w);
    res->applied = 1;
    res->rows = (long)written;
    return 0;
}

/* After COMMIT, still under the series lock: the histories with this
 * batch's entries go back to the cache. */
static void refill_history(work_t *w)
{
    if (!w->ctx->cache)
        return;
    size_t n = w->b->count;
    const char **vals = alloc_n(w, n, sizeof(*vals));
    size_t *lens = alloc_n(w, n, sizeof(*lens));
    unsigned char *bytes = alloc_n(w, n, AU_HISTORY_KEEP * HIST_BYTES);
    if (!vals || !lens || !bytes)
        return;
    for (size_t i = 0; i < n; i++) {
        const au_record_t *r = &w->b->records[i];
        hist_entry_t e = {w->day, r->position, r->streams};
        history_put(&w->hist[i], &e);
        unsigned char *out = bytes + i * AU_HISTORY_KEEP * HIST_BYTES;
        lens[i] = history_encode(&w->hist[i], out);
        vals[i] = (const char *)out;
    }
    au_cache_mset(w->ctx->cache, AU_CK_HISTORY, n, w->hkeys, vals, lens);
}

int au_analytics_commit(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                        au_commit_t *res, au_error_t *err)
{
    memset(res, 0, sizeof(*res));
    if (b->stage != AU_STAGE_ENRICHED)
        return au_error_set(err, AU_EINVAL, "batch is not enriched");
    work_t w = {.ctx = ctx, .b = b, .arena = arena, .err = err};
    int rc = work_init(&w);
    if (rc < 0)
        return rc;
    w.c = au_pool_get(ctx->pool, err);
    if (!w.c)
        return AU_ERETRY;
    rc = au_store_lock_series(w.c, b->platform, b->chart, b->region, 1, err);
    if (rc == 0) {
        rc = commit_locked(&w, res);
        if (rc < 0)
            PQclear(PQexec(w.c, "ROLLBACK"));
        else
            refill_history(&w);
        au_error_t uerr;
        au_store_lock_series(w.c, b->platform, b->chart, b->region, 0, &uerr);
    }
    au_pool_put(ctx->pool, w.c);
    return rc;
}

/* ---- the worker -------------------------------------------------------- */

static int analytics_batch(au_ctx_t *ctx, void *arg, au_batch_t *b,
                           au_arena_t *arena)
{
    (void)arg;
    au_error_t err = {0};
    int rc = 0;
    au_log_ctx_t lctx = {b->job_id, b->attempt, b->seq};
    au_commit_t res;
    long long t0 = au_now_ms();
    /* Deadlocks and lost connections are retried here; anything
     * else is left to the lease: the job comes back whole. */
    for (int tries = 0; tries < 5; tries++) {
        rc = au_analytics_commit(ctx, b, arena, &res, &err);
        if (rc != AU_ERETRY || au_stop_requested)
            break;
        au_log_ev(AU_LOG_WARN, &lctx, rc, "retrying commit: %s", err.msg);
        au_metrics_inc(ctx->metrics, AU_M_RETRIES, 1);
        au_arena_reset(arena);
        poll(NULL, 0, 100 << tries);
    }
    if (rc == 0) {
        au_metrics_observe_flush(ctx->metrics,
                                 (double)(au_now_ms() - t0) / 1000.0);
        au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
        au_metrics_inc(ctx->metrics, AU_M_RECORDS_OUT, (uint64_t)res.rows);
        if (res.job_done) {
            au_metrics_inc(ctx->metrics, AU_M_JOBS_DONE, 1);
            au_log_ev(AU_LOG_INFO, &lctx, 0, "job done");
        }
    } else if (rc == AU_EDUP || rc == AU_ESTALE || rc == AU_ENOTFOUND) {
        au_metrics_inc(ctx->metrics,
                       rc == AU_EDUP     ? AU_M_SKIPPED_DUPLICATE
                       : rc == AU_ESTALE ? AU_M_SKIPPED_STALE
                                         : AU_M_SKIPPED_GONE,
                       1);
        au_log_ev(AU_LOG_INFO, &lctx, rc, "batch skipped: %s", err.msg);
    } else {
        au_metrics_error(ctx->metrics, rc);
        au_log_ev(AU_LOG_ERROR, &lctx, rc, "batch not committed: %s", err.msg);
    }
    return rc;
}

int au_analytics_main(au_ctx_t *ctx)
{
    au_error_t err = {0};
    void *pull = au_zmq_socket(ctx->zctx, ZMQ_PULL, ctx->cfg.zmq.analytics_out,
                               0, &ctx->cfg, &err);
    if (!pull) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        return 1;
    }
    int rc = au_consumer_run(ctx, "analytics", pull, analytics_batch, NULL);
    zmq_close(pull);
    return rc;
}
