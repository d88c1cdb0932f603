#include "au_ingest.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_arena.h"
#include "au_csv.h"
#include "au_log.h"
#include "au_proto.h"
#include "au_zmq.h"

typedef struct {
    const char *path, *platform, *chart, *region, *date;
} chart_params_t;

static int parse_params(json_t *root, chart_params_t *p, au_error_t *err)
{
    const char **dst[] = {&p->path, &p->platform, &p->chart, &p->region,
                          &p->date};
    const char *names[] = {"path", "platform", "chart", "region", "date"};
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_object_get(root, names[i]);
        if (!json_is_string(v) || !*json_string_value(v))
            return au_error_set(err, AU_EMISSING,
                                "job parameter \"%s\" missing or not a "
                                "string",
                                names[i]);
        *dst[i] = json_string_value(v);
    }
    return 0;
}

static int count_rows(const char *path, long *n, au_error_t *err)
{
    au_csv_t *csv = au_csv_new(path, err);
    if (!csv)
        return err ? err->code : AU_EIO;
    au_chart_row_t row;
    int rc;
    *n = 0;
    while ((rc = au_csv_next(csv, &row, err)) == 1)
        (*n)++;
    au_csv_destroy(&csv);
    return rc;
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
    /* Waiting on a full pipe is normal backpressure, but not past half a
     * lease: then the job goes back to the queue rather than hang. */
    int wait_ms = ctx->cfg.queue.lease_s * 500;
    long long start = au_now_ms();
    for (;;) {
        rc = au_zmq_send(push, buf, len, 1000);
        if (rc != AU_ETIMEOUT)
            break;
        if (au_now_ms() - start > wait_ms)
            break;
        PGconn *c = au_pool_get(ctx->pool, err);
        if (c) {
            rc = au_queue_extend(c, job->id, job->attempt,
                                 ctx->cfg.queue.lease_s, err);
            au_pool_put(ctx->pool, c);
            if (rc == AU_ESTALE)
                break;
        }
    }
    free(buf);
    if (rc == AU_ETIMEOUT)
        return au_error_set(err, rc,
                            "downstream accepted no batch for "
                            "%d ms",
                            wait_ms);
    if (rc < 0 && rc != AU_ESTALE)
        return au_error_set(err, rc, "sending batch %d: %s", b->seq,
                            au_strerror(rc));
    if (rc < 0)
        return rc;
    long long now = au_now_ms();
    if (now - *last_extend > ctx->cfg.queue.lease_s * 250LL) {
        PGconn *c = au_pool_get(ctx->pool, err);
        if (c) {
            rc = au_queue_extend(c, job->id, job->attempt,
                                 ctx->cfg.queue.lease_s, err);
            au_pool_put(ctx->pool, c);
        }
        *last_extend = now;
    }
    return rc == AU_ESTALE ? rc : 0;
}

static int push_file(au_ctx_t *ctx, void *push, const au_job_t *job,
                     const chart_params_t *p, long nrows, au_ingest_stats_t *st,
                     au_error_t *err)
{
    int per = ctx->cfg.queue.batch_records;
    int nbatches = (int)((nrows + per - 1) / per);
    au_arena_t *arena = au_arena_new(256 * 1024);
    au_record_t *recs = calloc((size_t)per, sizeof(*recs));
    au_csv_t *csv = NULL;
    int rc = AU_ENOMEM;
    if (!arena || !recs) {
        au_error_set(err, rc, "out of memory");
        goto out;
    }
    csv = au_csv_new(p->path, err);
    if (!csv) {
        rc = err->code;
        goto out;
    }
    au_batch_t b = {.job_id = job->id,
                    .attempt = job->attempt,
                    .nbatches = nbatches,
                    .stage = AU_STAGE_RAW,
                    .platform = p->platform,
                    .chart = p->chart,
                    .region = p->region,
                    .date = p->date,
                    .records = recs};
    long long last_extend = au_now_ms();
    long seen = 0;
    au_chart_row_t row;
    while ((rc = au_csv_next(csv, &row, err)) == 1) {
        au_record_t *r = &recs[b.count++];
        memset(r, 0, sizeof(*r));
        r->position = row.position;
        r->streams = row.streams;
        r->track_name = au_arena_strdup(arena, row.track_name);
        r->artist = au_arena_strdup(arena, row.artist);
        r->track_id = au_arena_strdup(arena, row.track_id);
        if (!r->track_name || !r->artist || !r->track_id) {
            rc = au_error_set(err, AU_ENOMEM, "out of memory");
            goto out;
        }
        seen++;
        if ((int)b.count == per || seen == nrows) {
            b.last = b.seq == nbatches - 1;
            if ((rc = send_batch(ctx, push, &b, job, &last_extend, err)) < 0)
                goto out;
            st->batches++;
            st->records += b.count;
            au_metrics_inc(ctx->metrics, AU_M_BATCHES_OUT, 1);
            au_metrics_inc(ctx->metrics, AU_M_RECORDS_OUT, b.count);
            b.seq++;
            b.count = 0;
            au_arena_reset(arena);
        }
        if (seen > nrows)
            break;
    }
    if (rc < 0) {
        /* The first pass accepted this file, so it changed under us. */
        goto out;
    }
    if (seen != nrows) {
        rc = au_error_set(err, AU_ERETRY,
                          "%s changed while being read "
                          "(%ld rows, then %ld)",
                          p->path, nrows, seen);
        goto out;
    }
    rc = 0;
out:
    au_csv_destroy(&csv);
    au_arena_destroy(&arena);
    free(recs);
    return rc;
}

int au_ingest_run_job(au_ctx_t *ctx, void *push, const au_job_t *job,
                      au_ingest_stats_t *st, int *permanent, au_error_t *err)
{
    *permanent = 0;
    if (strcmp(job->kind, "chart_csv") != 0) {
        *permanent = 1;
        return au_error_set(err, AU_EINVAL, "unknown job kind \"%s\"",
                            job->kind);
    }
    json_error_t jerr;
    json_t *root = json_loads(job->params, 0, &jerr);
    if (!root) {
        *permanent = 1;
        return au_error_set(err, AU_EPARSE, "job parameters: %s", jerr.text);
    }
    chart_params_t p;
    long nrows = 0;
    int rc = parse_params(root, &p, err);
    if (rc < 0) {
        *permanent = 1;
        goto out;
    }
    rc = count_rows(p.path, &nrows, err);
    if (rc < 0) {
        /* A file that cannot be opened may appear later (a mount, a
         * copy in progress); a file that does not parse never will. */
        *permanent = rc != AU_EIO;
        goto out;
    }
    if (nrows == 0) {
        *permanent = 1;
        rc = au_error_set(err, AU_EPARSE, "%s: no data rows", p.path);
        goto out;
    }
    rc = push_file(ctx, push, job, &p, nrows, st, err);
out:
    json_decref(root);
    return rc;
}

static void sweep(au_ctx_t *ctx)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(ctx->pool, &err);
    if (!c)
        return;
    int q = 0, d = 0;
    if (au_queue_sweep(c, ctx->cfg.queue.backoff_base_ms,
                       ctx->cfg.queue.backoff_max_ms, &q, &d, &err) == 0 &&
        (q || d)) {
        au_log_ev(AU_LOG_WARN, NULL, 0,
                  "sweeper: %d expired lease(s) requeued, %d dead", q, d);
        au_metrics_inc(ctx->metrics, AU_M_RESCUED_JOBS, (uint64_t)q);
        au_metrics_inc(ctx->metrics, AU_M_DEAD_JOBS, (uint64_t)d);
    }
    au_queue_counts_t counts;
    if (au_queue_counts(c, &counts, &err) == 0) {
        au_metrics_set(ctx->metrics, AU_G_QUEUE_DEPTH, (double)counts.ready);
        au_metrics_set(ctx->metrics, AU_G_LAG_SECONDS, counts.oldest_ready_s);
    }
    au_pool_put(ctx->pool, c);
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
    au_log_ev(AU_LOG_INFO, &lctx, 0, "claimed %s", job->params);
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
    } else {
        au_log_ev(AU_LOG_INFO, &lctx, 0, "pushed all batches");
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
    int rc =
        au_queue_claim(c, ctx->worker_id, ctx->cfg.queue.lease_s, &job, &err);
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
    long long next_sweep = 0, next_beat = 0;
    int sweep_ms = ctx->cfg.queue.lease_s * 500;
    if (sweep_ms > 5000)
        sweep_ms = 5000;
    au_drain_set_budget(ctx->cfg.queue.drain_s);
    au_info("ingest: ready as %s", ctx->worker_id);
    au_metrics_set_ready(ctx->metrics, 1);
    while (!au_stop_requested) {
        long long now = au_now_ms();
        if (now >= next_sweep) {
            sweep(ctx);
            next_sweep = now + sweep_ms;
        }
        if (now >= next_beat) {
            au_ctx_heartbeat(ctx, st.records, st.batches);
            next_beat = now + 2000;
        }
        claim_and_run(ctx, push, lc, &st);
    }
    au_metrics_set_ready(ctx->metrics, 0);
    au_ctx_heartbeat(ctx, st.records, st.batches);
    au_queue_listener_destroy(&lc);
    zmq_close(push);
    au_info("ingest: stopped after %lld jobs, %lld records", st.jobs,
            st.records);
    return 0;
}
