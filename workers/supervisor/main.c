/* audora-supervisor: restarts a local cluster's processes when they fail. */
#include "au_ctx.h"
#include "au_log.h"
#include "au_supervisor.h"

enum { OPT_SPEC, OPT_DIR, OPT_MIN, OPT_MAX, OPT_STABLE, OPT_GRACE, NOPTS };

static const au_cli_opt_t opts[] = {
    [OPT_SPEC] = {"spec", 0, AU_CLI_STR, "FILE",
                  "the children: one per line, NAME PROGRAM ARGS...",
                  .flags = AU_CLI_REQUIRED},
    [OPT_DIR] = {"dir", 0, AU_CLI_STR, "DIR",
                 "run directory: logs/NAME.log, pids/NAME, supervisor.status",
                 .flags = AU_CLI_REQUIRED},
    [OPT_MIN] = {"backoff-min-ms", 0, AU_CLI_INT, "MS",
                 "first restart delay (default 200)", .lo = 1, .hi = 600000},
    [OPT_MAX] = {"backoff-max-ms", 0, AU_CLI_INT, "MS",
                 "longest restart delay (default 10000)", .lo = 1,
                 .hi = 3600000},
    [OPT_STABLE] = {"stable-s", 0, AU_CLI_INT, "S",
                    "up this long, a child's backoff starts over (default 10)",
                    .lo = 1, .hi = 86400},
    [OPT_GRACE] = {"grace-s", 0, AU_CLI_INT, "S",
                   "on SIGTERM, how long children may drain (default 30)",
                   .lo = 0, .hi = 3600},
};

static const au_cli_spec_t cli = {
    .prog = "audora-supervisor",
    .summary = "Runs a local cluster's processes and restarts one that fails, "
               "with\nbackoff, as systemd's Restart=on-failure would.",
    .opts = opts,
    .nopts = NOPTS,
};

static int run(au_ctx_t *ctx)
{
    const au_cli_t *a = ctx->cli;
    au_sup_spec_t spec;
    au_error_t err = {0};
    if (au_sup_spec_load(au_cli_str(a, OPT_SPEC, ""), &spec, &err) < 0) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s", err.msg);
        return AU_EXIT_USAGE;
    }
    au_sup_opts_t o = {
        .dir = au_cli_str(a, OPT_DIR, "."),
        .backoff_min_ms = (int)au_cli_int(a, OPT_MIN, 200),
        .backoff_max_ms = (int)au_cli_int(a, OPT_MAX, 10000),
        .stable_ms = (int)au_cli_int(a, OPT_STABLE, 10) * 1000,
        .grace_ms = (int)au_cli_int(a, OPT_GRACE, 30) * 1000,
        .metrics = ctx->metrics,
    };
    int rc = au_sup_run(&spec, &o);
    au_sup_spec_free(&spec);
    return rc;
}

int main(int argc, char **argv)
{
    static const au_worker_t w = {&cli, "supervisor", 0, run};
    return au_worker_main(&w, argc, argv);
}
