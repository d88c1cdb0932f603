/* audora-enrich: canonical identities and audio features for each batch. */
#include "au_enrich.h"

static const char usage[] =
    "usage: audora-enrich [--section.key=value ...] [--env-file PATH]\n"
    "Pulls raw batches from the enrich relays (zmq.enrich_out), adds\n"
    "canonical track/artist keys and audio features, and pushes them to\n"
    "the analytics relays (zmq.analytics_in).\n";

int main(int argc, char **argv)
{
    return au_worker_main(argc, argv, "enrich", usage,
                          AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ,
                          au_enrich_main);
}
