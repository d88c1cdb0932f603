/* au_source_csv.c: the chart_csv source: a Spotify chart CSV file on a
 * filesystem the worker can read, its chart named by the job.
 *
 * Only a regular file is read, opened without blocking (a FIFO named like
 * a chart would otherwise hold the worker in open() forever), and every
 * read has a deadline: a read that does not return in time (a hung
 * network mount) is interrupted and the attempt fails, to be retried. */
#include "au_source.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "au_csv.h"

typedef struct {
    char *path;
    const char *name; /* the file's last component */
    int fd;
    FILE *fp;
    au_csv_t *csv;
    int timeout_s;
} csv_state_t;

/* ---- the read deadline -------------------------------------------------- */

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

/* Arms (seconds > 0) or disarms (0) the deadline of the reads that
 * follow. Without SA_RESTART, a read blocked when it fires returns EINTR,
 * which the reader reports as a read error. */
static void deadline(int seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = seconds > 0 ? on_alarm : SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {seconds, 0}};
    timed_out = 0;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* A reader error that the deadline caused is a timeout, retried. */
static int read_error(csv_state_t *s, int rc, au_error_t *err)
{
    if (timed_out)
        return au_error_set(err, AU_ETIMEOUT, "%s: no data for %d s", s->name,
                            s->timeout_s);
    return rc;
}

/* ---- opening ------------------------------------------------------------ */

static int open_file(csv_state_t *s, au_error_t *err)
{
    /* O_NONBLOCK: open() of a FIFO returns at once instead of waiting for
     * a writer; it changes nothing for a regular file. */
    s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (s->fd < 0) {
        int e = errno;
        /* A file that is not there or not readable yet may be later (a
         * copy in progress, a mount, a permission fixed): retried. */
        return au_error_set(err, AU_EIO, "%s: cannot open: %s", s->path,
                            strerror(e));
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode))
        return au_error_set(err, AU_EINVAL,
                            "%s: not a regular file (a chart must be a "
                            "file, not a pipe, device or directory)",
                            s->path);
    s->fp = fdopen(s->fd, "rb");
    if (!s->fp)
        return au_error_set(err, AU_ENOMEM, "%s: out of memory", s->path);
    s->fd = -1;
    setvbuf(s->fp, NULL, _IONBF, 0);
    deadline(s->timeout_s);
    s->csv = au_csv_new_fp(s->fp, s->name, err);
    deadline(0);
    if (!s->csv)
        return read_error(s, err->code, err);
    return 0;
}

static void close_file(csv_state_t *s)
{
    au_csv_destroy(&s->csv);
    if (s->fp)
        fclose(s->fp);
    else if (s->fd >= 0)
        close(s->fd);
    s->fp = NULL;
    s->fd = -1;
}

static const char *param(json_t *params, const char *key)
{
    json_t *v = json_object_get(params, key);
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v)
                                                      : NULL;
}

static int csv_open(au_ctx_t *ctx, json_t *params, void **state,
                    au_source_chart_t *chart, au_error_t *err)
{
    const char *keys[] = {"path", "platform", "chart", "region", "date"};
    const char *vals[5];
    for (int i = 0; i < 5; i++)
        if (!(vals[i] = param(params, keys[i])))
            return au_error_set(err, AU_EMISSING,
                                "job parameter \"%s\" missing or not a string",
                                keys[i]);
    csv_state_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(vals[0]))) {
        free(s);
        return au_error_set(err, AU_ENOMEM, "out of memory");
    }
    const char *slash = strrchr(s->path, '/');
    s->name = slash ? slash + 1 : s->path;
    s->fd = -1;
    s->timeout_s = ctx->cfg.queue.read_timeout_s;
    *chart = (au_source_chart_t){vals[1], vals[2], vals[3], vals[4], s->path};
    *state = s;
    return open_file(s, err);
}

static int csv_next(void *state, au_source_row_t *row, au_error_t *err)
{
    csv_state_t *s = state;
    au_chart_row_t r;
    deadline(s->timeout_s);
    int rc = au_csv_next(s->csv, &r, err);
    deadline(0);
    if (rc < 0)
        return read_error(s, rc, err);
    if (rc == 1)
        *row = (au_source_row_t){r.position, r.streams,  r.track_name,
                                 r.artist,   r.track_id, r.line};
    return rc;
}

static int csv_rewind(void *state, au_error_t *err)
{
    csv_state_t *s = state;
    close_file(s);
    return open_file(s, err);
}

static void csv_close(void *state)
{
    csv_state_t *s = state;
    if (!s)
        return;
    close_file(s);
    free(s->path);
    free(s);
}

const au_source_t au_source_csv = {"chart_csv", csv_open, csv_next, csv_rewind,
                                   csv_close};
