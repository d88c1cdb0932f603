#include "au_fleet.h"

#include <stdio.h>
#include <unistd.h>

#include "au_pg.h"

int au_fleet_beat(PGconn *c, const char *worker, const char *component,
                  long long records, long long batches, au_error_t *err)
{
    au_params_t p = {0};
    au_params_str(&p, worker);
    au_params_str(&p, component);
    au_params_int(&p, getpid());
    au_params_int(&p, records);
    au_params_int(&p, batches);
    return au_pg_run(c,
                     "INSERT INTO worker_heartbeats (worker, component, pid, "
                     " started_at, seen_at, records, batches) "
                     "VALUES ($1, $2, $3, now(), now(), $4, $5) "
                     "ON CONFLICT (worker) DO UPDATE SET seen_at = now(), "
                     " records = EXCLUDED.records, batches = EXCLUDED.batches",
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
