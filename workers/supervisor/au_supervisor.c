#include "au_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "au_log.h"
#include "au_zmq.h"

/* ---- the spec file ----------------------------------------------------- */

static int name_ok(const char *s)
{
    if (!*s || strlen(s) >= 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* Splits one line into a child; 0, or AU_EPARSE with the reason. */
static int parse_line(char *line, au_sup_spec_t *spec, const char *where,
                      au_error_t *err)
{
    char *save = NULL, *tok = strtok_r(line, " \t", &save);
    if (!tok || tok[0] == '#')
        return 0;
    if (spec->n == AU_SUP_MAX_CHILDREN)
        return au_error_set(err, AU_EPARSE, "%s: more than %d children", where,
                            AU_SUP_MAX_CHILDREN);
    au_sup_child_t *c = &spec->child[spec->n];
    memset(c, 0, sizeof(*c));
    if (!name_ok(tok))
        return au_error_set(err, AU_EPARSE,
                            "%s: child name \"%.64s\" is not [a-z0-9_-]+",
                            where, tok);
    for (int i = 0; i < spec->n; i++)
        if (!strcmp(spec->child[i].name, tok))
            return au_error_set(err, AU_EPARSE, "%s: %s named twice", where,
                                tok);
    snprintf(c->name, sizeof(c->name), "%s", tok);
    int argc = 0;
    while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
        if (argc == AU_SUP_MAX_ARGS)
            return au_error_set(err, AU_EPARSE, "%s: more than %d arguments",
                                where, AU_SUP_MAX_ARGS);
        if (!(c->argv[argc++] = strdup(tok)))
            return au_error_set(err, AU_ENOMEM, "%s: out of memory", where);
    }
    if (argc == 0)
        return au_error_set(err, AU_EPARSE, "%s: %s has no program", where,
                            c->name);
    spec->n++;
    return 0;
}

int au_sup_spec_load(const char *path, au_sup_spec_t *spec, au_error_t *err)
{
    memset(spec, 0, sizeof(*spec));
    FILE *f = fopen(path, "r");
    if (!f)
        return au_error_set(err, AU_EIO, "%s: %s", path, strerror(errno));
    char line[4096], where[512];
    int rc = 0;
    for (long no = 1; rc == 0 && fgets(line, sizeof(line), f); no++) {
        snprintf(where, sizeof(where), "%s:%ld", path, no);
        size_t len = strcspn(line, "\r\n");
        if (line[len] == '\0' && !feof(f))
            rc = au_error_set(err, AU_EPARSE, "%s: line too long", where);
        line[len] = '\0';
        if (rc == 0)
            rc = parse_line(line, spec, where, err);
    }
    fclose(f);
    if (rc == 0 && spec->n == 0)
        rc = au_error_set(err, AU_EPARSE, "%s: no children", path);
    if (rc < 0)
        au_sup_spec_free(spec);
    return rc;
}

void au_sup_spec_free(au_sup_spec_t *spec)
{
    for (int i = 0; i < AU_SUP_MAX_CHILDREN; i++)
        for (int k = 0; k < AU_SUP_MAX_ARGS; k++) {
            free(spec->child[i].argv[k]);
            spec->child[i].argv[k] = NULL;
        }
    spec->n = 0;
}

int au_sup_backoff_ms(int restarts, int min_ms, int max_ms)
{
    long long d = min_ms;
    for (int i = 1; i < restarts && d < max_ms; i++)
        d *= 2;
    return (int)(d < max_ms ? d : max_ms);
}

/* ---- running ------------------------------------------------------------ */

typedef struct {
    const au_sup_child_t *c;
    pid_t pid;            /* 0: not running */
    long long started_ms; /* when the current process started */
    long long restart_at; /* when to start it again; 0: not scheduled */
    int restarts;         /* restarts in a row (for the backoff) */
    int total;            /* restarts since the supervisor started */
    int last_status;      /* raw wait status of the last exit */
    int done;             /* exited 0: stays down */
} slot_t;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *dir, const char *sub, const char *name,
                       const char *text)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s%s", dir, sub, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fputs(text, f);
    /* rename: readers (cluster.sh, tests) never see a half-written file. */
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

static void write_status(const au_sup_opts_t *o, const slot_t *s, int n)
{
    char text[16384];
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof(text) - 128; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "%s pid=%d restarts=%d last_status=%d\n",
                                s[i].c->name, (int)s[i].pid, s[i].total,
                                s[i].last_status);
    write_file(o->dir, "", "supervisor.status", text);
}

/* In the child, after fork: logs, a fresh signal state, exec. */
static void exec_child(const au_sup_opts_t *o, const au_sup_child_t *c)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/logs/%s.log", o->dir, c->name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(c->argv[0], c->argv);
    dprintf(2, "supervisor: cannot run %s: %s\n", c->argv[0], strerror(errno));
    _exit(127);
}

static int start(const au_sup_opts_t *o, slot_t *s)
{
    pid_t pid = fork();
    if (pid < 0) {
        /* Out of processes or memory for now: try again after the
         * backoff, as for a child that failed. */
        s->restarts++;
        s->restart_at =
            mono_ms() + au_sup_backoff_ms(s->restarts, o->backoff_min_ms,
                                          o->backoff_max_ms);
        au_log_ev(AU_LOG_ERROR, NULL, AU_EIO, "supervisor: fork %s: %s",
                  s->c->name, strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_child(o, s->c);
    s->pid = pid;
    s->started_ms = mono_ms();
    s->restart_at = 0;
    char text[32];
    snprintf(text, sizeof(text), "%d\n", (int)pid);
    write_file(o->dir, "pids/", s->c->name, text);
    return 0;
}

static void describe(int status, char *out, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
}

/* A child ended: decide whether and when it comes back. */
static void reaped(const au_sup_opts_t *o, slot_t *s, int status)
{
    long long now = mono_ms();
    s->pid = 0;
    s->last_status = status;
    char why[64];
    describe(status, why, sizeof(why));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        s->done = 1;
        au_info("supervisor: %s finished (%s); not restarted", s->c->name, why);
        return;
    }
    if (now - s->started_ms >= o->stable_ms)
        s->restarts = 0;
    s->restarts++;
    s->total++;
    int delay =
        au_sup_backoff_ms(s->restarts, o->backoff_min_ms, o->backoff_max_ms);
    s->restart_at = now + delay;
    au_metrics_inc(o->metrics, AU_M_RESTARTS, 1);
    au_log_ev(AU_LOG_WARN, NULL, 0,
              "supervisor: %s %s; restart %d in %d ms (%d in a row)",
              s->c->name, why, s->total, delay, s->restarts);
}

static slot_t *find(slot_t *s, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (s[i].pid == pid)
            return &s[i];
    return NULL;
}

/* Reaps every child that has ended; returns how many are still running. */
static int reap_all(const au_sup_opts_t *o, slot_t *s, int n, int stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        slot_t *sl = find(s, n, pid);
        if (!sl)
            continue;
        if (stopping) {
            sl->pid = 0;
            sl->last_status = status;
        } else {
            reaped(o, sl, status);
        }
        write_status(o, s, n);
    }
    int running = 0;
    for (int i = 0; i < n; i++)
        running += s[i].pid != 0;
    return running;
}

static void signal_all(slot_t *s, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (s[i].pid > 0)
            kill(s[i].pid, sig);
}

/* SIGTERM to everyone, SIGKILL for what is still there after the grace. */
static void stop_all(const au_sup_opts_t *o, slot_t *s, int n)
{
    au_info("supervisor: stopping %d children", n);
    signal_all(s, n, SIGTERM);
    long long deadline = mono_ms() + o->grace_ms;
    while (reap_all(o, s, n, 1) > 0 && mono_ms() < deadline)
        poll(NULL, 0, 50);
    if (reap_all(o, s, n, 1) > 0) {
        au_warn("supervisor: children still up after %d ms: killing",
                o->grace_ms);
        signal_all(s, n, SIGKILL);
        while (reap_all(o, s, n, 1) > 0)
            poll(NULL, 0, 20);
    }
    write_status(o, s, n);
}

static int make_dirs(const char *dir)
{
    char path[4096];
    const char *subs[] = {"", "/logs", "/pids"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            au_error("supervisor: %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int au_sup_run(const au_sup_spec_t *spec, const au_sup_opts_t *o)
{
    if (make_dirs(o->dir) < 0)
        return 1;
    slot_t slots[AU_SUP_MAX_CHILDREN];
    memset(slots, 0, sizeof(slots));
    int n = spec->n;
    for (int i = 0; i < n; i++) {
        slots[i].c = &spec->child[i];
        start(o, &slots[i]);
    }
    write_status(o, slots, n);
    au_metrics_set_ready(o->metrics, 1);
    au_info("supervisor: %d children started", n);
    while (!au_stop_requested) {
        /* SIGHUP is for the workers: passed on, so that one signal to the
         * supervisor reaches the whole host's fleet. */
        if (au_reload_requested) {
            au_reload_requested = 0;
            signal_all(slots, n, SIGHUP);
            au_info("supervisor: SIGHUP passed to the children");
        }
        reap_all(o, slots, n, 0);
        long long now = mono_ms();
        for (int i = 0; i < n; i++) {
            slot_t *s = &slots[i];
            if (!s->pid && !s->done && s->restart_at && now >= s->restart_at &&
                start(o, s) == 0)
                write_status(o, slots, n);
        }
        /* SIGCHLD is not caught: a short poll notices an exit within a
         * tenth of a second, which no restart policy needs faster. */
        poll(NULL, 0, 100);
    }
    au_metrics_set_ready(o->metrics, 0);
    stop_all(o, slots, n);
    return 0;
}
