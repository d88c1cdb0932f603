/* The shared rate limit: slots spaced by the rate across processes (real
 * Redis of tests/run.sh, real fork()ed processes), the per-process
 * fallback at rate / fleet size while Redis is unreachable, deadlines. */
#include "au_ratelimit.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(ratelimit, .timeout = 60);

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static au_cache_t *cache_at(const char *url)
{
    au_config_t cfg;
    au_config_defaults(&cfg);
    snprintf(cfg.redis.url, sizeof(cfg.redis.url), "%s", url);
    cfg.redis.timeout_ms = 300;
    au_error_t err = {0};
    au_cache_t *c = au_cache_new(&cfg, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* A service name no other test run uses, so slots left in Redis by an
 * earlier run do not delay this one. */
static void service_name(char *out, size_t cap, const char *what)
{
    snprintf(out, cap, "t-%s-%d-%lld", what, (int)getpid(), mono_ms());
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* nproc processes take `each` slots of svc at rate; the times they were
 * let through, sorted, into t (shared memory). */
static void take_in_processes(const char *url, const char *svc, double rate,
                              int fleet, int nproc, int each, long long *t)
{
    for (int p = 0; p < nproc; p++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            au_cache_t *c = cache_at(url);
            au_ratelimit_t *rl = au_ratelimit_new(c, fleet);
            for (int i = 0; i < each; i++) {
                if (au_ratelimit_take(rl, svc, rate, 1, 0) < 0)
                    _exit(2);
                t[p * each + i] = mono_ms();
            }
            au_ratelimit_destroy(&rl);
            au_cache_destroy(&c);
            _exit(0);
        }
    }
    for (int p = 0; p < nproc; p++) {
        int st;
        cr_assert_gt(wait(&st), 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    qsort(t, (size_t)(nproc * each), sizeof(*t), cmp_ll);
}

static long long *shared_times(size_t n)
{
    long long *t = mmap(NULL, n * sizeof(*t), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(t, MAP_FAILED);
    return t;
}

Test(ratelimit, three_processes_share_one_rate_through_redis)
{
    char svc[64];
    service_name(svc, sizeof(svc), "shared");
    long long *t = shared_times(15);
    /* 10 per second for the fleet: three processes, five slots each. */
    take_in_processes(au_test_redis_url(), svc, 10, 3, 3, 5, t);
    for (int i = 1; i < 15; i++)
        cr_assert_geq(t[i] - t[i - 1], 95, "slots %d and %d %lld ms apart",
                      i - 1, i, t[i] - t[i - 1]);
    /* Never more than 10 in any one second. */
    for (int i = 10; i < 15; i++)
        cr_assert_geq(t[i] - t[i - 10], 990, "11 slots within %lld ms",
                      t[i] - t[i - 10]);
    munmap(t, 15 * sizeof(*t));
}

Test(ratelimit, without_redis_each_process_keeps_rate_over_fleet)
{
    char svc[64];
    service_name(svc, sizeof(svc), "local");
    au_cache_t *c = cache_at("redis://127.0.0.1:1/0");
    au_ratelimit_t *rl = au_ratelimit_new(c, 4);
    long long t0 = mono_ms();
    /* 20/s for a fleet of 4: 5/s here, so 4 slots after the first take
     * at least 4 * 200 ms. */
    for (int i = 0; i < 5; i++)
        cr_assert_geq(au_ratelimit_take(rl, svc, 20, 1, 0), 0);
    long long took = mono_ms() - t0;
    cr_assert_eq(au_ratelimit_shared(rl), 0);
    cr_assert_geq(took, 790, "5 slots in %lld ms", took);
    cr_assert_lt(took, 2000, "5 slots in %lld ms", took);
    au_ratelimit_destroy(&rl);
    au_cache_destroy(&c);
}

Test(ratelimit, a_slot_past_the_deadline_is_refused_at_once)
{
    char svc[64];
    service_name(svc, sizeof(svc), "deadline");
    au_cache_t *c = cache_at(au_test_redis_url());
    au_ratelimit_t *rl = au_ratelimit_new(c, 1);
    cr_assert_eq(au_ratelimit_take(rl, svc, 1, 1, 0), 0);
    cr_assert_eq(au_ratelimit_shared(rl), 1);
    long long t0 = mono_ms();
    cr_assert_eq(au_ratelimit_take(rl, svc, 1, 1, t0 + 100), AU_ETIMEOUT);
    cr_assert_lt(mono_ms() - t0, 100, "it waited before refusing");
    au_ratelimit_destroy(&rl);
    au_cache_destroy(&c);
}

Test(ratelimit, a_burst_lets_that_many_through_at_once)
{
    char svc[64];
    service_name(svc, sizeof(svc), "burst");
    au_cache_t *c = cache_at(au_test_redis_url());
    au_ratelimit_t *rl = au_ratelimit_new(c, 1);
    long long t0 = mono_ms();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(au_ratelimit_take(rl, svc, 2, 3, 0), 0, "slot %d", i);
    cr_assert_lt(mono_ms() - t0, 200);
    /* The fourth waits for a refill: half a second at 2/s. */
    cr_assert_geq(au_ratelimit_take(rl, svc, 2, 3, 0), 400);
    au_ratelimit_destroy(&rl);
    au_cache_destroy(&c);
}

Test(ratelimit, bad_arguments_are_refused)
{
    au_ratelimit_t *rl = au_ratelimit_new(NULL, 1);
    cr_assert_eq(au_ratelimit_take(rl, "Bad Name", 1, 1, 0), AU_EINVAL);
    cr_assert_eq(au_ratelimit_take(rl, "ok", 0, 1, 0), AU_EINVAL);
    cr_assert_eq(au_ratelimit_take(rl, "ok", 1, 0, 0), AU_EINVAL);
    cr_assert_eq(au_ratelimit_take(NULL, "ok", 1, 1, 0), AU_EINVAL);
    au_ratelimit_destroy(&rl);
    cr_assert_null(rl);
}
