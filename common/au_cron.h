/* au_cron.h: cron expressions for periodic schedules, in UTC.
 *
 * Five fields, minute hour day-of-month month day-of-week, each "*", a
 * number, a range A-B, a step (*\/S, A-B/S, A/S: from A to the field's
 * end), or a comma list of those; months jan..dec and days sun..sat by
 * name too (any case), day 7 is Sunday as 0 is. As in Vixie cron, when
 * both day fields are restricted a day matching either one fires. The
 * aliases @hourly, @daily (@midnight), @weekly, @monthly and @yearly
 * (@annually) stand for their usual expressions. */
#ifndef AU_CRON_H
#define AU_CRON_H

#include <stdint.h>

#include "au_err.h"

#define AU_CRON_MAX 128 /* longest expression accepted */

typedef struct {
    uint64_t minute; /* bit m: minute m, 0..59 */
    uint32_t hour;   /* 0..23 */
    uint32_t mday;   /* bit d: day d, 1..31 */
    uint16_t month;  /* bit m: month m, 1..12 */
    uint8_t wday;    /* bit d: day d, 0 (Sunday)..6 */
    int mday_any;    /* the field was "*" */
    int wday_any;
} au_cron_t;

/* Parses expr: 0, or AU_EINVAL with err naming the field and what is
 * wrong with it. An expression that can never fire (30 2 *: February
 * 30th) is refused too. */
int au_cron_parse(const char *expr, au_cron_t *out, au_error_t *err);

/* The first minute strictly after `after` (Unix seconds, UTC) that c
 * fires at, as Unix seconds; -1 when there is none within eight years. */
long long au_cron_next(const au_cron_t *c, long long after);

#endif
