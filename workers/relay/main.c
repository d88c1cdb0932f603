/* audora-relay: the proxy between two stages. */
#include <stdio.h>
#include <string.h>

#include "au_relay.h"

enum { OPT_STAGE, OPT_IN, OPT_OUT, NOPTS };

static const char *const stages[] = {"enrich", "analytics", NULL};

static const au_cli_opt_t opts[] = {
    [OPT_STAGE] = {.name = "stage",
                   .kind = AU_CLI_ENUM,
                   .help = "the stage boundary this relay serves",
                   .words = stages,
                   .flags = AU_CLI_REQUIRED},
    [OPT_IN] =
        {.name = "in",
         .kind = AU_CLI_STR,
         .metavar = "EP",
         .help = "endpoint to bind the PULL socket on (default: the first of "
                 "zmq.<stage>_in)"},
    [OPT_OUT] = {.name = "out",
                 .kind = AU_CLI_STR,
                 .metavar = "EP",
                 .help = "endpoint to bind the consumers' ROUTER socket on "
                         "(default: the first of zmq.<stage>_out)"},
};

static const au_cli_spec_t cli = {
    .prog = "audora-relay",
    .summary = "Binds a PULL socket on the stage's inbound endpoint and a "
               "ROUTER\nsocket on its outbound one, and hands each batch to "
               "the consumer that\nasked first.",
    .opts = opts,
    .nopts = NOPTS,
};

/* The first endpoint of a comma-separated list. */
static void first_endpoint(const char *list, char *out)
{
    snprintf(out, AU_CFG_STR, "%.*s", (int)strcspn(list, ","), list);
}

static int run(au_ctx_t *ctx)
{
    const au_cli_t *a = ctx->cli;
    int analytics = au_cli_word(a, OPT_STAGE, 0) == 1;
    char in[AU_CFG_STR], out[AU_CFG_STR];
    first_endpoint(au_cli_str(a, OPT_IN,
                              analytics ? ctx->cfg.zmq.analytics_in
                                        : ctx->cfg.zmq.enrich_in),
                   in);
    first_endpoint(au_cli_str(a, OPT_OUT,
                              analytics ? ctx->cfg.zmq.analytics_out
                                        : ctx->cfg.zmq.enrich_out),
                   out);
    return au_relay_run(ctx, in, out);
}

int main(int argc, char **argv)
{
    static const au_worker_t w = {&cli, "relay", AU_CTX_ZMQ, run};
    return au_worker_main(&w, argc, argv);
}
