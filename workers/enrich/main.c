/* audora-enrich: canonical identities and audio features for each batch. */
#include "au_enrich.h"

static const au_cli_spec_t cli = {
    .prog = "audora-enrich",
    .summary = "Pulls raw batches from the enrich relays (zmq.enrich_out), "
               "adds\ncanonical track/artist keys and audio features, and "
               "pushes them to\nthe analytics relays (zmq.analytics_in).",
    .about = "Every configuration key is also a flag; `audora config "
             "example` lists them.\n",
};

int main(int argc, char **argv)
{
    static const au_worker_t w = {
        &cli, "enrich", AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ, au_enrich_main};
    return au_worker_main(&w, argc, argv);
}
