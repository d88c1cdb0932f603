/* au_proto.h: the trend batch wire format, version 2 (see PROTOCOL.md).
 *
 * proto/ knows msgpack and nothing else. A batch is one ZeroMQ message:
 * an envelope map carrying (job, attempt, seq) and an array of records.
 * Decoding is strict and bounded: every malformed input is a distinct
 * AU_E* code with a message naming the field and byte offset, and memory
 * use is bounded by a small multiple of the input length. */
#ifndef AU_PROTO_H
#define AU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "au_err.h"

#define AU_PROTO_VERSION 2
#define AU_PROTO_MAX_RECORDS 10000   /* records in one batch */
#define AU_PROTO_MAX_STR 1024        /* bytes in one string */
#define AU_PROTO_MAX_MSG (16u << 20) /* bytes in one message */
#define AU_PROTO_MAX_DEPTH 16        /* nesting; the envelope is level 1 */

/* The chart a batch is about. Platform, chart and region are names in the
 * store and keys on the wire: printable ASCII without blanks, 1..64
 * bytes. A chart date is YYYY-MM-DD between these years: anything else is
 * a typo (and 9999-12-31 plus a predicted peak is no date at all). */
#define AU_CHART_NAME_MAX 64

/* What a consumer sends a relay to ask for one batch (PROTOCOL.md,
 * "Transport"). */
#define AU_PROTO_CREDIT "ready"
#define AU_PROTO_CREDIT_LEN 5
#define AU_CHART_FIRST_YEAR 1900
#define AU_CHART_LAST_YEAR 2100

/* Which stage last wrote the batch; each adds fields. Analytics, the last
 * stage, reads enriched batches and sends nothing, so scores never travel
 * on the wire (version 1's stage 2 is gone). */
typedef enum {
    AU_STAGE_RAW = 0,     /* ingest: what the source said */
    AU_STAGE_ENRICHED = 1 /* enrich: canonical keys, audio features */
} au_stage_t;

typedef struct {
    /* raw */
    int32_t position;       /* >= 1 */
    int64_t streams;        /* >= 0, or -1 when the source has none */
    const char *track_name; /* non-empty */
    const char *artist;     /* as the source spells it */
    const char *track_id;   /* Spotify id (22 chars) or NULL */
    /* enriched */
    const char *track_key;  /* canonical track identity, or NULL */
    const char *artist_key; /* normalised artist name, or NULL */
    bool has_features;
    float danceability, energy, valence, tempo; /* valid if has_features */
} au_record_t;

typedef struct {
    int64_t job_id;   /* >= 1 */
    int32_t attempt;  /* >= 1, the job's fencing token */
    int32_t seq;      /* 0-based batch number within the attempt */
    int32_t nbatches; /* total batches of this attempt, >= seq + 1 */
    bool last;        /* seq == nbatches - 1 */
    au_stage_t stage;
    const char *platform; /* "spotify" */
    const char *chart;    /* "daily" | "weekly" | ... */
    const char *region;   /* "us", "global", ... */
    const char *date;     /* chart date, YYYY-MM-DD */
    uint32_t count;       /* number of records */
    au_record_t *records;
} au_batch_t;

/* Encodes b into a malloc'd buffer (*out, *out_len). Returns 0, AU_EINVAL
 * for a batch that would not decode (e.g. count over the limit), or
 * AU_ENOMEM. */
int au_batch_encode(const au_batch_t *b, char **out, size_t *out_len);

/* Decodes buf into *b. On success b->records and every string point into
 * one allocation owned by b: release it with au_batch_free(). On failure
 * nothing is allocated and err says what and where (byte offset).
 * max_len caps the input (0: AU_PROTO_MAX_MSG). */
int au_batch_decode(const char *buf, size_t len, size_t max_len, au_batch_t *b,
                    au_error_t *err);

/* Frees what au_batch_decode allocated; safe on a zeroed batch. The one
 * allocation is b->records: string pointers may be reassigned by the
 * caller (they are never freed one by one), records may not. */
void au_batch_free(au_batch_t *b);

/* Checks b as the decoder would check it (limits, ranges, UTF-8, stage
 * rules). Returns 0, or AU_EINVAL with err naming the field. */
int au_batch_validate(const au_batch_t *b, au_error_t *err);

/* Checks one name of a chart ("platform", "chart" or "region" in what)
 * against the rule above: 0, or AU_EINVAL with err quoting it (cut). */
int au_chart_name_check(const char *what, const char *s, au_error_t *err);

/* Checks a chart date against the rule above: 0 with *day (days since
 * 1970-01-01; may be NULL), or AU_EINVAL with err quoting it. */
int au_chart_date_check(const char *date, long *day, au_error_t *err);

/* Test hook: the allocator behind au_batch_decode/au_batch_free (NULL,
 * NULL restores malloc/free). Not thread-safe; set it before decoding. */
void au_proto_set_allocator(void *(*alloc)(size_t), void (*release)(void *));

#endif
