/* au_test_cluster.h: a real local cluster for end-to-end and fault tests
 * (deploy/cluster.sh: relays and workers under the supervisor, separate
 * processes, the ASan build), on a fresh database and a private Redis
 * database of the servers tests/run.sh started. One cluster per test
 * process: Criterion runs each test in its own. */
#ifndef AU_TEST_CLUSTER_H
#define AU_TEST_CLUSTER_H

#include <stddef.h>

/* The running cluster's directory (logs/, pids/, keys/, ports) and
 * database; "" before au_cluster_start. */
extern char au_cl_run[256];
extern char au_cl_db[512];

typedef struct {
    int redis_db;                  /* 1..15: a Redis database of its own */
    int lease_s;                   /* queue.lease_s */
    int ingest, enrich, analytics; /* workers of each kind; 0: 2, 1, 2 */
    int no_redis; /* a Redis that is not there (redis_db is then unused) */
    const char *redis_url; /* a Redis of the test's own (redis_db unused) */
} au_cluster_opts_t;

/* Fresh database (migrated, audio features loaded), fresh Redis db,
 * relay endpoints on free ports, then cluster.sh start. Extra settings go
 * in the environment (setenv AUDORA_...) before the call. */
void au_cluster_start(const au_cluster_opts_t *o);
/* cluster.sh stop; fails on any sanitizer report in the processes' logs.
 * Safe to call when nothing runs (a .fini). */
void au_cluster_stop(void);

/* Runs a shell command (printf-style): its exit status, -1 on a signal. */
int au_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The first value of a query on the cluster's database, as a number. */
long long au_scalar(const char *sql);
/* The first value of a query as text (malloc'd; "" for NULL). */
char *au_text(const char *sql);
/* A free loopback tcp port. */
int au_free_port(void);
/* The pid in pids/NAME (a supervised process: its current one). */
int au_cl_pid(const char *name);
/* The port of NAME's /metrics and /readyz (RUNDIR/ports). */
int au_cl_port(const char *name);
/* HTTP status of GET path on NAME's metrics port (0 when unreachable);
 * the body into body[cap] when body is not NULL. */
int au_cl_get(const char *name, const char *path, char *body, size_t cap);
int au_cl_http(const char *name, const char *path);
/* The value of the first /metrics line of NAME for metric (its full
 * name) whose labels include label (NULL: any); -1 when there is none or
 * the scrape failed. */
double au_cl_metric(const char *name, const char *metric, const char *label);
/* Running and never restarted by the supervisor. */
int au_cl_alive(const char *name);

/* The value of NAME (AUDORA_ZMQ__...) in the cluster's generated keys,
 * RUNDIR/keys/cluster.env. */
void au_cl_key(const char *name, char out[41]);
/* A PUSH socket connected to endpoint: a CURVE client with the key pair
 * pub/sec and the relays' public key, or plain when pub is NULL. */
void *au_cl_peer(void *zctx, const char *endpoint, const char *pub,
                 const char *sec);
/* Sends one message to endpoint as the cluster's workers would (their
 * keys). */
void au_cl_send(void *zctx, const char *endpoint, const void *buf, size_t len);
/* Runs a shell command every 100 ms for up to `seconds`: 1 once it
 * succeeds. */
int au_eventually(int seconds, const char *cmd);

/* Pushes the 135 real charts (the *-latest.csv ones with their date). */
void au_push_fixtures(void);
/* audora wait for every job; fails the test when one is dead or the
 * timeout passes. */
void au_wait_all(int timeout_s);
/* Every fixture file's chart has SOURCES.md's row count, and the total. */
void au_check_counts_per_file(void);

#endif
