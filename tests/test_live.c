/* The live sources end to end: a real local cluster (deploy/cluster.sh)
 * reads Last.fm charts and a Spotify playlist from the replay server
 * started in this process, which answers with the genuine responses of
 * ../shared/fixtures/real and breaks on demand. What is stored is checked
 * against the fixture files themselves, read here with jansson; what was
 * asked of the services, against the replay server's own counts. */
#include "au_replay.h"
#include "au_test.h"
#include "au_test_cluster.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static au_replay_t *srv;
static char redis_pidfile[256]; /* a Redis of the test's own, if any */

static void stop_all(void)
{
    au_cluster_stop();
    au_replay_destroy(&srv);
    if (redis_pidfile[0])
        au_sh("kill -9 $(cat %s </dev/null) 2>/dev/null", redis_pidfile);
}

TestSuite(live, .fini = stop_all, .timeout = 600);

#define PLAYLIST "4vHIKV7j4QcZwgzGQcZg1x" /* jmperez_playlist.json */
#define KEY "lfm-key-Qw7Zt3"              /* must never reach a log */

/* The replay server, and the cluster's sources pointed at it. */
static void start_replay(void)
{
    au_replay_opts_t o = {.fixtures = au_test_fixtures()};
    au_error_t err = {0};
    srv = au_replay_new(&o, &err);
    cr_assert_not_null(srv, "%s", err.msg);
    char url[128];
    int port = au_replay_port(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/lastfm/2.0/", port);
    setenv("AUDORA_LASTFM__BASE_URL", url, 1);
    setenv("AUDORA_LASTFM__API_KEY", KEY, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/spotify/v1", port);
    setenv("AUDORA_SPOTIFY__API_URL", url, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/spotify/api/token", port);
    setenv("AUDORA_SPOTIFY__ACCOUNTS_URL", url, 1);
    setenv("AUDORA_SPOTIFY__CLIENT_ID", AU_REPLAY_CLIENT_ID, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/musicbrainz/ws/2", port);
    setenv("AUDORA_MUSICBRAINZ__BASE_URL", url, 1);
    if (!getenv("AUDORA_SPOTIFY__CLIENT_SECRET"))
        setenv("AUDORA_SPOTIFY__CLIENT_SECRET", AU_REPLAY_CLIENT_SECRET, 1);
    setenv("AUDORA_HTTP__CONTACT", "tests@audora.invalid", 1);
}

/* What a shell command prints, parsed as JSON. */
static json_t *json_of(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    json_error_t e;
    json_t *js = json_loadf(p, 0, &e);
    pclose(p);
    cr_assert_not_null(js, "%s: %s", cmd, e.text);
    return js;
}

/* GET /_stats of the replay server, parsed. */
static json_t *stats(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/_stats",
             au_replay_port(srv));
    return json_of(cmd);
}

/* Requests counted for a route ("lastfm/geo.getTopTracks") or, with
 * field "max_per_second", a service's busiest second. */
static long long stat(const char *group, const char *name, const char *field)
{
    json_t *js = stats();
    json_t *v = json_object_get(
        json_object_get(json_object_get(js, group), name), field);
    cr_assert(json_is_integer(v), "%s.%s.%s", group, name, field);
    long long n = json_integer_value(v);
    json_decref(js);
    return n;
}

static void audora(const char *args)
{
    cr_assert_eq(au_sh("%s/audora %s >/dev/null", au_test_build_dir(), args), 0,
                 "audora %s", args);
}

static json_t *fixture(const char *path)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s/%s", au_test_fixtures(), path);
    json_error_t e;
    json_t *js = json_load_file(full, 0, &e);
    cr_assert_not_null(js, "%s: %s", full, e.text);
    return js;
}

static long long num(json_t *v)
{
    return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10)
                             : json_integer_value(v);
}

/* The stored chart, row by row, against a Last.fm fixture: name, artist,
 * position (its rank from 0 in geo, from 1 in tag; its order on its page
 * in chart) and the count that page carries. */
static void check_lastfm(const char *file, const char *chart,
                         const char *region, const char *count)
{
    json_t *js = fixture(file);
    json_t *tracks = json_object_get(json_object_get(js, "tracks"), "track");
    json_t *attr = json_object_get(json_object_get(js, "tracks"), "@attr");
    long long page = num(json_object_get(attr, "page")),
              per = num(json_object_get(attr, "perPage"));
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM trends_v WHERE platform = 'lastfm' AND "
             "chart = '%s' AND region = '%s' AND chart_date = '2026-11-02'",
             chart, region);
    cr_expect_eq(au_scalar(sql), (long long)json_array_size(tracks), "%s",
                 file);
    PGconn *c = PQconnectdb(au_cl_db);
    for (size_t i = 0; i < json_array_size(tracks); i++) {
        json_t *t = json_array_get(tracks, i);
        json_t *rank = json_object_get(json_object_get(t, "@attr"), "rank");
        long long pos = !rank                  ? (page - 1) * per + (long)i + 1
                        : strstr(file, "geo.") ? num(rank) + 1
                                               : num(rank);
        const char *p[] = {chart, region};
        char q[512];
        snprintf(q, sizeof(q),
                 "SELECT track_name, artist, coalesce(streams, -1) FROM "
                 "trends_v WHERE platform = 'lastfm' AND chart = $1 AND "
                 "region = $2 AND chart_date = '2026-11-02' AND "
                 "position = %lld",
                 pos);
        PGresult *r = PQexecParams(c, q, 2, NULL, p, NULL, NULL, 0);
        cr_assert_eq(PQntuples(r), 1, "%s: no row at position %lld", file, pos);
        cr_expect_str_eq(PQgetvalue(r, 0, 0),
                         json_string_value(json_object_get(t, "name")));
        cr_expect_str_eq(PQgetvalue(r, 0, 1),
                         json_string_value(json_object_get(
                             json_object_get(t, "artist"), "name")));
        long long want = count ? num(json_object_get(t, count)) : -1;
        cr_expect_eq(strtoll(PQgetvalue(r, 0, 2), NULL, 10), want,
                     "%s position %lld", file, pos);
        PQclear(r);
    }
    PQfinish(c);
    json_decref(js);
}

static void push_lastfm_three(void)
{
    audora("push lastfm chart.getTopTracks --date 2026-11-02");
    audora("push lastfm geo.getTopTracks --country Greece --date 2026-11-02");
    audora("push lastfm tag.getTopTracks --tag rap --date 2026-11-02");
}

Test(live, lastfm_charts_are_stored_as_served_and_a_rerun_asks_nothing)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 1, .lease_s = 30});
    push_lastfm_three();
    au_wait_all(120);
    check_lastfm("lastfm/chart.getTopTracks_limit10_page2_2018-11-10.json",
                 "top-tracks", "global", "playcount");
    check_lastfm("lastfm/geo.getTopTracks_greece_limit10_2018-11-10.json",
                 "top-tracks", "greece", "listeners");
    check_lastfm("lastfm/tag.getTopTracks_rap_limit2_2018-11-10.json",
                 "tag-rap", "global", NULL);
    long long before = stat("services", "lastfm", "requests");
    cr_expect_gt(before, 0);
    long long rows = au_scalar("SELECT count(*) FROM trends");
    /* The same charts again within the cache's hour: every page comes
     * from Redis, the service is asked nothing, the rows converge. */
    push_lastfm_three();
    au_wait_all(120);
    cr_expect_eq(stat("services", "lastfm", "requests"), before);
    cr_expect_eq(au_scalar("SELECT count(*) FROM trends"), rows);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done' "
                           "AND attempt = 1"),
                 6);
    /* `audora sources` adds up what the workers' heartbeats say. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "%s/audora sources --json | grep -q '\"cache_hit_ratio\": 0.5'",
             au_test_build_dir());
    cr_expect(au_eventually(10, cmd), "audora sources: half the pages hit");
    cr_expect_eq(au_sh("grep -rq '%s' %s/logs", KEY, au_cl_run), 1,
                 "the API key is in a log");
}

Test(live, a_spotify_playlist_is_a_chart_and_one_token_serves_the_fleet)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 2, .lease_s = 30});
    /* Four days of the playlist at once, on two ingest workers: each day
     * is its own page (the cache key has the date), all share a token. */
    for (int d = 1; d <= 4; d++) {
        char a[128];
        snprintf(a, sizeof(a),
                 "push spotify-playlist spotify:playlist:%s "
                 "--chart top50 --date 2026-11-0%d",
                 PLAYLIST, d);
        audora(a);
    }
    au_wait_all(120);
    cr_expect_eq(stat("routes", "spotify/token", "requests"), 1);
    cr_expect_eq(stat("routes", "spotify/playlist", "requests"), 4);
    json_t *js = fixture("spotify_api/jmperez_playlist.json");
    json_t *items = json_object_get(json_object_get(js, "tracks"), "items");
    PGconn *c = PQconnectdb(au_cl_db);
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *t = json_object_get(json_array_get(items, i), "track");
        char q[512];
        snprintf(q, sizeof(q),
                 "SELECT count(*), min(track_key), min(track_name) FROM "
                 "trends_v WHERE platform = 'spotify' AND chart = 'top50' "
                 "AND region = 'global' AND position = %zu",
                 i + 1);
        PGresult *r = PQexec(c, q);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        cr_expect_str_eq(PQgetvalue(r, 0, 0), "4", "position %zu", i + 1);
        char key[64];
        snprintf(key, sizeof(key), "spotify:%s",
                 json_string_value(json_object_get(t, "id")));
        cr_expect_str_eq(PQgetvalue(r, 0, 1), key);
        cr_expect_str_eq(PQgetvalue(r, 0, 2),
                         json_string_value(json_object_get(t, "name")));
        PQclear(r);
    }
    PQfinish(c);
    cr_expect_eq(au_scalar("SELECT count(*) FROM trends"),
                 4 * (long long)json_array_size(items));
    json_decref(js);
}

Test(live, a_refused_credential_kills_the_job_at_once_and_no_log_has_it)
{
    setenv("AUDORA_SPOTIFY__CLIENT_SECRET", "wrong-secret-Zq81", 1);
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 3, .lease_s = 30});
    audora("push spotify-playlist " PLAYLIST " --max-attempts 5");
    cr_expect_neq(au_sh("%s/audora wait --since-id 0 --quiet --timeout 60",
                        au_test_build_dir()),
                  0, "the job is dead: wait says so");
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'dead' "
                           "AND attempt = 1 AND last_error LIKE "
                           "'%spotify: HTTP 400%invalid_client%'"),
                 1, "dead after one attempt, the service and status named: %s",
                 au_text("SELECT last_error FROM jobs"));
    cr_expect_eq(stat("routes", "spotify/token", "requests"), 1);
    cr_expect_eq(au_sh("grep -rq 'Zq81' %s/logs", au_cl_run), 1,
                 "the secret is in a log");
    char *e = au_text("SELECT last_error FROM jobs");
    cr_expect_null(strstr(e, "Zq81"), "%s", e);
    free(e);
}

Test(live, a_run_of_503s_opens_the_breaker_and_the_job_is_retried_not_dead)
{
    setenv("AUDORA_HTTP__RETRIES", "1", 1);
    setenv("AUDORA_HTTP__BACKOFF_BASE_MS", "50", 1);
    /* A breaker is per process and counts failed requests (not their
     * attempts): with two workers taking turns, one failure must do. */
    setenv("AUDORA_HTTP__BREAKER_FAILURES", "1", 1);
    setenv("AUDORA_HTTP__BREAKER_COOLDOWN_MS", "500", 1);
    start_replay();
    au_error_t err = {0};
    cr_assert_eq(au_replay_fault(srv, "route=lastfm fault=503 count=4", &err),
                 0, "%s", err.msg);
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 4, .lease_s = 30});
    /* Attempts enough to outlast the breaker's cool-downs: the point is
     * that failing fast is a retry, never a death sentence. */
    audora("push lastfm geo.getTopTracks --country Greece --date 2026-11-02 "
           "--max-attempts 20");
    au_wait_all(120);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done' "
                           "AND attempt > 1"),
                 1);
    check_lastfm("lastfm/geo.getTopTracks_greece_limit10_2018-11-10.json",
                 "top-tracks", "greece", "listeners");
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "%s/audora sources --json | grep -q '\"breaker_opens\": [1-9]'",
             au_test_build_dir());
    cr_expect(au_eventually(10, cmd), "no breaker opened");
}

static void push_days(int n)
{
    for (int d = 1; d <= n; d++) {
        char a[128];
        snprintf(a, sizeof(a),
                 "push lastfm chart.getTopTracks --date 2026-10-%02d", d);
        audora(a);
    }
}

/* n jobs of two requests each (the fixture's page, then a second page
 * with nothing new) on three ingest workers, every one done with its
 * rows: nothing lost, nothing doubled. */
static void check_days(int n)
{
    au_wait_all(300);
    cr_expect_eq(stat("services", "lastfm", "requests"), 2 * n);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 n);
    cr_expect_eq(au_scalar("SELECT count(DISTINCT chart_date) FROM trends"), n);
    cr_expect_eq(au_scalar("SELECT count(*) FROM (SELECT chart_date FROM "
                           "trends GROUP BY chart_date HAVING count(*) <> "
                           "20) x"),
                 0, "a day without exactly the page's 20 tracks");
}

static void run_fleet(int redis_db, int no_redis, int n)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = redis_db,
                                          .lease_s = 30,
                                          .ingest = 3,
                                          .no_redis = no_redis});
    push_days(n);
    check_days(n);
}

Test(live, three_ingest_workers_keep_to_one_shared_limit)
{
    setenv("AUDORA_LASTFM__RATE_PER_S", "2", 1);
    run_fleet(5, 0, 10);
    long long peak = stat("services", "lastfm", "max_per_second");
    printf("live: 20 requests at 2/s shared: busiest second %lld\n", peak);
    cr_expect_leq(peak, 2);
    cr_expect_geq(peak, 1);
}

Test(live, without_redis_each_worker_keeps_to_its_share_of_the_limit)
{
    /* Three workers, a fleet of three: each 1/s on its own. */
    setenv("AUDORA_LASTFM__RATE_PER_S", "3", 1);
    setenv("AUDORA_HTTP__FLEET_SIZE", "3", 1);
    run_fleet(0, 1, 8);
    long long peak = stat("services", "lastfm", "max_per_second");
    printf("live: 16 requests at 3/s, Redis down: busiest second %lld\n", peak);
    cr_expect_leq(peak, 3);
}

Test(live, a_lastfm_and_a_spotify_chart_of_one_week_meet_in_one_recording)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 6, .lease_s = 30});
    audora("push lastfm chart.getTopTracks --date 2023-01-05");
    char a[1024];
    snprintf(a, sizeof(a),
             "push %s/spotify_charts/charts_spotify_com/global_weekly_2022_"
             "2023/regional-global-weekly-2023-01-05.csv",
             au_test_fixtures());
    audora(a);
    au_wait_all(120);
    /* Two stored tracks, one keyed by Last.fm's name, one by Spotify's
     * id, one recording. */
    cr_expect_eq(au_scalar("SELECT count(DISTINCT track_key) FROM trends_v "
                           "WHERE track_name = 'Mr. Brightside'"),
                 2);
    cr_expect_eq(au_scalar("SELECT count(DISTINCT canon) FROM trends_v WHERE "
                           "track_name = 'Mr. Brightside'"),
                 1);
    /* Every recording the two charts share is one title by one first
     * artist, case aside: the rule made no other meeting. */
    long long met =
        au_scalar("SELECT count(*) FROM (SELECT canon FROM trends_v "
                  "WHERE chart_date = '2023-01-05' GROUP BY canon "
                  "HAVING count(DISTINCT platform) = 2) x");
    long long odd =
        au_scalar("SELECT count(*) FROM (SELECT canon FROM trends_v "
                  "WHERE chart_date = '2023-01-05' GROUP BY canon "
                  "HAVING count(DISTINCT platform) = 2 AND "
                  "count(DISTINCT lower(track_name)) > 1) x");
    printf("live: %lld recording(s) on both charts of 2023-01-05\n", met);
    cr_expect_geq(met, 1);
    cr_expect_eq(odd, 0);
    /* The spread, from both platforms. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "%s/audora spread 'Mr. Brightside' 'The Killers' --as-of "
             "2023-01-05 --json > %s/spread.json",
             au_test_build_dir(), au_cl_run);
    cr_assert_eq(au_sh("%s", cmd), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/spread.json", au_cl_run);
    json_error_t e;
    json_t *js = json_load_file(path, 0, &e);
    cr_assert_not_null(js, "%s", e.text);
    cr_expect_eq(json_integer_value(json_object_get(js, "platform_count")), 2);
    cr_expect_eq(json_integer_value(json_object_get(js, "matched_tracks")), 2);
    cr_expect_eq(json_integer_value(json_object_get(js, "matched_recordings")),
                 1);
    json_decref(js);
}

/* A Redis of this test's own, so that it can be killed. */
static void own_redis(char *url, size_t cap)
{
    int port = au_free_port();
    const char *tmp = getenv("AUDORA_TEST_TMP");
    snprintf(redis_pidfile, sizeof(redis_pidfile), "%s/live-redis-%d.pid",
             tmp ? tmp : "/tmp", port);
    cr_assert_eq(au_sh("redis-server --port %d --bind 127.0.0.1 --save '' "
                       "--appendonly no --daemonize yes --pidfile %s "
                       "--logfile /dev/null",
                       port, redis_pidfile),
                 0);
    snprintf(url, cap, "redis://127.0.0.1:%d/0", port);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d ping >/dev/null 2>&1", port);
    cr_assert(au_eventually(10, cmd), "redis-server did not start");
}

Test(live,
     redis_killed_mid_run_the_fleet_stays_under_the_limit_and_loses_nothing)
{
    setenv("AUDORA_LASTFM__RATE_PER_S", "3", 1);
    setenv("AUDORA_HTTP__FLEET_SIZE", "3", 1);
    setenv("AUDORA_REDIS__TIMEOUT_MS", "300", 1);
    char url[64];
    own_redis(url, sizeof(url));
    start_replay();
    au_cluster_start(
        &(au_cluster_opts_t){.lease_s = 30, .ingest = 3, .redis_url = url});
    push_days(12);
    /* A third of the requests through Redis's schedule, then Redis dies. */
    for (int i = 0; i < 300 && stat("services", "lastfm", "requests") < 8; i++)
        usleep(50 * 1000);
    cr_assert_eq(au_sh("kill -9 $(cat %s </dev/null)", redis_pidfile), 0);
    check_days(12);
    long long peak = stat("services", "lastfm", "max_per_second");
    printf("live: 24 requests at 3/s, Redis killed after 8: busiest second "
           "%lld\n",
           peak);
    cr_expect_leq(peak, 3);
}

Test(live, three_workers_look_up_the_same_artists_once_each_at_one_per_second)
{
    start_replay();
    au_cluster_start(
        &(au_cluster_opts_t){.redis_db = 7, .lease_s = 30, .ingest = 3});
    char a[1024];
    snprintf(a, sizeof(a),
             "push %s/chart_history/us_weekly_2017-12-29_2018-12-28_"
             "spotifycharts_legacy/regional-us-weekly-2018-10-26--2018-11-"
             "02.csv",
             au_test_fixtures());
    audora(a);
    au_wait_all(120);
    /* AC/DC and eleven other artists of that week, in three jobs at once
     * and each in its own order: a cold cache, three workers wanting the
     * same twelve answers, each often waiting for an answer another one
     * is still queueing for at the limit (seconds at 1/s). */
    static const char *const order[3] = {"id", "id DESC", "md5(name)"};
    char cmd[3][4096];
    for (int i = 0; i < 3; i++) {
        char q[512];
        snprintf(q, sizeof(q),
                 "SELECT string_agg(quote_literal(name), ' ' ORDER BY %s) "
                 "FROM (SELECT id, name FROM artists WHERE name <> 'AC/DC' "
                 "ORDER BY id LIMIT 11) x",
                 order[i]);
        char *names = au_text(q);
        snprintf(cmd[i], sizeof(cmd[i]),
                 i == 1 ? "push musicbrainz-artists %s 'AC/DC'"
                        : "push musicbrainz-artists 'AC/DC' %s",
                 names);
        free(names);
    }
    for (int i = 0; i < 3; i++)
        audora(cmd[i]);
    au_wait_all(180);
    cr_expect_eq(stat("services", "musicbrainz", "requests"), 12,
                 "one request per artist");
    long long peak = stat("services", "musicbrainz", "max_per_second");
    printf("live: 3 workers, 12 artists at 1/s: busiest second %lld\n", peak);
    cr_expect_eq(peak, 1);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE kind = "
                           "'musicbrainz_artists' AND state = 'done'"),
                 3);
    /* The one exact name among the stored search's results; "DJ AC-DC"
     * scored higher. The others have no artist of their name there. */
    char *id = au_text("SELECT mbid FROM artists WHERE name = 'AC/DC'");
    cr_expect_str_eq(id, "66c662b6-6e2f-4930-8610-912e24c63ed1");
    free(id);
    cr_expect_eq(au_scalar("SELECT count(*) FROM artists WHERE "
                           "mbid_checked_at IS NOT NULL"),
                 12);
    cr_expect_eq(au_scalar("SELECT count(*) FROM artists WHERE mbid IS NOT "
                           "NULL"),
                 1);
    /* Again: every answer from the cache, MusicBrainz is asked nothing. */
    audora(cmd[0]);
    au_wait_all(60);
    cr_expect_eq(stat("services", "musicbrainz", "requests"), 12);
}

/* Pushes a charts.spotify.com chart of rows ("rank,uri,artist,track"
 * lines, the rest filled in). */
static void push_chart_nowait(const char *name, const char *rows)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", au_cl_run, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("rank,uri,artist_names,track_name,source,peak_rank,previous_rank,"
          "weeks_on_chart,streams\n",
          f);
    for (const char *r = rows; *r;) {
        size_t n = strcspn(r, "\n");
        fprintf(f, "%.*s,\"x\",1,1,1,\"100\"\n", (int)n, r);
        r += n + (r[n] == '\n');
    }
    fclose(f);
    char a[700];
    snprintf(a, sizeof(a), "push %s", path);
    audora(a);
}

/* The same, and waits for it. */
static void push_chart(const char *name, const char *rows)
{
    push_chart_nowait(name, rows);
    au_wait_all(60);
}

Test(live, stored_spotify_tracks_get_their_popularity_and_isrc_once)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 8, .lease_s = 30});
    /* A chart of the two tracks the stored several-tracks answer holds. */
    push_chart("regional-global-daily-2024-01-02.csv",
               "1,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The Killers\","
               "\"Somebody Told Me\"\n"
               "2,\"spotify:track:0eGsygTp906u18L0Oimnem\",\"The Killers\","
               "\"Mr. Brightside\"");
    audora("push spotify-tracks");
    au_wait_all(60);
    json_t *js = fixture("spotify_api/jmperez_tracks.json");
    json_t *tracks = json_object_get(js, "tracks");
    for (size_t i = 0; i < json_array_size(tracks); i++) {
        json_t *t = json_array_get(tracks, i);
        char q[256];
        snprintf(q, sizeof(q),
                 "SELECT isrc || '/' || popularity FROM tracks WHERE "
                 "spotify_id = '%s' AND spotify_checked_at IS NOT NULL",
                 json_string_value(json_object_get(t, "id")));
        char *got = au_text(q), want[64];
        snprintf(
            want, sizeof(want), "%s/%lld",
            json_string_value(
                json_object_get(json_object_get(t, "external_ids"), "isrc")),
            (long long)json_integer_value(json_object_get(t, "popularity")));
        cr_expect_str_eq(got, want);
        free(got);
    }
    json_decref(js);
    cr_expect_eq(stat("routes", "spotify/tracks", "requests"), 1);
    /* Again, by id: the answer comes from the cache. */
    audora("push spotify-tracks 1lDWb6b6ieDQ2xT7ewTC3G "
           "spotify:track:0eGsygTp906u18L0Oimnem");
    au_wait_all(60);
    cr_expect_eq(stat("routes", "spotify/tracks", "requests"), 1);
    cr_expect_eq(stat("routes", "spotify/token", "requests"), 1);
    /* The token expires (401) before a request the cache cannot answer:
     * the fleet's token is dropped, one new one fetched, the request
     * made again, the job done. */
    au_error_t err = {0};
    cr_assert_eq(
        au_replay_fault(srv, "route=spotify/tracks fault=401 count=1", &err), 0,
        "%s", err.msg);
    audora("push spotify-tracks 0eGsygTp906u18L0Oimnem");
    au_wait_all(60);
    cr_expect_eq(stat("routes", "spotify/token", "requests"), 2);
    cr_expect_eq(stat("routes", "spotify/tracks", "requests"), 3);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state <> 'done'"),
                 0);
}

/* A stored value of one row as text, "" for NULL; the test fails on none. */
static char *one(const char *fmt, const char *arg)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, arg);
    return au_text(q);
}

/* The Web API's artists and audio features, each asked once: artists take
 * their Spotify ids from the tracks' credits (or, asked by id, from the
 * answer's name) and their genres from the artists' answer; only what was
 * asked for is taken from an answer. */
Test(live, spotify_artists_get_genres_and_tracks_audio_features_once)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 9, .lease_s = 30});
    /* The three tracks of the stored several-features answer, and one of
     * the several-tracks answer whose features it does not hold. */
    push_chart("regional-global-daily-2024-01-03.csv",
               "1,\"spotify:track:4JpKVNYnVcJ8tuMKjAj50A\",\"David Bowie\","
               "\"One\"\n"
               "2,\"spotify:track:2NRANZE9UCmPAS5XVbXL40\",\"T. Rex\",\"Two\"\n"
               "3,\"spotify:track:24JygzOLM0EmRQeGtFcIcG\",\"Band X\","
               "\"Three\"\n"
               "4,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The Killers\","
               "\"Somebody Told Me\"");
    long long gen = au_scalar("SELECT features_generation FROM store_meta");
    audora("push spotify-features");
    au_wait_all(60);
    json_t *js =
        fixture("spotify_api/swajava_GetAudioFeaturesForSeveralTracksRequest"
                ".json");
    json_t *list = json_object_get(js, "audio_features");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *f = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(f, "id"));
        char q[512];
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM audio_features WHERE spotify_id = '%s' "
                 "AND abs(danceability - %.9g) < 1e-6 AND abs(energy - %.9g) "
                 "< 1e-6 AND abs(valence - %.9g) < 1e-6 AND abs(tempo - "
                 "%.9g) < 1e-3",
                 id, json_real_value(json_object_get(f, "danceability")),
                 json_real_value(json_object_get(f, "energy")),
                 json_real_value(json_object_get(f, "valence")),
                 json_real_value(json_object_get(f, "tempo")));
        cr_expect_eq(au_scalar(q), 1, "features of %s", id);
    }
    json_decref(js);
    cr_expect_eq(au_scalar("SELECT count(*) FROM audio_features WHERE "
                           "spotify_id = '1lDWb6b6ieDQ2xT7ewTC3G'"),
                 0, "an id the answer does not hold gets no features");
    cr_expect_eq(au_scalar("SELECT count(*) FROM tracks WHERE "
                           "features_checked_at IS NULL"),
                 0);
    cr_expect_eq(au_scalar("SELECT features_generation FROM store_meta"),
                 gen + 1, "new features are a new generation");
    cr_expect_eq(stat("routes", "spotify/audio-features-several", "requests"),
                 1);
    /* Again, by id: from the cache, nothing changed, no new generation. */
    audora("push spotify-features 4JpKVNYnVcJ8tuMKjAj50A "
           "2NRANZE9UCmPAS5XVbXL40 24JygzOLM0EmRQeGtFcIcG "
           "1lDWb6b6ieDQ2xT7ewTC3G");
    au_wait_all(60);
    cr_expect_eq(stat("routes", "spotify/audio-features-several", "requests"),
                 1);
    cr_expect_eq(au_scalar("SELECT features_generation FROM store_meta"),
                 gen + 1);

    /* Artists asked by id take the id of the answer's name. */
    audora("push spotify-artists 0oSGxfWSnnOXhD2fKuz2Gy "
           "spotify:artist:3dBVyJ7JuOMt4GE9607Qin");
    au_wait_all(60);
    js = fixture("spotify_api/swajava_GetSeveralArtistsRequest.json");
    list = json_object_get(js, "artists");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *ar = json_array_get(list, i);
        char want[512];
        size_t n = (size_t)snprintf(
            want, sizeof(want), "%s|%lld|%lld|",
            json_string_value(json_object_get(ar, "id")),
            (long long)json_integer_value(json_object_get(ar, "popularity")),
            (long long)json_integer_value(
                json_object_get(json_object_get(ar, "followers"), "total")));
        json_t *g = json_object_get(ar, "genres");
        for (size_t k = 0; k < json_array_size(g); k++)
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s",
                                  k ? "," : "",
                                  json_string_value(json_array_get(g, k)));
        char *got = one("SELECT spotify_id || '|' || popularity || '|' || "
                        "followers || '|' || array_to_string(genres, ',') "
                        "FROM artists WHERE name = '%s'",
                        json_string_value(json_object_get(ar, "name")));
        cr_expect_str_eq(got, want);
        free(got);
    }
    json_decref(js);
    cr_expect_eq(stat("routes", "spotify/artists", "requests"), 1);
    /* The Killers get their id from a track's credits; the artists'
     * answer (Bowie, T. Rex) says nothing of them: looked up, no genres. */
    audora("push spotify-tracks");
    au_wait_all(60);
    char *id = one("SELECT coalesce(spotify_id, '') FROM artists WHERE name = "
                   "'%s'",
                   "The Killers");
    cr_expect_str_eq(id, "0C0XlULifJtAgn6ZNCW2eu");
    free(id);
    audora("push spotify-artists");
    au_wait_all(60);
    cr_expect_eq(au_scalar("SELECT count(*) FROM artists WHERE name = 'The "
                           "Killers' AND spotify_checked_at IS NOT NULL AND "
                           "genres IS NULL"),
                 1);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state <> 'done'"),
                 0);
}

/* A track's ISRC finds its MusicBrainz recording, and the recording's
 * artist its MBID; an ISRC MusicBrainz does not know (404) is "none", not
 * a dead job; a known one is asked once. */
Test(live, an_isrc_finds_its_musicbrainz_recording_once)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 10, .lease_s = 30});
    push_chart("regional-global-daily-2024-01-04.csv",
               "1,\"spotify:track:34gCuhDGsG4bRPIf9bb02f\",\"Ed Sheeran\","
               "\"Thinking out Loud\"\n"
               "2,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The Killers\","
               "\"Somebody Told Me\"");
    /* The ISRCs a Spotify track lookup stores (tested above). */
    free(au_text("UPDATE tracks SET isrc = CASE spotify_id WHEN "
                 "'34gCuhDGsG4bRPIf9bb02f' THEN 'GBAHS1400099' ELSE "
                 "'USIR20400274' END RETURNING ''"));
    audora("push musicbrainz-recordings");
    au_wait_all(60);
    char *got = one("SELECT coalesce(k.mbid::text, '-') || '|' || "
                    "coalesce(a.mbid::text, '-') FROM tracks k JOIN artists a "
                    "ON a.id = k.artist_id WHERE k.isrc = '%s'",
                    "GBAHS1400099");
    cr_expect_str_eq(got, "cb2cc207-8125-445c-9ef9-6ea44eee959a|"
                          "b8a7c51f-362c-4dcb-a259-bc6e0095f0a6");
    free(got);
    cr_expect_eq(au_scalar("SELECT count(*) FROM tracks WHERE mbid IS NULL "
                           "AND mbid_checked_at IS NOT NULL AND isrc = "
                           "'USIR20400274'"),
                 1);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state <> 'done'"),
                 0);
    cr_expect_eq(stat("routes", "musicbrainz/isrc", "requests"), 2);
    audora("push musicbrainz-recordings gbahs-14-00099");
    au_wait_all(60);
    cr_expect_eq(stat("routes", "musicbrainz/isrc", "requests"), 2);
    cr_expect_eq(stat("services", "musicbrainz", "max_per_second"), 1);
}

/* A running job cancelled: its worker stops asking within a lease, writes
 * nothing, and takes the next job. */
Test(live, a_cancelled_running_lookup_stops_asking_and_writes_nothing)
{
    start_replay();
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 11, .lease_s = 12});
    char cmd[1024];
    size_t n = (size_t)snprintf(cmd, sizeof(cmd), "push musicbrainz-artists");
    for (int i = 1; i <= 30; i++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " 'Band %d'", i);
    audora(cmd);
    long long id = au_scalar("SELECT max(id) FROM jobs");
    for (int i = 0; i < 200 && stat("services", "musicbrainz", "requests") < 3;
         i++)
        usleep(50 * 1000);
    char c2[64];
    snprintf(c2, sizeof(c2), "jobs cancel %lld", id);
    audora(c2);
    /* Within a third of the lease it extends the lease, is refused, and
     * stops: no request after that. */
    sleep(6);
    long long r1 = stat("services", "musicbrainz", "requests");
    sleep(3);
    long long r2 = stat("services", "musicbrainz", "requests");
    printf("live: cancelled at 3 requests; %lld when it stopped\n", r1);
    cr_expect_eq(r2, r1, "requests after the cancel took effect");
    cr_expect_lt(r1, 20);
    char q[128];
    snprintf(q, sizeof(q), "SELECT state FROM jobs WHERE id = %lld", id);
    char *state = au_text(q);
    cr_expect_str_eq(state, "cancelled");
    free(state);
    cr_expect_eq(au_scalar("SELECT count(*) FROM artists WHERE "
                           "mbid_checked_at IS NOT NULL"),
                 0);
    audora("push musicbrainz-artists 'AC/DC'");
    au_wait_all(60);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 1);
}

/* A schedule in the cluster: its tick comes, one of the workers still
 * alive fires it once, and the chart is stored under the tick's date. */
Test(live, a_schedule_fires_one_lastfm_chart_for_its_tick)
{
    start_replay();
    au_cluster_start(
        &(au_cluster_opts_t){.redis_db = 12, .lease_s = 30, .ingest = 2});
    audora("schedule add greece '*/5 * * * *' lastfm_chart --params "
           "'{\"method\": \"geo.getTopTracks\", \"country\": \"Greece\", "
           "\"limit\": 10, \"date\": \"$tick_date\"}'");
    /* One ingest worker is gone for good; the others fire the tick. */
    cr_assert_eq(au_sh("kill -9 %d", au_cl_pid("ingest-1")), 0);
    free(au_text("UPDATE schedules SET next_run = now() - interval '1 s' "
                 "RETURNING ''"));
    for (int i = 0; i < 300 && au_scalar("SELECT count(*) FROM jobs") == 0; i++)
        usleep(50 * 1000);
    au_wait_all(60);
    /* The date the firing gave the job: its tick's, checked in
     * test_queue; here the chart must be stored under it. */
    char *tick = au_text("SELECT params->>'date' FROM jobs");
    cr_expect_eq(strlen(tick), 10, "%s", tick);
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM trends_v WHERE platform = 'lastfm' AND "
             "region = 'greece' AND chart_date = '%s'",
             tick);
    free(tick);
    cr_expect_eq(au_scalar(q), 10);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE schedule = "
                           "'greece' AND state = 'done'"),
                 1);
    cr_expect_eq(au_scalar("SELECT count(*) FROM schedules WHERE next_run > "
                           "now()"),
                 1);
}

/* A chart whose batches are all sent while analytics is stopped shows in
 * `audora status` as in flight, not as being read. */
Test(live, status_shows_a_chart_whose_batches_wait_for_analytics_in_flight)
{
    au_cluster_start(
        &(au_cluster_opts_t){.redis_db = 13, .lease_s = 30, .analytics = 1});
    cr_assert_eq(kill(au_cl_pid("analytics-1"), SIGSTOP), 0);
    push_chart_nowait("regional-global-daily-2024-01-05.csv",
                      "1,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The "
                      "Killers\",\"Somebody Told Me\"");
    for (int i = 0; i < 200 && au_scalar("SELECT count(*) FROM jobs WHERE "
                                         "sent_at IS NOT NULL") == 0;
         i++)
        usleep(50 * 1000);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/audora status --json", au_test_build_dir());
    json_t *js = json_of(cmd);
    json_t *q = json_object_get(js, "queue");
    cr_expect_eq(json_integer_value(json_object_get(q, "in_flight")), 1);
    cr_expect_eq(json_integer_value(json_object_get(q, "reading")), 0);
    json_decref(js);
    cr_assert_eq(kill(au_cl_pid("analytics-1"), SIGCONT), 0);
    au_wait_all(60);
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 1);
}

/* SIGHUP to the supervisor reaches every worker, which reads its
 * configuration again (log.level at once) and never stops. */
Test(live, sighup_reloads_the_log_level_and_stops_nothing)
{
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 14, .lease_s = 30});
    int before = au_cl_pid("ingest-1");
    char sup[700];
    snprintf(sup, sizeof(sup), "%s/supervisor.pid", au_cl_run);
    cr_assert_eq(au_sh("kill -HUP $(cat %s)", sup), 0);
    char cmd[800];
    snprintf(cmd, sizeof(cmd),
             "grep -q 'SIGHUP: configuration read again; log.level=' "
             "%s/logs/ingest-1.log && grep -q 'SIGHUP: configuration read "
             "again' %s/logs/analytics-1.log",
             au_cl_run, au_cl_run);
    cr_expect(au_eventually(10, cmd), "every worker reloads");
    cr_expect_eq(au_cl_pid("ingest-1"), before, "the same process");
    cr_expect(au_cl_alive("ingest-1") && au_cl_alive("analytics-1") &&
                  au_cl_alive("enrich-1"),
              "nothing restarted");
    /* And it still works. */
    push_chart("regional-global-daily-2024-01-06.csv",
               "1,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The Killers\","
               "\"Somebody Told Me\"");
    cr_expect_eq(au_scalar("SELECT count(*) FROM jobs WHERE state = 'done'"),
                 1);
}

/* Retention: the workers themselves delete done jobs queue.retention_s
 * after they ended, with their ledger rows; the chart's rows stay. */
Test(live, done_jobs_are_deleted_by_the_workers_after_the_retention)
{
    setenv("AUDORA_QUEUE__RETENTION_S", "1", 1);
    au_cluster_start(&(au_cluster_opts_t){.redis_db = 15, .lease_s = 4});
    push_chart("regional-global-daily-2024-01-07.csv",
               "1,\"spotify:track:1lDWb6b6ieDQ2xT7ewTC3G\",\"The Killers\","
               "\"Somebody Told Me\"");
    cr_expect(au_eventually(15, "test \"$(psql -qtAX \"$AUDORA_DATABASE__URL\" "
                                "-c 'SELECT count(*) FROM jobs')\" = 0"),
              "the done job deleted within a sweep or two");
    cr_expect_eq(au_scalar("SELECT count(*) FROM batch_ledger"), 0);
    cr_expect_eq(au_scalar("SELECT count(*) FROM trends"), 1);
}
