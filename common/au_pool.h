/* au_pool.h: a per-process PostgreSQL connection pool.
 *
 * At most `size` connections (1..20) are open at once. au_pool_get() hands
 * out an idle one, opens a new one while under the limit, or waits up to
 * the checkout timeout. A connection that the server dropped (restart,
 * idle kill) is noticed on checkout without a round trip and reconnected.
 * Thread-safe. */
#ifndef AU_POOL_H
#define AU_POOL_H

#include <libpq-fe.h>

#include "au_err.h"

typedef struct au_pool_t au_pool_t;

/* Connects nothing yet: the first checkout opens the first connection.
 * statement_timeout_ms 0 leaves the server default. */
au_pool_t *au_pool_new(const char *url, int size, int checkout_timeout_ms,
                       int statement_timeout_ms, au_error_t *err);
/* The server-side bounds every connection opened from now on gets: how
 * long a statement may run, how long it waits for a lock another session
 * holds, and how long a session may stay idle inside a transaction before
 * the server ends it. 0 leaves the server's. */
void au_pool_set_limits(au_pool_t *p, int statement_timeout_ms,
                        int lock_timeout_ms, int idle_in_transaction_ms);
/* The application_name connections opened from now on report (cut to 63
 * bytes): a worker's id, so pg_stat_activity says whose session it is. */
void au_pool_set_name(au_pool_t *p, const char *name);
/* Closes every idle connection; connections still checked out are the
 * caller's bug (they are leaked rather than closed under its feet). */
void au_pool_destroy(au_pool_t **self_p);

/* Borrows a healthy connection, or NULL with err set (AU_ETIMEOUT when
 * the pool stayed exhausted, AU_EDBCONN when the server is unreachable). */
PGconn *au_pool_get(au_pool_t *p, au_error_t *err);
/* Returns a borrowed connection. A connection left inside a transaction
 * is rolled back; a broken one is closed and its slot freed. */
void au_pool_put(au_pool_t *p, PGconn *conn);

/* Counters for metrics and tests. */
typedef struct {
    int size, open, idle;
    unsigned long checkouts, timeouts, reconnects;
} au_pool_stats_t;
void au_pool_stats(au_pool_t *p, au_pool_stats_t *out);

#endif
