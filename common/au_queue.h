/* au_queue.h: the durable job queue in PostgreSQL, owner of the jobs and
 * batch_ledger tables (docs/ARCHITECTURE.md, "Delivery").
 *
 * A job moves queued -> running -> done | dead, or to cancelled by an
 * operator from queued or running. Claiming bumps `attempt`,
 * which is the job's fencing token: every batch carries the attempt it was
 * cut under, and writes from an older attempt are refused. A lease that
 * expires returns the job to the queue and counts as a failed attempt, so
 * a job that crashes its worker every time still ends dead. */
#ifndef AU_QUEUE_H
#define AU_QUEUE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "au_err.h"
#include "au_pg.h"

#define AU_QUEUE_CHANNEL "audora_jobs"

typedef struct {
    int64_t id;
    int32_t attempt;
    int32_t max_attempts;
    char kind[32];
    char *params; /* JSON text, malloc'd: au_job_clear() frees it */
} au_job_t;

void au_job_clear(au_job_t *job);

/* Priorities: 1 runs first, 4 last (as River's). */
#define AU_PRIORITY_FIRST 1
#define AU_PRIORITY_LAST 4
#define AU_PRIORITY_DEFAULT 2

/* A job to queue. */
typedef struct {
    const char *kind;
    const char *params; /* a JSON object */
    int max_attempts;
    const char *queue;    /* NULL: "default" */
    int priority;         /* AU_PRIORITY_*, 0: the default */
    long long run_at;     /* Unix seconds it may run from; 0: now */
    int force;            /* queue it even if the same job is queued */
    const char *schedule; /* the schedule that fired it, or NULL */
} au_push_t;

/* 1 for a 1..64 name of a-z, 0-9, '_' and '-'. */
int au_queue_name_ok(const char *name);
/* Queues a job and notifies listeners: 1 and its id. Unless force is set,
 * a job of the same queue, kind and parameters that is queued or running
 * is that job: 0 and its id, nothing queued. */
int au_queue_enqueue(PGconn *c, const au_push_t *job, int64_t *id,
                     au_error_t *err);
/* Queues a job in the default queue, identical ones or not (tests). */
int au_queue_push(PGconn *c, const char *kind, const char *params_json,
                  int max_attempts, int64_t *id, au_error_t *err);
/* Claims the first runnable job of the queues named (comma-separated;
 * NULL, "" or "*": every queue) that are not paused, by priority and then
 * by the time it became runnable (FOR UPDATE SKIP LOCKED): 1 and *job
 * filled, 0 when there is none, or a negative code. */
int au_queue_claim_from(PGconn *c, const char *worker, int lease_s,
                        const char *queues, au_job_t *job, au_error_t *err);
int au_queue_claim(PGconn *c, const char *worker, int lease_s, au_job_t *job,
                   au_error_t *err);
/* Extends the lease of a running job and records what the worker is doing
 * (activity; NULL keeps the last), for the message should the lease run
 * out. AU_ESTALE if this attempt lost it. */
int au_queue_extend(PGconn *c, int64_t id, int32_t attempt, int lease_s,
                    const char *activity, au_error_t *err);
/* Records why this attempt is in trouble without ending it (a worker
 * downstream of ingest that cannot do its part now): the cause stays in
 * last_error, and the sweeper's message keeps it should the lease run out.
 * AU_ESTALE if the attempt no longer runs. */
int au_queue_note(PGconn *c, int64_t id, int32_t attempt, const char *cause,
                  au_error_t *err);
/* Records a failure of this attempt. permanent (malformed input) or the
 * last allowed attempt -> dead with reason; otherwise queued again after
 * an exponential backoff with jitter. AU_ESTALE if the attempt is old. */
int au_queue_fail(PGconn *c, int64_t id, int32_t attempt, const char *reason,
                  int permanent, int backoff_base_ms, int backoff_max_ms,
                  au_error_t *err);
/* Marks a running job done by the worker that ran it whole (a job that
 * sends no batches: a lookup), with the rows it wrote. Fenced: AU_ESTALE
 * if the attempt no longer runs. */
int au_queue_finish(PGconn *c, int64_t id, int32_t attempt, long rows,
                    au_error_t *err);
/* Records that ingest sent the attempt's last batch: the job's batches
 * are in flight, no longer being read (`audora status` tells them apart).
 * Changes nothing when the job has moved on already. */
int au_queue_sent(PGconn *c, int64_t id, int32_t attempt, au_error_t *err);
/* Hands a running job back at once (a worker draining on SIGTERM): queued
 * again, runnable now, and the attempt it used does not count against
 * max_attempts. The attempt counter itself still moves on at the next
 * claim, so batches already sent by this attempt stay fenced off. */
int au_queue_release(PGconn *c, int64_t id, int32_t attempt, au_error_t *err);
/* Returns expired leases to the queue (or to dead after max_attempts). */
int au_queue_sweep(PGconn *c, int backoff_base_ms, int backoff_max_ms,
                   int *requeued, int *dead, au_error_t *err);
/* Backoff before attempt+1: base * 2^(attempt-1), capped, +-25% jitter. */
int au_queue_backoff_ms(int attempt, int base_ms, int max_ms);

typedef struct {
    long queued, running, done, dead, cancelled;
    long ready;            /* queued and runnable now */
    long in_flight;        /* running, every batch sent: being written */
    long done_last_minute; /* jobs done in the last minute */
    long long rows;        /* rows written by done jobs */
    double oldest_ready_s; /* wait of the oldest runnable job, seconds */
} au_queue_counts_t;
int au_queue_counts(PGconn *c, au_queue_counts_t *out, au_error_t *err);

/* Dead letters: replay puts a dead job back to queued with a fresh
 * attempt budget; purge deletes dead jobs (id 0: all of them). */
int au_queue_replay(PGconn *c, int64_t id, long *n, au_error_t *err);
int au_queue_purge(PGconn *c, int64_t id, long *n, au_error_t *err);

/* ---- controls --------------------------------------------------------- */

/* Cancels the jobs (queued or running) among ids: *out has one row per
 * id asked: id, was (its state before, or "missing"), cancelled (t/f).
 * The caller PQclears *out. */
int au_queue_cancel(PGconn *c, size_t n, const int64_t *ids, PGresult **out,
                    au_error_t *err);
/* Pauses (no claims from it) or resumes a queue by name; a name no job
 * uses yet can be paused ahead. */
int au_queue_pause(PGconn *c, const char *queue, int paused, au_error_t *err);
/* Every queue known (used by a job or paused): queue, paused, queued,
 * ready, running, done, dead, cancelled, lag_s. The caller PQclears. */
int au_queue_queues(PGconn *c, PGresult **out, au_error_t *err);
/* What the queue remembers of the chart files under the folder prefix
 * (a path ending in '/'), for a re-scan: *out has one row per file path
 * that chart_csv jobs named: path, active ("t" while one is queued or
 * running), finished (Unix seconds the newest done or dead one ended, ""
 * if none), in byte order of path. Cancelled jobs are forgotten. */
int au_queue_files_seen(PGconn *c, const char *prefix, PGresult **out,
                        au_error_t *err);
/* Deletes at most limit done and cancelled jobs (and dead ones with
 * dead_too) that finished over older_than_s ago, with their ledger rows:
 * *n deleted. */
int au_queue_prune(PGconn *c, long older_than_s, int dead_too, long limit,
                   long *n, au_error_t *err);

/* ---- batches: fencing and the ledger --------------------------------- */

/* Which batch of which attempt of which job (the wire envelope's ids),
 * which chart it says it is, and its fingerprint (au_digest). */
typedef struct {
    int64_t job_id;
    int32_t attempt, seq, nbatches;
    int32_t series_id;
    long day;
    unsigned char digest[16];
} au_batch_ref_t;

/* What ingest found when it validated the source of this attempt: the
 * chart (series, day), how many batches and rows it cut, and each batch's
 * fingerprint (nbatches * 16 bytes). Fenced: AU_ESTALE if the attempt no
 * longer runs. */
int au_queue_plan(PGconn *c, int64_t id, int32_t attempt, int32_t series_id,
                  long day, int32_t nbatches, long rows,
                  const unsigned char *digests, au_error_t *err);

/* Inside the caller's transaction: locks the job row (so the batches of
 * one job commit one at a time) and applies the rules: AU_EDUP when this
 * batch is in the ledger already, AU_ESTALE when it comes from an older
 * attempt or the job is no longer running, AU_ENOTFOUND for no such job,
 * AU_EMISMATCH when it is not a batch of the attempt's plan (another
 * chart, another batch count, another fingerprint, or no plan at all).
 * 0: the batch may be written. */
int au_queue_batch_check(PGconn *c, const au_batch_ref_t *b, au_error_t *err);
/* Inside the same transaction, after the batch's rows: records the batch
 * in the ledger with its row count, extends the lease, and marks the job
 * done when this was its last missing batch (*job_done 1). */
int au_queue_batch_done(PGconn *c, const au_batch_ref_t *b, long rows,
                        int lease_s, int *job_done, au_error_t *err);

/* ---- waking idle workers: LISTEN/NOTIFY ------------------------------- */

/* A dedicated connection that LISTENs on AU_QUEUE_CHANNEL (a pooled one
 * cannot: LISTEN belongs to a session). */
typedef struct au_queue_listener_t au_queue_listener_t;
au_queue_listener_t *au_queue_listener_new(const char *url);
void au_queue_listener_destroy(au_queue_listener_t **self_p);
/* (Re)connects and LISTENs if the connection is not healthy: 0, or
 * AU_EDBCONN / AU_EDB (callers then poll on a timer). Call it before
 * claiming, so a push between the claim and the wait is not missed. */
int au_queue_listen(au_queue_listener_t *l);
/* Sleeps until a notification arrives or timeout_ms passes (a plain sleep
 * without a healthy connection; l may be NULL). */
void au_queue_wait(au_queue_listener_t *l, int timeout_ms);

/* ---- what operators ask --------------------------------------------- */

/* Timestamps in these results are ISO 8601 UTC text; the caller PQclears
 * *out. */
/* The newest `limit` jobs, in state `state` (NULL: any): id, kind, queue,
 * priority, state, attempt, max_attempts, rows, source (file name or
 * parameters),
 * updated_at, last_error. */
int au_queue_list(PGconn *c, const char *state, int limit, PGresult **out,
                  au_error_t *err);
/* One job, every column; AU_ENOTFOUND (and *out NULL) when there is none. */
int au_queue_show(PGconn *c, int64_t id, PGresult **out, au_error_t *err);
/* Dead jobs, oldest first: id, kind, attempt, finished_at, source,
 * last_error. */
int au_queue_dead(PGconn *c, PGresult **out, au_error_t *err);
/* Batches and rows committed in the last `seconds`. */
int au_queue_throughput(PGconn *c, int seconds, long *batches, long long *rows,
                        au_error_t *err);

#endif
