#include "au_ratelimit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "au_ctx.h"
#include "au_err.h"
#include "au_zmq.h"

#define MAX_SERVICES 16
#define SPACING 1.01 /* slots 1 % wider than 1/rate, see the header */

/* KEYS[1] the service's slot; ARGV: interval and burst (ms, slots) and the
 * longest wait the caller accepts (ms, -1: any). The next free slot (tat)
 * moves on by one interval per take; a take may start up to burst - 1
 * intervals before tat. Returns the wait in ms, or -1 without taking the
 * slot when it is longer than accepted; the key expires once the schedule
 * is idle long enough to be forgotten. */
static const char SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local interval = tonumber(ARGV[1])\n"
    "local burst = tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or now)\n"
    "if tat < now then tat = now end\n"
    "local wait = tat - (burst - 1) * interval - now\n"
    "if wait < 0 then wait = 0 end\n"
    "local most = tonumber(ARGV[3])\n"
    "if most >= 0 and wait > most then return -1 end\n"
    "redis.call('SET', KEYS[1], tat + interval, 'PX',\n"
    "           math.ceil(interval * burst + tat - now + 60000))\n"
    "return math.ceil(wait)\n";

typedef struct {
    char name[64];
    double tat;    /* local schedule, monotonic ms */
    unsigned lost; /* rl->lost when this schedule last began */
} local_slot_t;

struct au_ratelimit_t {
    au_cache_t *cache;
    int fleet;
    int shared;
    unsigned lost; /* times Redis was lost after a shared take */
    local_slot_t local[MAX_SERVICES];
    int nlocal;
};

au_ratelimit_t *au_ratelimit_new(au_cache_t *cache, int fleet_size)
{
    au_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->cache = cache;
    rl->fleet = fleet_size > 0 ? fleet_size : 1;
    return rl;
}

void au_ratelimit_destroy(au_ratelimit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* The wait for the next local slot, which it takes; -1 without taking it
 * when the wait is over most (>= 0). */
static long long local_take(au_ratelimit_t *rl, const char *service,
                            double interval, int burst, long long most)
{
    local_slot_t *s = NULL;
    for (int i = 0; i < rl->nlocal; i++)
        if (!strcmp(rl->local[i].name, service))
            s = &rl->local[i];
    if (!s) {
        /* A table of services this small never fills in practice; if it
         * did, sharing the last slot only makes the limit stricter. */
        s = &rl->local[rl->nlocal < MAX_SERVICES ? rl->nlocal++
                                                 : MAX_SERVICES - 1];
        snprintf(s->name, sizeof(s->name), "%s", service);
    }
    double now = (double)au_now_ms();
    /* The fleet shares the limit: alone, a process keeps 1/fleet of it. */
    interval *= rl->fleet;
    if (s->tat < now)
        s->tat = now;
    /* Redis just went away: the fleet's processes may hold slots taken
     * there, each at most one local interval ahead. Two intervals of
     * silence first keep those from adding up with the local schedule. */
    if (s->lost != rl->lost) {
        s->lost = rl->lost;
        if (s->tat < now + 2 * interval)
            s->tat = now + 2 * interval;
    }
    double wait = s->tat - (burst - 1) * interval - now;
    if (most >= 0 && wait > (double)most)
        return -1;
    s->tat += interval;
    return wait > 0 ? (long long)ceil(wait) : 0;
}

long long au_ratelimit_take(au_ratelimit_t *rl, const char *service,
                            double rate_per_s, int burst, long long deadline_ms)
{
    if (!rl || !service || !name_ok(service) || !(rate_per_s > 0) || burst < 1)
        return AU_EINVAL;
    double interval = 1000.0 / rate_per_s * SPACING;
    long long most = deadline_ms > 0 ? deadline_ms - au_now_ms() : -1;
    if (deadline_ms > 0 && most < 0)
        return AU_ETIMEOUT;
    char key[96], iv[32], bu[16], mo[32];
    snprintf(key, sizeof(key), "audora:ratelimit:%s", service);
    snprintf(iv, sizeof(iv), "%.3f", interval);
    snprintf(bu, sizeof(bu), "%d", burst);
    snprintf(mo, sizeof(mo), "%lld", most);
    const char *keys[] = {key};
    const char *args[] = {iv, bu, mo};
    long long wait = 0;
    int was = rl->shared;
    rl->shared = rl->cache && au_cache_eval_int(rl->cache, SCRIPT, 1, keys, 3,
                                                args, &wait) == 0;
    if (was && !rl->shared)
        rl->lost++;
    if (!rl->shared)
        wait = local_take(rl, service, interval, burst, most);
    /* Past the deadline the slot is not taken: callers that give up do
     * not push the schedule on for those that wait. */
    if (wait < 0)
        return AU_ETIMEOUT;
    if (au_sleep_ms(wait) < 0)
        return AU_EINTR;
    return wait;
}

int au_ratelimit_shared(const au_ratelimit_t *rl)
{
    return rl && rl->shared;
}
