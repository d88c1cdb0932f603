/* audora-replay: serves the stored third-party API answers, with faults on
 * demand (workers/replay/au_replay.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "au_ctx.h"
#include "au_log.h"
#include "au_replay.h"
#include "au_zmq.h"

enum { OPT_PORT, OPT_BIND, OPT_FIXTURES, OPT_LATENCY, NOPTS };

static const au_cli_opt_t opts[] = {
    [OPT_PORT] = {.name = "port",
                  .kind = AU_CLI_INT,
                  .metavar = "N",
                  .help = "port to listen on; 0 picks a free one (default 0)",
                  .lo = 0,
                  .hi = 65535},
    [OPT_BIND] = {.name = "bind",
                  .kind = AU_CLI_STR,
                  .metavar = "ADDR",
                  .help = "numeric address to listen on (default 127.0.0.1)"},
    [OPT_FIXTURES] = {.name = "fixtures",
                      .kind = AU_CLI_STR,
                      .metavar = "DIR",
                      .help = "the stored answers (default: $AUDORA_FIXTURES, "
                              "else ../shared/fixtures/real)"},
    [OPT_LATENCY] = {.name = "latency-ms",
                     .kind = AU_CLI_INT,
                     .metavar = "N",
                     .help = "added before every replayed answer (default 0)",
                     .lo = 0,
                     .hi = AU_REPLAY_MAX_DELAY_MS},
};

static const au_cli_spec_t cli = {
    .prog = "audora-replay",
    .summary = "Answers like Last.fm, the Spotify Web API and MusicBrainz with "
               "their\nstored genuine responses, and fails on demand "
               "(POST /_faults).",
    .about = "Prints \"replay: listening on ADDR:PORT\" first on stdout, then "
             "serves until\nSIGTERM or SIGINT.",
    .opts = opts,
    .nopts = NOPTS,
};

static int run(au_ctx_t *ctx)
{
    const au_cli_t *a = ctx->cli;
    const char *env = getenv("AUDORA_FIXTURES");
    au_replay_opts_t o = {
        .bind = au_cli_str(a, OPT_BIND, "127.0.0.1"),
        .port = (int)au_cli_int(a, OPT_PORT, 0),
        /* Relative to the repository, where deploy/run.sh runs too. */
        .fixtures = au_cli_str(a, OPT_FIXTURES,
                               env && *env ? env : "../shared/fixtures/real"),
        .latency_ms = (int)au_cli_int(a, OPT_LATENCY, 0),
    };
    au_error_t err = {0};
    au_replay_t *r = au_replay_new(&o, &err);
    if (!r) {
        au_log_ev(AU_LOG_ERROR, NULL, err.code, "%s (see --fixtures)", err.msg);
        return AU_EXIT_FAIL;
    }
    /* An IPv6 address in brackets, so the port stays readable. */
    int v6 = strchr(o.bind, ':') != NULL;
    printf("replay: listening on %s%s%s:%d\n", v6 ? "[" : "", o.bind,
           v6 ? "]" : "", au_replay_port(r));
    fflush(stdout);
    au_info("replay: serving %s", o.fixtures);
    const struct timespec tick = {0, 100 * 1000 * 1000};
    while (!au_stop_requested)
        nanosleep(&tick, NULL);
    au_replay_destroy(&r);
    return AU_EXIT_OK;
}

int main(int argc, char **argv)
{
    static const au_worker_t w = {&cli, "replay", 0, run};
    return au_worker_main(&w, argc, argv);
}
