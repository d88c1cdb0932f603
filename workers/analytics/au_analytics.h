/* au_analytics.h: the analytics stage. Scores each enriched batch against
 * its tracks' history and commits the rows together with the batch's
 * ledger entry in ONE transaction (docs/ARCHITECTURE.md, "Delivery"):
 *   - a batch whose (job, attempt, seq) is already in the ledger changes
 *     nothing (AU_EDUP);
 *   - a batch from an attempt older than the job's current one, or for a
 *     job no longer running, is refused (AU_ESTALE): fencing;
 *   - the transaction that commits a job's last missing batch marks the
 *     job done.
 * Writers of one series (platform, chart, region) are serialised by the
 * series row's lock, taken inside the transaction. Every derived value is
 * au_entry_score of the entry and the stored history before it, read in
 * that transaction: PostgreSQL is the judge, no cache stands between. A
 * date that arrives after later ones rewrites the entries it precedes. */
#ifndef AU_ANALYTICS_H
#define AU_ANALYTICS_H

#include "au_arena.h"
#include "au_ctx.h"
#include "au_proto.h"

typedef struct {
    int applied;  /* 1 when rows were written */
    int job_done; /* 1 when this commit completed the job */
    long rows;
} au_commit_t;

/* Scores b (an ENRICHED batch) and commits it. 0 with *res on success;
 * AU_EDUP / AU_ESTALE / AU_ENOTFOUND for batches to drop; AU_EINVAL or
 * AU_ERANGE for a batch no retry can store (the job is dead); AU_ERETRY
 * or AU_EDB for failures worth retrying. */
int au_analytics_commit(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                        au_commit_t *res, au_error_t *err);

int au_analytics_main(au_ctx_t *ctx);

#endif
