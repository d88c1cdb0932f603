/* test_cron.c: cron expressions and their next firing time, in UTC. The
 * expected times were worked out by hand from a calendar (2026-11-30 is
 * a Monday) and are written as Unix seconds beside their dates. */
#include <criterion/criterion.h>

#include "au_cron.h"

static long long next_of(const char *expr, long long after)
{
    au_cron_t c;
    au_error_t err = {0};
    cr_assert_eq(au_cron_parse(expr, &c, &err), 0, "%s: %s", expr, err.msg);
    return au_cron_next(&c, after);
}

#define MON_2007 1796069220LL /* 2026-11-30T20:07:00Z, a Monday */

Test(cron, steps_lists_and_ranges_fire_at_the_next_matching_minute)
{
    cr_expect_eq(next_of("*/15 * * * *", MON_2007), 1796069700LL); /* 20:15 */
    /* Strictly after: at 20:00 sharp the next "0 * * * *" is 21:00. */
    cr_expect_eq(next_of("0 * * * *", 1796068800LL), 1796072400LL);
    cr_expect_eq(next_of("@hourly", 1796068800LL), 1796072400LL);
    /* Weekdays at 06:30, after Friday 07:00: Monday 2026-12-07T06:30. */
    cr_expect_eq(next_of("30 6 * * mon-FRI", 1796367600LL), 1796625000LL);
    cr_expect_eq(next_of("30 6 * * 1-5", 1796367600LL), 1796625000LL);
    /* Sunday is 0 and 7: Sunday 2026-12-06T00:00. */
    cr_expect_eq(next_of("0 0 * * 7", MON_2007), 1796515200LL);
    cr_expect_eq(next_of("@weekly", MON_2007), 1796515200LL);
    cr_expect_eq(next_of("0 0 1 jan,Jul *", MON_2007), 1798761600LL);
    /* Across the year: 23:59:30 on 31 December to New Year's midnight. */
    cr_expect_eq(next_of("@daily", 1798761570LL), 1798761600LL);
    /* February 29th: from 2026-03-01 to 2028-02-29. */
    cr_expect_eq(next_of("0 0 29 2 *", 1772323200LL), 1835395200LL);
}

Test(cron, both_day_fields_restricted_fire_on_either_day)
{
    /* The 13th or a Friday at noon: Friday 2026-12-04 comes first. */
    cr_expect_eq(next_of("0 12 13 * 5", MON_2007), 1796385600LL);
    /* One of them starting with "*": both must hold; every day of the
     * week matches, so the 13th: Sunday 2026-12-13. */
    long long t = next_of("0 12 13 * */1", MON_2007);
    cr_expect_eq(t, 1796385600LL + 9 * 86400, "Sunday 2026-12-13 12:00");
}

Test(cron, malformed_expressions_name_their_field)
{
    static const char *const bad[] = {
        "61 * * * *",  "* * * *",   "* * * * * *",  "*/0 * * * *",
        "5-1 * * * *", "@reboot",   "* 24 * * *",   "* * 0 * *",
        "* * * 13 *",  "* * * * 8", "1,,2 * * * *", "x * * * *",
        "0 0 30 2 *",  "",          "0 0 31 4,6 *"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        au_cron_t c;
        au_error_t err = {0};
        cr_expect_eq(au_cron_parse(bad[i], &c, &err), AU_EINVAL, "\"%s\"",
                     bad[i]);
        cr_expect(strstr(err.msg, "cron"), "\"%s\": %s", bad[i], err.msg);
    }
    au_cron_t c;
    au_error_t err = {0};
    au_cron_parse("0 25 * * *", &c, &err);
    cr_expect(strstr(err.msg, "hour field \"25\""), "%s", err.msg);
    au_cron_parse("0 0 30 2 *", &c, &err);
    cr_expect(strstr(err.msg, "never fires"), "%s", err.msg);
}
