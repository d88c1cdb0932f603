/* au_test_db.c: a fresh database per test, on the server tests/run.sh
 * started. Kept apart from au_test.c so pure tests do not link libpq. */
#include "au_test.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void au_test_db_new(char *out, size_t cap)
{
    static int counter;
    const char *base = au_test_pg_url();
    char name[64];
    snprintf(name, sizeof(name), "t_%d_%d", (int)getpid(), ++counter);
    PGconn *c = PQconnectdb(base);
    if (PQstatus(c) != CONNECTION_OK)
        cr_assert_fail("cannot connect to %s: %s", base, PQerrorMessage(c));
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        cr_assert_fail("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* The base URL ends in "/<db>"; swap the database name. */
    const char *slash = strrchr(base, '/');
    int n = (int)(slash - base);
    snprintf(out, cap, "%.*s/%s", n, base, name);
}
