/* au_ratelimit.h: one request rate per service, shared by every process on
 * every host (docs/ARCHITECTURE.md, "Live sources").
 *
 * The limit is kept in Redis as the next free slot of the service (the
 * generic cell rate algorithm: a token bucket of `burst` tokens refilled
 * at `rate_per_s`), taken and moved on by one Lua script, so that two
 * processes can never take the same slot and Redis's own clock is the one
 * clock. A caller that is given a slot in the future sleeps until then.
 * Slots are spaced 1 % wider than 1/rate: a request leaves a little after
 * its slot, and network jitter must not put two of them into one second a
 * service counts.
 *
 * While Redis is unreachable, each process keeps the same schedule on its
 * own at rate / fleet_size (http.fleet_size), so a fleet of that size
 * still stays under the limit. A process that loses Redis after using it
 * first waits two of its local intervals: slots the fleet took in Redis
 * just before are spent by then. Not thread-safe: one per process. */
#ifndef AU_RATELIMIT_H
#define AU_RATELIMIT_H

#include "au_cache.h"

typedef struct au_ratelimit_t au_ratelimit_t;

/* cache may be NULL (local schedule only). Borrowed: it must outlive the
 * limiter. NULL on out-of-memory. */
au_ratelimit_t *au_ratelimit_new(au_cache_t *cache, int fleet_size);
void au_ratelimit_destroy(au_ratelimit_t **self_p);

/* Takes the next slot of `service` (1..63 bytes of [a-z0-9_-]) at
 * rate_per_s with burst slots allowed at once, and sleeps until it comes.
 * Returns the milliseconds slept, or AU_ETIMEOUT without taking a slot
 * when it would come after deadline_ms (monotonic, au_now_ms; 0: none),
 * AU_EINTR when the process was asked to stop while it slept (the slot
 * goes unused), or AU_EINVAL. */
long long au_ratelimit_take(au_ratelimit_t *rl, const char *service,
                            double rate_per_s, int burst,
                            long long deadline_ms);

/* 1 when the last take went through Redis, 0 when it fell back. */
int au_ratelimit_shared(const au_ratelimit_t *rl);

#endif
