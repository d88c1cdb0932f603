/* audora-supervisor: the spec file's rules, and the real binary running
 * real children (small shell scripts): a failing child restarted with a
 * doubling backoff, a killed one restarted, one that exits 0 left down,
 * SIGTERM passed on with a grace and SIGKILL after it, counts in
 * supervisor.status. */
#include "au_supervisor.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
    const char *base = getenv("AUDORA_TEST_TMP");
    snprintf(dir, sizeof(dir), "%s/au-sup-XXXXXX",
             base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(supervisor, .init = setup, .fini = teardown, .timeout = 120);

/* Writes dir/name with the printf-formatted text; mode 0755 for scripts. */
static void put(const char *name, int mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(const char *name, int mode, const char *fmt, ...)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static int load(const char *text, au_sup_spec_t *spec, au_error_t *err)
{
    put("spec", 0644, "%s", text);
    char path[512];
    snprintf(path, sizeof(path), "%s/spec", dir);
    return au_sup_spec_load(path, spec, err);
}

Test(supervisor, spec_lines_are_checked_and_named)
{
    au_sup_spec_t spec;
    au_error_t err = {0};
    cr_assert_eq(load("# the cluster\n\nrelay /bin/relay --stage enrich\n"
                      "ingest-1\t/bin/ingest\n",
                      &spec, &err),
                 0, "%s", err.msg);
    cr_assert_eq(spec.n, 2);
    cr_assert_str_eq(spec.child[0].name, "relay");
    cr_assert_str_eq(spec.child[0].argv[2], "enrich");
    cr_assert_null(spec.child[0].argv[3]);
    cr_assert_str_eq(spec.child[1].argv[0], "/bin/ingest");
    au_sup_spec_free(&spec);
    const struct {
        const char *text, *want;
    } bad[] = {
        {"Relay /bin/x\n", "spec:1: child name \"Relay\" is not [a-z0-9_-]+"},
        {"a /bin/x\na /bin/y\n", "spec:2: a named twice"},
        {"a\n", "spec:1: a has no program"},
        {"a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
         "spec:1: more than 16 arguments"},
        {"# nothing\n", "spec: no children"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(load(bad[i].text, &spec, &err), AU_EPARSE, "%s",
                     bad[i].text);
        cr_assert(strstr(err.msg, bad[i].want), "%s", err.msg);
    }
    cr_assert_eq(au_sup_spec_load("/nonexistent/spec", &spec, &err), AU_EIO);
}

Test(supervisor, backoff_doubles_up_to_its_ceiling)
{
    int want[] = {200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(au_sup_backoff_ms(i + 1, 200, 10000), want[i]);
    cr_assert_eq(au_sup_backoff_ms(1000000, 1, 3600000), 3600000);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The field `key=` of child `name` in supervisor.status; -1 if absent. */
static long status_of(const char *name, const char *key)
{
    char path[512], line[256];
    snprintf(path, sizeof(path), "%s/run/supervisor.status", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, n) != 0 || line[n] != ' ')
            continue;
        char pat[64];
        snprintf(pat, sizeof(pat), " %s=", key);
        const char *p = strstr(line, pat);
        if (p)
            v = strtol(p + strlen(pat), NULL, 10);
    }
    fclose(f);
    return v;
}

/* Polls until child `name` has at least `want` restarts; 1 if it did
 * within `seconds`. */
static int restarts_reach(const char *name, long want, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        if (status_of(name, "restarts") >= want)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static pid_t start_supervisor(int grace_s)
{
    char spec[512], run[512], sup[512], grace[16];
    snprintf(spec, sizeof(spec), "%s/spec", dir);
    snprintf(run, sizeof(run), "%s/run", dir);
    snprintf(sup, sizeof(sup), "%s/audora-supervisor", au_test_build_dir());
    snprintf(grace, sizeof(grace), "%d", grace_s);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char log[600];
        snprintf(log, sizeof(log), "%s/supervisor.log", dir);
        if (!freopen(log, "w", stderr) || !freopen(log, "a", stdout))
            _exit(126);
        execl(sup, sup, "--spec", spec, "--dir", run, "--backoff-min-ms", "50",
              "--backoff-max-ms", "400", "--stable-s", "60", "--grace-s", grace,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits for the supervisor to exit within `seconds`: its exit status,
 * or -1 (and it is killed) when it did not. */
static int wait_exit(pid_t pid, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

Test(supervisor,
     failed_children_come_back_with_backoff_and_finished_ones_stay_down)
{
    put("flaky.sh", 0755, "#!/bin/sh\nexit 3\n");
    put("steady.sh", 0755, "#!/bin/sh\nexec sleep 600\n");
    put("spec", 0644,
        "flaky %s/flaky.sh\nsteady %s/steady.sh\nonce /bin/true\n"
        "missing %s/no-such-program\n",
        dir, dir, dir);
    pid_t sup = start_supervisor(5);
    /* Backoff 50, 100, 200, 400, 400 ms: five restarts take 1.15 s. */
    cr_assert(restarts_reach("flaky", 5, 30), "flaky was not restarted");
    cr_assert(restarts_reach("missing", 2, 30),
              "a program that cannot run is a failure too");
    cr_assert_eq(status_of("once", "restarts"), 0);
    cr_assert_eq(status_of("once", "pid"), 0, "exit 0 is a finished drain");
    cr_assert_eq(status_of("steady", "restarts"), 0);
    /* The log says each one, with the delay doubling to the ceiling. */
    cr_assert_eq(sh("grep -q 'flaky exit status 3; restart 1 in 50 ms' "
                    "%s/supervisor.log && grep -q 'restart 2 in 100 ms' "
                    "%s/supervisor.log && grep -q 'restart 5 in 400 ms' "
                    "%s/supervisor.log",
                    dir, dir, dir),
                 0, "restarts not logged with their backoff");
    cr_assert_eq(sh("grep -q 'cannot run .*/no-such-program' "
                    "%s/run/logs/missing.log",
                    dir),
                 0);

    /* kill -9: a new process, one restart, the cause logged. */
    long before = status_of("steady", "pid");
    cr_assert_gt(before, 0);
    cr_assert_eq(kill((pid_t)before, SIGKILL), 0);
    cr_assert(restarts_reach("steady", 1, 30), "steady was not restarted");
    for (int i = 0; i < 100 && status_of("steady", "pid") <= 0; i++)
        sleep_ms(50);
    long after = status_of("steady", "pid");
    cr_assert(after > 0 && after != before);
    cr_assert_eq(kill((pid_t)after, 0), 0, "the new steady is not running");
    cr_assert_eq(
        sh("grep -q 'steady killed by signal 9' %s/supervisor.log", dir), 0);

    /* SIGTERM: passed on, the children drain, the supervisor exits 0. */
    cr_assert_eq(kill(sup, SIGTERM), 0);
    cr_assert_eq(wait_exit(sup, 20), 0);
    cr_assert_neq(kill((pid_t)after, 0), 0, "steady outlived the stop");
}

Test(supervisor, a_child_that_ignores_sigterm_is_killed_after_the_grace)
{
    put("stubborn.sh", 0755,
        "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n");
    put("spec", 0644, "stubborn %s/stubborn.sh\n", dir);
    pid_t sup = start_supervisor(1);
    for (int i = 0; i < 100 && status_of("stubborn", "pid") <= 0; i++)
        sleep_ms(50);
    long child = status_of("stubborn", "pid");
    cr_assert_gt(child, 0);
    sleep_ms(300); /* the trap is set */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(kill(sup, SIGTERM), 0);
    cr_assert_eq(wait_exit(sup, 20), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_geq(t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9, 0.9,
                  "killed before its grace");
    cr_assert_neq(kill((pid_t)child, 0), 0, "stubborn outlived the grace");
    cr_assert_eq(sh("grep -q 'still up after 1000 ms: killing' "
                    "%s/supervisor.log",
                    dir),
                 0);
}
