/* scan_dir: a folder re-scan, the job a schedule queues to pick up chart
 * files as they land in a folder (`audora schedule add NAME CRON scan_dir
 * --params '{"path": "/charts"}'`). It queues a chart_csv job, as `audora
 * push` would, for each *.csv under the folder whose name says its chart
 * and date, unless the queue already has it: a job for that file queued
 * or running, or one that finished (done or dead) after the file last
 * changed. A re-scan of an unchanged folder queues nothing. The queue
 * remembers a file as long as it keeps its job (queue.retention_s); a
 * file read again after that rewrites the same rows, never doubles them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "au_chartname.h"
#include "au_log.h"
#include "au_pool.h"
#include "au_queue.h"
#include "au_source.h"

/* A folder of more files than this is refused rather than held. */
#define SCAN_MAX_FILES 100000

typedef struct {
    char *path;
    long long mtime;
    au_chartname_t cn;
} file_t;

typedef struct {
    file_t *v;
    size_t n, cap;
    long unnamed; /* *.csv whose name does not say chart and date */
} files_t;

static void files_free(files_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
}

static int add_file(files_t *l, const char *path, const struct stat *st,
                    au_error_t *err)
{
    au_chartname_t cn;
    au_error_t nerr = {0};
    if (au_chartname_parse(path, &cn, &nerr) < 0 ||
        cn.known != AU_CHARTNAME_ALL) {
        l->unnamed++;
        return 0;
    }
    if (l->n == SCAN_MAX_FILES)
        return au_error_set(err, AU_ETOOBIG,
                            "more than %d chart files under the folder",
                            SCAN_MAX_FILES);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        file_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return au_error_set(err, AU_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    char *p = strdup(path);
    if (!p)
        return au_error_set(err, AU_ENOMEM, "out of memory");
    l->v[l->n++] = (file_t){p, (long long)st->st_mtime, cn};
    return 0;
}

/* Every regular *.csv under dir, recursively; hidden entries skipped as
 * `audora push` skips them. */
static int walk(files_t *l, const char *dir, int depth, au_error_t *err)
{
    if (depth > 32)
        return au_error_set(err, AU_ENESTING, "%s: folders nested too deep",
                            dir);
    DIR *d = opendir(dir);
    if (!d)
        return au_error_set(err, errno == ENOENT ? AU_ENOTFOUND : AU_EIO,
                            "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e = readdir(d); e && rc == 0; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        int w = snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        struct stat st;
        if (w < 0 || (size_t)w >= sizeof(sub) || stat(sub, &st) != 0)
            continue;
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            rc = walk(l, sub, depth + 1, err);
        else if (S_ISREG(st.st_mode) && len > 4 &&
                 !strcmp(e->d_name + len - 4, ".csv"))
            rc = add_file(l, sub, &st, err);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const file_t *)a)->path, ((const file_t *)b)->path);
}

/* Oldest chart first, as `audora push` queues: each series' dates reach
 * the queue in order. */
static int by_date(const void *a, const void *b)
{
    const file_t *x = a, *y = b;
    int d = strcmp(x->cn.date, y->cn.date);
    return d ? d : strcmp(x->path, y->path);
}

/* Drops the files the queue has (seen: rows in path order, as files). */
static void drop_seen(files_t *l, const PGresult *seen, long *kept)
{
    size_t w = 0;
    int j = 0, nseen = PQntuples(seen);
    for (size_t i = 0; i < l->n; i++) {
        file_t *f = &l->v[i];
        while (j < nseen && strcmp(PQgetvalue(seen, j, 0), f->path) < 0)
            j++;
        int known = j < nseen && !strcmp(PQgetvalue(seen, j, 0), f->path);
        int active = known && PQgetvalue(seen, j, 1)[0] == 't';
        const char *fin = known ? PQgetvalue(seen, j, 2) : "";
        if (active || (fin[0] && strtoll(fin, NULL, 10) >= f->mtime)) {
            free(f->path);
            (*kept)++;
        } else {
            l->v[w++] = *f;
        }
    }
    l->n = w;
}

static int enqueue(PGconn *c, const file_t *f, const au_push_t *place,
                   long *queued, au_error_t *err)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "path", f->path,
                          "platform", f->cn.platform, "chart", f->cn.chart,
                          "region", f->cn.region, "date", f->cn.date);
    char *js = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!js)
        return 0; /* a path that is not UTF-8: no job can name it */
    au_push_t job = *place;
    job.kind = "chart_csv";
    job.params = js;
    int64_t id;
    int rc = au_queue_enqueue(c, &job, &id, err);
    free(js);
    *queued += rc == 1;
    return rc < 0 ? rc : 0;
}

static int scan_run(au_ctx_t *ctx, const au_job_t *job, json_t *params,
                    long *rows, au_error_t *err)
{
    const char *dir = json_string_value(json_object_get(params, "path"));
    const char *queue = json_string_value(json_object_get(params, "queue"));
    json_t *jp = json_object_get(params, "priority");
    int prio = json_is_integer(jp) ? (int)json_integer_value(jp) : 0;
    if (!dir || dir[0] != '/')
        return au_error_set(err, AU_EINVAL,
                            "scan_dir needs \"path\": an absolute folder");
    if ((queue && !au_queue_name_ok(queue)) ||
        (jp && (prio < AU_PRIORITY_FIRST || prio > AU_PRIORITY_LAST)))
        return au_error_set(err, AU_EINVAL,
                            "scan_dir: \"queue\" must be a queue name and "
                            "\"priority\" 1..4");
    char root[PATH_MAX];
    if (!realpath(dir, root))
        return au_error_set(err, errno == ENOENT ? AU_ENOTFOUND : AU_EIO,
                            "%s: %s", dir, strerror(errno));
    files_t l = {0};
    long kept = 0;
    int rc = walk(&l, root, 0, err);
    PGconn *c = rc == 0 ? au_pool_get(ctx->pool, err) : NULL;
    if (rc == 0 && !c)
        rc = AU_ERETRY;
    PGresult *seen = NULL;
    char prefix[PATH_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%s/", strcmp(root, "/") ? root : "");
    if (rc == 0)
        rc = au_queue_files_seen(c, prefix, &seen, err);
    if (rc == 0) {
        qsort(l.v, l.n, sizeof(*l.v), by_path);
        drop_seen(&l, seen, &kept);
        qsort(l.v, l.n, sizeof(*l.v), by_date);
    }
    PQclear(seen);
    /* The files' jobs go where the scan says, with the attempts a
     * push would give them. */
    au_push_t place = {.queue = queue,
                       .priority = prio,
                       .max_attempts = ctx->cfg.queue.max_attempts};
    long long last = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = au_task_keep(ctx, job, &last, "scanning", err);
        if (rc == 0)
            rc = enqueue(c, &l.v[i], &place, rows, err);
    }
    au_pool_put(ctx->pool, c);
    if (rc == 0)
        au_log_ev(AU_LOG_INFO, &(au_log_ctx_t){job->id, job->attempt, -1}, 0,
                  "scan of %s: %ld queued, %ld already queued or read, %ld "
                  "*.csv not named as a chart",
                  root, *rows, kept, l.unnamed);
    files_free(&l);
    return rc;
}

const au_task_t au_task_scan_dir = {"scan_dir", scan_run};
