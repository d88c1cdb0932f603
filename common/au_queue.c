#include "au_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

void au_job_clear(au_job_t *job)
{
    free(job->params);
    memset(job, 0, sizeof(*job));
}

int au_queue_push(PGconn *c, const char *kind, const char *params_json,
                  int max_attempts, int64_t *id, au_error_t *err)
{
    char ma[16];
    snprintf(ma, sizeof(ma), "%d", max_attempts);
    const char *p[] = {kind, params_json, ma};
    PGresult *r;
    int rc = au_pg_exec(c,
                        "WITH j AS (INSERT INTO jobs (kind, params, "
                        "max_attempts) VALUES ($1, $2::jsonb, $3) "
                        "RETURNING id) "
                        "SELECT id, pg_notify('" AU_QUEUE_CHANNEL
                        "', id::text) FROM j",
                        3, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    if (id)
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int au_queue_claim(PGconn *c, const char *worker, int lease_s, au_job_t *job,
                   au_error_t *err)
{
    char ls[16];
    snprintf(ls, sizeof(ls), "%d", lease_s);
    const char *p[] = {worker, ls};
    PGresult *r;
    int rc =
        au_pg_exec(c,
                   "UPDATE jobs SET state = 'running', attempt = attempt + 1, "
                   " lease_until = now() + make_interval(secs => $2::int), "
                   " leased_by = $1, nbatches = NULL, rows_written = 0, "
                   " updated_at = now() "
                   "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' "
                   "  AND run_after <= now() ORDER BY run_after, id "
                   "  FOR UPDATE SKIP LOCKED LIMIT 1) "
                   "RETURNING id, attempt, max_attempts, kind, params::text",
                   2, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    memset(job, 0, sizeof(*job));
    job->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    job->attempt = (int32_t)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    job->max_attempts = (int32_t)strtol(PQgetvalue(r, 0, 2), NULL, 10);
    snprintf(job->kind, sizeof(job->kind), "%s", PQgetvalue(r, 0, 3));
    job->params = strdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    if (!job->params)
        return au_error_set(err, AU_ENOMEM, "claim: out of memory");
    return 1;
}

/* Runs an UPDATE whose $1 and $2 are the job id and attempt and whose
 * WHERE requires that attempt to be running. extra (may be NULL) are
 * $3... AU_ESTALE when no row changed: this attempt no longer owns the
 * job (its lease expired, or it was failed or released already). */
static int fenced_update(PGconn *c, const char *sql, int64_t id,
                         int32_t attempt, int nextra, const char *const *extra,
                         au_error_t *err)
{
    char ids[24], at[16];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(at, sizeof(at), "%d", attempt);
    const char *p[8] = {ids, at};
    for (int i = 0; i < nextra && i < 6; i++)
        p[2 + i] = extra[i];
    PGresult *r;
    int rc = au_pg_exec(c, sql, 2 + nextra, p, PGRES_COMMAND_OK, &r, err);
    if (rc < 0)
        return rc;
    int n = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 0)
        return au_error_set(err, AU_ESTALE,
                            "job %lld attempt %d is no longer running",
                            (long long)id, attempt);
    return 0;
}

int au_queue_extend(PGconn *c, int64_t id, int32_t attempt, int lease_s,
                    au_error_t *err)
{
    char ls[16];
    snprintf(ls, sizeof(ls), "%d", lease_s);
    const char *extra[] = {ls};
    return fenced_update(c,
                         "UPDATE jobs SET lease_until = now() + "
                         "make_interval(secs => $3::int), updated_at = now() "
                         "WHERE id = $1 AND attempt = $2 AND state = 'running'",
                         id, attempt, 1, extra, err);
}

int au_queue_backoff_ms(int attempt, int base_ms, int max_ms)
{
    double d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* Jitter spreads retries of jobs that failed together (a dead
     * server) so they do not come back as one thundering herd. */
    double j = 0.75 + 0.5 * ((double)rand() / RAND_MAX);
    return (int)(d * j);
}

int au_queue_fail(PGconn *c, int64_t id, int32_t attempt, const char *reason,
                  int permanent, int backoff_base_ms, int backoff_max_ms,
                  au_error_t *err)
{
    char perm[4], back[16];
    snprintf(perm, sizeof(perm), "%d", permanent ? 1 : 0);
    snprintf(back, sizeof(back), "%d",
             au_queue_backoff_ms(attempt, backoff_base_ms, backoff_max_ms));
    const char *extra[] = {reason, perm, back};
    return fenced_update(
        c,
        "UPDATE jobs SET "
        " state = CASE WHEN $4::int = 1 OR attempt >= max_attempts "
        "   THEN 'dead' ELSE 'queued' END, "
        " finished_at = CASE WHEN $4::int = 1 OR attempt >= max_attempts "
        "   THEN now() END, "
        " run_after = now() + make_interval(secs => $5::int / 1000.0), "
        " lease_until = NULL, last_error = $3, updated_at = now() "
        "WHERE id = $1 AND attempt = $2 AND state = 'running'",
        id, attempt, 3, extra, err);
}

int au_queue_release(PGconn *c, int64_t id, int32_t attempt, au_error_t *err)
{
    int rc = fenced_update(
        c,
        "UPDATE jobs SET state = 'queued', run_after = now(), "
        " lease_until = NULL, max_attempts = max_attempts + 1, "
        " last_error = 'released by a draining worker', updated_at = now() "
        "WHERE id = $1 AND attempt = $2 AND state = 'running'",
        id, attempt, 0, NULL, err);
    if (rc == 0)
        PQclear(PQexec(c, "NOTIFY " AU_QUEUE_CHANNEL));
    return rc;
}

int au_queue_sweep(PGconn *c, int backoff_base_ms, int backoff_max_ms,
                   int *requeued, int *dead, au_error_t *err)
{
    char base[16], mx[16];
    snprintf(base, sizeof(base), "%d", backoff_base_ms);
    snprintf(mx, sizeof(mx), "%d", backoff_max_ms);
    const char *p[] = {base, mx};
    PGresult *r;
    /* Backoff in SQL because each row has its own attempt count. */
    int rc = au_pg_exec(
        c,
        "WITH exp AS (SELECT id FROM jobs WHERE state = 'running' "
        "  AND lease_until < now() FOR UPDATE SKIP LOCKED) "
        "UPDATE jobs j SET "
        " state = CASE WHEN attempt >= max_attempts THEN 'dead' "
        "   ELSE 'queued' END, "
        " finished_at = CASE WHEN attempt >= max_attempts THEN now() END, "
        " run_after = now() + make_interval(secs => least($2::float8, "
        "   $1::float8 * power(2, attempt - 1)) * (0.75 + random() / 2) "
        "   / 1000.0), "
        " last_error = 'lease expired during attempt ' || attempt || "
        "   coalesce(' (worker ' || leased_by || ')', ''), "
        " lease_until = NULL, updated_at = now() "
        "FROM exp WHERE j.id = exp.id RETURNING j.state",
        2, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    int q = 0, d = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if (!strcmp(PQgetvalue(r, i, 0), "dead"))
            d++;
        else
            q++;
    }
    PQclear(r);
    if (requeued)
        *requeued = q;
    if (dead)
        *dead = d;
    return 0;
}

int au_queue_counts(PGconn *c, au_queue_counts_t *out, au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_exec(
        c,
        "SELECT count(*) FILTER (WHERE state = 'queued'),"
        " count(*) FILTER (WHERE state = 'running'),"
        " count(*) FILTER (WHERE state = 'done'),"
        " count(*) FILTER (WHERE state = 'dead'),"
        " count(*) FILTER (WHERE state = 'queued' AND run_after <= now()),"
        " coalesce(sum(rows_written) FILTER (WHERE state = 'done'), 0),"
        " coalesce(extract(epoch FROM now() - min(run_after) FILTER "
        "  (WHERE state = 'queued' AND run_after <= now())), 0) "
        "FROM jobs",
        0, NULL, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    out->queued = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    out->running = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    out->done = strtol(PQgetvalue(r, 0, 2), NULL, 10);
    out->dead = strtol(PQgetvalue(r, 0, 3), NULL, 10);
    out->ready = strtol(PQgetvalue(r, 0, 4), NULL, 10);
    out->rows = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    out->oldest_ready_s = strtod(PQgetvalue(r, 0, 6), NULL);
    PQclear(r);
    return 0;
}

static int id_command(PGconn *c, const char *sql, int64_t id, long *n,
                      au_error_t *err)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids};
    PGresult *r;
    int rc = au_pg_exec(c, sql, 1, p, PGRES_COMMAND_OK, &r, err);
    if (rc < 0)
        return rc;
    if (n)
        *n = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int au_queue_replay(PGconn *c, int64_t id, long *n, au_error_t *err)
{
    /* A replay gets a full budget again: max_attempts counts from the
     * attempts already spent, so fencing tokens keep growing. */
    int rc = id_command(c,
                        "UPDATE jobs SET state = 'queued', run_after = now(), "
                        " max_attempts = attempt + max_attempts, "
                        " finished_at = NULL, updated_at = now() "
                        "WHERE state = 'dead' AND ($1::bigint = 0 OR id = $1)",
                        id, n, err);
    if (rc == 0)
        PQclear(PQexec(c, "NOTIFY " AU_QUEUE_CHANNEL));
    return rc;
}

int au_queue_purge(PGconn *c, int64_t id, long *n, au_error_t *err)
{
    return id_command(c,
                      "DELETE FROM jobs WHERE state = 'dead' "
                      "AND ($1::bigint = 0 OR id = $1)",
                      id, n, err);
}

/* ---- batches: fencing and the ledger --------------------------------- */

static void ref_params(const au_batch_ref_t *b, char id[24], char at[16],
                       char sq[16])
{
    snprintf(id, 24, "%lld", (long long)b->job_id);
    snprintf(at, 16, "%d", (int)b->attempt);
    snprintf(sq, 16, "%d", (int)b->seq);
}

int au_queue_batch_check(PGconn *c, const au_batch_ref_t *b, au_error_t *err)
{
    char id[24], at[16], sq[16];
    ref_params(b, id, at, sq);
    const char *p[] = {id, at, sq};
    PGresult *r;
    /* FOR UPDATE: the batches of one job commit one at a time, so the
     * count that decides "done" in au_queue_batch_done is exact. */
    int rc = au_pg_exec(c,
                        "SELECT j.state, j.attempt, EXISTS (SELECT 1 FROM "
                        " batch_ledger l WHERE l.job_id = j.id AND "
                        " l.attempt = $2 AND l.seq = $3) "
                        "FROM jobs j WHERE j.id = $1 FOR UPDATE",
                        3, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return au_error_set(err, AU_ENOTFOUND, "job %s does not exist", id);
    }
    char state[16];
    snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    int attempt = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    int in_ledger = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    if (in_ledger)
        return au_error_set(err, AU_EDUP,
                            "batch %d of attempt %d already applied",
                            (int)b->seq, (int)b->attempt);
    if (b->attempt != attempt)
        return au_error_set(err, AU_ESTALE,
                            "batch from attempt %d, job is at attempt %d",
                            (int)b->attempt, attempt);
    if (strcmp(state, "running") != 0)
        return au_error_set(err, AU_ESTALE, "job is %s", state);
    return 0;
}

int au_queue_batch_done(PGconn *c, const au_batch_ref_t *b, long rows,
                        int lease_s, int *job_done, au_error_t *err)
{
    char id[24], at[16], sq[16], nr[24], nb[16], ls[16];
    ref_params(b, id, at, sq);
    snprintf(nr, sizeof(nr), "%ld", rows);
    snprintf(nb, sizeof(nb), "%d", (int)b->nbatches);
    snprintf(ls, sizeof(ls), "%d", lease_s);
    const char *p[] = {id, at, sq, nr, nb, ls};
    PGresult *r;
    /* The CTE's insert is not visible to the count in the same statement,
     * hence the + 1 for the batch being recorded now. */
    int rc = au_pg_exec(
        c,
        "WITH l AS (INSERT INTO batch_ledger (job_id, attempt, seq, rows) "
        " VALUES ($1::bigint, $2::int, $3::int, $4::int) RETURNING 1), "
        "n AS (SELECT count(*) + 1 AS done FROM batch_ledger "
        " WHERE job_id = $1::bigint AND attempt = $2::int) "
        "UPDATE jobs SET rows_written = rows_written + $4::int, "
        " nbatches = $5::int, updated_at = now(), "
        " lease_until = now() + make_interval(secs => $6::int), "
        " state = CASE WHEN (SELECT done FROM n) >= $5::int THEN 'done' "
        "   ELSE state END, "
        " finished_at = CASE WHEN (SELECT done FROM n) >= $5::int "
        "   THEN now() END, "
        " last_error = CASE WHEN (SELECT done FROM n) >= $5::int "
        "   THEN NULL ELSE last_error END "
        "WHERE id = $1::bigint AND (SELECT count(*) FROM l) = 1 "
        "RETURNING state",
        6, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *job_done = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "done");
    PQclear(r);
    return 0;
}

/* ---- waking idle workers: LISTEN/NOTIFY ------------------------------- */

struct au_queue_listener_t {
    char *url;
    PGconn *conn;
};

au_queue_listener_t *au_queue_listener_new(const char *url)
{
    au_queue_listener_t *l = calloc(1, sizeof(*l));
    if (l && !(l->url = strdup(url))) {
        free(l);
        l = NULL;
    }
    return l;
}

void au_queue_listener_destroy(au_queue_listener_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    PQfinish((*self_p)->conn);
    free((*self_p)->url);
    free(*self_p);
    *self_p = NULL;
}

int au_queue_listen(au_queue_listener_t *l)
{
    if (!l)
        return AU_ENOMEM;
    if (l->conn && PQstatus(l->conn) == CONNECTION_OK)
        return 0;
    PQfinish(l->conn);
    l->conn = PQconnectdb(l->url);
    if (PQstatus(l->conn) != CONNECTION_OK)
        return AU_EDBCONN;
    PGresult *r = PQexec(l->conn, "LISTEN " AU_QUEUE_CHANNEL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : AU_EDB;
}

void au_queue_wait(au_queue_listener_t *l, int timeout_ms)
{
    if (!l || !l->conn || PQstatus(l->conn) != CONNECTION_OK) {
        poll(NULL, 0, timeout_ms);
        return;
    }
    struct pollfd pfd = {PQsocket(l->conn), POLLIN, 0};
    poll(&pfd, 1, timeout_ms);
    PQconsumeInput(l->conn);
    PGnotify *n;
    while ((n = PQnotifies(l->conn)) != NULL)
        PQfreemem(n);
}

/* ---- what operators ask --------------------------------------------- */

/* Every timestamp the queue shows is ISO 8601 in UTC. */
#define ISO(col)                                                               \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int au_queue_list(PGconn *c, const char *state, int limit, PGresult **out,
                  au_error_t *err)
{
    char ns[16];
    snprintf(ns, sizeof(ns), "%d", limit);
    const char *p[] = {state, ns};
    return au_pg_exec(c,
                      "SELECT id, kind, state, attempt, max_attempts, "
                      " rows_written AS rows, "
                      " coalesce(regexp_replace(params->>'path', '^.*/', ''), "
                      "  params::text) AS source, " ISO(
                          "updated_at") " AS "
                                        " updated_at, last_error FROM jobs "
                                        "WHERE $1::text IS NULL OR state = $1 "
                                        "ORDER BY id DESC LIMIT $2::int",
                      2, p, PGRES_TUPLES_OK, out, err);
}

int au_queue_show(PGconn *c, int64_t id, PGresult **out, au_error_t *err)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids};
    int rc = au_pg_exec(
        c,
        "SELECT id, kind, state, attempt, max_attempts, "
        " params::text AS params, nbatches, rows_written AS "
        " rows, leased_by, last_error, " ISO(
            "created_at") " AS "
                          " created_at, " ISO(
                              "updated_at") " AS updated_at, " ISO("finished_"
                                                                   "at") " AS "
                                                                         "finis"
                                                                         "hed_"
                                                                         "at "
                                                                         "FROM "
                                                                         "jobs "
                                                                         "WHERE"
                                                                         " id "
                                                                         "= "
                                                                         "$1::"
                                                                         "bigin"
                                                                         "t",
        1, p, PGRES_TUPLES_OK, out, err);
    if (rc == 0 && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return au_error_set(err, AU_ENOTFOUND, "no job %lld", (long long)id);
    }
    return rc;
}

int au_queue_dead(PGconn *c, PGresult **out, au_error_t *err)
{
    return au_pg_exec(
        c,
        "SELECT id, kind, attempt, " ISO(
            "finished_at") " AS "
                           " finished_at, coalesce(params->>'path', "
                           " params::text) AS source, last_error "
                           "FROM jobs WHERE state = 'dead' ORDER BY id",
        0, NULL, PGRES_TUPLES_OK, out, err);
}

int au_queue_throughput(PGconn *c, int seconds, long *batches, long long *rows,
                        au_error_t *err)
{
    char s[16];
    snprintf(s, sizeof(s), "%d", seconds);
    const char *p[] = {s};
    PGresult *r;
    int rc = au_pg_exec(c,
                        "SELECT count(*), coalesce(sum(rows), 0) "
                        "FROM batch_ledger WHERE committed_at > now() - "
                        "make_interval(secs => $1::int)",
                        1, p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *batches = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    *rows = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return 0;
}
