/* au_cmd.h: the `audora` command users type.
 *
 * Every command is an au_cmd_def_t: its command line (an au_cli_spec_t,
 * from which its usage is generated), what its context needs, and a
 * handler. The dispatcher does the rest the same way for all of them:
 * it parses, answers --help and --version before anything is opened,
 * rejects what the table does not accept (exit 2), loads the
 * configuration and runs the handler. The handler checks what the table
 * cannot (exit 2 too), borrows its connection with au_cmd_conn when it
 * first needs one and returns the exit status (AU_EXIT_*). */
#ifndef AU_CMD_H
#define AU_CMD_H

#include <jansson.h>
#include <libpq-fe.h>

#include "au_cli.h"
#include "au_queue.h"
#include "au_ctx.h"

typedef struct {
    const char *name; /* "dlq show", for messages */
    const au_cli_t *cli;
    au_ctx_t ctx;
    int needs;    /* what au_cmd_conn builds into ctx on first use */
    PGconn *conn; /* borrowed by au_cmd_conn, returned by the dispatcher */
    au_error_t err;
} au_cmd_t;

typedef struct {
    au_cli_spec_t cli;
    int needs; /* AU_CTX_*: what the handler uses */
    int (*run)(au_cmd_t *cmd);
} au_cmd_def_t;

/* The option table of commands whose only option is --json, and its
 * index there. */
extern const au_cli_opt_t au_cmd_json_opt[];
enum { AU_CMD_OPT_JSON = 0 };

/* The options every push takes to place its job, as a block of a
 * command's option table starting at index first: --queue, --priority,
 * --at, --in, --force, --max-attempts and --json. */
enum {
    AU_PUSH_QUEUE,
    AU_PUSH_PRIORITY,
    AU_PUSH_AT,
    AU_PUSH_IN,
    AU_PUSH_FORCE,
    AU_PUSH_ATTEMPTS,
    AU_PUSH_JSON,
    AU_PUSH_NOPTS
};
#define AU_PUSH_OPTS(first)                                                    \
    [(first) +                                                                 \
        AU_PUSH_QUEUE] = {.name = "queue",                                     \
                          .kind = AU_CLI_STR,                                  \
                          .metavar = "NAME",                                   \
                          .help = "the queue (default \"default\")"},          \
        [(first) + AU_PUSH_PRIORITY] = {.name = "priority",                    \
                                        .kind = AU_CLI_INT,                    \
                                        .help =                                \
                                            "1 runs first, 4 last (default "   \
                                            "2)",                              \
                                        .lo = 1,                               \
                                        .hi = 4},                              \
        [(first) + AU_PUSH_AT] = {.name = "at",                                \
                                  .kind = AU_CLI_TIME,                         \
                                  .help = "not before this time "              \
                                          "(2026-12-01T06:00Z)"},              \
        [(first) + AU_PUSH_IN] = {.name = "in",                                \
                                  .kind = AU_CLI_DURATION,                     \
                                  .help =                                      \
                                      "not before this long from now (90s, "   \
                                      "15m, 2h)"},                             \
        [(first) + AU_PUSH_FORCE] = {.name = "force",                          \
                                     .kind = AU_CLI_FLAG,                      \
                                     .help =                                   \
                                         "queue it even if the same job is "   \
                                         "queued or running"},                 \
        [(first) +                                                             \
            AU_PUSH_ATTEMPTS] = {.name = "max-attempts",                       \
                                 .kind = AU_CLI_INT,                           \
                                 .metavar = "N",                               \
                                 .help = "attempts before the job is "         \
                                         "dead, default queue.max_attempts",   \
                                 .lo = 1,                                      \
                                 .hi = 100},                                   \
        [(first) + AU_PUSH_JSON] = {.name = "json",                            \
                                    .kind = AU_CLI_FLAG,                       \
                                    .help = "print what was queued as JSON"}

/* Sets job's queue, priority, run_at, force and max_attempts from the
 * block at first: 0, or AU_EXIT_USAGE after saying why (--at with --in,
 * a queue name that cannot be one). */
int au_cmd_push_place(au_cmd_t *cmd, size_t first, au_push_t *job);

/* The connection of this command: on first use the context gets what
 * the command needs (pool, cache) and a connection is borrowed. NULL with
 * cmd->err set when the configuration lacks a server or it cannot be
 * reached. */
PGconn *au_cmd_conn(au_cmd_t *cmd);
/* Prints "audora NAME: <cmd->err.msg>" on stderr; returns AU_EXIT_FAIL,
 * or AU_EXIT_USAGE for a configuration error (AU_ECONFIG). */
int au_cmd_fail(au_cmd_t *cmd);
/* Prints "audora NAME: <message>" on stderr; returns AU_EXIT_FAIL. */
int au_cmd_failf(au_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints root (taken) as JSON on stdout: 0, or AU_EXIT_FAIL when it
 * could not be built (NULL) or written. */
int au_cmd_json(au_cmd_t *cmd, json_t *root);
/* Prints r as {"key": [rows]} with json, else as a table, or the line
 * none (may be NULL) when it has no rows: 0 or AU_EXIT_FAIL. */
int au_cmd_rows(au_cmd_t *cmd, int json, const PGresult *r, const char *key,
                const char *none);
/* Prints r as an aligned table on stdout: 0 or AU_EXIT_FAIL. */
int au_cmd_table(au_cmd_t *cmd, const PGresult *r);

/* The commands, each defined in the file named after it. */
extern const au_cmd_def_t au_cmd_push_def;   /* au_cmd_push.c */
extern const au_cmd_def_t au_cmd_wait_def;   /* au_cmd_wait.c */
extern const au_cmd_def_t au_cmd_status_def; /* au_cmd_jobs.c */
extern const au_cmd_def_t au_cmd_jobs_def;
extern const au_cmd_def_t au_cmd_dlq_list_def;
extern const au_cmd_def_t au_cmd_dlq_show_def;
extern const au_cmd_def_t au_cmd_dlq_replay_def;
extern const au_cmd_def_t au_cmd_dlq_purge_def;
extern const au_cmd_def_t au_cmd_push_lastfm_def; /* au_cmd_live.c */
extern const au_cmd_def_t au_cmd_push_spotify_def;
extern const au_cmd_def_t au_cmd_push_mb_def;
extern const au_cmd_def_t au_cmd_push_tracks_def;
extern const au_cmd_def_t au_cmd_push_artists_def;
extern const au_cmd_def_t au_cmd_push_features_def;
extern const au_cmd_def_t au_cmd_push_recordings_def;
extern const au_cmd_def_t au_cmd_sources_def;
extern const au_cmd_def_t au_cmd_jobs_cancel_def; /* au_cmd_queue.c */
extern const au_cmd_def_t au_cmd_jobs_prune_def;
extern const au_cmd_def_t au_cmd_queue_list_def;
extern const au_cmd_def_t au_cmd_queue_pause_def;
extern const au_cmd_def_t au_cmd_queue_resume_def;
extern const au_cmd_def_t au_cmd_schedule_add_def;
extern const au_cmd_def_t au_cmd_schedule_list_def;
extern const au_cmd_def_t au_cmd_schedule_remove_def;
extern const au_cmd_def_t au_cmd_health_def; /* au_cmd_health.c */

/* Runs `audora <argv...>`; returns the process exit status. */
int au_cmd_main(int argc, char **argv);

#endif
