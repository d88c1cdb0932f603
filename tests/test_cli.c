/* test_cli.c: the command-line convention every executable follows
 * (docs/ARCHITECTURE.md, "A new command"), checked by running the built
 * executables as a user or a script would, against a real PostgreSQL:
 * --help and --version everywhere with no side effect, exit 2 naming the
 * bad argument, exit codes scripts can trust, push naming what it cannot
 * queue. The parser and the printer are also checked in-process. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "au_cli.h"
#include "au_out.h"
#include "au_test.h"

extern char **environ;

/* ---- running the executables ---------------------------------------- */

typedef struct {
    pid_t pid;
    char out_path[256], err_path[256];
    int status; /* exit status; -1 when killed by a signal */
    char *out, *err;
} run_t;

static const char *tmp_dir(void)
{
    const char *t = getenv("AUDORA_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static int temp_fd(char *path, size_t cap)
{
    snprintf(path, cap, "%s/cli-XXXXXX", tmp_dir());
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp %s", path);
    return fd;
}

/* Starts argv[0] (an executable of the build) with stdout and stderr
 * going to files. */
static void start(run_t *r, const char *const *argv)
{
    memset(r, 0, sizeof(*r));
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/%s", au_test_build_dir(), argv[0]);
    int out = temp_fd(r->out_path, sizeof(r->out_path));
    int err = temp_fd(r->err_path, sizeof(r->err_path));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    int rc = posix_spawn(&r->pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out);
    close(err);
    cr_assert_eq(rc, 0, "cannot start %s", exe);
}

static void finish(run_t *r)
{
    int st = 0;
    cr_assert_eq(waitpid(r->pid, &st, 0), r->pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = au_test_read_file(r->out_path, NULL);
    r->err = au_test_read_file(r->err_path, NULL);
    unlink(r->out_path);
    unlink(r->err_path);
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static run_t run_argv(const char *const *argv)
{
    run_t r;
    start(&r, argv);
    finish(&r);
    return r;
}

#define RUN(...) run_argv((const char *const[]){__VA_ARGS__, NULL})

/* Every command and subcommand, as a user types it. */
static const char *const commands[][3] = {
    {"migrate"},
    {"push"},
    {"status"},
    {"wait"},
    {"jobs"},
    {"jobs", "cancel"},
    {"jobs", "prune"},
    {"queue", "list"},
    {"queue", "pause"},
    {"queue", "resume"},
    {"schedule", "add"},
    {"schedule", "list"},
    {"schedule", "remove"},
    {"report"},
    {"dlq", "list"},
    {"dlq", "show"},
    {"dlq", "replay"},
    {"dlq", "purge"},
    {"features", "load"},
    {"summary"},
    {"top"},
    {"playlists"},
    {"spread"},
    {"gen"},
    {"backtest"},
    {"config", "check"},
    {"config", "example"},
    {"version"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *const workers[] = {"audora-ingest", "audora-enrich",
                                      "audora-analytics", "audora-relay",
                                      "audora-supervisor"};
#define NWORKERS (sizeof(workers) / sizeof(workers[0]))

/* argv for `audora <command> extra...` or a worker with extra. */
static void command_argv(const char **argv, size_t i, const char *extra1,
                         const char *extra2)
{
    size_t n = 0;
    argv[n++] = "audora";
    for (size_t k = 0; k < 2 && commands[i][k]; k++)
        argv[n++] = commands[i][k];
    argv[n++] = extra1;
    argv[n++] = extra2;
    argv[n] = NULL;
}

/* ---- a database of our own ------------------------------------------ */

static char db_url[512];

static void fresh_db(void)
{
    au_test_db_new(db_url, sizeof(db_url));
    setenv("AUDORA_DATABASE__URL", db_url, 1);
    setenv("AUDORA_REDIS__URL", au_test_redis_url(), 1);
}

static void migrated_db(void)
{
    fresh_db();
    run_t r = RUN("audora", "migrate");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
}

static long long scalar(const char *sql)
{
    PGconn *c = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK ||
                  PQresultStatus(r) == PGRES_COMMAND_OK,
              "%s: %s", sql, PQerrorMessage(c));
    long long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                      ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                      : 0;
    PQclear(r);
    PQfinish(c);
    return v;
}

/* A folder of chart files; only their names matter to push. */
static void make_charts(char *dir, size_t cap, const char *const *names)
{
    static int n;
    snprintf(dir, cap, "%s/charts-%d-%d", tmp_dir(), (int)getpid(), ++n);
    cr_assert_eq(mkdir(dir, 0755), 0);
    for (size_t i = 0; names[i]; i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "w");
        cr_assert(f);
        fputs("Position,\"Track Name\",Artist,Streams,URL\n", f);
        fclose(f);
    }
}

/* ---- every executable: --help, --version, unknown flags -------------- */

TestSuite(cli, .timeout = 120);

static void expect_usage(const run_t *r, const char *what)
{
    cr_expect_eq(r->status, 0, "%s: exit %d: %s", what, r->status, r->err);
    cr_expect(!strncmp(r->out, "usage: ", 7), "%s: %s", what, r->out);
    cr_expect_str_eq(r->err, "", "%s", what);
}

Test(cli, help_on_every_command_and_worker_prints_usage_and_exits_0)
{
    /* No database configured: any attempt to use one would fail. */
    unsetenv("AUDORA_DATABASE__URL");
    const char *flags[] = {"--help", "-h"};
    for (size_t f = 0; f < 2; f++) {
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const char *argv[6];
            command_argv(argv, i, flags[f], NULL);
            run_t r = run_argv(argv);
            expect_usage(&r, commands[i][0]);
            cr_expect(strstr(r.out, commands[i][0]), "%s", r.out);
            run_free(&r);
        }
        for (size_t i = 0; i < NWORKERS; i++) {
            run_t r =
                run_argv((const char *const[]){workers[i], flags[f], NULL});
            expect_usage(&r, workers[i]);
            run_free(&r);
        }
    }
    const char *const tops[][3] = {{"audora", "--help"},
                                   {"audora", "help"},
                                   {"audora", "dlq", "--help"},
                                   {"audora", "help", "push"}};
    for (size_t i = 0; i < 4; i++) {
        run_t r = run_argv(
            (const char *const[]){tops[i][0], tops[i][1], tops[i][2], NULL});
        expect_usage(&r, tops[i][1]);
        run_free(&r);
    }
}

Test(cli, top_level_usage_lists_every_command)
{
    run_t r = RUN("audora", "--help");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "audora %s%s%s", commands[i][0],
                 commands[i][1] ? " " : "",
                 commands[i][1] ? commands[i][1] : "");
        cr_expect(strstr(r.out, name), "%s missing from the usage", name);
    }
    run_free(&r);
    r = RUN("audora");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "usage: audora"), "%s", r.err);
    run_free(&r);
}

Test(cli, version_flag_prints_the_version_everywhere)
{
    unsetenv("AUDORA_DATABASE__URL");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *argv[6];
        command_argv(argv, i, "-V", NULL);
        run_t r = run_argv(argv);
        cr_expect_eq(r.status, 0, "%s: %s", commands[i][0], r.err);
        cr_expect_str_eq(r.out, "audora " AU_VERSION "\n", "%s",
                         commands[i][0]);
        run_free(&r);
    }
    run_t r = RUN("audora", "--version");
    cr_expect_str_eq(r.out, "audora " AU_VERSION "\n");
    run_free(&r);
    for (size_t i = 0; i < NWORKERS; i++) {
        r = run_argv((const char *const[]){workers[i], "-V", NULL});
        char want[64];
        snprintf(want, sizeof(want), "%s %s\n", workers[i], AU_VERSION);
        cr_expect_eq(r.status, 0);
        cr_expect_str_eq(r.out, want);
        run_free(&r);
    }
}

Test(cli, unknown_flag_exits_2_naming_it_on_every_command_and_worker)
{
    /* A database URL, so that nothing fails for want of one first. */
    fresh_db();
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *argv[6];
        command_argv(argv, i, "--bogus", NULL);
        run_t r = run_argv(argv);
        cr_expect_eq(r.status, 2, "%s: exit %d", commands[i][0], r.status);
        cr_expect(strstr(r.err, "--bogus"), "%s: %s", commands[i][0], r.err);
        run_free(&r);
    }
    for (size_t i = 0; i < NWORKERS; i++) {
        run_t r = run_argv((const char *const[]){workers[i], "--bogus", NULL});
        cr_expect_eq(r.status, 2, "%s must not start", workers[i]);
        cr_expect(strstr(r.err, "unknown option --bogus"), "%s", r.err);
        run_free(&r);
    }
}

Test(cli, unknown_configuration_key_exits_2_naming_it)
{
    fresh_db();
    const char *const cases[][5] = {
        {"audora", "status", "--database.pool_sise=3", NULL},
        {"audora", "jobs", "--queue.bogus", "1"},
        {"audora-ingest", "--database.pool_sise=3", NULL, NULL},
        {"audora-relay", "--stage", "enrich", "--zmq.nope=1"},
    };
    for (size_t i = 0; i < 4; i++) {
        run_t r = run_argv(cases[i]);
        cr_expect_eq(r.status, 2, "%s: exit %d", cases[i][0], r.status);
        cr_expect(strstr(r.err, "no such key"), "%s", r.err);
        run_free(&r);
    }
    /* A known key with a bad value is refused the same way. */
    run_t r = RUN("audora-analytics", "--database.pool_size", "abc");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "database.pool_size"), "%s", r.err);
    run_free(&r);
}

Test(cli, malformed_numbers_and_values_exit_2_naming_them)
{
    unsetenv("AUDORA_DATABASE__URL");
    const struct {
        const char *argv[8];
        const char *msg;
    } cases[] = {
        {{"audora", "wait", "--timeout", "abc"}, "--timeout abc"},
        {{"audora", "wait", "-t", "5s"}, "-t 5s"},
        {{"audora", "wait", "12x"}, "JOB_ID 12x"},
        {{"audora", "jobs", "--limit", "0"}, "--limit 0"},
        {{"audora", "jobs", "--state", "lost"}, "--state lost"},
        {{"audora", "dlq", "show", "abc"}, "ID abc"},
        {{"audora", "dlq", "replay", "-1"}, "unknown option -1"},
        {{"audora", "push", "--max-attempts", "0x5", "f.csv"},
         "--max-attempts 0x5"},
        {{"audora", "push", "--date", "2019-02-29", "f.csv"},
         "--date 2019-02-29"},
        {{"audora", "gen", "--out", "d", "--records", "1e6"}, "--records 1e6"},
        {{"audora", "summary", "--days", "7d"}, "--days 7d"},
        {{"audora", "top", "--limit"}, "--limit needs a value"},
        {{"audora", "playlists", "--mood", "all", "--min-score", "nan"},
         "--min-score nan"},
        {{"audora", "spread", "a", "b", "--days", "-3"}, "--days -3"},
        {{"audora-relay", "--stage", "ingest"}, "--stage ingest"},
        {{"audora-relay"}, "--stage enrich|analytics is required"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_t r = run_argv(cases[i].argv);
        cr_expect_eq(r.status, 2, "%s %s: exit %d", cases[i].argv[1],
                     cases[i].msg, r.status);
        cr_expect(strstr(r.err, cases[i].msg), "want \"%s\" in: %s",
                  cases[i].msg, r.err);
        run_free(&r);
    }
}

Test(cli, arguments_a_command_needs_are_named)
{
    unsetenv("AUDORA_DATABASE__URL");
    run_t r = RUN("audora", "spread");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "expects TRACK ARTIST"), "%s", r.err);
    run_free(&r);
    r = RUN("audora", "push");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "expects FILE|DIR..."), "%s", r.err);
    run_free(&r);
    r = RUN("audora", "dlq", "replay");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "give one ID or --all"), "%s", r.err);
    run_free(&r);
    r = RUN("audora", "status", "extra");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unexpected argument \"extra\""), "%s", r.err);
    run_free(&r);
    r = RUN("audora", "dlq");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "give a subcommand"), "%s", r.err);
    run_free(&r);
}

/* ---- no side effect ------------------------------------------------- */

Test(cli, migrate_help_leaves_an_empty_database_empty)
{
    fresh_db();
    const char *tables = "SELECT count(*) FROM pg_tables "
                         "WHERE schemaname = 'public'";
    for (int i = 0; i < 2; i++) {
        run_t r = i ? RUN("audora", "migrate", "-h")
                    : RUN("audora", "migrate", "--help");
        cr_expect_eq(r.status, 0);
        run_free(&r);
    }
    cr_expect_eq(scalar(tables), 0, "migrate --help migrated");
    run_t r = RUN("audora", "migrate", "--json");
    cr_expect_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    cr_expect_gt(scalar(tables), 0);
}

Test(cli, help_never_queues_replays_or_purges)
{
    migrated_db();
    char dir[512];
    make_charts(
        dir, sizeof(dir),
        (const char *const[]){"regional-us-daily-2020-01-01.csv", NULL});
    run_t r = RUN("audora", "push", dir, "--help");
    cr_expect_eq(r.status, 0);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs"), 0);
    r = RUN("audora", "push", dir);
    cr_expect_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    scalar("UPDATE jobs SET state = 'dead'");
    r = RUN("audora", "dlq", "purge", "--all", "--help");
    cr_expect_eq(r.status, 0);
    run_free(&r);
    r = RUN("audora", "dlq", "replay", "--help", "--all");
    cr_expect_eq(r.status, 0);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'dead'"), 1);
}

/* ---- exit codes scripts can trust ----------------------------------- */

/* Pushes n dated charts; returns the highest job id before the push. */
static long long push_charts(int n)
{
    const char *names[] = {"regional-us-daily-2020-01-01.csv",
                           "regional-gb-daily-2020-01-01.csv",
                           "regional-de-daily-2020-01-01.csv", NULL};
    names[n] = NULL;
    char dir[512];
    make_charts(dir, sizeof(dir), names);
    run_t r = RUN("audora", "status", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert(j, "%s", r.out);
    json_t *max = json_object_get(j, "max_job_id");
    long long since = json_is_integer(max) ? json_integer_value(max) : 0;
    json_decref(j);
    run_free(&r);
    r = RUN("audora", "push", dir);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    return since;
}

Test(cli, wait_exits_1_naming_a_dead_job_and_0_when_all_are_done)
{
    migrated_db();
    push_charts(2);
    scalar("UPDATE jobs SET state = 'done', finished_at = now()");
    run_t r = RUN("audora", "wait", "--quiet", "--since-id", "0");
    cr_expect_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    scalar("UPDATE jobs SET state = 'dead', last_error = 'x.csv:3: bad row' "
           "WHERE id = 2");
    r = RUN("audora", "wait", "--quiet", "--since-id", "0", "--json");
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "job 2 ("), "%s", r.err);
    cr_expect(strstr(r.err, "x.csv:3: bad row"), "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert(j, "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "result")), "dead");
    json_t *dead = json_object_get(j, "dead_jobs");
    cr_expect_eq(json_array_size(dead), 1);
    cr_expect_eq(
        json_integer_value(json_object_get(json_array_get(dead, 0), "id")), 2);
    json_decref(j);
    run_free(&r);
    r = RUN("audora", "wait", "1");
    cr_expect_eq(r.status, 0, "job 1 is done: %s", r.err);
    run_free(&r);
    r = RUN("audora", "wait", "1", "2");
    cr_expect_eq(r.status, 1);
    run_free(&r);
}

Test(cli, wait_without_ids_waits_for_what_is_pending_and_what_comes_after)
{
    migrated_db();
    /* Dead before the wait begins: not waited for. */
    push_charts(1);
    scalar("UPDATE jobs SET state = 'dead', last_error = 'old'");
    long long since = push_charts(2);
    cr_assert_eq(since, 1);
    run_t w;
    start(&w, (const char *const[]){"audora", "wait", "--quiet", NULL});
    usleep(600 * 1000);
    scalar("UPDATE jobs SET state = 'done' WHERE id = 2");
    scalar("UPDATE jobs SET state = 'dead', last_error = 'new' WHERE id = 3");
    finish(&w);
    cr_expect_eq(w.status, 1, "%s", w.err);
    cr_expect(strstr(w.err, "job 3 ("), "%s", w.err);
    cr_expect(!strstr(w.err, "job 1 ("), "%s", w.err);
    run_free(&w);
}

Test(cli, wait_times_out_with_3_and_rejects_missing_ids)
{
    migrated_db();
    push_charts(1);
    run_t r = RUN("audora", "wait", "--quiet", "--timeout", "1");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "timed out"), "%s", r.err);
    run_free(&r);
    r = RUN("audora", "wait", "9999");
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "no job 9999"), "%s", r.err);
    run_free(&r);
}

Test(cli, missing_ids_are_errors_in_dlq_show_replay_and_purge)
{
    migrated_db();
    const char *subs[] = {"show", "replay", "purge"};
    for (int i = 0; i < 3; i++) {
        run_t r = RUN("audora", "dlq", subs[i], "9999");
        cr_expect_eq(r.status, 1, "dlq %s", subs[i]);
        cr_expect(strstr(r.err, "no job 9999"), "%s", r.err);
        run_free(&r);
    }
    push_charts(1);
    run_t r = RUN("audora", "dlq", "replay", "1");
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "job 1 is queued, not dead"), "%s", r.err);
    run_free(&r);
}

/* ---- push ------------------------------------------------------------ */

Test(cli, push_of_a_folder_with_undated_files_names_each_one)
{
    migrated_db();
    char dir[512];
    make_charts(dir, sizeof(dir),
                (const char *const[]){"regional-us-daily-latest.csv",
                                      "regional-gb-daily-latest.csv",
                                      "regional-global-weekly-2019-04-05--"
                                      "2019-04-12.csv",
                                      NULL});
    run_t r = RUN("audora", "push", dir);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.out, "push: 1 job(s) queued, id 1\n");
    cr_expect(strstr(r.err, "2 of 3 file(s) not queued"), "%s", r.err);
    cr_expect(strstr(r.err, "give --date"), "%s", r.err);
    cr_expect(strstr(r.err, "/regional-us-daily-latest.csv\n"), "%s", r.err);
    cr_expect(strstr(r.err, "/regional-gb-daily-latest.csv\n"), "%s", r.err);
    run_free(&r);
    /* --date is for the undated ones; a dated name keeps its date. */
    r = RUN("audora", "push", "--date", "2019-12-17", dir, "--json");
    cr_expect_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert(j, "%s", r.out);
    json_t *q = json_object_get(j, "queued");
    cr_expect_eq(json_array_size(q), 3);
    cr_expect_eq(json_array_size(json_object_get(j, "not_queued")), 0);
    /* The weekly file's job is still queued: the same job, not a new one. */
    int existing = 0;
    for (size_t i = 0; i < json_array_size(q); i++)
        existing +=
            json_is_true(json_object_get(json_array_get(q, i), "existing"));
    cr_expect_eq(existing, 1);
    json_decref(j);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs WHERE params->>'date' = "
                        "'2019-12-17'"),
                 2);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs WHERE params->>'date' = "
                        "'2019-04-12'"),
                 1);
    r = RUN("audora", "push", dir, "--date", "2019-12-17");
    cr_expect_eq(r.status, 0, "%s", r.err);
    /* Id 2 went to the insert that found the weekly job queued. */
    cr_expect_str_eq(r.out, "push: 0 job(s) queued; 3 the same as jobs already "
                            "queued or running, ids 1, 3-4 (--force queues "
                            "them again)\n");
    run_free(&r);
    r = RUN("audora", "push", dir, "--date", "2019-12-17", "--force", "--queue",
            "again", "--priority", "1", "--in", "1h");
    cr_expect_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs WHERE queue = 'again' AND "
                        "priority = 1 AND run_after > now() + interval '59 "
                        "min'"),
                 3);
}

Test(cli, push_refuses_a_flag_that_contradicts_the_name_and_lists_ids)
{
    migrated_db();
    char dir[512];
    make_charts(dir, sizeof(dir),
                (const char *const[]){"regional-us-daily-2020-01-01.csv",
                                      "regional-us-daily-2020-01-02.csv",
                                      NULL});
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nothing-here.csv", dir);
    run_t r = RUN("audora", "push", "--region", "gb", dir, missing);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "the name says region us, but --region is gb"),
              "%s", r.err);
    cr_expect(strstr(r.err, "nothing-here.csv"), "%s", r.err);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs"), 0);
    r = RUN("audora", "push", "--region", "us", dir);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "push: 2 job(s) queued, ids 1-2\n");
    run_free(&r);
}

Test(cli, push_validates_what_it_queues_where_it_can_still_be_fixed)
{
    migrated_db();
    char dir[512];
    make_charts(dir, sizeof(dir), (const char *const[]){"chart.csv", NULL});
    /* A FIFO named like a chart would block the worker that opens it. */
    char fifo[600];
    snprintf(fifo, sizeof(fifo), "%s/regional-us-weekly-2019-04-12.csv", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char region[2001];
    memset(region, 'r', 2000);
    region[2000] = '\0';
    const struct {
        const char *flags[8];
        const char *why;
    } cases[] = {
        {{"--region", region}, "region is 2000 bytes (1..64): \"rrrr"},
        {{"--region", "new york"},
         "region \"new york\" has a blank or a character outside printable "
         "ASCII"},
        {{"--date", "9999-12-31"},
         "chart date \"9999-12-31\" is not a date between 1900 and 2100"},
        {{"--date", "1899-12-31"},
         "chart date \"1899-12-31\" is not a date between 1900 and 2100"},
    };
    char file[600];
    snprintf(file, sizeof(file), "%s/chart.csv", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[16] = {"audora",  "push",    "--platform",
                                "spotify", "--chart", "weekly"};
        int n = 6;
        if (strcmp(cases[i].flags[0], "--region") != 0) {
            argv[n++] = "--region";
            argv[n++] = "us";
        } else {
            argv[n++] = "--date";
            argv[n++] = "2020-01-01";
        }
        argv[n++] = cases[i].flags[0];
        argv[n++] = cases[i].flags[1];
        argv[n++] = file;
        run_t r = run_argv(argv);
        cr_expect_eq(r.status, 1, "%s", cases[i].why);
        cr_expect(strstr(r.err, cases[i].why), "%s", r.err);
        run_free(&r);
    }
    run_t r = RUN("audora", "push", fifo);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "not a regular file"), "%s", r.err);
    run_free(&r);
    /* In a folder too. */
    r = RUN("audora", "push", "--date", "2020-01-01", "--platform", "spotify",
            "--chart", "weekly", "--region", "us", dir);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "1 of 2 file(s) not queued"), "%s", r.err);
    cr_expect(strstr(r.err, "not a regular file"), "%s", r.err);
    run_free(&r);
    cr_expect_eq(scalar("SELECT count(*) FROM jobs"), 1);
    unlink(fifo);
}

/* ---- JSON from every reading command -------------------------------- */

Test(cli, json_output_is_json_with_numbers_as_numbers)
{
    migrated_db();
    push_charts(2);
    scalar("UPDATE jobs SET state = 'dead', last_error = 'e' WHERE id = 1");
    const char *const cases[][5] = {
        {"status", "--json"},           {"jobs", "--json"},
        {"report", "--json"},           {"dlq", "list", "--json"},
        {"dlq", "show", "1", "--json"}, {"config", "check", "--json"},
        {"summary", "--json"},          {"top", "--json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_t r =
            run_argv((const char *const[]){"audora", cases[i][0], cases[i][1],
                                           cases[i][2], cases[i][3], NULL});
        cr_expect_eq(r.status, 0, "%s: %s", cases[i][0], r.err);
        json_error_t e;
        json_t *j = json_loads(r.out, 0, &e);
        cr_expect(j, "%s: not JSON (%s): %s", cases[i][0], e.text, r.out);
        json_decref(j);
        run_free(&r);
    }
    run_t r = RUN("audora", "jobs", "--json", "--state", "dead");
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    cr_expect(json_is_integer(json_object_get(job, "id")), "%s", r.out);
    cr_expect(json_is_null(json_object_get(job, "rows")) ||
                  json_is_integer(json_object_get(job, "rows")),
              "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(job, "state")), "dead");
    json_decref(j);
    run_free(&r);
    r = RUN("audora", "dlq", "show", "1", "--json");
    j = json_loads(r.out, 0, NULL);
    cr_expect(json_is_object(json_object_get(j, "params")), "%s", r.out);
    json_decref(j);
    run_free(&r);
}

/* ---- the parser, in-process ----------------------------------------- */

enum { O_N, O_X, O_D, O_BY, O_Q, O_J, O_NOPTS };
static const char *const by_words[] = {"viral", "movement", NULL};
static const au_cli_opt_t opts[] = {
    [O_N] = {.name = "limit",
             .short_name = 'n',
             .kind = AU_CLI_INT,
             .metavar = "N",
             .help = "n",
             .lo = 1,
             .hi = 100},
    [O_X] = {.name = "score",
             .kind = AU_CLI_NUM,
             .metavar = "S",
             .help = "x",
             .min = 0,
             .max = 100},
    [O_D] = {.name = "from", .kind = AU_CLI_DATE, .help = "d"},
    [O_BY] = {.name = "by",
              .kind = AU_CLI_ENUM,
              .help = "by",
              .words = by_words},
    [O_Q] = {.name = "quiet",
             .short_name = 'q',
             .kind = AU_CLI_FLAG,
             .help = "q"},
    [O_J] = {.name = "json",
             .short_name = 'j',
             .kind = AU_CLI_FLAG,
             .help = "j"},
};
static const au_cli_spec_t spec = {.prog = "t",
                                   .args = {"ID...", 0, 2, AU_CLI_INT, 1, 50},
                                   .opts = opts,
                                   .nopts = O_NOPTS};

static int parse(au_cli_t *cli, const char *const *argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return au_cli_parse(cli, &spec, argc, (char **)argv);
}

#define PARSE(cli, ...)                                                        \
    parse(cli, (const char *const[]){"t", __VA_ARGS__, NULL})

static void expect_bad(const char *const *argv, const char *msg)
{
    au_cli_t cli;
    cr_expect_eq(parse(&cli, argv), AU_EINVAL, "%s", msg);
    cr_expect(strstr(cli.err.msg, msg), "want \"%s\" in \"%s\"", msg,
              cli.err.msg);
    au_cli_fini(&cli);
}

#define BAD(msg, ...)                                                          \
    expect_bad((const char *const[]){"t", __VA_ARGS__, NULL}, msg)

Test(cli, parser_takes_every_form_of_option_and_collects_configuration)
{
    au_cli_t cli;
    cr_assert_eq(PARSE(&cli, "--limit=5", "-qj", "7", "--score", "12.5",
                       "--database.url", "postgresql://x/y", "--from",
                       "2020-02-29", "--by", "MOVEMENT", "--env-file=e", "--",
                       "9"),
                 AU_CLI_RUN, "%s", cli.err.msg);
    cr_expect_eq(au_cli_int(&cli, O_N, 0), 5);
    cr_expect(au_cli_has(&cli, O_Q) && au_cli_has(&cli, O_J));
    cr_expect_eq(au_cli_num(&cli, O_X, 0), 12.5);
    cr_expect_str_eq(au_cli_str(&cli, O_D, ""), "2020-02-29");
    cr_expect_eq(au_cli_word(&cli, O_BY, -1), 1);
    cr_expect_eq(cli.nargs, 2);
    cr_expect_eq(cli.ints[0], 7);
    cr_expect_eq(cli.ints[1], 9);
    cr_expect_eq(cli.ncfg, 4);
    cr_expect_str_eq(cli.cfg[1], "--database.url");
    cr_expect_str_eq(cli.cfg[2], "postgresql://x/y");
    cr_expect_str_eq(cli.cfg[3], "--env-file=e");
    au_cli_fini(&cli);
    cr_expect_eq(PARSE(&cli, "-n5", "--quiet", "-q"), AU_CLI_RUN);
    cr_expect_eq(au_cli_int(&cli, O_N, 0), 5);
    au_cli_fini(&cli);
    cr_expect_eq(PARSE(&cli, "--limit", "x", "--help"), AU_EINVAL);
    au_cli_fini(&cli);
    cr_expect_eq(PARSE(&cli, "3", "-h", "--limit", "x"), AU_CLI_HELP);
    au_cli_fini(&cli);
    cr_expect_eq(PARSE(&cli, "-V"), AU_CLI_VERSION);
    au_cli_fini(&cli);
}

Test(cli, parser_is_strict_about_values_and_names_the_argument)
{
    BAD("--limit 5x: not an integer in 1..100", "--limit", "5x");
    BAD("--limit +5: not an integer", "--limit", "+5");
    BAD("--limit  5: not an integer", "--limit", " 5");
    BAD("--limit 0x10: not an integer", "--limit", "0x10");
    BAD("--limit 101: not an integer in 1..100", "--limit=101");
    BAD("--limit 99999999999999999999: not an integer", "--limit",
        "99999999999999999999");
    BAD("--score 1e2: not a number in 0..100", "--score", "1e2");
    BAD("--score inf: not a number", "--score", "inf");
    BAD("--score .: not a number", "--score", ".");
    BAD("--score 1.2.3: not a number", "--score", "1.2.3");
    BAD("--from 2019-02-29: not a YYYY-MM-DD date", "--from", "2019-02-29");
    BAD("--from 2019-1-01: not a YYYY-MM-DD date", "--from", "2019-1-01");
    BAD("--by speed: must be viral or movement", "--by", "speed");
    BAD("--limit needs a value", "--limit");
    BAD("--limit needs a value", "--limit", "--json");
    BAD("-n needs a value", "-n");
    BAD("--json takes no value", "--json=1");
    BAD("--limit given twice", "-n", "1", "--limit", "2");
    BAD("unknown option --limt", "--limt", "3");
    BAD("unknown option -z", "-qz");
    BAD("unexpected argument \"3\"", "1", "2", "3");
    BAD("ID 0: not an integer in 1..50", "0");
    BAD("ID x: not an integer in 1..50", "x");
    BAD("--database.url needs a value", "--database.url");
    BAD("--help takes no value", "--help=1");
}

Test(cli, required_options_and_commands_without_configuration)
{
    static const au_cli_opt_t req[] = {
        [0] = {.name = "out",
               .short_name = 'o',
               .kind = AU_CLI_STR,
               .metavar = "DIR",
               .help = "o",
               .flags = AU_CLI_REQUIRED},
    };
    static const au_cli_spec_t s = {
        .prog = "g", .opts = req, .nopts = 1, .flags = AU_CLI_NO_CONFIG};
    au_cli_t cli;
    char *a1[] = {"g", NULL};
    cr_expect_eq(au_cli_parse(&cli, &s, 1, a1), AU_EINVAL);
    cr_expect_str_eq(cli.err.msg, "--out DIR is required");
    au_cli_fini(&cli);
    char *a2[] = {"g", "-o", "d", "--log.level=debug", NULL};
    cr_expect_eq(au_cli_parse(&cli, &s, 4, a2), AU_EINVAL);
    cr_expect(strstr(cli.err.msg, "g takes no configuration"), "%s",
              cli.err.msg);
    au_cli_fini(&cli);
    char *a3[] = {"g", "--out=", NULL};
    cr_expect_eq(au_cli_parse(&cli, &s, 2, a3), AU_EINVAL);
    cr_expect_str_eq(cli.err.msg, "--out: empty value");
    au_cli_fini(&cli);
}

Test(cli, usage_is_generated_from_the_table)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    au_cli_usage(&spec, m);
    fclose(m);
    cr_expect(!strncmp(buf,
                       "usage: t [ID...] [--limit N] [--score S] "
                       "[--from DATE] [--by viral|movement]\n",
                       60),
              "%s", buf);
    cr_expect(strstr(buf, "  -n, --limit N"), "%s", buf);
    cr_expect(strstr(buf, "n (1..100)"), "%s", buf);
    cr_expect(strstr(buf, "  -h, --help"), "%s", buf);
    cr_expect(strstr(buf, "--section.key=VALUE"), "%s", buf);
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert(nl);
        cr_expect(nl - line <= 79, "long line: %.*s", (int)(nl - line), line);
        cr_expect(nl == line || nl[-1] != ' ', "trailing blank: %.*s",
                  (int)(nl - line), line);
        line = nl + 1;
    }
    free(buf);
}

/* ---- the printer, in-process ---------------------------------------- */

Test(cli, widths_count_terminal_columns_not_bytes)
{
    cr_expect_eq(au_out_width("abc"), 3);
    cr_expect_eq(au_out_width("\xc3\x84pfel"), 5);             /* Äpfel */
    cr_expect_eq(au_out_width("e\xcc\x81t\xc3\xa9"), 3);       /* e + acute */
    cr_expect_eq(au_out_width("\xe6\x97\xa5\xe6\x9c\xac"), 4); /* 日本 */
    cr_expect_eq(au_out_width("\xea\xb0\x80"), 2);             /* 가 */
    cr_expect_eq(au_out_width("\xff"), 1); /* not UTF-8: one column */
}

Test(cli, tables_align_wide_characters_without_trailing_blanks)
{
    const au_out_col_t cols[] = {
        {"title", AU_OUT_STR}, {"streams", AU_OUT_INT}, {"note", AU_OUT_STR}};
    au_out_table_t *t = au_out_table_new(cols, 3);
    cr_assert(t);
    const char *r1[] = {"\xe6\x97\xa5\xe6\x9c\xac", "1200", NULL};
    const char *r2[] = {"ab", "7", "line\nbreak"};
    cr_assert_eq(au_out_table_add(t, r1), 0);
    cr_assert_eq(au_out_table_add(t, r2), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(au_out_table_print(t, m), 0);
    fclose(m);
    cr_expect_str_eq(buf, "title  streams  note\n"
                          "\xe6\x97\xa5\xe6\x9c\xac      1200  -\n"
                          "ab           7  line break\n");
    free(buf);
    json_t *j = au_out_table_json(t);
    json_t *row = json_array_get(j, 0);
    cr_expect(json_is_integer(json_object_get(row, "streams")));
    cr_expect(json_is_null(json_object_get(row, "note")));
    json_decref(j);
    au_out_table_destroy(&t);
    au_out_table_destroy(&t);
}

Test(cli, results_become_json_with_their_types)
{
    fresh_db();
    PGconn *c = PQconnectdb(db_url);
    PGresult *r = PQexec(c, "SELECT 7::int8 AS id, 2.5::float8 AS score, "
                            "1.50::numeric AS n, NULL::text AS t, true AS b, "
                            "'{\"a\": 1}'::jsonb AS j, 'x' AS s, "
                            "'NaN'::float8 AS nan");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    au_out_table_t *t = au_out_table_pg(r, 1);
    json_t *o = au_out_row_json(t, 0);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_expect_str_eq(s, "{\"id\":7,\"score\":2.5,\"n\":1.5,\"t\":null,"
                        "\"b\":true,\"j\":{\"a\":1},\"s\":\"x\","
                        "\"nan\":null}");
    free(s);
    json_decref(o);
    au_out_table_destroy(&t);
    PQclear(r);
    PQfinish(c);
}

/* Running jobs apart by what they wait for, the pace and the ETA, and
 * --watch drawing one snapshot after another when not on a terminal. */
Test(cli, status_tells_reading_from_in_flight_and_gives_an_eta)
{
    migrated_db();
    scalar("INSERT INTO jobs (kind, params, state, attempt, sent_at, "
           " finished_at) SELECT 'chart_csv', jsonb_build_object('n', i), "
           " CASE WHEN i <= 2 THEN 'running' WHEN i <= 3 THEN 'running' "
           " WHEN i <= 9 THEN 'done' ELSE 'queued' END, 1, "
           " CASE WHEN i = 3 THEN now() END, "
           " CASE WHEN i BETWEEN 4 AND 9 THEN now() - interval '10 s' END "
           "FROM generate_series(1, 12) i");
    run_t r = RUN("audora", "status", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert(j, "%s", r.out);
    json_t *q = json_object_get(j, "queue");
    cr_expect_eq(json_integer_value(json_object_get(q, "running")), 3);
    cr_expect_eq(json_integer_value(json_object_get(q, "reading")), 2);
    cr_expect_eq(json_integer_value(json_object_get(q, "in_flight")), 1);
    cr_expect_eq(json_integer_value(json_object_get(q, "queued")), 3);
    /* Six done in the last minute, six left: a minute to go. */
    cr_expect_eq(json_integer_value(json_object_get(
                     json_object_get(j, "throughput"), "jobs_done")),
                 6);
    cr_expect_eq(json_real_value(json_object_get(j, "eta_s")), 60.0);
    json_decref(j);
    run_free(&r);
    r = RUN("audora", "status", "--watch", "--count", "2", "--interval", "0.1");
    cr_expect_eq(r.status, 0, "%s", r.err);
    const char *second = strstr(r.out, "\n\nqueue: ");
    cr_expect(r.out == strstr(r.out, "queue: 3 queued") && second &&
                  !strstr(second + 1, "\n\nqueue: "),
              "two snapshots: %s", r.out);
    cr_expect(strstr(r.out, "2 being read, 1 with batches in flight"), "%s",
              r.out);
    run_free(&r);
}
