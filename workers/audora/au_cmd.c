/* au_cmd.c: the dispatcher of `audora` and the commands that change
 * things (migrate, push, dlq replay|purge, features load, gen), wait, and
 * config; the read-only queries are in au_query.c. */
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

#include "au_backtest.h"
#include "au_chartname.h"
#include "au_gen.h"
#include "au_log.h"
#include "au_migrate.h"
#include "au_out.h"
#include "au_query.h"
#include "au_queue.h"
#include "au_store.h"

/* ---- what every handler shares -------------------------------------- */

PGconn *au_cmd_conn(au_cmd_t *cmd)
{
    if (!cmd->conn && au_ctx_need(&cmd->ctx, cmd->needs, &cmd->err) == 0)
        cmd->conn = au_pool_get(cmd->ctx.pool, &cmd->err);
    return cmd->conn;
}

int au_cmd_fail(au_cmd_t *cmd)
{
    fprintf(stderr, "audora %s: %s\n", cmd->name, cmd->err.msg);
    /* A configuration that cannot work is the caller's to fix, like a
     * bad flag, wherever it shows. */
    return cmd->err.code == AU_ECONFIG ? AU_EXIT_USAGE : AU_EXIT_FAIL;
}

int au_cmd_failf(au_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd->err.msg, sizeof(cmd->err.msg), fmt, ap);
    va_end(ap);
    return au_cmd_fail(cmd);
}

int au_cmd_json(au_cmd_t *cmd, json_t *root)
{
    return au_out_json(root, stdout, &cmd->err) < 0 ? au_cmd_fail(cmd) : 0;
}

int au_cmd_table(au_cmd_t *cmd, const PGresult *r)
{
    au_out_table_t *t = au_out_table_pg(r, 1);
    int rc = t ? au_out_table_print(t, stdout) : AU_ENOMEM;
    au_out_table_destroy(&t);
    if (rc < 0)
        return au_cmd_failf(cmd, "%s", au_strerror(rc));
    return 0;
}

const au_cli_opt_t au_cmd_json_opt[] = {
    [AU_CMD_OPT_JSON] = {.name = "json",
                         .kind = AU_CLI_FLAG,
                         .help = "print JSON instead of text"},
};

/* ---- migrate -------------------------------------------------------- */

static int cmd_migrate(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    int n = 0;
    if (!c || au_migrate(c, &n, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        return au_cmd_json(cmd,
                           json_pack("{s:i, s:i}", "applied", n,
                                     "schema_version", au_schema_latest()));
    printf("migrate: %d migration(s) applied, schema at version %d\n", n,
           au_schema_latest());
    return 0;
}

static const au_cmd_def_t def_migrate = {
    {.prog = "audora migrate",
     .summary = "Apply the database migrations this build needs (safe to "
                "run again\nand from several places at once).",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_migrate,
    NULL,
};

/* ---- push ----------------------------------------------------------- */

enum {
    PUSH_PLATFORM,
    PUSH_CHART,
    PUSH_REGION,
    PUSH_DATE,
    PUSH_MAX_ATTEMPTS,
    PUSH_JSON,
    PUSH_NOPTS
};

static const au_cli_opt_t push_opts[] = {
    [PUSH_PLATFORM] = {.name = "platform",
                       .kind = AU_CLI_STR,
                       .metavar = "P",
                       .help =
                           "platform, for files whose name does not say it"},
    [PUSH_CHART] = {.name = "chart",
                    .kind = AU_CLI_STR,
                    .metavar = "C",
                    .help =
                        "chart (daily, weekly), for files whose name does not "
                        "say it"},
    [PUSH_REGION] = {.name = "region",
                     .kind = AU_CLI_STR,
                     .metavar = "R",
                     .help = "region, for files whose name does not say it"},
    [PUSH_DATE] = {.name = "date",
                   .kind = AU_CLI_DATE,
                   .help = "chart date, for files whose name carries none"},
    [PUSH_MAX_ATTEMPTS] = {.name = "max-attempts",
                           .kind = AU_CLI_INT,
                           .metavar = "N",
                           .help = "attempts before a job is dead, default "
                                   "queue.max_attempts",
                           .lo = 1,
                           .hi = 100},
    [PUSH_JSON] = {.name = "json",
                   .kind = AU_CLI_FLAG,
                   .help = "print what was queued and what was not as JSON"},
};

typedef struct {
    char *path;        /* as found: an argument, or a file under one */
    char *abs;         /* its real path, which the job carries */
    au_chartname_t cn; /* what its name says */
    const char *platform, *chart, *region, *date; /* as resolved */
    char why[320]; /* why it cannot be queued; "" while it can */
    int64_t id;    /* its job, once queued */
} item_t;

typedef struct {
    item_t **v; /* pointers, so that sorting moves no item */
    size_t n, cap;
} items_t;

static void items_free(items_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]->path);
        free(l->v[i]->abs);
        free(l->v[i]);
    }
    free(l->v);
}

static int add_item(items_t *l, const char *path, const char *why)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        item_t **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return AU_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    item_t *it = calloc(1, sizeof(*it));
    if (!it || !(it->path = strdup(path))) {
        free(it);
        return AU_ENOMEM;
    }
    if (why)
        snprintf(it->why, sizeof(it->why), "%s", why);
    l->v[l->n++] = it;
    return 0;
}

/* Adds every *.csv under dir, recursively; *found counts them. */
static int walk(items_t *l, const char *dir, long *found)
{
    DIR *d = opendir(dir);
    if (!d)
        return add_item(l, dir, strerror(errno));
    int rc = 0;
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    for (struct dirent *e = readdir(d); e && rc == 0; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s%s%s", dir, sep, e->d_name);
        size_t len = strlen(e->d_name);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = walk(l, sub, found);
        } else if (len > 4 && !strcmp(e->d_name + len - 4, ".csv")) {
            rc = add_item(l, sub, NULL);
            (*found)++;
        }
    }
    closedir(d);
    return rc;
}

static int collect(items_t *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return add_item(l, path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return add_item(l, path, NULL);
    long found = 0;
    int rc = walk(l, path, &found);
    if (rc == 0 && found == 0)
        rc = add_item(l, path, "no .csv file in this folder");
    return rc;
}

/* Appends s to buf, after sep when buf is not empty. */
static void append(char *buf, size_t cap, const char *sep, const char *s)
{
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", len ? sep : "", s);
}

/* A file's platform, chart, region and date: what its name says, else
 * the flag. A flag that contradicts the name is refused rather than
 * obeyed: it almost always means the wrong files were given. */
static void resolve(item_t *it, const au_cli_t *a)
{
    static const char *const what[] = {"platform", "chart", "region", "date"};
    static const char *const flags[] = {"--platform P", "--chart C",
                                        "--region R", "--date YYYY-MM-DD"};
    static const unsigned bits[] = {AU_CHARTNAME_PLATFORM, AU_CHARTNAME_CHART,
                                    AU_CHARTNAME_REGION, AU_CHARTNAME_DATE};
    au_error_t nerr = {0};
    au_chartname_parse(it->path, &it->cn, &nerr);
    const char *named[] = {it->cn.platform, it->cn.chart, it->cn.region,
                           it->cn.date};
    const char **dst[] = {&it->platform, &it->chart, &it->region, &it->date};
    char miss[64] = "", give[96] = "";
    for (size_t i = 0; i < 4; i++) {
        const char *flag = au_cli_str(a, PUSH_PLATFORM + i, NULL);
        const char *name = (it->cn.known & bits[i]) ? named[i] : NULL;
        /* A dated name keeps its date: --date is for the undated ones. */
        if (i < 3 && flag && name && strcmp(flag, name) != 0) {
            snprintf(it->why, sizeof(it->why),
                     "the name says %s %s, but --%s is %s", what[i], name,
                     what[i], flag);
            return;
        }
        *dst[i] = name ? name : flag;
        if (!*dst[i]) {
            append(miss, sizeof(miss), "/", what[i]);
            append(give, sizeof(give), " ", flags[i]);
        }
    }
    if (miss[0])
        snprintf(it->why, sizeof(it->why),
                 "the name does not say its %s; give %s", miss, give);
    else if (!(it->abs = realpath(it->path, NULL)))
        snprintf(it->why, sizeof(it->why), "%s", strerror(errno));
}

/* Oldest chart first, then by name: each series' dates reach the queue in
 * order (history is then complete when a chart is scored), and the files
 * of one date spread over many series rather than piling onto one. */
static int item_cmp(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int d = strcmp(x->date ? x->date : "", y->date ? y->date : "");
    return d ? d : strcmp(x->path, y->path);
}

/* Not queued first, grouped by reason, then by path. */
static int failed_cmp(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int d = strcmp(x->why, y->why);
    return d ? d : strcmp(x->path, y->path);
}

static int queue_item(au_cmd_t *cmd, PGconn *c, item_t *it, int attempts)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", it->abs,
                          "platform", it->platform, "chart", it->chart,
                          "region", it->region, "date", it->date);
    char *js = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!js) {
        snprintf(it->why, sizeof(it->why),
                 "cannot build the job (is the path UTF-8?)");
        return 0;
    }
    int rc = au_queue_push(c, "chart_csv", js, attempts, &it->id, &cmd->err);
    free(js);
    if (rc < 0)
        snprintf(it->why, sizeof(it->why), "%s", cmd->err.msg);
    return rc;
}

/* Queues every item that can be; stops at the first database error (the
 * rest are then named as not queued). A database that cannot be reached
 * at all is the command's failure, not each file's: the return is then
 * AU_EDBCONN with cmd->err set. */
static int queue_items(au_cmd_t *cmd, items_t *l)
{
    int attempts = (int)au_cli_int(cmd->cli, PUSH_MAX_ATTEMPTS,
                                   cmd->ctx.cfg.queue.max_attempts);
    size_t todo = 0;
    for (size_t i = 0; i < l->n; i++)
        todo += !l->v[i]->why[0];
    PGconn *c = todo > 0 ? au_cmd_conn(cmd) : NULL;
    if (todo > 0 && !c)
        return AU_EDBCONN;
    int rc = 0;
    for (size_t i = 0; i < l->n; i++) {
        item_t *it = l->v[i];
        if (it->why[0])
            continue;
        if (rc == 0)
            rc = queue_item(cmd, c, it, attempts);
        else
            snprintf(it->why, sizeof(it->why), "not queued: %s", cmd->err.msg);
    }
    return 0;
}

/* "ids 3-7, 9, 12-40": consecutive ids as ranges. */
static void print_ids(FILE *out, item_t *const *v, size_t n)
{
    const char *sep = n == 1 ? "id " : "ids ";
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1]->id == v[j]->id + 1)
            j++;
        if (j == i)
            fprintf(out, "%s%lld", sep, (long long)v[i]->id);
        else
            fprintf(out, "%s%lld-%lld", sep, (long long)v[i]->id,
                    (long long)v[j]->id);
        sep = ", ";
        i = j + 1;
    }
}

/* One message for every file not queued, grouped by reason. */
static void print_not_queued(item_t *const *v, size_t n, size_t total)
{
    fprintf(stderr, "audora push: %zu of %zu file(s) not queued:\n", n, total);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i]->why, v[i - 1]->why) != 0)
            fprintf(stderr, "  %s:\n", v[i]->why);
        fprintf(stderr, "    %s\n", v[i]->path);
    }
}

static json_t *push_json(item_t *const *ok, size_t nok, item_t *const *bad,
                         size_t nbad)
{
    json_t *q = json_array(), *nq = json_array();
    int fail = !q || !nq;
    for (size_t i = 0; i < nok && !fail; i++)
        fail = json_array_append_new(
            q, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
                         (json_int_t)ok[i]->id, "path", ok[i]->abs, "platform",
                         ok[i]->platform, "chart", ok[i]->chart, "region",
                         ok[i]->region, "date", ok[i]->date));
    for (size_t i = 0; i < nbad && !fail; i++)
        fail = json_array_append_new(nq, json_pack("{s:s, s:s}", "path",
                                                   bad[i]->path, "reason",
                                                   bad[i]->why));
    if (fail) {
        json_decref(q);
        json_decref(nq);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "queued", q, "not_queued", nq);
}

static int push_report(au_cmd_t *cmd, items_t *l)
{
    /* Queued ones first, in queue order; then the rest by reason. */
    size_t nok = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i]->id > 0) {
            item_t *t = l->v[nok];
            l->v[nok++] = l->v[i];
            l->v[i] = t;
        }
    item_t **bad = l->v + nok;
    size_t nbad = l->n - nok;
    qsort(bad, nbad, sizeof(*bad), failed_cmp);
    int rc = 0;
    if (au_cli_has(cmd->cli, PUSH_JSON)) {
        rc = au_cmd_json(cmd, push_json(l->v, nok, bad, nbad));
    } else {
        printf("push: %zu job(s) queued", nok);
        if (nok > 0)
            fputs(", ", stdout);
        print_ids(stdout, l->v, nok);
        putchar('\n');
    }
    if (nbad > 0)
        print_not_queued(bad, nbad, l->n);
    return rc ? rc : nbad > 0 ? AU_EXIT_FAIL : AU_EXIT_OK;
}

static int cmd_push(au_cmd_t *cmd)
{
    items_t l = {0};
    int rc = 0;
    for (int i = 0; i < cmd->cli->nargs && rc == 0; i++)
        rc = collect(&l, cmd->cli->args[i]);
    for (size_t i = 0; i < l.n && rc == 0; i++)
        if (!l.v[i]->why[0])
            resolve(l.v[i], cmd->cli);
    if (rc < 0) {
        items_free(&l);
        return au_cmd_failf(cmd, "out of memory");
    }
    qsort(l.v, l.n, sizeof(*l.v), item_cmp);
    rc = queue_items(cmd, &l) < 0 ? au_cmd_fail(cmd) : push_report(cmd, &l);
    items_free(&l);
    return rc;
}

static const au_cmd_def_t def_push = {
    {.prog = "audora push",
     .summary = "Queue one job per chart CSV: each FILE, and every *.csv "
                "under each DIR.",
     .about = "Platform, chart, region and date come from names like\n"
              "regional-us-weekly-2019-04-05--2019-04-12.csv (a weekly "
              "range is dated by\nits last day) or "
              "regional-global-daily-2020-01-01.csv; a flag gives what a\n"
              "name does not say (the *-daily-latest.csv downloads carry "
              "no date: give\n--date), and a flag that contradicts a name "
              "is refused for that file. Every\nfile that can be queued "
              "is; those that cannot are named, with the reason, in\none "
              "message on stderr, and the exit status is then 1.\n",
     .args = {"FILE|DIR...", 1, AU_CLI_MANY, AU_CLI_STR, 0, 0},
     .opts = push_opts,
     .nopts = PUSH_NOPTS},
    AU_CTX_DB,
    cmd_push,
    NULL,
};

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

static const au_cmd_def_t def_wait = {
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
    NULL,
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

static const au_cmd_def_t def_dlq_replay = {
    {.prog = "audora dlq replay",
     .summary = "Queue a dead job again (or every one, --all) with a fresh "
                "attempt budget.",
     .args = {"ID", 0, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = dlq_opts,
     .nopts = DLQ_NOPTS},
    AU_CTX_DB,
    cmd_dlq_replay,
    NULL,
};

static const au_cmd_def_t def_dlq_purge = {
    {.prog = "audora dlq purge",
     .summary = "Delete a dead job (or every one, --all).",
     .args = {"ID", 0, 1, AU_CLI_INT, 1, LLONG_MAX},
     .opts = dlq_opts,
     .nopts = DLQ_NOPTS},
    AU_CTX_DB,
    cmd_dlq_purge,
    NULL,
};

/* ---- features load -------------------------------------------------- */

static int cmd_features_load(au_cmd_t *cmd)
{
    PGconn *c = au_cmd_conn(cmd);
    long n = 0;
    if (!c || au_store_load_features(c, cmd->cli->args[0], &n, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        return au_cmd_json(cmd, json_pack("{s:I}", "loaded", (json_int_t)n));
    printf("features: %ld track(s) loaded\n", n);
    return 0;
}

static const au_cmd_def_t def_features_load = {
    {.prog = "audora features load",
     .summary = "Load an audio-features CSV (the hit-predictor layout: "
                "track, artist,\nuri, danceability, ...).",
     .args = {"FILE", 1, 1, AU_CLI_STR, 0, 0},
     .opts = au_cmd_json_opt,
     .nopts = 1},
    AU_CTX_DB,
    cmd_features_load,
    NULL,
};

/* ---- config --------------------------------------------------------- */

/* The dump's "key = value" lines as an object. Integers become numbers:
 * every integer key prints as one, and no text key (URLs, endpoints,
 * addresses, levels) can be a bare integer. au_config has no typed
 * iterator over its keys; the dump is its one listing. */
static json_t *config_json(const au_config_t *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    au_config_dump(cfg, m);
    fclose(m);
    json_t *o = json_object();
    for (char *line = buf; o && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strstr(line, " = ");
        if (eq) {
            *eq = '\0';
            const char *val = eq + 3, *d = val[0] == '-' ? val + 1 : val;
            int num =
                d[0] && strspn(d, "0123456789") == strlen(d) && strlen(d) < 19;
            json_t *v =
                num ? json_integer(strtoll(val, NULL, 10)) : json_string(val);
            if (json_object_set_new(o, line, v) < 0) {
                json_decref(o);
                o = NULL;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return o;
}

static int cmd_config_check(au_cmd_t *cmd)
{
    if (au_cli_has(cmd->cli, AU_CMD_OPT_JSON))
        return au_cmd_json(cmd, config_json(&cmd->ctx.cfg));
    au_config_dump(&cmd->ctx.cfg, stdout);
    return 0;
}

static int cmd_config_example(au_cmd_t *cmd)
{
    (void)cmd;
    au_config_write_example(stdout);
    return 0;
}

static const au_cmd_def_t def_config_check = {
    {.prog = "audora config check",
     .summary = "Check and print the effective configuration (defaults < "
                ".env <\nenvironment < flags), secrets redacted.",
     .opts = au_cmd_json_opt,
     .nopts = 1},
    0,
    cmd_config_check,
    NULL,
};

static const au_cmd_def_t def_config_example = {
    {.prog = "audora config example",
     .summary = "Print a .env.example: every key, its environment name, "
                "default and rule.",
     .flags = AU_CLI_NO_CONFIG},
    0,
    cmd_config_example,
    NULL,
};

/* ---- gen ------------------------------------------------------------ */

enum {
    GEN_OUT,
    GEN_RECORDS,
    GEN_PER_FILE,
    GEN_SEED,
    GEN_COPY,
    GEN_JSON,
    GEN_N
};

static const au_cli_opt_t gen_opts[] = {
    [GEN_OUT] = {.name = "out",
                 .short_name = 'o',
                 .kind = AU_CLI_STR,
                 .metavar = "DIR",
                 .help = "folder to write the chart files into",
                 .flags = AU_CLI_REQUIRED},
    [GEN_RECORDS] = {.name = "records",
                     .kind = AU_CLI_INT,
                     .metavar = "N",
                     .help = "rows in all, default 1000000",
                     .lo = 1,
                     .hi = 1000000000},
    [GEN_PER_FILE] = {.name = "per-file",
                      .kind = AU_CLI_INT,
                      .metavar = "M",
                      .help = "rows per chart file, default 200",
                      .lo = 1,
                      .hi = 100000},
    [GEN_SEED] = {.name = "seed",
                  .kind = AU_CLI_INT,
                  .metavar = "S",
                  .help = "the same seed writes the same files, default 1",
                  .lo = 0,
                  .hi = LLONG_MAX},
    [GEN_COPY] = {.name = "copy",
                  .kind = AU_CLI_STR,
                  .metavar = "FILE",
                  .help =
                      "also write the rows as COPY text for the trends table"},
    [GEN_JSON] = {.name = "json",
                  .kind = AU_CLI_FLAG,
                  .help = "print the counts as JSON"},
};

static int cmd_gen(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    const char *out = au_cli_str(a, GEN_OUT, NULL);
    au_gen_opts_t o = {
        .records = au_cli_int(a, GEN_RECORDS, 1000000),
        .per_file = (int)au_cli_int(a, GEN_PER_FILE, 200),
        .seed = (uint64_t)au_cli_int(a, GEN_SEED, 1),
        .copy_path = au_cli_str(a, GEN_COPY, NULL),
    };
    long files = 0;
    if (au_gen_write(out, &o, &files, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    if (au_cli_has(a, GEN_JSON))
        return au_cmd_json(cmd, json_pack("{s:I, s:I, s:s}", "records",
                                          (json_int_t)o.records, "files",
                                          (json_int_t)files, "out", out));
    printf("gen: %ld records in %ld file(s) under %s\n", o.records, files, out);
    return 0;
}

static const au_cmd_def_t def_gen = {
    {.prog = "audora gen",
     .summary = "Write synthetic chart CSVs for load tests and benchmarks.",
     .opts = gen_opts,
     .nopts = GEN_N,
     .flags = AU_CLI_NO_CONFIG},
    0,
    cmd_gen,
    NULL,
};

/* ---- backtest ------------------------------------------------------- */

/* The backtest parses its own command line (it moves to au_cli with its
 * rewrite); this table gives it a usage and --help, --version. */
static const au_cli_opt_t backtest_opts[] = {
    [0] = {.name = "json",
           .kind = AU_CLI_FLAG,
           .help = "print the results as JSON"},
    [1] = {.name = "svg",
           .kind = AU_CLI_STR,
           .metavar = "FILE",
           .help = "the chart (default backtest.svg)"},
    [2] = {.name = "platform",
           .kind = AU_CLI_STR,
           .metavar = "P",
           .help = "series platform (default spotify)"},
    [3] = {.name = "chart",
           .kind = AU_CLI_STR,
           .metavar = "C",
           .help = "series chart (default weekly)"},
    [4] = {.name = "region",
           .kind = AU_CLI_STR,
           .metavar = "R",
           .help = "series region (default us)"},
};

static const au_cmd_def_t def_backtest = {
    {.prog = "audora backtest",
     .summary = "Score the predictors against real chart history and draw "
                "the chart.",
     .about = "See docs/backtest.md.\n",
     .opts = backtest_opts,
     .nopts = sizeof(backtest_opts) / sizeof(backtest_opts[0])},
    AU_CTX_DB,
    NULL,
    au_backtest_cmd,
};

/* ---- version -------------------------------------------------------- */

static int cmd_version(au_cmd_t *cmd)
{
    (void)cmd;
    puts("audora " AU_VERSION);
    return 0;
}

static const au_cmd_def_t def_version = {
    {.prog = "audora version",
     .summary = "Print the version.",
     .flags = AU_CLI_NO_CONFIG},
    0,
    cmd_version,
    NULL,
};

/* ---- the dispatcher ------------------------------------------------- */

#define PROG "audora"

static const au_cmd_def_t *const commands[] = {
    &def_migrate,           &def_push,
    &au_query_status_def,   &def_wait,
    &au_query_jobs_def,     &au_query_report_def,
    &au_query_dlq_list_def, &au_query_dlq_show_def,
    &def_dlq_replay,        &def_dlq_purge,
    &def_features_load,     &au_query_summary_def,
    &au_query_top_def,      &au_query_playlists_def,
    &au_query_spread_def,   &def_gen,
    &def_backtest,          &def_config_check,
    &def_config_example,    &def_version,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The words after "audora " in a command's name: "dlq show". */
static const char *words_of(const au_cmd_def_t *d)
{
    return d->cli.prog + sizeof(PROG);
}

/* 1 when argv[1] (and argv[2] for a two-word command) names d. */
static int names(const au_cmd_def_t *d, int argc, char **argv, int *used)
{
    const char *w = words_of(d);
    size_t n = strcspn(w, " ");
    if (argc < 2 || strlen(argv[1]) != n || strncmp(argv[1], w, n) != 0)
        return 0;
    if (!w[n]) {
        *used = 1;
        return 1;
    }
    if (argc < 3 || strcmp(argv[2], w + n + 1) != 0)
        return 0;
    *used = 2;
    return 1;
}

/* 1 when word is the first of two-word commands ("dlq", "config"). */
static int is_group(const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *w = words_of(commands[i]);
        if (!strncmp(w, word, n) && w[n] == ' ')
            return 1;
    }
    return 0;
}

static void indented(FILE *out, const char *text, int indent)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%*s%.*s\n", indent, "", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

/* Every command whose name starts with `group` ("" for all). */
static void list_commands(FILE *out, const char *group)
{
    size_t n = strlen(group);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *w = words_of(commands[i]);
        if (n && (strncmp(w, group, n) != 0 || w[n] != ' '))
            continue;
        au_cli_synopsis(&commands[i]->cli, "  ", 4, out);
        indented(out, commands[i]->cli.summary, 6);
    }
}

static void usage(FILE *out)
{
    fputs("usage: " PROG " COMMAND [ARGUMENTS] [OPTIONS]\n\n"
          "Queue chart files for the pipeline, watch it, and query what "
          "it wrote.\n\ncommands:\n",
          out);
    list_commands(out, "");
    fputs("\nEvery command takes -h/--help (its usage, and nothing else "
          "happens) and\n-V/--version. Configuration flags may follow any "
          "command that reads the\nconfiguration: --section.key=VALUE, "
          "--section.key VALUE, --env-file PATH\n(`audora config example` "
          "lists every key).\n\n"
          "Exit status: 0 success; 1 the work failed (a query, a job "
          "waited for is dead,\na file not queued, no such job); 2 a usage "
          "or configuration error; 3 `wait`\ntimed out.\n",
          out);
}

static void group_usage(FILE *out, const char *group)
{
    fprintf(out,
            "usage: " PROG " %s SUBCOMMAND [ARGUMENTS] [OPTIONS]\n\n"
            "subcommands:\n",
            group);
    list_commands(out, group);
}

static int is_help(const char *a)
{
    return !strcmp(a, "-h") || !strcmp(a, "--help");
}

static int is_version(const char *a)
{
    return !strcmp(a, "-V") || !strcmp(a, "--version");
}

/* A command that parses its own line: only --help and --version here. */
static int run_own(const au_cmd_def_t *d, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (is_help(argv[i])) {
            au_cli_usage(&d->cli, stdout);
            return AU_EXIT_OK;
        }
        if (is_version(argv[i])) {
            puts(PROG " " AU_VERSION);
            return AU_EXIT_OK;
        }
    }
    return d->main(argc, argv);
}

/* Parse, answer --help/--version, context, handler, clean-up. */
static int run(const au_cmd_def_t *d, int argc, char **argv)
{
    if (d->main)
        return run_own(d, argc, argv);
    au_cli_t cli;
    int rc = au_cli_start(&cli, &d->cli, argc, argv);
    if (rc >= 0) {
        au_cli_fini(&cli);
        return rc;
    }
    /* The configuration now (a bad key is a usage error); the servers
     * when the handler first asks for its connection. */
    au_cmd_t cmd = {.name = words_of(d), .cli = &cli, .needs = d->needs};
    if (!(d->cli.flags & AU_CLI_NO_CONFIG) &&
        au_ctx_open(&cmd.ctx, PROG, 0, &cli, &cmd.err) < 0) {
        rc = au_cmd_fail(&cmd);
        au_cli_fini(&cli);
        return rc;
    }
    rc = d->run(&cmd);
    if (fflush(stdout) != 0 && rc == AU_EXIT_OK)
        rc = au_cmd_failf(&cmd, "cannot write the output");
    if (cmd.conn)
        au_pool_put(cmd.ctx.pool, cmd.conn);
    au_ctx_fini(&cmd.ctx);
    au_cli_fini(&cli);
    return rc;
}

static int unknown(const char *word, const char *group)
{
    if (group)
        fprintf(stderr, PROG " %s: unknown subcommand \"%s\"\n", group, word);
    else if (word[0] == '-')
        fprintf(stderr, PROG ": unknown option %s\n", word);
    else
        fprintf(stderr, PROG ": unknown command \"%s\"\n", word);
    fprintf(stderr, "(see " PROG " %s%s--help)\n", group ? group : "",
            group ? " " : "");
    return AU_EXIT_USAGE;
}

/* `audora help [COMMAND [SUBCOMMAND]]`. */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return AU_EXIT_OK;
    }
    int used;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (names(commands[i], argc, argv, &used) && used == argc - 1) {
            au_cli_usage(&commands[i]->cli, stdout);
            return AU_EXIT_OK;
        }
    }
    if (argc == 2 && is_group(argv[1])) {
        group_usage(stdout, argv[1]);
        return AU_EXIT_OK;
    }
    return unknown(argv[argc - 1], NULL);
}

int au_cmd_main(int argc, char **argv)
{
    au_log_init(PROG, AU_LOG_WARN, 2);
    if (argc < 2) {
        usage(stderr);
        return AU_EXIT_USAGE;
    }
    const char *w = argv[1];
    if (is_help(w) || !strcmp(w, "help"))
        return help(argc - 1, argv + 1);
    if (is_version(w)) {
        puts(PROG " " AU_VERSION);
        return AU_EXIT_OK;
    }
    int used;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (names(commands[i], argc, argv, &used))
            return run(commands[i], argc - used, argv + used);
    if (!is_group(w))
        return unknown(w, NULL);
    if (argc > 2 && is_help(argv[2])) {
        group_usage(stdout, w);
        return AU_EXIT_OK;
    }
    if (argc > 2 && is_version(argv[2])) {
        puts(PROG " " AU_VERSION);
        return AU_EXIT_OK;
    }
    if (argc > 2)
        return unknown(argv[2], w);
    fprintf(stderr, PROG " %s: give a subcommand\n", w);
    group_usage(stderr, w);
    return AU_EXIT_USAGE;
}
