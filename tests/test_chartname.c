/* test_chartname.c: what a chart file's name says about its chart, on
 * every real file name and on hand-made ones. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "au_chartname.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

static long named;

static int name_one(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    (void)st;
    if (flag != FTW_F || n < 4 || strcmp(base + n - 4, ".csv") != 0)
        return 0;
    au_chartname_t cn;
    au_error_t err = {0};
    cr_assert_eq(au_chartname_parse(path, &cn, &err), 0, "%s", err.msg);
    unsigned known = strstr(base, "latest")
                         ? AU_CHARTNAME_ALL & ~AU_CHARTNAME_DATE
                         : AU_CHARTNAME_ALL;
    cr_assert_eq(cn.known, known, "%s", base);
    named++;
    return 0;
}

Test(chartname, every_real_file_name_is_inferred)
{
    char root[1024];
    snprintf(root, sizeof(root), "%s/spotify_charts", au_test_fixtures());
    cr_assert_eq(nftw(root, name_one, 16, FTW_PHYS), 0, "walk %s", root);
    cr_assert_eq(named, 135);
}

/* ---- file names ---------------------------------------------------- */

#define ALL AU_CHARTNAME_ALL

static void name_ok(const char *name, unsigned known, const char *chart,
                    const char *region, const char *date,
                    const char *week_start)
{
    au_chartname_t cn;
    au_error_t err = {0};
    cr_assert_eq(au_chartname_parse(name, &cn, &err), 0, "%s: %s", name,
                 err.msg);
    cr_assert_eq(cn.known, known, "%s", name);
    cr_assert_str_eq(cn.platform, "spotify");
    cr_assert_str_eq(cn.chart, chart);
    cr_assert_str_eq(cn.region, region);
    cr_assert_str_eq(cn.date, date);
    cr_assert_str_eq(cn.week_start, week_start);
}

static void name_bad(const char *name, const char *reason)
{
    au_chartname_t cn;
    au_error_t err = {0};
    cr_assert_eq(au_chartname_parse(name, &cn, &err), AU_EPARSE, "%s", name);
    cr_assert_eq(cn.known, 0u);
    cr_assert(strstr(err.msg, reason), "%s: %s (no \"%s\")", name, err.msg,
              reason);
}

Test(chartname, every_file_name_pattern_is_inferred)
{
    name_ok("regional-us-daily-latest.csv",
            AU_CHARTNAME_ALL & ~AU_CHARTNAME_DATE, "daily", "us", "", "");
    name_ok("some/dir/regional-global-daily-2020-02-01.csv", AU_CHARTNAME_ALL,
            "daily", "global", "2020-02-01", "");
    name_ok("regional-us-weekly-2019-04-05--2019-04-12.csv", AU_CHARTNAME_ALL,
            "weekly", "us", "2019-04-12", "2019-04-05");
    name_ok("regional-global-weekly-2017-12-29--2018-01-05.csv",
            AU_CHARTNAME_ALL, "weekly", "global", "2018-01-05", "2017-12-29");
    name_ok("regional-global-weekly-2023-01-05.csv", ALL, "weekly", "global",
            "2023-01-05", "");
    name_ok("regional-global-weekly-latest.csv",
            AU_CHARTNAME_ALL & ~AU_CHARTNAME_DATE, "weekly", "global", "", "");
    name_ok("regional-gb-daily-2020-02-29.csv", ALL, "daily", "gb",
            "2020-02-29", "");
}

Test(chartname, invalid_names_are_rejected_with_a_reason)
{
    name_bad("regional-us-daily-2019-02-30.csv", "not a valid date");
    name_bad("regional-us-daily-2019-02-29.csv", "not a valid date");
    name_bad("regional-us-daily-2019-13-01.csv", "not a valid date");
    name_bad("regional-us-monthly-2019-02-01.csv",
             "unknown chart kind \"monthly\"");
    name_bad("regional-usa-daily-2019-02-01.csv", "region");
    name_bad("regional-US-daily-2019-02-01.csv", "region");
    name_bad("regional-us-daily-2019-02-01.json", "not a chart file name");
    name_bad("top200.csv", "not a chart file name");
    name_bad("regional-us-daily.csv", "no date");
    name_bad("regional-us-daily-2019-2-1.csv", "expected YYYY-MM-DD");
    name_bad("regional-us-daily-2019-04-05--2019-04-12.csv",
             "needs a weekly chart");
    name_bad("regional-us-weekly-2019-04-05--2019-04-13.csv", "7 days");
    name_bad("regional-us-weekly-2019-04-12--2019-04-05.csv", "7 days");
    name_bad("regional-us-weekly-2019-04-05--2019-02-30.csv",
             "\"2019-02-30\" is not a valid date");
}

Test(chartname, dates_follow_leap_year_rules_from_year_1000)
{
    cr_assert(au_chartname_valid_date("2000-02-29", 10));
    cr_assert(au_chartname_valid_date("2024-02-29", 10));
    cr_assert_not(au_chartname_valid_date("2100-02-29", 10));
    cr_assert_not(au_chartname_valid_date("2023-02-29", 10));
    cr_assert(au_chartname_valid_date("2019-12-31", 10));
    cr_assert_not(au_chartname_valid_date("2019-04-31", 10));
    cr_assert_not(au_chartname_valid_date("2019-00-10", 10));
    cr_assert_not(au_chartname_valid_date("2019-01-00", 10));
    cr_assert_not(au_chartname_valid_date("2019-01-1x", 10));
    cr_assert_not(au_chartname_valid_date("2019-01-01", 9));
    cr_assert_not(au_chartname_valid_date("0999-12-31", 10));
    cr_assert(au_chartname_valid_date("1000-01-01", 10));
}
