#include "au_analytics.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_date.h"
#include "au_log.h"
#include "au_queue.h"
#include "au_score.h"
#include "au_stage.h"
#include "au_store.h"
#include "au_zmq.h"

typedef struct {
    char date[11];
    int32_t position;
    int64_t streams;
} hist_entry_t;

typedef struct {
    int n;
    hist_entry_t e[AU_HISTORY_KEEP + 1];
} history_t;

/* "YYYY-MM-DD,pos,streams;..." in date order. */
static void history_parse(const char *s, history_t *h)
{
    h->n = 0;
    while (*s && h->n < AU_HISTORY_KEEP) {
        hist_entry_t *e = &h->e[h->n];
        if (strlen(s) < 12 || s[10] != ',')
            return;
        memcpy(e->date, s, 10);
        e->date[10] = '\0';
        char *end;
        e->position = (int32_t)strtol(s + 11, &end, 10);
        if (*end != ',')
            return;
        e->streams = strtoll(end + 1, &end, 10);
        h->n++;
        if (*end != ';')
            return;
        s = end + 1;
    }
}

static int history_format(const history_t *h, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < h->n; i++) {
        int w = snprintf(out + n, cap - n, "%s%s,%d,%lld", i ? ";" : "",
                         h->e[i].date, (int)h->e[i].position,
                         (long long)h->e[i].streams);
        if (w < 0 || (size_t)w >= cap - n)
            return AU_ETOOBIG;
        n += (size_t)w;
    }
    return (int)n;
}

/* Inserts (or replaces) the entry for e->date, keeping date order and the
 * newest AU_HISTORY_KEEP entries. */
static void history_put(history_t *h, const hist_entry_t *e)
{
    int i = 0;
    while (i < h->n && strcmp(h->e[i].date, e->date) < 0)
        i++;
    if (i < h->n && strcmp(h->e[i].date, e->date) == 0) {
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

/* The newest entry strictly before date, or NULL. */
static const hist_entry_t *history_prev(const history_t *h, const char *date)
{
    const hist_entry_t *p = NULL;
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->e[i].date, date) < 0)
            p = &h->e[i];
    return p;
}

static uint64_t series_lock_key(const au_batch_t *b)
{
    const char *parts[] = {b->platform, b->chart, b->region};
    char key[64];
    au_cache_key(key, sizeof(key), "s", 3, parts);
    /* The key ends in 16 hex digits; fold to a signed bigint. */
    return strtoull(key + strlen(key) - 16, NULL, 16);
}

static int load_history(au_ctx_t *ctx, PGconn *c, const au_batch_t *b,
                        const char **keys, history_t *hist, au_error_t *err)
{
    size_t n = b->count, nmiss = 0;
    char **vals = calloc(n, sizeof(*vals));
    size_t *lens = calloc(n, sizeof(*lens));
    au_buf_t lit = {0};
    int rc = 0;
    if (!vals || !lens) {
        rc = au_error_set(err, AU_ENOMEM, "analytics: out of memory");
        goto out;
    }
    if (ctx->cache)
        au_cache_mget(ctx->cache, AU_CK_HISTORY, n, keys, vals, lens);
    const char **missing = calloc(n ? n : 1, sizeof(*missing));
    if (!missing) {
        rc = au_error_set(err, AU_ENOMEM, "analytics: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        hist[i].n = 0;
        if (vals[i])
            history_parse(vals[i], &hist[i]);
        else
            missing[nmiss++] = b->records[i].track_key;
    }
    rc = au_buf_text_array(&lit, nmiss, missing);
    free(missing);
    if (rc) {
        rc = au_error_set(err, AU_ENOMEM, "analytics: out of memory");
        goto out;
    }
    if (nmiss == 0)
        goto out;
    char keep[8];
    snprintf(keep, sizeof(keep), "%d", AU_HISTORY_KEEP);
    const char *p[] = {b->platform, b->chart, b->region, lit.data, keep};
    PGresult *r;
    rc = au_pg_exec(c,
                    "SELECT track_key, chart_date::text, position, "
                    " coalesce(streams, -1) FROM ("
                    " SELECT track_key, chart_date, position, streams,"
                    "  row_number() OVER (PARTITION BY track_key"
                    "   ORDER BY chart_date DESC) AS rn"
                    " FROM trends WHERE platform = $1 AND chart = $2"
                    "  AND region = $3 AND track_key = ANY($4::text[])) x"
                    " WHERE rn <= $5::int ORDER BY track_key, chart_date",
                    5, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        goto out;
    /* Rows come grouped by track key; records are matched by key. A batch
     * holds each track once, so a linear scan per group is fine. */
    for (int row = 0; row < PQntuples(r); row++) {
        const char *tk = PQgetvalue(r, row, 0);
        for (size_t i = 0; i < n; i++) {
            if (vals[i] || strcmp(b->records[i].track_key, tk) != 0)
                continue;
            hist_entry_t e;
            snprintf(e.date, sizeof(e.date), "%s", PQgetvalue(r, row, 1));
            e.position = (int32_t)strtol(PQgetvalue(r, row, 2), NULL, 10);
            e.streams = strtoll(PQgetvalue(r, row, 3), NULL, 10);
            history_put(&hist[i], &e);
        }
    }
    PQclear(r);
out:
    for (size_t i = 0; vals && i < n; i++)
        free(vals[i]);
    free(vals);
    free(lens);
    au_buf_free(&lit);
    return rc;
}

static int exec_simple(PGconn *c, const char *sql, au_error_t *err)
{
    return au_pg_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err);
}

static int lock_series(PGconn *c, uint64_t key, int lock, au_error_t *err)
{
    char k[24];
    snprintf(k, sizeof(k), "%lld", (long long)key);
    const char *p[] = {k};
    return au_pg_exec(c,
                      lock ? "SELECT pg_advisory_lock($1::bigint)"
                           : "SELECT pg_advisory_unlock($1::bigint)",
                      1, p, PGRES_TUPLES_OK, NULL, err);
}

/* Days since 1970-01-01 of a date the decoder has already checked. */
static long days_from_date(const char *d)
{
    long days = 0;
    au_date_parse(d, strlen(d), &days);
    return days;
}

/* Positions of this batch's tracks in the other charts and regions of the
 * same date: each is one "platform" score for the viral predictor, so a
 * track charting in thirty countries at once spreads wide. */
typedef struct {
    size_t *start; /* per record: where its scores begin in all[] */
    size_t *count; /* per record: how many (its own chart's first) */
    double *all;
} cross_t;

static int load_cross(au_ctx_t *ctx, PGconn *c, const au_batch_t *b,
                      au_arena_t *arena, cross_t *x, au_error_t *err)
{
    size_t n = b->count;
    au_buf_t lit = {0};
    const char **keys = au_arena_alloc(arena, (n ? n : 1) * sizeof(*keys));
    if (!keys)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = b->records[i].track_key;
    if (au_buf_text_array(&lit, n, keys) < 0) {
        au_buf_free(&lit);
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    }
    const char *p[] = {b->date, b->platform, lit.data, b->chart, b->region};
    PGresult *r;
    int rc = au_pg_exec(c,
                        /* LATERAL keeps the keys outside, so each is one
                         * probe of (chart_date, track_key) however stale the
                         * table's statistics (a table never analyzed looks
                         * empty and would otherwise be scanned as the outer
                         * side). platform is tested outside the LATERAL, so
                         * no index led by platform competes inside it. */
                        "SELECT k.i, t.position "
                        "FROM unnest($3::text[]) WITH ORDINALITY AS k(key, i) "
                        "CROSS JOIN LATERAL (SELECT position, platform, chart, "
                        " region FROM trends WHERE chart_date = $1::date "
                        " AND track_key = k.key OFFSET 0) t "
                        "WHERE t.platform = $2 "
                        " AND NOT (t.chart = $4 AND t.region = $5)",
                        5, p, PGRES_TUPLES_OK, &r, err);
    au_buf_free(&lit);
    if (rc < 0)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    x->count = au_arena_alloc(arena, n * sizeof(*x->count));
    x->all = au_arena_alloc(arena, (rows + n) * sizeof(*x->all));
    x->start = au_arena_alloc(arena, n * sizeof(*x->start));
    if (!x->count || !x->all || !x->start) {
        PQclear(r);
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    }
    /* Per record: its own chart's score first, then the others; rows
     * name their record by its 1-based position in the key array. */
    int chart_size = ctx->cfg.analytics.chart_size;
    for (size_t i = 0; i < n; i++) {
        x->count[i] = 1;
        x->all[i] = au_position_score(b->records[i].position, chart_size);
    }
    size_t *next = au_arena_alloc(arena, n * sizeof(*next));
    if (!next) {
        PQclear(r);
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    }
    for (size_t row = 0; row < rows; row++) {
        long i = strtol(PQgetvalue(r, (int)row, 0), NULL, 10) - 1;
        if (i >= 0 && (size_t)i < n)
            x->count[i]++;
    }
    /* Lay the runs out contiguously: own score, then the others. */
    double *own = au_arena_alloc(arena, n * sizeof(*own));
    if (!own) {
        PQclear(r);
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    }
    memcpy(own, x->all, n * sizeof(*own));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        x->start[i] = off;
        x->all[off] = own[i];
        next[i] = off + 1;
        off += x->count[i];
    }
    for (size_t row = 0; row < rows; row++) {
        long i = strtol(PQgetvalue(r, (int)row, 0), NULL, 10) - 1;
        if (i < 0 || (size_t)i >= n)
            continue;
        int32_t pos = (int32_t)strtol(PQgetvalue(r, (int)row, 1), NULL, 10);
        x->all[next[i]++] = au_position_score(pos, chart_size);
    }
    PQclear(r);
    return 0;
}

/* Runs the ported scorers on one record. Inputs that do not exist (no
 * social signals in chart data, no audio features for most tracks, short
 * histories) stay missing: the predictor's documented fallbacks apply and
 * `confidence` is its measured_confidence, which gives them no credit. */
static void score_record(const au_batch_t *b, uint32_t i, const history_t *h,
                         const double *platform_scores, size_t n_platforms,
                         int chart_size, au_trend_t *t, au_viral_t *v)
{
    const au_record_t *r = &b->records[i];
    au_point_t pts[AU_HISTORY_KEEP + 1];
    size_t np = 0;
    for (int k = 0; k < h->n; k++) {
        if (strcmp(h->e[k].date, b->date) >= 0)
            continue;
        pts[np].t = 86400.0 * (double)days_from_date(h->e[k].date);
        pts[np++].value = au_position_score(h->e[k].position, chart_size);
    }
    pts[np].t = 86400.0 * (double)days_from_date(b->date);
    pts[np++].value = r->score;

    au_viral_input_t in;
    au_viral_input_init(&in);
    in.platform_scores = platform_scores;
    in.n_platforms = n_platforms;
    in.history = pts;
    in.n_history = np;
    if (r->has_features) {
        in.danceability = r->danceability;
        in.energy = r->energy;
        in.valence = r->valence;
    }
    t->has_analytics = 1;
    t->platform_score = r->score;
    t->direction = NULL;
    t->mood = NULL;
    t->mood_score = NAN;
    if (au_viral_predict(&in, v) == 0) {
        t->momentum = v->momentum;
        t->acceleration = v->acceleration;
        t->viral_score = v->viral_score;
        t->confidence = v->measured_confidence;
    } else {
        t->momentum = t->acceleration = t->viral_score = NAN;
        t->confidence = NAN;
    }
    au_trend_metrics_t m;
    if (np >= 5 && au_trend_analyze(pts, np, &m) == 0)
        t->direction = au_direction_name(au_trend_direction(&m));
    if (r->has_features) {
        au_mood_features_t f = {r->valence, r->energy, r->danceability,
                                r->tempo};
        for (int mood = 0; mood < AU_MOOD_COUNT; mood++) {
            double sc;
            if (au_mood_score(&f, (au_mood_t)mood, &sc, NULL) == 0 &&
                (t->mood == NULL || sc > t->mood_score)) {
                t->mood_score = sc;
                t->mood = au_mood_name((au_mood_t)mood);
            }
        }
    }
}

static int write_predictions(au_ctx_t *ctx, PGconn *c, const au_batch_t *b,
                             const au_trend_t *rows, const au_viral_t *v,
                             au_arena_t *arena, au_error_t *err)
{
    au_prediction_t *p = au_arena_alloc(arena, b->count * sizeof(*p));
    if (!p)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    size_t n = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (!(rows[i].viral_score >= ctx->cfg.analytics.viral_threshold))
            continue;
        char *peak = au_arena_alloc(arena, 16);
        char *feat = au_arena_alloc(arena, 256);
        if (!peak || !feat)
            return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
        au_date_format(days_from_date(b->date) + v[i].peak_eta_days, peak);
        snprintf(feat, 256,
                 "{\"viral_score\":%.4f,\"momentum\":%.4f,"
                 "\"acceleration\":%.4f,\"velocity\":%.4f,"
                 "\"peak_eta_days\":%d,\"risk\":\"%s\","
                 "\"recommendation\":\"%s\",\"missing\":%u}",
                 v[i].viral_score, v[i].momentum, v[i].acceleration,
                 v[i].velocity, v[i].peak_eta_days, au_risk_name(v[i].risk),
                 au_rec_name(v[i].recommendation), v[i].missing);
        p[n++] = (au_prediction_t){
            .track_key = rows[i].track_key,
            .track_name = rows[i].track_name,
            .artist = rows[i].artist,
            .confidence = v[i].measured_confidence,
            .prediction_date = b->date,
            .predicted_peak_date = peak,
            .predicted_peak_score = v[i].viral_score,
            .features_json = feat,
        };
    }
    return au_store_write_predictions(c, p, n, err);
}

/* Track and artist keys this process has committed: a batch whose keys
 * are all here skips the dimension upserts. A bounded LRU, so memory stays
 * flat; forgetting a key only costs one redundant upsert. Rows are never
 * deleted from tracks or artists, so a remembered key stays true. */
#define KNOWN_MAX 200000
static void *known;

static char *known_key(au_arena_t *arena, char kind, const char *key)
{
    size_t n = strlen(key);
    char *k = au_arena_alloc(arena, n + 3);
    if (k) {
        k[0] = kind;
        k[1] = ':';
        memcpy(k + 2, key, n + 1);
    }
    return k;
}

/* Fills keys[0..2n) with "t:<track>" and "a:<artist>"; 0 or AU_ENOMEM. */
static int known_keys(const au_batch_t *b, au_arena_t *arena, const char **keys)
{
    for (uint32_t i = 0; i < b->count; i++) {
        keys[2 * i] = known_key(arena, 't', b->records[i].track_key);
        keys[2 * i + 1] = known_key(arena, 'a', b->records[i].artist_key);
        if (!keys[2 * i] || !keys[2 * i + 1])
            return AU_ENOMEM;
    }
    return 0;
}

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

static void remember(const char **keys, size_t n, au_arena_t *arena)
{
    const char **vals = au_arena_alloc(arena, n * sizeof(*vals));
    size_t *lens = au_arena_alloc(arena, n * sizeof(*lens));
    if (!known || !vals || !lens)
        return;
    for (size_t i = 0; i < n; i++) {
        vals[i] = "1";
        lens[i] = 1;
    }
    au_cache_local_backend.mset(known, n, keys, vals, lens, 0);
}

static int commit_locked(au_ctx_t *ctx, PGconn *c, au_batch_t *b,
                         au_arena_t *arena, const char **keys, history_t *hist,
                         au_commit_t *res, au_error_t *err)
{
    int rc = exec_simple(c, "BEGIN", err);
    /* Every statement below probes indexes with keys from one batch. A
     * table that grew since its last ANALYZE makes the planner guess hash
     * joins over whole series instead; nested loops are always right
     * here, so say so rather than depend on autovacuum's timing. */
    if (rc == 0)
        rc = exec_simple(c, "SET LOCAL enable_hashjoin = off", err);
    if (rc == 0)
        rc = exec_simple(c, "SET LOCAL enable_mergejoin = off", err);
    au_batch_ref_t ref = {b->job_id, b->attempt, b->seq, b->nbatches};
    if (rc == 0)
        rc = au_queue_batch_check(c, &ref, err);
    if (rc == 0)
        rc = load_history(ctx, c, b, keys, hist, err);
    cross_t cross = {0};
    if (rc == 0)
        rc = load_cross(ctx, c, b, arena, &cross, err);
    if (rc < 0)
        return rc;
    au_trend_t *rows = au_arena_alloc(arena, b->count * sizeof(*rows));
    au_viral_t *viral = au_arena_alloc(arena, b->count * sizeof(*viral));
    if (!rows || !viral)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    int chart_size = ctx->cfg.analytics.chart_size;
    for (uint32_t i = 0; i < b->count; i++) {
        au_record_t *r = &b->records[i];
        const hist_entry_t *prev = history_prev(&hist[i], b->date);
        r->has_scores = true;
        r->score = au_position_score(r->position, chart_size);
        r->prev_position = prev ? prev->position : 0;
        r->position_change = prev ? prev->position - r->position : 0;
        rows[i] = (au_trend_t){.platform = b->platform,
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
                               .score = r->score,
                               .prev_position = r->prev_position,
                               .position_change = r->position_change,
                               .job_id = b->job_id};
        score_record(b, i, &hist[i], cross.all + cross.start[i], cross.count[i],
                     chart_size, &rows[i], &viral[i]);
    }
    /* The history says which tracks already have a later entry in this
     * series (a date arriving late). It holds the newest entries, so it
     * knows for sure unless it is full and this date precedes all of it;
     * then the store's own set-based fix-up runs instead. */
    au_successor_t *succ = au_arena_alloc(arena, b->count * sizeof(*succ));
    if (!succ)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    size_t nsucc = 0;
    unsigned flags = AU_STORE_SKIP_SUCCESSORS;
    for (uint32_t i = 0; i < b->count; i++) {
        const history_t *h = &hist[i];
        int k = 0;
        while (k < h->n && strcmp(h->e[k].date, b->date) <= 0)
            k++;
        if (k == h->n)
            continue;
        if (h->n == AU_HISTORY_KEEP && k == 0)
            flags &= ~(unsigned)AU_STORE_SKIP_SUCCESSORS;
        succ[nsucc++] = (au_successor_t){b->platform,  b->chart,
                                         b->region,    b->records[i].track_key,
                                         h->e[k].date, b->records[i].position};
    }
    const char **dims = au_arena_alloc(arena, 2 * b->count * sizeof(*dims));
    if (!dims || known_keys(b, arena, dims) < 0)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    if (all_known(dims, 2 * b->count))
        flags |= AU_STORE_SKIP_DIMENSIONS;
    size_t written = 0;
    rc = au_store_write_trends_opt(c, rows, b->count, flags, &written, err);
    if (rc == 0 && (flags & AU_STORE_SKIP_SUCCESSORS))
        rc = au_store_fix_successors(c, succ, nsucc, err);
    if (rc == 0)
        rc = write_predictions(ctx, c, b, rows, viral, arena, err);
    if (rc == 0)
        rc = au_queue_batch_done(c, &ref, (long)written, ctx->cfg.queue.lease_s,
                                 &res->job_done, err);
    if (rc < 0)
        return rc;
    /* Drop the cached histories before COMMIT: if this process dies
     * between COMMIT and the refill below, readers fall back to the
     * database instead of trusting a list without this batch. */
    if (ctx->cache)
        au_cache_mdel(ctx->cache, AU_CK_HISTORY, b->count, keys);
    rc = exec_simple(c, "COMMIT", err);
    if (rc < 0)
        return rc;
    /* Only now: a failed attempt must leave the batch committable, and
     * only committed keys are remembered. */
    remember(dims, 2 * b->count, arena);
    b->stage = AU_STAGE_SCORED;
    res->applied = 1;
    res->rows = (long)written;
    return 0;
}

static void refill_history(au_ctx_t *ctx, const au_batch_t *b,
                           const char **keys, history_t *hist,
                           au_arena_t *arena)
{
    if (!ctx->cache)
        return;
    const char **vals = au_arena_alloc(arena, b->count * sizeof(*vals));
    size_t *lens = au_arena_alloc(arena, b->count * sizeof(*lens));
    if (!vals || !lens)
        return;
    for (uint32_t i = 0; i < b->count; i++) {
        hist_entry_t e;
        snprintf(e.date, sizeof(e.date), "%s", b->date);
        e.position = b->records[i].position;
        e.streams = b->records[i].streams;
        history_put(&hist[i], &e);
        char *buf = au_arena_alloc(arena, 32 * AU_HISTORY_KEEP);
        int n = buf ? history_format(&hist[i], buf, 32 * AU_HISTORY_KEEP) : -1;
        vals[i] = n < 0 ? "" : buf;
        lens[i] = n < 0 ? 0 : (size_t)n;
    }
    au_cache_mset(ctx->cache, AU_CK_HISTORY, b->count, keys, vals, lens);
}

int au_analytics_commit(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                        au_commit_t *res, au_error_t *err)
{
    memset(res, 0, sizeof(*res));
    if (b->stage != AU_STAGE_ENRICHED)
        return au_error_set(err, AU_EINVAL, "batch is not enriched");
    const char **keys = au_arena_alloc(arena, b->count * sizeof(*keys));
    history_t *hist = au_arena_alloc(arena, b->count * sizeof(*hist));
    if (!keys || !hist)
        return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
    for (uint32_t i = 0; i < b->count; i++) {
        size_t cap = strlen(b->platform) + strlen(b->chart) +
                     strlen(b->region) + strlen(b->records[i].track_key) + 4;
        char *k = au_arena_alloc(arena, cap);
        if (!k)
            return au_error_set(err, AU_ENOMEM, "analytics: out of memory");
        snprintf(k, cap, "%s:%s:%s:%s", b->platform, b->chart, b->region,
                 b->records[i].track_key);
        keys[i] = k;
    }
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return AU_ERETRY;
    uint64_t lk = series_lock_key(b);
    int rc = lock_series(c, lk, 1, err);
    if (rc == 0) {
        rc = commit_locked(ctx, c, b, arena, keys, hist, res, err);
        if (rc < 0)
            PQclear(PQexec(c, "ROLLBACK"));
        else
            refill_history(ctx, b, keys, hist, arena);
        au_error_t uerr;
        lock_series(c, lk, 0, &uerr);
    }
    au_pool_put(ctx->pool, c);
    return rc;
}

static int analytics_stage(au_ctx_t *ctx, void *arg, au_batch_t *b,
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
    int rc = au_stage_run(ctx, "analytics", pull, analytics_stage, NULL);
    zmq_close(pull);
    return rc;
}
