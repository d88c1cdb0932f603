/* au_cmd_queue.c: queue controls from the command line: `audora jobs
 * cancel`, `audora jobs prune`, `audora queue list|pause|resume`,
 * `audora schedule add|list|remove`. */
#include "au_cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_queue.h"
#include "au_schedule.h"

/* ---- jobs cancel ---------------------------------------------------- */

static int cmd_cancel(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    int64_t *ids = calloc((size_t)a->nargs, sizeof(*ids));
    if (!ids)
        return au_cmd_failf(cmd, "out of memory");
    for (int i = 0; i < a->nargs; i++)
        ids[i] = a->ints[i];
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    int rc = c ? au_queue_cancel(c, (size_t)a->nargs, ids, &r, &cmd->err)
               : AU_EDBCONN;
    free(ids);
    if (rc < 0)
        return au_cmd_fail(cmd);
    int json = au_cli_has(a, AU_CMD_OPT_JSON), failed = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *was = PQgetvalue(r, i, 1);
        int done = PQgetvalue(r, i, 2)[0] == 't';
        failed |= !done;
        if (json)
            continue;
        if (done)
            printf("job %s cancelled (was %s)\n", id, was);
        else if (!strcmp(was, "missing"))
            fprintf(stderr, "audora jobs cancel: no job %s\n", id);
        else
            fprintf(stderr,
                    "audora jobs cancel: job %s is %s: only a queued or "
                    "running job can be cancelled\n",
                    id, was);
    }
    if (json)
        rc = au_cmd_rows(cmd, 1, r, "jobs", NULL);
    PQclear(r);
    return rc ? rc : failed ? AU_EXIT_FAIL : AU_EXIT_OK;
}

const au_cmd_def_t au_cmd_jobs_cancel_def = {
    {.prog = "audora jobs cancel",
     .summary = "Cancel queued or running jobs.",
     .about = "A queued job will not run. A running one is stopped by its "
              "worker at its next\nwrite to the queue (within a third of "
              "queue.lease_s); its batches still in\nflight are refused, "
              "rows already written stay. The exit status is 1 when an\n"
              "ID is not a job or has already ended.\n",
     .args = {"ID...", 1, AU_CLI_MANY, AU_CLI_INT, 1, LLONG_MAX},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_cancel,
};

/* ---- jobs prune ----------------------------------------------------- */

enum { PR_OLDER, PR_DEAD, PR_JSON, PR_NOPTS };

static const au_cli_opt_t prune_opts[] = {
    [PR_OLDER] = {.name = "older-than",
                  .kind = AU_CLI_DURATION,
                  .help = "jobs that ended longer ago than this (7d, 12h)",
                  .flags = AU_CLI_REQUIRED},
    [PR_DEAD] = {.name = "dead",
                 .kind = AU_CLI_FLAG,
                 .help = "dead jobs too (kept otherwise, for `audora dlq`)"},
    [PR_JSON] = {.name = "json",
                 .kind = AU_CLI_FLAG,
                 .help = "print the count as JSON"},
};

static int cmd_prune(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    PGconn *c = au_cmd_conn(cmd);
    long total = 0, n = 0;
    int rc = c ? 0 : AU_EDBCONN;
    /* In slices, so that a large prune never holds its locks for long. */
    do {
        if (rc == 0)
            rc = au_queue_prune(c, (long)au_cli_int(a, PR_OLDER, 0),
                                au_cli_has(a, PR_DEAD), 10000, &n, &cmd->err);
        total += rc == 0 ? n : 0;
    } while (rc == 0 && n > 0);
    if (rc < 0)
        return au_cmd_fail(cmd);
    if (au_cli_has(a, PR_JSON))
        return au_cmd_json(cmd,
                           json_pack("{s:I}", "pruned", (json_int_t)total));
    printf("jobs: %ld pruned\n", total);
    return AU_EXIT_OK;
}

const au_cmd_def_t au_cmd_jobs_prune_def = {
    {.prog = "audora jobs prune",
     .summary = "Delete done and cancelled jobs (and dead ones, --dead) that "
                "ended long ago.",
     .about = "Their ledger rows go with them. Workers do the same on their "
              "own for jobs\nolder than queue.retention_s (7 days; 0 turns "
              "it off), dead ones excepted.\n",
     .opts = prune_opts,
     .nopts = PR_NOPTS},
    AU_CTX_DB,
    cmd_prune,
};

/* ---- queue list | pause | resume ------------------------------------ */

static int cmd_queues(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_queue_queues(c, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = au_cmd_rows(cmd, au_cli_has(cmd->cli, AU_CMD_OPT_JSON), r,
                         "queues", "no queue yet");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_queue_list_def = {
    {.prog = "audora queue list",
     .summary = "Every queue: paused or not, its jobs by state, its lag.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_queues,
};

static int pause_or_resume(au_cmd_t *cmd, int paused)
{
    const char *name = cmd->cli->args[0];
    if (!au_queue_name_ok(name))
        return au_cli_usage_error(cmd->cli->spec,
                                  "\"%s\": a queue name is 1 to 64 of a-z, "
                                  "0-9, '_' and '-'",
                                  name);
    PGconn *c = au_cmd_conn(cmd);
    if (!c || au_queue_pause(c, name, paused, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        return au_cmd_json(
            cmd, json_pack("{s:s, s:b}", "queue", name, "paused", paused));
    printf("queue %s %s\n", name, paused ? "paused" : "resumed");
    return AU_EXIT_OK;
}

static int cmd_pause(au_cmd_t *cmd)
{
    return pause_or_resume(cmd, 1);
}

static int cmd_resume(au_cmd_t *cmd)
{
    return pause_or_resume(cmd, 0);
}

const au_cmd_def_t au_cmd_queue_pause_def = {
    {.prog = "audora queue pause",
     .summary = "Stop workers from claiming jobs of a queue.",
     .about = "Jobs running go on; queued ones wait until `audora queue "
              "resume`. A queue\nno job uses yet can be paused ahead.\n",
     .args = {"NAME", 1, 1, AU_CLI_STR, 0, 0},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_pause,
};

const au_cmd_def_t au_cmd_queue_resume_def = {
    {.prog = "audora queue resume",
     .summary = "Let workers claim jobs of a paused queue again.",
     .args = {"NAME", 1, 1, AU_CLI_STR, 0, 0},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_resume,
};

/* ---- schedule add | list | remove ----------------------------------- */

/* The kinds a worker runs (workers/ingest/au_source.c registers them). */
static const char *const job_kinds[] = {"chart_csv",
                                        "lastfm_chart",
                                        "spotify_playlist",
                                        "musicbrainz_artists",
                                        "musicbrainz_recordings",
                                        "spotify_tracks",
                                        "spotify_artists",
                                        "spotify_features",
                                        "scan_dir",
                                        NULL};

enum {
    SA_PARAMS,
    SA_QUEUE,
    SA_PRIORITY,
    SA_ATTEMPTS,
    SA_REPLACE,
    SA_JSON,
    SA_NOPTS
};

static const au_cli_opt_t sa_opts[] = {
    [SA_PARAMS] = {.name = "params",
                   .kind = AU_CLI_STR,
                   .metavar = "JSON",
                   .help = "the job's parameters, a JSON object (default "
                           "{}); \"$tick_date\" becomes the tick's date"},
    [SA_QUEUE] = {.name = "queue",
                  .kind = AU_CLI_STR,
                  .metavar = "NAME",
                  .help = "the queue (default \"default\")"},
    [SA_PRIORITY] = {.name = "priority",
                     .kind = AU_CLI_INT,
                     .help = "1 runs first, 4 last (default 2)",
                     .lo = 1,
                     .hi = 4},
    [SA_ATTEMPTS] = {.name = "max-attempts",
                     .kind = AU_CLI_INT,
                     .metavar = "N",
                     .help = "attempts of each job, default "
                             "queue.max_attempts",
                     .lo = 1,
                     .hi = 100},
    [SA_REPLACE] = {.name = "replace",
                    .kind = AU_CLI_FLAG,
                    .help = "change the schedule of that name if it exists"},
    [SA_JSON] = {.name = "json",
                 .kind = AU_CLI_FLAG,
                 .help = "print the schedule as JSON"},
};

static int cmd_schedule_add(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    au_schedule_t s = {
        .name = a->args[0],
        .cron = a->args[1],
        .kind = a->args[2],
        .params = au_cli_str(a, SA_PARAMS, "{}"),
        .queue = au_cli_str(a, SA_QUEUE, "default"),
        .priority = (int)au_cli_int(a, SA_PRIORITY, AU_PRIORITY_DEFAULT),
        .max_attempts =
            (int)au_cli_int(a, SA_ATTEMPTS, cmd->ctx.cfg.queue.max_attempts)};
    int known = 0;
    for (int i = 0; job_kinds[i]; i++)
        known |= !strcmp(job_kinds[i], s.kind);
    if (!known)
        return au_cli_usage_error(a->spec,
                                  "%s: not a job kind (chart_csv, "
                                  "lastfm_chart, spotify_playlist, "
                                  "musicbrainz_artists, ...: see `audora "
                                  "sources`)",
                                  s.kind);
    PGconn *c = au_cmd_conn(cmd);
    if (!c)
        return au_cmd_fail(cmd);
    if (au_schedule_add(c, &s, au_cli_has(a, SA_REPLACE), &cmd->err) < 0)
        return cmd->err.code == AU_EINVAL ? (au_cmd_fail(cmd), AU_EXIT_USAGE)
                                          : au_cmd_fail(cmd);
    PGresult *r = NULL;
    if (au_schedule_list(c, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int row = -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (!strcmp(PQgetvalue(r, i, 0), s.name))
            row = i;
    const char *next = row >= 0 ? PQgetvalue(r, row, 6) : "?";
    int rc = 0;
    if (au_cli_has(a, SA_JSON))
        rc = au_cmd_json(cmd, json_pack("{s:s, s:s, s:s, s:s}", "name", s.name,
                                        "cron", s.cron, "kind", s.kind,
                                        "next_run", next));
    else
        printf("schedule %s: %s %s, next at %s\n", s.name, s.cron, s.kind,
               next);
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_schedule_add_def = {
    {.prog = "audora schedule add",
     .summary = "Queue a job of KIND at every tick of CRON (UTC).",
     .about = "CRON is five fields, minute hour day-of-month month "
              "day-of-week (\"0 * * * *\",\n\"*/15 6-22 * * mon-fri\"), or "
              "@hourly, @daily, @weekly, @monthly, @yearly. One\nworker "
              "fires each tick (within five seconds of it), once; ticks "
              "missed while\nno worker ran are not made up. A tick whose job "
              "is still queued or running\nqueues nothing new. For a job's "
              "parameters, see what `audora push ... --json`\nqueues, e.g. "
              "--params '{\"method\":\"geo.getTopTracks\",\"country\":"
              "\"Brazil\",\n\"limit\":50,\"date\":\"$tick_date\"}' for "
              "lastfm_chart.\n",
     .args = {"NAME CRON KIND", 3, 3, AU_CLI_STR, 0, 0},
     .opts = sa_opts,
     .nopts = SA_NOPTS},
    AU_CTX_DB,
    cmd_schedule_add,
};

static int cmd_schedule_list(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_schedule_list(c, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = au_cmd_rows(cmd, au_cli_has(cmd->cli, AU_CMD_OPT_JSON), r,
                         "schedules", "no schedule");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_schedule_list_def = {
    {.prog = "audora schedule list",
     .summary = "Every schedule with its next and last run and last job.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_schedule_list,
};

static int cmd_schedule_remove(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    long n = 0;
    const char *name = cmd->cli->args[0];
    if (!c || au_schedule_remove(c, name, &n, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    if (n == 0)
        return au_cmd_failf(cmd, "no schedule %s", name);
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        return au_cmd_json(cmd, json_pack("{s:s}", "removed", name));
    printf("schedule %s removed\n", name);
    return AU_EXIT_OK;
}

const au_cmd_def_t au_cmd_schedule_remove_def = {
    {.prog = "audora schedule remove",
     .summary = "Remove a schedule (jobs it queued stay).",
     .args = {"NAME", 1, 1, AU_CLI_STR, 0, 0},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_schedule_remove,
};
