#include "au_test.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_assert_fail("%s is not set: run the tests through tests/run.sh",
                       name);
    return v;
}

const char *au_test_pg_url(void)
{
    return need_env("AUDORA_TEST_PG_URL");
}

const char *au_test_redis_url(void)
{
    return need_env("AUDORA_TEST_REDIS_URL");
}

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

const char *au_test_fixtures(void)
{
    static char buf[4096];
    const char *f = getenv("AUDORA_FIXTURES");
    if (f && *f)
        return f;
    snprintf(buf, sizeof(buf), "%s/../shared/fixtures/real",
             need_env("AU_SOURCE_DIR"));
    return buf;
}

const char *au_test_dir(void)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/tests", need_env("AU_SOURCE_DIR"));
    return buf;
}

const char *au_test_build_dir(void)
{
    return need_env("AU_BUILD_DIR");
}

char *au_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        cr_assert_fail("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        cr_assert_fail("cannot read %s", path);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}
