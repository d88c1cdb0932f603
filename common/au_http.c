#include "au_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "au_log.h"
#include "au_ratelimit.h"
#include "au_zmq.h"

typedef struct {
    char name[64];
    double rate;
    int burst;
    int fails;            /* failures in a row */
    long long open_until; /* monotonic ms; breaker open before this */
    au_http_stats_t st;
} service_t;

struct au_http_t {
    CURL *easy;
    au_ratelimit_t *limit;
    char agent[AU_CFG_STR + 64];
    int connect_ms, timeout_ms, deadline_ms, retries;
    int backoff_base_ms, backoff_max_ms;
    int breaker_failures, breaker_cooldown_ms;
    size_t max_bytes;
    uint64_t rng;
    service_t svc[AU_HTTP_MAX_SERVICES];
    int nsvc;
};

/* What one attempt brought back, before it is judged. */
typedef struct {
    au_http_resp_t *resp;
    size_t cap;     /* http.max_response_bytes */
    int over;       /* the answer was larger */
    double retry_s; /* Retry-After, -1 when absent */
    char errbuf[CURL_ERROR_SIZE];
} attempt_t;

void au_http_resp_clear(au_http_resp_t *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- redaction ----------------------------------------------------------- */

static int secret_param(const char *name, size_t n)
{
    static const char *const names[] = {
        "api_key", "key",           "token",    "access_token",
        "secret",  "client_secret", "password", "sig"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
            return 1;
    return 0;
}

int au_http_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (n + (plain ? 1 : 3) >= cap)
            return AU_ETOOBIG;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    if (cap == 0)
        return AU_ETOOBIG;
    out[n] = '\0';
    return 0;
}

void au_http_redact(const char *url, char *out, size_t cap)
{
    if (!cap)
        return;
    size_t o = 0;
    const char *p = url ? url : "";
    /* user:password@ in the authority */
    const char *scheme = strstr(p, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', alen);
        if (at) {
            o = (size_t)snprintf(out, cap, "%.*s***@", (int)(auth - p), p);
            p = at + 1;
        }
    }
    int in_query = 0;
    while (*p && o + 1 < cap) {
        char c = *p;
        if (c == '?' || (in_query && c == '&')) {
            in_query = 1;
            out[o++] = c;
            p++;
            size_t n = strcspn(p, "=&#");
            if (p[n] == '=' && secret_param(p, n)) {
                int w = snprintf(out + o, cap - o, "%.*s=***", (int)n, p);
                o += w > 0 ? (size_t)w : 0;
                p += n + 1;
                p += strcspn(p, "&#");
            }
            continue;
        }
        out[o++] = c;
        p++;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

double au_http_retry_after(const char *value, double now_s)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        double s = strtod(value, &end);
        return end != value && s >= 0 && s < 86400 ? s : -1;
    }
    time_t t = curl_getdate(value, NULL);
    if (t < 0)
        return -1;
    double d = (double)t - now_s;
    return d > 0 ? d : 0;
}

/* ---- setup -------------------------------------------------------------- */

au_http_t *au_http_new(const au_config_t *cfg, au_cache_t *cache,
                       au_error_t *err)
{
    au_http_t *h = calloc(1, sizeof(*h));
    if (!h) {
        au_error_set(err, AU_ENOMEM, "http: out of memory");
        return NULL;
    }
    h->easy = curl_easy_init();
    h->limit = au_ratelimit_new(cache, cfg->http.fleet_size);
    if (!h->easy || !h->limit) {
        au_http_destroy(&h);
        au_error_set(err, AU_EIO, "http: libcurl cannot start");
        return NULL;
    }
    if (cfg->http.contact[0])
        snprintf(h->agent, sizeof(h->agent), "audora/%s (%s)", AU_VERSION,
                 cfg->http.contact);
    else
        snprintf(h->agent, sizeof(h->agent), "audora/%s", AU_VERSION);
    h->connect_ms = cfg->http.connect_timeout_ms;
    h->timeout_ms = cfg->http.timeout_ms;
    /* A request with its retries must end well inside the job's lease,
     * which the caller extends between requests (au_ctx_t.keep). */
    h->deadline_ms = cfg->http.deadline_ms;
    if (h->deadline_ms > cfg->queue.lease_s * 1000 / 3)
        h->deadline_ms = cfg->queue.lease_s * 1000 / 3;
    h->retries = cfg->http.retries;
    h->backoff_base_ms = cfg->http.backoff_base_ms;
    h->backoff_max_ms = cfg->http.backoff_max_ms;
    h->breaker_failures = cfg->http.breaker_failures;
    h->breaker_cooldown_ms = cfg->http.breaker_cooldown_ms;
    h->max_bytes = (size_t)cfg->http.max_response_bytes;
    h->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b9;
    return h;
}

void au_http_destroy(au_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_http_t *h = *self_p;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    au_ratelimit_destroy(&h->limit);
    free(h);
    *self_p = NULL;
}

static service_t *find(const au_http_t *h, const char *name)
{
    for (int i = 0; name && i < h->nsvc; i++)
        if (!strcmp(h->svc[i].name, name))
            return (service_t *)&h->svc[i];
    return NULL;
}

int au_http_service(au_http_t *h, const char *name, double rate_per_s,
                    int burst)
{
    if (!h || !name || !*name || strlen(name) > 63 || !(rate_per_s > 0) ||
        burst < 1 ||
        name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-")])
        return AU_EINVAL;
    service_t *s = find(h, name);
    if (!s) {
        if (h->nsvc == AU_HTTP_MAX_SERVICES)
            return AU_ETOOBIG;
        s = &h->svc[h->nsvc++];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name);
    }
    s->rate = rate_per_s;
    s->burst = burst;
    s->st.rate_per_s = rate_per_s;
    return 0;
}

/* ---- one attempt ----------------------------------------------------------
 */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    attempt_t *a = arg;
    size_t len = size * n;
    au_http_resp_t *r = a->resp;
    if (r->len + len > a->cap) {
        a->over = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    char *b = realloc(r->body, r->len + len + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, data, len);
    r->body = b;
    r->len += len;
    b[r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    attempt_t *a = arg;
    size_t len = size * n;
    char line[256];
    snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), data);
    line[strcspn(line, "\r\n")] = '\0';
    if (!strncasecmp(line, "Retry-After:", 12))
        a->retry_s = au_http_retry_after(line + 12, (double)time(NULL));
    else if (!strncasecmp(line, "Content-Type:", 13)) {
        const char *v = line + 13;
        while (*v == ' ')
            v++;
        /* A longer value is cut: only its media type is ever looked at. */
        snprintf(a->resp->content_type, sizeof(a->resp->content_type), "%.*s",
                 (int)sizeof(a->resp->content_type) - 1, v);
    } else if (!strncasecmp(line, "HTTP/", 5)) {
        /* A new status line (a redirect followed): forget the last. */
        a->retry_s = -1;
        a->resp->content_type[0] = '\0';
    }
    return len;
}

/* Sends one attempt; the curl code. */
static CURLcode perform(au_http_t *h, const au_http_req_t *req, attempt_t *a,
                        long long left_ms)
{
    CURL *e = h->easy;
    /* A reset keeps the handle's open connections and drops the last
     * request's options. */
    curl_easy_reset(e);
    struct curl_slist *hdrs = NULL;
    for (const char *const *p = req->headers; p && *p; p++)
        hdrs = curl_slist_append(hdrs, *p);
    long timeout = left_ms < h->timeout_ms ? (long)left_ms : h->timeout_ms;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout > 1 ? timeout : 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
    if (hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    if (req->basic_auth) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, req->basic_auth);
    }
    if (req->method && !strcmp(req->method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
                         (long)(req->body ? req->body_len : 0));
    }
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->resp->status);
    curl_slist_free_all(hdrs);
    return rc;
}

/* ---- the request ----------------------------------------------------------
 */

static double jitter(au_http_t *h)
{
    /* xorshift64*, 0.5 .. 1.5: retries of many workers spread out. */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    uint64_t x = h->rng * 2685821657736338717ULL;
    return 0.5 + (double)(x >> 11) / (double)(1ULL << 53);
}

static long long backoff_ms(au_http_t *h, int attempt, double retry_after_s)
{
    if (retry_after_s >= 0)
        return (long long)ceil(retry_after_s * 1000.0);
    double d = h->backoff_base_ms * pow(2.0, attempt);
    if (d > h->backoff_max_ms)
        d = h->backoff_max_ms;
    return (long long)(d * jitter(h));
}

static void breaker_failed(au_http_t *h, service_t *s)
{
    s->fails++;
    if (s->st.breaker == AU_BREAKER_HALF_OPEN ||
        (s->st.breaker == AU_BREAKER_CLOSED &&
         s->fails >= h->breaker_failures)) {
        s->st.breaker = AU_BREAKER_OPEN;
        s->open_until = au_now_ms() + h->breaker_cooldown_ms;
        s->st.breaker_opens++;
        au_warn("http: %s breaker open after %d failures in a row; next "
                "probe in %d ms",
                s->name, s->fails, h->breaker_cooldown_ms);
    }
}

/* 0 when a request may go (a probe when the breaker was open long
 * enough), AU_ERETRY while it is open. */
static int breaker_allows(service_t *s, const char *url, au_error_t *err)
{
    if (s->st.breaker != AU_BREAKER_OPEN)
        return 0;
    long long left = s->open_until - au_now_ms();
    if (left <= 0) {
        s->st.breaker = AU_BREAKER_HALF_OPEN;
        return 0;
    }
    return au_error_set(err, AU_ERETRY,
                        "%s: circuit open after %d failures in a row, next "
                        "probe in %lld ms (%s)",
                        s->name, s->fails, left, url);
}

/* Judges an attempt: 0 done, 1 retry, or a final error code. */
/* curl codes no retry can fix: the request itself is wrong (a bad URL
 * in the configuration, a scheme curl lacks, a redirect loop, a
 * certificate that does not verify). */
static int curl_permanent(CURLcode cc)
{
    return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ||
           cc == CURLE_TOO_MANY_REDIRECTS ||
           cc == CURLE_PEER_FAILED_VERIFICATION ||
           cc == CURLE_SSL_CACERT_BADFILE;
}

/* What an attempt came to: 0 a 2xx answer; < 0 final (err set); RETRY_SICK
 * when the service looks unwell (a connection error, a timeout, a 5xx),
 * RETRY_BUSY when it is well but throttling (429); err set for both. */
enum { RETRY_SICK = 1, RETRY_BUSY = 2 };

static int judge(au_http_t *h, service_t *s, CURLcode cc, attempt_t *a,
                 const char *url, au_error_t *err)
{
    long st = a->resp->status;
    if (cc == CURLE_OK && st >= 200 && st < 300) {
        s->fails = 0;
        s->st.breaker = AU_BREAKER_CLOSED;
        return 0;
    }
    if (a->over)
        return au_error_set(err, AU_ETOOBIG,
                            "%s: answer over %zu bytes from %s", s->name,
                            h->max_bytes, url);
    if (cc != CURLE_OK) {
        au_error_set(err, curl_permanent(cc) ? AU_EINVAL : AU_ERETRY,
                     "%s: %s (%s)", s->name,
                     a->errbuf[0] ? a->errbuf : curl_easy_strerror(cc), url);
        return curl_permanent(cc) ? AU_EINVAL : RETRY_SICK;
    }
    const char *body = a->resp->body ? a->resp->body : "";
    if (st == 429 || st >= 500) {
        au_error_set(err, AU_ERETRY, "%s: HTTP %ld from %s: %.120s", s->name,
                     st, url, body);
        if (st == 429)
            s->st.throttled++;
        return st == 429 ? RETRY_BUSY : RETRY_SICK;
    }
    /* The service is up and said no: its health is not in question. */
    s->fails = 0;
    s->st.breaker = AU_BREAKER_CLOSED;
    return au_error_set(err, AU_EHTTP, "%s: HTTP %ld from %s: %.120s", s->name,
                        st, url, body);
}

int au_http_do(au_http_t *h, const au_http_req_t *req, au_http_resp_t *resp,
               au_error_t *err)
{
    memset(resp, 0, sizeof(*resp));
    service_t *s = h && req ? find(h, req->service) : NULL;
    if (!s || !req->url)
        return au_error_set(err, AU_EINVAL, "http: unknown service %s",
                            req && req->service ? req->service : "(none)");
    char url[1024];
    au_http_redact(req->url, url, sizeof(url));
    long long deadline = au_now_ms() + h->deadline_ms;
    int rc = AU_ERETRY, sick = 0;
    for (int attempt = 0; attempt <= h->retries; attempt++) {
        int probe = s->st.breaker == AU_BREAKER_OPEN;
        if ((rc = breaker_allows(s, url, err)) < 0)
            break;
        long long waited =
            au_ratelimit_take(h->limit, s->name, s->rate, s->burst, deadline);
        if (waited == AU_EINTR) {
            rc = au_error_set(err, AU_EINTR, "%s: stopping", s->name);
            break;
        }
        /* Too little time left for an attempt is the deadline's doing, not
         * the service's: nothing is sent and its health is not judged. */
        long long least =
            (h->connect_ms < h->timeout_ms ? h->connect_ms : h->timeout_ms) / 2;
        /* A short lease makes a short deadline: half of it is then enough
         * time, or no request could ever be sent. */
        if (least > h->deadline_ms / 2)
            least = h->deadline_ms / 2;
        if (waited < 0 || deadline - au_now_ms() < least) {
            rc = au_error_set(err, AU_ERETRY,
                              "%s: deadline of %d ms reached (%s)", s->name,
                              h->deadline_ms, url);
            break;
        }
        s->st.limiter_wait_ms += (uint64_t)waited;
        au_http_resp_clear(resp);
        attempt_t a = {.resp = resp, .cap = h->max_bytes, .retry_s = -1};
        s->st.requests++;
        s->st.retries += attempt > 0;
        CURLcode cc = perform(h, req, &a, deadline - au_now_ms());
        rc = judge(h, s, cc, &a, url, err);
        if (rc <= 0)
            break;
        sick = rc == RETRY_SICK;
        rc = AU_ERETRY;
        /* One probe decides: a failed one opens the breaker again. */
        if (probe && sick)
            break;
        long long delay = backoff_ms(h, attempt, a.retry_s);
        if (attempt == h->retries || au_now_ms() + delay >= deadline)
            break;
        if (au_sleep_ms(delay) < 0) {
            rc = au_error_set(err, AU_EINTR, "%s: stopping", s->name);
            break;
        }
    }
    /* The breaker counts requests that failed on a sick service, not
     * their attempts: "failures in a row" are the caller's failures. */
    if (rc == AU_ERETRY && sick)
        breaker_failed(h, s);
    if (rc < 0)
        s->st.failures++;
    return rc;
}

/* ---- reading the counters --------------------------------------------------
 */

int au_http_stats(const au_http_t *h, const char *service, au_http_stats_t *out)
{
    const service_t *s = h ? find(h, service) : NULL;
    if (!s)
        return AU_ENOTFOUND;
    *out = s->st;
    /* An open breaker whose cool-down passed lets the next request probe. */
    if (s->st.breaker == AU_BREAKER_OPEN && au_now_ms() >= s->open_until)
        out->breaker = AU_BREAKER_HALF_OPEN;
    return 0;
}

int au_http_deadline_ms(const au_http_t *h)
{
    return h->deadline_ms;
}

void au_http_count(au_http_t *h, const char *service, int hit)
{
    service_t *s = h ? find(h, service) : NULL;
    if (s && hit)
        s->st.cache_hits++;
    else if (s)
        s->st.cache_misses++;
}

const char *au_http_service_name(const au_http_t *h, int i)
{
    return h && i >= 0 && i < h->nsvc ? h->svc[i].name : NULL;
}

const char *au_http_breaker_name(au_breaker_state_t s)
{
    return s == AU_BREAKER_OPEN        ? "open"
           : s == AU_BREAKER_HALF_OPEN ? "half-open"
                                       : "closed";
}

/* ---- the process context ----------------------------------------------------
 */

static void ctx_tick(au_ctx_t *ctx)
{
    json_t *beat = json_object();
    const char *name;
    for (int i = 0; (name = au_http_service_name(ctx->http, i)); i++) {
        au_http_stats_t st;
        if (au_http_stats(ctx->http, name, &st) < 0)
            continue;
        au_metrics_http_t v = {
            st.requests,      st.retries,         st.throttled,   st.failures,
            st.breaker_opens, st.limiter_wait_ms, (int)st.breaker};
        au_metrics_http_snapshot(ctx->metrics, name, &v);
        json_object_set_new(
            beat, name,
            json_pack(
                "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:f}",
                "requests", (json_int_t)st.requests, "retries",
                (json_int_t)st.retries, "throttled", (json_int_t)st.throttled,
                "failures", (json_int_t)st.failures, "breaker_opens",
                (json_int_t)st.breaker_opens, "limiter_wait_ms",
                (json_int_t)st.limiter_wait_ms, "cache_hits",
                (json_int_t)st.cache_hits, "cache_misses",
                (json_int_t)st.cache_misses, "breaker",
                au_http_breaker_name(st.breaker), "rate_per_s", st.rate_per_s));
    }
    free(ctx->http_beat);
    ctx->http_beat = beat ? json_dumps(beat, JSON_COMPACT) : NULL;
    json_decref(beat);
}

static void ctx_fini(au_ctx_t *ctx)
{
    au_http_destroy(&ctx->http);
    free(ctx->http_beat);
    ctx->http_beat = NULL;
}

int au_ctx_http_open(au_ctx_t *ctx, au_error_t *err)
{
    if (ctx->http)
        return 0;
    int rc = au_ctx_need(ctx, AU_CTX_CACHE, err);
    if (rc < 0)
        return rc;
    ctx->http = au_http_new(&ctx->cfg, ctx->cache, err);
    if (!ctx->http)
        return err->code;
    /* One request at a time per service (burst 1): the limits services
     * publish are rates, not allowances to spend at once. */
    const au_config_t *c = &ctx->cfg;
    au_http_service(ctx->http, "lastfm", c->lastfm.rate_per_s, 1);
    au_http_service(ctx->http, "spotify", c->spotify.rate_per_s, 1);
    au_http_service(ctx->http, "musicbrainz", c->musicbrainz.rate_per_s, 1);
    ctx->http_tick = ctx_tick;
    ctx->http_fini = ctx_fini;
    return 0;
}
