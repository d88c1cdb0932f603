#include "au_chartname.h"

#include "au_date.h"

#include <assert.h>
#include <string.h>

#define AU__CN_DATE_LEN 10
#define AU__CN_BAD_DATE "%s: \"%.10s\" is not a valid date"

/* Chart files exist from 2013 on; a year before 1000 in a file name is a
 * typo, not a chart. */
#define AU__CN_MIN_YEAR 1000

static int au__cn_split(const char *s, size_t len, long *days)
{
    return au_date_parse(s, len, days) == 0 &&
           au_date_year(*days) >= AU__CN_MIN_YEAR;
}

int au_chartname_valid_date(const char *s, size_t len)
{
    long days;
    assert(s);
    return au__cn_split(s, len, &days);
}

static int au__cn_region_ok(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "global", 6) == 0)
        return 1;
    return n == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z';
}

/* Fills date (and week_start) from the part after the chart kind. */
static int au__cn_date(const char *name, const char *s, size_t n,
                       au_chartname_t *out, au_error_t *err)
{
    long d1, d2;
    if (n == 6 && memcmp(s, "latest", 6) == 0)
        return 0;
    if (n == AU__CN_DATE_LEN) {
        if (!au__cn_split(s, n, &d1))
            return au_error_set(err, AU_EPARSE, AU__CN_BAD_DATE, name, s);
        memcpy(out->date, s, n);
        out->date[n] = '\0';
        out->known |= AU_CHARTNAME_DATE;
        return 0;
    }
    if (n != 2 * AU__CN_DATE_LEN + 2 || memcmp(s + 10, "--", 2) != 0)
        return au_error_set(err, AU_EPARSE,
                            "%s: expected YYYY-MM-DD, YYYY-MM-DD--YYYY-MM-DD"
                            " or latest after the chart kind",
                            name);
    if (strcmp(out->chart, "weekly") != 0)
        return au_error_set(err, AU_EPARSE,
                            "%s: a date range needs a weekly chart", name);
    if (!au__cn_split(s, AU__CN_DATE_LEN, &d1))
        return au_error_set(err, AU_EPARSE, AU__CN_BAD_DATE, name, s);
    if (!au__cn_split(s + 12, AU__CN_DATE_LEN, &d2))
        return au_error_set(err, AU_EPARSE, AU__CN_BAD_DATE, name, s + 12);
    if (d2 - d1 != 7)
        return au_error_set(err, AU_EPARSE,
                            "%s: a weekly range must span 7 days", name);
    memcpy(out->week_start, s, AU__CN_DATE_LEN);
    out->week_start[AU__CN_DATE_LEN] = '\0';
    memcpy(out->date, s + 12, AU__CN_DATE_LEN);
    out->date[AU__CN_DATE_LEN] = '\0';
    out->known |= AU_CHARTNAME_DATE;
    return 0;
}

static int au__cn_parse(const char *name, au_chartname_t *out, au_error_t *err)
{
    static const char prefix[] = "regional-";
    static const char ext[] = ".csv";
    size_t len = strlen(name);
    size_t plen = sizeof(prefix) - 1, elen = sizeof(ext) - 1;
    if (len < plen + elen || strncmp(name, prefix, plen) != 0 ||
        strcmp(name + len - elen, ext) != 0)
        return au_error_set(err, AU_EPARSE,
                            "%s: not a chart file name "
                            "(regional-<region>-<daily|weekly>-<date>.csv)",
                            name);
    const char *s = name + plen;
    const char *end = name + len - elen;
    const char *dash = memchr(s, '-', (size_t)(end - s));
    if (!dash || !au__cn_region_ok(s, (size_t)(dash - s)))
        return au_error_set(err, AU_EPARSE,
                            "%s: region must be \"global\" or a two-letter "
                            "country code",
                            name);
    memcpy(out->region, s, (size_t)(dash - s));
    s = dash + 1;
    dash = memchr(s, '-', (size_t)(end - s));
    size_t klen = dash ? (size_t)(dash - s) : (size_t)(end - s);
    if (klen == 5 && memcmp(s, "daily", 5) == 0)
        memcpy(out->chart, "daily", 6);
    else if (klen == 6 && memcmp(s, "weekly", 6) == 0)
        memcpy(out->chart, "weekly", 7);
    else
        return au_error_set(err, AU_EPARSE,
                            "%s: unknown chart kind \"%.*s\" (daily or "
                            "weekly)",
                            name, klen > 16 ? 16 : (int)klen, s);
    if (!dash)
        return au_error_set(err, AU_EPARSE, "%s: no date after the chart kind",
                            name);
    memcpy(out->platform, "spotify", 8);
    out->known =
        AU_CHARTNAME_PLATFORM | AU_CHARTNAME_CHART | AU_CHARTNAME_REGION;
    return au__cn_date(name, dash + 1, (size_t)(end - dash - 1), out, err);
}

int au_chartname_parse(const char *file_name, au_chartname_t *out,
                       au_error_t *err)
{
    assert(file_name && out);
    const char *slash = strrchr(file_name, '/');
    const char *name = slash ? slash + 1 : file_name;
    memset(out, 0, sizeof(*out));
    int r = au__cn_parse(name, out, err);
    if (r < 0)
        memset(out, 0, sizeof(*out));
    return r;
}
