/* au_ingest.h: the ingest stage. Claims jobs from the durable queue,
 * validates the whole source before sending anything (so a bad file never
 * leaves half its rows behind), then cuts it into batches and pushes them
 * downstream, extending the lease as it goes. */
#ifndef AU_INGEST_H
#define AU_INGEST_H

#include "au_ctx.h"
#include "au_queue.h"

typedef struct {
    long long jobs, records, batches, failed;
} au_ingest_stats_t;

/* Runs one claimed job: 0 when every batch was pushed (a task: when it
 * ran and its job was marked done), otherwise a
 * negative code with err set and *permanent telling whether a retry could
 * ever help (malformed input cannot be fixed by retrying). */
int au_ingest_run_job(au_ctx_t *ctx, void *push, const au_job_t *job,
                      au_ingest_stats_t *st, int *permanent, au_error_t *err);

/* The worker loop: claim, run, sweep expired leases, sleep on LISTEN. */
int au_ingest_main(au_ctx_t *ctx);

#endif
