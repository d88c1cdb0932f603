/* The HTTP client (common/au_http.h) against the replay server started in
 * this process on a free port: Retry-After in both forms, the breaker,
 * 4xx not retried and its message free of secrets, the size cap, the
 * per-attempt timeout, the User-Agent MusicBrainz insists on. Each test
 * forks (Criterion), so each has its own server and client. */
#include "au_http.h"
#include "au_replay.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static au_replay_t *srv;
static char root[64]; /* http://127.0.0.1:PORT */

static void setup(void)
{
    au_replay_opts_t o = {.fixtures = au_test_fixtures()};
    au_error_t err = {0};
    srv = au_replay_new(&o, &err);
    cr_assert_not_null(srv, "%s", err.msg);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d", au_replay_port(srv));
}

static void teardown(void)
{
    au_replay_destroy(&srv);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client with the defaults, then `set` applied ("key=value;..."), and
 * no shared limiter (no cache): the limits are ratelimit's tests. */
static au_http_t *client(const char *set)
{
    au_config_t cfg;
    au_config_defaults(&cfg);
    au_error_t err = {0};
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", set ? set : "");
    char *save = NULL;
    for (char *kv = strtok_r(buf, ";", &save); kv;
         kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        cr_assert_not_null(eq);
        *eq = '\0';
        cr_assert_eq(au_config_set(&cfg, kv, eq + 1, "test", &err), 0, "%s",
                     err.msg);
    }
    au_http_t *h = au_http_new(&cfg, NULL, &err);
    cr_assert_not_null(h, "%s", err.msg);
    cr_assert_eq(au_http_service(h, "lastfm", 100, 1), 0);
    cr_assert_eq(au_http_service(h, "musicbrainz", 100, 1), 0);
    return h;
}

static void fault(const char *rule)
{
    au_error_t err = {0};
    cr_assert_eq(au_replay_fault(srv, rule, &err), 0, "%s", err.msg);
}

/* Requests the replay server counted on a route, from GET /_stats. */
static long long counted(const char *route)
{
    au_http_t *h = client(NULL);
    char url[128];
    snprintf(url, sizeof(url), "%s/_stats", root);
    au_http_resp_t r;
    au_error_t err = {0};
    au_http_req_t req = {.service = "lastfm", .url = url};
    cr_assert_eq(au_http_do(h, &req, &r, &err), 0, "%s", err.msg);
    json_t *js = json_loads(r.body, 0, NULL);
    cr_assert_not_null(js);
    json_t *n = json_object_get(
        json_object_get(json_object_get(js, "routes"), route), "requests");
    cr_assert(json_is_integer(n), "route %s in %s", route, r.body);
    long long v = json_integer_value(n);
    json_decref(js);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
    return v;
}

static char chart_url[256];

static const char *chart(const char *key)
{
    snprintf(chart_url, sizeof(chart_url),
             "%s/lastfm/2.0/?method=chart.getTopTracks&api_key=%s&format=json",
             root, key);
    return chart_url;
}

static int get(au_http_t *h, const char *service, const char *url,
               au_http_resp_t *r, au_error_t *err)
{
    au_http_req_t req = {.service = service, .url = url};
    return au_http_do(h, &req, r, err);
}

Test(http, retry_after_in_seconds_is_waited_before_the_next_attempt)
{
    au_http_t *h = client("http.backoff_base_ms=10");
    fault("route=lastfm/chart.getTopTracks fault=429 count=1 retry_after=2");
    au_http_resp_t r;
    au_error_t err = {0};
    long long t0 = mono_ms();
    cr_assert_eq(get(h, "lastfm", chart("k"), &r, &err), 0, "%s", err.msg);
    long long took = mono_ms() - t0;
    cr_expect_geq(took, 2000, "retried after %lld ms, Retry-After said 2 s",
                  took);
    cr_expect_eq(r.status, 200);
    au_http_stats_t st;
    cr_assert_eq(au_http_stats(h, "lastfm", &st), 0);
    cr_expect_eq(st.throttled, 1);
    cr_expect_eq(st.retries, 1);
    cr_expect_eq(st.requests, 2);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 2);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, retry_after_as_an_http_date_is_waited_too)
{
    au_http_t *h = client("http.backoff_base_ms=10");
    fault("route=lastfm fault=429 count=1 retry_after=3 "
          "retry_after_form=date");
    au_http_resp_t r;
    au_error_t err = {0};
    long long t0 = mono_ms();
    cr_assert_eq(get(h, "lastfm", chart("k"), &r, &err), 0, "%s", err.msg);
    /* An HTTP date has whole seconds: 3 s ahead is at least 2 s away. */
    cr_expect_geq(mono_ms() - t0, 2000);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, a_run_of_503s_opens_the_breaker_then_one_probe_closes_it)
{
    au_http_t *h = client("http.retries=0;http.breaker_failures=3;"
                          "http.breaker_cooldown_ms=400");
    fault("route=lastfm fault=503");
    au_http_resp_t r;
    au_error_t err = {0};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(get(h, "lastfm", chart("k"), &r, &err), AU_ERETRY);
        au_http_resp_clear(&r);
    }
    au_http_stats_t st;
    cr_assert_eq(au_http_stats(h, "lastfm", &st), 0);
    cr_expect_eq(st.breaker, AU_BREAKER_OPEN);
    cr_expect_eq(st.breaker_opens, 1);
    /* Open: fails at once, the service is not asked. */
    long long t0 = mono_ms();
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), AU_ERETRY);
    cr_expect_lt(mono_ms() - t0, 100);
    cr_expect(strstr(err.msg, "lastfm"), "%s", err.msg);
    au_http_resp_clear(&r);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 3);
    au_replay_clear_faults(srv);
    usleep(450 * 1000);
    cr_assert_eq(au_http_stats(h, "lastfm", &st), 0);
    cr_expect_eq(st.breaker, AU_BREAKER_HALF_OPEN);
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), 0, "%s", err.msg);
    cr_assert_eq(au_http_stats(h, "lastfm", &st), 0);
    cr_expect_eq(st.breaker, AU_BREAKER_CLOSED);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, a_4xx_is_not_retried_and_its_message_hides_the_key)
{
    au_http_t *h = client(NULL);
    au_http_resp_t r;
    au_error_t err = {0};
    /* The replay server refuses an empty key as Last.fm does (403). */
    char url[256];
    snprintf(url, sizeof(url),
             "%s/lastfm/2.0/?method=chart.getTopTracks&api_key=&secret=hush1"
             "&format=json",
             root);
    cr_assert_eq(get(h, "lastfm", url, &r, &err), AU_EHTTP, "%s", err.msg);
    cr_expect_eq(r.status, 403);
    cr_expect(strstr(err.msg, "lastfm") && strstr(err.msg, "403"), "%s",
              err.msg);
    cr_expect_null(strstr(err.msg, "hush1"), "%s", err.msg);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 1);
    au_http_resp_clear(&r);
    /* A key that works still never shows in a failure's message. */
    fault("route=lastfm fault=500");
    au_http_destroy(&h);
    h = client("http.retries=1;http.backoff_base_ms=1");
    cr_assert_eq(get(h, "lastfm", chart("SeCrEtKeY42"), &r, &err), AU_ERETRY);
    cr_expect_null(strstr(err.msg, "SeCrEtKeY42"), "%s", err.msg);
    cr_expect(strstr(err.msg, "api_key=***"), "%s", err.msg);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, an_answer_over_the_cap_is_an_error_not_memory)
{
    au_http_t *h = client("http.max_response_bytes=1024");
    au_http_resp_t r;
    au_error_t err = {0};
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), AU_ETOOBIG, "%s",
                 err.msg);
    cr_expect_null(r.body);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, a_slow_answer_times_out_and_is_retried_within_the_deadline)
{
    au_http_t *h = client("http.timeout_ms=300;http.retries=1;"
                          "http.backoff_base_ms=10;http.deadline_ms=5000");
    fault("route=lastfm fault=slow delay_ms=3000");
    au_http_resp_t r;
    au_error_t err = {0};
    long long t0 = mono_ms();
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), AU_ERETRY, "%s",
                 err.msg);
    cr_expect_lt(mono_ms() - t0, 2500);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 2);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

/* A short lease gives a deadline shorter than the connect timeout: a
 * request is still sent (it once needed half the connect timeout left). */
Test(http, a_deadline_shorter_than_the_connect_timeout_still_asks)
{
    au_http_t *h = client("http.deadline_ms=1000;http.connect_timeout_ms=5000");
    au_http_resp_t r;
    au_error_t err = {0};
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), 0, "%s", err.msg);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 1);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, a_reset_connection_is_retried)
{
    au_http_t *h = client("http.backoff_base_ms=10");
    fault("route=lastfm fault=reset count=2");
    au_http_resp_t r;
    au_error_t err = {0};
    cr_expect_eq(get(h, "lastfm", chart("k"), &r, &err), 0, "%s", err.msg);
    cr_expect_eq(counted("lastfm/chart.getTopTracks"), 3);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, musicbrainz_is_sent_the_user_agent_with_the_contact)
{
    au_http_t *h = client("http.contact=ops@example.org");
    au_http_resp_t r;
    au_error_t err = {0};
    char url[256];
    snprintf(url, sizeof(url),
             "%s/musicbrainz/ws/2/artist/"
             "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d?fmt=json",
             root);
    /* The replay server answers 403 to a request without one. */
    cr_expect_eq(get(h, "musicbrainz", url, &r, &err), 0, "%s", err.msg);
    au_http_resp_clear(&r);
    au_http_destroy(&h);
}

Test(http, redaction_and_escaping)
{
    char out[256];
    au_http_redact("https://u:pw@h/x?api_key=abc&q=1&client_secret=zz&token=t",
                   out, sizeof(out));
    cr_expect_null(strstr(out, "abc"), "%s", out);
    cr_expect_null(strstr(out, "pw"), "%s", out);
    cr_expect_null(strstr(out, "zz"), "%s", out);
    cr_expect(strstr(out, "q=1"), "%s", out);
    cr_expect_eq(au_http_escape("United States/ü&=", out, sizeof(out)), 0);
    cr_expect_str_eq(out, "United%20States%2F%C3%BC%26%3D");
    cr_expect_eq(au_http_escape("abcdef", out, 4), AU_ETOOBIG);
}
