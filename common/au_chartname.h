/* au_chartname.h: what a Spotify chart file's name says about its chart.
 *
 * Recognised names (the download names of both Spotify chart sites):
 *   regional-<region>-<daily|weekly>-<YYYY-MM-DD>.csv
 *   regional-<region>-weekly-<YYYY-MM-DD>--<YYYY-MM-DD>.csv  (legacy weekly)
 *   regional-<region>-<daily|weekly>-latest.csv
 * <region> is "global" or a two-letter lower-case country code.
 *
 * The date of a legacy weekly range is its second date, the end of the
 * week: charts.spotify.com dates its weekly charts that way, so the two
 * sites' weeks land on the same key. The range must span exactly 7 days.
 * A "latest" file carries no date anywhere (not in the file either): the
 * caller must supply one, so AU_CHARTNAME_DATE stays unset. */
#ifndef AU_CHARTNAME_H
#define AU_CHARTNAME_H

#include "au_err.h"

#include <stddef.h>

/* Bits of au_chartname_t.known: which parts the name gave. */
enum {
    AU_CHARTNAME_PLATFORM = 1u << 0,
    AU_CHARTNAME_CHART = 1u << 1,
    AU_CHARTNAME_REGION = 1u << 2,
    AU_CHARTNAME_DATE = 1u << 3,
    AU_CHARTNAME_ALL = 0xFu
};

typedef struct {
    unsigned known;      /* AU_CHARTNAME_* bits of the parts filled in */
    char platform[8];    /* "spotify" */
    char chart[8];       /* "daily" or "weekly" */
    char region[8];      /* "global", "us", ... */
    char date[11];       /* YYYY-MM-DD, "" unless AU_CHARTNAME_DATE */
    char week_start[11]; /* first date of a legacy weekly range, else "" */
} au_chartname_t;

/* Infers the chart from a file name (a path is fine: only the last
 * component is read). 0 when the name is one of the patterns above, with
 * out->known telling which parts were inferred; AU_EPARSE with err naming
 * the reason (unknown chart kind, impossible date, ...) otherwise, and
 * out->known == 0, so the caller must demand every part by flags. */
int au_chartname_parse(const char *file_name, au_chartname_t *out,
                       au_error_t *err);

/* 1 when s[0..len) is a real calendar date written YYYY-MM-DD (year 1000
 * to 9999, leap years honoured), else 0. For checking a caller's flag. */
int au_chartname_valid_date(const char *s, size_t len);

#endif
