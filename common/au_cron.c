#include "au_cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* names for lo, lo+1, ...; NULL: none */
} field_t;

static const char *const months[] = {"jan", "feb", "mar", "apr", "may",
                                     "jun", "jul", "aug", "sep", "oct",
                                     "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed",
                                   "thu", "fri", "sat", NULL};

/* Day of week allows 7 (Sunday again); it folds onto 0 when set. */
static const field_t fields[5] = {{"minute", 0, 59, NULL},
                                  {"hour", 0, 23, NULL},
                                  {"day of month", 1, 31, NULL},
                                  {"month", 1, 12, months},
                                  {"day of week", 0, 7, days}};

static const struct {
    const char *alias, *expr;
} aliases[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
               {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
               {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
               {"@annually", "0 0 1 1 *"}};

/* A number or a name of f at *s, advancing *s: 0, or -1. */
static int value(const field_t *f, const char **s, int *out)
{
    const char *p = *s;
    if (*p >= '0' && *p <= '9') {
        int v = 0;
        while (*p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (*p++ - '0');
        if (v < f->lo || v > f->hi)
            return -1;
        *out = v;
        *s = p;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (!strncasecmp(p, f->names[i], 3)) {
            *out = f->lo + i;
            *s = p + 3;
            return 0;
        }
    return -1;
}

/* One comma-separated item of field f into *bits. */
static int item(const field_t *f, const char *s, const char *end,
                uint64_t *bits)
{
    int a = f->lo, b = f->hi, step = 1;
    if (*s == '*') {
        s++;
    } else {
        if (value(f, &s, &a) < 0)
            return -1;
        b = a;
        if (*s == '-') {
            s++;
            if (value(f, &s, &b) < 0 || b < a)
                return -1;
        } else if (*s == '/') {
            b = f->hi; /* A/S: from A to the end */
        }
    }
    if (*s == '/') {
        s++;
        step = 0;
        while (*s >= '0' && *s <= '9' && step <= f->hi)
            step = step * 10 + (*s++ - '0');
        if (step < 1 || step > f->hi - f->lo + 1)
            return -1;
    }
    if (s != end)
        return -1;
    for (int v = a; v <= b; v += step)
        *bits |= 1ULL << v;
    return 0;
}

static int field(const field_t *f, const char *s, size_t len, uint64_t *bits,
                 au_error_t *err)
{
    char buf[AU_CRON_MAX + 1];
    snprintf(buf, sizeof(buf), "%.*s", (int)len, s);
    *bits = 0;
    for (const char *p = buf;;) {
        const char *end = p + strcspn(p, ",");
        if (end == p || item(f, p, end, bits) < 0)
            return au_error_set(err, AU_EINVAL,
                                "cron %s field \"%s\": expected *, N, A-B, "
                                "*/S or A-B/S with values %d..%d%s, "
                                "comma-separated",
                                f->name, buf, f->lo, f->hi,
                                f->names ? " or their names" : "");
        if (!*end)
            return 0;
        p = end + 1;
    }
}

int au_cron_parse(const char *expr, au_cron_t *out, au_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!expr || strlen(expr) > AU_CRON_MAX)
        return au_error_set(err, AU_EINVAL, "cron: empty or over %d bytes",
                            AU_CRON_MAX);
    while (*expr == ' ')
        expr++;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (!strcasecmp(expr, aliases[i].alias))
            expr = aliases[i].expr;
    if (*expr == '@')
        return au_error_set(err, AU_EINVAL,
                            "cron \"%s\": not one of @hourly, @daily, "
                            "@midnight, @weekly, @monthly, @yearly, @annually",
                            expr);
    uint64_t bits[5];
    const char *p = expr;
    int n = 0;
    for (; n < 5; n++) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, " \t");
        if (len == 0)
            break;
        if (n == 2)
            out->mday_any = *p == '*';
        if (n == 4)
            out->wday_any = *p == '*';
        if (field(&fields[n], p, len, &bits[n], err) < 0)
            return err->code;
        p += len;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (n < 5 || *p)
        return au_error_set(err, AU_EINVAL,
                            "cron \"%s\": five fields (minute hour "
                            "day-of-month month day-of-week) or an @alias",
                            expr);
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->mday = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->wday = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
    /* 30 2 *, 31 4 *: a day no month of those has. */
    if (au_cron_next(out, 0) < 0)
        return au_error_set(err, AU_EINVAL, "cron \"%s\": never fires", expr);
    return 0;
}

static int day_ok(const au_cron_t *c, const struct tm *tm)
{
    int md = (c->mday >> tm->tm_mday) & 1, wd = (c->wday >> tm->tm_wday) & 1;
    if (c->mday_any || c->wday_any)
        return md && wd;
    return md || wd;
}

long long au_cron_next(const au_cron_t *c, long long after)
{
    long long t = (after / 60 + 1) * 60;
    long long limit = after + 8LL * 366 * 86400;
    while (t <= limit) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            t = (long long)timegm(&tm); /* normalises month 12 */
        } else if (!day_ok(c, &tm)) {
            t = t - t % 86400 + 86400;
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            t = t - t % 3600 + 3600;
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            t += 60;
        } else {
            return t;
        }
    }
    return -1;
}
