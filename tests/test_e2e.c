/* End-to-end: real chart files through relays and ingest -> enrich ->
 * analytics workers (separate processes, started by deploy/cluster.sh)
 * into a fresh PostgreSQL database, with a private Redis database. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "au_fixture_counts.h"
#include "au_proto.h"
#include "au_test.h"

static char run_dir[256];
static char db_url[512];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(s, (struct sockaddr *)&a, sizeof(a));
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static long long scalar(const char *sql)
{
    PGconn *c = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Fresh database and Redis db; relays and workers on private ports. */
static void cluster_start(int redis_db, int lease_s)
{
    au_test_db_new(db_url, sizeof(db_url));
    char redis[512];
    const char *base = au_test_redis_url();
    const char *slash = strrchr(base, '/');
    snprintf(redis, sizeof(redis), "%.*s/%d", (int)(slash - base), base,
             redis_db);
    setenv("AUDORA_DATABASE__URL", db_url, 1);
    setenv("AUDORA_REDIS__URL", redis, 1);
    cr_assert_eq(sh("redis-cli -u %s flushdb >/dev/null", redis), 0);
    const char *names[] = {"AUDORA_ZMQ__ENRICH_IN", "AUDORA_ZMQ__ENRICH_OUT",
                           "AUDORA_ZMQ__ANALYTICS_IN",
                           "AUDORA_ZMQ__ANALYTICS_OUT"};
    for (int i = 0; i < 4; i++) {
        char ep[64];
        snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", free_port());
        setenv(names[i], ep, 1);
    }
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    setenv("AUDORA_QUEUE__LEASE_S", lease, 1);
    setenv("AUDORA_QUEUE__BACKOFF_BASE_MS", "200", 1);
    setenv("BIN", au_test_build_dir(), 1);
    snprintf(run_dir, sizeof(run_dir), "%s/e2e-%d",
             getenv("AUDORA_TEST_TMP") ? getenv("AUDORA_TEST_TMP") : "/tmp",
             (int)getpid());
    const char *b = au_test_build_dir();
    cr_assert_eq(sh("%s/audora migrate >/dev/null", b), 0);
    cr_assert_eq(sh("%s/audora features load %s/audio_features/"
                    "spotify_hit_predictor_dataset-of-10s.csv >/dev/null",
                    b, au_test_fixtures()),
                 0);
    cr_assert_eq(
        sh("%s/../deploy/cluster.sh start %s 2 1 2", au_test_dir(), run_dir),
        0);
}

/* Stops the cluster and fails on any sanitizer report in worker logs:
 * the workers run the ASan/UBSan build too. */
static void cluster_stop(void)
{
    if (!run_dir[0])
        return;
    sh("%s/../deploy/cluster.sh stop %s", au_test_dir(), run_dir);
    int dirty = sh("grep -l 'Sanitizer\\|runtime error' %s/logs/*.log "
                   ">/dev/null 2>&1",
                   run_dir) == 0;
    if (dirty)
        sh("grep -h -A20 'Sanitizer\\|runtime error' %s/logs/*.log | "
           "head -60 >&2",
           run_dir);
    cr_assert_not(dirty, "sanitizer report in %s/logs", run_dir);
    run_dir[0] = '\0';
}

static void push_fixtures(void)
{
    const char *b = au_test_build_dir();
    const char *f = au_test_fixtures();
    cr_assert_eq(sh("find %s/spotify_charts -name '*.csv' ! -name "
                    "'*-latest.csv' | xargs %s/audora push >/dev/null",
                    f, b),
                 0);
    cr_assert_eq(sh("find %s/spotify_charts -name '*-latest.csv' | xargs "
                    "%s/audora push --date 2019-12-17 >/dev/null",
                    f, b),
                 0);
}

static void wait_all(void)
{
    cr_assert_eq(
        sh("%s/audora wait --quiet --timeout 600", au_test_build_dir()), 0,
        "jobs did not finish in time");
}

/* Rows of each fixture file's chart, found by the parameters its job was
 * pushed with, must equal SOURCES.md's count for that file. */
static void check_counts_per_file(void)
{
    PGconn *c = PQconnectdb(db_url);
    PGresult *r =
        PQexec(c, "SELECT regexp_replace(j.params->>'path', '^.*/', ''), "
                  " (SELECT count(*) FROM trends t WHERE "
                  "  t.platform = j.params->>'platform' AND "
                  "  t.chart = j.params->>'chart' AND "
                  "  t.region = j.params->>'region' AND "
                  "  t.chart_date = (j.params->>'date')::date) "
                  "FROM (SELECT DISTINCT ON (params->>'path') * FROM jobs "
                  " ORDER BY params->>'path', id) j");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    cr_assert_eq(PQntuples(r), (int)N_EXPECTED);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *file = PQgetvalue(r, i, 0);
        long got = strtol(PQgetvalue(r, i, 1), NULL, 10);
        size_t k = 0;
        while (k < N_EXPECTED && strcmp(expected_rows[k].file, file))
            k++;
        cr_assert_lt(k, N_EXPECTED, "unexpected file %s", file);
        cr_assert_eq(got, expected_rows[k].rows, "%s: %ld rows, expected %ld",
                     file, got, expected_rows[k].rows);
    }
    PQclear(r);
    PQfinish(c);
}

TestSuite(e2e, .timeout = 900);

Test(e2e, all_real_charts_give_exact_rows_and_pushing_again_changes_none,
     .fini = cluster_stop)
{
    cluster_start(1, 30);
    push_fixtures();
    wait_all();
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    check_counts_per_file();
    /* Every row carries its score; a track seen before in its series
     * carries the previous position. */
    cr_assert_eq(scalar("SELECT count(*) FROM trends WHERE score IS NULL "
                        " OR score < 0 OR score > 100"),
                 0);
    cr_assert_gt(scalar("SELECT count(*) FROM trends "
                        "WHERE prev_position IS NOT NULL"),
                 10000);
    /* Audio features were joined where the dataset has the track. */
    cr_assert_gt(scalar("SELECT count(*) FROM trends t JOIN "
                        " audio_features f ON t.track_key = "
                        " 'spotify:' || f.spotify_id"),
                 0);
    /* The ported scorers ran on every row: viral score and momentum in
     * range, confidence a probability, a mood exactly where audio
     * features exist (none invented), a trend direction only where the
     * series has the analyzer's 5 points. */
    cr_assert_eq(scalar("SELECT count(*) FROM trends WHERE viral_score IS "
                        "NULL OR viral_score NOT BETWEEN 0 AND 100 OR "
                        "momentum NOT BETWEEN 0 AND 100 OR confidence NOT "
                        "BETWEEN 0 AND 1"),
                 0);
    cr_assert_eq(scalar("SELECT count(*) FROM trends t WHERE (t.mood IS NOT "
                        "NULL) <> EXISTS (SELECT 1 FROM audio_features f "
                        "WHERE t.track_key = 'spotify:' || f.spotify_id)"),
                 0);
    cr_assert_gt(scalar("SELECT count(*) FROM trends WHERE mood IS NOT "
                        "NULL"),
                 0);
    cr_assert_gt(scalar("SELECT count(*) FROM trends WHERE direction IS "
                        "NOT NULL"),
                 0);
    cr_assert_eq(scalar("SELECT count(*) FROM trends t WHERE direction IS "
                        "NOT NULL AND (SELECT count(*) FROM trends p WHERE "
                        "p.platform = t.platform AND p.chart = t.chart AND "
                        "p.region = t.region AND p.track_key = t.track_key "
                        "AND p.chart_date <= t.chart_date) < 5"),
                 0);
    /* Predictions: one per track and date whose best viral score reached
     * the default threshold (55), peak dated after the prediction. */
    cr_assert_gt(scalar("SELECT count(*) FROM viral_predictions"), 0);
    cr_assert_eq(scalar("SELECT count(*) FROM viral_predictions WHERE "
                        "predicted_peak_date <= prediction_date OR "
                        "predicted_peak_score < 55"),
                 0);
    cr_assert_eq(scalar("SELECT count(*) FROM viral_predictions"),
                 scalar("SELECT count(DISTINCT (track_key, chart_date)) "
                        "FROM trends WHERE viral_score >= 55"));
    /* SOURCES.md counts 7,011 distinct track ids across the files; every
     * row's track is in tracks (workers skip upserts of keys they wrote
     * before, so this checks that shortcut too). */
    cr_assert_eq(scalar("SELECT count(*) FROM tracks"), 7011);
    cr_assert_eq(scalar("SELECT count(*) FROM trends t WHERE NOT EXISTS "
                        "(SELECT 1 FROM tracks k WHERE k.track_key = "
                        "t.track_key)"),
                 0);
    long long ledger = scalar("SELECT count(*) FROM batch_ledger");

    push_fixtures();
    wait_all();
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 2 * (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    cr_assert_eq(scalar("SELECT count(*) FROM batch_ledger"), 2 * ledger);
    check_counts_per_file();
}

Test(e2e, redis_stopped_mid_run_still_completes_with_same_rows,
     .fini = cluster_stop)
{
    const char *srv = getenv("AUDORA_TEST_SERVERS");
    cr_assert(srv, "AUDORA_TEST_SERVERS is not set");
    cluster_start(2, 30);
    push_fixtures();
    /* Let the run get going, then take Redis away until it is over. */
    usleep(700 * 1000);
    long long before = scalar("SELECT count(*) FROM trends");
    cr_assert_eq(
        sh("%s/../deploy/servers.sh redis-stop %s", au_test_dir(), srv), 0);
    wait_all();
    int restarted =
        sh("%s/../deploy/servers.sh redis-start %s", au_test_dir(), srv);
    cr_assert_lt(before, AU_FIXTURE_TOTAL_ROWS,
                 "the run finished before Redis was stopped");
    cr_assert_eq(restarted, 0);
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    check_counts_per_file();
}

Test(e2e, malformed_files_are_dead_with_their_line_and_the_rest_done,
     .fini = cluster_stop)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/bad-%d",
             getenv("AUDORA_TEST_TMP") ? getenv("AUDORA_TEST_TMP") : "/tmp",
             (int)getpid());
    const char *f = au_test_fixtures();
    const char *us = "spotify_charts/spotifycharts_legacy/us_weekly_2019";
    /* A chart cut in the middle of line 58 (row 57), a JSON document
     * under a chart's name, and two good charts. */
    cr_assert_eq(
        sh("mkdir -p %s && "
           "head -c $(head -n 57 %s/%s/regional-us-weekly-2019-04-05--"
           "2019-04-12.csv | wc -c) %s/%s/regional-us-weekly-2019-04-05--"
           "2019-04-12.csv > %s/regional-us-weekly-2019-04-12.csv && "
           "printf '57,\"Some Tra' >> %s/regional-us-weekly-2019-04-12.csv "
           "&& cp %s/lastfm/chart.getTopArtists_limit5_2023.json "
           "%s/regional-gb-daily-2023-01-01.csv && "
           "cp %s/%s/regional-us-weekly-2019-04-12--2019-04-19.csv "
           "%s/%s/regional-us-weekly-2019-04-19--2019-04-26.csv %s/",
           dir, f, us, f, us, dir, dir, f, dir, f, us, f, us, dir),
        0);
    cluster_start(3, 30);
    cr_assert_eq(sh("%s/audora push %s >/dev/null", au_test_build_dir(), dir),
                 0);
    /* Every job since the first (a job may die before wait starts): two
     * die, so wait exits 1 and names both. */
    cr_assert_eq(sh("%s/audora wait --quiet --timeout 600 --since-id 0 "
                    "2>%s/wait.err",
                    au_test_build_dir(), dir),
                 1);
    cr_assert_eq(sh("grep -q '^audora wait: 2 job(s) dead:$' %s/wait.err && "
                    "grep -q 'regional-us-weekly-2019-04-12.csv:58: ' "
                    "%s/wait.err",
                    dir, dir),
                 0, "wait did not name the dead jobs");
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"), 2);
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'dead'"), 2);
    /* Dead at the first attempt: malformed input is not retried. */
    cr_assert_eq(scalar("SELECT max(attempt) FROM jobs"), 1);
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                        "AND last_error LIKE "
                        "'%regional-us-weekly-2019-04-12.csv:58: %'"),
                 1);
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                        "AND last_error LIKE "
                        "'%regional-gb-daily-2023-01-01.csv:1: %'"),
                 1);
    /* Nothing of the bad files reached the table. */
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), 400);
}

Test(e2e, killed_workers_lose_nothing_and_double_nothing, .fini = cluster_stop)
{
    cluster_start(4, 3);
    push_fixtures();
    usleep(500 * 1000);
    /* SIGKILL one analytics and one ingest worker mid-run: batches in
     * flight are lost with them, the leases expire and the jobs rerun. */
    sh("%s/../deploy/cluster.sh kill %s analytics-1", au_test_dir(), run_dir);
    sh("%s/../deploy/cluster.sh kill %s ingest-1", au_test_dir(), run_dir);
    wait_all();
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    check_counts_per_file();
    /* Each done job has exactly its batches in the ledger for the attempt
     * that completed it. */
    cr_assert_eq(scalar("SELECT count(*) FROM jobs j WHERE state = 'done' "
                        "AND nbatches <> (SELECT count(*) FROM batch_ledger "
                        "l WHERE l.job_id = j.id AND l.attempt = j.attempt)"),
                 0);
}

Test(e2e, postgres_restarted_mid_run_still_completes_with_same_rows,
     .fini = cluster_stop)
{
    const char *srv = getenv("AUDORA_TEST_SERVERS");
    cr_assert(srv, "AUDORA_TEST_SERVERS is not set");
    cluster_start(5, 5);
    push_fixtures();
    usleep(700 * 1000);
    long long before = scalar("SELECT count(*) FROM trends");
    /* Every connection of every worker dies here; transactions in flight
     * roll back and are retried, or their jobs come back by lease. */
    cr_assert_eq(sh("%s/../deploy/servers.sh pg-restart %s >/dev/null",
                    au_test_dir(), srv),
                 0);
    wait_all();
    cr_assert_lt(before, AU_FIXTURE_TOTAL_ROWS,
                 "the run finished before PostgreSQL was restarted");
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    check_counts_per_file();
}

static int alive(const char *name)
{
    return sh("kill -0 $(cat %s/pids/%s) 2>/dev/null", run_dir, name) == 0;
}

static void send_raw(void *zctx, const char *endpoint, const void *buf,
                     size_t len)
{
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    cr_assert_eq(zmq_send(s, buf, len, 0), (int)len);
    zmq_close(s);
}

Test(e2e, hostile_messages_are_dropped_and_the_run_stays_exact,
     .fini = cluster_stop)
{
    cluster_start(6, 30);
    void *z = zmq_ctx_new();
    /* A real batch as ingest would send it, for a job that does not
     * exist, then cut short, then garbage, then a message over the
     * relays' 16 MiB limit: to both stages. */
    au_record_t rec = {.position = 1,
                       .streams = 10,
                       .track_name = "x",
                       .artist = "y",
                       .track_id = "0123456789abcdefghijkl"};
    au_batch_t b = {.job_id = 424242,
                    .attempt = 1,
                    .seq = 0,
                    .nbatches = 1,
                    .last = true,
                    .stage = AU_STAGE_RAW,
                    .platform = "spotify",
                    .chart = "daily",
                    .region = "zz",
                    .date = "2020-01-01",
                    .count = 1,
                    .records = &rec};
    char *buf;
    size_t len;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), 0);
    size_t big_len = (16u << 20) + 1024;
    char *big = calloc(1, big_len);
    static const char junk[] = "\xc1\xff\x00garbage";
    const char *eps[] = {getenv("AUDORA_ZMQ__ENRICH_IN"),
                         getenv("AUDORA_ZMQ__ANALYTICS_IN")};
    for (int i = 0; i < 2; i++) {
        send_raw(z, eps[i], buf, len);
        send_raw(z, eps[i], buf, len / 2);
        send_raw(z, eps[i], junk, sizeof(junk));
        send_raw(z, eps[i], big, big_len);
    }
    free(big);
    free(buf);
    zmq_ctx_term(z);
    push_fixtures();
    wait_all();
    cr_assert(alive("enrich-1") && alive("analytics-1") &&
                  alive("analytics-2") && alive("relay-enrich") &&
                  alive("relay-analytics"),
              "a worker or relay died");
    cr_assert_eq(scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(scalar("SELECT count(*) FROM trends"), AU_FIXTURE_TOTAL_ROWS);
    cr_assert_eq(scalar("SELECT count(*) FROM trends WHERE region = 'zz'"), 0);
    /* The decoders said what was wrong. */
    cr_assert_eq(sh("grep -q 'dropping batch' %s/logs/enrich-1.log", run_dir),
                 0);
    cr_assert_eq(
        sh("cat %s/logs/analytics-*.log | grep -q 'dropping batch'", run_dir),
        0);
}
