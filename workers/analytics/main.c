/* audora-analytics: scores batches and commits them with the ledger. */
#include "au_analytics.h"

static const au_cli_spec_t cli = {
    .prog = "audora-analytics",
    .summary = "Pulls enriched batches from the analytics relays\n"
               "(zmq.analytics_out), scores them against each track's "
               "history and\ncommits rows and ledger entry in one "
               "PostgreSQL transaction.",
    .about = "Every configuration key is also a flag; `audora config "
             "example` lists them.\n",
};

int main(int argc, char **argv)
{
    static const au_worker_t w = {&cli, "analytics",
                                  AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ,
                                  au_analytics_main};
    return au_worker_main(&w, argc, argv);
}
