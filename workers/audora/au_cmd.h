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

/* Runs `audora <argv...>`; returns the process exit status. */
int au_cmd_main(int argc, char **argv);

#endif
