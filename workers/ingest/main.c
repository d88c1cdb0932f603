/* audora-ingest: claims chart jobs and pushes their batches downstream. */
#include "au_ingest.h"

static const au_cli_spec_t cli = {
    .prog = "audora-ingest",
    .summary = "Claims jobs from the PostgreSQL queue, validates their chart "
               "files,\nand pushes msgpack batches to the enrich relays "
               "(zmq.enrich_in).",
    .about = "Every configuration key is also a flag; `audora config "
             "example` lists them.\n",
};

int main(int argc, char **argv)
{
    static const au_worker_t w = {
        &cli, "ingest", AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ, au_ingest_main};
    return au_worker_main(&w, argc, argv);
}
