/* au_cmd_jobs.c: the queue as operators see it: status, jobs, dlq list,
 * show, replay and purge. */
#include "au_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "au_chartname.h"
#include "au_fleet.h"
#include "au_log.h"
#include "au_out.h"
#include "au_queue.h"
#include "au_store.h"

/* ---- the queue and the fleet ---------------------------------------- */

static json_t *counts_json(const au_queue_counts_t *q)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                     "queued", (json_int_t)q->queued, "ready",
                     (json_int_t)q->ready, "running", (json_int_t)q->running,
                     "reading", (json_int_t)(q->running - q->in_flight),
                     "in_flight", (json_int_t)q->in_flight, "done",
                     (json_int_t)q->done, "dead", (json_int_t)q->dead,
                     "cancelled", (json_int_t)q->cancelled, "rows",
                     (json_int_t)q->rows, "oldest_ready_s", q->oldest_ready_s);
}

typedef struct {
    au_queue_counts_t q;
    PGresult *newest, *fleet; /* the newest job; the live workers */
    long batches;
    long long rows;
} status_t;

/* Seconds until the jobs queued and running are done at the last
 * minute's pace; -1 when nothing finished in it (no pace to go by). */
static double eta_s(const au_queue_counts_t *q)
{
    long left = q->queued + q->running;
    if (left == 0)
        return 0;
    return q->done_last_minute > 0 ? 60.0 * left / q->done_last_minute : -1;
}

static int status_json(au_cmd_t *cmd, const status_t *s)
{
    au_out_table_t *w = au_out_table_pg(s->fleet, 1);
    json_t *max = PQntuples(s->newest) > 0
                      ? au_out_value(PQgetvalue(s->newest, 0, 0), AU_OUT_INT)
                      : json_null();
    double eta = eta_s(&s->q);
    json_t *root =
        json_pack("{s:o, s:o, s:o, s:{s:i, s:I, s:I, s:f, s:I}, s:o}", "queue",
                  counts_json(&s->q), "max_job_id", max, "workers",
                  w ? au_out_table_json(w) : NULL, "throughput", "window_s", 60,
                  "batches", (json_int_t)s->batches, "rows",
                  (json_int_t)s->rows, "rows_per_s", s->rows / 60.0,
                  "jobs_done", (json_int_t)s->q.done_last_minute, "eta_s",
                  eta >= 0 ? json_real(eta) : json_null());
    au_out_table_destroy(&w);
    return au_cmd_json(cmd, root);
}

static int status_text(au_cmd_t *cmd, const status_t *s)
{
    const au_queue_counts_t *q = &s->q;
    printf("queue: %ld queued (%ld ready), %ld running (%ld being read, %ld "
           "with batches in flight), %ld done, %ld dead, %ld cancelled; "
           "%lld rows written by done jobs\n",
           q->queued, q->ready, q->running, q->running - q->in_flight,
           q->in_flight, q->done, q->dead, q->cancelled, q->rows);
    if (q->ready > 0)
        printf("oldest ready job waiting: %.1f s\n", q->oldest_ready_s);
    if (PQntuples(s->newest) > 0)
        printf("newest job: %s\n", PQgetvalue(s->newest, 0, 0));
    printf("\nworkers (seen in the last 30 s):\n");
    int rc = PQntuples(s->fleet) > 0 ? au_cmd_table(cmd, s->fleet)
                                     : (puts("none"), 0);
    printf("\nthroughput: %ld batches, %lld rows (%.0f rows/s), %ld jobs done "
           "in the last minute",
           s->batches, s->rows, s->rows / 60.0, q->done_last_minute);
    double eta = eta_s(q);
    if (eta > 0)
        printf("; ETA %.0f s for the %ld jobs left", eta,
               q->queued + q->running);
    putchar('\n');
    return rc;
}

static int status_once(au_cmd_t *cmd, PGconn *c, int json)
{
    status_t s = {0};
    int rc = au_queue_counts(c, &s.q, &cmd->err);
    if (rc == 0)
        rc = au_queue_list(c, NULL, 1, &s.newest, &cmd->err);
    if (rc == 0)
        rc = au_fleet_list(c, 30, &s.fleet, &cmd->err);
    if (rc == 0)
        rc = au_queue_throughput(c, 60, &s.batches, &s.rows, &cmd->err);
    if (rc < 0)
        rc = au_cmd_fail(cmd);
    else if (json)
        rc = status_json(cmd, &s);
    else
        rc = status_text(cmd, &s);
    PQclear(s.newest);
    PQclear(s.fleet);
    fflush(stdout);
    return rc;
}

enum { ST_WATCH, ST_INTERVAL, ST_COUNT, ST_JSON, ST_NOPTS };

static const au_cli_opt_t status_opts[] = {
    [ST_WATCH] = {.name = "watch",
                  .kind = AU_CLI_FLAG,
                  .help = "redraw every --interval seconds until ^C (in place "
                          "on a terminal)"},
    [ST_INTERVAL] = {.name = "interval",
                     .kind = AU_CLI_NUM,
                     .metavar = "S",
                     .help = "seconds between redraws, default 2",
                     .min = 0.1,
                     .max = 3600},
    [ST_COUNT] = {.name = "count",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "with --watch: stop after N redraws",
                  .lo = 1,
                  .hi = 1000000},
    [ST_JSON] = {.name = "json",
                 .kind = AU_CLI_FLAG,
                 .help = "print JSON (one object a line with --watch)"},
};

static int cmd_status(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    PGconn *c = au_cmd_conn(cmd);
    if (!c)
        return au_cmd_fail(cmd);
    int json = au_cli_has(a, ST_JSON), watch = au_cli_has(a, ST_WATCH);
    if (!watch)
        return status_once(cmd, c, json);
    /* In place on a terminal; elsewhere (a file, a pipe) one snapshot
     * after another, so that nothing is lost to escape codes. */
    int tty = isatty(STDOUT_FILENO) && !json;
    long long count = au_cli_int(a, ST_COUNT, 0);
    int ms = (int)(au_cli_num(a, ST_INTERVAL, 2.0) * 1000);
    for (long long i = 0; count == 0 || i < count; i++) {
        if (i > 0 && poll(NULL, 0, ms) < 0)
            break;
        if (tty)
            fputs("\033[H\033[2J", stdout);
        else if (i > 0 && !json)
            putchar('\n');
        int rc = status_once(cmd, c, json);
        if (rc != 0)
            return rc;
    }
    return AU_EXIT_OK;
}

const au_cmd_def_t au_cmd_status_def = {
    {.prog = "audora status",
     .summary = "Jobs by state, live workers, throughput and an ETA.",
     .about = "Running jobs are split into those being read by ingest and "
              "those whose\nbatches are all sent and being written. The "
              "ETA is the jobs left at the pace\nof the last minute. With "
              "--json, max_job_id is the highest job id (null when\nthere "
              "is none): remember it before pushing, then `audora wait "
              "--since-id` it.\n",
     .opts = status_opts,
     .nopts = ST_NOPTS},
    AU_CTX_DB,
    cmd_status,
};

enum { JOBS_STATE, JOBS_LIMIT, JOBS_JSON, JOBS_NOPTS };

static const char *const job_states[] = {"queued", "running",   "done",
                                         "dead",   "cancelled", NULL};

static const au_cli_opt_t jobs_opts[] = {
    [JOBS_JSON] = {.name = "json",
                   .kind = AU_CLI_FLAG,
                   .help = "print JSON instead of text"},
    [JOBS_STATE] = {.name = "state",
                    .short_name = 's',
                    .kind = AU_CLI_ENUM,
                    .help = "only jobs in this state",
                    .words = job_states},
    [JOBS_LIMIT] = {.name = "limit",
                    .short_name = 'n',
                    .kind = AU_CLI_INT,
                    .metavar = "N",
                    .help = "the newest N jobs, default 50",
                    .lo = 1,
                    .hi = 100000},
};

static int cmd_jobs(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    int state = au_cli_word(a, JOBS_STATE, -1);
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c ||
        au_queue_list(c, state < 0 ? NULL : job_states[state],
                      (int)au_cli_int(a, JOBS_LIMIT, 50), &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = au_cmd_rows(cmd, au_cli_has(a, JOBS_JSON), r, "jobs", "no jobs");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_jobs_def = {
    {.prog = "audora jobs",
     .summary = "The newest jobs, with their state, rows and last error.",
     .opts = jobs_opts,
     .nopts = JOBS_NOPTS},
    AU_CTX_DB,
    cmd_jobs,
};

static int cmd_dlq_list(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_queue_dead(c, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    int rc = au_cmd_rows(cmd, au_cli_has(cmd->cli, AU_CMD_OPT_JSON), r,
                         "dead_jobs", "no dead jobs");
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_dlq_list_def = {
    {.prog = "audora dlq list",
     .summary = "Dead jobs, oldest first, with the reason each died.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_dlq_list,
};

/* A job whole; its parameters as JSON in JSON (not a string of it). */
static int show_job(au_cmd_t *cmd, const PGresult *r)
{
    au_out_table_t *t = au_out_table_pg(r, 1);
    if (!t)
        return au_cmd_failf(cmd, "out of memory");
    int rc = 0;
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON)) {
        json_t *o = au_out_row_json(t, 0);
        int p = PQfnumber(r, "params");
        if (o && p >= 0 && !PQgetisnull(r, 0, p))
            json_object_set_new(o, "params",
                                au_out_value(PQgetvalue(r, 0, p), AU_OUT_JSON));
        rc = au_cmd_json(cmd, o);
    } else if (au_out_record_print(t, 0, stdout) < 0) {
        rc = au_cmd_failf(cmd, "cannot write the output");
    }
    au_out_table_destroy(&t);
    return rc;
}

static int cmd_dlq_show(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    PGresult *r = NULL;
    if (!c || au_queue_show(c, cmd->cli->ints[0], &r, &cmd->err) < 0)
        return au_cmd_fail(cmd); /* "no job 9999" */
    int rc = show_job(cmd, r);
    PQclear(r);
    return rc;
}

const au_cmd_def_t au_cmd_dlq_show_def = {
    {.prog = "audora dlq show",
     .summary = "One job, every field (any job, dead or not).",
     .args = {"ID", 1, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_dlq_show,
};

/* ---- dlq replay | purge --------------------------------------------- */

enum { DLQ_ALL, DLQ_JSON, DLQ_NOPTS };

static const au_cli_opt_t dlq_opts[] = {
    [DLQ_ALL] = {.name = "all", .kind = AU_CLI_FLAG, .help = "every dead job"},
    [DLQ_JSON] = {.name = "json",
                  .kind = AU_CLI_FLAG,
                  .help = "print the count as JSON"},
};

/* A replay or purge of one id that changed nothing: say why. */
static int dlq_not_dead(au_cmd_t *cmd, PGconn *c, long long id)
{
    PGresult *r = NULL;
    if (au_queue_show(c, id, &r, &cmd->err) < 0)
        return au_cmd_fail(cmd); /* "no job 9999" */
    au_cmd_failf(cmd, "job %lld is %s, not dead", id,
                 PQgetvalue(r, 0, PQfnumber(r, "state")));
    PQclear(r);
    return AU_EXIT_FAIL;
}

static int cmd_dlq_change(au_cmd_t *cmd, int replay)
{
    const au_cli_t *a = cmd->cli;
    int all = au_cli_has(a, DLQ_ALL);
    if (all == (a->nargs > 0))
        return au_cli_usage_error(a->spec, "give one ID or --all");
    long long id = all ? 0 : a->ints[0];
    PGconn *c = au_cmd_conn(cmd);
    long n = 0;
    int rc = !c       ? AU_EDBCONN
             : replay ? au_queue_replay(c, id, &n, &cmd->err)
                      : au_queue_purge(c, id, &n, &cmd->err);
    if (rc < 0)
        return au_cmd_fail(cmd);
    if (!all && n == 0)
        return dlq_not_dead(cmd, c, id);
    const char *verb = replay ? "replayed" : "purged";
    if (au_cli_has(a, DLQ_JSON))
        return au_cmd_json(cmd, json_pack("{s:I}", verb, (json_int_t)n));
    printf("dlq: %ld job(s) %s\n", n, verb);
    return 0;
}

static int cmd_dlq_replay(au_cmd_t *cmd)
{
    return cmd_dlq_change(cmd, 1);
}

static int cmd_dlq_purge(au_cmd_t *cmd)
{
    return cmd_dlq_change(cmd, 0);
}

const au_cmd_def_t au_cmd_dlq_replay_def = {
    {.prog = "audora dlq replay",
     .summary = "Queue a dead job again (or every one, --all) with a fresh "
                "attempt budget.",
     .args = {"ID", 0, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = dlq_opts,
     .nopts = DLQ_NOPTS},
    AU_CTX_DB,
    cmd_dlq_replay,
};

const au_cmd_def_t au_cmd_dlq_purge_def = {
    {.prog = "audora dlq purge",
     .summary = "Delete a dead job (or every one, --all).",
     .args = {"ID", 0, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = dlq_opts,
     .nopts = DLQ_NOPTS},
    AU_CTX_DB,
    cmd_dlq_purge,
};
