/* au_source.h: what ingest reads a job from. A source turns a job's
 * parameters into the chart they describe (platform, chart, region, date)
 * and its rows; ingest does the rest the same way for every source
 * (docs/ARCHITECTURE.md, "A new source"): it reads the rows once to
 * validate them and plan the batches, records the plan, rewinds, reads
 * them again and sends them.
 *
 * Adding a source is one module that fills an au_source_t and one line in
 * the table of au_source.c. */
#ifndef AU_SOURCE_H
#define AU_SOURCE_H

#include <jansson.h>
#include <stdint.h>

#include "au_ctx.h"
#include "au_err.h"
#include "au_queue.h"

/* One chart entry as the source gives it. Strings are borrowed until the
 * next call to next() or close(). */
typedef struct {
    int32_t position;       /* >= 1, strictly increasing */
    int64_t streams;        /* >= 0, or -1 when the source has none */
    const char *track_name; /* non-empty */
    const char *artist;     /* non-blank */
    const char *track_id;   /* Spotify id, or NULL */
    long where;             /* line or item number, for messages */
} au_source_row_t;

/* The chart a job's source is; the strings are the source's (valid until
 * close). */
typedef struct {
    const char *platform, *chart, *region;
    const char *date; /* YYYY-MM-DD */
    const char *name; /* what messages call the source: a path, a URL */
} au_source_chart_t;

typedef struct {
    const char *kind; /* the job kind it serves: "chart_csv" */
    /* Opens the source of a job with these parameters. AU_EINVAL and the
     * like for parameters or content no retry can fix; AU_EIO, AU_ETIMEOUT
     * or AU_ERETRY for what a later attempt may find different. */
    int (*open)(au_ctx_t *ctx, json_t *params, void **state,
                au_source_chart_t *chart, au_error_t *err);
    /* The next row: 1, 0 at the end, or < 0 with err naming where. */
    int (*next)(void *state, au_source_row_t *row, au_error_t *err);
    /* Back to the first row, for the second reading. */
    int (*rewind)(void *state, au_error_t *err);
    void (*close)(void *state);
} au_source_t;

/* A job that is not a chart (a lookup): the ingest worker that claims it
 * runs it whole and marks it done with the rows it wrote. run keeps the
 * job's lease (au_task_keep) while it works and sorts its errors like a
 * source's open. */
typedef struct {
    const char *kind;
    int (*run)(au_ctx_t *ctx, const au_job_t *job, json_t *params, long *rows,
               au_error_t *err);
} au_task_t;

/* Extends job's lease when a third of it has passed since *last_ms
 * (monotonic), naming what it does: 0, or AU_ESTALE when the attempt
 * was lost (stop at once), or another code. */
int au_task_keep(au_ctx_t *ctx, const au_job_t *job, long long *last_ms,
                 const char *activity, au_error_t *err);

/* While a job runs, every fetch of a source or task keeps its lease
 * (au_source_fetch calls ctx->keep). */
void au_job_keep_begin(au_ctx_t *ctx, const au_job_t *job);
void au_job_keep_end(au_ctx_t *ctx);

/* The source of a job kind, or NULL. */
const au_source_t *au_source_find(const char *kind);

/* The task of a job kind, or NULL. */
const au_task_t *au_task_find(const char *kind);

/* The sources and tasks. */
extern const au_source_t au_source_csv;          /* chart_csv */
extern const au_source_t au_source_lastfm;       /* lastfm_chart */
extern const au_source_t au_source_spotify;      /* spotify_playlist */
extern const au_task_t au_task_mb_artists;       /* musicbrainz_artists */
extern const au_task_t au_task_mb_recordings;    /* musicbrainz_recordings */
extern const au_task_t au_task_spotify_tracks;   /* spotify_tracks */
extern const au_task_t au_task_spotify_artists;  /* spotify_artists */
extern const au_task_t au_task_spotify_features; /* spotify_features */
extern const au_task_t au_task_scan_dir;         /* scan_dir */

/* 1 for an error a later attempt may not meet (a source or store that
 * cannot be reached or read now, a stop): the job is retried; any other
 * is permanent, the job dead at once. */
int au_retry_helps(int rc);
/* 1 for an error that ends a task's job (au_retry_helps, or missing
 * configuration); any other is that item's answer, and the task goes on. */
int au_task_transient(int rc);
/* A task's list parameter: params[key], an array of 1..max items, and its
 * size in *n; NULL with err naming the parameter and what it must hold
 * ("names", "ISRCs"): the job's parameters are wrong for good. */
json_t *au_task_list(json_t *params, const char *key, size_t max,
                     const char *items, size_t *n, au_error_t *err);

#endif
