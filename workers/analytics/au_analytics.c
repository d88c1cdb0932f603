/* au_analytics.c: the analytics stage. One batch becomes one transaction:
 * fence, plan and ledger check, the series lock, the history reads, the
 * derived values of the batch's entries (and of the entries a late date
 * changes), the rows, the predictions and the ledger entry
 * (docs/ARCHITECTURE.md, "Delivery" and "Derived columns"). */
#include "au_analytics.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_breakout.h"
#include "au_bytes.h"
#include "au_consumer.h"
#include "au_date.h"
#include "au_digest.h"
#include "au_keys.h"
#include "au_log.h"
#include "au_queue.h"
#include "au_score.h"
#include "au_store.h"
#include "au_zmq.h"

#define K AU_ENTRY_HISTORY

/* ---- identities: names to numbers, remembered -------------------------- */

/* Bounded LRUs, so memory stays flat; forgetting costs one lookup. A
 * series id never changes; a track's id never changes. A stored spelling
 * (of a track, of an artist) is the minimum of (chart date, spelling)
 * over every chart that listed it, so it only ever moves earlier: the
 * (day, spelling) remembered from the last chart sent to the store is an
 * upper bound of it, and a chart after that day cannot change it. */
#define IDS_MAX 200000
static void *series_ids, *track_ids, *artist_keys;
static int64_t ids_instance; /* the store they were learnt from; 0: none */

static int ids_ready(void)
{
    if (!series_ids)
        series_ids = au_cache_local_new(4096);
    if (!track_ids)
        track_ids = au_cache_local_new(IDS_MAX);
    if (!artist_keys)
        artist_keys = au_cache_local_new(IDS_MAX);
    return series_ids && track_ids && artist_keys;
}

static void forget_ids(void)
{
    void **lru[] = {&series_ids, &track_ids, &artist_keys};
    for (size_t i = 0; i < 3; i++) {
        if (*lru[i])
            au_cache_local_backend.destroy(*lru[i]);
        *lru[i] = NULL;
    }
    ids_instance = 0;
}

/* ---- one batch's work ---------------------------------------------------- */

/* Entries of one track in the batch's series: the newest K (or, for a
 * late date, up to K before it and K + 1 from it on). */
typedef struct {
    int n;
    au_store_hist_t e[2 * K + 2];
} hist_t;

typedef struct {
    au_ctx_t *ctx;
    PGconn *c;
    au_batch_t *b;
    au_arena_t *arena;
    au_error_t *err;
    au_batch_ref_t ref;
    long day;
    int weekly; /* a weekly chart: the breakout model applies */
    int32_t series_id;
    int32_t *ids;        /* track id per record */
    hist_t *hist;        /* per record */
    unsigned char *late; /* 1: the series has this track at day or later */
    size_t nlate;
    au_trend_t *fresh, *redo, *succ; /* rows by how they are written */
    size_t nfresh, nredo, nsucc;
    au_prediction_t *pred;
    size_t npred;
    au_entry_key_t *cleared; /* entries whose predictions are rewritten */
    size_t ncleared;
} work_t;

static int oom(work_t *w)
{
    return au_error_set(w->err, AU_ENOMEM, "analytics: out of memory");
}

static void *alloc_n(work_t *w, size_t n, size_t size)
{
    return au_arena_alloc(w->arena, (n ? n : 1) * size);
}

static int work_init(work_t *w)
{
    au_batch_t *b = w->b;
    size_t n = b->count;
    au_date_parse(b->date, strlen(b->date), &w->day);
    w->weekly = strcmp(b->chart, "weekly") == 0;
    w->ref = (au_batch_ref_t){.job_id = b->job_id,
                              .attempt = b->attempt,
                              .seq = b->seq,
                              .nbatches = b->nbatches,
                              .day = w->day};
    /* The fingerprint of what arrived, against the one ingest recorded. */
    au_digest_batch(b, w->ref.digest);
    w->ids = alloc_n(w, n, sizeof(*w->ids));
    w->hist = alloc_n(w, n, sizeof(*w->hist));
    w->late = alloc_n(w, n, 1);
    w->fresh = alloc_n(w, n, sizeof(*w->fresh));
    w->redo = alloc_n(w, n, sizeof(*w->redo));
    w->succ = alloc_n(w, n * (K + 1), sizeof(*w->succ));
    w->pred = alloc_n(w, n * (K + 2), sizeof(*w->pred));
    w->cleared = alloc_n(w, n * (K + 2), sizeof(*w->cleared));
    if (!w->ids || !w->hist || !w->late || !w->fresh || !w->redo || !w->succ ||
        !w->pred || !w->cleared)
        return oom(w);
    memset(w->late, 0, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        w->hist[i].n = 0;
        /* The keys decide which stored track a row is: they must be the
         * ones the record's own fields give (the plan's fingerprint
         * covers those fields, not what enrich added). */
        int rc = au_keys_check(&b->records[i], i, w->err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int series_of(work_t *w)
{
    const au_batch_t *b = w->b;
    const char *parts[] = {b->platform, b->chart, b->region};
    char key[40];
    au_cache_key(key, sizeof(key), "s", 3, parts);
    const char *keys[] = {key};
    char *val = NULL;
    size_t len = 0;
    au_cache_local_backend.mget(series_ids, 1, keys, &val, &len);
    if (val && len == 4) {
        w->series_id = (int32_t)au_get_u32((unsigned char *)val);
        free(val);
        return 0;
    }
    free(val);
    int rc = au_store_series_id(w->c, b->platform, b->chart, b->region,
                                &w->series_id, w->err);
    if (rc < 0)
        return rc;
    unsigned char v[4];
    au_put_u32(v, (uint32_t)w->series_id);
    const char *vals[] = {(const char *)v};
    size_t lens[] = {4};
    au_cache_local_backend.mset(series_ids, 1, keys, vals, lens, 0);
    return 0;
}

/* Remembered per track: id, day, a hash of the spelling (name, artist);
 * per artist: day, a hash of its spelling. */
#define TRACK_VAL 12
#define ARTIST_VAL 8

static uint32_t spelling(const char *a, const char *b)
{
    const char *parts[] = {a, b ? b : ""};
    return (uint32_t)au_cache_hash(2, parts);
}

/* 1 when this chart may change what the store holds for a remembered
 * (day, spelling): an earlier day, or the same day and another spelling
 * (the store keeps the smaller). */
static int may_change(const unsigned char *v, long day, uint32_t hash)
{
    long was = (int32_t)au_get_u32(v);
    return day < was || (day == was && hash != au_get_u32(v + 4));
}

static int need_lookup(work_t *w, size_t i, const char *tval, size_t tlen,
                       const char *aval, size_t alen)
{
    const au_record_t *r = &w->b->records[i];
    if (!tval || tlen != TRACK_VAL || !aval || alen != ARTIST_VAL)
        return 1;
    const unsigned char *t = (const unsigned char *)tval;
    w->ids[i] = (int32_t)au_get_u32(t);
    return may_change(t + 4, w->day, spelling(r->track_name, r->artist)) ||
           may_change((const unsigned char *)aval, w->day,
                      spelling(r->artist, NULL));
}

static void remember(work_t *w, const size_t *idx, size_t m, const char **tkeys,
                     const char **akeys)
{
    unsigned char *bytes = alloc_n(w, m, TRACK_VAL + ARTIST_VAL);
    const char **tv = alloc_n(w, m, sizeof(*tv)),
               **av = alloc_n(w, m, sizeof(*av));
    size_t *tl = alloc_n(w, m, sizeof(*tl)), *al = alloc_n(w, m, sizeof(*al));
    if (!bytes || !tv || !av || !tl || !al)
        return;
    for (size_t k = 0; k < m; k++) {
        const au_record_t *r = &w->b->records[idx[k]];
        unsigned char *t = bytes + k * (TRACK_VAL + ARTIST_VAL);
        unsigned char *a = t + TRACK_VAL;
        au_put_u32(t, (uint32_t)w->ids[idx[k]]);
        au_put_u32(t + 4, (uint32_t)(int32_t)w->day);
        au_put_u32(t + 8, spelling(r->track_name, r->artist));
        au_put_u32(a, (uint32_t)(int32_t)w->day);
        au_put_u32(a + 4, spelling(r->artist, NULL));
        tv[k] = (const char *)t;
        av[k] = (const char *)a;
        tl[k] = TRACK_VAL;
        al[k] = ARTIST_VAL;
    }
    au_cache_local_backend.mset(track_ids, m, tkeys, tv, tl, 0);
    au_cache_local_backend.mset(artist_keys, m, akeys, av, al, 0);
}

/* Track ids for every record, asking the store only about tracks and
 * artists not remembered, or whose stored spelling this chart may change
 * (every artist key any chart listed is stored, whoever its tracks are). */
static int tracks_of(work_t *w)
{
    const au_batch_t *b = w->b;
    size_t n = b->count, m = 0;
    const char **keys = alloc_n(w, 2 * n, sizeof(*keys));
    char **vals = calloc(2 * n + 1, sizeof(*vals));
    size_t *lens = calloc(2 * n + 1, sizeof(*lens));
    size_t *idx = alloc_n(w, n, sizeof(*idx));
    au_track_ref_t *refs = alloc_n(w, n, sizeof(*refs));
    int32_t *got = alloc_n(w, n, sizeof(*got));
    const char **mkeys = alloc_n(w, 2 * n, sizeof(*mkeys));
    int rc = keys && vals && lens && idx && refs && got && mkeys ? 0 : oom(w);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        keys[i] = b->records[i].track_key;
        keys[n + i] = b->records[i].artist_key;
    }
    if (rc == 0) {
        au_cache_local_backend.mget(track_ids, n, keys, vals, lens);
        au_cache_local_backend.mget(artist_keys, n, keys + n, vals + n,
                                    lens + n);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!need_lookup(w, i, vals[i], lens[i], vals[n + i], lens[n + i]))
            continue;
        const au_record_t *r = &b->records[i];
        refs[m] = (au_track_ref_t){r->track_key, r->track_id,   r->track_name,
                                   r->artist,    r->artist_key, w->day};
        mkeys[m] = r->track_key;
        mkeys[n + m] = r->artist_key;
        idx[m++] = i;
    }
    if (rc == 0 && m > 0)
        rc = au_store_resolve_tracks(w->c, refs, m, got, w->err);
    for (size_t k = 0; rc == 0 && k < m; k++)
        w->ids[idx[k]] = got[k];
    if (rc == 0 && m > 0)
        remember(w, idx, m, mkeys, mkeys + n);
    for (size_t i = 0; vals && i < 2 * n; i++)
        free(vals[i]);
    free(vals);
    free(lens);
    return rc;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* A chart lists a track once; a batch that does not is no chart. */
static int check_unique(work_t *w)
{
    size_t n = w->b->count;
    int32_t *s = alloc_n(w, n, sizeof(*s));
    if (!s)
        return oom(w);
    memcpy(s, w->ids, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_i32);
    for (size_t i = 1; i < n; i++) {
        if (s[i] != s[i - 1])
            continue;
        for (size_t k = 0; k < n; k++)
            if (w->ids[k] == s[i])
                return au_error_set(w->err, AU_EINVAL,
                                    "track %s listed twice in one chart",
                                    w->b->records[k].track_key);
    }
    return 0;
}

/* ---- reads -------------------------------------------------------------- */

static int hist_row(void *arg, size_t i, const au_store_hist_t *h)
{
    hist_t *hist = arg;
    if (hist[i].n < 2 * K + 2)
        hist[i].e[hist[i].n++] = *h;
    return 0;
}

static int cmp_day(const void *a, const void *b)
{
    long x = ((const au_store_hist_t *)a)->day;
    long y = ((const au_store_hist_t *)b)->day;
    return (x > y) - (x < y);
}

/* The newest entries of every track; a track with one at the batch's
 * date or later is late, and its entries around the date are read. */
static int load_history(work_t *w)
{
    size_t n = w->b->count;
    int rc = au_store_read_newest(w->c, w->series_id, n, w->ids, K, hist_row,
                                  w->hist, w->err);
    if (rc < 0)
        return rc;
    int32_t *late_ids = alloc_n(w, n, sizeof(*late_ids));
    size_t *late_idx = alloc_n(w, n, sizeof(*late_idx));
    hist_t *around = alloc_n(w, n, sizeof(*around));
    if (!late_ids || !late_idx || !around)
        return oom(w);
    w->nlate = 0;
    for (size_t i = 0; i < n; i++) {
        hist_t *h = &w->hist[i];
        if (h->n > 0 && h->e[0].day >= w->day) {
            w->late[i] = 1;
            late_idx[w->nlate] = i;
            around[w->nlate].n = 0;
            late_ids[w->nlate++] = w->ids[i];
        }
        qsort(h->e, (size_t)h->n, sizeof(h->e[0]), cmp_day);
    }
    if (w->nlate == 0)
        return 0;
    rc = au_store_read_around(w->c, w->series_id, w->nlate, late_ids, w->day, K,
                              K + 1, hist_row, around, w->err);
    for (size_t k = 0; rc == 0 && k < w->nlate; k++) {
        qsort(around[k].e, (size_t)around[k].n, sizeof(around[k].e[0]),
              cmp_day);
        w->hist[late_idx[k]] = around[k];
    }
    return rc;
}

/* ---- derived values ------------------------------------------------------ */

/* Scores the entry `row` (its key and facts set) with the entries of h
 * before it (at most K, the newest). */
static int derive(work_t *w, const au_record_t *r, const au_store_hist_t *h,
                  int nh, au_trend_t *row, au_entry_t *e)
{
    au_entry_hist_t eh[K];
    int from = nh > K ? nh - K : 0, m = 0;
    long day = row->day;
    for (int k = from; k < nh; k++)
        eh[m++] = (au_entry_hist_t){h[k].day, h[k].position, h[k].streams};
    au_entry_in_t in = {.day = day,
                        .position = row->position,
                        .streams = row->streams,
                        .chart_size = w->ctx->cfg.analytics.chart_size,
                        .weekly = w->weekly,
                        .history = eh,
                        .n_history = (size_t)m,
                        .has_features = r->has_features,
                        .danceability = r->danceability,
                        .energy = r->energy,
                        .valence = r->valence,
                        .tempo = r->tempo};
    int rc = au_entry_score(&in, e);
    if (rc < 0)
        return au_error_set(w->err, rc, "scoring %s on day %ld: %s",
                            r->track_key, day, au_strerror(rc));
    row->prev_position = e->prev_position;
    row->score = e->score;
    row->momentum = e->viral.momentum;
    row->acceleration = e->viral.acceleration;
    row->viral_score = e->viral.viral_score;
    row->confidence = e->viral.measured_confidence;
    row->mood_score = e->mood_score;
    row->direction = e->direction;
    row->mood = e->mood;
    row->breakout = e->breakout;
    return 0;
}

/* The prediction of an entry, if it gets one. A weekly chart's entry is
 * predicted by the breakout model (docs/backtest.md: it ranks weekly
 * charts better than the ported predictor): its chance of reaching the
 * top 50 within 4 weeks, from analytics.breakout_threshold. Other charts
 * by the ported viral predictor, from analytics.viral_threshold. */
static int predict(work_t *w, const au_trend_t *row, const au_entry_t *e)
{
    const au_config_t *cfg = &w->ctx->cfg;
    const au_viral_t *v = &e->viral;
    char *feat = au_arena_alloc(w->arena, 320);
    if (!feat)
        return oom(w);
    if (w->weekly) {
        if (!(row->breakout * 100.0 >= cfg->analytics.breakout_threshold))
            return 0;
        snprintf(feat, 320,
                 "{\"model\":\"breakout-top50\",\"probability\":%.4f,"
                 "\"line\":%d,\"horizon_weeks\":%d,\"viral_score\":%.4f}",
                 row->breakout, au_breakout_top50.line, AU_BT_MODEL_HORIZON,
                 v->viral_score);
        w->pred[w->npred++] =
            (au_prediction_t){row->series_id,
                              row->track_id,
                              row->day,
                              row->breakout,
                              row->day + 7 * AU_BT_MODEL_HORIZON,
                              NAN,
                              feat,
                              "breakout"};
        return 0;
    }
    if (!(row->viral_score >= cfg->analytics.viral_threshold))
        return 0;
    snprintf(feat, 320,
             "{\"viral_score\":%.4f,\"momentum\":%.4f,"
             "\"acceleration\":%.4f,\"velocity\":%.4f,"
             "\"peak_eta_days\":%d,\"risk\":\"%s\","
             "\"recommendation\":\"%s\",\"missing\":%u}",
             v->viral_score, v->momentum, v->acceleration, v->velocity,
             v->peak_eta_days, au_risk_name(v->risk),
             au_rec_name(v->recommendation), v->missing);
    w->pred[w->npred++] = (au_prediction_t){row->series_id,
                                            row->track_id,
                                            row->day,
                                            v->measured_confidence,
                                            row->day + v->peak_eta_days,
                                            v->viral_score,
                                            feat,
                                            "viral"};
    return 0;
}

static au_trend_t fact_row(const work_t *w, int32_t track_id, long day,
                           int32_t position, int64_t streams)
{
    return (au_trend_t){.series_id = w->series_id,
                        .track_id = track_id,
                        .day = day,
                        .position = position,
                        .streams = streams};
}

/* A late date changes the entries after it: each of the K that follow
 * reads it (or reads past it) as history. */
static int derive_successors(work_t *w, size_t i, const au_store_hist_t *m,
                             int nm)
{
    const au_record_t *r = &w->b->records[i];
    for (int k = 0; k < nm; k++) {
        if (m[k].day <= w->day)
            continue;
        au_trend_t *row = &w->succ[w->nsucc];
        *row = fact_row(w, w->ids[i], m[k].day, m[k].position, m[k].streams);
        au_entry_t e;
        int rc = derive(w, r, m, k, row, &e);
        if (rc == 0)
            rc = predict(w, row, &e);
        if (rc < 0)
            return rc;
        w->cleared[w->ncleared++] =
            (au_entry_key_t){w->series_id, w->ids[i], m[k].day};
        w->nsucc++;
    }
    return 0;
}

/* The batch's own entry of record i, then (for a late date) the entries
 * after it, with the batch's entry merged into the history they read. */
static int derive_record(work_t *w, size_t i)
{
    const au_record_t *r = &w->b->records[i];
    const hist_t *h = &w->hist[i];
    int before = 0, at = -1;
    while (before < h->n && h->e[before].day < w->day)
        before++;
    if (before < h->n && h->e[before].day == w->day)
        at = before;
    au_trend_t row = fact_row(w, w->ids[i], w->day, r->position, r->streams);
    au_entry_t e;
    int rc = derive(w, r, h->e, before, &row, &e);
    if (rc == 0)
        rc = predict(w, &row, &e);
    if (rc < 0)
        return rc;
    if (at < 0 && !w->late[i]) {
        w->fresh[w->nfresh++] = row;
        return 0;
    }
    w->redo[w->nredo++] = row;
    w->cleared[w->ncleared++] =
        (au_entry_key_t){w->series_id, w->ids[i], w->day};
    /* The merged entries: the history before, this batch's entry, the
     * stored entries after (the stored one of this date is replaced). */
    au_store_hist_t m[2 * K + 2];
    int nm = 0;
    for (int k = 0; k < before; k++)
        m[nm++] = h->e[k];
    m[nm++] = (au_store_hist_t){w->day, r->position, r->streams};
    for (int k = before + (at >= 0); k < h->n && nm < 2 * K + 2; k++)
        m[nm++] = h->e[k];
    return derive_successors(w, i, m, nm);
}

/* ---- the transaction ------------------------------------------------------
 */

static int exec_simple(PGconn *c, const char *sql, au_error_t *err)
{
    return au_pg_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err);
}

static int write_all(work_t *w, au_commit_t *res)
{
    int rc =
        au_store_write_trends(w->c, w->fresh, w->nfresh, AU_WRITE_NEW, w->err);
    if (rc == 0)
        rc = au_store_write_trends(w->c, w->redo, w->nredo, AU_WRITE_UPSERT,
                                   w->err);
    if (rc == 0)
        rc = au_store_write_trends(w->c, w->succ, w->nsucc, AU_WRITE_DERIVED,
                                   w->err);
    if (rc == 0)
        rc = au_store_write_predictions(w->c, w->cleared, w->ncleared, w->pred,
                                        w->npred, w->err);
    if (rc == 0)
        rc = au_queue_batch_done(w->c, &w->ref, (long)w->b->count,
                                 w->ctx->cfg.queue.lease_s, &res->job_done,
                                 w->err);
    return rc;
}

/* Everything or nothing, under the job's row lock and the series lock. */
static int commit_tx(work_t *w, au_commit_t *res)
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
    w->ref.series_id = w->series_id;
    if (rc == 0)
        rc = au_queue_batch_check(w->c, &w->ref, w->err);
    int64_t instance = 0;
    if (rc == 0)
        rc = au_store_lock_series(w->c, w->series_id, &instance, w->err);
    if (rc == 0 && instance != ids_instance)
        rc = au_error_set(w->err, AU_ERETRY,
                          "the store is not the one the remembered ids "
                          "came from");
    if (rc == 0)
        rc = load_history(w);
    for (size_t i = 0; rc == 0 && i < w->b->count; i++)
        rc = derive_record(w, i);
    if (rc == 0)
        rc = write_all(w, res);
    if (rc == 0)
        rc = exec_simple(w->c, "COMMIT", w->err);
    if (rc < 0)
        return rc;
    res->applied = 1;
    res->rows = (long)w->b->count;
    return 0;
}

int au_analytics_commit(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                        au_commit_t *res, au_error_t *err)
{
    memset(res, 0, sizeof(*res));
    if (b->stage != AU_STAGE_ENRICHED)
        return au_error_set(err, AU_EINVAL, "batch is not enriched");
    if (!ids_ready())
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    work_t w = {.ctx = ctx, .b = b, .arena = arena, .err = err};
    int rc = work_init(&w);
    if (rc < 0)
        return rc;
    w.c = au_pool_get(ctx->pool, err);
    if (!w.c)
        return AU_ERETRY;
    if (ids_instance == 0)
        rc = au_store_instance(w.c, &ids_instance, err);
    if (rc == 0)
        rc = series_of(&w);
    if (rc == 0)
        rc = tracks_of(&w);
    if (rc == 0)
        rc = check_unique(&w);
    if (rc == 0) {
        rc = commit_tx(&w, res);
        if (rc < 0)
            PQclear(PQexec(w.c, "ROLLBACK"));
    }
    au_pool_put(ctx->pool, w.c);
    /* A database restored from a backup may have other ids: after a
     * failure nothing remembered is trusted. */
    if (rc < 0 && rc != AU_EDUP && rc != AU_ESTALE && rc != AU_EMISMATCH)
        forget_ids();
    return rc;
}

/* ---- the worker ------------------------------------------------------------
 */

/* Errors no retry can fix: the batch says something the store refuses. */
static int permanent(int rc)
{
    return rc == AU_EINVAL || rc == AU_ERANGE;
}

/* Tells the queue: a cause no retry can fix ends the job now with it;
 * any other is kept for the message when the lease runs out. */
static void report(au_ctx_t *ctx, const au_batch_t *b, int dead,
                   const au_error_t *e)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c)
        return;
    char reason[300];
    snprintf(reason, sizeof(reason), "analytics: %s", e->msg);
    if (!dead)
        au_queue_note(c, b->job_id, b->attempt, reason, &err);
    else if (au_queue_fail(c, b->job_id, b->attempt, reason, 1,
                           ctx->cfg.queue.backoff_base_ms,
                           ctx->cfg.queue.backoff_max_ms, &err) == 0)
        au_metrics_inc(ctx->metrics, AU_M_DEAD_JOBS, 1);
    au_pool_put(ctx->pool, c);
}

static void account(au_ctx_t *ctx, const au_batch_t *b, int rc,
                    const au_commit_t *res, const au_error_t *err, long long t0)
{
    au_log_ctx_t lctx = {b->job_id, b->attempt, b->seq};
    if (rc == 0) {
        au_metrics_observe_flush(ctx->metrics,
                                 (double)(au_now_ms() - t0) / 1000.0);
        au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
        au_metrics_inc(ctx->metrics, AU_M_RECORDS_OUT, (uint64_t)res->rows);
        if (res->job_done) {
            au_metrics_inc(ctx->metrics, AU_M_JOBS_DONE, 1);
            au_log_ev(AU_LOG_INFO, &lctx, 0, "job done");
        }
    } else if (rc == AU_EDUP || rc == AU_ESTALE || rc == AU_ENOTFOUND ||
               rc == AU_EMISMATCH) {
        au_metrics_inc(ctx->metrics,
                       rc == AU_EDUP        ? AU_M_SKIPPED_DUPLICATE
                       : rc == AU_ESTALE    ? AU_M_SKIPPED_STALE
                       : rc == AU_EMISMATCH ? AU_M_SKIPPED_MISMATCH
                                            : AU_M_SKIPPED_GONE,
                       1);
        au_log_ev(AU_LOG_INFO, &lctx, rc, "batch skipped: %s", err->msg);
    } else if (permanent(rc)) {
        au_metrics_error(ctx->metrics, rc);
        au_log_ev(AU_LOG_ERROR, &lctx, rc, "job dead: %s", err->msg);
        report(ctx, b, 1, err);
    } else {
        au_metrics_error(ctx->metrics, rc);
        au_log_ev(AU_LOG_ERROR, &lctx, rc, "batch not committed: %s", err->msg);
        report(ctx, b, 0, err);
    }
}

/* A batch waiting for a lock (another writer of its series, or a paused
 * one the server has not ended yet) is still being worked on: its job
 * keeps its lease, and the lease says why it waits. Best effort: if the
 * job's own row is what is locked, the sweeper decides. */
static void keep_lease(au_ctx_t *ctx, const au_batch_t *b,
                       const au_error_t *why)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c)
        return;
    char activity[300];
    snprintf(activity, sizeof(activity), "analytics retrying batch %d: %s",
             (int)b->seq, why->msg);
    au_queue_extend(c, b->job_id, b->attempt, ctx->cfg.queue.lease_s, activity,
                    &err);
    au_pool_put(ctx->pool, c);
}

static int analytics_batch(au_ctx_t *ctx, void *arg, au_batch_t *b,
                           au_arena_t *arena)
{
    (void)arg;
    au_error_t err = {0};
    int rc = 0;
    au_log_ctx_t lctx = {b->job_id, b->attempt, b->seq};
    au_commit_t res = {0};
    long long t0 = au_now_ms();
    /* Deadlocks, lock timeouts and lost connections are retried here;
     * anything else is left to the lease: the job comes back whole. */
    for (int tries = 0; tries < 5; tries++) {
        rc = au_analytics_commit(ctx, b, arena, &res, &err);
        if (rc != AU_ERETRY || au_drain_expired())
            break;
        au_log_ev(AU_LOG_WARN, &lctx, rc, "retrying commit: %s", err.msg);
        au_metrics_inc(ctx->metrics, AU_M_RETRIES, 1);
        keep_lease(ctx, b, &err);
        au_arena_reset(arena);
        poll(NULL, 0, 100 << tries);
    }
    account(ctx, b, rc, &res, &err, t0);
    return rc;
}

int au_analytics_main(au_ctx_t *ctx)
{
    au_error_t err = {0};
    void *sock = au_zmq_socket(ctx->zctx, ZMQ_DEALER,
                               ctx->cfg.zmq.analytics_out, 0, &ctx->cfg, &err);
    if (!sock) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        return 1;
    }
    int rc = au_consumer_run(ctx, "analytics", sock, analytics_batch, NULL);
    zmq_close(sock);
    forget_ids();
    return rc;
}
