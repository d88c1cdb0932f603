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

int au_queue_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int au_queue_enqueue(PGconn *c, const au_push_t *job, int64_t *id,
                     au_error_t *err)
{
    const char *queue = job->queue ? job->queue : "default";
    if (!au_queue_name_ok(queue))
        return au_error_set(err, AU_EINVAL,
                            "queue \"%s\": 1 to 64 of a-z, 0-9, '_' and '-'",
                            queue);
    au_params_t p = {0};
    au_params_str(&p, job->kind);
    au_params_str(&p, job->params);
    au_params_int(&p, job->max_attempts);
    au_params_str(&p, queue);
    au_params_int(&p, job->priority ? job->priority : AU_PRIORITY_DEFAULT);
    au_params_int(&p, job->run_at);
    au_params_int(&p, job->force ? 0 : 1);
    au_params_str(&p, job->schedule);
    /* The key of "the same job": its queue, kind and parameters (jsonb's
     * text is canonical: keys sorted, spacing fixed). A conflict with a
     * job queued or running gives that job back instead; one that ended
     * meanwhile leaves the second statement nothing to find, and the
     * insert is tried again. */
    static const char *const sql =
        "WITH k AS (SELECT CASE WHEN $7::int = 1 THEN md5($4 || chr(10) || "
        " $1 || chr(10) || $2::jsonb::text) END AS key), "
        "ins AS (INSERT INTO jobs (kind, params, max_attempts, queue, "
        " priority, run_after, unique_key, schedule) SELECT $1, $2::jsonb, "
        " $3, $4, $5, CASE WHEN $6::bigint > 0 THEN to_timestamp($6::bigint) "
        " ELSE now() END, k.key, $8 FROM k ON CONFLICT (unique_key) WHERE "
        " unique_key IS NOT NULL AND state IN ('queued','running') DO "
        " NOTHING RETURNING id) "
        "SELECT id, 1, pg_notify('" AU_QUEUE_CHANNEL "', id::text) FROM ins "
        "UNION ALL SELECT j.id, 0, NULL FROM jobs j, k WHERE j.unique_key = "
        " k.key AND j.state IN ('queued','running') AND NOT EXISTS (SELECT "
        " 1 FROM ins)";
    for (int tries = 0; tries < 3; tries++) {
        PGresult *r;
        int rc = au_pg_run(c, sql, &p, PGRES_TUPLES_OK, &r, err);
        if (rc < 0)
            return rc;
        if (PQntuples(r) > 0) {
            if (id)
                *id = au_pg_ll(r, 0, 0);
            rc = (int)au_pg_ll(r, 0, 1);
            PQclear(r);
            return rc;
        }
        PQclear(r);
    }
    return au_error_set(err, AU_ERETRY,
                        "push: an identical job kept changing state");
}

int au_queue_push(PGconn *c, const char *kind, const char *params_json,
                  int max_attempts, int64_t *id, au_error_t *err)
{
    au_push_t job = {.kind = kind,
                     .params = params_json,
                     .max_attempts = max_attempts,
                     .force = 1};
    int rc = au_queue_enqueue(c, &job, id, err);
    return rc < 0 ? rc : 0;
}

/* "{a,b}" of a comma-separated list of queue names, "*" (or NULL, or
 * empty) for every queue: NULL. */
static int queue_array(const char *csv, char *out, size_t cap, au_error_t *err)
{
    if (!csv || !*csv || !strcmp(csv, "*")) {
        out[0] = '\0';
        return 0;
    }
    size_t n = 0;
    out[n++] = '{';
    for (const char *s = csv; *s;) {
        size_t len = strcspn(s, ","), i = 0;
        char name[65];
        while (len > 0 && s[i] == ' ')
            i++, len--;
        while (len > 0 && s[i + len - 1] == ' ')
            len--;
        snprintf(name, sizeof(name), "%.*s", (int)(len < 64 ? len : 64), s + i);
        if (len > 64 || !au_queue_name_ok(name))
            return au_error_set(err, AU_EINVAL,
                                "queue list \"%s\": \"%.*s\" is not a queue "
                                "name (1 to 64 of a-z, 0-9, '_' and '-')",
                                csv, (int)strcspn(s, ","), s);
        if (n + len + 2 >= cap)
            return au_error_set(err, AU_ETOOBIG, "queue list too long");
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 1 ? "," : "", name);
        s += strcspn(s, ",");
        s += *s == ',';
    }
    snprintf(out + n, cap - n, "}");
    return 0;
}

int au_queue_claim_from(PGconn *c, const char *worker, int lease_s,
                        const char *queues, au_job_t *job, au_error_t *err)
{
    char arr[2048];
    int rc = queue_array(queues, arr, sizeof(arr), err);
    if (rc < 0)
        return rc;
    au_params_t p = {0};
    au_params_str(&p, worker);
    au_params_int(&p, lease_s);
    au_params_str(&p, arr[0] ? arr : NULL);
    PGresult *r;
    /* Priority first, then the order they became runnable; a paused queue
     * gives nothing; SKIP LOCKED lets every worker claim at once. */
    rc = au_pg_run(
        c,
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, "
        " lease_until = now() + make_interval(secs => $2::int), "
        " leased_by = $1, nbatches = NULL, rows_written = 0, "
        " activity = 'claimed', sent_at = NULL, updated_at = now() "
        "WHERE id = (SELECT id FROM jobs j WHERE state = 'queued' "
        "  AND run_after <= now() "
        "  AND ($3::text[] IS NULL OR queue = ANY ($3::text[])) "
        "  AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = j.queue "
        "   AND q.paused_at IS NOT NULL) "
        "  ORDER BY priority, run_after, id "
        "  FOR UPDATE SKIP LOCKED LIMIT 1) "
        "RETURNING id, attempt, max_attempts, kind, params::text",
        &p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    memset(job, 0, sizeof(*job));
    job->id = au_pg_ll(r, 0, 0);
    job->attempt = (int32_t)au_pg_ll(r, 0, 1);
    job->max_attempts = (int32_t)au_pg_ll(r, 0, 2);
    snprintf(job->kind, sizeof(job->kind), "%s", PQgetvalue(r, 0, 3));
    job->params = strdup(PQgetvalue(r, 0, 4));
    PQclear(r);
    if (!job->params)
        return au_error_set(err, AU_ENOMEM, "claim: out of memory");
    return 1;
}

int au_queue_claim(PGconn *c, const char *worker, int lease_s, au_job_t *job,
                   au_error_t *err)
{
    return au_queue_claim_from(c, worker, lease_s, NULL, job, err);
}

/* Parameters $1 and $2 of a fenced update: the job and its attempt. */
static au_params_t fence(int64_t id, int32_t attempt)
{
    au_params_t p = {0};
    au_params_int(&p, id);
    au_params_int(&p, attempt);
    return p;
}

/* Runs an UPDATE whose $1 and $2 are the job id and attempt (from
 * fence()) and whose WHERE requires that attempt to be running. AU_ESTALE
 * when no row changed: this attempt no longer owns the job (its lease
 * expired, or it was failed or released already). */
static int fenced_update(PGconn *c, const char *sql, const au_params_t *p,
                         au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_run(c, sql, p, PGRES_COMMAND_OK, &r, err);
    if (rc < 0)
        return rc;
    long n = au_pg_changed(r);
    PQclear(r);
    if (n == 0)
        return au_error_set(err, AU_ESTALE,
                            "job %s attempt %s is no longer running", p->num[0],
                            p->num[1]);
    return 0;
}

int au_queue_extend(PGconn *c, int64_t id, int32_t attempt, int lease_s,
                    const char *activity, au_error_t *err)
{
    au_params_t p = fence(id, attempt);
    au_params_int(&p, lease_s);
    au_params_str(&p, activity);
    return fenced_update(c,
                         "UPDATE jobs SET lease_until = now() + "
                         "make_interval(secs => $3::int), updated_at = now(), "
                         "activity = coalesce($4, activity) "
                         "WHERE id = $1 AND attempt = $2 AND state = 'running'",
                         &p, err);
}

/* The digests as a bytea literal in hex: \x0a1b... */
static char *hex_bytea(const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);
    if (!s)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = digits[b[i] >> 4];
        s[3 + 2 * i] = digits[b[i] & 15];
    }
    s[2 + 2 * n] = '\0';
    return s;
}

int au_queue_plan(PGconn *c, int64_t id, int32_t attempt, int32_t series_id,
                  long day, int32_t nbatches, long rows,
                  const unsigned char *digests, au_error_t *err)
{
    char *hex = hex_bytea(digests, (size_t)nbatches * 16);
    if (!hex)
        return au_error_set(err, AU_ENOMEM, "plan: out of memory");
    au_params_t p = fence(id, attempt);
    au_params_int(&p, series_id);
    au_params_int(&p, day);
    au_params_int(&p, nbatches);
    au_params_int(&p, rows);
    au_params_str(&p, hex);
    int rc = fenced_update(
        c,
        "UPDATE jobs SET plan_attempt = $2, plan_series = $3::int, "
        " plan_date = DATE '1970-01-01' + $4::int, plan_nbatches = $5::int, "
        " plan_rows = $6::int, plan_digests = $7::bytea, updated_at = now(), "
        " activity = format('validated: %s rows in %s batches', $6::int, "
        "  $5::int) "
        "WHERE id = $1 AND attempt = $2 AND state = 'running'",
        &p, err);
    free(hex);
    return rc;
}

int au_queue_note(PGconn *c, int64_t id, int32_t attempt, const char *cause,
                  au_error_t *err)
{
    au_params_t p = fence(id, attempt);
    au_params_str(&p, cause);
    return fenced_update(c,
                         "UPDATE jobs SET last_error = left($3, 1000), "
                         " updated_at = now() "
                         "WHERE id = $1 AND attempt = $2 AND state = 'running'",
                         &p, err);
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
    au_params_t p = fence(id, attempt);
    au_params_str(&p, reason);
    au_params_int(&p, permanent ? 1 : 0);
    au_params_int(
        &p, au_queue_backoff_ms(attempt, backoff_base_ms, backoff_max_ms));
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
        &p, err);
}

int au_queue_finish(PGconn *c, int64_t id, int32_t attempt, long rows,
                    au_error_t *err)
{
    au_params_t p = fence(id, attempt);
    au_params_int(&p, rows);
    return fenced_update(
        c,
        "UPDATE jobs SET state = 'done', finished_at = now(), "
        " lease_until = NULL, rows_written = $3::bigint, last_error = NULL, "
        " updated_at = now() "
        "WHERE id = $1 AND attempt = $2 AND state = 'running'",
        &p, err);
}

int au_queue_sent(PGconn *c, int64_t id, int32_t attempt, au_error_t *err)
{
    au_params_t p = fence(id, attempt);
    /* Not fenced: the last batch may be committed, and the job done,
     * before this lands. */
    return au_pg_run(c,
                     "UPDATE jobs SET sent_at = now(), activity = 'all "
                     " batches sent', updated_at = now() WHERE id = $1 AND "
                     " attempt = $2 AND state = 'running'",
                     &p, PGRES_COMMAND_OK, NULL, err);
}

int au_queue_release(PGconn *c, int64_t id, int32_t attempt, au_error_t *err)
{
    au_params_t p = fence(id, attempt);
    int rc = fenced_update(
        c,
        "UPDATE jobs SET state = 'queued', run_after = now(), "
        " lease_until = NULL, max_attempts = max_attempts + 1, "
        " last_error = 'released by a draining worker', updated_at = now() "
        "WHERE id = $1 AND attempt = $2 AND state = 'running'",
        &p, err);
    if (rc == 0)
        PQclear(PQexec(c, "NOTIFY " AU_QUEUE_CHANNEL));
    return rc;
}

int au_queue_sweep(PGconn *c, int backoff_base_ms, int backoff_max_ms,
                   int *requeued, int *dead, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, backoff_base_ms);
    au_params_int(&p, backoff_max_ms);
    PGresult *r;
    /* Backoff in SQL because each row has its own attempt count. */
    int rc = au_pg_run(
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
        "   coalesce(' (worker ' || leased_by || ')', '') || "
        "   coalesce('; last seen: ' || activity, '') || "
        "   coalesce('; earlier: ' || left(last_error, 200), ''), "
        " lease_until = NULL, updated_at = now() "
        "FROM exp WHERE j.id = exp.id RETURNING j.state",
        &p, PGRES_TUPLES_OK, &r, err);
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
    int rc = au_pg_run(
        c,
        "SELECT count(*) FILTER (WHERE state = 'queued'),"
        " count(*) FILTER (WHERE state = 'running'),"
        " count(*) FILTER (WHERE state = 'done'),"
        " count(*) FILTER (WHERE state = 'dead'),"
        " count(*) FILTER (WHERE state = 'queued' AND run_after <= now()),"
        " count(*) FILTER (WHERE state = 'cancelled'),"
        " count(*) FILTER (WHERE state = 'running' AND sent_at IS NOT NULL),"
        " count(*) FILTER (WHERE state = 'done' AND finished_at > now() - "
        "  interval '1 minute'),"
        " coalesce(sum(rows_written) FILTER (WHERE state = 'done'), 0),"
        " coalesce(extract(epoch FROM now() - min(run_after) FILTER "
        "  (WHERE state = 'queued' AND run_after <= now())), 0) "
        "FROM jobs",
        NULL, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    out->queued = (long)au_pg_ll(r, 0, 0);
    out->running = (long)au_pg_ll(r, 0, 1);
    out->done = (long)au_pg_ll(r, 0, 2);
    out->dead = (long)au_pg_ll(r, 0, 3);
    out->ready = (long)au_pg_ll(r, 0, 4);
    out->cancelled = (long)au_pg_ll(r, 0, 5);
    out->in_flight = (long)au_pg_ll(r, 0, 6);
    out->done_last_minute = (long)au_pg_ll(r, 0, 7);
    out->rows = au_pg_ll(r, 0, 8);
    out->oldest_ready_s = strtod(PQgetvalue(r, 0, 9), NULL);
    PQclear(r);
    return 0;
}

static int id_command(PGconn *c, const char *sql, int64_t id, long *n,
                      au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, id);
    PGresult *r;
    int rc = au_pg_run(c, sql, &p, PGRES_COMMAND_OK, &r, err);
    if (rc < 0)
        return rc;
    if (n)
        *n = au_pg_changed(r);
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
                        " unique_key = NULL, "
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

/* ---- controls -------------------------------------------------------- */

int au_queue_cancel(PGconn *c, size_t n, const int64_t *ids, PGresult **out,
                    au_error_t *err)
{
    au_buf_t b = {0};
    int rc = au_buf_put(&b, "{", 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char num[24];
        int len = snprintf(num, sizeof(num), "%s%lld", i ? "," : "",
                           (long long)ids[i]);
        rc = au_buf_put(&b, num, (size_t)len);
    }
    if (rc == 0)
        rc = au_buf_put(&b, "}", 1);
    if (rc < 0) {
        au_buf_free(&b);
        return au_error_set(err, AU_ENOMEM, "cancel: out of memory");
    }
    au_params_t p = {0};
    au_params_str(&p, b.data);
    /* A running attempt learns it at its next fenced write (AU_ESTALE)
     * and stops; its batches still in flight are refused as stale. */
    rc = au_pg_run(c,
                   "WITH w AS (SELECT id, state FROM jobs WHERE id = ANY "
                   " ($1::bigint[]) FOR UPDATE), "
                   "u AS (UPDATE jobs j SET state = 'cancelled', "
                   " finished_at = now(), lease_until = NULL, last_error = "
                   " 'cancelled' || CASE WHEN w.state = 'running' THEN "
                   " ' while running (attempt ' || j.attempt || ')' ELSE '' "
                   " END, updated_at = now() FROM w WHERE j.id = w.id AND "
                   " w.state IN ('queued','running') RETURNING j.id) "
                   "SELECT i AS id, coalesce(w.state, 'missing') AS was, "
                   " EXISTS (SELECT 1 FROM u WHERE u.id = i) AS cancelled "
                   "FROM unnest($1::bigint[]) i LEFT JOIN w ON w.id = i "
                   "ORDER BY i",
                   &p, PGRES_TUPLES_OK, out, err);
    au_buf_free(&b);
    return rc;
}

int au_queue_pause(PGconn *c, const char *queue, int paused, au_error_t *err)
{
    if (!au_queue_name_ok(queue))
        return au_error_set(err, AU_EINVAL,
                            "queue \"%s\": 1 to 64 of a-z, 0-9, '_' and '-'",
                            queue);
    au_params_t p = {0};
    au_params_str(&p, queue);
    au_params_int(&p, paused);
    int rc = au_pg_run(c,
                       "INSERT INTO queues (name, paused_at) VALUES ($1, "
                       " CASE WHEN $2::int = 1 THEN now() END) ON CONFLICT "
                       " (name) DO UPDATE SET paused_at = CASE WHEN "
                       " $2::int = 1 THEN coalesce(queues.paused_at, now()) "
                       " END",
                       &p, PGRES_COMMAND_OK, NULL, err);
    if (rc == 0 && !paused)
        PQclear(PQexec(c, "NOTIFY " AU_QUEUE_CHANNEL));
    return rc;
}

int au_queue_queues(PGconn *c, PGresult **out, au_error_t *err)
{
    return au_pg_run(
        c,
        "SELECT n.name AS queue, q.paused_at IS NOT NULL AS paused,"
        " count(j.id) FILTER (WHERE j.state = 'queued') AS queued,"
        " count(j.id) FILTER (WHERE j.state = 'queued' AND j.run_after <= "
        "  now()) AS ready,"
        " count(j.id) FILTER (WHERE j.state = 'running') AS running,"
        " count(j.id) FILTER (WHERE j.state = 'done') AS done,"
        " count(j.id) FILTER (WHERE j.state = 'dead') AS dead,"
        " count(j.id) FILTER (WHERE j.state = 'cancelled') AS cancelled,"
        " round(coalesce(extract(epoch FROM now() - min(j.run_after) FILTER "
        "  (WHERE j.state = 'queued' AND j.run_after <= now())), 0)::numeric,"
        "  1) AS lag_s "
        "FROM (SELECT name FROM queues UNION SELECT DISTINCT queue FROM jobs) n"
        " LEFT JOIN queues q ON q.name = n.name"
        " LEFT JOIN jobs j ON j.queue = n.name "
        "GROUP BY n.name, q.paused_at ORDER BY n.name",
        NULL, PGRES_TUPLES_OK, out, err);
}

int au_queue_files_seen(PGconn *c, const char *prefix, PGresult **out,
                        au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, prefix);
    return au_pg_run(
        c,
        "SELECT path, bool_or(state IN ('queued','running')),"
        " extract(epoch FROM max(finished_at) FILTER (WHERE state IN "
        "  ('done','dead')))::bigint"
        " FROM (SELECT params->>'path' AS path, state, finished_at FROM jobs"
        "  WHERE kind = 'chart_csv' AND state <> 'cancelled') j"
        " WHERE starts_with(path, $1) GROUP BY path ORDER BY path COLLATE "
        "\"C\"",
        &p, PGRES_TUPLES_OK, out, err);
}

int au_queue_prune(PGconn *c, long older_than_s, int dead_too, long limit,
                   long *n, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, older_than_s);
    au_params_int(&p, dead_too ? 1 : 0);
    au_params_int(&p, limit);
    PGresult *r;
    /* In slices (limit), so that automatic retention never holds a long
     * lock; the ledger rows go with their jobs (ON DELETE CASCADE). */
    int rc = au_pg_run(
        c,
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE (state IN "
        " ('done','cancelled') OR ($2::int = 1 AND state = 'dead')) AND "
        " finished_at < now() - make_interval(secs => $1::bigint) ORDER BY "
        " finished_at LIMIT $3::bigint)",
        &p, PGRES_COMMAND_OK, &r, err);
    if (rc == 0) {
        *n = au_pg_changed(r);
        PQclear(r);
    }
    return rc;
}

/* ---- batches: fencing and the ledger --------------------------------- */

/* $1..$3: the batch's job, attempt and seq. */
static au_params_t ref_params(const au_batch_ref_t *b)
{
    au_params_t p = {0};
    au_params_int(&p, b->job_id);
    au_params_int(&p, b->attempt);
    au_params_int(&p, b->seq);
    return p;
}

/* The batch against the plan its attempt recorded: 0 or AU_EMISMATCH. */
static int plan_check(const au_batch_ref_t *b, const PGresult *r,
                      au_error_t *err)
{
    if (PQgetisnull(r, 0, 3) || au_pg_ll(r, 0, 3) != b->attempt)
        return au_error_set(err, AU_EMISMATCH,
                            "attempt %d of job %lld recorded no plan",
                            (int)b->attempt, (long long)b->job_id);
    if (au_pg_ll(r, 0, 4) != b->series_id || au_pg_ll(r, 0, 5) != b->day)
        return au_error_set(err, AU_EMISMATCH,
                            "batch is for another chart than job %lld",
                            (long long)b->job_id);
    if (au_pg_ll(r, 0, 6) != b->nbatches)
        return au_error_set(
            err, AU_EMISMATCH, "batch says %d batches, job %lld has %lld",
            (int)b->nbatches, (long long)b->job_id, au_pg_ll(r, 0, 6));
    char want[33];
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", b->digest[i]);
    if (strcmp(PQgetvalue(r, 0, 7), want) != 0)
        return au_error_set(err, AU_EMISMATCH,
                            "batch %d is not the one job %lld validated",
                            (int)b->seq, (long long)b->job_id);
    return 0;
}

int au_queue_batch_check(PGconn *c, const au_batch_ref_t *b, au_error_t *err)
{
    au_params_t p = ref_params(b);
    PGresult *r;
    /* FOR UPDATE: the batches of one job commit one at a time, so the
     * count that decides "done" in au_queue_batch_done is exact. */
    int rc = au_pg_run(c,
                       "SELECT j.state, j.attempt, EXISTS (SELECT 1 FROM "
                       " batch_ledger l WHERE l.job_id = j.id AND "
                       " l.attempt = $2 AND l.seq = $3), j.plan_attempt, "
                       " j.plan_series, j.plan_date - DATE '1970-01-01', "
                       " j.plan_nbatches, encode(substring(j.plan_digests "
                       " FROM $3 * 16 + 1 FOR 16), 'hex') "
                       "FROM jobs j WHERE j.id = $1 FOR UPDATE",
                       &p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return au_error_set(err, AU_ENOTFOUND, "job %lld does not exist",
                            (long long)b->job_id);
    }
    char state[16];
    snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
    int attempt = (int)au_pg_ll(r, 0, 1);
    int in_ledger = PQgetvalue(r, 0, 2)[0] == 't';
    if (in_ledger)
        rc =
            au_error_set(err, AU_EDUP, "batch %d of attempt %d already applied",
                         (int)b->seq, (int)b->attempt);
    else if (b->attempt != attempt)
        rc = au_error_set(err, AU_ESTALE,
                          "batch from attempt %d, job is at attempt %d",
                          (int)b->attempt, attempt);
    else if (strcmp(state, "running") != 0)
        rc = au_error_set(err, AU_ESTALE, "job is %s", state);
    else
        rc = plan_check(b, r, err);
    PQclear(r);
    return rc;
}

int au_queue_batch_done(PGconn *c, const au_batch_ref_t *b, long rows,
                        int lease_s, int *job_done, au_error_t *err)
{
    au_params_t p = ref_params(b);
    au_params_int(&p, rows);
    au_params_int(&p, b->nbatches);
    au_params_int(&p, lease_s);
    PGresult *r;
    /* The CTE's insert is not visible to the count in the same statement,
     * hence the + 1 for the batch being recorded now. */
    int rc = au_pg_run(
        c,
        "WITH l AS (INSERT INTO batch_ledger (job_id, attempt, seq, rows) "
        " VALUES ($1::bigint, $2::int, $3::int, $4::int) RETURNING 1), "
        "n AS (SELECT count(*) + 1 AS done FROM batch_ledger "
        " WHERE job_id = $1::bigint AND attempt = $2::int) "
        "UPDATE jobs SET rows_written = rows_written + $4::int, "
        " nbatches = $5::int, updated_at = now(), "
        " activity = format('committed %s of %s batches', "
        "  (SELECT done FROM n), $5::int), "
        " lease_until = now() + make_interval(secs => $6::int), "
        " state = CASE WHEN (SELECT done FROM n) >= $5::int THEN 'done' "
        "   ELSE state END, "
        " finished_at = CASE WHEN (SELECT done FROM n) >= $5::int "
        "   THEN now() END, "
        " last_error = CASE WHEN (SELECT done FROM n) >= $5::int "
        "   THEN NULL ELSE last_error END "
        "WHERE id = $1::bigint AND (SELECT count(*) FROM l) = 1 "
        "RETURNING state",
        &p, PGRES_TUPLES_OK, &r, err);
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
#define ISO_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

int au_queue_list(PGconn *c, const char *state, int limit, PGresult **out,
                  au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, state);
    au_params_int(&p, limit);
    return au_pg_run(
        c,
        "SELECT id, kind, queue, priority, state, attempt, max_attempts,"
        " rows_written AS rows,"
        " coalesce(regexp_replace(params->>'path', '^.*/', ''), "
        "  params::text) AS source,"
        " to_char(updated_at AT TIME ZONE 'UTC', " ISO_FMT ") AS updated_at,"
        " last_error FROM jobs "
        "WHERE $1::text IS NULL OR state = $1 "
        "ORDER BY id DESC LIMIT $2::int",
        &p, PGRES_TUPLES_OK, out, err);
}

int au_queue_show(PGconn *c, int64_t id, PGresult **out, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, id);
    int rc = au_pg_run(
        c,
        "SELECT id, kind, queue, priority, state, attempt, max_attempts, "
        " params::text AS params, nbatches, rows_written AS rows, leased_by,"
        " schedule,"
        " to_char(run_after AT TIME ZONE 'UTC', " ISO_FMT ") AS run_after,"
        " last_error,"
        " to_char(created_at AT TIME ZONE 'UTC', " ISO_FMT ") AS created_at,"
        " to_char(updated_at AT TIME ZONE 'UTC', " ISO_FMT ") AS updated_at,"
        " to_char(finished_at AT TIME ZONE 'UTC', " ISO_FMT ") AS finished_at "
        "FROM jobs WHERE id = $1::bigint",
        &p, PGRES_TUPLES_OK, out, err);
    if (rc == 0 && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return au_error_set(err, AU_ENOTFOUND, "no job %lld", (long long)id);
    }
    return rc;
}

int au_queue_dead(PGconn *c, PGresult **out, au_error_t *err)
{
    return au_pg_run(
        c,
        "SELECT id, kind, attempt,"
        " to_char(finished_at AT TIME ZONE 'UTC', " ISO_FMT ") AS finished_at,"
        " coalesce(params->>'path', params::text) AS source, last_error "
        "FROM jobs WHERE state = 'dead' ORDER BY id",
        NULL, PGRES_TUPLES_OK, out, err);
}

int au_queue_throughput(PGconn *c, int seconds, long *batches, long long *rows,
                        au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, seconds);
    PGresult *r;
    int rc = au_pg_run(c,
                       "SELECT count(*), coalesce(sum(rows), 0) "
                       "FROM batch_ledger WHERE committed_at > now() - "
                       "make_interval(secs => $1::int)",
                       &p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *batches = (long)au_pg_ll(r, 0, 0);
    *rows = au_pg_ll(r, 0, 1);
    PQclear(r);
    return 0;
}
