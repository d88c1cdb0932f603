/* test_date.c: the one civil calendar, checked against itself over its
 * whole range and against known dates. */
#include "au_date.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(date, epoch_and_known_days)
{
    cr_assert_eq(au_date_from_ymd(1970, 1, 1), 0);
    cr_assert_eq(au_date_from_ymd(2000, 3, 1), 11017);
    cr_assert_eq(au_date_from_ymd(1969, 12, 31), -1);
    long d;
    cr_assert_eq(au_date_parse("2019-12-17", 10, &d), 0);
    cr_assert_eq(d, 18247);
}

Test(date, every_day_of_the_calendar_round_trips_in_order)
{
    long first = au_date_from_ymd(1, 1, 1),
         last = au_date_from_ymd(9999, 12, 31);
    char buf[AU_DATE_LEN + 1], prev[AU_DATE_LEN + 1] = "";
    for (long d = first; d <= last; d++) {
        cr_assert_eq(au_date_format(d, buf), 0, "day %ld", d);
        long back;
        cr_assert_eq(au_date_parse(buf, strlen(buf), &back), 0, "%s", buf);
        cr_assert_eq(back, d, "%s", buf);
        /* ISO dates sort as text, which the stores and queries rely on. */
        cr_assert_lt(strcmp(prev, buf), 0, "%s then %s", prev, buf);
        memcpy(prev, buf, sizeof(buf));
    }
}

Test(date, impossible_days_are_out_of_range)
{
    cr_assert_eq(au_date_parse("2019-02-29", 10, NULL), AU_ERANGE);
    cr_assert_eq(au_date_parse("2100-02-29", 10, NULL), AU_ERANGE);
    cr_assert_eq(au_date_parse("2000-02-29", 10, NULL), 0);
    cr_assert_eq(au_date_parse("2019-04-31", 10, NULL), AU_ERANGE);
    cr_assert_eq(au_date_parse("2019-13-01", 10, NULL), AU_ERANGE);
    cr_assert_eq(au_date_parse("2019-00-01", 10, NULL), AU_ERANGE);
    cr_assert_eq(au_date_parse("0000-01-01", 10, NULL), AU_ERANGE);
}

Test(date, malformed_text_is_a_parse_error)
{
    const char *bad[] = {"2019-1-01",  "2019/01/01", "2019-01-0x",
                         "20190101  ", "+019-01-01", "2019-01-01T"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(au_date_parse(bad[i], strlen(bad[i]), NULL), AU_EPARSE,
                     "%s", bad[i]);
    cr_assert_eq(au_date_parse("2019-01-01", 9, NULL), AU_EPARSE);
    cr_assert_eq(au_date_parse(NULL, 10, NULL), AU_EPARSE);
}

Test(date, format_refuses_years_outside_the_calendar)
{
    char buf[AU_DATE_LEN + 1];
    long last = au_date_from_ymd(9999, 12, 31);
    cr_assert_eq(au_date_format(last + 1, buf), AU_ERANGE);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(au_date_format(au_date_from_ymd(1, 1, 1) - 1, buf), AU_ERANGE);
}
