/* The fault suite: every delivery guarantee of the README broken on
 * purpose on a real local cluster (deploy/cluster.sh: relays and workers
 * under the supervisor), and the invariant checked in PostgreSQL:
 *
 *   every job done, or dead with its reason;
 *   the exact row count of every chart, no natural key twice;
 *   prev_position equal to lag(position) over the track's own series;
 *   every stored row and prediction equal to a clean in-order run of the
 *   same charts (one worker of each kind, the charts queued in date
 *   order), derived columns included.
 *
 * Random choices come from one seed, printed; AU_FAULT_SEED=N replays a
 * run. The clean run is made once per test run and shared through a file
 * (Criterion runs the tests one after the other, each in its own
 * process). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "au_fixture_counts.h"
#include "au_proto.h"
#include "au_test.h"
#include "au_test_cluster.h"

TestSuite(faults, .timeout = 1500);

static const char *tmp(void)
{
    const char *t = getenv("AUDORA_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static const char *servers(void)
{
    return au_test_need_env("AUDORA_TEST_SERVERS");
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- random choices ------------------------------------------------- */

static unsigned long long rng;

static unsigned seed_once(const char *test)
{
    const char *env = getenv("AU_FAULT_SEED");
    unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "faults: %s: seed %u (AU_FAULT_SEED=%u replays it)\n", test,
            seed, seed);
    rng = seed ? seed : 1;
    return seed;
}

/* xorshift64*: enough for choosing victims and moments. */
static unsigned rnd(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* Waits until the run has stored at least n rows: a fault injected then
 * lands in the middle of the work, however fast the machine. */
static long long await_rows(long long n)
{
    long long rows = 0;
    for (int i = 0; i < 30000 && (rows = au_scalar("SELECT count(*) FROM "
                                                   "trends")) < n;
         i++)
        sleep_ms(10);
    cr_assert_geq(rows, n, "the run never reached %lld rows", n);
    return rows;
}

/* ---- the clean in-order run ----------------------------------------- */

static char ref_url[512];

/* Every stored row, with its derived columns, one line each, by names
 * (ids differ between databases). */
static const char *DUMP_TRENDS =
    "SELECT string_agg(l, E'\\n' ORDER BY l) FROM (SELECT concat_ws(' ', "
    " platform, chart, region, track_key, chart_date, position, "
    " coalesce(prev_position::text, '-'), coalesce(position_change::text, "
    " '-'), coalesce(streams::text, '-'), score, momentum, "
    " coalesce(acceleration::text, '-'), viral_score, confidence, "
    " coalesce(direction, '-'), coalesce(mood, '-'), "
    " coalesce(mood_score::text, '-'), is_active, track_name, artist, "
    " coalesce(breakout::text, '-')) l "
    " FROM trends_v) x";
static const char *DUMP_PREDICTIONS =
    "SELECT coalesce(string_agg(l, E'\\n' ORDER BY l), '') FROM (SELECT "
    " concat_ws(' ', s.platform, s.chart, s.region, k.track_key, "
    " p.prediction_date, p.confidence, p.predicted_peak_date, "
    " p.predicted_peak_score, p.prediction_features::text, p.status, "
    " p.method) l "
    " FROM viral_predictions p JOIN series s ON s.id = p.series_id "
    " JOIN tracks k ON k.id = p.track_id) x";

static char *dump(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    char *v = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* The clean run's database: made by the first test that asks, then
 * named in a file for the rest. */
static void reference(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/faults-reference.url", tmp());
    FILE *f = fopen(path, "r");
    if (f) {
        int ok = fgets(ref_url, sizeof(ref_url), f) != NULL;
        fclose(f);
        ref_url[strcspn(ref_url, "\n")] = '\0';
        if (ok && ref_url[0])
            return;
    }
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 9,
                                          .lease_s = 30,
                                          .ingest = 1,
                                          .enrich = 1,
                                          .analytics = 1});
    au_push_fixtures();
    au_wait_all(900);
    au_check_counts_per_file();
    snprintf(ref_url, sizeof(ref_url), "%s", au_cl_db);
    au_cluster_stop();
    f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "%s\n", ref_url);
    fclose(f);
}

/* Reports how two sorted dumps differ: lines only in one, the first few
 * of each. */
static long diff_lines(const char *what, char *a, char *b)
{
    long only_a = 0, only_b = 0;
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    while (la || lb) {
        int cmp = !la ? 1 : !lb ? -1 : strcmp(la, lb);
        if (cmp == 0) {
            la = strtok_r(NULL, "\n", &sa);
            lb = strtok_r(NULL, "\n", &sb);
        } else if (cmp < 0) {
            if (only_a++ < 5)
                fprintf(stderr, "faults: %s only here:      %s\n", what, la);
            la = strtok_r(NULL, "\n", &sa);
        } else {
            if (only_b++ < 5)
                fprintf(stderr, "faults: %s only in clean: %s\n", what, lb);
            lb = strtok_r(NULL, "\n", &sb);
        }
    }
    if (only_a || only_b)
        fprintf(stderr,
                "faults: %s: %ld line(s) not in the clean run, %ld of its "
                "line(s) missing\n",
                what, only_a, only_b);
    return only_a + only_b;
}

static void equals_clean_run(void)
{
    const char *sql[] = {DUMP_TRENDS, DUMP_PREDICTIONS};
    const char *what[] = {"trends", "predictions"};
    for (int i = 0; i < 2; i++) {
        char *got = dump(au_cl_db, sql[i]), *want = dump(ref_url, sql[i]);
        int same = strcmp(got, want) == 0;
        long n = same ? 0 : diff_lines(what[i], got, want);
        free(got);
        free(want);
        cr_assert(same, "%s: %ld line(s) differ from the clean in-order run",
                  what[i], n);
    }
}

/* The invariants every scenario ends with. */
static void invariants(int expect_all_done)
{
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state NOT IN "
                           "('done', 'dead')"),
                 0, "a job is neither done nor dead");
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                           "AND coalesce(last_error, '') = ''"),
                 0, "a dead job without its reason");
    if (expect_all_done)
        cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state <> "
                               "'done'"),
                     0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM (SELECT 1 FROM trends_v "
                           "GROUP BY platform, chart, region, track_key, "
                           "chart_date HAVING count(*) > 1) x"),
                 0, "a natural key twice");
    cr_assert_eq(au_scalar("SELECT count(*) FROM (SELECT prev_position, "
                           "lag(position) OVER (PARTITION BY series_id, "
                           "track_id ORDER BY chart_date) AS lp FROM trends) "
                           "x WHERE prev_position IS DISTINCT FROM lp"),
                 0, "prev_position is not lag(position) over its series");
}

static void full_check(void)
{
    invariants(1);
    au_check_counts_per_file();
    equals_clean_run();
}

/* ---- re-push and late dates ----------------------------------------- */

static const char *US_WEEKLY =
    "spotify_charts/spotifycharts_legacy/us_weekly_2019";
static const char *LATE = "regional-us-weekly-2019-05-03--2019-05-10.csv";

Test(faults, a_late_date_and_pushing_again_converge_to_the_clean_run,
     .fini = au_cluster_stop)
{
    reference();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 10, .lease_s = 30});
    const char *b = au_test_build_dir(), *f = au_test_fixtures();
    /* Everything but one week in the middle of a series: the weeks after
     * it are scored without it. */
    cr_assert_eq(au_sh("find %s/spotify_charts -name '*.csv' ! -name "
                       "'*-latest.csv' ! -name '%s' | xargs %s/audora push "
                       ">/dev/null && find %s/spotify_charts -name "
                       "'*-latest.csv' | xargs %s/audora push --date "
                       "2019-12-17 >/dev/null",
                       f, LATE, b, f, b),
                 0);
    au_wait_all(900);
    /* The week arrives late: it and every week after it are right. */
    cr_assert_eq(
        au_sh("%s/audora push %s/%s/%s >/dev/null", b, f, US_WEEKLY, LATE), 0);
    au_wait_all(900);
    full_check();
    /* Everything again, then one old date again: nothing changes. */
    au_push_fixtures();
    au_wait_all(900);
    full_check();
    cr_assert_eq(au_sh("%s/audora push %s/%s/"
                       "regional-us-weekly-2019-04-05--2019-04-12.csv "
                       ">/dev/null",
                       b, f, US_WEEKLY),
                 0);
    au_wait_all(900);
    full_check();
}

/* ---- kill -9, ten times ------------------------------------------------ */

Test(faults, ten_random_kills_of_every_kind_lose_and_double_nothing,
     .fini = au_cluster_stop)
{
    reference();
    seed_once("kills");
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 11, .lease_s = 5});
    au_push_fixtures();
    /* Kinds in turn, so each is hit; the instance and the moment are
     * random. */
    static const char *const kinds[][2] = {{"relay-enrich", "relay-analytics"},
                                           {"ingest-1", "ingest-2"},
                                           {"enrich-1", "enrich-1"},
                                           {"analytics-1", "analytics-2"}};
    for (int i = 0; i < 10; i++) {
        /* Every kill lands on work in flight: when the run is over, the
         * charts are pushed again (a re-push is work like any other). */
        if (au_scalar("SELECT count(*) FROM jobs WHERE state IN "
                      "('queued', 'running')") == 0)
            au_push_fixtures();
        int ms = 100 + (int)rnd(700);
        sleep_ms(ms);
        const char *victim = kinds[i % 4][rnd(2)];
        fprintf(stderr, "faults: kill %d: %s after %d ms (%lld rows)\n", i + 1,
                victim, ms, au_scalar("SELECT count(*) FROM trends"));
        cr_assert_eq(au_sh("%s/../deploy/cluster.sh kill %s %s", au_test_dir(),
                           au_cl_run, victim),
                     0);
    }
    au_wait_all(900);
    full_check();
    /* The supervisor brought every one of them back. */
    cr_assert_geq(au_cl_metric("supervisor", "audora_restarts_total", NULL),
                  10);
}

/* ---- a worker paused inside its transaction ---------------------------- */

/* SIGSTOPs analytics-1 while its session is inside a transaction: the
 * backend's application_name is the worker id, which ends in its pid. */
static void stop_in_transaction(int pid, char *app, size_t cap)
{
    PGconn *c = PQconnectdb(au_cl_db);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT application_name FROM pg_stat_activity WHERE "
             "application_name LIKE 'analytics@%%:%d' AND xact_start IS NOT "
             "NULL",
             pid);
    for (int tries = 0; tries < 2000; tries++) {
        PGresult *r = PQexec(c, sql);
        int inside = PQntuples(r) > 0;
        if (inside)
            snprintf(app, cap, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!inside) {
            sleep_ms(5);
            continue;
        }
        kill(pid, SIGSTOP);
        /* Still inside once stopped? Otherwise let it go and try again. */
        r = PQexec(c, sql);
        inside = PQntuples(r) > 0;
        PQclear(r);
        if (inside) {
            PQfinish(c);
            return;
        }
        kill(pid, SIGCONT);
    }
    PQfinish(c);
    cr_assert_fail("analytics-1 was never caught inside a transaction");
}

Test(faults, a_worker_paused_in_its_transaction_costs_one_lease_and_no_more,
     .fini = au_cluster_stop)
{
    reference();
    /* Long enough that no job waits a lease in the queues of a clean
     * run: every extra attempt is the pause's. */
    const int lease = 10;
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 12, .lease_s = lease});
    au_push_fixtures();
    int pid = au_cl_pid("analytics-1");
    char app[128];
    stop_in_transaction(pid, app, sizeof(app));
    long long at_stop = au_scalar("SELECT count(*) FROM trends");
    fprintf(stderr, "faults: %s stopped in its transaction at %lld rows\n", app,
            at_stop);
    sleep_ms(3 * lease * 1000);
    long long later = au_scalar("SELECT count(*) FROM trends");
    /* The server ended the paused session (its locks with it) and the
     * others kept committing. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name "
             "= '%s' AND xact_start IS NOT NULL",
             app);
    cr_assert_eq(au_scalar(sql), 0,
                 "the paused session still holds a "
                 "transaction");
    cr_assert(later > at_stop || at_stop == AU_FIXTURE_TOTAL_ROWS,
              "nothing committed during the pause (%lld rows)", later);
    /* Its job was rescued by a sweeper, whichever worker ran it. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "grep -h 'expired lease(s) requeued' %s/logs/*.log | grep -q .",
             au_cl_run);
    cr_assert(au_eventually(10, cmd), "the paused worker's job was not "
                                      "rescued");
    cr_assert_eq(kill(pid, SIGCONT), 0);
    au_wait_all(900);
    full_check();
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE attempt > 2"), 0,
                 "the pause cost more than one lease");
}

/* ---- Redis stalled, PostgreSQL killed ---------------------------------- */

static void resume_servers(void)
{
    au_sh("%s/../deploy/servers.sh redis-resume %s", au_test_dir(), servers());
    au_sh("%s/../deploy/servers.sh pg-start %s >/dev/null 2>&1", au_test_dir(),
          servers());
    au_cluster_stop();
}

Test(faults, redis_stalled_and_resumed_with_old_contents_changes_nothing,
     .fini = resume_servers)
{
    reference();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 13, .lease_s = 10});
    au_push_fixtures();
    long long at_pause = await_rows(3000);
    cr_assert_eq(au_sh("%s/../deploy/servers.sh redis-pause %s", au_test_dir(),
                       servers()),
                 0);
    sleep_ms(6000);
    cr_assert_eq(au_sh("%s/../deploy/servers.sh redis-resume %s", au_test_dir(),
                       servers()),
                 0);
    au_wait_all(900);
    cr_assert_lt(at_pause, AU_FIXTURE_TOTAL_ROWS,
                 "the run was over before Redis stalled");
    full_check();
}

/* Polls NAME's /readyz until it answers `want`; 1 if it did in time. */
static int readyz_becomes(const char *name, int want, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (au_cl_http(name, "/readyz") == want)
            return 1;
        sleep_ms(100);
    }
    return 0;
}

Test(faults, postgres_killed_with_sigkill_and_restarted_loses_nothing,
     .fini = resume_servers)
{
    reference();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 14, .lease_s = 5});
    au_push_fixtures();
    long long before = await_rows(5000);
    cr_assert_eq(
        au_sh("%s/../deploy/servers.sh pg-kill9 %s", au_test_dir(), servers()),
        0);
    /* A worker that cannot reach PostgreSQL is not ready. */
    cr_assert(readyz_becomes("analytics-1", 503, 10),
              "analytics-1 stayed ready without its database");
    cr_assert(readyz_becomes("ingest-1", 503, 10));
    sleep_ms(2000);
    cr_assert_eq(au_sh("%s/../deploy/servers.sh pg-start %s >/dev/null",
                       au_test_dir(), servers()),
                 0);
    cr_assert(readyz_becomes("analytics-1", 200, 30),
              "analytics-1 not ready again after the restart");
    au_wait_all(900);
    cr_assert_lt(before, AU_FIXTURE_TOTAL_ROWS,
                 "the run was over before PostgreSQL was killed");
    full_check();
}

/* ---- batches that are not the job's ----------------------------------- */

/* A batch as enrich would hand it on for the us weekly chart of
 * 2019-04-19, one made-up entry. */
static void forge(long long job, int32_t seq, int32_t nbatches,
                  const char *region, char **buf, size_t *len)
{
    au_record_t rec = {.position = 1,
                       .streams = 999999999,
                       .track_name = "Forged",
                       .artist = "Nobody",
                       .track_id = "0123456789abcdefghijkl",
                       .track_key = "spotify:0123456789abcdefghijkl",
                       .artist_key = "nobody"};
    au_batch_t b = {.job_id = job,
                    .attempt = 1,
                    .seq = seq,
                    .nbatches = nbatches,
                    .last = seq == nbatches - 1,
                    .stage = AU_STAGE_ENRICHED,
                    .platform = "spotify",
                    .chart = "weekly",
                    .region = region,
                    .date = "2019-04-19",
                    .count = 1,
                    .records = &rec};
    cr_assert_eq(au_batch_encode(&b, buf, len), 0);
}

/* Sum of a metric over the analytics workers. */
static double analytics_metric(const char *metric, const char *label)
{
    double a = au_cl_metric("analytics-1", metric, label);
    double b = au_cl_metric("analytics-2", metric, label);
    return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

static int skips_reach(double n)
{
    for (int i = 0; i < 300; i++) {
        if (analytics_metric("audora_batches_skipped_total",
                             "reason=\"mismatch\"") >= n)
            return 1;
        sleep_ms(100);
    }
    return 0;
}

Test(faults,
     forged_truncated_wrong_chart_and_wrong_count_batches_change_nothing,
     .fini = au_cluster_stop)
{
    /* Four batches of 50 rows for one 200-row chart. */
    setenv("AUDORA_QUEUE__BATCH_RECORDS", "50", 1);
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 15, .lease_s = 30});
    const char *b = au_test_build_dir(), *f = au_test_fixtures();
    /* enrich paused: ingest validates the chart and records its plan;
     * the genuine batches wait at the enrich relay while the others are
     * sent straight to analytics, with the workers' own key (a worker's
     * host taken over). */
    cr_assert_eq(kill(au_cl_pid("enrich-1"), SIGSTOP), 0);
    cr_assert_eq(au_sh("%s/audora push %s/%s/"
                       "regional-us-weekly-2019-04-12--2019-04-19.csv "
                       ">/dev/null",
                       b, f, US_WEEKLY),
                 0);
    for (int i = 0; i < 600 && au_scalar("SELECT count(*) FROM jobs WHERE "
                                         "plan_attempt = 1") == 0;
         i++)
        sleep_ms(100);
    cr_assert_eq(au_scalar("SELECT plan_nbatches FROM jobs"), 4,
                 "no plan of 4 batches was recorded");
    long long job = au_scalar("SELECT id FROM jobs");
    void *z = zmq_ctx_new();
    const char *ep = getenv("AUDORA_ZMQ__ANALYTICS_IN");
    char *buf;
    size_t len;
    /* Forged content for a real batch; the wrong chart; the wrong count
     * (one batch that would finish the job); each is a plan mismatch. */
    forge(job, 0, 4, "us", &buf, &len);
    au_cl_send(z, ep, buf, len);
    /* The same message cut short: a decoding error, dropped. */
    au_cl_send(z, ep, buf, len / 2);
    free(buf);
    forge(job, 1, 4, "gb", &buf, &len);
    au_cl_send(z, ep, buf, len);
    free(buf);
    forge(job, 0, 1, "us", &buf, &len);
    au_cl_send(z, ep, buf, len);
    free(buf);
    zmq_ctx_term(z);
    cr_assert(skips_reach(3), "the three forgeries were not all refused");
    cr_assert_eq(au_sh("cat %s/logs/analytics-*.log | grep 'batch skipped' | "
                       "grep -q 'is not the one job' && cat %s/logs/"
                       "analytics-*.log | grep -q 'batch is for another chart "
                       "than job' && cat %s/logs/analytics-*.log | grep -q "
                       "'batch says 1 batches, job [0-9]* has 4' && cat "
                       "%s/logs/analytics-*.log | grep -q 'dropping batch'",
                       au_cl_run, au_cl_run, au_cl_run, au_cl_run),
                 0, "a refusal without its reason in the log");
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends"), 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM batch_ledger"), 0);
    cr_assert_eq(kill(au_cl_pid("enrich-1"), SIGCONT), 0);
    au_wait_all(600);
    invariants(1);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends"), 200);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v WHERE track_name = "
                           "'Forged' OR streams = 999999999"),
                 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM batch_ledger"), 4);
    unsetenv("AUDORA_QUEUE__BATCH_RECORDS");
}

/* ---- a flood ------------------------------------------------------------ */

/* VmHWM of a process, in MiB. */
static double peak_mib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    double kb = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtod(line + 6, NULL);
    fclose(f);
    return kb / 1024;
}

Test(faults, a_flood_of_large_messages_stays_within_the_relays_memory,
     .fini = au_cluster_stop)
{
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 6, .lease_s = 30});
    /* Nobody takes from relay-enrich: its one consumer is stopped. */
    cr_assert_eq(kill(au_cl_pid("enrich-1"), SIGSTOP), 0);
    int relay = au_cl_pid("relay-enrich");
    double before = peak_mib(relay);
    /* 100 messages just under zmq.max_msg_bytes (4 MiB), with the
     * workers' key, as fast as the relay takes them (at most 20 s). */
    size_t len = (4u << 20) - 4096;
    char *msg = calloc(1, len);
    char pub[41], sec[41];
    au_cl_key("AUDORA_ZMQ__CLIENT_PUBLIC_KEY", pub);
    au_cl_key("AUDORA_ZMQ__CLIENT_SECRET_KEY", sec);
    void *z = zmq_ctx_new();
    void *s = au_cl_peer(z, getenv("AUDORA_ZMQ__ENRICH_IN"), pub, sec);
    int linger = 0, sent = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    for (int i = 0; i < 200 && sent < 100; i++) {
        int timeout = 100;
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
        if (zmq_send(s, msg, len, 0) == (int)len)
            sent++;
    }
    sleep_ms(1000);
    double after = peak_mib(relay);
    zmq_close(s);
    zmq_ctx_term(z);
    free(msg);
    fprintf(stderr,
            "faults: flood: %d of 100 messages of 4 MiB taken; relay peak "
            "%.1f MiB before, %.1f MiB after (zmq.relay_memory_mb 64)\n",
            sent, before, after);
    /* The relay's buffers are bounded by zmq.relay_memory_mb (half of it
     * for the inbound queue), whatever is sent; the rest waits in the
     * sender's queue and the kernel's socket buffers. */
    cr_assert_lt(after - before, 64 + 8, "the relay grew by %.1f MiB",
                 after - before);
    cr_assert_eq(kill(au_cl_pid("enrich-1"), SIGCONT), 0);
}

/* ---- permanent errors ---------------------------------------------------- */

/* Queues a job as another client might, without push's checks. */
static void queue_raw(const char *path, const char *region, const char *date)
{
    char sql[4200];
    snprintf(sql, sizeof(sql),
             "WITH j AS (INSERT INTO jobs (kind, params, max_attempts) VALUES "
             "('chart_csv', jsonb_build_object('path', '%s', 'platform', "
             "'spotify', 'chart', 'weekly', 'region', '%s', 'date', '%s'), "
             "5) RETURNING 1) SELECT count(*) FROM j",
             path, region, date);
    cr_assert_eq(au_scalar(sql), 1);
}

static void write_chart(const char *path, const char *rows)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fprintf(f, "Position,\"Track Name\",Artist,Streams,URL\n%s", rows);
    fclose(f);
}

Test(faults, permanent_errors_are_dead_at_attempt_1_naming_their_cause,
     .fini = au_cluster_stop)
{
    /* Small messages: a row of two 1,000-byte names cannot fit in one. */
    setenv("AUDORA_ZMQ__MAX_MSG_BYTES", "2048", 1);
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 8, .lease_s = 30});
    char dir[400], p[600];
    snprintf(dir, sizeof(dir), "%s/permanent-%d", tmp(), (int)getpid());
    cr_assert_eq(mkdir(dir, 0755), 0);
    const char *b = au_test_build_dir(), *f = au_test_fixtures();
    /* A FIFO named like a chart: opening it must not block the worker. */
    snprintf(p, sizeof(p), "%s/regional-us-weekly-2020-01-03.csv", dir);
    cr_assert_eq(mkfifo(p, 0600), 0);
    queue_raw(p, "us", "2020-01-03");
    /* A whitespace-only artist on line 3. */
    snprintf(p, sizeof(p), "%s/regional-gb-weekly-2020-01-03.csv", dir);
    write_chart(p, "1,One,Someone,100,https://open.spotify.com/track/"
                   "0123456789abcdefghijk1\n"
                   "2,Two,\"   \",90,https://open.spotify.com/track/"
                   "0123456789abcdefghijk2\n");
    cr_assert_eq(au_sh("%s/audora push %s >/dev/null", b, p), 0);
    /* A row that cannot fit in a message of zmq.max_msg_bytes. */
    snprintf(p, sizeof(p), "%s/regional-de-weekly-2020-01-03.csv", dir);
    char row[2200];
    int n = snprintf(row, sizeof(row), "1,");
    memset(row + n, 't', 1000);
    n += 1000;
    n += snprintf(row + n, sizeof(row) - (size_t)n, ",");
    memset(row + n, 'a', 1000);
    n += 1000;
    snprintf(row + n, sizeof(row) - (size_t)n,
             ",5,https://open.spotify.com/track/0123456789abcdefghijk3\n");
    write_chart(p, row);
    cr_assert_eq(au_sh("%s/audora push %s >/dev/null", b, p), 0);
    /* A year-9999 date and a 2,000-byte region on a good file. */
    char good[600], region[2001];
    snprintf(good, sizeof(good),
             "%s/%s/regional-us-weekly-2019-04-12--"
             "2019-04-19.csv",
             f, US_WEEKLY);
    queue_raw(good, "us", "9999-12-31");
    memset(region, 'r', 2000);
    region[2000] = '\0';
    queue_raw(good, region, "2019-04-19");
    /* And two good charts, which must be done. */
    cr_assert_eq(au_sh("%s/audora push %s %s/%s/regional-us-weekly-2019-04-19"
                       "--2019-04-26.csv >/dev/null",
                       b, good, f, US_WEEKLY),
                 0);
    cr_assert_eq(au_sh("%s/audora wait --quiet --since-id 0 --timeout 300 "
                       "2>/dev/null",
                       b),
                 1, "wait should report the dead jobs");
    invariants(0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 2);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends"), 400);
    static const char *const causes[] = {
        "not a regular file",
        "regional-gb-weekly-2020-01-03.csv:3: ",
        "over zmq.max_msg_bytes (2048)",
        "chart date \"9999-12-31\" is not a date between 1900 and 2100",
        "region is 2000 bytes (1..64)",
    };
    for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM jobs WHERE state = 'dead' AND attempt "
                 "= 1 AND strpos(last_error, '%s') > 0",
                 causes[i]);
        cr_assert_eq(au_scalar(sql), 1, "no job dead at attempt 1 with: %s",
                     causes[i]);
    }
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead'"),
                 5);
    unsetenv("AUDORA_ZMQ__MAX_MSG_BYTES");
}

/* ---- SIGTERM under load ----------------------------------------------------
 */

Test(faults, sigterm_under_load_drains_within_drain_s_and_exits_0,
     .fini = au_cluster_stop)
{
    reference();
    setenv("AUDORA_QUEUE__DRAIN_S", "5", 1);
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 7,
                                          .lease_s = 30,
                                          .ingest = 2,
                                          .enrich = 2,
                                          .analytics = 2});
    /* Relays are ready once bound, workers once they reach the database. */
    cr_assert(readyz_becomes("relay-enrich", 200, 10));
    cr_assert(readyz_becomes("relay-analytics", 200, 10));
    cr_assert(readyz_becomes("analytics-1", 200, 10));
    au_push_fixtures();
    await_rows(3000);
    const char *victims[] = {"ingest-1", "enrich-1", "analytics-1"};
    int pids[3];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++) {
        pids[i] = au_cl_pid(victims[i]);
        cr_assert_eq(kill(pids[i], SIGTERM), 0);
    }
    /* Not ready at once: a load balancer stops sending work now. (One
     * with nothing in hand may be gone before the first look.) */
    for (int i = 0; i < 3; i++) {
        int st = 200;
        for (int k = 0; k < 10 && st == 200; k++) {
            st = au_cl_http(victims[i], "/readyz");
            if (st == 0 && kill(pids[i], 0) == 0)
                st = 200; /* not listening yet or any more: look again */
            if (st == 200)
                sleep_ms(100);
        }
        cr_assert(st == 503 || kill(pids[i], 0) != 0,
                  "%s still ready after SIGTERM (%d)", victims[i], st);
    }
    for (int i = 0; i < 3; i++) {
        while (kill(pids[i], 0) == 0)
            sleep_ms(50);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) +
                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "faults: %s exited %.1f s after SIGTERM\n", victims[i],
                s);
        /* drain_s, and a second for the sanitizers' exit. */
        cr_assert_lt(s, 5 + 1.5, "%s took %.1f s to drain", victims[i], s);
    }
    /* Exit status 0: the supervisor leaves a finished drain down. */
    for (int i = 0; i < 3; i++) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd),
                 "grep -q '^%s pid=0 restarts=0 last_status=0$' "
                 "%s/supervisor.status",
                 victims[i], au_cl_run);
        cr_assert(au_eventually(5, cmd), "%s did not exit 0", victims[i]);
    }
    /* The others finish what the drained ones handed back. */
    au_wait_all(900);
    full_check();
    unsetenv("AUDORA_QUEUE__DRAIN_S");
}
