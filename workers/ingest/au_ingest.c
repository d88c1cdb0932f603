#include "au_ingest.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_date.h"
#include "au_digest.h"
#include "au_log.h"
#include "au_proto.h"
#include "au_source.h"
#include "au_store.h"
#include "au_zmq.h"

/* ---- the chart a job is ------------------------------------------------ */

static int check_chart(const au_source_chart_t *ch, long *day, au_error_t *err)
{
    int rc = au_chart_name_check("platform", ch->platform, err);
    if (rc == 0)
        rc = au_chart_name_check("chart", ch->chart, err);
    if (rc == 0)
        rc = au_chart_name_check("region", ch->region, err);
    if (rc == 0)
        rc = au_chart_date_check(ch->date, day, err);
    return rc;
}

/* ---- pass 1: validate and plan ------------------------------------------- */

/* The tracks seen so far in a chart, to find one listed twice. Open
 * addressing over the ids; the table doubles, so it holds at most twice
 * the chart's rows. */
typedef struct {
    char **ids;
    long *where;
    size_t cap, n;
} seen_t;

static void seen_free(seen_t *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->ids[i]);
    free(t->ids);
    free(t->where);
    memset(t, 0, sizeof(*t));
}

static size_t slot_of(const seen_t *t, const char *id)
{
    const char *parts[] = {id};
    size_t i = (size_t)au_cache_hash(1, parts) & (t->cap - 1);
    while (t->ids[i] && strcmp(t->ids[i], id) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int seen_grow(seen_t *t)
{
    seen_t g = {calloc(t->cap ? 2 * t->cap : 1024, sizeof(char *)),
                calloc(t->cap ? 2 * t->cap : 1024, sizeof(long)),
                t->cap ? 2 * t->cap : 1024, t->n};
    if (!g.ids || !g.where) {
        free(g.ids);
        free(g.where);
        return AU_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->ids[i])
            continue;
        size_t k = slot_of(&g, t->ids[i]);
        g.ids[k] = t->ids[i];
        g.where[k] = t->where[i];
    }
    free(t->ids);
    free(t->where);
    *t = g;
    return 0;
}

/* 0, or the row where id was first seen (> 0), or AU_ENOMEM. */
static long seen_add(seen_t *t, const char *id, long where)
{
    if (2 * (t->n + 1) > t->cap && seen_grow(t) < 0)
        return AU_ENOMEM;
    size_t k = slot_of(t, id);
    if (t->ids[k])
        return t->where[k] > 0 ? t->where[k] : 1;
    if (!(t->ids[k] = strdup(id)))
        return AU_ENOMEM;
    t->where[k] = where;
    t->n++;
    return 0;
}

typedef struct {
    const au_source_t *src;
    void *state;
    au_source_chart_t chart;
    long day;
    int32_t series_id;
    size_t budget;   /* bytes a batch may take on the wire */
    size_t envelope; /* a bound of the envelope's bytes */
    int per;         /* records a batch may hold */
    int32_t nbatches;
    long nrows;
    uint32_t *rows_in; /* records of each batch */
    unsigned char *digests;
    size_t cap;
} plan_t;

static void plan_free(plan_t *p)
{
    if (p->src && p->state)
        p->src->close(p->state);
    free(p->rows_in);
    free(p->digests);
}

/* A bound of the bytes one record takes on the wire at any stage: the
 * raw fields, plus what enrich adds (a track key of at most 24 bytes more
 * than the track id, an artist key no longer than the artist, four
 * floats), plus every key and header (PROTOCOL.md). */
static size_t record_bound(const au_source_row_t *r)
{
    size_t t = r->track_id ? strlen(r->track_id) : 0;
    return 120 + strlen(r->track_name) + 2 * strlen(r->artist) + 2 * t;
}

static int plan_batch(plan_t *p, uint32_t rows)
{
    if ((size_t)p->nbatches == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        uint32_t *r = realloc(p->rows_in, cap * sizeof(*r));
        if (r)
            p->rows_in = r;
        unsigned char *d = r ? realloc(p->digests, cap * 16) : NULL;
        if (!d)
            return AU_ENOMEM;
        p->digests = d;
        p->cap = cap;
    }
    p->rows_in[p->nbatches++] = rows;
    return 0;
}

/* Rows a batch can still take, given the next record's bound. */
static int batch_full(const plan_t *p, uint32_t in, size_t bytes, size_t rb)
{
    return in > 0 && ((int)in == p->per || bytes + rb > p->budget);
}

static int check_row(const plan_t *p, const au_source_row_t *r, int32_t last,
                     seen_t *seen, au_error_t *err)
{
    const char *at = p->chart.name;
    if (r->position <= last || r->streams < -1)
        return au_error_set(err, AU_EINVAL, "%s:%ld: position %d after %d", at,
                            r->where, (int)r->position, (int)last);
    if (strlen(r->track_name) > AU_PROTO_MAX_STR ||
        strlen(r->artist) > AU_PROTO_MAX_STR)
        return au_error_set(err, AU_EINVAL,
                            "%s:%ld: a name longer than %d bytes", at, r->where,
                            AU_PROTO_MAX_STR);
    if (p->envelope + record_bound(r) > p->budget)
        return au_error_set(err, AU_EINVAL,
                            "%s:%ld: the record needs up to %zu bytes, over "
                            "zmq.max_msg_bytes (%zu)",
                            at, r->where, p->envelope + record_bound(r),
                            p->budget);
    long first = r->track_id ? seen_add(seen, r->track_id, r->where) : 0;
    if (first == AU_ENOMEM)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    if (first > 0)
        return au_error_set(err, AU_EINVAL,
                            "%s:%ld: track %s is listed twice (line %ld too)",
                            at, r->where, r->track_id, first);
    return 0;
}

/* Reads every row, checks it and cuts the batches: their sizes and
 * fingerprints. Nothing is sent. */
static int plan_rows(const au_job_t *job, plan_t *p, au_error_t *err)
{
    seen_t seen = {0};
    au_digest_t d;
    au_source_row_t r;
    size_t bytes = p->envelope;
    uint32_t in = 0;
    int32_t last = 0;
    int rc;
    while ((rc = p->src->next(p->state, &r, err)) == 1) {
        if ((rc = check_row(p, &r, last, &seen, err)) < 0)
            break;
        last = r.position;
        size_t rb = record_bound(&r);
        if (batch_full(p, in, bytes, rb)) {
            au_digest_end(&d, p->digests + 16 * (size_t)(p->nbatches - 1));
            in = 0;
            bytes = p->envelope;
        }
        if (in == 0) {
            if ((rc = plan_batch(p, 0)) < 0)
                break;
            au_digest_begin(&d, job->id, job->attempt, p->nbatches - 1);
        }
        au_digest_record(&d, r.position, r.streams, r.track_name, r.artist,
                         r.track_id);
        p->rows_in[p->nbatches - 1] = ++in;
        bytes += rb;
        p->nrows++;
    }
    if (rc == 0 && in > 0)
        au_digest_end(&d, p->digests + 16 * (size_t)(p->nbatches - 1));
    if (rc == AU_ENOMEM)
        au_error_set(err, rc, "out of memory");
    if (rc == 0 && p->nrows == 0)
        rc = au_error_set(err, AU_EPARSE, "%s: no data rows", p->chart.name);
    seen_free(&seen);
    return rc;
}

/* ---- pass 2: send ----------------------------------------------------------
 */

static int extend(au_ctx_t *ctx, const au_job_t *job, const char *activity,
                  au_error_t *err)
{
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return 0; /* the lease may still hold; the next try may reach */
    int rc = au_queue_extend(c, job->id, job->attempt, ctx->cfg.queue.lease_s,
                             activity, err);
    au_pool_put(ctx->pool, c);
    return rc == AU_ESTALE ? rc : 0;
}

static int send_batch(au_ctx_t *ctx, void *push, au_batch_t *b,
                      const au_job_t *job, long long *last_extend,
                      au_error_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = au_batch_encode(b, &buf, &len);
    if (rc < 0)
        return au_error_set(err, rc, "encoding batch %d: %s", b->seq,
                            au_strerror(rc));
    char activity[96];
    snprintf(activity, sizeof(activity),
             "sending batch %d of %d to the enrich relays", b->seq + 1,
             b->nbatches);
    /* Waiting on a full pipe is normal backpressure, but not past half a
     * lease: then the job goes back to the queue rather than hang. */
    int wait_ms = ctx->cfg.queue.lease_s * 500;
    long long start = au_now_ms();
    while ((rc = au_zmq_send(push, buf, len, 1000)) == AU_ETIMEOUT &&
           au_now_ms() - start <= wait_ms) {
        if (extend(ctx, job, activity, err) == AU_ESTALE) {
            rc = AU_ESTALE;
            break;
        }
    }
    free(buf);
    if (rc == AU_ETIMEOUT)
        return au_error_set(err, rc, "no enrich worker took batch %d for %d ms",
                            b->seq, wait_ms);
    if (rc < 0 && rc != AU_ESTALE && rc != AU_EINTR)
        return au_error_set(err, rc, "sending batch %d: %s", b->seq,
                            au_strerror(rc));
    if (rc < 0)
        return rc;
    long long now = au_now_ms();
    if (now - *last_extend > ctx->cfg.queue.lease_s * 250LL) {
        *last_extend = now;
        return extend(ctx, job, activity, err);
    }
    return 0;
}

/* A batch read the second time must be the batch the plan recorded. */
static int check_digest(const au_batch_t *b, const plan_t *p, au_error_t *err)
{
    unsigned char d[AU_DIGEST_BYTES];
    au_digest_batch(b, d);
    if (memcmp(d, p->digests + 16 * (size_t)b->seq, AU_DIGEST_BYTES) != 0)
        return au_error_set(err, AU_ERETRY,
                            "%s changed while being read (batch %d)",
                            p->chart.name, b->seq);
    return 0;
}

static int send_rows(au_ctx_t *ctx, void *push, const au_job_t *job, plan_t *p,
                     au_ingest_stats_t *st, au_error_t *err)
{
    uint32_t per = 0;
    for (int32_t k = 0; k < p->nbatches; k++)
        per = p->rows_in[k] > per ? p->rows_in[k] : per;
    au_arena_t *arena = au_arena_new(256 * 1024);
    au_record_t *recs = calloc(per ? per : 1, sizeof(*recs));
    int rc = arena && recs ? p->src->rewind(p->state, err)
                           : au_error_set(err, AU_ENOMEM, "out of memory");
    au_batch_t b = {.job_id = job->id,
                    .attempt = job->attempt,
                    .nbatches = p->nbatches,
                    .stage = AU_STAGE_RAW,
                    .platform = p->chart.platform,
                    .chart = p->chart.chart,
                    .region = p->chart.region,
                    .date = p->chart.date,
                    .records = recs};
    long long last_extend = au_now_ms();
    au_source_row_t r;
    int more = 1;
    while (rc == 0 && b.seq < p->nbatches &&
           (more = p->src->next(p->state, &r, err)) == 1) {
        au_record_t *x = &recs[b.count++];
        *x = (au_record_t){
            .position = r.position,
            .streams = r.streams,
            .track_name = au_arena_strdup(arena, r.track_name),
            .artist = au_arena_strdup(arena, r.artist),
            .track_id = r.track_id ? au_arena_strdup(arena, r.track_id) : NULL};
        if (!x->track_name || !x->artist || (r.track_id && !x->track_id))
            rc = au_error_set(err, AU_ENOMEM, "out of memory");
        if (rc < 0 || b.count < p->rows_in[b.seq])
            continue;
        b.last = b.seq == p->nbatches - 1;
        rc = check_digest(&b, p, err);
        if (rc == 0)
            rc = send_batch(ctx, push, &b, job, &last_extend, err);
        if (rc < 0)
            break;
        st->batches++;
        st->records += b.count;
        au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
        au_metrics_inc(ctx->metrics, AU_M_RECORDS_OUT, b.count);
        b.seq++;
        b.count = 0;
        au_arena_reset(arena);
    }
    if (rc == 0 && more < 0)
        rc = more;
    else if (rc == 0 && b.seq < p->nbatches)
        rc = au_error_set(err, AU_ERETRY, "%s changed while being read",
                          p->chart.name);
    au_arena_destroy(&arena);
    free(recs);
    return rc < 0 ? rc : 0;
}

/* ---- one job ---------------------------------------------------------------
 */

/* Errors no retry can fix: the source says something the pipeline must
 * refuse. A source that cannot be reached or read now may be later. */
static int is_permanent(int rc)
{
    return !au_retry_helps(rc);
}

/* Opens the job's source, checks its chart and records the plan. */
static int make_plan(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                     plan_t *p, au_error_t *err)
{
    int rc = p->src->open(ctx, params, &p->state, &p->chart, err);
    if (rc == 0)
        rc = check_chart(&p->chart, &p->day, err);
    if (rc < 0)
        return rc;
    p->budget = (size_t)ctx->cfg.zmq.max_msg_bytes;
    p->per = ctx->cfg.queue.batch_records;
    p->envelope = 200 + strlen(p->chart.platform) + strlen(p->chart.chart) +
                  strlen(p->chart.region);
    rc = plan_rows(job, p, err);
    if (rc < 0)
        return rc;
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return AU_ERETRY;
    rc = au_store_series_id(c, p->chart.platform, p->chart.chart,
                            p->chart.region, &p->series_id, err);
    if (rc == 0)
        rc = au_queue_plan(c, job->id, job->attempt, p->series_id, p->day,
                           p->nbatches, p->nrows, p->digests, err);
    au_pool_put(ctx->pool, c);
    return rc;
}

/* A task runs whole here and its job is done when it returns. */
static int run_task(au_ctx_t *ctx, const au_task_t *task, const au_job_t *job,
                    json_t *params, au_error_t *err)
{
    long rows = 0;
    int rc = task->run(ctx, job, params, &rows, err);
    if (rc < 0)
        return rc;
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return AU_ERETRY;
    rc = au_queue_finish(c, job->id, job->attempt, rows, err);
    au_pool_put(ctx->pool, c);
    return rc;
}

int au_ingest_run_job(au_ctx_t *ctx, void *push, const au_job_t *job,
                      au_ingest_stats_t *st, int *permanent, au_error_t *err)
{
    *permanent = 0;
    plan_t p = {.src = au_source_find(job->kind)};
    const au_task_t *task = p.src ? NULL : au_task_find(job->kind);
    if (!p.src && !task) {
        *permanent = 1;
        return au_error_set(err, AU_EINVAL, "unknown job kind \"%s\"",
                            job->kind);
    }
    json_error_t jerr;
    json_t *params = json_loads(job->params, 0, &jerr);
    if (!params) {
        *permanent = 1;
        return au_error_set(err, AU_EPARSE, "job parameters: %s", jerr.text);
    }
    au_job_keep_begin(ctx, job);
    if (task) {
        int rc = run_task(ctx, task, job, params, err);
        au_job_keep_end(ctx);
        *permanent = rc < 0 && is_permanent(rc);
        json_decref(params);
        return rc;
    }
    int rc = make_plan(ctx, job, params, &p, err);
    au_job_keep_end(ctx);
    if (rc == 0)
        rc = send_rows(ctx, push, job, &p, st, err);
    *permanent = rc < 0 && is_permanent(rc);
    plan_free(&p);
    json_decref(params);
    return rc;
}

/* Draining: hand the job back now rather than let its lease run out. */
static void release(au_ctx_t *ctx, const au_job_t *job)
{
    au_error_t err = {0};
    au_log_ctx_t lctx = {job->id, job->attempt, -1};
    PGconn *c = au_pool_get(ctx->pool, &err);
    int rc = c ? au_queue_release(c, job->id, job->attempt, &err) : err.code;
    au_pool_put(ctx->pool, c);
    if (rc < 0)
        au_log_ev(AU_LOG_WARN, &lctx, rc,
                  "stopping mid-job, could not hand it back (%s); its "
                  "lease will return it",
                  err.msg);
    else
        au_log_ev(AU_LOG_INFO, &lctx, 0, "stopping mid-job: handed back");
}

/* {"kind": ..., "params": {...}} for the claim's log line. */
static char *claim_fields(const au_job_t *job)
{
    json_t *p = json_loads(job->params, 0, NULL);
    json_t *o = json_pack("{s:s, s:o}", "kind", job->kind, "params",
                          p ? p : json_string(job->params));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* For `audora status`: the job's batches are in flight, not being read. */
static void mark_sent(au_ctx_t *ctx, const au_job_t *job)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (c)
        au_queue_sent(c, job->id, job->attempt, &err);
    au_pool_put(ctx->pool, c);
}

static void finish_failed(au_ctx_t *ctx, const au_job_t *job, int permanent,
                          const au_error_t *jerr)
{
    au_error_t err = {0};
    au_log_ctx_t lctx = {job->id, job->attempt, -1};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c) {
        au_log_ev(AU_LOG_ERROR, &lctx, err.code,
                  "cannot record failure (%s); the lease will expire", err.msg);
        return;
    }
    int rc = au_queue_fail(c, job->id, job->attempt, jerr->msg, permanent,
                           ctx->cfg.queue.backoff_base_ms,
                           ctx->cfg.queue.backoff_max_ms, &err);
    au_pool_put(ctx->pool, c);
    if (rc == 0 && (permanent || job->attempt >= job->max_attempts))
        au_metrics_inc(ctx->metrics, AU_M_DEAD_JOBS, 1);
    if (rc < 0)
        au_log_ev(AU_LOG_WARN, &lctx, rc, "recording failure: %s", err.msg);
}

/* Runs a claimed job to its end: pushed, failed, handed back or lost. */
static void run_claimed(au_ctx_t *ctx, void *push, au_job_t *job,
                        au_ingest_stats_t *st)
{
    au_log_ctx_t lctx = {job->id, job->attempt, -1};
    char *fields = claim_fields(job);
    au_log_fields(AU_LOG_INFO, &lctx, 0, fields, "claimed a %s job", job->kind);
    free(fields);
    int permanent = 0;
    au_error_t jerr = {0};
    int rc = au_ingest_run_job(ctx, push, job, st, &permanent, &jerr);
    st->jobs++;
    if (rc == AU_EINTR) {
        release(ctx, job);
    } else if (rc == AU_ESTALE) {
        au_log_ev(AU_LOG_WARN, &lctx, rc, "lost the lease: %s", jerr.msg);
    } else if (rc < 0) {
        st->failed++;
        au_metrics_error(ctx->metrics, rc);
        au_metrics_inc(ctx->metrics, AU_M_JOBS_FAILED, 1);
        au_log_ev(AU_LOG_ERROR, &lctx, rc, "%s%s", jerr.msg,
                  permanent ? " (dead letter)" : " (will retry)");
        finish_failed(ctx, job, permanent, &jerr);
    } else if (au_task_find(job->kind)) {
        au_log_ev(AU_LOG_INFO, &lctx, 0, "done");
    } else {
        au_log_ev(AU_LOG_INFO, &lctx, 0, "pushed all batches");
        mark_sent(ctx, job);
    }
}

/* One turn of the loop: claim a job and run it, or wait for one. */
static void claim_and_run(au_ctx_t *ctx, void *push, au_queue_listener_t *lc,
                          au_ingest_stats_t *st)
{
    au_error_t err = {0};
    /* Listen before claiming so a push between the two is not missed. */
    if (au_queue_listen(lc) < 0)
        au_warn("ingest: LISTEN connection failed; polling");
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c) {
        au_log_ev(AU_LOG_WARN, NULL, err.code, "%s", err.msg);
        au_queue_wait(NULL, ctx->cfg.queue.poll_ms);
        return;
    }
    au_job_t job;
    int rc = au_queue_claim_from(c, ctx->worker_id, ctx->cfg.queue.lease_s,
                                 ctx->cfg.queue.queues, &job, &err);
    au_pool_put(ctx->pool, c);
    if (rc < 0) {
        au_metrics_error(ctx->metrics, rc);
        au_log_ev(AU_LOG_WARN, NULL, rc, "claim: %s", err.msg);
        au_queue_wait(NULL, ctx->cfg.queue.poll_ms);
    } else if (rc == 0) {
        au_queue_wait(lc, ctx->cfg.queue.poll_ms);
    } else {
        run_claimed(ctx, push, &job, st);
        au_job_clear(&job);
    }
}

int au_ingest_main(au_ctx_t *ctx)
{
    au_error_t err = {0};
    void *push = au_zmq_socket(ctx->zctx, ZMQ_PUSH, ctx->cfg.zmq.enrich_in, 0,
                               &ctx->cfg, &err);
    if (!push) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        return 1;
    }
    au_queue_listener_t *lc = au_queue_listener_new(ctx->cfg.database.url);
    au_ingest_stats_t st = {0};
    au_drain_set_budget(ctx->cfg.queue.drain_s);
    au_info("ingest: started as %s", ctx->worker_id);
    while (!au_stop_requested) {
        au_ctx_tick(ctx, st.records, st.batches);
        claim_and_run(ctx, push, lc, &st);
    }
    ctx->next_tick = 0;
    au_ctx_tick(ctx, st.records, st.batches);
    au_metrics_set_ready(ctx->metrics, 0);
    au_queue_listener_destroy(&lc);
    zmq_close(push);
    au_info("ingest: stopped after %lld jobs, %lld records", st.jobs,
            st.records);
    return 0;
}
