/* test_pool.c: the connection pool and the schema migrations, against the
 * real PostgreSQL of tests/run.sh. Each test works in a fresh database.
 *
 * The pool_restart suite restarts the shared server: other binaries run
 * one after the other (ctest without -j), so nothing else is cut off. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "au_migrate.h"
#include "au_fleet.h"
#include "au_pool.h"
#include "au_test.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
}

/* The single value of a one-row, one-column query, as a long. */
static long query_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static PGconn *connect_ok(const char *url)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static au_pool_t *pool_ok(const char *url, int size, int timeout_ms)
{
    au_error_t err = {0};
    au_pool_t *p = au_pool_new(url, size, timeout_ms, 0, &err);
    cr_assert_not_null(p, "%s", err.msg);
    return p;
}

static PGconn *get_ok(au_pool_t *p)
{
    au_error_t err = {0};
    PGconn *c = au_pool_get(p, &err);
    cr_assert_not_null(c, "au_pool_get: %s", err.msg);
    return c;
}

/* ---- the pool ---- */

Test(pool, returned_connection_is_reused_by_the_next_checkout)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_pool_t *p = pool_ok(url, 3, 1000);
    PGconn *a = get_ok(p);
    int pid = PQbackendPID(a);
    au_pool_put(p, a);
    PGconn *b = get_ok(p);
    cr_expect_eq(b, a, "the idle connection was not handed out again");
    cr_expect_eq(PQbackendPID(b), pid, "a new server session was opened");
    au_pool_stats_t st;
    au_pool_stats(p, &st);
    cr_expect_eq(st.open, 1);
    cr_expect_eq(st.checkouts, 2);
    cr_expect_eq(st.reconnects, 0);
    au_pool_put(p, b);
    au_pool_stats(p, &st);
    cr_expect_eq(st.idle, 1);
    au_pool_destroy(&p);
    cr_expect_null(p);
}

Test(pool, size_limit_makes_third_checkout_time_out_until_one_is_returned)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_pool_t *p = pool_ok(url, 2, 300);
    PGconn *a = get_ok(p);
    PGconn *b = get_ok(p);
    cr_assert_neq(a, b);
    au_error_t err = {0};
    long long t0 = now_ms();
    PGconn *c = au_pool_get(p, &err);
    long long waited = now_ms() - t0;
    cr_assert_null(c);
    cr_expect_eq(err.code, AU_ETIMEOUT, "code %d: %s", err.code, err.msg);
    cr_expect_geq(waited, 280, "gave up after %lld ms", waited);
    cr_expect_lt(waited, 1500, "waited %lld ms for a 300 ms timeout", waited);
    au_pool_stats_t st;
    au_pool_stats(p, &st);
    cr_expect_eq(st.timeouts, 1);
    cr_expect_eq(st.open, 2);

    au_pool_put(p, a);
    c = get_ok(p);
    cr_expect_eq(c, a);
    au_pool_put(p, b);
    au_pool_put(p, c);
    au_pool_destroy(&p);
}

typedef struct {
    au_pool_t *p;
    PGconn *got;
    au_error_t err;
    long long waited;
} waiter_t;

static void *waiter(void *arg)
{
    waiter_t *w = arg;
    long long t0 = now_ms();
    w->got = au_pool_get(w->p, &w->err);
    w->waited = now_ms() - t0;
    return NULL;
}

Test(pool, waiting_checkout_gets_the_connection_returned_by_another_thread)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_pool_t *p = pool_ok(url, 1, 3000);
    PGconn *a = get_ok(p);
    waiter_t w = {.p = p};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, waiter, &w), 0);
    sleep_ms(200);
    au_pool_put(p, a);
    pthread_join(th, NULL);
    cr_assert_not_null(w.got, "%s", w.err.msg);
    cr_expect_eq(w.got, a);
    cr_expect_geq(w.waited, 150, "did not wait: %lld ms", w.waited);
    cr_expect_lt(w.waited, 2500, "not woken by the return: %lld ms", w.waited);
    au_pool_put(p, w.got);
    au_pool_destroy(&p);
}

Test(pool, connection_returned_inside_a_transaction_is_rolled_back)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_pool_t *p = pool_ok(url, 2, 1000);
    PGconn *c = get_ok(p);
    exec_ok(c, "CREATE TABLE t (x int)");
    exec_ok(c, "BEGIN");
    exec_ok(c, "INSERT INTO t VALUES (1)");
    au_pool_put(p, c);
    cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);

    PGconn *other = connect_ok(url);
    cr_expect_eq(query_long(other, "SELECT count(*) FROM t"), 0,
                 "the uncommitted insert became visible");
    PQfinish(other);
    c = get_ok(p);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM t"), 0);
    au_pool_put(p, c);
    au_pool_destroy(&p);
}

Test(pool, connection_returned_in_a_failed_transaction_is_usable_again)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_pool_t *p = pool_ok(url, 1, 1000);
    PGconn *c = get_ok(p);
    exec_ok(c, "BEGIN");
    PQclear(PQexec(c, "SELECT no_such_column FROM no_such_table"));
    cr_assert_eq(PQtransactionStatus(c), PQTRANS_INERROR);
    au_pool_put(p, c);
    c = get_ok(p);
    cr_expect_eq(query_long(c, "SELECT 41 + 1"), 42);
    au_pool_put(p, c);
    au_pool_destroy(&p);
}

Test(pool, unreachable_server_is_a_connection_error_and_frees_the_slot)
{
    /* Port 1 on loopback: nothing listens there. */
    au_pool_t *p = pool_ok("postgresql://audora@127.0.0.1:1/x"
                           "?connect_timeout=2",
                           1, 200);
    au_error_t err = {0};
    cr_expect_null(au_pool_get(p, &err));
    cr_expect_eq(err.code, AU_EDBCONN, "code %d: %s", err.code, err.msg);
    au_pool_stats_t st;
    au_pool_stats(p, &st);
    cr_expect_eq(st.open, 0, "a failed connect kept its slot");
    /* With the slot back, the second try fails the same way rather
     * than timing out on a phantom connection. */
    err.code = 0;
    cr_expect_null(au_pool_get(p, &err));
    cr_expect_eq(err.code, AU_EDBCONN, "code %d: %s", err.code, err.msg);
    au_pool_destroy(&p);
}

/* The test server (deploy/servers.sh) wants a password over tcp and
 * offers TLS, as a real one would: both come from the URL alone. */
Test(pool, password_and_tls_come_from_the_url)
{
    char url[512], tls[600], wrong[600];
    au_test_db_new(url, sizeof(url));
    snprintf(tls, sizeof(tls), "%s?sslmode=require", url);
    au_pool_t *p = pool_ok(tls, 1, 1000);
    PGconn *c = get_ok(p);
    cr_expect_eq(query_long(c, "SELECT ssl::int FROM pg_stat_ssl "
                               "WHERE pid = pg_backend_pid()"),
                 1, "sslmode=require without TLS");
    au_pool_put(p, c);
    au_pool_destroy(&p);

    /* The same URL with another password: a connection error that says
     * so and does not repeat either password. */
    const char *colon = strchr(url + strlen("postgresql://"), ':');
    const char *at = strchr(url, '@');
    cr_assert(colon && at && colon < at, "no password in %s", url);
    snprintf(wrong, sizeof(wrong), "%.*s:n0t-1t%s", (int)(colon - url), url,
             at);
    p = pool_ok(wrong, 1, 1000);
    au_error_t err = {0};
    cr_expect_null(au_pool_get(p, &err));
    cr_expect_eq(err.code, AU_EDBCONN, "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "password authentication failed"), "%s",
                       err.msg);
    cr_expect_null(strstr(err.msg, "n0t-1t"), "%s", err.msg);
    au_pool_destroy(&p);
}

Test(pool, size_outside_one_to_twenty_is_rejected)
{
    au_error_t err = {0};
    cr_expect_null(au_pool_new("postgresql:///x", 0, 100, 0, &err));
    cr_expect_eq(err.code, AU_EINVAL);
    err.code = 0;
    cr_expect_null(au_pool_new("postgresql:///x", 21, 100, 0, &err));
    cr_expect_eq(err.code, AU_EINVAL);
}

Test(pool, statement_timeout_is_set_on_each_connection)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    au_error_t err = {0};
    au_pool_t *p = au_pool_new(url, 1, 1000, 250, &err);
    cr_assert_not_null(p, "%s", err.msg);
    PGconn *c = get_ok(p);
    PGresult *r = PQexec(c, "SELECT pg_sleep(2)");
    cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR,
                 "a 2 s query outlived a 250 ms statement timeout");
    PQclear(r);
    au_pool_put(p, c);
    au_pool_destroy(&p);
}

/* ---- restarting the server (keep this suite tiny) ---- */

Test(pool_restart, checkout_after_server_restart_reconnects)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    const char *srv = getenv("AUDORA_TEST_SERVERS");
    cr_assert(srv && *srv, "AUDORA_TEST_SERVERS is not set: run the tests "
                           "through tests/run.sh");
    au_pool_t *p = pool_ok(url, 1, 5000);
    PGconn *c = get_ok(p);
    int pid = PQbackendPID(c);
    cr_assert_eq(query_long(c, "SELECT 1"), 1);
    au_pool_put(p, c);

    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s/deploy/servers.sh' pg-restart '%s'",
             getenv("AU_SOURCE_DIR"), srv);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);

    c = get_ok(p);
    PGresult *r = PQexec(c, "SELECT 1");
    /* Regression: one PQconsumeInput reads the server's "terminating
     * connection" FATAL (handled as a notice) but not the EOF behind it,
     * so a dead connection used to pass as healthy. */
    cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK,
                 "dead connection handed out: %s", PQerrorMessage(c));
    PQclear(r);
    cr_expect_neq(PQbackendPID(c), pid);
    au_pool_stats_t st;
    au_pool_stats(p, &st);
    cr_expect_eq(st.reconnects, 1, "reconnects %lu", st.reconnects);
    au_pool_put(p, c);
    au_pool_destroy(&p);
}

/* ---- migrations ---- */

static PGconn *fresh_db(char *url, size_t cap)
{
    au_test_db_new(url, cap);
    return connect_ok(url);
}

Test(migrate, second_migration_applies_nothing)
{
    char url[512];
    PGconn *c = fresh_db(url, sizeof(url));
    au_error_t err = {0};
    int applied = -1;
    cr_assert_eq(au_migrate(c, &applied, &err), 0, "%s", err.msg);
    cr_expect_eq(applied, au_schema_latest());
    cr_expect_geq(au_schema_latest(), 1);
    applied = -1;
    cr_assert_eq(au_migrate(c, &applied, &err), 0, "%s", err.msg);
    cr_expect_eq(applied, 0);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM schema_migrations"),
                 au_schema_latest());
    /* The tables exist and the schema is usable. */
    cr_expect_eq(query_long(c, "SELECT count(*) FROM jobs"), 0);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM trends"), 0);
    PQfinish(c);
}

Test(migrate, schema_check_on_empty_database_says_run_audora_migrate)
{
    char url[512];
    PGconn *c = fresh_db(url, sizeof(url));
    au_error_t err = {0};
    cr_expect_eq(au_schema_check(c, &err), AU_EVERSION);
    cr_expect_eq(err.code, AU_EVERSION);
    cr_expect(strstr(err.msg, "audora migrate") != NULL, "message: %s",
              err.msg);
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    err = (au_error_t){0};
    cr_expect_eq(au_schema_check(c, &err), 0, "%s", err.msg);
    PQfinish(c);
}

Test(migrate, schema_newer_than_the_build_is_refused)
{
    char url[512];
    PGconn *c = fresh_db(url, sizeof(url));
    au_error_t err = {0};
    cr_assert_eq(au_migrate(c, NULL, &err), 0, "%s", err.msg);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "INSERT INTO schema_migrations (version) VALUES (%d)",
             au_schema_latest() + 1);
    exec_ok(c, sql);
    cr_expect_eq(au_schema_check(c, &err), AU_EVERSION);
    cr_expect(strstr(err.msg, "newer") != NULL, "message: %s", err.msg);
    PQfinish(c);
}

Test(migrate, two_concurrent_migrations_apply_each_version_once)
{
    char url[512];
    PGconn *c = fresh_db(url, sizeof(url));
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        cr_assert_geq(kids[k], 0);
        if (kids[k] == 0) {
            close(go[1]);
            PGconn *mc = PQconnectdb(url);
            char b;
            /* Both start together once the parent closes the pipe. */
            if (read(go[0], &b, 1) < 0)
                _exit(100);
            int applied = 0;
            au_error_t err = {0};
            int rc = PQstatus(mc) == CONNECTION_OK
                         ? au_migrate(mc, &applied, &err)
                         : AU_EDBCONN;
            PQfinish(mc);
            _exit(rc == 0 ? applied : 100);
        }
    }
    close(go[0]);
    sleep_ms(100);
    close(go[1]);
    int total = 0;
    for (int k = 0; k < 2; k++) {
        int st = 0;
        cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
        cr_assert(WIFEXITED(st), "migration %d crashed", k);
        cr_assert_neq(WEXITSTATUS(st), 100, "migration %d failed", k);
        total += WEXITSTATUS(st);
    }
    cr_expect_eq(total, au_schema_latest(), "applied %d steps in all", total);
    cr_expect_eq(query_long(c, "SELECT count(*) FROM schema_migrations"),
                 au_schema_latest());
    cr_expect_eq(query_long(c, "SELECT count(DISTINCT version) "
                               "FROM schema_migrations"),
                 au_schema_latest());
    au_error_t err = {0};
    cr_expect_eq(au_schema_check(c, &err), 0, "%s", err.msg);
    PQfinish(c);
}

/* ---- a stopped worker's session ---- */

Test(pool, a_session_stuck_in_copy_is_ended_by_the_reaper_not_by_timeouts)
{
    char url[512];
    au_test_db_new(url, sizeof(url));
    PGconn *w = connect_ok(url);
    exec_ok(w, "SET application_name = 'analytics@test:1'");
    exec_ok(w, "SET statement_timeout = 500");
    exec_ok(w, "SET idle_in_transaction_session_timeout = 500");
    exec_ok(w, "CREATE TABLE t (x int)");
    exec_ok(w, "BEGIN");
    /* A worker stopped between its COPY and the data: the server waits
     * for the client and neither timeout ends the statement. */
    PGresult *r = PQexec(w, "COPY t FROM STDIN");
    cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN);
    PQclear(r);
    sleep_ms(1500);
    PGconn *o = connect_ok(url);
    cr_expect_eq(query_long(o, "SELECT count(*) FROM pg_stat_activity WHERE "
                               "application_name = 'analytics@test:1' AND "
                               "xact_start IS NOT NULL"),
                 1, "the timeouts ended the session after all");
    au_error_t err = {0};
    int ended = -1;
    cr_assert_eq(au_fleet_reap(o, 1, &ended, &err), 0, "%s", err.msg);
    cr_expect_eq(ended, 1);
    sleep_ms(200);
    cr_expect_eq(query_long(o, "SELECT count(*) FROM pg_stat_activity WHERE "
                               "application_name = 'analytics@test:1'"),
                 0);
    /* Younger transactions, and sessions that are not a worker's, stay. */
    cr_assert_eq(au_fleet_reap(o, 1, &ended, &err), 0, "%s", err.msg);
    cr_expect_eq(ended, 0);
    PQfinish(w);
    PQfinish(o);
}
