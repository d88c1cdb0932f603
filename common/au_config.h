/* au_config.h: typed configuration.
 *
 * Precedence, lowest first: built-in defaults < .env file < environment
 * (AUDORA_<SECTION>__<KEY>, e.g. AUDORA_DATABASE__POOL_SIZE=8) < flags
 * (--database.pool_size=8 or --database.pool_size 8). Every key has a type,
 * a default and a range; a violation is reported as
 *   "database.pool_size=42 (from AUDORA_DATABASE__POOL_SIZE): must be
 *    between 1 and 20"
 * Secrets (passwords inside URLs, API keys) are redacted in every dump. */
#ifndef AU_CONFIG_H
#define AU_CONFIG_H

#include <stdio.h>

#include "au_err.h"

#define AU_CFG_STR 512

typedef struct {
    struct {
        char url[AU_CFG_STR];       /* libpq URL; empty: embedded servers */
        int pool_size;              /* 1..20, default 5 */
        int checkout_timeout_ms;    /* 1..600000, default 5000 */
        int statement_timeout_ms;   /* 0..3600000, default 60000 */
        int lock_timeout_ms;        /* 0..600000, default 5000 */
        int idle_in_transaction_ms; /* 0..3600000, default 10000 */
    } database;
    struct {
        char url[AU_CFG_STR]; /* redis://host:port/db; empty: local only */
        int timeout_ms;       /* 1..60000, default 500 */
        int retry_ms;         /* 100..600000: reconnect probe, default 1000 */
    } redis;
    struct {
        int local_max_entries; /* 16..10000000, default 10000 */
        int ttl_artist_s;      /* default 86400 */
        int ttl_chart_s;       /* default 3600 */
        int ttl_summary_s;     /* default 600 */
        int ttl_bulk_s;        /* default 300 */
        int ttl_features_s;    /* default 86400 */
    } cache;
    struct {
        /* Comma-separated endpoint lists. Producers connect to every
         * relay "in", consumers to every relay "out". */
        char enrich_in[AU_CFG_STR];     /* default tcp://127.0.0.1:5551 */
        char enrich_out[AU_CFG_STR];    /* default tcp://127.0.0.1:5552 */
        char analytics_in[AU_CFG_STR];  /* default tcp://127.0.0.1:5553 */
        char analytics_out[AU_CFG_STR]; /* default tcp://127.0.0.1:5554 */
        int hwm;                        /* 1..1000000 messages, default 16 */
        int max_msg_bytes;              /* 1024..268435456, default 4 MiB */
        int relay_memory_mb;            /* 1..4096: a relay's buffers, 64 */
        /* "curve" (default) or "plain-loopback": plain tcp only to
         * loopback addresses, for development on one machine. */
        char security[24];
        /* CURVE keys, Z85 (40 characters) or "@FILE" holding one. The
         * relays' pair, the workers' pair, and the worker keys the relays
         * accept (comma-separated; empty: client_public_key alone). */
        char server_public_key[AU_CFG_STR];
        char server_secret_key[AU_CFG_STR];
        char client_public_key[AU_CFG_STR];
        char client_secret_key[AU_CFG_STR];
        char authorized_clients[AU_CFG_STR];
        int linger_ms; /* 0..60000, default 1000 */
    } zmq;
    struct {
        int batch_records;       /* 1..10000, default 2000 */
        int lease_s;             /* 1..86400, default 60 */
        int max_attempts;        /* 1..100, default 5 */
        int backoff_base_ms;     /* 1..3600000, default 1000 */
        int backoff_max_ms;      /* 1..86400000, default 60000 */
        int poll_ms;             /* 10..60000: idle wait, default 1000 */
        int drain_s;             /* 0..3600: SIGTERM drain budget, default 10 */
        int read_timeout_s;      /* 1..3600: a source read's deadline, 30 */
        char queues[AU_CFG_STR]; /* claimed from, comma-separated; "*" */
        int retention_s;         /* done/cancelled kept this long; 0: forever */
    } queue;
    struct {
        int port;      /* 0 (off)..65535, default 0 */
        char bind[64]; /* default 127.0.0.1 */
    } metrics;
    struct {
        char level[16]; /* debug|info|warn|error, default info */
    } log;
    struct {
        /* Who to contact about this client: the User-Agent is
         * "audora/<version> (<contact>)" (MusicBrainz asks for one). */
        char contact[AU_CFG_STR];
        int connect_timeout_ms;  /* 1..600000, default 5000 */
        int timeout_ms;          /* one attempt, 1..3600000, default 15000 */
        int deadline_ms;         /* a request with its retries, 60000 */
        int max_response_bytes;  /* larger answers are errors, 16 MiB */
        int retries;             /* 0..20, default 5 */
        int backoff_base_ms;     /* first retry delay, default 500 */
        int backoff_max_ms;      /* longest retry delay, default 30000 */
        int breaker_failures;    /* failures in a row that open it, 5 */
        int breaker_cooldown_ms; /* open this long, then one probe, 30000 */
        /* Processes sharing a limit: while Redis is unreachable each one
         * keeps to limit / fleet_size on its own. Default 4. */
        int fleet_size;
    } http;
    struct {
        char base_url[AU_CFG_STR]; /* the 2.0 API root */
        char api_key[AU_CFG_STR];  /* secret */
        int rate_per_s;            /* shared by the fleet, default 5 */
    } lastfm;
    struct {
        char api_url[AU_CFG_STR];      /* the Web API root (v1) */
        char accounts_url[AU_CFG_STR]; /* the token endpoint */
        char client_id[AU_CFG_STR];
        char client_secret[AU_CFG_STR]; /* secret */
        int rate_per_s;                 /* shared by the fleet, default 10 */
    } spotify;
    struct {
        char base_url[AU_CFG_STR]; /* ws/2 root */
        int rate_per_s;            /* shared by the fleet, default 1 */
    } musicbrainz;
    struct {
        int chart_size;      /* positions in a full chart, default 200 */
        int viral_threshold; /* 0..100: write a prediction from here, 55 */
        /* 0..100: a weekly entry's breakout chance (percent) from which a
         * prediction is written, 25 */
        int breakout_threshold;
    } analytics;
} au_config_t;

/* Fills cfg with the built-in defaults. */
void au_config_defaults(au_config_t *cfg);

/* Full load: defaults, then env_file (NULL: "./.env" if it exists; a
 * missing default file is not an error, a missing named file is), then the
 * process environment, then argv flags. Recognised flags are removed from
 * argv (argc updated) so the caller can parse its own; "--env-file PATH"
 * is recognised too. Returns 0 or AU_ECONFIG with err naming key, value,
 * source and rule. */
int au_config_load(au_config_t *cfg, int *argc, char **argv,
                   const char *env_file, au_error_t *err);

/* 1 when arg is a configuration flag: "--env-file" or a dotted
 * "--section.key", with or without "=VALUE" (without, the value is the
 * next argument). Whether the key exists is au_config_load's to say, so
 * that a misspelt key is an error naming the closest one. */
int au_config_is_flag(const char *arg);

/* Sets one key by its dotted name ("database.pool_size"), checking type
 * and range. source is used in error messages ("flag", ".env:3", ...). */
int au_config_set(au_config_t *cfg, const char *key, const char *value,
                  const char *source, au_error_t *err);

/* Writes every key as "key = value" lines, secrets redacted. */
void au_config_dump(const au_config_t *cfg, FILE *out);

/* Copies src into dst with any password in a URL replaced by "***". */
void au_config_redact_url(const char *src, char *dst, size_t cap);

/* Writes a .env.example: every key, its env name, default and rule. */
void au_config_write_example(FILE *out);

#endif
