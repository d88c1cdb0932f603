/* audora-ingest: claims chart jobs and pushes their batches downstream. */
#include "au_ingest.h"

static const char usage[] =
    "usage: audora-ingest [--section.key=value ...] [--env-file PATH]\n"
    "Claims jobs from the PostgreSQL queue, validates their chart files,\n"
    "and pushes msgpack batches to the enrich relays (zmq.enrich_in).\n"
    "Every configuration key is also a flag; see .env.example.\n";

int main(int argc, char **argv)
{
    return au_worker_main(argc, argv, "ingest", usage,
                          AU_CTX_DB | AU_CTX_CACHE | AU_CTX_ZMQ,
                          au_ingest_main);
}
