/* audora-relay: the proxy between two stages. */
#include <stdio.h>
#include <string.h>

#include "au_relay.h"

static const char usage[] =
    "usage: audora-relay --stage enrich|analytics [--in EP] [--out EP]\n"
    "Binds a PULL socket on the stage's inbound endpoint and a PUSH\n"
    "socket on its outbound one and forwards messages between them.\n"
    "Defaults: the first endpoint of zmq.<stage>_in and zmq.<stage>_out.\n";

static char stage[32], in_ep[AU_CFG_STR], out_ep[AU_CFG_STR];

static void first_endpoint(const char *list, char *out)
{
    snprintf(out, AU_CFG_STR, "%s", list);
    out[strcspn(out, ",")] = '\0';
}

static int run(au_ctx_t *ctx)
{
    if (!strcmp(stage, "enrich")) {
        if (!in_ep[0])
            first_endpoint(ctx->cfg.zmq.enrich_in, in_ep);
        if (!out_ep[0])
            first_endpoint(ctx->cfg.zmq.enrich_out, out_ep);
    } else if (!strcmp(stage, "analytics")) {
        if (!in_ep[0])
            first_endpoint(ctx->cfg.zmq.analytics_in, in_ep);
        if (!out_ep[0])
            first_endpoint(ctx->cfg.zmq.analytics_out, out_ep);
    } else {
        fprintf(stderr,
                "audora-relay: --stage must be enrich or "
                "analytics\n%s",
                usage);
        return 2;
    }
    return au_relay_run(ctx, in_ep, out_ep);
}

int main(int argc, char **argv)
{
    /* Our own flags first; the rest is configuration. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        char *dst = NULL;
        size_t cap = 0;
        if (!strcmp(argv[i], "--stage")) {
            dst = stage;
            cap = sizeof(stage);
        } else if (!strcmp(argv[i], "--in")) {
            dst = in_ep;
            cap = sizeof(in_ep);
        } else if (!strcmp(argv[i], "--out")) {
            dst = out_ep;
            cap = sizeof(out_ep);
        }
        if (dst && i + 1 < argc) {
            snprintf(dst, cap, "%s", argv[++i]);
            continue;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    return au_worker_main(argc, argv, "relay", usage, AU_CTX_ZMQ, run);
}
