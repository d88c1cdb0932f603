#include "au_date.h"

/* Days from civil and back: the era/year-of-era decomposition, which is
 * exact for every proleptic Gregorian date and needs no tables. */

int au_date_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int au_date_days_in_month(int y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    return mdays[m - 1] + (m == 2 && au_date_is_leap(y));
}

long au_date_from_ymd(int year, int month, int day)
{
    long y = (long)year - (month <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void au_date_to_ymd(long days, int *year, int *month, int *day)
{
    long z = days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long m = mp + (mp < 10 ? 3 : -9);
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)m;
    *year = (int)(yoe + era * 400 + (m <= 2));
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int au_date_parse(const char *s, size_t len, long *days)
{
    int y, m, d;
    if (!s || len != AU_DATE_LEN || s[4] != '-' || s[7] != '-' ||
        !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
        return AU_EPARSE;
    if (y < AU_DATE_MIN_YEAR || d < 1 || d > au_date_days_in_month(y, m))
        return AU_ERANGE;
    if (days)
        *days = au_date_from_ymd(y, m, d);
    return 0;
}

int au_date_format(long days, char *out)
{
    int y, m, d;
    au_date_to_ymd(days, &y, &m, &d);
    out[0] = '\0';
    if (y < AU_DATE_MIN_YEAR || y > AU_DATE_MAX_YEAR)
        return AU_ERANGE;
    /* Each field is in range, so the 10 characters always fit. */
    char *p = out;
    int parts[3] = {y, m, d}, width[3] = {4, 2, 2};
    for (int k = 0; k < 3; k++) {
        for (int i = width[k] - 1; i >= 0; i--) {
            p[i] = (char)('0' + parts[k] % 10);
            parts[k] /= 10;
        }
        p += width[k];
        *p++ = k < 2 ? '-' : '\0';
    }
    return 0;
}

int au_date_year(long days)
{
    int y, m, d;
    au_date_to_ymd(days, &y, &m, &d);
    return y;
}
