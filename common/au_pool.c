#include "au_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "au_log.h"

struct au_pool_t {
    char *url;
    int size;
    int timeout_ms;
    int stmt_timeout_ms, lock_timeout_ms, idle_tx_ms; /* 0: server's */
    char app_name[64]; /* pg_stat_activity's application_name; "" none */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **idle;
    int nidle;
    int nopen;
    unsigned long checkouts, timeouts, reconnects;
};

au_pool_t *au_pool_new(const char *url, int size, int checkout_timeout_ms,
                       int statement_timeout_ms, au_error_t *err)
{
    if (!url || size < 1 || size > 20 || checkout_timeout_ms < 1) {
        au_error_set(err, AU_EINVAL, "pool: size must be 1..20");
        return NULL;
    }
    au_pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        goto nomem;
    p->url = strdup(url);
    p->idle = calloc((size_t)size, sizeof(*p->idle));
    if (!p->url || !p->idle)
        goto nomem;
    p->size = size;
    p->timeout_ms = checkout_timeout_ms;
    p->stmt_timeout_ms = statement_timeout_ms;
    p->lock_timeout_ms = 0;
    p->idle_tx_ms = 0;
    pthread_mutex_init(&p->mu, NULL);
    /* CLOCK_MONOTONIC so a wall-clock jump does not stretch the wait. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    return p;
nomem:
    if (p) {
        free(p->url);
        free(p->idle);
        free(p);
    }
    au_error_set(err, AU_ENOMEM, "pool: out of memory");
    return NULL;
}

void au_pool_set_name(au_pool_t *p, const char *name)
{
    pthread_mutex_lock(&p->mu);
    snprintf(p->app_name, sizeof(p->app_name), "%s", name ? name : "");
    pthread_mutex_unlock(&p->mu);
}

void au_pool_set_limits(au_pool_t *p, int statement_timeout_ms,
                        int lock_timeout_ms, int idle_in_transaction_ms)
{
    pthread_mutex_lock(&p->mu);
    p->stmt_timeout_ms = statement_timeout_ms;
    p->lock_timeout_ms = lock_timeout_ms;
    p->idle_tx_ms = idle_in_transaction_ms;
    pthread_mutex_unlock(&p->mu);
}

void au_pool_destroy(au_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_pool_t *p = *self_p;
    for (int i = 0; i < p->nidle; i++)
        PQfinish(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->idle);
    free(p->url);
    free(p);
    *self_p = NULL;
}

/* Server notices ("relation already exists, skipping") are not errors;
 * they go to the debug log instead of stderr. */
static void on_notice(void *arg, const char *msg)
{
    (void)arg;
    au_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int conn_setup(au_pool_t *p, PGconn *c, au_error_t *err)
{
    PQsetNoticeProcessor(c, on_notice, NULL);
    char sql[200];
    /* lock_timeout bounds how long this session waits behind a stuck
     * writer's lock; idle_in_transaction_session_timeout makes the server
     * end a session that stopped mid-transaction (a paused or hung
     * worker), so its locks die with it (docs/ARCHITECTURE.md, "No
     * process can stall the fleet"). */
    snprintf(sql, sizeof(sql),
             "SET statement_timeout = %d; SET lock_timeout = %d; "
             "SET idle_in_transaction_session_timeout = %d",
             p->stmt_timeout_ms, p->lock_timeout_ms, p->idle_tx_ms);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    /* The worker's id in pg_stat_activity: which process holds what. */
    char *name = ok && p->app_name[0]
                     ? PQescapeLiteral(c, p->app_name, strlen(p->app_name))
                     : NULL;
    if (name) {
        snprintf(sql, sizeof(sql), "SET application_name = %s", name);
        PQfreemem(name);
        r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok)
        return au_error_set(err, AU_EDBCONN, "pool: %s", PQerrorMessage(c));
    return 0;
}

static PGconn *conn_open(au_pool_t *p, au_error_t *err)
{
    PGconn *c = PQconnectdb(p->url);
    if (PQstatus(c) != CONNECTION_OK) {
        /* libpq messages end in a newline; keep log lines single. */
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        au_error_set(err, AU_EDBCONN, "database unreachable: %s", msg);
        PQfinish(c);
        return NULL;
    }
    if (conn_setup(p, c, err) < 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* An idle connection has nothing to read. When the server went away it
 * sent "terminating connection" (read as a notice) and then closed the
 * socket; draining what is readable reaches that EOF and marks the
 * connection bad, without a round trip. */
static int conn_healthy(PGconn *c)
{
    for (int i = 0; i < 4 && PQstatus(c) == CONNECTION_OK; i++) {
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        if (poll(&pfd, 1, 0) <= 0)
            break;
        if (!PQconsumeInput(c))
            return 0;
    }
    return PQstatus(c) == CONNECTION_OK &&
           PQtransactionStatus(c) == PQTRANS_IDLE;
}

static void release_slot(au_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->nopen--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

PGconn *au_pool_get(au_pool_t *p, au_error_t *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p->timeout_ms / 1000;
    deadline.tv_nsec += (long)(p->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->nidle > 0) {
            PGconn *c = p->idle[--p->nidle];
            p->checkouts++;
            pthread_mutex_unlock(&p->mu);
            if (conn_healthy(c))
                return c;
            PQfinish(c);
            c = conn_open(p, err);
            if (!c) {
                release_slot(p);
                return NULL;
            }
            pthread_mutex_lock(&p->mu);
            p->reconnects++;
            pthread_mutex_unlock(&p->mu);
            au_info("pool: reconnected to the database");
            return c;
        }
        if (p->nopen < p->size) {
            p->nopen++;
            p->checkouts++;
            pthread_mutex_unlock(&p->mu);
            PGconn *c = conn_open(p, err);
            if (!c)
                release_slot(p);
            return c;
        }
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &deadline);
        if (rc == ETIMEDOUT) {
            p->timeouts++;
            pthread_mutex_unlock(&p->mu);
            au_error_set(err, AU_ETIMEOUT,
                         "pool: no connection free within %d ms (size %d)",
                         p->timeout_ms, p->size);
            return NULL;
        }
    }
}

void au_pool_put(au_pool_t *p, PGconn *c)
{
    if (!c)
        return;
    PGTransactionStatusType ts = PQtransactionStatus(c);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK ||
        PQtransactionStatus(c) != PQTRANS_IDLE) {
        /* Busy (a query still running) or broken: not safe to reuse. */
        PQfinish(c);
        release_slot(p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = c;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void au_pool_stats(au_pool_t *p, au_pool_stats_t *out)
{
    pthread_mutex_lock(&p->mu);
    out->size = p->size;
    out->open = p->nopen;
    out->idle = p->nidle;
    out->checkouts = p->checkouts;
    out->timeouts = p->timeouts;
    out->reconnects = p->reconnects;
    pthread_mutex_unlock(&p->mu);
}
