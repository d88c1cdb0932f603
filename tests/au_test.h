/* au_test.h: what Criterion tests share. The servers are real: tests/run.sh
 * starts PostgreSQL and Redis and exports their URLs before the tests. */
#ifndef AU_TEST_H
#define AU_TEST_H

#include <stddef.h>

/* The value of an environment variable the harness sets; fails the test
 * when it is unset. */
const char *au_test_need_env(const char *name);
/* AUDORA_TEST_PG_URL / AUDORA_TEST_REDIS_URL; fails the test if unset. */
const char *au_test_pg_url(void);
const char *au_test_redis_url(void);
/* Creates a fresh, empty database and writes its URL to out (in
 * au_test_db.c: link it with autestdb). */
void au_test_db_new(char *out, size_t cap);
/* <source>/../shared/fixtures/real, or AUDORA_FIXTURES when set. */
const char *au_test_fixtures(void);
/* <source>/tests, where test vectors live. */
const char *au_test_dir(void);
/* Reads a whole file (malloc'd, NUL-terminated); fails the test on error. */
char *au_test_read_file(const char *path, size_t *len);
/* <build dir>, where the executables are. */
const char *au_test_build_dir(void);

#endif
