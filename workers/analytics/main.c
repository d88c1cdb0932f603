/* audora-analytics: scores batches and commits them with the ledger. */
#include "au_analytics.h"

static const char usage[] =
    "usage: audora-analytics [--section.key=value ...] [--env-file PATH]\n"
    "Pulls enriched batches from the analytics relays\n"
    "(zmq.analytics_out), scores them against each track's history and\n"
    "commits rows and ledger entry in one PostgreSQL transaction.\n";

int main(int argc, char **argv)
{
    return au_worker_main(argc, argv, "analytics", usage,
                          AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ,
                          au_analytics_main);
}
