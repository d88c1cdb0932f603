/* Metrics endpoint: every check goes through a real HTTP scrape with
 * libcurl, and the exposition text is read back by a small parser written
 * from the format's grammar rather than from au_metrics.c. */
#include "au_cache.h"
#include "au_config.h"
#include "au_metrics.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static au_metrics_t *m;

static void setup(void)
{
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    m = au_metrics_new("test", NULL);
    cr_assert_not_null(m);
    au_error_t err = {0};
    cr_assert_eq(au_metrics_serve(m, "127.0.0.1", 0, &err), 0, "%s", err.msg);
    cr_assert_gt(au_metrics_port(m), 0);
}

static void teardown(void)
{
    au_metrics_destroy(&m);
    curl_global_cleanup();
}

TestSuite(metrics, .init = setup, .fini = teardown);

typedef struct {
    char *p;
    size_t len;
} body_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    body_t *b = arg;
    size_t n = size * nmemb;
    char *p = realloc(b->p, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->len += n;
    p[b->len] = '\0';
    b->p = p;
    return n;
}

/* One request; returns the curl result, *status and the body (malloc'd,
 * never NULL on CURLE_OK). ctype, when given, receives the Content-Type. */
static CURLcode request(int port, const char *method, const char *path,
                        long *status, char **body, char *ctype, size_t cap)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    body_t b = {calloc(1, 1), 0};
    cr_assert_not_null(b.p);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (ctype) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(ctype, cap, "%s", ct ? ct : "");
    }
    curl_easy_cleanup(c);
    *body = b.p;
    return rc;
}

static char *scrape(void)
{
    long status;
    char *body;
    CURLcode rc =
        request(au_metrics_port(m), "GET", "/metrics", &status, &body, NULL, 0);
    cr_assert_eq(rc, CURLE_OK, "%s", curl_easy_strerror(rc));
    cr_assert_eq(status, 200);
    return body;
}

/* 1 when text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

/* The value of the sample whose name and labels are exactly series. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            char *end;
            double v = strtod(p + n + 1, &end);
            cr_assert(end > p + n + 1 && (*end == '\n' || *end == '\0'),
                      "unreadable value for %s", series);
            return v;
        }
    }
    cr_assert_fail("no sample %s in:\n%s", series, text);
    return 0;
}

/* ---- a parser for the text exposition format (0.0.4) ---- */

static int name_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static int name_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

/* Skips a metric or label name; NULL when there is none. */
static const char *skip_name(const char *p, const char *end, int colon_ok)
{
    if (p >= end || !name_start((unsigned char)*p) || (!colon_ok && *p == ':'))
        return NULL;
    while (p < end && name_char((unsigned char)*p) && (colon_ok || *p != ':'))
        p++;
    return p;
}

/* {name="value",...}: returns the position after '}' or NULL. */
static const char *skip_labels(const char *p, const char *end)
{
    p++;
    while (p < end && *p != '}') {
        if (!(p = skip_name(p, end, 0)))
            return NULL;
        if (end - p < 2 || p[0] != '=' || p[1] != '"')
            return NULL;
        for (p += 2; p < end && *p != '"'; p++) {
            if (*p == '\\') {
                if (++p >= end || (*p != '\\' && *p != '"' && *p != 'n'))
                    return NULL;
            }
        }
        if (p >= end)
            return NULL;
        p++;
        if (p < end && *p == ',')
            p++;
    }
    return p < end ? p + 1 : NULL;
}

static int valid_value(const char *p, const char *end)
{
    size_t n = (size_t)(end - p);
    if ((n == 3 && memcmp(p, "NaN", 3) == 0) ||
        (n == 4 && (memcmp(p, "+Inf", 4) == 0 || memcmp(p, "-Inf", 4) == 0)))
        return 1;
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *stop;
    strtod(tmp, &stop);
    return *stop == '\0' && !isspace((unsigned char)tmp[0]);
}

/* Families seen in TYPE lines, to check each sample is declared first. */
typedef struct {
    char names[64][80];
    int n;
} families_t;

static int declared(const families_t *f, const char *name, size_t len)
{
    static const char *const suffix[] = {"", "_bucket", "_sum", "_count"};
    for (int i = 0; i < f->n; i++) {
        size_t fl = strlen(f->names[i]);
        for (int s = 0; s < 4; s++) {
            size_t sl = strlen(suffix[s]);
            if (fl + sl == len && memcmp(name, f->names[i], fl) == 0 &&
                memcmp(name + fl, suffix[s], sl) == 0)
                return 1;
        }
    }
    return 0;
}

static void check_comment(families_t *f, const char *p, const char *end,
                          int lineno)
{
    int help = end - p > 7 && memcmp(p, "# HELP ", 7) == 0;
    int type = end - p > 7 && memcmp(p, "# TYPE ", 7) == 0;
    if (!help && !type)
        return;
    const char *name = p + 7;
    const char *q = skip_name(name, end, 1);
    cr_assert(q && (q == end || *q == ' '), "line %d: bad name", lineno);
    if (help)
        return;
    cr_assert(q < end, "line %d: TYPE without a type", lineno);
    static const char *const types[] = {"counter", "gauge", "histogram",
                                        "summary", "untyped"};
    int ok = 0;
    for (int i = 0; i < 5; i++)
        ok |= (size_t)(end - q - 1) == strlen(types[i]) &&
              memcmp(q + 1, types[i], strlen(types[i])) == 0;
    cr_assert(ok, "line %d: unknown type", lineno);
    size_t len = (size_t)(q - name);
    cr_assert(!declared(f, name, len) || len == 0, "line %d: TYPE twice",
              lineno);
    cr_assert_lt(f->n, 64);
    cr_assert_lt(len, sizeof(f->names[0]));
    memcpy(f->names[f->n], name, len);
    f->names[f->n++][len] = '\0';
}

/* Fails the test at the first line that is not valid exposition text;
 * returns the number of samples. */
static int check_exposition(const char *text)
{
    families_t fam = {.n = 0};
    int samples = 0, lineno = 0;
    size_t total = strlen(text);
    cr_assert(total > 0 && text[total - 1] == '\n', "must end in a newline");
    for (const char *p = text; *p; lineno++) {
        const char *end = strchr(p, '\n');
        if (*p == '#') {
            check_comment(&fam, p, end, lineno + 1);
        } else {
            const char *q = skip_name(p, end, 1);
            cr_assert_not_null(q, "line %d: no metric name", lineno + 1);
            cr_assert(declared(&fam, p, (size_t)(q - p)),
                      "line %d: sample before its TYPE", lineno + 1);
            if (q < end && *q == '{')
                q = skip_labels(q, end);
            cr_assert(q && q < end && *q == ' ', "line %d: bad labels",
                      lineno + 1);
            const char *v = q + 1;
            const char *ve = memchr(v, ' ', (size_t)(end - v));
            cr_assert(valid_value(v, ve ? ve : end), "line %d: bad value",
                      lineno + 1);
            samples++;
        }
        p = end + 1;
    }
    return samples;
}

/* ---- tests ---- */

Test(metrics, counter_increments_are_scraped_exactly)
{
    for (int i = 0; i < 3; i++)
        au_metrics_inc(m, AU_M_RECORDS_IN, 5);
    au_metrics_inc(m, AU_M_BATCHES_OUT, 2);
    char *body = scrape();
    cr_expect(has_line(body, "audora_records_in_total{component=\"test\"} 15"),
              "%s", body);
    cr_expect(has_line(body, "audora_batches_out_total{component=\"test\"} 2"));
    cr_expect(has_line(body, "audora_records_out_total{component=\"test\"} 0"));
    cr_expect(has_line(body, "# TYPE audora_records_in_total counter"));
    cr_expect(has_line(body, "# HELP audora_records_in_total Records "
                             "received."));
    free(body);
}

Test(metrics, labelled_counters_carry_reason_and_result)
{
    au_metrics_inc(m, AU_M_SKIPPED_DUPLICATE, 1);
    au_metrics_inc(m, AU_M_SKIPPED_GONE, 4);
    au_metrics_inc(m, AU_M_JOBS_DONE, 7);
    au_metrics_inc(m, AU_M_JOBS_FAILED, 1);
    au_metrics_inc(m, AU_M_RESCUED_JOBS, 3);
    char *body = scrape();
    cr_expect(has_line(body, "audora_batches_skipped_total{component=\"test\","
                             "reason=\"duplicate\"} 1"));
    cr_expect(has_line(body, "audora_batches_skipped_total{component=\"test\","
                             "reason=\"stale\"} 0"));
    cr_expect(has_line(body, "audora_batches_skipped_total{component=\"test\","
                             "reason=\"gone\"} 4"));
    cr_expect(has_line(body, "audora_jobs_total{component=\"test\","
                             "result=\"done\"} 7"));
    cr_expect(has_line(body, "audora_jobs_total{component=\"test\","
                             "result=\"failed\"} 1"));
    cr_expect(
        has_line(body, "audora_rescued_jobs_total{component=\"test\"} 3"));
    free(body);
}

Test(metrics, flush_histogram_buckets_are_cumulative_with_sum_and_count)
{
    /* 0.005 sits on a bound and belongs to it (le is "less or equal"). */
    const double obs[] = {0.003, 0.005, 0.02, 0.3, 7.0, -1.0};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        au_metrics_observe_flush(m, obs[i]);
    char *body = scrape();
    /* Worked out by hand: -1 counts as 0, so three are <= 0.005. */
    const struct {
        const char *le;
        double n;
    } want[] = {{"0.005", 3}, {"0.01", 3}, {"0.025", 4}, {"0.05", 4},
                {"0.1", 4},   {"0.25", 4}, {"0.5", 5},   {"1", 5},
                {"2.5", 5},   {"5", 5},    {"+Inf", 6}};
    char series[128];
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(series, sizeof(series),
                 "audora_db_flush_seconds_bucket{component=\"test\","
                 "le=\"%s\"}",
                 want[i].le);
        cr_expect_eq(sample(body, series), want[i].n, "%s", series);
    }
    cr_expect_eq(
        sample(body, "audora_db_flush_seconds_count{component=\"test\"}"), 6);
    double sum =
        sample(body, "audora_db_flush_seconds_sum{component=\"test\"}");
    cr_expect(sum > 7.327999 && sum < 7.328001, "sum %f", sum);
    cr_expect(has_line(body, "# TYPE audora_db_flush_seconds histogram"));
    free(body);
}

Test(metrics, errors_are_counted_by_code_and_zero_codes_are_omitted)
{
    au_metrics_error(m, AU_EPARSE);
    au_metrics_error(m, AU_EPARSE);
    au_metrics_error(m, AU_EUTF8);
    au_metrics_error(m, -9999);
    au_metrics_error(m, 0);
    au_metrics_error(m, 5);
    char *body = scrape();
    cr_expect(has_line(body, "audora_errors_total{component=\"test\","
                             "code=\"AU_EPARSE\"} 2"),
              "%s", body);
    cr_expect(has_line(body, "audora_errors_total{component=\"test\","
                             "code=\"AU_EUTF8\"} 1"));
    cr_expect(has_line(body, "audora_errors_total{component=\"test\","
                             "code=\"AU_EUNKNOWN\"} 1"));
    cr_expect_null(strstr(body, "code=\"AU_EDB\""));
    cr_expect_null(strstr(body, "code=\"AU_EOK\""));
    free(body);
}

Test(metrics, gauges_report_the_last_value_set)
{
    au_metrics_set(m, AU_G_QUEUE_DEPTH, 42);
    au_metrics_set(m, AU_G_LAG_SECONDS, 2.5);
    au_metrics_set(m, AU_G_LAG_SECONDS, 1.25);
    char *body = scrape();
    cr_expect(has_line(body, "audora_queue_depth{component=\"test\"} 42"));
    cr_expect_eq(sample(body, "audora_lag_seconds{component=\"test\"}"), 1.25);
    cr_expect(has_line(body, "# TYPE audora_lag_seconds gauge"));
    free(body);
}

Test(metrics, cache_and_pool_snapshots_are_reported)
{
    au_config_t cfg;
    au_config_defaults(&cfg);
    au_cache_t *cache = au_cache_new_with(NULL, NULL, &au_cache_local_backend,
                                          au_cache_local_new(16), &cfg);
    cr_assert_not_null(cache);
    char *val = NULL;
    size_t len = 0;
    cr_assert_eq(au_cache_get(cache, AU_CK_ARTIST, "k", &val, &len),
                 AU_ENOTFOUND);
    au_cache_set(cache, AU_CK_ARTIST, "k", "v", 1);
    cr_assert_eq(au_cache_get(cache, AU_CK_ARTIST, "k", &val, &len), 0);
    free(val);
    au_metrics_collect(m, cache, NULL);
    au_metrics_cache_snapshot(m, AU_CK_FEATURES, 10, 20);
    au_metrics_pool_snapshot(m, 3, 2, 9);
    au_cache_destroy(&cache);
    char *body = scrape();
    cr_expect(has_line(body, "audora_cache_hits_total{component=\"test\","
                             "kind=\"artist\"} 1"),
              "%s", body);
    cr_expect(has_line(body, "audora_cache_misses_total{component=\"test\","
                             "kind=\"artist\"} 1"));
    cr_expect(has_line(body, "audora_cache_hits_total{component=\"test\","
                             "kind=\"features\"} 10"));
    cr_expect(has_line(body, "audora_cache_misses_total{component=\"test\","
                             "kind=\"features\"} 20"));
    cr_expect(has_line(
        body, "audora_db_pool_open_connections{component=\"test\"} 3"));
    cr_expect(has_line(
        body, "audora_db_pool_idle_connections{component=\"test\"} 2"));
    cr_expect(has_line(body, "audora_db_pool_timeouts_total{component=\"test\"}"
                             " 9"));
    free(body);
}

Test(metrics, exposition_is_valid_text_format)
{
    au_metrics_t *w = au_metrics_new("ingest", "ingest@h\"q\\:1\n");
    cr_assert_not_null(w);
    au_error_t err = {0};
    cr_assert_eq(au_metrics_serve(w, "127.0.0.1", 0, &err), 0, "%s", err.msg);
    au_metrics_inc(w, AU_M_RECORDS_IN, 1);
    au_metrics_error(w, AU_EDB);
    au_metrics_error(w, -77);
    au_metrics_observe_flush(w, 0.2);
    au_metrics_set(w, AU_G_LAG_SECONDS, 0.1);
    au_metrics_set(w, AU_G_QUEUE_DEPTH, 1.0 / 0.0);
    long status;
    char *body, ctype[128];
    CURLcode rc = request(au_metrics_port(w), "GET", "/metrics", &status, &body,
                          ctype, sizeof(ctype));
    au_metrics_destroy(&w);
    cr_assert_eq(rc, CURLE_OK);
    cr_expect_eq(status, 200);
    cr_expect_eq(strncmp(ctype, "text/plain; version=0.0.4", 25), 0, "%s",
                 ctype);
    /* 15 counters, 2 gauges, 2 errors, 13 histogram lines, 2 * 6 cache
     * kinds, 3 pool lines, worker_info and 6 process_* lines. */
    int lines = check_exposition(body);
    cr_expect_eq(lines, 15 + 2 + 2 + 13 + 2 * AU_CK__COUNT + 3 + 1 + 6,
                 "%d lines", lines);
    cr_expect(has_line(body, "audora_worker_info{component=\"ingest\","
                             "worker_id=\"ingest@h\\\"q\\\\:1\\n\","
                             "version=\"" AU_VERSION "\"} 1"),
              "%s", body);
    /* This very process, as the kernel counts it. */
    cr_expect_gt(sample(body, "process_resident_memory_bytes"), 1e6);
    cr_expect_gt(sample(body, "process_open_fds"), 3);
    double started = sample(body, "process_start_time_seconds");
    cr_expect(started > time(NULL) - 3600 && started <= time(NULL) + 1, "%f",
              started);
    cr_expect_geq(sample(body, "process_cpu_seconds_total"), 0);
    cr_expect(has_line(body, "audora_queue_depth{component=\"ingest\"} +Inf"));
    cr_expect_eq(sample(body, "audora_lag_seconds{component=\"ingest\"}"), 0.1);
    free(body);
}

Test(metrics, readyz_answers_503_until_set_ready)
{
    long status;
    char *body;
    int port = au_metrics_port(m);
    cr_assert_eq(request(port, "GET", "/readyz", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 503);
    cr_expect_str_eq(body, "not ready\n");
    free(body);
    au_metrics_set_ready(m, 1);
    cr_assert_eq(request(port, "GET", "/readyz", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(body, "ready\n");
    free(body);
    au_metrics_set_ready(m, 0);
    cr_assert_eq(request(port, "GET", "/readyz", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 503);
    free(body);
}

/* `audora health` runs the readiness check of a container: its exit status
 * follows /readyz, found from the configuration or given as --url. */
static int health(const char *env, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "env %s %s/audora health %s >/dev/null 2>&1",
             env, au_test_build_dir(), args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(metrics, audora_health_exits_0_only_while_ready)
{
    char env[128], url[128];
    int port = au_metrics_port(m);
    snprintf(env, sizeof(env), "AUDORA_METRICS__PORT=%d", port);
    snprintf(url, sizeof(url), "--url http://127.0.0.1:%d/readyz", port);
    cr_expect_eq(health(env, ""), 1, "not ready yet");
    cr_expect_eq(health("AUDORA_METRICS__PORT=0", url), 1);
    au_metrics_set_ready(m, 1);
    cr_expect_eq(health(env, ""), 0);
    cr_expect_eq(health("AUDORA_METRICS__BIND=0.0.0.0", url), 0);
    au_metrics_set_ready(m, 0);
    cr_expect_eq(health(env, ""), 1, "draining");
    cr_expect_eq(health("AUDORA_METRICS__PORT=0", ""), 2, "nothing to ask");
    cr_expect_eq(health(env, "--url http://127.0.0.1:1/readyz"), 1,
                 "nothing listening");
}

Test(metrics, healthz_answers_ok)
{
    long status;
    char *body;
    cr_assert_eq(
        request(au_metrics_port(m), "GET", "/healthz", &status, &body, NULL, 0),
        CURLE_OK);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(body, "ok\n");
    free(body);
}

Test(metrics, unknown_path_is_404)
{
    long status;
    char *body;
    cr_assert_eq(request(au_metrics_port(m), "GET", "/metricsx", &status, &body,
                         NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 404);
    free(body);
}

Test(metrics, methods_other_than_get_and_head_are_405)
{
    long status;
    char *body;
    int port = au_metrics_port(m);
    cr_assert_eq(request(port, "POST", "/metrics", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 405);
    free(body);
    cr_assert_eq(request(port, "DELETE", "/readyz", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 405);
    free(body);
    cr_assert_eq(request(port, "HEAD", "/metrics", &status, &body, NULL, 0),
                 CURLE_OK);
    cr_expect_eq(status, 200);
    cr_expect_eq(body[0], '\0');
    free(body);
}

/* Two writers, so that an increment which is not atomic loses counts
 * (one writer alone could not show it). */
#define SPIN_THREADS 2
#define SPIN_N 500000

static atomic_int spin_left;

static void *spin(void *arg)
{
    for (int i = 0; i < SPIN_N; i++)
        au_metrics_inc(arg, AU_M_RECORDS_OUT, 1);
    atomic_fetch_sub(&spin_left, 1);
    return NULL;
}

Test(metrics, concurrent_increments_and_scrapes_lose_nothing)
{
    atomic_init(&spin_left, SPIN_THREADS);
    pthread_t t[SPIN_THREADS];
    for (int i = 0; i < SPIN_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, spin, m), 0);
    const char *series = "audora_records_out_total{component=\"test\"}";
    const double total = (double)SPIN_THREADS * SPIN_N;
    double last = 0;
    int scrapes = 0;
    do {
        char *body = scrape();
        double v = sample(body, series);
        free(body);
        cr_expect(v >= last && v <= total, "went from %.0f to %.0f", last, v);
        last = v;
        scrapes++;
    } while (atomic_load(&spin_left) > 0);
    for (int i = 0; i < SPIN_THREADS; i++)
        pthread_join(t[i], NULL);
    char *body = scrape();
    cr_expect_eq(sample(body, series), total);
    free(body);
    cr_log_info("%d scrapes during the increments", scrapes);
}

Test(metrics, destroy_stops_the_server)
{
    int port = au_metrics_port(m);
    long status;
    char *body;
    cr_assert_eq(request(port, "GET", "/healthz", &status, &body, NULL, 0),
                 CURLE_OK);
    free(body);
    au_metrics_destroy(&m);
    cr_assert_null(m);
    CURLcode rc = request(port, "GET", "/healthz", &status, &body, NULL, 0);
    free(body);
    cr_expect_eq(rc, CURLE_COULDNT_CONNECT, "%s", curl_easy_strerror(rc));
    au_metrics_destroy(&m);
}

Test(metrics, serve_rejects_bad_address_busy_port_and_second_start)
{
    au_error_t err = {0};
    cr_expect_eq(au_metrics_serve(m, "127.0.0.1", 0, &err), AU_EINVAL);
    au_metrics_t *other = au_metrics_new("other", NULL);
    cr_assert_not_null(other);
    cr_expect_eq(au_metrics_port(other), 0);
    cr_expect_eq(au_metrics_serve(other, "localhost", 0, &err), AU_EINVAL);
    cr_expect_eq(au_metrics_serve(other, "127.0.0.1", 70000, &err), AU_EINVAL);
    cr_expect_eq(au_metrics_serve(other, "127.0.0.1", au_metrics_port(m), &err),
                 AU_EIO);
    cr_expect_neq(strstr(err.msg, "cannot listen"), NULL, "%s", err.msg);
    cr_expect_eq(au_metrics_port(other), 0);
    au_metrics_destroy(&other);
}

Test(metrics, null_object_updates_are_ignored)
{
    au_metrics_inc(NULL, AU_M_RECORDS_IN, 1);
    au_metrics_set(NULL, AU_G_LAG_SECONDS, 1);
    au_metrics_error(NULL, AU_EIO);
    au_metrics_observe_flush(NULL, 1);
    au_metrics_set_ready(NULL, 1);
    au_metrics_cache_snapshot(NULL, AU_CK_ARTIST, 1, 1);
    au_metrics_pool_snapshot(NULL, 1, 1, 1);
    au_metrics_collect(NULL, NULL, NULL);
    cr_expect_eq(au_metrics_port(NULL), 0);
    au_metrics_t *none = NULL;
    au_metrics_destroy(&none);
}

/* Thread ids of this process, as a bitmap over the first 4M ids. */
static void list_tasks(unsigned char *seen, size_t cap)
{
    memset(seen, 0, cap);
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid > 0 && (size_t)tid / 8 < cap)
            seen[tid / 8] |= (unsigned char)(1u << (tid % 8));
    }
    closedir(d);
}

/* SigBlk of one thread, from /proc. */
static unsigned long long blocked_signals(long tid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    unsigned long long mask = 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "SigBlk:", 7) == 0)
            mask = strtoull(line + 7, NULL, 16);
    fclose(f);
    return mask;
}

Test(metrics, server_thread_leaves_sigterm_to_the_worker)
{
    enum { CAP = 1 << 19 };
    unsigned char *before = malloc(CAP), *after = malloc(CAP);
    cr_assert(before && after);
    /* The runner may block signals already; a worker does not. */
    sigset_t term, saved;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &term, &saved);
    au_metrics_t *w = au_metrics_new("w", NULL);
    cr_assert_not_null(w);
    list_tasks(before, CAP);
    au_error_t err = {0};
    cr_assert_eq(au_metrics_serve(w, "127.0.0.1", 0, &err), 0, "%s", err.msg);
    list_tasks(after, CAP);
    int found = 0;
    for (long tid = 1; tid < CAP * 8L; tid++) {
        int bit = 1 << (tid % 8);
        if (!(after[tid / 8] & bit) || (before[tid / 8] & bit))
            continue;
        unsigned long long mask = blocked_signals(tid);
        cr_expect(mask & (1ull << (SIGTERM - 1)), "tid %ld: %llx", tid, mask);
        cr_expect(mask & (1ull << (SIGINT - 1)), "tid %ld: %llx", tid, mask);
        found++;
    }
    cr_expect_gt(found, 0, "no new thread seen");
    /* And the caller's own mask is back as it was. */
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    cr_expect_eq(sigismember(&now, SIGTERM), 0);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    au_metrics_destroy(&w);
    free(before);
    free(after);
}
