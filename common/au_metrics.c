#include "au_metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "au_zmq.h"

/* Codes run 0, -1, -2, ... (the table is append-only; a retired code
 * leaves a hole), so -code indexes them; slot 0 (AU_OK is never counted)
 * holds codes outside the table. Every code must fit: */
#define AU__M_NERR 64
#define AU__M_ERR_FITS(name, val, msg)                                         \
    _Static_assert(-(val) < AU__M_NERR, "AU_E" #name " needs more slots");
AU_ERRNO_MAP(AU__M_ERR_FITS)
#undef AU__M_ERR_FITS

/* Upper bounds of db_flush_seconds, in microseconds so that an
 * observation is compared with integers, plus the same as label text. */
static const uint64_t flush_le_us[] = {5000,    10000,  25000,  50000,
                                       100000,  250000, 500000, 1000000,
                                       2500000, 5000000};
static const char *const flush_le_txt[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"};
#define AU__M_NLE (sizeof(flush_le_us) / sizeof(flush_le_us[0]))

/* One line per counter; counters of one family are adjacent so that the
 * family gets one HELP and one TYPE line. */
static const struct {
    const char *name, *label, *help;
} counter_desc[AU_M__COUNT] = {
    [AU_M_RECORDS_IN] = {"records_in_total", NULL, "Records received."},
    [AU_M_RECORDS_OUT] = {"records_out_total", NULL,
                          "Records sent on or written."},
    [AU_M_BATCHES_IN] = {"batches_in_total", NULL, "Batches received."},
    [AU_M_BATCHES_OUT] = {"batches_out_total", NULL,
                          "Batches sent on or written."},
    [AU_M_SKIPPED_DUPLICATE] = {"batches_skipped_total", "reason=\"duplicate\"",
                                "Batches dropped without effect, by reason."},
    [AU_M_SKIPPED_STALE] = {"batches_skipped_total", "reason=\"stale\"", NULL},
    [AU_M_SKIPPED_GONE] = {"batches_skipped_total", "reason=\"gone\"", NULL},
    [AU_M_SKIPPED_MISMATCH] = {"batches_skipped_total", "reason=\"mismatch\"",
                               NULL},
    [AU_M_RETRIES] = {"retries_total", NULL,
                      "Jobs handed back to the queue for another attempt."},
    [AU_M_RESCUED_JOBS] = {"rescued_jobs_total", NULL,
                           "Expired leases the sweeper requeued."},
    [AU_M_DEAD_JOBS] = {"dead_jobs_total", NULL,
                        "Jobs moved to the dead letters."},
    [AU_M_JOBS_DONE] = {"jobs_total", "result=\"done\"",
                        "Jobs finished, by result."},
    [AU_M_JOBS_FAILED] = {"jobs_total", "result=\"failed\"", NULL},
    [AU_M_BYTES_OUT] = {"bytes_out_total", NULL,
                        "Message bytes forwarded (relays)."},
    [AU_M_RESTARTS] = {"restarts_total", NULL,
                       "Children that failed and were started again "
                       "(supervisor)."},
};

static const struct {
    const char *name, *help;
} gauge_desc[AU_G__COUNT] = {
    [AU_G_QUEUE_DEPTH] = {"queue_depth", "Jobs ready to be claimed."},
    [AU_G_LAG_SECONDS] = {"lag_seconds",
                          "Age of the oldest work not yet processed."},
};

struct au_metrics_t {
    char *component_label; /* component="..." escaped, ready to print */
    char *worker_label;    /* worker_id="..." or NULL */
    struct MHD_Daemon *daemon;
    atomic_int ready;
    atomic_uint_fast64_t counters[AU_M__COUNT];
    atomic_uint_fast64_t gauges[AU_G__COUNT]; /* bits of a double */
    atomic_uint_fast64_t errors[AU__M_NERR];
    atomic_uint_fast64_t flush_buckets[AU__M_NLE + 1]; /* not cumulative */
    atomic_uint_fast64_t flush_sum_us;
    atomic_uint_fast64_t cache_hits[AU_CK__COUNT];
    atomic_uint_fast64_t cache_misses[AU_CK__COUNT];
    atomic_uint_fast64_t pool_open, pool_idle, pool_timeouts;
    /* HTTP services: written by the worker's tick, read by a scrape. */
    pthread_mutex_t http_mu;
    int nhttp;
    struct {
        char label[80]; /* service="..." */
        au_metrics_http_t v;
    } http[AU_METRICS_HTTP_MAX];
};

/* name="value" with the value escaped as the exposition format asks. */
/* name="value"[,name2="value2"], the values escaped as the text format
 * asks. */
static char *label_new(const char *name, const char *value, const char *name2,
                       const char *value2)
{
    size_t cap = strlen(name) + 2 * strlen(value) + 8 +
                 (name2 ? strlen(name2) + 2 * strlen(value2) : 0);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        const char *nm = k ? name2 : name, *v = k ? value2 : value;
        if (!nm)
            break;
        n += (size_t)snprintf(out + n, cap - n, "%s%s=\"", k ? "," : "", nm);
        for (const char *p = v; *p; p++) {
            if (*p == '\\' || *p == '"' || *p == '\n') {
                out[n++] = '\\';
                out[n++] = *p == '\n' ? 'n' : *p;
            } else {
                out[n++] = *p;
            }
        }
        out[n++] = '"';
    }
    out[n] = '\0';
    return out;
}

au_metrics_t *au_metrics_new(const char *component, const char *worker_id)
{
    assert(component);
    au_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->component_label = label_new("component", component, NULL, NULL);
    if (worker_id)
        m->worker_label =
            label_new("worker_id", worker_id, "version", AU_VERSION);
    if (!m->component_label || (worker_id && !m->worker_label)) {
        au_metrics_destroy(&m);
        return NULL;
    }
    /* calloc gives zero bits, which is 0.0 for the gauges; the atomics
     * are still initialised properly for the sake of the standard. */
    pthread_mutex_init(&m->http_mu, NULL);
    for (int i = 0; i < AU_M__COUNT; i++)
        atomic_init(&m->counters[i], 0);
    for (int i = 0; i < AU_G__COUNT; i++)
        atomic_init(&m->gauges[i], 0);
    for (int i = 0; i < AU__M_NERR; i++)
        atomic_init(&m->errors[i], 0);
    for (size_t i = 0; i <= AU__M_NLE; i++)
        atomic_init(&m->flush_buckets[i], 0);
    for (int i = 0; i < AU_CK__COUNT; i++) {
        atomic_init(&m->cache_hits[i], 0);
        atomic_init(&m->cache_misses[i], 0);
    }
    atomic_init(&m->flush_sum_us, 0);
    atomic_init(&m->pool_open, 0);
    atomic_init(&m->pool_idle, 0);
    atomic_init(&m->pool_timeouts, 0);
    atomic_init(&m->ready, 0);
    return m;
}

void au_metrics_destroy(au_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_metrics_t *m = *self_p;
    /* Joins the HTTP thread, so no scrape can read m after the free. */
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->http_mu);
    free(m->component_label);
    free(m->worker_label);
    free(m);
    *self_p = NULL;
}

/* ---- updates: relaxed atomics, since each value stands alone ---- */

static void add(atomic_uint_fast64_t *a, uint64_t n)
{
    atomic_fetch_add_explicit(a, n, memory_order_relaxed);
}

static void store(atomic_uint_fast64_t *a, uint64_t v)
{
    atomic_store_explicit(a, v, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

void au_metrics_inc(au_metrics_t *m, au_metric_t which, uint64_t n)
{
    assert(which >= 0 && which < AU_M__COUNT);
    if (m)
        add(&m->counters[which], n);
}

void au_metrics_set(au_metrics_t *m, au_gauge_t which, double value)
{
    assert(which >= 0 && which < AU_G__COUNT);
    if (!m)
        return;
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    store(&m->gauges[which], bits);
}

void au_metrics_error(au_metrics_t *m, int code)
{
    if (!m || code >= 0)
        return;
    /* Written as -(code + 1) < N - 1 so INT_MIN does not overflow. */
    int slot = -(code + 1) < AU__M_NERR - 1 ? -code : 0;
    add(&m->errors[slot], 1);
}

void au_metrics_observe_flush(au_metrics_t *m, double seconds)
{
    if (!m)
        return;
    uint64_t us = 0;
    /* The comparison also turns NaN into 0; the cap keeps the conversion
     * defined for absurd values (a year is already absurd). */
    if (seconds > 0)
        us = seconds > 1e9 ? (uint64_t)1e15 : (uint64_t)llround(seconds * 1e6);
    size_t i = 0;
    while (i < AU__M_NLE && us > flush_le_us[i])
        i++;
    add(&m->flush_buckets[i], 1);
    add(&m->flush_sum_us, us);
}

void au_metrics_set_ready(au_metrics_t *m, int ready)
{
    if (m)
        atomic_store(&m->ready, ready != 0);
}

void au_metrics_cache_snapshot(au_metrics_t *m, au_cache_kind_t kind,
                               uint64_t hits, uint64_t misses)
{
    assert(kind >= 0 && kind < AU_CK__COUNT);
    if (!m)
        return;
    store(&m->cache_hits[kind], hits);
    store(&m->cache_misses[kind], misses);
}

void au_metrics_pool_snapshot(au_metrics_t *m, int open, int idle,
                              uint64_t timeouts)
{
    if (!m)
        return;
    store(&m->pool_open, open > 0 ? (uint64_t)open : 0);
    store(&m->pool_idle, idle > 0 ? (uint64_t)idle : 0);
    store(&m->pool_timeouts, timeouts);
}

void au_metrics_collect(au_metrics_t *m, const au_cache_t *cache,
                        au_pool_t *pool)
{
    if (!m)
        return;
    for (int k = 0; cache && k < AU_CK__COUNT; k++) {
        au_cache_stats_t st;
        au_cache_stats(cache, (au_cache_kind_t)k, &st);
        au_metrics_cache_snapshot(m, (au_cache_kind_t)k, st.hits, st.misses);
    }
    if (pool) {
        au_pool_stats_t st;
        au_pool_stats(pool, &st);
        au_metrics_pool_snapshot(m, st.open, st.idle, st.timeouts);
    }
}

/* ---- rendering ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf_t;

static void put(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(buf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        assert(n >= 0);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void family(buf_t *b, const char *name, const char *type,
                   const char *help)
{
    put(b, "# HELP audora_%s %s\n# TYPE audora_%s %s\n", name, help, name,
        type);
}

/* One sample: audora_<name>{component="..."[,<extra>]} */
static void series(buf_t *b, const au_metrics_t *m, const char *name,
                   const char *extra)
{
    put(b, "audora_%s{%s%s%s} ", name, m->component_label, extra ? "," : "",
        extra ? extra : "");
}

/* Shortest text that reads back as the same double; the format spells
 * the non-finite values NaN, +Inf and -Inf. */
static void put_double(buf_t *b, double v)
{
    if (isnan(v)) {
        put(b, "NaN\n");
        return;
    }
    if (isinf(v)) {
        put(b, "%sInf\n", v > 0 ? "+" : "-");
        return;
    }
    char txt[32];
    snprintf(txt, sizeof(txt), "%.15g", v);
    if (strtod(txt, NULL) != v)
        snprintf(txt, sizeof(txt), "%.17g", v);
    put(b, "%s\n", txt);
}

static void render_counters(buf_t *b, au_metrics_t *m)
{
    for (int i = 0; i < AU_M__COUNT; i++) {
        if (counter_desc[i].help)
            family(b, counter_desc[i].name, "counter", counter_desc[i].help);
        series(b, m, counter_desc[i].name, counter_desc[i].label);
        put(b, "%" PRIu64 "\n", load(&m->counters[i]));
    }
}

static void render_gauges(buf_t *b, au_metrics_t *m)
{
    for (int i = 0; i < AU_G__COUNT; i++) {
        double v;
        uint64_t bits = load(&m->gauges[i]);
        memcpy(&v, &bits, sizeof(v));
        family(b, gauge_desc[i].name, "gauge", gauge_desc[i].help);
        series(b, m, gauge_desc[i].name, NULL);
        put_double(b, v);
    }
}

static void render_errors(buf_t *b, au_metrics_t *m)
{
    family(b, "errors_total", "counter", "Failures, by error code.");
    char label[64];
    for (int i = 1; i <= AU__M_NERR; i++) {
        /* The unknown slot 0 goes last, as i == AU__M_NERR. */
        int slot = i % AU__M_NERR;
        uint64_t v = load(&m->errors[slot]);
        if (!v)
            continue;
        snprintf(label, sizeof(label), "code=\"%s\"",
                 slot ? au_err_name(-slot) : "AU_EUNKNOWN");
        series(b, m, "errors_total", label);
        put(b, "%" PRIu64 "\n", v);
    }
}

static void render_flush(buf_t *b, au_metrics_t *m)
{
    family(b, "db_flush_seconds", "histogram",
           "Time to write one batch to the database.");
    /* The count is the sum of the buckets as read here, so +Inf and
     * _count agree even while the worker observes concurrently. */
    uint64_t cum = 0;
    char label[32];
    for (size_t i = 0; i <= AU__M_NLE; i++) {
        cum += load(&m->flush_buckets[i]);
        snprintf(label, sizeof(label), "le=\"%s\"",
                 i < AU__M_NLE ? flush_le_txt[i] : "+Inf");
        series(b, m, "db_flush_seconds_bucket", label);
        put(b, "%" PRIu64 "\n", cum);
    }
    uint64_t us = load(&m->flush_sum_us);
    series(b, m, "db_flush_seconds_sum", NULL);
    put(b, "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
    series(b, m, "db_flush_seconds_count", NULL);
    put(b, "%" PRIu64 "\n", cum);
}

static void render_cache(buf_t *b, au_metrics_t *m)
{
    const char *fam[2] = {"cache_hits_total", "cache_misses_total"};
    const char *help[2] = {"Cache hits, by kind.", "Cache misses, by kind."};
    atomic_uint_fast64_t *vals[2] = {m->cache_hits, m->cache_misses};
    char label[64];
    for (int f = 0; f < 2; f++) {
        family(b, fam[f], "counter", help[f]);
        for (int k = 0; k < AU_CK__COUNT; k++) {
            snprintf(label, sizeof(label), "kind=\"%s\"",
                     au_cache_kind_name((au_cache_kind_t)k));
            series(b, m, fam[f], label);
            put(b, "%" PRIu64 "\n", load(&vals[f][k]));
        }
    }
}

static void render_pool(buf_t *b, au_metrics_t *m)
{
    family(b, "db_pool_open_connections", "gauge",
           "Database connections open.");
    series(b, m, "db_pool_open_connections", NULL);
    put(b, "%" PRIu64 "\n", load(&m->pool_open));
    family(b, "db_pool_idle_connections", "gauge",
           "Database connections open and not borrowed.");
    series(b, m, "db_pool_idle_connections", NULL);
    put(b, "%" PRIu64 "\n", load(&m->pool_idle));
    family(b, "db_pool_timeouts_total", "counter",
           "Checkouts that found the pool exhausted.");
    series(b, m, "db_pool_timeouts_total", NULL);
    put(b, "%" PRIu64 "\n", load(&m->pool_timeouts));
}

void au_metrics_http_snapshot(au_metrics_t *m, const char *service,
                              const au_metrics_http_t *v)
{
    if (!m || !service)
        return;
    char label[80];
    snprintf(label, sizeof(label), "service=\"%.60s\"", service);
    pthread_mutex_lock(&m->http_mu);
    int i = 0;
    while (i < m->nhttp && strcmp(m->http[i].label, label) != 0)
        i++;
    if (i == m->nhttp && m->nhttp < AU_METRICS_HTTP_MAX)
        snprintf(m->http[m->nhttp++].label, sizeof(label), "%s", label);
    if (i < m->nhttp)
        m->http[i].v = *v;
    pthread_mutex_unlock(&m->http_mu);
}

static void render_http(buf_t *b, au_metrics_t *m)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"http_requests_total", "counter", "HTTP requests sent, by service."},
        {"http_retries_total", "counter",
         "Requests sent again after a "
         "failure, by service."},
        {"http_throttled_total", "counter", "429 answers, by service."},
        {"http_failures_total", "counter",
         "Requests that ended in an error, by service."},
        {"http_breaker_opens_total", "counter",
         "Times a service's circuit breaker opened."},
        {"http_limiter_wait_seconds_total", "counter",
         "Time spent waiting for a service's shared rate limit."},
        {"http_breaker_state", "gauge",
         "A service's circuit breaker: 0 closed, 1 open, 2 half-open."},
    };
    pthread_mutex_lock(&m->http_mu);
    for (size_t f = 0; m->nhttp > 0 && f < sizeof(fam) / sizeof(fam[0]); f++) {
        family(b, fam[f].name, fam[f].type, fam[f].help);
        for (int i = 0; i < m->nhttp; i++) {
            const au_metrics_http_t *v = &m->http[i].v;
            series(b, m, fam[f].name, m->http[i].label);
            uint64_t x = f == 0   ? v->requests
                         : f == 1 ? v->retries
                         : f == 2 ? v->throttled
                         : f == 3 ? v->failures
                         : f == 4 ? v->breaker_opens
                         : f == 6 ? (uint64_t)v->breaker
                                  : 0;
            if (f == 5)
                put(b, "%" PRIu64 ".%03" PRIu64 "\n", v->limiter_wait_ms / 1000,
                    v->limiter_wait_ms % 1000);
            else
                put(b, "%" PRIu64 "\n", x);
        }
    }
    pthread_mutex_unlock(&m->http_mu);
}

/* The process_* families every Prometheus client exports, from /proc:
 * CPU time, memory, start time, file descriptors. Unprefixed, so that
 * the usual dashboards find them. */
static void render_process(buf_t *b)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char line[1024];
    size_t n = f ? fread(line, 1, sizeof(line) - 1, f) : 0;
    if (f)
        fclose(f);
    line[n] = '\0';
    /* Fields after the command name, which may hold spaces: from ") ".
     * Token k there is field k + 3 of proc(5): utime 14, stime 15,
     * starttime 22, vsize 23, rss 24. */
    const char *p = strrchr(line, ')');
    unsigned long long v[22] = {0};
    int got = 0;
    for (const char *t = p ? p + 2 : ""; *t && got < 22; got++) {
        char *end;
        v[got] = strtoull(t, &end, 10); /* the state letter reads as 0 */
        t = end + strcspn(end, " ");
        t += *t == ' ';
    }
    unsigned long long utime = v[11], stime = v[12], start = v[19],
                       vsize = v[20];
    long long rss = (long long)v[21];
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    double boot = 0;
    f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "btime ", 6))
            boot = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        fds += e->d_name[0] != '.';
    if (d)
        closedir(d);
    struct rlimit rl;
    double maxfds =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
    if (got != 22 || tick <= 0 || page <= 0)
        return;
    put(b,
        "# HELP process_cpu_seconds_total User and system CPU time.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total %.2f\n",
        (double)(utime + stime) / (double)tick);
    put(b,
        "# HELP process_resident_memory_bytes Resident memory.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %lld\n",
        rss * page);
    put(b,
        "# HELP process_virtual_memory_bytes Virtual memory.\n"
        "# TYPE process_virtual_memory_bytes gauge\n"
        "process_virtual_memory_bytes %llu\n",
        vsize);
    put(b,
        "# HELP process_start_time_seconds Start time, Unix seconds.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %.2f\n",
        boot + (double)start / (double)tick);
    put(b,
        "# HELP process_open_fds Open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds %ld\n",
        fds);
    put(b,
        "# HELP process_max_fds The file descriptor limit.\n"
        "# TYPE process_max_fds gauge\n"
        "process_max_fds %.0f\n",
        maxfds);
}

int au_metrics_render(au_metrics_t *m, char **out, size_t *len)
{
    buf_t b = {malloc(8192), 0, 8192, 0};
    if (!b.p)
        return AU_ENOMEM;
    if (m->worker_label) {
        family(&b, "worker_info", "gauge",
               "The worker behind this port and its version.");
        series(&b, m, "worker_info", m->worker_label);
        put(&b, "1\n");
    }
    render_process(&b);
    render_counters(&b, m);
    render_gauges(&b, m);
    render_errors(&b, m);
    render_flush(&b, m);
    render_cache(&b, m);
    render_pool(&b, m);
    render_http(&b, m);
    if (b.oom) {
        free(b.p);
        return AU_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *ctype, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_metrics(struct MHD_Connection *conn,
                                     au_metrics_t *m)
{
    char *body;
    size_t len;
    if (au_metrics_render(m, &body, &len) < 0)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                     "out of memory\n");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    au_metrics_t *m = cls;
    /* Answering on the first call is fine for every route: none reads a
     * body, and MHD discards or refuses whatever upload follows. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return reply_metrics(conn, m);
    if (strcmp(url, "/healthz") == 0)
        return reply(conn, MHD_HTTP_OK, "text/plain", "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        /* The stop flag is read here too, so the answer turns 503 the
         * moment SIGTERM lands, not when the worker loop next looks. */
        if (atomic_load(&m->ready) && !au_stop_requested)
            return reply(conn, MHD_HTTP_OK, "text/plain", "ready\n");
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                     au_stop_requested ? "draining\n" : "not ready\n");
    }
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

int au_metrics_serve(au_metrics_t *m, const char *bind, int port,
                     au_error_t *err)
{
    if (m->daemon)
        return au_error_set(err, AU_EINVAL, "metrics: already serving");
    if (port < 0 || port > 65535)
        return au_error_set(err, AU_EINVAL, "metrics: port %d out of range",
                            port);
    struct sockaddr_in a4 = {0};
    struct sockaddr_in6 a6 = {0};
    struct sockaddr *sa = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (inet_pton(AF_INET, bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return au_error_set(err, AU_EINVAL,
                            "metrics: bind \"%s\" is not a numeric IPv4 or "
                            "IPv6 address",
                            bind);
    }
    /* The server thread inherits this thread's signal mask. Blocking all
     * signals while it starts keeps SIGTERM and SIGINT for the worker
     * thread, whose blocking calls must be interrupted by them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    errno = 0;
    m->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!m->daemon)
        return au_error_set(err, AU_EIO, "metrics: cannot listen on %s:%d: %s",
                            bind, port,
                            saved ? strerror(saved) : "server did not start");
    return 0;
}

int au_metrics_port(au_metrics_t *m)
{
    if (!m || !m->daemon)
        return 0;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
