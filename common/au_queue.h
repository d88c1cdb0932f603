/* au_queue.h: the durable job queue in PostgreSQL (DESIGN §2).
 *
 * A job moves queued -> running -> done | dead. Claiming bumps `attempt`,
 * which is the job's fencing token: every batch carries the attempt it was
 * cut under, and writes from an older attempt are refused. A lease that
 * expires returns the job to the queue and counts as a failed attempt, so
 * a job that crashes its worker every time still ends dead. */
#ifndef AU_QUEUE_H
#define AU_QUEUE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "au_err.h"

#define AU_QUEUE_CHANNEL "audora_jobs"

typedef struct {
    int64_t id;
    int32_t attempt;
    int32_t max_attempts;
    char kind[32];
    char *params; /* JSON text, malloc'd: au_job_clear() frees it */
} au_job_t;

void au_job_clear(au_job_t *job);

/* Inserts a job and notifies listeners. params is a JSON object. */
int au_queue_push(PGconn *c, const char *kind, const char *params_json,
                  int max_attempts, int64_t *id, au_error_t *err);
/* Claims the oldest runnable job (FOR UPDATE SKIP LOCKED): 1 and *job
 * filled, 0 when there is none, or a negative code. */
int au_queue_claim(PGconn *c, const char *worker, int lease_s, au_job_t *job,
                   au_error_t *err);
/* Extends the lease of a running job; AU_ESTALE if this attempt lost it. */
int au_queue_extend(PGconn *c, int64_t id, int32_t attempt, int lease_s,
                    au_error_t *err);
/* Records a failure of this attempt. permanent (malformed input) or the
 * last allowed attempt -> dead with reason; otherwise queued again after
 * an exponential backoff with jitter. AU_ESTALE if the attempt is old. */
int au_queue_fail(PGconn *c, int64_t id, int32_t attempt, const char *reason,
                  int permanent, int backoff_base_ms, int backoff_max_ms,
                  au_error_t *err);
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
    long queued, running, done, dead;
    long ready;            /* queued and runnable now */
    long long rows;        /* rows written by done jobs */
    double oldest_ready_s; /* wait of the oldest runnable job, seconds */
} au_queue_counts_t;
int au_queue_counts(PGconn *c, au_queue_counts_t *out, au_error_t *err);

/* Dead letters: replay puts a dead job back to queued with a fresh
 * attempt budget; purge deletes dead jobs (id 0: all of them). */
int au_queue_replay(PGconn *c, int64_t id, long *n, au_error_t *err);
int au_queue_purge(PGconn *c, int64_t id, long *n, au_error_t *err);

/* Runs SQL with text params and expects `expect` (PGRES_*); on failure
 * fills err with the server's message and returns AU_EDB (AU_ERETRY for
 * serialization failures, deadlocks and lost connections). The result
 * is returned through *out (may be NULL: cleared). */
int au_pg_exec(PGconn *c, const char *sql, int nparams,
               const char *const *params, ExecStatusType expect, PGresult **out,
               au_error_t *err);

#endif
