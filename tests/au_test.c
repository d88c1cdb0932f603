#include "au_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *au_test_need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_assert_fail("%s is not set: run the tests through tests/run.sh",
                       name);
    return v;
}

const char *au_test_pg_url(void)
{
    return au_test_need_env("AUDORA_TEST_PG_URL");
}

const char *au_test_redis_url(void)
{
    return au_test_need_env("AUDORA_TEST_REDIS_URL");
}

const char *au_test_fixtures(void)
{
    static char buf[4096];
    const char *f = getenv("AUDORA_FIXTURES");
    if (f && *f)
        return f;
    snprintf(buf, sizeof(buf), "%s/../shared/fixtures/real",
             au_test_need_env("AU_SOURCE_DIR"));
    return buf;
}

const char *au_test_dir(void)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/tests", au_test_need_env("AU_SOURCE_DIR"));
    return buf;
}

const char *au_test_build_dir(void)
{
    return au_test_need_env("AU_BUILD_DIR");
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
