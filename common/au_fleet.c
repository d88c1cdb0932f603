#include "au_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "au_pg.h"

int au_fleet_beat(PGconn *c, const char *worker, const char *component,
                  long long records, long long batches, const char *sources,
                  au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, worker);
    au_params_str(&p, component);
    au_params_int(&p, getpid());
    au_params_int(&p, records);
    au_params_int(&p, batches);
    au_params_str(&p, sources);
    return au_pg_run(c,
                     "INSERT INTO worker_heartbeats (worker, component, pid, "
                     " started_at, seen_at, records, batches, sources) "
                     "VALUES ($1, $2, $3, now(), now(), $4, $5, $6::jsonb) "
                     "ON CONFLICT (worker) DO UPDATE SET seen_at = now(), "
                     " records = EXCLUDED.records, batches = EXCLUDED.batches,"
                     " sources = EXCLUDED.sources",
                     &p, PGRES_COMMAND_OK, NULL, err);
}

int au_fleet_list(PGconn *c, int within_s, PGresult **out, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, within_s);
    return au_pg_run(
        c,
        "SELECT worker, component, records, batches, "
        " round(extract(epoch FROM now() - seen_at)::numeric, 1) AS "
        " seen_s_ago, to_char(started_at AT TIME ZONE 'UTC', "
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at "
        "FROM worker_heartbeats "
        "WHERE seen_at > now() - make_interval(secs => $1::int) "
        "ORDER BY component, worker",
        &p, PGRES_TUPLES_OK, out, err);
}

int au_fleet_sources(PGconn *c, int within_s, PGresult **out, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, within_s);
    return au_pg_run(
        c,
        "SELECT s.key AS service, count(*) AS workers, "
        " sum((s.value->>'requests')::bigint) AS requests, "
        " sum((s.value->>'retries')::bigint) AS retries, "
        " sum((s.value->>'throttled')::bigint) AS throttled, "
        " sum((s.value->>'failures')::bigint) AS failures, "
        " sum((s.value->>'breaker_opens')::bigint) AS breaker_opens, "
        " sum((s.value->>'limiter_wait_ms')::bigint) AS limiter_wait_ms, "
        " sum((s.value->>'cache_hits')::bigint) AS cache_hits, "
        " sum((s.value->>'cache_misses')::bigint) AS cache_misses, "
        " count(*) FILTER (WHERE s.value->>'breaker' <> 'closed') "
        "  AS open_breakers "
        "FROM worker_heartbeats h, jsonb_each(h.sources) s "
        "WHERE h.seen_at > now() - make_interval(secs => $1::int) "
        "GROUP BY s.key ORDER BY s.key",
        &p, PGRES_TUPLES_OK, out, err);
}

int au_fleet_reap(PGconn *c, int older_than_s, int *ended, au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, older_than_s);
    PGresult *r = NULL;
    *ended = 0;
    int rc =
        au_pg_run(c,
                  "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                  "FROM pg_stat_activity WHERE datname = current_database() "
                  " AND usename = current_user AND pid <> pg_backend_pid() "
                  " AND application_name ~ '^(ingest|enrich|analytics)@' "
                  " AND xact_start < now() - make_interval(secs => $1::int)",
                  &p, PGRES_TUPLES_OK, &r, err);
    if (rc == 0)
        *ended = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}
