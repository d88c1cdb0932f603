/* au_digest.h: a batch's fingerprint. Ingest computes one per batch when
 * it validates a job's source and records them with the job's plan;
 * analytics recomputes it from the batch it received and refuses a batch
 * whose fingerprint differs (docs/ARCHITECTURE.md, "Only the cluster can
 * write"). It covers what the source said (the raw fields, which enrich
 * never changes) and which batch of which attempt of which job it is, so
 * a forged, altered, truncated or misplaced batch cannot pass for a
 * genuine one. BLAKE2b (libsodium), 16 bytes. */
#ifndef AU_DIGEST_H
#define AU_DIGEST_H

#include <sodium.h>
#include <stdint.h>

#include "au_proto.h"

#define AU_DIGEST_BYTES 16

typedef struct {
    crypto_generichash_state st;
} au_digest_t;

/* Starts the fingerprint of batch seq of job/attempt. */
void au_digest_begin(au_digest_t *d, int64_t job, int32_t attempt, int32_t seq);
/* Adds one record's raw fields; track_id may be NULL. */
void au_digest_record(au_digest_t *d, int32_t position, int64_t streams,
                      const char *name, const char *artist,
                      const char *track_id);
void au_digest_end(au_digest_t *d, unsigned char out[AU_DIGEST_BYTES]);
/* All of the above for a decoded batch. */
void au_digest_batch(const au_batch_t *b, unsigned char out[AU_DIGEST_BYTES]);

#endif
