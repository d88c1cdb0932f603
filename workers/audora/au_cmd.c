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
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "au_backtest.h"
#include "au_chartname.h"
#include "au_curve.h"
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

int au_cmd_push_place(au_cmd_t *cmd, size_t first, au_push_t *job)
{
    const au_cli_t *a = cmd->cli;
    if (au_cli_has(a, first + AU_PUSH_AT) && au_cli_has(a, first + AU_PUSH_IN))
        return au_cli_usage_error(a->spec, "--at and --in: give one of them");
    job->queue = au_cli_str(a, first + AU_PUSH_QUEUE, "default");
    if (!au_queue_name_ok(job->queue))
        return au_cli_usage_error(a->spec,
                                  "--queue %s: 1 to 64 of a-z, 0-9, '_' and "
                                  "'-'",
                                  job->queue);
    job->priority =
        (int)au_cli_int(a, first + AU_PUSH_PRIORITY, AU_PRIORITY_DEFAULT);
    job->run_at = au_cli_int(a, first + AU_PUSH_AT, 0);
    if (au_cli_has(a, first + AU_PUSH_IN))
        job->run_at =
            (long long)time(NULL) + au_cli_int(a, first + AU_PUSH_IN, 0);
    job->force = au_cli_has(a, first + AU_PUSH_FORCE);
    job->max_attempts = (int)au_cli_int(a, first + AU_PUSH_ATTEMPTS,
                                        cmd->ctx.cfg.queue.max_attempts);
    return 0;
}

/* A PGresult as {"key": [rows]} or as a table; `none` when it is empty. */
int au_cmd_rows(au_cmd_t *cmd, int json, const PGresult *r, const char *key,
                const char *none)
{
    if (json) {
        au_out_table_t *t = au_out_table_pg(r, 1);
        json_t *root = json_pack("{s:o}", key, t ? au_out_table_json(t) : NULL);
        au_out_table_destroy(&t);
        return au_cmd_json(cmd, root);
    }
    if (PQntuples(r) == 0 && none) {
        puts(none);
        return 0;
    }
    return au_cmd_table(cmd, r);
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
};

static const au_cmd_def_t def_config_example = {
    {.prog = "audora config example",
     .summary = "Print a .env.example: every key, its environment name, "
                "default and rule.",
     .flags = AU_CLI_NO_CONFIG},
    0,
    cmd_config_example,
};

/* ---- keys generate ---------------------------------------------------- */

enum { KEYS_DIR, KEYS_N };

static const au_cli_opt_t keys_opts[] = {
    [KEYS_DIR] = {.name = "dir",
                  .kind = AU_CLI_STR,
                  .metavar = "DIR",
                  .help = "folder for relay.env, worker.env and cluster.env "
                          "(made 0700)",
                  .flags = AU_CLI_REQUIRED},
};

static int cmd_keys_generate(au_cmd_t *cmd)
{
    const char *dir = au_cli_str(cmd->cli, KEYS_DIR, NULL);
    if (au_curve_generate(dir, &cmd->err) < 0)
        return au_cmd_fail(cmd);
    printf("keys: %s/relay.env (relays), %s/worker.env (workers, "
           "`audora`), %s/cluster.env (both)\n",
           dir, dir, dir);
    return 0;
}

static const au_cmd_def_t def_keys_generate = {
    {.prog = "audora keys generate",
     .summary = "Write a fresh CURVE key set for the relays and the workers "
                "(zmq.security=curve).",
     .about = "Each file is an --env-file: relay.env holds the relays' "
              "secret key and the worker\nkey they admit; worker.env the "
              "relays' public key and the workers' pair;\ncluster.env both, "
              "for a cluster on one machine. Files are mode 0600.\n",
     .opts = keys_opts,
     .nopts = KEYS_N,
     .flags = AU_CLI_NO_CONFIG},
    0,
    cmd_keys_generate,
};

/* ---- gen ------------------------------------------------------------ */

enum { GEN_OUT, GEN_RECORDS, GEN_PER_FILE, GEN_SEED, GEN_JSON, GEN_N };

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
};

/* ---- backtest ------------------------------------------------------- */

static const au_cli_opt_t backtest_opts[AU_BT_NOPTS] = {
    [AU_BT_OPT_JSON] = {.name = "json",
                        .kind = AU_CLI_FLAG,
                        .help = "print the results as JSON"},
    [AU_BT_OPT_SVG] = {.name = "svg",
                       .kind = AU_CLI_STR,
                       .metavar = "FILE",
                       .help = "the main chart; its siblings are named after "
                               "it (default backtest.svg)"},
    [AU_BT_OPT_PLATFORM] = {.name = "platform",
                            .kind = AU_CLI_STR,
                            .metavar = "P",
                            .help = "series platform (default spotify)"},
    [AU_BT_OPT_CHART] = {.name = "chart",
                         .kind = AU_CLI_STR,
                         .metavar = "C",
                         .help = "series chart (default weekly)"},
    [AU_BT_OPT_REGION] = {.name = "region",
                          .kind = AU_CLI_STR,
                          .metavar = "R[,R...]",
                          .help = "series regions (default us)"},
};

static const au_cmd_def_t def_backtest = {
    {.prog = "audora backtest",
     .summary = "Score the predictors against real chart history and draw "
                "the charts.",
     .about = "See docs/backtest.md.\n",
     .opts = backtest_opts,
     .nopts = AU_BT_NOPTS},
    AU_CTX_DB,
    au_backtest_run,
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
};

/* ---- the dispatcher ------------------------------------------------- */

#define PROG "audora"

static const au_cmd_def_t *const commands[] = {
    /* "push lastfm" and "push spotify-playlist" before "push", which
     * takes any other word as a file (a file named "lastfm" is
     * ./lastfm). */
    &def_migrate,
    &au_cmd_push_lastfm_def,
    &au_cmd_push_spotify_def,
    &au_cmd_push_mb_def,
    &au_cmd_push_tracks_def,
    &au_cmd_push_artists_def,
    &au_cmd_push_features_def,
    &au_cmd_push_recordings_def,
    &au_cmd_push_def,
    &au_cmd_sources_def,
    &au_cmd_status_def,
    &au_cmd_wait_def,
    &au_cmd_jobs_cancel_def,
    &au_cmd_jobs_prune_def,
    &au_cmd_jobs_def,
    &au_cmd_queue_list_def,
    &au_cmd_queue_pause_def,
    &au_cmd_queue_resume_def,
    &au_cmd_schedule_add_def,
    &au_cmd_schedule_list_def,
    &au_cmd_schedule_remove_def,
    &au_query_report_def,
    &au_cmd_dlq_list_def,
    &au_cmd_dlq_show_def,
    &au_cmd_dlq_replay_def,
    &au_cmd_dlq_purge_def,
    &def_features_load,
    &au_query_summary_def,
    &au_query_top_def,
    &au_query_playlists_def,
    &au_query_spread_def,
    &def_gen,
    &def_backtest,
    &def_config_check,
    &def_config_example,
    &def_keys_generate,
    &au_cmd_health_def,
    &def_version,
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

/* Parse, answer --help/--version, context, handler, clean-up. */
static int run(const au_cmd_def_t *d, int argc, char **argv)
{
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
