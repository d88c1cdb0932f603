/* Configuration: layers, their precedence, the exact error messages,
 * .env quirks, redaction and the committed .env.example. Criterion runs
 * every test in its own process, so setenv and chdir stay local. */
#include "au_config.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static char tmpdir[256];
static char pathbuf[512];

/* Every test starts in an empty directory (no stray ./.env) and with no
 * AUDORA_ variable that names a key, whatever the caller exported. */
static void setup(void)
{
    char names[64][128];
    int n = 0;
    for (char **e = environ; *e && n < 64; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "AUDORA_", 7) == 0 && eq && strstr(*e, "__") &&
            strstr(*e, "__") < eq)
            snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(eq - *e), *e);
    }
    for (int i = 0; i < n; i++)
        unsetenv(names[i]);
    unsetenv("DATABASE_URL");
    unsetenv("REDIS_URL");
    const char *base = getenv("AUDORA_TEST_TMP");
    snprintf(tmpdir, sizeof(tmpdir), "%s/au-config-XXXXXX",
             base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void teardown(void)
{
    /* Tests only create files named *.env or .env in tmpdir. */
    const char *files[] = {".env", "a.env", "b.env", "example.env"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(pathbuf, sizeof(pathbuf), "%s/%s", tmpdir, files[i]);
        unlink(pathbuf);
    }
    rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes name in the test directory; returns its path (static buffer). */
static const char *write_env(const char *name, const char *text)
{
    snprintf(pathbuf, sizeof(pathbuf), "%s/%s", tmpdir, name);
    FILE *f = fopen(pathbuf, "wb");
    cr_assert_not_null(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return pathbuf;
}

static int load_file(au_config_t *cfg, const char *path, au_error_t *err)
{
    return au_config_load(cfg, NULL, NULL, path, err);
}

static void expect_error(int rc, const au_error_t *err, const char *msg)
{
    cr_assert_eq(rc, AU_ECONFIG, "rc=%d", rc);
    cr_assert_eq(err->code, AU_ECONFIG);
    cr_assert_str_eq(err->msg, msg);
}

Test(config, defaults_are_the_documented_values)
{
    au_config_t c;
    au_config_defaults(&c);
    cr_assert_str_eq(c.database.url, "");
    cr_assert_eq(c.database.pool_size, 5);
    cr_assert_eq(c.database.checkout_timeout_ms, 5000);
    cr_assert_eq(c.database.statement_timeout_ms, 60000);
    cr_assert_str_eq(c.redis.url, "");
    cr_assert_eq(c.redis.timeout_ms, 500);
    cr_assert_eq(c.redis.retry_ms, 1000);
    cr_assert_eq(c.cache.local_max_entries, 10000);
    cr_assert_eq(c.cache.ttl_artist_s, 86400);
    cr_assert_eq(c.cache.ttl_chart_s, 3600);
    cr_assert_eq(c.cache.ttl_summary_s, 600);
    cr_assert_eq(c.cache.ttl_bulk_s, 300);
    cr_assert_eq(c.cache.ttl_features_s, 86400);
    cr_assert_str_eq(c.zmq.enrich_in, "tcp://127.0.0.1:5551");
    cr_assert_str_eq(c.zmq.enrich_out, "tcp://127.0.0.1:5552");
    cr_assert_str_eq(c.zmq.analytics_in, "tcp://127.0.0.1:5553");
    cr_assert_str_eq(c.zmq.analytics_out, "tcp://127.0.0.1:5554");
    cr_assert_eq(c.zmq.hwm, 16);
    cr_assert_eq(c.zmq.max_msg_bytes, 4194304);
    cr_assert_eq(c.zmq.relay_memory_mb, 64);
    cr_assert_str_eq(c.zmq.security, "curve");
    cr_assert_str_eq(c.zmq.server_public_key, "");
    cr_assert_str_eq(c.zmq.client_secret_key, "");
    cr_assert_str_eq(c.zmq.authorized_clients, "");
    cr_assert_eq(c.database.lock_timeout_ms, 5000);
    cr_assert_eq(c.database.idle_in_transaction_ms, 10000);
    cr_assert_eq(c.queue.read_timeout_s, 30);
    cr_assert_eq(c.zmq.linger_ms, 1000);
    cr_assert_eq(c.queue.batch_records, 2000);
    cr_assert_eq(c.queue.lease_s, 60);
    cr_assert_eq(c.queue.max_attempts, 5);
    cr_assert_eq(c.queue.backoff_base_ms, 1000);
    cr_assert_eq(c.queue.backoff_max_ms, 60000);
    cr_assert_eq(c.queue.poll_ms, 1000);
    cr_assert_eq(c.queue.drain_s, 10);
    cr_assert_eq(c.metrics.port, 0);
    cr_assert_str_eq(c.metrics.bind, "127.0.0.1");
    cr_assert_str_eq(c.log.level, "info");
    cr_assert_eq(c.analytics.chart_size, 200);
}

Test(config, load_with_no_sources_gives_the_defaults)
{
    /* Harness variables share the prefix but are not keys. */
    setenv("AUDORA_TEST_PG_URL", "postgresql://x/y", 1);
    setenv("AUDORA_FIXTURES", "/nowhere", 1);
    au_config_t c, d;
    au_error_t err = {0};
    cr_assert_eq(load_file(&c, NULL, &err), 0, "%s", err.msg);
    au_config_defaults(&d);
    cr_assert_eq(memcmp(&c, &d, sizeof(c)), 0);
}

Test(config, env_file_overrides_default)
{
    au_config_t c;
    au_error_t err = {0};
    const char *p = write_env("a.env", "AUDORA_DATABASE__POOL_SIZE=7\n");
    cr_assert_eq(load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.database.pool_size, 7);
}

Test(config, dotenv_in_the_working_directory_is_read_by_default)
{
    au_config_t c;
    au_error_t err = {0};
    write_env(".env", "AUDORA_QUEUE__LEASE_S=120\n");
    cr_assert_eq(load_file(&c, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(c.queue.lease_s, 120);
}

Test(config, environment_overrides_env_file)
{
    au_config_t c;
    au_error_t err = {0};
    const char *p = write_env("a.env", "AUDORA_DATABASE__POOL_SIZE=7\n");
    setenv("AUDORA_DATABASE__POOL_SIZE", "9", 1);
    cr_assert_eq(load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.database.pool_size, 9);
}

Test(config, flag_beats_environment_beats_env_file_beats_default)
{
    au_config_t c;
    au_error_t err = {0};
    const char *p = write_env("a.env", "AUDORA_DATABASE__POOL_SIZE=7\n"
                                       "AUDORA_QUEUE__LEASE_S=30\n"
                                       "AUDORA_ZMQ__HWM=10\n");
    setenv("AUDORA_DATABASE__POOL_SIZE", "9", 1);
    setenv("AUDORA_QUEUE__LEASE_S", "31", 1);
    char *argv[] = {"prog", "--database.pool_size=11", NULL};
    int argc = 2;
    cr_assert_eq(au_config_load(&c, &argc, argv, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.database.pool_size, 11); /* flag */
    cr_assert_eq(c.queue.lease_s, 31);      /* environment */
    cr_assert_eq(c.zmq.hwm, 10);            /* .env */
    cr_assert_eq(c.queue.max_attempts, 5);  /* default */
    cr_assert_eq(argc, 1);
    cr_assert_null(argv[1]);
}

Test(config, flags_are_removed_and_other_arguments_kept_in_order)
{
    au_config_t c;
    au_error_t err = {0};
    char *argv[] = {"prog",
                    "--help",
                    "--log.level",
                    "debug",
                    "push",
                    "--out=a.b.csv",
                    "--queue.lease_s=5",
                    "file.csv",
                    "--",
                    "--zmq.hwm=3",
                    NULL};
    int argc = 10;
    cr_assert_eq(au_config_load(&c, &argc, argv, NULL, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c.log.level, "debug");
    cr_assert_eq(c.queue.lease_s, 5);
    cr_assert_eq(c.zmq.hwm, 16, "a flag after -- is not ours");
    cr_assert_eq(argc, 7);
    const char *want[] = {"prog",     "--help", "push",       "--out=a.b.csv",
                          "file.csv", "--",     "--zmq.hwm=3"};
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(argv[i], want[i]);
    cr_assert_null(argv[7]);
}

Test(config, env_file_flag_names_the_file_and_is_removed)
{
    au_config_t c;
    au_error_t err = {0};
    const char *p = write_env("b.env", "AUDORA_ZMQ__HWM=99\n");
    char path[512];
    snprintf(path, sizeof(path), "%s", p);
    write_env(".env", "AUDORA_ZMQ__HWM=1\n");
    char *argv[] = {"prog", "--env-file", path, "run", NULL};
    int argc = 4;
    cr_assert_eq(au_config_load(&c, &argc, argv, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(c.zmq.hwm, 99);
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "run");
}

Test(config, missing_named_env_file_is_an_error)
{
    au_config_t c;
    au_error_t err = {0};
    int rc = load_file(&c, "no-such.env", &err);
    expect_error(rc, &err,
                 "no-such.env: cannot open: No such file or "
                 "directory");
}

Test(config, out_of_range_integer_names_key_value_source_and_rule)
{
    au_config_t c;
    au_error_t err = {0};
    setenv("AUDORA_DATABASE__POOL_SIZE", "42", 1);
    int rc = load_file(&c, NULL, &err);
    expect_error(rc, &err,
                 "database.pool_size=42 (from AUDORA_DATABASE__POOL_SIZE): "
                 "must be between 1 and 20");
}

Test(config, out_of_range_value_in_env_file_names_file_and_line)
{
    au_config_t c;
    au_error_t err = {0};
    write_env(".env", "# pool\n\nAUDORA_DATABASE__POOL_SIZE=0\n");
    int rc = au_config_load(&c, NULL, NULL, ".env", &err);
    expect_error(rc, &err,
                 "database.pool_size=0 (from .env:3): must be between 1 and "
                 "20");
}

Test(config, non_integer_flag_is_rejected)
{
    au_config_t c;
    au_error_t err = {0};
    char *argv[] = {"prog", "--queue.lease_s", "12s", NULL};
    int argc = 3;
    int rc = au_config_load(&c, &argc, argv, NULL, &err);
    expect_error(rc, &err,
                 "queue.lease_s=12s (from --queue.lease_s): must be an "
                 "integer");
}

Test(config, integers_are_parsed_strictly)
{
    au_config_t c;
    au_error_t err = {0};
    const char *bad[] = {"", " 8", "8 ", "0x10", "8.0", "+", "-"};
    au_config_defaults(&c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want),
                 "zmq.hwm=%s (from test): must be an integer", bad[i]);
        int rc = au_config_set(&c, "zmq.hwm", bad[i], "test", &err);
        expect_error(rc, &err, want);
    }
    cr_assert_eq(c.zmq.hwm, 16, "a rejected value leaves the key alone");
    cr_assert_eq(au_config_set(&c, "zmq.hwm", "010", "test", &err), 0);
    cr_assert_eq(c.zmq.hwm, 10, "decimal, not octal");
    cr_assert_eq(au_config_set(&c, "zmq.hwm", "+12", "test", &err), 0);
    cr_assert_eq(c.zmq.hwm, 12);
}

Test(config, integer_overflow_is_a_range_error)
{
    au_config_t c;
    au_error_t err = {0};
    au_config_defaults(&c);
    int rc = au_config_set(&c, "queue.lease_s", "99999999999999999999999",
                           "test", &err);
    expect_error(rc, &err,
                 "queue.lease_s=99999999999999999999999 (from test): must be "
                 "between 1 and 86400");
    rc = au_config_set(&c, "queue.drain_s", "-1", "test", &err);
    expect_error(rc, &err,
                 "queue.drain_s=-1 (from test): must be between 0 and 3600");
    cr_assert_eq(au_config_set(&c, "queue.drain_s", "0", "t", &err), 0);
    cr_assert_eq(au_config_set(&c, "metrics.port", "65535", "t", &err), 0);
    rc = au_config_set(&c, "metrics.port", "65536", "test", &err);
    expect_error(rc, &err,
                 "metrics.port=65536 (from test): must be between 0 and "
                 "65535");
}

Test(config, urls_must_have_the_right_scheme)
{
    au_config_t c;
    au_error_t err = {0};
    au_config_defaults(&c);
    int rc = au_config_set(&c, "database.url", "mysql://h/db", "test", &err);
    expect_error(rc, &err,
                 "database.url=mysql://h/db (from test): must start with "
                 "postgres:// or postgresql://, or be libpq keywords "
                 "(host=... dbname=...) (or be empty)");
    rc = au_config_set(&c, "redis.url", "http://h:6379", "test", &err);
    expect_error(rc, &err,
                 "redis.url=http://h:6379 (from test): must start with "
                 "redis:// (or be empty)");
    cr_assert_eq(au_config_set(&c, "database.url", "postgres://h/d", "t", &err),
                 0);
    cr_assert_eq(
        au_config_set(&c, "database.url", "postgresql://h/d", "t", &err), 0);
    cr_assert_eq(au_config_set(&c, "redis.url", "redis://h:1/0", "t", &err), 0);
    cr_assert_eq(au_config_set(&c, "redis.url", "", "t", &err), 0);
    cr_assert_str_eq(c.redis.url, "");
}

Test(config, error_message_never_shows_a_url_password)
{
    au_config_t c;
    au_error_t err = {0};
    setenv("AUDORA_DATABASE__URL", "mysql://admin:Tr0ub4dor@db/x", 1);
    int rc = load_file(&c, NULL, &err);
    expect_error(rc, &err,
                 "database.url=mysql://admin:***@db/x (from "
                 "AUDORA_DATABASE__URL): must start with postgres:// or "
                 "postgresql://, or be libpq keywords (host=... dbname=...) "
                 "(or be empty)");
}

Test(config, choices_strings_and_endpoints_are_checked)
{
    au_config_t c;
    au_error_t err = {0};
    au_config_defaults(&c);
    int rc = au_config_set(&c, "log.level", "verbose", "test", &err);
    expect_error(rc, &err,
                 "log.level=verbose (from test): must be one of debug, info, "
                 "warn, error");
    rc = au_config_set(&c, "zmq.enrich_in", "tcp://a:1,,tcp://b:2", "test",
                       &err);
    expect_error(rc, &err,
                 "zmq.enrich_in=tcp://a:1,,tcp://b:2 (from test): must list "
                 "tcp://, ipc:// or inproc:// endpoints, comma-separated");
    rc = au_config_set(&c, "zmq.enrich_in", "a:1", "test", &err);
    cr_assert_eq(rc, AU_ECONFIG);
    cr_assert_eq(au_config_set(&c, "zmq.enrich_in",
                               "tcp://a:1,ipc:///tmp/s,inproc://x", "t", &err),
                 0);
    cr_assert_str_eq(c.zmq.enrich_in, "tcp://a:1,ipc:///tmp/s,inproc://x");
    rc = au_config_set(&c, "metrics.bind", "a\tb", "test", &err);
    expect_error(rc, &err,
                 "metrics.bind=a\tb (from test): must not contain control "
                 "characters");
}

Test(config, overlong_string_is_rejected_and_shown_cut)
{
    au_config_t c;
    au_error_t err = {0};
    char v[71];
    memset(v, 'h', 70);
    v[70] = '\0';
    au_config_defaults(&c);
    int rc = au_config_set(&c, "metrics.bind", v, "test", &err);
    char want[256];
    snprintf(want, sizeof(want),
             "metrics.bind=%.64s... (from test): must be at most 63 bytes", v);
    expect_error(rc, &err, want);
    v[63] = '\0';
    cr_assert_eq(au_config_set(&c, "metrics.bind", v, "test", &err), 0);
}

Test(config, unknown_key_names_the_closest_one)
{
    au_config_t c;
    au_error_t err = {0};
    au_config_defaults(&c);
    int rc = au_config_set(&c, "database.pool_siz", "8", "test", &err);
    expect_error(rc, &err,
                 "database.pool_siz=8 (from test): no such key; closest is "
                 "database.pool_size");
}

Test(config, unknown_environment_variable_names_the_closest_key)
{
    au_config_t c;
    au_error_t err = {0};
    setenv("AUDORA_REDIS__TIMEOUT", "9", 1);
    int rc = load_file(&c, NULL, &err);
    expect_error(rc, &err,
                 "AUDORA_REDIS__TIMEOUT=9 (from environment): no such key; "
                 "closest is AUDORA_REDIS__TIMEOUT_MS");
}

Test(config, single_underscore_typo_in_environment_is_caught)
{
    au_config_t c;
    au_error_t err = {0};
    setenv("AUDORA_DATABASE_POOL_SIZE", "8", 1);
    int rc = load_file(&c, NULL, &err);
    expect_error(rc, &err,
                 "AUDORA_DATABASE_POOL_SIZE=8 (from environment): no such "
                 "key; closest is AUDORA_DATABASE__POOL_SIZE");
}

Test(config, unknown_dotted_flag_names_the_closest_key)
{
    au_config_t c;
    au_error_t err = {0};
    char *argv[] = {"prog", "--databse.pool_size=3", NULL};
    int argc = 2;
    int rc = au_config_load(&c, &argc, argv, NULL, &err);
    expect_error(rc, &err,
                 "--databse.pool_size=3 (from command line): no such key; "
                 "closest is --database.pool_size");
}

Test(config, flag_without_a_value_is_an_error)
{
    au_config_t c;
    au_error_t err = {0};
    char *argv[] = {"prog", "--database.pool_size", NULL};
    int argc = 2;
    int rc = au_config_load(&c, &argc, argv, NULL, &err);
    expect_error(rc, &err,
                 "--database.pool_size (from command line): needs a value");
}

Test(config, configuration_flags_are_dotted_keys_and_env_file_only)
{
    /* What the option parser hands to the configuration (au_cli.h):
     * whether the key exists is checked later, by the load. */
    const char *yes[] = {"--database.url=x", "--database.url",  "--a.b",
                         "--env-file",       "--env-file=.env", "--zmq.nope=1"};
    const char *no[] = {"--help",       "--limit=5.5", "-d.x",
                        "database.url", "--",          "--=a.b",
                        "--env-files",  "--.",         "-"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        cr_expect(au_config_is_flag(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        cr_expect(!au_config_is_flag(no[i]), "%s", no[i]);
}

Test(config, env_file_quirks_are_understood)
{
    au_config_t c;
    au_error_t err = {0};
    const char *p =
        write_env("a.env", "# a comment\n"
                           "\n"
                           "   \t\n"
                           "   # indented comment\n"
                           "export AUDORA_DATABASE__POOL_SIZE=3\n"
                           "AUDORA_QUEUE__LEASE_S = 30   # half a minute\n"
                           "AUDORA_METRICS__BIND=a#b\n"
                           "AUDORA_ZMQ__ENRICH_IN='tcp://h:1' # single quotes\n"
                           "AUDORA_ZMQ__ENRICH_OUT='tcp://h:2#x y'\n"
                           "AUDORA_LOG__LEVEL=\"warn\"\r\n"
                           "AUDORA_ZMQ__ANALYTICS_IN=\"tcp://q\\\"x\\\\y:3\"\n"
                           "POSTGRES_PASSWORD=not-ours\n"
                           "AUDORA_ZMQ__HWM=1\n"
                           "AUDORA_ZMQ__HWM=2\n"
                           "AUDORA_REDIS__URL=\n"
                           "AUDORA_QUEUE__DRAIN_S=4");
    cr_assert_eq(load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.database.pool_size, 3);
    cr_assert_eq(c.queue.lease_s, 30);
    cr_assert_str_eq(c.metrics.bind, "a#b");
    cr_assert_str_eq(c.zmq.enrich_in, "tcp://h:1");
    cr_assert_str_eq(c.zmq.enrich_out, "tcp://h:2#x y");
    cr_assert_str_eq(c.log.level, "warn");
    cr_assert_str_eq(c.zmq.analytics_in, "tcp://q\"x\\y:3");
    cr_assert_eq(c.zmq.hwm, 2, "the last assignment wins");
    cr_assert_str_eq(c.redis.url, "");
    cr_assert_eq(c.queue.drain_s, 4, "no newline at end of file");
}

Test(config, malformed_env_file_lines_name_file_and_line)
{
    struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"AUDORA_ZMQ__HWM=1\n\nthis is not an assignment\n",
         "%s:3: expected KEY=VALUE"},
        {"=5\n", "%s:1: expected KEY=VALUE"},
        {"AUDORA_LOG__LEVEL=\"warn\n", "%s:1: unterminated double quote"},
        {"# x\nAUDORA_LOG__LEVEL='warn\n", "%s:2: unterminated single quote"},
        {"AUDORA_LOG__LEVEL=\"warn\" error\n",
         "%s:1: unexpected text after the closing quote"},
        {"AUDORA_REDIS__ULR=redis://x\n",
         "AUDORA_REDIS__ULR=redis://x (from %s:1): no such key; closest is "
         "AUDORA_REDIS__URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        au_config_t c;
        au_error_t err = {0};
        char path[512], want[512];
        snprintf(path, sizeof(path), "%s", write_env("a.env", cases[i].text));
        snprintf(want, sizeof(want), cases[i].msg, path);
        expect_error(load_file(&c, path, &err), &err, want);
    }
}

Test(config, env_file_with_a_nul_byte_is_rejected)
{
    au_config_t c;
    au_error_t err = {0};
    snprintf(pathbuf, sizeof(pathbuf), "%s/a.env", tmpdir);
    FILE *f = fopen(pathbuf, "wb");
    cr_assert_not_null(f);
    fwrite("AUDORA_ZMQ__HWM=1\0\n", 1, 19, f);
    fclose(f);
    char want[600];
    snprintf(want, sizeof(want), "%s:1: contains a NUL byte", pathbuf);
    expect_error(load_file(&c, pathbuf, &err), &err, want);
}

Test(config, redact_url_hides_passwords_only)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"postgresql://user:s3cret@db:5432/audora",
         "postgresql://user:***@db:5432/audora"},
        {"redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"},
        {"redis://s3cret@h:1", "redis://***@h:1"},
        {"postgres://user@h/db", "postgres://user@h/db"},
        {"postgres://u:p@ss@h/db", "postgres://u:***@h/db"},
        {"postgres://h/db?user=a&password=s3cret&sslmode=require",
         "postgres://h/db?user=a&password=***&sslmode=require"},
        {"postgres://u:s3cret@h/db?x=@y", "postgres://u:***@h/db?x=@y"},
        {"tcp://127.0.0.1:5551", "tcp://127.0.0.1:5551"},
        {"not a url", "not a url"},
        {"host=db user=a password=s3cret dbname=x",
         "host=db user=a password=*** dbname=x"},
        {"host=db password = 'a \\'b c' port=5432",
         "host=db password = *** port=5432"},
        {"", ""},
    };
    char out[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        au_config_redact_url(cases[i].in, out, sizeof(out));
        cr_assert_str_eq(out, cases[i].out, "input %s", cases[i].in);
    }
}

Test(config, redact_url_into_a_small_buffer_never_leaks_a_password)
{
    const char *url = "postgresql://user:s3cret@db:5432/audora";
    for (size_t cap = 1; cap < 64; cap++) {
        char out[64];
        memset(out, 'Z', sizeof(out));
        au_config_redact_url(url, out, cap);
        cr_assert_lt(strlen(out), cap);
        cr_assert_null(strstr(out, "s3"), "cap %zu: %s", cap, out);
        cr_assert_eq(out[cap], 'Z', "wrote past cap %zu", cap);
    }
}

static char *dump(const au_config_t *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    au_config_dump(c, f);
    fclose(f);
    return buf;
}

Test(config, dump_lists_every_key_once_with_passwords_redacted)
{
    au_config_t c;
    au_error_t err = {0};
    setenv("AUDORA_DATABASE__URL",
           "postgresql://audora:pg-Pa55@db.example:5432/audora", 1);
    setenv("AUDORA_REDIS__URL", "redis://:rd-Pa55@cache:6379/2", 1);
    setenv("AUDORA_ZMQ__SERVER_SECRET_KEY", "sk-Pa55", 1);
    setenv("AUDORA_ZMQ__CLIENT_SECRET_KEY", "ck-Pa55", 1);
    setenv("AUDORA_LASTFM__API_KEY", "lf-Pa55", 1);
    setenv("AUDORA_SPOTIFY__CLIENT_SECRET", "sp-Pa55", 1);
    cr_assert_eq(load_file(&c, NULL, &err), 0, "%s", err.msg);
    unsetenv("AUDORA_LASTFM__API_KEY");
    unsetenv("AUDORA_SPOTIFY__CLIENT_SECRET");
    unsetenv("AUDORA_ZMQ__SERVER_SECRET_KEY");
    unsetenv("AUDORA_ZMQ__CLIENT_SECRET_KEY");
    size_t len;
    char *out = dump(&c, &len);
    cr_assert_null(strstr(out, "Pa55"), "%s", out);
    cr_assert_not_null(strstr(out, "zmq.server_secret_key = ***\n"), "%s", out);
    cr_assert_not_null(strstr(out, "lastfm.api_key = ***\n"), "%s", out);
    cr_assert_not_null(strstr(out, "spotify.client_secret = ***\n"), "%s", out);
    cr_assert_not_null(strstr(out, "database.url = postgresql://audora:***@"
                                   "db.example:5432/audora\n"));
    cr_assert_not_null(strstr(out, "redis.url = redis://:***@cache:6379/2\n"));
    cr_assert_not_null(strstr(out, "database.pool_size = 5\n"));
    cr_assert_not_null(strstr(out, "log.level = info\n"));
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 66, "one line per field of au_config_t");
    free(out);
}

/* "database.pool_size" -> "AUDORA_DATABASE__POOL_SIZE", written here
 * independently of the code under test. */
static void env_name(const char *key, size_t n, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "AUDORA_");
    for (size_t i = 0; i < n && o + 3 < cap; i++) {
        if (key[i] == '.') {
            out[o++] = '_';
            out[o++] = '_';
        } else {
            out[o++] =
                (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
        }
    }
    out[o] = '\0';
}

static char *example(size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    au_config_write_example(f);
    fclose(f);
    return buf;
}

Test(config, committed_env_example_matches_the_key_table)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/../.env.example", au_test_dir());
    size_t have_len, want_len;
    char *have = au_test_read_file(path, &have_len);
    char *want = example(&want_len);
    cr_assert_str_eq(have, want,
                     ".env.example is stale: regenerate it from "
                     "au_config_write_example");
    free(have);
    free(want);
}

Test(config, example_names_every_key_with_its_default)
{
    au_config_t c;
    au_config_defaults(&c);
    size_t dlen, elen;
    char *d = dump(&c, &dlen);
    char *ex = example(&elen);
    int keys = 0;
    for (char *line = d; *line;) {
        char *nl = strchr(line, '\n');
        char *eq = strstr(line, " = ");
        cr_assert(nl && eq && eq < nl);
        char want[256];
        env_name(line, (size_t)(eq - line), want, sizeof(want));
        size_t wl = strlen(want);
        snprintf(want + wl, sizeof(want) - wl, "=%.*s\n", (int)(nl - eq - 3),
                 eq + 3);
        cr_assert_not_null(strstr(ex, want), "missing line: # %s", want);
        keys++;
        line = nl + 1;
    }
    cr_assert_eq(keys, 66);
    free(d);
    free(ex);
}

Test(config, uncommented_example_loads_as_the_defaults)
{
    size_t elen;
    char *ex = example(&elen);
    /* Turn "# AUDORA_X=v" into "AUDORA_X=v", keep the other comments. */
    char *text = calloc(1, elen + 1);
    cr_assert_not_null(text);
    size_t o = 0;
    for (const char *p = ex; *p;) {
        if (strncmp(p, "# AUDORA_", 9) == 0 && (p == ex || p[-1] == '\n'))
            p += 2;
        text[o++] = *p++;
    }
    const char *path = write_env("example.env", text);
    au_config_t c, d;
    au_error_t err = {0};
    cr_assert_eq(load_file(&c, path, &err), 0, "%s", err.msg);
    au_config_defaults(&d);
    cr_assert_eq(memcmp(&c, &d, sizeof(c)), 0);
    free(text);
    free(ex);
}

Test(config, backoff_base_above_backoff_max_is_rejected_naming_both)
{
    au_config_t c;
    au_error_t err = {0};
    char a0[] = "x", a1[] = "--queue.backoff_base_ms=5000",
         a2[] = "--queue.backoff_max_ms=1000";
    char *argv[] = {a0, a1, a2, NULL};
    int argc = 3;
    cr_assert_eq(au_config_load(&c, &argc, argv, "/dev/null", &err),
                 AU_ECONFIG);
    cr_assert_str_eq(err.msg, "queue.backoff_base_ms=5000: must not exceed "
                              "queue.backoff_max_ms=1000");
}

Test(config, database_url_and_libpq_keywords_are_accepted)
{
    au_config_t c;
    au_error_t err = {0};
    /* DATABASE_URL and REDIS_URL, as platforms set them, when Audora's own
     * variables say nothing; below them when they do. */
    setenv("DATABASE_URL", "postgres://u:pw@db/audora", 1);
    setenv("REDIS_URL", "redis://cache:6379/1", 1);
    cr_assert_eq(load_file(&c, NULL, &err), 0, "%s", err.msg);
    cr_expect_str_eq(c.database.url, "postgres://u:pw@db/audora");
    cr_expect_str_eq(c.redis.url, "redis://cache:6379/1");
    setenv("AUDORA_DATABASE__URL", "host=db2 dbname=audora user=a password=x",
           1);
    cr_assert_eq(load_file(&c, NULL, &err), 0, "%s", err.msg);
    cr_expect_str_eq(c.database.url,
                     "host=db2 dbname=audora user=a password=x");
    char *dump = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dump, &dlen);
    au_config_dump(&c, f);
    fclose(f);
    cr_expect(strstr(dump, "database.url = host=db2 dbname=audora user=a "
                           "password=***\n"),
              "%s", dump);
    free(dump);
    /* A keyword string libpq cannot read is refused, its password hidden. */
    setenv("AUDORA_DATABASE__URL", "host=db password=s3cret 'unclosed", 1);
    int rc = load_file(&c, NULL, &err);
    cr_expect_eq(rc, AU_ECONFIG);
    cr_expect(strstr(err.msg, "libpq keywords"), "%s", err.msg);
    cr_expect_null(strstr(err.msg, "s3cret"), "%s", err.msg);
    setenv("DATABASE_URL", "mysql://x/y", 1);
    unsetenv("AUDORA_DATABASE__URL");
    rc = load_file(&c, NULL, &err);
    cr_expect_eq(rc, AU_ECONFIG);
    cr_expect(strstr(err.msg, "from DATABASE_URL"), "%s", err.msg);
}
