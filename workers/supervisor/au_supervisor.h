/* au_supervisor.h: keeps a local cluster's processes running, as systemd's
 * Restart=on-failure would: a child that exits with a failure or dies of
 * a signal is started again after a backoff that doubles up to a ceiling
 * (and starts small again once the child has stayed up a while); a child
 * that exits 0 has finished its drain and stays down. Every restart is a
 * JSON log line with the child's name, cause and count, and the counts
 * are kept in DIR/supervisor.status for scripts and tests.
 *
 * The children come from a spec file, one per line: a name, then the
 * program and its arguments, separated by blanks (no quoting; '#' starts
 * a comment line). Each child's stdout and stderr go to DIR/logs/NAME.log
 * and its pid to DIR/pids/NAME, so `cluster.sh kill NAME` finds the
 * current process. On SIGTERM the supervisor passes SIGTERM to every
 * child, waits for them to drain, SIGKILLs what is left after the grace
 * period and exits 0. */
#ifndef AU_SUPERVISOR_H
#define AU_SUPERVISOR_H

#include "au_err.h"
#include "au_metrics.h"

#define AU_SUP_MAX_CHILDREN 64
#define AU_SUP_MAX_ARGS 16

typedef struct {
    char name[64];
    char *argv[AU_SUP_MAX_ARGS + 1]; /* NULL-terminated, owned */
} au_sup_child_t;

typedef struct {
    au_sup_child_t child[AU_SUP_MAX_CHILDREN];
    int n;
} au_sup_spec_t;

/* Reads a spec file. AU_EPARSE naming the line for a malformed one
 * (a bad name, too many arguments, a name used twice), AU_EIO when the
 * file cannot be read. */
int au_sup_spec_load(const char *path, au_sup_spec_t *spec, au_error_t *err);
void au_sup_spec_free(au_sup_spec_t *spec);

typedef struct {
    const char *dir;       /* logs/, pids/ and supervisor.status go here */
    int backoff_min_ms;    /* first restart delay */
    int backoff_max_ms;    /* the ceiling it doubles up to */
    int stable_ms;         /* up this long, a child's backoff starts over */
    int grace_ms;          /* after SIGTERM, how long children may drain */
    au_metrics_t *metrics; /* restarts_total, and ready while running; NULL */
} au_sup_opts_t;

/* Runs the children until SIGTERM/SIGINT. Returns 0, or 1 when the run
 * directory cannot be used. */
int au_sup_run(const au_sup_spec_t *spec, const au_sup_opts_t *o);

/* The delay before restart number `restarts` (1-based): min doubled each
 * time, capped at max. */
int au_sup_backoff_ms(int restarts, int min_ms, int max_ms);

#endif
