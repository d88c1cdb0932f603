/* au_cmd_wait.c: `audora wait`: until the jobs it waits for are done or
 * dead, with an exit status scripts can trust. */
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

/* ---- wait ----------------------------------------------------------- */

enum { WAIT_SINCE, WAIT_TIMEOUT, WAIT_QUIET, WAIT_JSON, WAIT_NOPTS };

static const au_cli_opt_t wait_opts[] = {
    [WAIT_SINCE] = {.name = "since-id",
                    .kind = AU_CLI_INT,
                    .metavar = "N",
                    .help =
                        "wait for every job with an id above N (the max_job_id "
                        "of `audora status --json` before pushing)",
                    .lo = 0,
                    .hi = LLONG_MAX},
    [WAIT_TIMEOUT] = {.name = "timeout",
                      .short_name = 't',
                      .kind = AU_CLI_INT,
                      .metavar = "S",
                      .help = "give up after S seconds and exit 3; 0, the "
                              "default, waits for ever",
                      .lo = 0,
                      .hi = 31 * 86400},
    [WAIT_QUIET] = {.name = "quiet",
                    .short_name = 'q',
                    .kind = AU_CLI_FLAG,
                    .help = "no progress line"},
    [WAIT_JSON] = {.name = "json",
                   .kind = AU_CLI_FLAG,
                   .help = "print the outcome and the final counts as JSON"},
};

/* Which jobs a wait is for. Finished (done or dead) is final unless a
 * dead job is replayed, so only unfinished ones are looked at again. */
typedef struct {
    au_cmd_t *cmd;
    const long long *ids; /* the JOB_IDs given, or */
    size_t nids;
    char *finished;  /* per id */
    long long floor; /* every job with an id above floor, */
    long long *skip; /* except these, dead before the wait began */
    size_t nskip;
    au_queue_counts_t q; /* the latest counts, for progress and JSON */
} waitset_t;

/* The job id of a row of a queue listing (its first column). */
static long long row_id(const PGresult *r, int row)
{
    return strtoll(PQgetvalue(r, row, 0), NULL, 10);
}

/* The highest id of a job in `state` (NULL: any); 0 when there is none. */
static int max_id(PGconn *c, const char *state, long long *id, au_error_t *err)
{
    PGresult *r = NULL;
    int rc = au_queue_list(c, state, 1, &r, err);
    if (rc == 0)
        *id = PQntuples(r) > 0 ? row_id(r, 0) : 0;
    PQclear(r);
    return rc;
}

/* The lowest id of a job in `state`, or LLONG_MAX. The list comes newest
 * first, so it is read whole: the limit doubles until it is not reached
 * (jobs pushed meanwhile only make it longer at the top). */
static int min_id(PGconn *c, const char *state, long hint, long long *id,
                  au_error_t *err)
{
    for (long limit = hint + 1024;; limit *= 2) {
        PGresult *r = NULL;
        int lim = limit > INT_MAX ? INT_MAX : (int)limit;
        int rc = au_queue_list(c, state, lim, &r, err);
        if (rc < 0)
            return rc;
        int n = PQntuples(r);
        *id = n > 0 ? row_id(r, n - 1) : LLONG_MAX;
        PQclear(r);
        if (n < lim || lim == INT_MAX)
            return 0;
    }
}

static int id_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Without ids: the jobs queued or running now and every later one, i.e.
 * every id from the oldest unfinished job on, less those already dead
 * (those already done cannot change). */
static int wait_since_now(waitset_t *w, PGconn *c)
{
    au_error_t *err = &w->cmd->err;
    long long top = 0, mq = LLONG_MAX, mr = LLONG_MAX;
    int rc = au_queue_counts(c, &w->q, err);
    if (rc == 0)
        rc = max_id(c, NULL, &top, err);
    /* Queued before running: a job claimed in between is seen in both
     * rather than in neither. */
    if (rc == 0)
        rc = min_id(c, "queued", w->q.queued, &mq, err);
    if (rc == 0)
        rc = min_id(c, "running", w->q.running, &mr, err);
    if (rc < 0)
        return rc;
    long long low = mq < mr ? mq : mr;
    w->floor = low == LLONG_MAX ? top : low - 1;
    PGresult *r = NULL;
    rc = au_queue_dead(c, &r, err);
    if (rc < 0)
        return rc;
    w->skip = calloc((size_t)PQntuples(r) + 1, sizeof(*w->skip));
    for (int i = 0; w->skip && i < PQntuples(r); i++)
        if (row_id(r, i) > w->floor)
            w->skip[w->nskip++] = row_id(r, i);
    PQclear(r);
    if (!w->skip)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    qsort(w->skip, w->nskip, sizeof(*w->skip), id_cmp);
    return 0;
}

/* Every id given must exist: a typo must not wait forever. */
static int wait_check_ids(waitset_t *w, PGconn *c)
{
    for (size_t i = 0; i < w->nids; i++) {
        PGresult *r = NULL;
        int rc = au_queue_show(c, w->ids[i], &r, &w->cmd->err);
        PQclear(r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int ours(const waitset_t *w, long long id)
{
    if (w->nids > 0) {
        for (size_t i = 0; i < w->nids; i++)
            if (w->ids[i] == id)
                return 1;
        return 0;
    }
    if (w->nskip > 0 &&
        bsearch(&id, w->skip, w->nskip, sizeof(*w->skip), id_cmp))
        return 0;
    return id > w->floor;
}

/* 1 while a job of the set is queued or running, 0 when none is. */
static int wait_pending(waitset_t *w, PGconn *c)
{
    au_error_t *err = &w->cmd->err;
    int pending = 0;
    for (size_t i = 0; i < w->nids; i++) {
        if (w->finished[i])
            continue;
        PGresult *r = NULL;
        int rc = au_queue_show(c, w->ids[i], &r, err);
        if (rc < 0)
            return rc;
        const char *st = PQgetvalue(r, 0, PQfnumber(r, "state"));
        w->finished[i] = !strcmp(st, "done") || !strcmp(st, "dead");
        pending |= !w->finished[i];
        PQclear(r);
    }
    if (w->nids > 0)
        return pending;
    long long q = 0, run = 0;
    int rc = max_id(c, "queued", &q, err);
    if (rc == 0)
        rc = max_id(c, "running", &run, err);
    return rc < 0 ? rc : q > w->floor || run > w->floor;
}

/* On a terminal one line redrawn in place; in a log, a line per change at
 * most every two seconds, and the last one. */
static void progress(const au_queue_counts_t *q, int tty, long long *next,
                     long *last)
{
    long long now = au_now_ms();
    long finished = q->done + q->dead;
    long total = finished + q->queued + q->running;
    int idle = q->queued + q->running == 0;
    if (!tty && !idle && (finished == *last || now < *next))
        return;
    fprintf(stderr,
            "%sjobs: %ld/%ld finished (%ld done, %ld dead), %ld running, "
            "%lld rows%s",
            tty ? "\r" : "", finished, total, q->done, q->dead, q->running,
            q->rows, tty ? "   " : "\n");
    *last = finished;
    *next = now + 2000;
}

/* Polls until no job of the set is queued or running: 0, AU_ETIMEOUT,
 * or the database error that outlasted the grace period. */
static int wait_loop(waitset_t *w, long long timeout_s, int quiet)
{
    long long start = au_now_ms(), next = 0, failing = 0;
    long last = -1;
    int tty = isatty(2), rc;
    for (;;) {
        PGconn *c = au_cmd_conn(w->cmd);
        rc = c ? au_queue_counts(c, &w->q, &w->cmd->err) : AU_EDBCONN;
        if (rc == 0 && !quiet)
            progress(&w->q, tty, &next, &last);
        if (rc == 0 && w->q.queued + w->q.running > 0)
            rc = wait_pending(w, c);
        if (rc == 0)
            break;
        long long now = au_now_ms();
        if (rc < 0) {
            /* The server may be restarting: a fresh connection for the
             * next round, and up to 30 s of failures before giving up. */
            au_pool_put(w->cmd->ctx.pool, w->cmd->conn);
            w->cmd->conn = NULL;
            if (!failing)
                failing = now;
            else if (now - failing > 30000)
                break;
        } else {
            failing = 0;
        }
        if (timeout_s > 0 && now - start >= timeout_s * 1000) {
            rc = AU_ETIMEOUT;
            break;
        }
        poll(NULL, 0, rc < 0 ? 500 : 250);
    }
    if (!quiet && tty)
        fputc('\n', stderr);
    return rc;
}

/* The dead jobs of the set, as au_queue_dead describes them. */
static au_out_table_t *wait_dead(waitset_t *w)
{
    PGconn *c = au_cmd_conn(w->cmd);
    PGresult *r = NULL;
    if (!c || au_queue_dead(c, &r, &w->cmd->err) < 0)
        return NULL;
    au_out_table_t *t = au_out_table_pg(r, 0);
    for (int i = 0; t && i < PQntuples(r); i++)
        if (ours(w, row_id(r, i)) && au_out_table_add_pg(t, r, i) < 0)
            au_out_table_destroy(&t);
    PQclear(r);
    if (!t)
        au_error_set(&w->cmd->err, AU_ENOMEM, "out of memory");
    return t;
}

static void name_dead(const au_out_table_t *dead)
{
    json_t *rows = au_out_table_json(dead);
    size_t n = json_array_size(rows);
    fprintf(stderr, "audora wait: %zu job(s) dead:\n", n);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(rows, i);
        fprintf(stderr, "  job %lld (%s): %s\n",
                (long long)json_integer_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "source")),
                json_string_value(json_object_get(j, "last_error")));
    }
    json_decref(rows);
}

static json_t *wait_json(const waitset_t *w, const char *result,
                         const au_out_table_t *dead, double waited_s)
{
    const au_queue_counts_t *q = &w->q;
    json_t *root = json_pack(
        "{s:s, s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}", "result", result,
        "waited_s", waited_s, "queue", "queued", (json_int_t)q->queued, "ready",
        (json_int_t)q->ready, "running", (json_int_t)q->running, "done",
        (json_int_t)q->done, "dead", (json_int_t)q->dead, "rows",
        (json_int_t)q->rows, "dead_jobs", au_out_table_json(dead));
    if (root && w->nids == 0 &&
        json_object_set_new(root, "since_id", json_integer(w->floor)) < 0) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

static int wait_finish(waitset_t *w, int rc, double waited_s)
{
    au_cmd_t *cmd = w->cmd;
    au_out_table_t *dead = rc == 0 || rc == AU_ETIMEOUT ? wait_dead(w) : NULL;
    if (!dead)
        return au_cmd_fail(cmd);
    size_t ndead = au_out_table_nrows(dead);
    int status = rc == AU_ETIMEOUT ? AU_EXIT_TIMEOUT
                 : ndead > 0       ? AU_EXIT_FAIL
                                   : AU_EXIT_OK;
    if (au_cli_has(cmd->cli, WAIT_JSON)) {
        const char *result = status == AU_EXIT_TIMEOUT ? "timeout"
                             : ndead > 0               ? "dead"
                                                       : "done";
        if (au_cmd_json(cmd, wait_json(w, result, dead, waited_s)) != 0)
            status = AU_EXIT_FAIL;
    }
    if (ndead > 0)
        name_dead(dead);
    if (status == AU_EXIT_TIMEOUT)
        fprintf(stderr,
                "audora wait: timed out after %lld s, jobs still queued or "
                "running\n",
                au_cli_int(cmd->cli, WAIT_TIMEOUT, 0));
    au_out_table_destroy(&dead);
    return status;
}

static int cmd_wait(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    if (a->nargs > 0 && au_cli_has(a, WAIT_SINCE))
        return au_cli_usage_error(a->spec,
                                  "give JOB_IDs or --since-id, not both");
    waitset_t w = {.cmd = cmd,
                   .ids = a->ints,
                   .nids = (size_t)a->nargs,
                   .floor = au_cli_int(a, WAIT_SINCE, 0)};
    w.finished = calloc(w.nids + 1, 1);
    PGconn *c = au_cmd_conn(cmd);
    int rc = !w.finished ? AU_ENOMEM : !c ? AU_EDBCONN : 0;
    if (rc == 0 && w.nids > 0)
        rc = wait_check_ids(&w, c);
    else if (rc == 0 && !au_cli_has(a, WAIT_SINCE))
        rc = wait_since_now(&w, c);
    int status = AU_EXIT_FAIL;
    if (rc < 0) {
        status = au_cmd_fail(cmd);
    } else {
        long long start = au_now_ms();
        rc = wait_loop(&w, au_cli_int(a, WAIT_TIMEOUT, 0),
                       au_cli_has(a, WAIT_QUIET));
        status = wait_finish(&w, rc, (double)(au_now_ms() - start) / 1000.0);
    }
    free(w.finished);
    free(w.skip);
    return status;
}

const au_cmd_def_t au_cmd_wait_def = {
    {.prog = "audora wait",
     .summary = "Wait until the jobs are finished; the exit status says how "
                "they ended.",
     .about = "Without JOB_IDs it waits for every job queued or running "
              "when it starts and\nevery job created after that; with "
              "--since-id N, for every job whose id is\nabove N. Exit "
              "status: 0 when every job waited for is done, 1 when any is\n"
              "dead (each is named on stderr; a JOB_ID that does not exist "
              "is an error too),\n3 on timeout, 2 for a usage error.\n",
     .args = {"JOB_ID...", 0, AU_CLI_MANY, AU_CLI_INT, 1, LLONG_MAX},
     .opts = wait_opts,
     .nopts = WAIT_NOPTS},
    AU_CTX_DB,
    cmd_wait,
};
