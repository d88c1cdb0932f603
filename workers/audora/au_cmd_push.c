/* au_cmd_push.c: `audora push`: one job per chart file, what the file
 * name does not say taken from the flags. */
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
#include "au_proto.h"
#include "au_queue.h"
#include "au_store.h"

/* ---- push ----------------------------------------------------------- */

enum {
    PUSH_PLATFORM,
    PUSH_CHART,
    PUSH_REGION,
    PUSH_DATE,
    PUSH_PLACE,
    PUSH_NOPTS = PUSH_PLACE + AU_PUSH_NOPTS
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
    AU_PUSH_OPTS(PUSH_PLACE),
};

typedef struct {
    char *path;        /* as found: an argument, or a file under one */
    char *abs;         /* its real path, which the job carries */
    au_chartname_t cn; /* what its name says */
    const char *platform, *chart, *region, *date; /* as resolved */
    char why[320]; /* why it cannot be queued; "" while it can */
    int64_t id;    /* its job, once queued */
    int existed;   /* id is the same job, queued or running before */
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

/* NULL for a regular file, else why it cannot be a chart: a FIFO or a
 * device would block the ingest worker that opens it. */
static const char *regular(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return strerror(errno);
    return S_ISREG(st.st_mode) ? NULL
                               : "not a regular file (a FIFO, socket or "
                                 "device cannot be a chart)";
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
            rc = add_item(l, sub, regular(sub));
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
        return add_item(l, path, regular(path));
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
    if (miss[0]) {
        snprintf(it->why, sizeof(it->why),
                 "the name does not say its %s; give %s", miss, give);
        return;
    }
    /* The rule the ingest worker and the wire apply, here where a bad
     * flag can still be fixed rather than in a job that dies. */
    au_error_t e = {0};
    for (size_t i = 0; i < 3 && e.code == 0; i++)
        au_chart_name_check(what[i], *dst[i], &e);
    if (e.code == 0)
        au_chart_date_check(it->date, NULL, &e);
    if (e.code != 0)
        snprintf(it->why, sizeof(it->why), "%s", e.msg);
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

static int id_cmp(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Not queued first, grouped by reason, then by path. */
static int failed_cmp(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int d = strcmp(x->why, y->why);
    return d ? d : strcmp(x->path, y->path);
}

static int queue_item(au_cmd_t *cmd, PGconn *c, item_t *it,
                      const au_push_t *place)
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
    au_push_t job = *place;
    job.kind = "chart_csv";
    job.params = js;
    int rc = au_queue_enqueue(c, &job, &it->id, &cmd->err);
    free(js);
    if (rc < 0)
        snprintf(it->why, sizeof(it->why), "%s", cmd->err.msg);
    it->existed = rc == 0;
    return rc < 0 ? rc : 0;
}

/* Queues every item that can be; stops at the first database error (the
 * rest are then named as not queued). A database that cannot be reached
 * at all is the command's failure, not each file's: the return is then
 * AU_EDBCONN with cmd->err set. */
static int queue_items(au_cmd_t *cmd, items_t *l, const au_push_t *place)
{
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
            rc = queue_item(cmd, c, it, place);
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
            q, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b}", "id",
                         (json_int_t)ok[i]->id, "path", ok[i]->abs, "platform",
                         ok[i]->platform, "chart", ok[i]->chart, "region",
                         ok[i]->region, "date", ok[i]->date, "existing",
                         ok[i]->existed));
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
    if (au_cli_has(cmd->cli, PUSH_PLACE + AU_PUSH_JSON)) {
        rc = au_cmd_json(cmd, push_json(l->v, nok, bad, nbad));
    } else {
        /* New jobs first, then those already queued or running. */
        size_t nnew = 0;
        for (size_t i = 0; i < nok; i++)
            if (!l->v[i]->existed) {
                item_t *t = l->v[nnew];
                l->v[nnew++] = l->v[i];
                l->v[i] = t;
            }
        qsort(l->v, nnew, sizeof(*l->v), id_cmp);
        qsort(l->v + nnew, nok - nnew, sizeof(*l->v), id_cmp);
        printf("push: %zu job(s) queued", nnew);
        if (nnew > 0)
            fputs(", ", stdout);
        print_ids(stdout, l->v, nnew);
        if (nok > nnew) {
            printf("; %zu the same as jobs already queued or running, ",
                   nok - nnew);
            print_ids(stdout, l->v + nnew, nok - nnew);
            fputs(" (--force queues them again)", stdout);
        }
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
    au_push_t place = {0};
    if ((rc = au_cmd_push_place(cmd, PUSH_PLACE, &place)) != 0) {
        items_free(&l);
        return rc;
    }
    rc = queue_items(cmd, &l, &place) < 0 ? au_cmd_fail(cmd)
                                          : push_report(cmd, &l);
    items_free(&l);
    return rc;
}

const au_cmd_def_t au_cmd_push_def = {
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
};
