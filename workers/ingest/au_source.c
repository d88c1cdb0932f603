#include "au_source.h"

#include <string.h>

#include "au_ctx.h"

/* Every source, by the job kind it serves. */
static const au_source_t *const sources[] = {
    &au_source_csv,
    &au_source_lastfm,
    &au_source_spotify,
};

const au_source_t *au_source_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
        if (!strcmp(sources[i]->kind, kind))
            return sources[i];
    return NULL;
}

/* Every task, by the job kind it serves. */
static const au_task_t *const tasks[] = {
    &au_task_mb_artists,       &au_task_mb_recordings,
    &au_task_spotify_tracks,   &au_task_spotify_artists,
    &au_task_spotify_features, &au_task_scan_dir,
};

const au_task_t *au_task_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++)
        if (!strcmp(tasks[i]->kind, kind))
            return tasks[i];
    return NULL;
}

int au_task_keep(au_ctx_t *ctx, const au_job_t *job, long long *last_ms,
                 const char *activity, au_error_t *err)
{
    long long now = au_now_ms();
    if (now - *last_ms < ctx->cfg.queue.lease_s * 1000LL / 3)
        return 0;
    PGconn *c = au_pool_get(ctx->pool, err);
    if (!c)
        return err->code;
    int rc = au_queue_extend(c, job->id, job->attempt, ctx->cfg.queue.lease_s,
                             activity, err);
    au_pool_put(ctx->pool, c);
    if (rc == 0)
        *last_ms = now;
    return rc;
}

static int keep_job(au_ctx_t *ctx, const char *activity, au_error_t *err)
{
    return au_task_keep(ctx, ctx->keep_arg, &ctx->keep_last, activity, err);
}

void au_job_keep_begin(au_ctx_t *ctx, const au_job_t *job)
{
    ctx->keep = keep_job;
    ctx->keep_arg = job;
    ctx->keep_last = au_now_ms();
}

void au_job_keep_end(au_ctx_t *ctx)
{
    ctx->keep = NULL;
    ctx->keep_arg = NULL;
}

int au_retry_helps(int rc)
{
    return rc == AU_EIO || rc == AU_ETIMEOUT || rc == AU_ERETRY ||
           rc == AU_EDB || rc == AU_EDBCONN || rc == AU_ENOMEM ||
           rc == AU_ESTALE || rc == AU_EINTR;
}

json_t *au_task_list(json_t *params, const char *key, size_t max,
                     const char *items, size_t *n, au_error_t *err)
{
    json_t *v = json_object_get(params, key);
    *n = json_is_array(v) ? json_array_size(v) : 0;
    if (*n == 0 || *n > max) {
        au_error_set(err, AU_EINVAL,
                     "job parameter \"%s\" must be an array of 1..%zu %s", key,
                     max, items);
        return NULL;
    }
    return v;
}

int au_task_transient(int rc)
{
    /* No credentials is no item's answer either: the job ends. */
    return au_retry_helps(rc) || rc == AU_ECONFIG;
}
