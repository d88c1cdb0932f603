#include "au_schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "au_cron.h"
#include "au_pg.h"
#include "au_queue.h"

/* The lock the firing worker of a tick holds: any fixed number no other
 * part of Audora uses ("AUSC"). */
#define SCHEDULE_LOCK "1096111939"
#define ISO_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

static int check(const au_schedule_t *s, au_cron_t *cron, au_error_t *err)
{
    if (!au_queue_name_ok(s->name))
        return au_error_set(err, AU_EINVAL,
                            "schedule \"%s\": a name is 1 to 64 of a-z, 0-9, "
                            "'_' and '-'",
                            s->name ? s->name : "");
    if (au_cron_parse(s->cron, cron, err) < 0)
        return err->code;
    if (s->queue && !au_queue_name_ok(s->queue))
        return au_error_set(err, AU_EINVAL,
                            "queue \"%s\": 1 to 64 of a-z, 0-9, '_' and '-'",
                            s->queue);
    json_error_t je;
    json_t *p = json_loads(s->params ? s->params : "", 0, &je);
    int obj = json_is_object(p);
    json_decref(p);
    if (!obj)
        return au_error_set(err, AU_EINVAL,
                            "schedule %s: params must be a JSON object (%s)",
                            s->name, p ? "not an object" : je.text);
    return 0;
}

/* The Unix time PostgreSQL says it is. */
static int db_now(PGconn *c, long long *now, au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_run(c, "SELECT floor(extract(epoch FROM now()))::bigint",
                       NULL, PGRES_TUPLES_OK, &r, err);
    if (rc == 0) {
        *now = au_pg_ll(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

int au_schedule_add(PGconn *c, const au_schedule_t *s, int replace,
                    au_error_t *err)
{
    au_cron_t cron;
    long long now = 0;
    int rc = check(s, &cron, err);
    if (rc == 0)
        rc = db_now(c, &now, err);
    if (rc < 0)
        return rc;
    au_params_t p = {0};
    au_params_str(&p, s->name);
    au_params_str(&p, s->cron);
    au_params_str(&p, s->kind);
    au_params_str(&p, s->params);
    au_params_str(&p, s->queue ? s->queue : "default");
    au_params_int(&p, s->priority ? s->priority : AU_PRIORITY_DEFAULT);
    au_params_int(&p, s->max_attempts);
    au_params_int(&p, au_cron_next(&cron, now));
    au_params_int(&p, replace ? 1 : 0);
    PGresult *r;
    rc = au_pg_run(c,
                   "INSERT INTO schedules (name, cron, kind, params, queue, "
                   " priority, max_attempts, next_run) VALUES ($1, $2, $3, "
                   " $4::jsonb, $5, $6, $7, to_timestamp($8::bigint)) "
                   "ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, "
                   " kind = excluded.kind, params = excluded.params, queue = "
                   " excluded.queue, priority = excluded.priority, "
                   " max_attempts = excluded.max_attempts, next_run = "
                   " excluded.next_run WHERE $9::int = 1",
                   &p, PGRES_COMMAND_OK, &r, err);
    if (rc < 0)
        return rc;
    long n = au_pg_changed(r);
    PQclear(r);
    return n == 1 ? 0
                  : au_error_set(err, AU_EDUP,
                                 "schedule %s exists (--replace changes it)",
                                 s->name);
}

int au_schedule_remove(PGconn *c, const char *name, long *n, au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, name);
    PGresult *r;
    int rc = au_pg_run(c, "DELETE FROM schedules WHERE name = $1", &p,
                       PGRES_COMMAND_OK, &r, err);
    if (rc == 0) {
        *n = au_pg_changed(r);
        PQclear(r);
    }
    return rc;
}

int au_schedule_list(PGconn *c, PGresult **out, au_error_t *err)
{
    return au_pg_run(
        c,
        "SELECT name, cron, kind, params::text AS params, queue, priority,"
        " to_char(next_run AT TIME ZONE 'UTC', " ISO_FMT ") AS next_run,"
        " to_char(last_run AT TIME ZONE 'UTC', " ISO_FMT ") AS last_run,"
        " last_job FROM schedules ORDER BY name",
        NULL, PGRES_TUPLES_OK, out, err);
}

/* params with every "$tick_date" string value replaced by the tick's date:
 * malloc'd. */
static char *dated(const char *params, long long tick)
{
    static const char mark[] = "\"$tick_date\"";
    char date[48];
    time_t t = (time_t)tick;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(date, sizeof(date), "\"%04d-%02d-%02d\"", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    size_t n = 0;
    for (const char *p = strstr(params, mark); p; p = strstr(p + 1, mark))
        n++;
    char *out = malloc(strlen(params) + n * strlen(date) + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *p = params;;) {
        const char *hit = strstr(p, mark);
        size_t len = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!hit)
            break;
        memcpy(o, date, strlen(date));
        o += strlen(date);
        p = hit + strlen(mark);
    }
    *o = '\0';
    return out;
}

/* Queues the job of one due schedule (row i of r) and moves it on. */
static int fire_one(PGconn *c, const PGresult *r, int i, long long now,
                    au_error_t *err)
{
    const char *name = PQgetvalue(r, i, 0);
    long long tick = au_pg_ll(r, i, 7);
    au_cron_t cron;
    int rc = au_cron_parse(PQgetvalue(r, i, 1), &cron, err);
    char *params = rc == 0 ? dated(PQgetvalue(r, i, 3), tick) : NULL;
    if (rc == 0 && !params)
        rc = au_error_set(err, AU_ENOMEM, "schedule %s: out of memory", name);
    au_push_t job = {.kind = PQgetvalue(r, i, 2),
                     .params = params,
                     .queue = PQgetvalue(r, i, 4),
                     .priority = (int)au_pg_ll(r, i, 5),
                     .max_attempts = (int)au_pg_ll(r, i, 6),
                     .schedule = name};
    int64_t id = 0;
    if (rc == 0)
        rc = au_queue_enqueue(c, &job, &id, err);
    free(params);
    if (rc < 0)
        return rc;
    au_params_t p = {0};
    au_params_str(&p, name);
    au_params_int(&p, au_cron_next(&cron, now > tick ? now : tick));
    au_params_int(&p, id);
    return au_pg_run(
        c,
        "UPDATE schedules SET next_run = to_timestamp($2::bigint), "
        " last_run = now(), last_job = $3::bigint WHERE name = $1",
        &p, PGRES_COMMAND_OK, NULL, err);
}

int au_schedule_fire(PGconn *c, int *fired, au_error_t *err)
{
    *fired = 0;
    PGresult *r = NULL;
    long long now = 0;
    int rc = au_pg_run(c, "BEGIN", NULL, PGRES_COMMAND_OK, NULL, err);
    if (rc < 0)
        return rc;
    /* Whoever holds the lock fires this tick; the others go on. The
     * rows are locked too, so even without it no tick fires twice. */
    rc = au_pg_run(c,
                   "SELECT pg_try_advisory_xact_lock(" SCHEDULE_LOCK "), "
                   " floor(extract(epoch FROM now()))::bigint",
                   NULL, PGRES_TUPLES_OK, &r, err);
    int leader = rc == 0 && PQgetvalue(r, 0, 0)[0] == 't';
    if (rc == 0)
        now = au_pg_ll(r, 0, 1);
    PQclear(r);
    r = NULL;
    if (rc == 0 && leader)
        rc = au_pg_run(c,
                       "SELECT name, cron, kind, params::text, queue, "
                       " priority, max_attempts, "
                       " floor(extract(epoch FROM next_run))::bigint "
                       "FROM schedules WHERE next_run <= now() ORDER BY "
                       " next_run, name FOR UPDATE",
                       NULL, PGRES_TUPLES_OK, &r, err);
    for (int i = 0; rc == 0 && leader && i < PQntuples(r); i++)
        if ((rc = fire_one(c, r, i, now, err)) == 0)
            (*fired)++;
    PQclear(r);
    if (rc == 0)
        rc = au_pg_run(c, "COMMIT", NULL, PGRES_COMMAND_OK, NULL, err);
    if (rc < 0) {
        *fired = 0;
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return rc;
}
