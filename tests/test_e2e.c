/* End-to-end: real chart files through relays and ingest -> enrich ->
 * analytics workers (separate processes under the supervisor, started by
 * deploy/cluster.sh) into a fresh PostgreSQL database, with a private
 * Redis database. The faults the README promises to survive are in
 * test_faults.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "au_fixture_counts.h"
#include "au_proto.h"
#include "au_test.h"
#include "au_test_cluster.h"

static void cluster_start(int redis_db, int lease_s)
{
    au_cluster_start(
        &(au_cluster_opts_t){.redis_db = redis_db, .lease_s = lease_s});
}

TestSuite(e2e, .timeout = 900);

Test(e2e, all_real_charts_give_exact_rows_and_pushing_again_changes_none,
     .fini = au_cluster_stop)
{
    cluster_start(1, 30);
    au_push_fixtures();
    au_wait_all(600);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    au_check_counts_per_file();
    /* Every row carries its score; a track seen before in its series
     * carries the previous position. */
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v WHERE score IS NULL "
                           " OR score < 0 OR score > 100"),
                 0);
    cr_assert_gt(au_scalar("SELECT count(*) FROM trends_v "
                           "WHERE prev_position IS NOT NULL"),
                 10000);
    /* Audio features were joined where the dataset has the track. */
    cr_assert_gt(au_scalar("SELECT count(*) FROM trends_v t JOIN "
                           " audio_features f ON t.track_key = "
                           " 'spotify:' || f.spotify_id"),
                 0);
    /* The ported scorers ran on every row: viral score and momentum in
     * range, confidence a probability, a mood exactly where audio
     * features exist (none invented), a trend direction only where the
     * series has the analyzer's 5 points. */
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v WHERE viral_score IS "
                           "NULL OR viral_score NOT BETWEEN 0 AND 100 OR "
                           "momentum NOT BETWEEN 0 AND 100 OR confidence NOT "
                           "BETWEEN 0 AND 1"),
                 0);
    cr_assert_eq(
        au_scalar("SELECT count(*) FROM trends_v t WHERE (t.mood IS NOT "
                  "NULL) <> EXISTS (SELECT 1 FROM audio_features f "
                  "WHERE t.track_key = 'spotify:' || f.spotify_id)"),
        0);
    cr_assert_gt(au_scalar("SELECT count(*) FROM trends_v WHERE mood IS NOT "
                           "NULL"),
                 0);
    cr_assert_gt(au_scalar("SELECT count(*) FROM trends_v WHERE direction IS "
                           "NOT NULL"),
                 0);
    cr_assert_eq(
        au_scalar("SELECT count(*) FROM trends_v t WHERE direction IS "
                  "NOT NULL AND (SELECT count(*) FROM trends_v p WHERE "
                  "p.platform = t.platform AND p.chart = t.chart AND "
                  "p.region = t.region AND p.track_key = t.track_key "
                  "AND p.chart_date <= t.chart_date) < 5"),
        0);
    /* The breakout chance exactly on weekly entries below the top 50,
     * a probability. */
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v WHERE (breakout "
                           "IS NOT NULL) <> (chart = 'weekly' AND position "
                           "> 50) OR breakout NOT BETWEEN 0 AND 1"),
                 0);
    /* Predictions: on weekly charts the breakout model's, for entries
     * whose chance reached the default threshold (25 %), due within 4
     * weeks; on the others the ported predictor's, for viral scores from
     * 55, peak dated after the prediction. */
    cr_assert_gt(au_scalar("SELECT count(*) FROM viral_predictions WHERE "
                           "method = 'breakout'"),
                 0);
    cr_assert_gt(au_scalar("SELECT count(*) FROM viral_predictions WHERE "
                           "method = 'viral'"),
                 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM viral_predictions v JOIN "
                           "trends t USING (series_id, track_id) WHERE "
                           "t.chart_date = v.prediction_date AND "
                           "(v.method = 'breakout' AND (abs(v.confidence - "
                           "t.breakout) > 1e-6 OR v.predicted_peak_date <> "
                           "v.prediction_date + 28) OR v.method = 'viral' AND "
                           "(v.predicted_peak_date <= v.prediction_date OR "
                           "v.predicted_peak_score < 55))"),
                 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM viral_predictions"),
                 au_scalar("SELECT count(*) FROM trends_v WHERE CASE WHEN "
                           "chart = 'weekly' THEN breakout >= 0.25 ELSE "
                           "viral_score >= 55 END"));
    /* SOURCES.md counts 7,011 distinct track ids across the files; every
     * row's track is in tracks (workers remember the ids they resolved,
     * so this checks that shortcut too). */
    cr_assert_eq(au_scalar("SELECT count(*) FROM tracks"), 7011);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends t WHERE NOT EXISTS "
                           "(SELECT 1 FROM tracks k WHERE k.id = t.track_id)"),
                 0);
    long long ledger = au_scalar("SELECT count(*) FROM batch_ledger");

    au_push_fixtures();
    au_wait_all(600);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 2 * (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    cr_assert_eq(au_scalar("SELECT count(*) FROM batch_ledger"), 2 * ledger);
    au_check_counts_per_file();
}

Test(e2e, redis_stopped_mid_run_still_completes_with_same_rows,
     .fini = au_cluster_stop)
{
    const char *srv = getenv("AUDORA_TEST_SERVERS");
    cr_assert(srv, "AUDORA_TEST_SERVERS is not set");
    cluster_start(2, 30);
    au_push_fixtures();
    /* Let the run get going, then take Redis away until it is over. */
    usleep(700 * 1000);
    long long before = au_scalar("SELECT count(*) FROM trends_v");
    cr_assert_eq(
        au_sh("%s/../deploy/servers.sh redis-stop %s", au_test_dir(), srv), 0);
    au_wait_all(600);
    int restarted =
        au_sh("%s/../deploy/servers.sh redis-start %s", au_test_dir(), srv);
    cr_assert_lt(before, AU_FIXTURE_TOTAL_ROWS,
                 "the run finished before Redis was stopped");
    cr_assert_eq(restarted, 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    au_check_counts_per_file();
}

Test(e2e, malformed_files_are_dead_with_their_line_and_the_rest_done,
     .fini = au_cluster_stop)
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
        au_sh("mkdir -p %s && "
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
    cr_assert_eq(
        au_sh("%s/audora push %s >/dev/null", au_test_build_dir(), dir), 0);
    /* Every job since the first (a job may die before wait starts): two
     * die, so wait exits 1 and names both. */
    cr_assert_eq(au_sh("%s/audora wait --quiet --timeout 600 --since-id 0 "
                       "2>%s/wait.err",
                       au_test_build_dir(), dir),
                 1);
    cr_assert_eq(au_sh("grep -q '^audora wait: 2 job(s) dead:$' %s/wait.err && "
                       "grep -q 'regional-us-weekly-2019-04-12.csv:58: ' "
                       "%s/wait.err",
                       dir, dir),
                 0, "wait did not name the dead jobs");
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 2);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead'"),
                 2);
    /* Dead at the first attempt: malformed input is not retried. */
    cr_assert_eq(au_scalar("SELECT max(attempt) FROM jobs"), 1);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                           "AND last_error LIKE "
                           "'%regional-us-weekly-2019-04-12.csv:58: %'"),
                 1);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                           "AND last_error LIKE "
                           "'%regional-gb-daily-2023-01-01.csv:1: %'"),
                 1);
    /* Nothing of the bad files reached the table. */
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"), 400);
}

Test(e2e, killed_workers_lose_nothing_and_double_nothing,
     .fini = au_cluster_stop)
{
    cluster_start(4, 3);
    au_push_fixtures();
    usleep(500 * 1000);
    /* SIGKILL one analytics and one ingest worker mid-run: batches in
     * flight are lost with them, the leases expire and the jobs rerun. */
    au_sh("%s/../deploy/cluster.sh kill %s analytics-1", au_test_dir(),
          au_cl_run);
    au_sh("%s/../deploy/cluster.sh kill %s ingest-1", au_test_dir(), au_cl_run);
    au_wait_all(600);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    au_check_counts_per_file();
    /* Each done job has exactly its batches in the ledger for the attempt
     * that completed it. */
    cr_assert_eq(
        au_scalar("SELECT count(*) FROM jobs j WHERE state = 'done' "
                  "AND nbatches <> (SELECT count(*) FROM batch_ledger "
                  "l WHERE l.job_id = j.id AND l.attempt = j.attempt)"),
        0);
}

Test(e2e, postgres_restarted_mid_run_still_completes_with_same_rows,
     .fini = au_cluster_stop)
{
    const char *srv = getenv("AUDORA_TEST_SERVERS");
    cr_assert(srv, "AUDORA_TEST_SERVERS is not set");
    cluster_start(5, 5);
    au_push_fixtures();
    usleep(700 * 1000);
    long long before = au_scalar("SELECT count(*) FROM trends_v");
    /* Every connection of every worker dies here; transactions in flight
     * roll back and are retried, or their jobs come back by lease. */
    cr_assert_eq(au_sh("%s/../deploy/servers.sh pg-restart %s >/dev/null",
                       au_test_dir(), srv),
                 0);
    au_wait_all(600);
    cr_assert_lt(before, AU_FIXTURE_TOTAL_ROWS,
                 "the run finished before PostgreSQL was restarted");
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    au_check_counts_per_file();
}

Test(e2e, hostile_messages_are_dropped_and_the_run_stays_exact,
     .fini = au_cluster_stop)
{
    cluster_start(6, 30);
    void *z = zmq_ctx_new();
    /* With the workers' own key: a real batch as ingest would send it,
     * for a job that does not exist, then cut short, then garbage, then
     * a message over zmq.max_msg_bytes (4 MiB): to both stages. */
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
    size_t big_len = (4u << 20) + 1024;
    char *big = calloc(1, big_len);
    static const char junk[] = "\xc1\xff\x00garbage";
    const char *eps[] = {getenv("AUDORA_ZMQ__ENRICH_IN"),
                         getenv("AUDORA_ZMQ__ANALYTICS_IN")};
    for (int i = 0; i < 2; i++) {
        au_cl_send(z, eps[i], buf, len);
        au_cl_send(z, eps[i], buf, len / 2);
        au_cl_send(z, eps[i], junk, sizeof(junk));
        au_cl_send(z, eps[i], big, big_len);
    }
    free(big);
    free(buf);
    zmq_ctx_term(z);
    au_push_fixtures();
    au_wait_all(600);
    cr_assert(au_cl_alive("enrich-1") && au_cl_alive("analytics-1") &&
                  au_cl_alive("analytics-2") && au_cl_alive("relay-enrich") &&
                  au_cl_alive("relay-analytics"),
              "a worker or relay died");
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 (long long)N_EXPECTED);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v"),
                 AU_FIXTURE_TOTAL_ROWS);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends_v WHERE region = 'zz'"),
                 0);
    /* The decoders said what was wrong. */
    cr_assert_eq(
        au_sh("grep -q 'dropping batch' %s/logs/enrich-1.log", au_cl_run), 0);
    cr_assert_eq(au_sh("cat %s/logs/analytics-*.log | grep -q 'dropping batch'",
                       au_cl_run),
                 0);
}

/* Rows per file of chart_history/MANIFEST.tsv, the fixture's own count
 * (columns: folder, file, bytes, rows, ...). */
typedef struct {
    char file[128];
    long rows;
} manifest_row_t;

static size_t read_manifest(manifest_row_t *m, size_t cap, long *total)
{
    char path[1024], line[1024];
    snprintf(path, sizeof(path), "%s/chart_history/MANIFEST.tsv",
             au_test_fixtures());
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    size_t n = 0;
    *total = 0;
    cr_assert(fgets(line, sizeof(line), f), "empty %s", path); /* header */
    while (n < cap && fgets(line, sizeof(line), f)) {
        char *save = NULL;
        char *folder = strtok_r(line, "\t", &save);
        char *file = strtok_r(NULL, "\t", &save);
        strtok_r(NULL, "\t", &save); /* bytes */
        char *rows = strtok_r(NULL, "\t", &save);
        cr_assert(folder && file && rows, "%s:%zu: short line", path, n + 2);
        snprintf(m[n].file, sizeof(m[n].file), "%s", file);
        m[n].rows = strtol(rows, NULL, 10);
        *total += m[n++].rows;
    }
    fclose(f);
    return n;
}

Test(e2e, every_chart_history_file_gives_its_manifest_rows,
     .fini = au_cluster_stop)
{
    static manifest_row_t m[1024];
    long total;
    size_t n = read_manifest(m, 1024, &total);
    cr_assert_eq(n, 527, "MANIFEST.tsv lists %zu files", n);
    cluster_start(7, 30);
    cr_assert_eq(au_sh("%s/audora push %s/chart_history >/dev/null",
                       au_test_build_dir(), au_test_fixtures()),
                 0);
    au_wait_all(900);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 527);
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends"), total);
    /* Each file's chart, found by the job that read it. */
    for (size_t i = 0; i < n; i++) {
        char sql[1024];
        /* File names in the manifest are short; %.200s says so. */
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM trends_v t JOIN jobs j ON "
                 "t.platform = j.params->>'platform' AND t.chart = "
                 "j.params->>'chart' AND t.region = j.params->>'region' AND "
                 "t.chart_date = (j.params->>'date')::date WHERE "
                 "j.params->>'path' LIKE '%%/%.200s'",
                 m[i].file);
        cr_assert_eq(au_scalar(sql), m[i].rows, "%s", m[i].file);
    }
}

/* ---- a folder re-scan ------------------------------------------------------
 */

/* Queues a scan of dir: its job id. */
static long long push_scan(const char *dir)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO jobs (kind, params) VALUES ('scan_dir', "
             "jsonb_build_object('path', '%s')) RETURNING id",
             dir);
    return au_scalar(sql);
}

/* Scans dir to its end: the chart jobs it queued. */
static long long scan(const char *dir)
{
    long long id = push_scan(dir);
    au_wait_all(120);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT rows_written FROM jobs WHERE id = %lld AND state = 'done'",
             id);
    return au_scalar(sql);
}

/* Each chart job's rows are its chart's rows in the store, once. */
static void rows_match_jobs(void)
{
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs j WHERE kind = "
                           "'chart_csv' AND rows_written <> (SELECT count(*) "
                           "FROM trends_v t WHERE t.platform = "
                           "j.params->>'platform' AND t.chart = "
                           "j.params->>'chart' AND t.region = "
                           "j.params->>'region' AND t.chart_date = "
                           "(j.params->>'date')::date)"),
                 0);
}

Test(e2e, a_folder_rescan_queues_new_and_changed_charts_only,
     .fini = au_cluster_stop)
{
    cluster_start(8, 30);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/rescan-%d",
             getenv("AUDORA_TEST_TMP") ? getenv("AUDORA_TEST_TMP") : "/tmp",
             (int)getpid());
    const char *src = "spotify_charts/spotifycharts_legacy/global_weekly_"
                      "2017_2018/regional-global-weekly-";
    cr_assert_eq(au_sh("rm -rf %s && mkdir -p %s/sub %s/.hidden && "
                       "cp %s/%s2017-06-30--2017-07-07.csv %s/ && "
                       "cp %s/%s2017-07-28--2017-08-04.csv %s/sub/ && "
                       "cp %s/%s2017-09-01--2017-09-08.csv %s/.hidden/ && "
                       "echo a,b > %s/notes.csv",
                       dir, dir, dir, au_test_fixtures(), src, dir,
                       au_test_fixtures(), src, dir, au_test_fixtures(), src,
                       dir, dir),
                 0);
    /* Two charts (the hidden folder and the unnamed file are not). */
    cr_assert_eq(scan(dir), 2);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE kind = "
                           "'chart_csv' AND state = 'done'"),
                 2);
    long long rows = au_scalar("SELECT count(*) FROM trends");
    cr_assert_gt(rows, 0);
    rows_match_jobs();
    /* Nothing new: nothing queued. */
    cr_assert_eq(scan(dir), 0);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE kind = "
                           "'chart_csv'"),
                 2);
    /* A new file and one changed since its job finished: both, once. */
    cr_assert_eq(au_sh("cp %s/.hidden/*.csv %s/ && touch -d '+1 minute' "
                       "%s/sub/*.csv",
                       dir, dir, dir),
                 0);
    cr_assert_eq(scan(dir), 2);
    cr_assert_eq(au_scalar("SELECT count(*) FROM jobs WHERE kind = "
                           "'chart_csv' AND state = 'done'"),
                 4);
    cr_assert_eq(au_scalar("SELECT count(DISTINCT params->>'path') FROM jobs "
                           "WHERE kind = 'chart_csv'"),
                 3);
    rows_match_jobs();
    cr_assert_gt(au_scalar("SELECT count(*) FROM trends"), rows);
    cr_assert_eq(au_scalar("SELECT sum(rows_written) FROM (SELECT DISTINCT ON "
                           "(params->>'path') rows_written FROM jobs WHERE "
                           "kind = 'chart_csv' ORDER BY params->>'path', id "
                           "DESC) j"),
                 au_scalar("SELECT count(*) FROM trends"));
    /* A folder that is not there: dead at once, with its cause. */
    char sql[1024];
    snprintf(sql, sizeof(sql), "%s/missing", dir);
    long long id = push_scan(sql);
    snprintf(sql, sizeof(sql),
             "psql -qtAX '%s' -c \"SELECT state FROM jobs WHERE id = %lld\" | "
             "grep -qx dead",
             au_cl_db, id);
    cr_assert(au_eventually(30, sql), "a missing folder's scan is not dead");
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM jobs WHERE id = %lld AND attempt = 1 AND "
             "last_error LIKE '%%/missing: No such file or directory%%'",
             id);
    cr_assert_eq(au_scalar(sql), 1);
    au_sh("rm -rf %s", dir);
}
