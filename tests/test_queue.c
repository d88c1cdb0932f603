/* test_queue.c: the durable job queue, against the real PostgreSQL of
 * tests/run.sh. Each test works in a fresh, migrated database. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "au_migrate.h"
#include "au_queue.h"
#include "au_schedule.h"
#include "au_test.h"

#define NJOBS 50

static PGconn *migrated_db(char *url, size_t cap)
{
    au_test_db_new(url, cap);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The single value of a one-row query with the job id as $1. */
static char *job_field(PGconn *c, int64_t id, const char *expr)
{
    char sql[256], ids[24];
    snprintf(sql, sizeof(sql), "SELECT (%s)::text FROM jobs WHERE id = $1",
             expr);
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *p[] = {ids};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1, "job %lld missing", (long long)id);
    char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void expect_field(PGconn *c, int64_t id, const char *expr,
                         const char *want)
{
    char *v = job_field(c, id, expr);
    cr_expect(v && !strcmp(v, want), "%s: got %s, want %s", expr,
              v ? v : "NULL", want);
    free(v);
}

static int64_t push_ok(PGconn *c, const char *params, int max_attempts)
{
    int64_t id = 0;
    au_error_t err = {0};
    cr_assert_eq(au_queue_push(c, "ingest", params, max_attempts, &id, &err), 0,
                 "%s", err.msg);
    cr_assert_gt(id, 0);
    return id;
}

static void claim_ok(PGconn *c, au_job_t *job)
{
    au_error_t err = {0};
    int rc = au_queue_claim(c, "w1", 60, job, &err);
    cr_assert_eq(rc, 1, "claim: rc %d: %s", rc, err.msg);
}

static void fail_ok(PGconn *c, const au_job_t *job, const char *reason,
                    int permanent)
{
    au_error_t err = {0};
    cr_assert_eq(au_queue_fail(c, job->id, job->attempt, reason, permanent,
                               1000, 60000, &err),
                 0, "%s", err.msg);
}

/* Makes a queued job runnable now, skipping its backoff. */
static void make_ready(PGconn *c, int64_t id)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET run_after = now() - interval '1 s' "
             "WHERE id = %lld",
             (long long)id);
    exec_ok(c, sql);
}

static void expire_lease(PGconn *c, int64_t id)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET lease_until = now() - interval '1 s' "
             "WHERE id = %lld",
             (long long)id);
    exec_ok(c, sql);
}

Test(queue, push_then_claim_gives_attempt_one_and_the_params_back)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{\"file\": \"a b.csv\", \"n\": 3}", 5);
    au_job_t job;
    claim_ok(c, &job);
    cr_expect_eq(job.id, id);
    cr_expect_eq(job.attempt, 1);
    cr_expect_eq(job.max_attempts, 5);
    cr_expect_str_eq(job.kind, "ingest");
    /* jsonb normalises the text: compare as jsonb. */
    char *same = NULL;
    {
        const char *p[] = {job.params};
        PGresult *r = PQexecParams(
            c, "SELECT ($1::jsonb = '{\"n\":3,\"file\":\"a b.csv\"}')::text", 1,
            NULL, p, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        same = strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    cr_expect_str_eq(same, "true", "params came back as %s", job.params);
    free(same);
    expect_field(c, id, "state", "running");
    expect_field(c, id, "leased_by", "w1");
    expect_field(c, id, "lease_until > now() + interval '50 s'", "true");
    au_job_clear(&job);
    cr_expect_null(job.params);
    PQfinish(c);
}

Test(queue, second_claim_of_a_single_job_gets_nothing)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    push_ok(c, "{}", 5);
    au_job_t job;
    claim_ok(c, &job);
    au_job_clear(&job);
    au_error_t err = {0};
    cr_expect_eq(au_queue_claim(c, "w2", 60, &job, &err), 0);
    PQfinish(c);
}

Test(queue, claim_order_is_by_run_after_then_id)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t a = push_ok(c, "{\"j\":\"a\"}", 5);
    int64_t b = push_ok(c, "{\"j\":\"b\"}", 5);
    int64_t d = push_ok(c, "{\"j\":\"d\"}", 5);
    int64_t e = push_ok(c, "{\"j\":\"e\"}", 5);
    /* b and d share the earliest run_after, so id breaks the tie; a is
     * later; e is in the future and not claimable at all. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET run_after = CASE id "
             "WHEN %lld THEN now() - interval '1 min' "
             "WHEN %lld THEN now() - interval '1 h' "
             "WHEN %lld THEN now() - interval '1 h' "
             "ELSE now() + interval '1 h' END",
             (long long)a, (long long)b, (long long)d);
    exec_ok(c, sql);
    int64_t want[] = {b, d, a};
    for (int i = 0; i < 3; i++) {
        au_job_t job;
        claim_ok(c, &job);
        cr_expect_eq(job.id, want[i], "claim %d got %lld, want %lld", i,
                     (long long)job.id, (long long)want[i]);
        au_job_clear(&job);
    }
    au_job_t job;
    au_error_t err = {0};
    cr_expect_eq(au_queue_claim(c, "w1", 60, &job, &err), 0,
                 "job %lld claimed before its run_after", (long long)e);
    PQfinish(c);
}

/* Claims until the queue is empty, writing each id to fd. */
static int claim_all(const char *url, int go, int fd)
{
    PGconn *c = PQconnectdb(url);
    char b;
    if (read(go, &b, 1) < 0 || PQstatus(c) != CONNECTION_OK)
        return 1;
    for (;;) {
        au_job_t job;
        au_error_t err = {0};
        int rc = au_queue_claim(c, "racer", 60, &job, &err);
        if (rc < 0)
            return 1;
        if (rc == 0)
            break;
        if (write(fd, &job.id, sizeof(job.id)) != sizeof(job.id))
            return 1;
        au_job_clear(&job);
    }
    PQfinish(c);
    return 0;
}

Test(queue, concurrent_claimers_never_get_the_same_job)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t first = 0;
    for (int i = 0; i < NJOBS; i++) {
        int64_t id = push_ok(c, "{}", 5);
        if (i == 0)
            first = id;
    }
    int go[2], out[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(out), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        cr_assert_geq(kids[k], 0);
        if (kids[k] == 0) {
            close(go[1]);
            close(out[0]);
            _exit(claim_all(url, go[0], out[1]));
        }
    }
    close(go[0]);
    close(out[1]);
    close(go[1]);
    int seen[NJOBS] = {0};
    int64_t id;
    int n = 0;
    while (read(out[0], &id, sizeof(id)) == sizeof(id)) {
        cr_assert(id >= first && id < first + NJOBS, "stray id %lld",
                  (long long)id);
        seen[id - first]++;
        n++;
    }
    close(out[0]);
    for (int k = 0; k < 2; k++) {
        int st = 0;
        cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "claimer %d failed",
                  k);
    }
    cr_expect_eq(n, NJOBS, "%d claims for %d jobs", n, NJOBS);
    for (int i = 0; i < NJOBS; i++)
        cr_expect_eq(seen[i], 1, "job %lld claimed %d times",
                     (long long)(first + i), seen[i]);
    PGresult *r = PQexec(c, "SELECT count(*) FROM jobs "
                            "WHERE state = 'running' AND attempt = 1");
    cr_expect_str_eq(PQgetvalue(r, 0, 0), "50");
    PQclear(r);
    PQfinish(c);
}

Test(queue, transient_failure_requeues_with_backoff_and_keeps_attempt)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 5);
    au_job_t job;
    claim_ok(c, &job);
    fail_ok(c, &job, "redis down", 0);
    expect_field(c, id, "state", "queued");
    expect_field(c, id, "attempt", "1");
    expect_field(c, id, "last_error", "redis down");
    expect_field(c, id, "lease_until IS NULL", "true");
    /* Attempt 1, base 1000 ms: 750..1250 ms in the future. */
    expect_field(c, id,
                 "run_after BETWEEN now() + interval '700 ms' "
                 "AND now() + interval '1300 ms'",
                 "true");
    au_job_t again;
    au_error_t err = {0};
    cr_expect_eq(au_queue_claim(c, "w1", 60, &again, &err), 0,
                 "claimed during its backoff");
    make_ready(c, id);
    claim_ok(c, &again);
    cr_expect_eq(again.id, id);
    cr_expect_eq(again.attempt, 2);
    au_job_clear(&again);
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, released_job_is_runnable_now_without_spending_an_attempt)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 1);
    au_job_t job;
    claim_ok(c, &job);
    au_error_t err = {0};
    cr_assert_eq(au_queue_release(c, job.id, job.attempt, &err), 0, "%s",
                 err.msg);
    expect_field(c, id, "state", "queued");
    expect_field(c, id, "max_attempts", "2");
    expect_field(c, id, "run_after <= now()", "true");
    /* The next claim is attempt 2, so attempt 1's batches stay fenced
     * off, and with max_attempts 1 the job is still not dead. */
    au_job_t again;
    claim_ok(c, &again);
    cr_expect_eq(again.attempt, 2);
    cr_expect_eq(au_queue_release(c, job.id, job.attempt, &err), AU_ESTALE);
    au_job_clear(&again);
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, permanent_failure_is_dead_with_the_reason)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 5);
    au_job_t job;
    claim_ok(c, &job);
    fail_ok(c, &job, "line 3: bad date", 1);
    expect_field(c, id, "state", "dead");
    expect_field(c, id, "last_error", "line 3: bad date");
    expect_field(c, id, "finished_at IS NOT NULL", "true");
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, failure_of_the_last_allowed_attempt_is_dead)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 2);
    au_job_t job;
    claim_ok(c, &job);
    fail_ok(c, &job, "boom 1", 0);
    expect_field(c, id, "state", "queued");
    au_job_clear(&job);
    make_ready(c, id);
    claim_ok(c, &job);
    cr_expect_eq(job.attempt, 2);
    fail_ok(c, &job, "boom 2", 0);
    expect_field(c, id, "state", "dead");
    expect_field(c, id, "last_error", "boom 2");
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, failing_with_an_old_attempt_is_stale_and_changes_nothing)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 5);
    au_job_t job;
    claim_ok(c, &job);
    fail_ok(c, &job, "first", 0);
    make_ready(c, id);
    au_job_t job2;
    claim_ok(c, &job2);
    cr_assert_eq(job2.attempt, 2);
    au_error_t err = {0};
    cr_expect_eq(au_queue_fail(c, id, 1, "late", 1, 1000, 60000, &err),
                 AU_ESTALE);
    expect_field(c, id, "state", "running");
    expect_field(c, id, "last_error", "first");
    au_job_clear(&job);
    au_job_clear(&job2);
    PQfinish(c);
}

Test(queue, extend_with_the_wrong_attempt_is_stale)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 5);
    au_job_t job;
    claim_ok(c, &job);
    au_error_t err = {0};
    cr_expect_eq(au_queue_extend(c, id, job.attempt + 1, 600, NULL, &err),
                 AU_ESTALE);
    expect_field(c, id, "lease_until < now() + interval '120 s'", "true");
    cr_expect_eq(au_queue_extend(c, id, job.attempt, 600, "testing", &err), 0,
                 "%s", err.msg);
    expect_field(c, id, "lease_until > now() + interval '500 s'", "true");
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, sweep_requeues_an_expired_lease_mentioning_the_lease)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 5);
    int64_t other = push_ok(c, "{}", 5);
    au_job_t job, job2;
    claim_ok(c, &job);
    claim_ok(c, &job2);
    cr_assert_eq(job2.id, other);
    expire_lease(c, id);
    int requeued = -1, dead = -1;
    au_error_t err = {0};
    cr_assert_eq(au_queue_sweep(c, 1000, 60000, &requeued, &dead, &err), 0,
                 "%s", err.msg);
    cr_expect_eq(requeued, 1);
    cr_expect_eq(dead, 0);
    expect_field(c, id, "state", "queued");
    expect_field(c, id, "last_error LIKE '%lease%'", "true");
    expect_field(c, id, "run_after > now()", "true");
    /* The job whose lease is still valid is left alone. */
    expect_field(c, other, "state", "running");
    au_job_clear(&job);
    au_job_clear(&job2);
    PQfinish(c);
}

Test(queue, sweep_of_an_expired_lease_at_max_attempts_is_dead)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 1);
    au_job_t job;
    claim_ok(c, &job);
    expire_lease(c, id);
    int requeued = -1, dead = -1;
    au_error_t err = {0};
    cr_assert_eq(au_queue_sweep(c, 1000, 60000, &requeued, &dead, &err), 0,
                 "%s", err.msg);
    cr_expect_eq(requeued, 0);
    cr_expect_eq(dead, 1);
    expect_field(c, id, "state", "dead");
    expect_field(c, id, "last_error LIKE '%lease%'", "true");
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, replay_puts_a_dead_job_back_with_more_attempts)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t id = push_ok(c, "{}", 2);
    au_job_t job;
    claim_ok(c, &job);
    fail_ok(c, &job, "boom", 1);
    expect_field(c, id, "state", "dead");
    au_job_clear(&job);
    long n = -1;
    au_error_t err = {0};
    cr_assert_eq(au_queue_replay(c, id, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 1);
    expect_field(c, id, "state", "queued");
    expect_field(c, id, "finished_at IS NULL", "true");
    claim_ok(c, &job);
    cr_expect_eq(job.attempt, 2, "the fencing token went back");
    cr_expect_eq(job.max_attempts, 3);
    /* Attempt 2 of 3 may fail and still come back. */
    fail_ok(c, &job, "again", 0);
    expect_field(c, id, "state", "queued");
    au_job_clear(&job);
    /* Replaying a job that is not dead changes nothing. */
    cr_assert_eq(au_queue_replay(c, id, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 0);
    expect_field(c, id, "max_attempts", "3");
    PQfinish(c);
}

Test(queue, purge_deletes_dead_jobs_only)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t dead1 = push_ok(c, "{}", 5);
    int64_t dead2 = push_ok(c, "{}", 5);
    int64_t running = push_ok(c, "{}", 5);
    au_job_t j1, j2, j3;
    claim_ok(c, &j1);
    claim_ok(c, &j2);
    claim_ok(c, &j3);
    cr_assert_eq(j3.id, running);
    fail_ok(c, &j1, "x", 1);
    fail_ok(c, &j2, "y", 1);
    int64_t queued = push_ok(c, "{}", 5);
    long n = -1;
    au_error_t err = {0};
    cr_assert_eq(au_queue_purge(c, dead1, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 1);
    cr_assert_eq(au_queue_purge(c, running, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 0, "purge deleted a running job");
    cr_assert_eq(au_queue_purge(c, 0, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 1);
    PGresult *r = PQexec(c, "SELECT id FROM jobs ORDER BY id");
    cr_assert_eq(PQntuples(r), 2);
    cr_expect_eq(strtoll(PQgetvalue(r, 0, 0), NULL, 10), running);
    cr_expect_eq(strtoll(PQgetvalue(r, 1, 0), NULL, 10), queued);
    PQclear(r);
    (void)dead2;
    au_job_clear(&j1);
    au_job_clear(&j2);
    au_job_clear(&j3);
    PQfinish(c);
}

Test(queue, backoff_grows_exponentially_and_is_capped)
{
    /* base * 2^(attempt-1), +-25%; many draws so the jitter shows. */
    for (int attempt = 1; attempt <= 5; attempt++) {
        double mid = 100.0 * (1 << (attempt - 1));
        int lo = 1 << 30, hi = 0;
        for (int i = 0; i < 200; i++) {
            int b = au_queue_backoff_ms(attempt, 100, 100000);
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
        cr_expect_geq(lo, (int)(mid * 0.75) - 1, "attempt %d: %d", attempt, lo);
        cr_expect_leq(hi, (int)(mid * 1.25) + 1, "attempt %d: %d", attempt, hi);
        cr_expect_lt(lo, hi, "attempt %d: no jitter", attempt);
    }
    /* Attempt 10 at base 1000 would be 512 s: capped at 5 s. */
    for (int i = 0; i < 200; i++) {
        int b = au_queue_backoff_ms(10, 1000, 5000);
        cr_expect(b >= 3750 && b <= 6250, "capped backoff %d", b);
    }
    /* A huge attempt number neither overflows nor goes negative. */
    int b = au_queue_backoff_ms(1000000, 1000, 60000);
    cr_expect(b >= 45000 && b <= 75000, "backoff %d", b);
}

Test(queue, counts_match_the_jobs_in_each_state)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    for (int i = 0; i < 6; i++)
        push_ok(c, "{}", 5);
    au_job_t a, b, d;
    claim_ok(c, &a); /* -> done below */
    claim_ok(c, &b); /* -> dead */
    claim_ok(c, &d); /* -> queued with a backoff: not ready */
    fail_ok(c, &b, "bad", 1);
    fail_ok(c, &d, "later", 0);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET state = 'done', rows_written = 42 "
             "WHERE id = %lld",
             (long long)a.id);
    exec_ok(c, sql);
    au_job_t r1;
    claim_ok(c, &r1); /* stays running */
    au_queue_counts_t ct;
    au_error_t err = {0};
    cr_assert_eq(au_queue_counts(c, &ct, &err), 0, "%s", err.msg);
    cr_expect_eq(ct.queued, 3);
    cr_expect_eq(ct.ready, 2);
    cr_expect_eq(ct.running, 1);
    cr_expect_eq(ct.done, 1);
    cr_expect_eq(ct.dead, 1);
    cr_expect_eq(ct.rows, 42);
    au_job_clear(&a);
    au_job_clear(&b);
    au_job_clear(&d);
    au_job_clear(&r1);
    PQfinish(c);
}

Test(queue, counts_report_how_long_the_oldest_ready_job_has_waited)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_queue_counts_t q;
    au_error_t err = {0};
    cr_assert_eq(au_queue_counts(c, &q, &err), 0, "%s", err.msg);
    cr_expect_eq(q.oldest_ready_s, 0.0, "no job, no wait");
    int64_t id = push_ok(c, "{}", 5);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET run_after = now() - interval '10 s' "
             "WHERE id = %lld",
             (long long)id);
    exec_ok(c, sql);
    cr_assert_eq(au_queue_counts(c, &q, &err), 0, "%s", err.msg);
    cr_expect(q.oldest_ready_s >= 9.5 && q.oldest_ready_s < 60.0, "%f",
              q.oldest_ready_s);
    PQfinish(c);
}

/* ---- queue controls ---------------------------------------------------- */

static int enqueue(PGconn *c, const au_push_t *p, int64_t *id)
{
    au_error_t err = {0};
    int rc = au_queue_enqueue(c, p, id, &err);
    cr_assert_geq(rc, 0, "%s", err.msg);
    return rc;
}

Test(queue, the_same_job_queued_twice_is_one_job_unless_forced)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_push_t p = {.kind = "chart_csv",
                   .params = "{\"path\": \"/a.csv\", \"date\": \"x\"}",
                   .max_attempts = 5};
    int64_t a = 0, b = 0, f = 0, other = 0;
    cr_expect_eq(enqueue(c, &p, &a), 1);
    /* The same parameters in another order and spacing: the same job. */
    au_push_t same = p;
    same.params = "{\"date\":\"x\",\"path\":\"/a.csv\"}";
    cr_expect_eq(enqueue(c, &same, &b), 0);
    cr_expect_eq(b, a);
    au_push_t elsewhere = p;
    elsewhere.queue = "live";
    cr_expect_eq(enqueue(c, &elsewhere, &other), 1, "another queue");
    same.force = 1;
    cr_expect_eq(enqueue(c, &same, &f), 1);
    cr_expect_neq(f, a);
    /* Running is still "the same job"; once it ended, a new one. */
    au_job_t job;
    au_error_t err = {0};
    cr_assert_eq(au_queue_claim_from(c, "w", 60, "default", &job, &err), 1);
    cr_assert_eq(job.id, a);
    same.force = 0;
    cr_expect_eq(enqueue(c, &same, &b), 0);
    cr_expect_eq(b, a);
    cr_assert_eq(au_queue_finish(c, job.id, job.attempt, 0, &err), 0);
    cr_expect_eq(enqueue(c, &same, &b), 1);
    cr_expect_gt(b, f);
    au_job_clear(&job);
    PQfinish(c);
}

Test(queue, claims_follow_priority_queues_pauses_and_run_at)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_push_t p = {.kind = "k", .max_attempts = 5, .force = 1};
    int64_t low, high, live, later;
    p.params = "{\"n\": 1}";
    p.priority = 4;
    enqueue(c, &p, &low);
    p.params = "{\"n\": 2}";
    p.priority = 1;
    enqueue(c, &p, &high);
    p.params = "{\"n\": 3}";
    p.priority = 1;
    p.queue = "live";
    enqueue(c, &p, &live);
    p.params = "{\"n\": 4}";
    p.queue = NULL;
    p.run_at = (long long)time(NULL) + 3600;
    enqueue(c, &p, &later);
    au_error_t err = {0};
    au_job_t j;
    /* A worker of "default" only: the first priority, then the last. */
    cr_assert_eq(au_queue_claim_from(c, "w", 60, "default", &j, &err), 1);
    cr_expect_eq(j.id, high);
    au_job_clear(&j);
    /* "live" paused: a worker of every queue gets the default one left. */
    cr_assert_eq(au_queue_pause(c, "live", 1, &err), 0, "%s", err.msg);
    cr_assert_eq(au_queue_claim_from(c, "w", 60, "*", &j, &err), 1);
    cr_expect_eq(j.id, low);
    au_job_clear(&j);
    cr_expect_eq(au_queue_claim_from(c, "w", 60, " live , default ", &j, &err),
                 0, "paused, and the last one runs in an hour");
    cr_assert_eq(au_queue_pause(c, "live", 0, &err), 0, "%s", err.msg);
    cr_assert_eq(au_queue_claim_from(c, "w", 60, "live,default", &j, &err), 1);
    cr_expect_eq(j.id, live);
    au_job_clear(&j);
    expect_field(c, later, "state", "queued");
    expect_field(c, later, "run_after > now() + interval '59 min'", "true");
    cr_expect_eq(au_queue_claim_from(c, "w", 60, "Bad Name", &j, &err),
                 AU_EINVAL);
    PQfinish(c);
}

Test(queue, a_cancelled_job_is_not_claimed_and_its_running_attempt_is_fenced)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t queued = push_ok(c, "{\"n\": 1}", 5);
    au_job_t run;
    claim_ok(c, &run);
    cr_assert_eq(run.id, queued);
    int64_t waiting = push_ok(c, "{\"n\": 2}", 5);
    int64_t ids[] = {waiting, run.id, 999999};
    PGresult *r = NULL;
    au_error_t err = {0};
    cr_assert_eq(au_queue_cancel(c, 3, ids, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(PQntuples(r), 3);
    /* Ordered by id: the running one, the queued one, the missing one. */
    cr_expect_str_eq(PQgetvalue(r, 0, 1), "running");
    cr_expect_str_eq(PQgetvalue(r, 0, 2), "t");
    cr_expect_str_eq(PQgetvalue(r, 1, 1), "queued");
    cr_expect_str_eq(PQgetvalue(r, 1, 2), "t");
    cr_expect_str_eq(PQgetvalue(r, 2, 1), "missing");
    cr_expect_str_eq(PQgetvalue(r, 2, 2), "f");
    PQclear(r);
    expect_field(c, waiting, "state", "cancelled");
    expect_field(c, run.id, "last_error",
                 "cancelled while running (attempt 1)");
    au_job_t j;
    cr_expect_eq(au_queue_claim(c, "w", 60, &j, &err), 0);
    cr_expect_eq(au_queue_extend(c, run.id, run.attempt, 60, NULL, &err),
                 AU_ESTALE);
    cr_expect_eq(au_queue_finish(c, run.id, run.attempt, 5, &err), AU_ESTALE);
    expect_field(c, run.id, "state", "cancelled");
    /* A second cancel changes nothing and says so. */
    cr_assert_eq(au_queue_cancel(c, 1, &waiting, &r, &err), 0);
    cr_expect_str_eq(PQgetvalue(r, 0, 1), "cancelled");
    cr_expect_str_eq(PQgetvalue(r, 0, 2), "f");
    PQclear(r);
    au_job_clear(&run);
    PQfinish(c);
}

Test(queue, prune_deletes_only_old_ended_jobs_and_dead_ones_when_asked)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    int64_t done = push_ok(c, "{\"n\": 1}", 1),
            dead = push_ok(c, "{\"n\": 2}", 1);
    int64_t fresh = push_ok(c, "{\"n\": 3}", 1),
            queued = push_ok(c, "{\"n\": 4}", 1);
    au_job_t a, b, d;
    claim_ok(c, &a);
    claim_ok(c, &b);
    claim_ok(c, &d);
    au_error_t err = {0};
    cr_assert_eq(au_queue_finish(c, a.id, a.attempt, 1, &err), 0);
    fail_ok(c, &b, "broken", 1);
    cr_assert_eq(au_queue_finish(c, d.id, d.attempt, 1, &err), 0);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET finished_at = now() - interval '8 days' WHERE "
             "id IN (%lld, %lld)",
             (long long)done, (long long)dead);
    exec_ok(c, sql);
    long n = 0;
    cr_assert_eq(au_queue_prune(c, 7 * 86400, 0, 1000, &n, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(n, 1, "the old done job");
    cr_assert_eq(au_queue_prune(c, 7 * 86400, 1, 1000, &n, &err), 0);
    cr_expect_eq(n, 1, "the old dead job");
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs");
    PGresult *r = PQexec(c, sql);
    char want[64];
    snprintf(want, sizeof(want), "%lld,%lld", (long long)fresh,
             (long long)queued);
    cr_expect_str_eq(PQgetvalue(r, 0, 0), want);
    PQclear(r);
    au_job_clear(&a);
    au_job_clear(&b);
    au_job_clear(&d);
    PQfinish(c);
}

/* ---- schedules ------------------------------------------------------- */

/* The one value of a query, as text ("" for NULL). */
static char *value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1, "%s", sql);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void expect_value(PGconn *c, const char *sql, const char *want)
{
    char *v = value(c, sql);
    cr_expect_str_eq(v, want, "%s", sql);
    free(v);
}

Test(queue, a_due_schedule_fires_once_whoever_tries_at_the_same_time)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_schedule_t s = {.name = "br-hourly",
                       .cron = "0 * * * *",
                       .kind = "lastfm_chart",
                       .params = "{\"country\": \"Brazil\", \"date\": "
                                 "\"$tick_date\"}",
                       .queue = "live",
                       .priority = 1,
                       .max_attempts = 3};
    au_error_t err = {0};
    cr_assert_eq(au_schedule_add(c, &s, 0, &err), 0, "%s", err.msg);
    cr_expect_eq(au_schedule_add(c, &s, 0, &err), AU_EDUP);
    expect_value(c,
                 "SELECT next_run > now() AND next_run <= now() + interval "
                 "'1 hour' AND extract(minute FROM next_run) = 0 FROM "
                 "schedules",
                 "t");
    int fired = 0;
    cr_assert_eq(au_schedule_fire(c, &fired, &err), 0, "%s", err.msg);
    cr_expect_eq(fired, 0, "not due yet");
    /* Its tick comes (a tick two hours ago, missed: fired once, not
     * twice), and eight processes try to fire it at once. */
    exec_ok(c, "UPDATE schedules SET next_run = date_trunc('hour', now()) - "
               "interval '2 hours'");
    char *tick_date = value(c, "SELECT to_char((date_trunc('hour', now()) - "
                               "interval '2 hours') AT TIME ZONE 'UTC', "
                               "'YYYY-MM-DD')");
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (kids[i] == 0) {
            PGconn *k = PQconnectdb(url);
            au_error_t e = {0};
            int n = 0;
            int rc = au_schedule_fire(k, &n, &e);
            PQfinish(k);
            _exit(rc == 0 ? n : 100);
        }
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        int st = 0;
        waitpid(kids[i], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) < 100);
        total += WEXITSTATUS(st);
    }
    cr_expect_eq(total, 1, "one of eight fired it");
    expect_value(c, "SELECT count(*) FROM jobs", "1");
    char want[64];
    snprintf(want, sizeof(want), "Brazil|%s|live|1|3|br-hourly", tick_date);
    free(tick_date);
    expect_value(c,
                 "SELECT concat_ws('|', params->>'country', params->>'date', "
                 "queue, priority, max_attempts, schedule) FROM jobs",
                 want);
    /* Moved on past now, to the next hour. */
    expect_value(c,
                 "SELECT next_run > now() AND next_run <= now() + interval "
                 "'1 hour' AND last_job = (SELECT id FROM jobs) FROM "
                 "schedules",
                 "t");
    cr_assert_eq(au_schedule_fire(c, &fired, &err), 0, "%s", err.msg);
    cr_expect_eq(fired, 0);
    long n = 0;
    cr_assert_eq(au_schedule_remove(c, "br-hourly", &n, &err), 0);
    cr_expect_eq(n, 1);
    PQfinish(c);
}

Test(queue, a_schedule_whose_last_job_still_waits_queues_nothing_new)
{
    char url[512];
    PGconn *c = migrated_db(url, sizeof(url));
    au_schedule_t s = {.name = "rescan",
                       .cron = "*/5 * * * *",
                       .kind = "chart_csv",
                       .params = "{\"path\": \"/charts/x.csv\"}",
                       .max_attempts = 3};
    au_error_t err = {0};
    cr_assert_eq(au_schedule_add(c, &s, 0, &err), 0, "%s", err.msg);
    int fired = 0;
    for (int i = 0; i < 2; i++) {
        exec_ok(c, "UPDATE schedules SET next_run = now() - interval '1 s'");
        cr_assert_eq(au_schedule_fire(c, &fired, &err), 0, "%s", err.msg);
        cr_expect_eq(fired, 1);
    }
    expect_value(c, "SELECT count(*) FROM jobs", "1");
    au_schedule_t bad = s;
    bad.cron = "0 0 31 2 *";
    cr_expect_eq(au_schedule_add(c, &bad, 1, &err), AU_EINVAL);
    bad.cron = s.cron;
    bad.params = "[1]";
    cr_expect_eq(au_schedule_add(c, &bad, 1, &err), AU_EINVAL);
    PQfinish(c);
}
