/* au_fleet.h: which worker processes are alive, owner of the
 * worker_heartbeats table. Every worker beats every couple of seconds;
 * `audora status` and the metrics read the beats back. */
#ifndef AU_FLEET_H
#define AU_FLEET_H

#include <libpq-fe.h>

#include "au_err.h"

/* Records that `worker` (component@host:pid) of `component` is alive now,
 * with its totals so far and, for a worker that fetches, a JSON object of
 * its counters per service (sources, may be NULL). One upsert. */
int au_fleet_beat(PGconn *c, const char *worker, const char *component,
                  long long records, long long batches, const char *sources,
                  au_error_t *err);
/* Ends every worker session (ingest, enrich, analytics) of this database
 * whose transaction has been open for over older_than_s seconds: a worker
 * stopped while it streams COPY data holds its transaction and locks
 * forever, because the server does not time out a statement waiting for
 * its client's data. *ended: how many. */
int au_fleet_reap(PGconn *c, int older_than_s, int *ended, au_error_t *err);
/* Per service, over the workers seen in the last within_s seconds:
 * service, workers, requests, retries, throttled, failures, breaker_opens,
 * limiter_wait_ms, cache_hits, cache_misses, open_breakers (workers whose
 * breaker is not closed). */
int au_fleet_sources(PGconn *c, int within_s, PGresult **out, au_error_t *err);
/* Workers seen in the last `within_s` seconds, by component then name:
 * worker, component, records, batches, seen_s_ago (seconds, one decimal),
 * started_at (ISO 8601 UTC). The caller PQclears *out. */
int au_fleet_list(PGconn *c, int within_s, PGresult **out, au_error_t *err);

#endif
