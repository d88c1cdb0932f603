#include "au_cmd.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "au_args.h"
#include "au_backtest.h"
#include "au_chartname.h"
#include "au_ctx.h"
#include "au_fleet.h"
#include "au_gen.h"
#include "au_log.h"
#include "au_migrate.h"
#include "au_query.h"
#include "au_queue.h"
#include "au_store.h"

static const char usage[] =
    "usage: audora <command> [options] [--section.key=value ...]\n"
    "\n"
    "commands:\n"
    "  migrate                 apply database migrations\n"
    "  push FILE|DIR... [--platform P] [--chart C] [--region R]\n"
    "       [--date YYYY-MM-DD] [--max-attempts N]\n"
    "                          queue one job per chart CSV; what the file\n"
    "                          name does not say must be given as a flag\n"
    "  status                  queue depth, workers, throughput\n"
    "  wait [--timeout S] [--quiet]\n"
    "                          wait until no job is queued or running\n"
    "  report                  jobs, rows, top tracks and biggest movers\n"
    "  jobs [--state S] [--limit N]\n"
    "                          the newest jobs, with state and last error\n"
    "  dlq list | show ID | replay ID|--all | purge ID|--all\n"
    "                          dead letters\n"
    "  features load FILE      load an audio-features CSV\n"
    "  summary [--platform P] [--days N] [--as-of DATE] [--json]\n"
    "                          trending summary (cached 10 min)\n"
    "  top [--by viral|movement] [--platform P] [--region R] [--chart C]\n"
    "      [--from DATE] [--to DATE] [--limit N] [--json]\n"
    "                          top tracks, one row per track\n"
    "  playlists --mood NAME|all [--min-score S] [--limit N]\n"
    "      [--from DATE] [--to DATE] [--json]\n"
    "                          mood playlists from audio features\n"
    "  spread TRACK ARTIST [--days N] [--as-of DATE] [--json]\n"
    "                          cross-platform spread of a track\n"
    "  gen --out DIR [--records N] [--per-file M] [--seed S]\n"
    "      [--copy FILE]\n"
    "                          write synthetic chart CSVs for load tests\n"
    "  backtest [--json] [--svg FILE]\n"
    "                          score predictors against real chart history\n"
    "  config check            print the effective configuration\n"
    "  config example          print a .env.example\n"
    "  version\n";

typedef struct {
    au_ctx_t ctx;
    PGconn *c;
    au_error_t err;
} cli_t;

static int cli_open(cli_t *cli, int needs, int *argc, char **argv)
{
    memset(cli, 0, sizeof(*cli));
    if (au_ctx_init(&cli->ctx, "audora", needs, argc, argv, &cli->err) < 0) {
        fprintf(stderr, "audora: %s\n", cli->err.msg);
        return -1;
    }
    if (needs & AU_CTX_DB) {
        cli->c = au_pool_get(cli->ctx.pool, &cli->err);
        if (!cli->c) {
            fprintf(stderr, "audora: %s\n", cli->err.msg);
            au_ctx_fini(&cli->ctx);
            return -1;
        }
    }
    return 0;
}

static void cli_close(cli_t *cli)
{
    if (cli->c)
        au_pool_put(cli->ctx.pool, cli->c);
    au_ctx_fini(&cli->ctx);
}

static int fail(cli_t *cli, const char *what)
{
    fprintf(stderr, "audora %s: %s\n", what, cli->err.msg);
    cli_close(cli);
    return 1;
}

static int cmd_migrate(int argc, char **argv)
{
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    int n = 0;
    if (au_migrate(cli.c, &n, &cli.err) < 0)
        return fail(&cli, "migrate");
    printf("migrate: %d migration(s) applied, schema at version %d\n", n,
           au_schema_latest());
    cli_close(&cli);
    return 0;
}

typedef struct {
    const char *platform, *chart, *region, *date;
    int max_attempts;
    long pushed;
} push_opts_t;

static int push_file(cli_t *cli, const char *path, push_opts_t *o)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        fprintf(stderr, "audora push: %s: no such file\n", path);
        return -1;
    }
    au_chartname_t cn;
    au_error_t nerr = {0};
    au_chartname_parse(abs, &cn, &nerr);
    const char *platform = o->platform                          ? o->platform
                           : (cn.known & AU_CHARTNAME_PLATFORM) ? cn.platform
                                                                : NULL;
    const char *chart = o->chart                          ? o->chart
                        : (cn.known & AU_CHARTNAME_CHART) ? cn.chart
                                                          : NULL;
    const char *region = o->region                          ? o->region
                         : (cn.known & AU_CHARTNAME_REGION) ? cn.region
                                                            : NULL;
    const char *date = o->date                          ? o->date
                       : (cn.known & AU_CHARTNAME_DATE) ? cn.date
                                                        : NULL;
    const char *missing = !platform ? "--platform"
                          : !chart  ? "--chart"
                          : !region ? "--region"
                          : !date   ? "--date"
                                    : NULL;
    if (missing) {
        fprintf(stderr,
                "audora push: %s: the file name does not say; give "
                "%s\n",
                path, missing);
        return -1;
    }
    if (!au_chartname_valid_date(date, strlen(date))) {
        fprintf(stderr, "audora push: --date %s is not a YYYY-MM-DD date\n",
                date);
        return -1;
    }
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", abs, "platform",
                  platform, "chart", chart, "region", region, "date", date);
    char *js = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!js)
        return -1;
    int64_t id = 0;
    int rc =
        au_queue_push(cli->c, "chart_csv", js, o->max_attempts, &id, &cli->err);
    free(js);
    if (rc < 0) {
        fprintf(stderr, "audora push: %s: %s\n", path, cli->err.msg);
        return -1;
    }
    o->pushed++;
    return 0;
}

typedef struct {
    char *path;
    char date[16]; /* inferred chart date, "" when the name has none */
} push_item_t;

typedef struct {
    push_item_t *v;
    size_t n, cap;
} push_list_t;

static int add_item(push_list_t *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        push_item_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    push_item_t *it = &l->v[l->n];
    it->path = strdup(path);
    if (!it->path)
        return -1;
    au_chartname_t cn;
    au_error_t err = {0};
    it->date[0] = '\0';
    if (au_chartname_parse(path, &cn, &err) == 0 &&
        (cn.known & AU_CHARTNAME_DATE))
        snprintf(it->date, sizeof(it->date), "%s", cn.date);
    l->n++;
    return 0;
}

/* Directories are walked recursively for *.csv. */
static int collect(push_list_t *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return add_item(l, path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        size_t len = strlen(e->d_name);
        struct stat sst;
        if (stat(sub, &sst) == 0 && S_ISDIR(sst.st_mode))
            rc = collect(l, sub);
        else if (len > 4 && !strcmp(e->d_name + len - 4, ".csv"))
            rc = add_item(l, sub);
    }
    closedir(d);
    return rc;
}

/* Oldest chart first, then by name: each series' dates reach the queue in
 * order (history is then complete when a chart is scored), and the files
 * of one date spread over many series rather than piling onto one. */
static int item_cmp(const void *a, const void *b)
{
    const push_item_t *x = a, *y = b;
    int d = strcmp(x->date, y->date);
    return d ? d : strcmp(x->path, y->path);
}

static int cmd_push(int argc, char **argv)
{
    push_opts_t o = {0};
    o.platform = au_args_take_opt(&argc, argv, "--platform");
    o.chart = au_args_take_opt(&argc, argv, "--chart");
    o.region = au_args_take_opt(&argc, argv, "--region");
    o.date = au_args_take_opt(&argc, argv, "--date");
    const char *ma = au_args_take_opt(&argc, argv, "--max-attempts");
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    o.max_attempts =
        ma ? (int)strtol(ma, NULL, 10) : cli.ctx.cfg.queue.max_attempts;
    if (o.max_attempts < 1 || o.max_attempts > 100) {
        fprintf(stderr, "audora push: --max-attempts must be 1..100\n");
        cli_close(&cli);
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "audora push: give at least one file\n");
        cli_close(&cli);
        return 2;
    }
    push_list_t list = {0};
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        if (collect(&list, argv[i]) < 0) {
            fprintf(stderr, "audora push: cannot read %s\n", argv[i]);
            failed = 1;
        }
    }
    qsort(list.v, list.n, sizeof(*list.v), item_cmp);
    for (size_t i = 0; i < list.n; i++) {
        if (push_file(&cli, list.v[i].path, &o) < 0)
            failed = 1;
        free(list.v[i].path);
    }
    free(list.v);
    int rc = failed;
    printf("push: %ld job(s) queued\n", o.pushed);
    cli_close(&cli);
    return rc ? 1 : 0;
}

static void print_rows(PGresult *r)
{
    int nf = PQnfields(r);
    for (int f = 0; f < nf; f++)
        printf("%s%s", f ? "  " : "", PQfname(r, f));
    printf("\n");
    for (int i = 0; i < PQntuples(r); i++) {
        for (int f = 0; f < nf; f++)
            printf("%s%s", f ? "  " : "",
                   PQgetisnull(r, i, f) ? "-" : PQgetvalue(r, i, f));
        printf("\n");
    }
}

/* Prints r (when the call that made it succeeded) and clears it. */
static int show(int rc, const char *title, PGresult *r)
{
    if (rc < 0)
        return rc;
    if (title)
        printf("\n%s\n", title);
    print_rows(r);
    PQclear(r);
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    au_queue_counts_t q;
    if (au_queue_counts(cli.c, &q, &cli.err) < 0)
        return fail(&cli, "status");
    printf("queue: %ld queued (%ld ready), %ld running, %ld done, %ld dead; "
           "%lld rows written by done jobs\n",
           q.queued, q.ready, q.running, q.done, q.dead, q.rows);
    PGresult *r = NULL;
    int rc = show(au_fleet_list(cli.c, 30, &r, &cli.err),
                  "workers (seen in the last 30 s):", r);
    long batches = 0;
    long long rows = 0;
    if (rc == 0)
        rc = au_queue_throughput(cli.c, 60, &batches, &rows, &cli.err);
    if (rc == 0)
        printf("\nthroughput: %ld batches, %lld rows in the last minute\n",
               batches, rows);
    if (rc < 0)
        return fail(&cli, "status");
    cli_close(&cli);
    return 0;
}

static int cmd_wait(int argc, char **argv)
{
    const char *t = au_args_take_opt(&argc, argv, "--timeout");
    int quiet = au_args_take_flag(&argc, argv, "--quiet");
    long timeout_s = t ? strtol(t, NULL, 10) : 0;
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    long long start = au_now_ms(), next_line = 0;
    long last_finished = -1;
    int tty = isatty(2);
    au_queue_counts_t q;
    for (;;) {
        if (au_queue_counts(cli.c, &q, &cli.err) < 0) {
            /* The database may be restarting under a fault test. */
            au_pool_put(cli.ctx.pool, cli.c);
            poll(NULL, 0, 500);
            cli.c = au_pool_get(cli.ctx.pool, &cli.err);
            if (!cli.c)
                return fail(&cli, "wait");
            continue;
        }
        long total = q.queued + q.running + q.done + q.dead;
        /* On a terminal one line redrawn in place; in a log, a line per
         * change at most every two seconds. */
        long long now = au_now_ms();
        long finished = q.done + q.dead;
        int done_now = q.queued + q.running == 0;
        if (!quiet && (tty || done_now ||
                       (finished != last_finished && now >= next_line))) {
            fprintf(stderr,
                    "%sjobs: %ld/%ld finished (%ld done, %ld dead), "
                    "%ld running, %lld rows%s",
                    tty ? "\r" : "", finished, total, q.done, q.dead, q.running,
                    q.rows, tty ? "   " : "\n");
            last_finished = finished;
            next_line = now + 2000;
        }
        if (q.queued + q.running == 0)
            break;
        if (timeout_s > 0 && au_now_ms() - start > timeout_s * 1000) {
            if (!quiet && tty)
                fprintf(stderr, "\n");
            fprintf(stderr, "audora wait: timed out after %ld s\n", timeout_s);
            cli_close(&cli);
            return 1;
        }
        poll(NULL, 0, 250);
    }
    if (!quiet && tty)
        fprintf(stderr, "\n");
    cli_close(&cli);
    return 0;
}

static int cmd_report(int argc, char **argv)
{
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    au_queue_counts_t q;
    if (au_queue_counts(cli.c, &q, &cli.err) < 0)
        return fail(&cli, "report");
    printf("jobs: %ld done, %ld dead, %ld queued, %ld running\n", q.done,
           q.dead, q.queued, q.running);
    long long trends = 0, tracks = 0, artists = 0;
    int rc = au_store_counts(cli.c, &trends, &tracks, &artists, &cli.err);
    if (rc == 0)
        printf("\nrows: %lld trends, %lld tracks, %lld artists\n", trends,
               tracks, artists);
    PGresult *r = NULL;
    if (rc == 0 && q.dead > 0)
        rc = show(au_queue_dead(cli.c, &r, &cli.err), "dead jobs:", r);
    if (rc == 0)
        rc = show(au_store_top_streams(cli.c, 10, &r, &cli.err),
                  "top 10 tracks by streams (all charts):", r);
    if (rc == 0)
        rc = show(au_store_movers(cli.c, 10, &r, &cli.err),
                  "biggest movers (positions gained since previous entry):", r);
    if (rc < 0)
        return fail(&cli, "report");
    cli_close(&cli);
    return 0;
}

static int cmd_jobs(int argc, char **argv)
{
    const char *state = au_args_take_opt(&argc, argv, "--state");
    const char *limit = au_args_take_opt(&argc, argv, "--limit");
    if (state && strcmp(state, "queued") && strcmp(state, "running") &&
        strcmp(state, "done") && strcmp(state, "dead")) {
        fprintf(stderr,
                "audora jobs: --state %s: must be queued, running, "
                "done or dead\n",
                state);
        return 2;
    }
    char *end = NULL;
    long n = limit ? strtol(limit, &end, 10) : 50;
    if (limit && (*end || n < 1 || n > 100000)) {
        fprintf(stderr, "audora jobs: --limit %s: must be 1..100000\n", limit);
        return 2;
    }
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    PGresult *r = NULL;
    if (show(au_queue_list(cli.c, state, (int)n, &r, &cli.err), NULL, r) < 0)
        return fail(&cli, "jobs");
    cli_close(&cli);
    return 0;
}

static int cmd_dlq(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "list";
    int all = au_args_take_flag(&argc, argv, "--all");
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    const char *id = argc > 2 ? argv[2] : NULL;
    int rc = 0;
    if (!strcmp(sub, "list")) {
        PGresult *r = NULL;
        rc = show(au_queue_dead(cli.c, &r, &cli.err), NULL, r);
    } else if (!strcmp(sub, "show") && id) {
        PGresult *r = NULL;
        rc = show(au_queue_show(cli.c, strtoll(id, NULL, 10), &r, &cli.err),
                  NULL, r);
    } else if ((!strcmp(sub, "replay") || !strcmp(sub, "purge")) &&
               (id || all)) {
        long n = 0;
        int64_t jid = all ? 0 : strtoll(id, NULL, 10);
        rc = !strcmp(sub, "replay") ? au_queue_replay(cli.c, jid, &n, &cli.err)
                                    : au_queue_purge(cli.c, jid, &n, &cli.err);
        if (rc == 0)
            printf("dlq %s: %ld job(s)\n", sub, n);
    } else {
        fprintf(stderr, "audora dlq: list | show ID | replay ID|--all | "
                        "purge ID|--all\n");
        cli_close(&cli);
        return 2;
    }
    if (rc < 0)
        return fail(&cli, "dlq");
    cli_close(&cli);
    return 0;
}

static int cmd_features(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "load") != 0) {
        fprintf(stderr, "audora features load FILE\n");
        return 2;
    }
    cli_t cli;
    if (cli_open(&cli, AU_CTX_DB, &argc, argv) < 0)
        return 2;
    long n = 0;
    if (au_store_load_features(cli.c, argv[2], &n, &cli.err) < 0)
        return fail(&cli, "features load");
    printf("features: %ld track(s) loaded\n", n);
    cli_close(&cli);
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "example")) {
        au_config_write_example(stdout);
        return 0;
    }
    if (strcmp(sub, "check") != 0) {
        fprintf(stderr, "audora config check | example\n");
        return 2;
    }
    au_config_t cfg;
    au_error_t err = {0};
    if (au_config_load(&cfg, &argc, argv, NULL, &err) < 0) {
        fprintf(stderr, "audora config: %s\n", err.msg);
        return 1;
    }
    au_config_dump(&cfg, stdout);
    return 0;
}

static int cmd_gen(int argc, char **argv)
{
    const char *out = au_args_take_opt(&argc, argv, "--out");
    const char *rec = au_args_take_opt(&argc, argv, "--records");
    const char *per = au_args_take_opt(&argc, argv, "--per-file");
    const char *seed = au_args_take_opt(&argc, argv, "--seed");
    const char *copy = au_args_take_opt(&argc, argv, "--copy");
    if (!out) {
        fprintf(stderr, "audora gen: --out DIR is required\n");
        return 2;
    }
    au_gen_opts_t o = {
        .records = rec ? strtol(rec, NULL, 10) : 1000000,
        .per_file = per ? (int)strtol(per, NULL, 10) : 200,
        .seed = seed ? strtoull(seed, NULL, 10) : 1,
        .copy_path = copy,
    };
    au_error_t err = {0};
    long files = 0;
    if (au_gen_write(out, &o, &files, &err) < 0) {
        fprintf(stderr, "audora gen: %s\n", err.msg);
        return 1;
    }
    printf("gen: %ld records in %ld file(s) under %s\n", o.records, files, out);
    return 0;
}

int au_cmd_main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    /* Subcommands see argv starting at their own name. */
    argc--;
    argv++;
    au_log_init("audora", AU_LOG_WARN, 2);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        puts("audora " AU_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"migrate", cmd_migrate},
        {"push", cmd_push},
        {"status", cmd_status},
        {"wait", cmd_wait},
        {"report", cmd_report},
        {"jobs", cmd_jobs},
        {"dlq", cmd_dlq},
        {"features", cmd_features},
        {"summary", au_query_summary_cmd},
        {"top", au_query_top_cmd},
        {"playlists", au_query_playlists_cmd},
        {"spread", au_query_spread_cmd},
        {"config", cmd_config},
        {"gen", cmd_gen},
        {"backtest", au_backtest_cmd},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc, argv);
    fprintf(stderr, "audora: unknown command \"%s\"\n%s", cmd, usage);
    return 2;
}
