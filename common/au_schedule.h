/* au_schedule.h: periodic schedules, owner of the schedules table
 * (docs/ARCHITECTURE.md, "Schedules").
 *
 * A schedule queues one job of its kind and parameters at every tick of
 * its cron expression (UTC). Every worker's sweeper calls
 * au_schedule_fire; the one that takes the tick's advisory lock fires
 * what is due, in one transaction with the advance of next_run, so no
 * tick fires twice and a leader that dies mid-way leaves nothing done.
 * Ticks missed while no worker ran are not made up: the schedule fires
 * once and moves on to its next tick after now. */
#ifndef AU_SCHEDULE_H
#define AU_SCHEDULE_H

#include <libpq-fe.h>

#include "au_err.h"

typedef struct {
    const char *name;   /* 1..64 of a-z, 0-9, '_', '-' */
    const char *cron;   /* au_cron */
    const char *kind;   /* the job's */
    const char *params; /* a JSON object; "$tick_date" in a string value
                           becomes the tick's date, YYYY-MM-DD (UTC) */
    const char *queue;  /* NULL: "default" */
    int priority;       /* 1..4; 0: the default */
    int max_attempts;
} au_schedule_t;

/* Adds s, or with replace changes the one of that name; its next run is
 * its first tick after now. AU_EDUP when it exists and replace is 0,
 * AU_EINVAL for a bad name, cron or params (err says which). */
int au_schedule_add(PGconn *c, const au_schedule_t *s, int replace,
                    au_error_t *err);
/* Removes a schedule: *n 1, or 0 when there was none of that name. */
int au_schedule_remove(PGconn *c, const char *name, long *n, au_error_t *err);
/* Every schedule: name, cron, kind, params, queue, priority, next_run,
 * last_run, last_job (times ISO 8601 UTC). The caller PQclears *out. */
int au_schedule_list(PGconn *c, PGresult **out, au_error_t *err);
/* Fires the schedules due now if this process takes the tick's lock:
 * *fired jobs queued (or found queued already: the same job). 0, or a
 * code with nothing fired. */
int au_schedule_fire(PGconn *c, int *fired, au_error_t *err);

#endif
