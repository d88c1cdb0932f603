/* au_analytics.h: the analytics stage. Scores each enriched batch against
 * its tracks' history and commits the rows together with the batch's
 * ledger entry in ONE transaction (docs/ARCHITECTURE.md, "Delivery"):
 *   - a batch whose (job, attempt, seq) is already in the ledger changes
 *     nothing (AU_EDUP);
 *   - a batch from an attempt older than the job's current one, or for a
 *     job no longer running, is refused (AU_ESTALE): fencing;
 *   - the transaction that commits a job's last missing batch marks the
 *     job done.
 * Writers of one series (platform, chart, region) are serialised by a
 * session advisory lock held across the commit and the history-cache
 * update, so the cached history never runs behind the database. */
#ifndef AU_ANALYTICS_H
#define AU_ANALYTICS_H

#include "au_arena.h"
#include "au_ctx.h"
#include "au_proto.h"

#define AU_HISTORY_KEEP 8 /* entries per track kept in the history cache */

typedef struct {
    int applied;  /* 1 when rows were written */
    int job_done; /* 1 when this commit completed the job */
    long rows;
} au_commit_t;

/* Scores b (an ENRICHED batch) and commits it. 0 with *res on success;
 * AU_EDUP / AU_ESTALE / AU_ENOTFOUND for batches to drop; AU_ERETRY or
 * AU_EDB for failures worth retrying. */
int au_analytics_commit(au_ctx_t *ctx, au_batch_t *b, au_arena_t *arena,
                        au_commit_t *res, au_error_t *err);

int au_analytics_main(au_ctx_t *ctx);

#endif
