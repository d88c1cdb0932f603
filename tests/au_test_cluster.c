#include "au_test_cluster.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "au_fixture_counts.h"
#include "au_test.h"

char au_cl_run[256];
char au_cl_db[512];

/* Below the kernel's ephemeral range, and never one this process handed
 * out before (deploy/lib.sh says why). */
int au_free_port(void)
{
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 32768;
        fclose(f);
    }
    if (lo <= 10001)
        lo = 32768;
    static int given[64];
    static size_t ngiven;
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ 0x9e3779b9u;
    for (;;) {
        int port = 10000 + (int)(rand_r(&seed) % (unsigned)(lo - 10000));
        int again = 0;
        for (size_t i = 0; i < ngiven; i++)
            again |= given[i] == port;
        if (again)
            continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(s);
        if (ok && ngiven < sizeof(given) / sizeof(given[0]))
            given[ngiven++] = port;
        if (ok)
            return port;
    }
}

int au_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *au_text(const char *sql)
{
    PGconn *c = PQconnectdb(au_cl_db);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                 PQerrorMessage(c));
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return v;
}

long long au_scalar(const char *sql)
{
    char *t = au_text(sql);
    long long v = strtoll(t, NULL, 10);
    free(t);
    return v;
}

void au_cluster_start(const au_cluster_opts_t *o)
{
    au_test_db_new(au_cl_db, sizeof(au_cl_db));
    char redis[512];
    const char *base = au_test_redis_url();
    const char *slash = strrchr(base, '/');
    snprintf(redis, sizeof(redis), "%.*s/%d", (int)(slash - base), base,
             o->redis_db);
    setenv("AUDORA_DATABASE__URL", au_cl_db, 1);
    setenv("AUDORA_REDIS__URL", redis, 1);
    /* Port 1 on loopback: refused at once, as a Redis that is down. */
    if (o->no_redis)
        setenv("AUDORA_REDIS__URL", "redis://127.0.0.1:1/0", 1);
    else if (o->redis_url)
        setenv("AUDORA_REDIS__URL", o->redis_url, 1);
    else
        cr_assert_eq(au_sh("redis-cli -u %s flushdb >/dev/null", redis), 0);
    const char *names[] = {"AUDORA_ZMQ__ENRICH_IN", "AUDORA_ZMQ__ENRICH_OUT",
                           "AUDORA_ZMQ__ANALYTICS_IN",
                           "AUDORA_ZMQ__ANALYTICS_OUT"};
    for (int i = 0; i < 4; i++) {
        char ep[64];
        snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", au_free_port());
        setenv(names[i], ep, 1);
    }
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", o->lease_s);
    setenv("AUDORA_QUEUE__LEASE_S", lease, 1);
    setenv("AUDORA_QUEUE__BACKOFF_BASE_MS", "200", 1);
    setenv("BIN", au_test_build_dir(), 1);
    snprintf(au_cl_run, sizeof(au_cl_run), "%s/cluster-%d",
             getenv("AUDORA_TEST_TMP") ? getenv("AUDORA_TEST_TMP") : "/tmp",
             (int)getpid());
    const char *b = au_test_build_dir();
    cr_assert_eq(au_sh("%s/audora migrate >/dev/null", b), 0);
    cr_assert_eq(au_sh("%s/audora features load %s/audio_features/"
                       "spotify_hit_predictor_dataset-of-10s.csv >/dev/null",
                       b, au_test_fixtures()),
                 0);
    int ni = o->ingest ? o->ingest : 2, ne = o->enrich ? o->enrich : 1,
        na = o->analytics ? o->analytics : 2;
    cr_assert_eq(au_sh("%s/../deploy/cluster.sh start %s %d %d %d",
                       au_test_dir(), au_cl_run, ni, ne, na),
                 0);
}

void au_cluster_stop(void)
{
    if (!au_cl_run[0])
        return;
    /* A paused process would hold the stop up for its whole grace. */
    au_sh("for p in %s/pids/*; do kill -CONT $(cat $p) 2>/dev/null; done; "
          "true",
          au_cl_run);
    au_sh("%s/../deploy/cluster.sh stop %s", au_test_dir(), au_cl_run);
    int dirty = au_sh("grep -l 'Sanitizer\\|runtime error' %s/logs/*.log "
                      ">/dev/null 2>&1",
                      au_cl_run) == 0;
    if (dirty)
        au_sh("grep -h -A20 'Sanitizer\\|runtime error' %s/logs/*.log | "
              "head -60 >&2",
              au_cl_run);
    cr_assert_not(dirty, "sanitizer report in %s/logs", au_cl_run);
    au_cl_run[0] = '\0';
}

int au_cl_pid(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pids/%s", au_cl_run, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

int au_cl_port(const char *name)
{
    char path[512], who[64];
    snprintf(path, sizeof(path), "%s/ports", au_cl_run);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    int port = 0, p;
    while (fscanf(f, "%63s %d", who, &p) == 2)
        if (!strcmp(who, name))
            port = p;
    fclose(f);
    cr_assert_gt(port, 0, "%s has no metrics port", name);
    return port;
}

int au_cl_get(const char *name, const char *path, char *body, size_t cap)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)au_cl_port(name))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int status = 0;
    size_t got = 0;
    char resp[65536];
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
        char req[256];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
        if (write(s, req, (size_t)n) == n) {
            ssize_t r;
            while (got < sizeof(resp) - 1 &&
                   (r = read(s, resp + got, sizeof(resp) - 1 - got)) > 0)
                got += (size_t)r;
        }
    }
    close(s);
    resp[got] = '\0';
    /* "HTTP/1.x NNN ..." */
    const char *sp = got > 12 ? strchr(resp, ' ') : NULL;
    if (sp)
        status = (int)strtol(sp + 1, NULL, 10);
    if (body && cap) {
        const char *b = strstr(resp, "\r\n\r\n");
        snprintf(body, cap, "%s", b ? b + 4 : "");
    }
    return status;
}

int au_cl_http(const char *name, const char *path)
{
    return au_cl_get(name, path, NULL, 0);
}

double au_cl_metric(const char *name, const char *metric, const char *label)
{
    static char body[65536];
    if (au_cl_get(name, "/metrics", body, sizeof(body)) != 200)
        return -1;
    size_t n = strlen(metric);
    char *save = NULL;
    for (char *l = strtok_r(body, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        const char *sp = strrchr(l, ' ');
        if (strncmp(l, metric, n) != 0 || (l[n] != ' ' && l[n] != '{') || !sp ||
            (label && !strstr(l, label)))
            continue;
        return strtod(sp + 1, NULL);
    }
    return -1;
}

int au_cl_alive(const char *name)
{
    return au_sh("kill -0 %d 2>/dev/null && grep -q '^%s .* restarts=0 ' "
                 "%s/supervisor.status",
                 au_cl_pid(name), name, au_cl_run) == 0;
}

void au_push_fixtures(void)
{
    const char *b = au_test_build_dir();
    const char *f = au_test_fixtures();
    cr_assert_eq(au_sh("find %s/spotify_charts -name '*.csv' ! -name "
                       "'*-latest.csv' | xargs %s/audora push >/dev/null",
                       f, b),
                 0);
    cr_assert_eq(au_sh("find %s/spotify_charts -name '*-latest.csv' | xargs "
                       "%s/audora push --date 2019-12-17 >/dev/null",
                       f, b),
                 0);
}

void au_wait_all(int timeout_s)
{
    cr_assert_eq(au_sh("%s/audora wait --quiet --timeout %d",
                       au_test_build_dir(), timeout_s),
                 0, "jobs did not finish in time, or one is dead");
}

void au_check_counts_per_file(void)
{
    PGconn *c = PQconnectdb(au_cl_db);
    PGresult *r =
        PQexec(c, "SELECT regexp_replace(j.params->>'path', '^.*/', ''), "
                  " (SELECT count(*) FROM trends_v t WHERE "
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
    cr_assert_eq(au_scalar("SELECT count(*) FROM trends"),
                 AU_FIXTURE_TOTAL_ROWS);
}

/* The value of NAME in the cluster's generated key file (cluster.sh
 * start writes RUNDIR/keys when the configuration has none). */
void au_cl_key(const char *name, char out[41])
{
    char path[512], line[256];
    snprintf(path, sizeof(path), "%s/keys/cluster.env", au_cl_run);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s: no generated keys", path);
    out[0] = '\0';
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, name, n) && line[n] == '=' && line[n + 1] == '\'')
            snprintf(out, 41, "%s", line + n + 2);
    fclose(f);
    cr_assert_eq(strlen(out), 40, "%s not in %s", name, path);
}

/* A PUSH socket to endpoint: a CURVE client with the given pair and the
 * relays' public key, or plain when pub is NULL. */
void *au_cl_peer(void *zctx, const char *endpoint, const char *pub,
                 const char *sec)
{
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    if (pub) {
        char srv[41];
        au_cl_key("AUDORA_ZMQ__SERVER_PUBLIC_KEY", srv);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    return s;
}

/* Sends one message as the cluster's workers would (their key pair). */
void au_cl_send(void *zctx, const char *endpoint, const void *buf, size_t len)
{
    char pub[41], sec[41];
    au_cl_key("AUDORA_ZMQ__CLIENT_PUBLIC_KEY", pub);
    au_cl_key("AUDORA_ZMQ__CLIENT_SECRET_KEY", sec);
    void *s = au_cl_peer(zctx, endpoint, pub, sec);
    cr_assert_eq(zmq_send(s, buf, len, 0), (int)len);
    zmq_close(s);
}

/* Polls a shell command every 100 ms for up to `seconds`: 1 once it
 * succeeds. */
int au_eventually(int seconds, const char *cmd)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (au_sh("%s", cmd) == 0)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}
