/* au_date.h: the civil calendar (proleptic Gregorian), counted in days
 * since 1970-01-01. One implementation for the whole tree: the wire
 * format's date check, file-name inference, the scorers' time axis and
 * the predicted peak date all use it. Pure: no clock, no locale, no I/O. */
#ifndef AU_DATE_H
#define AU_DATE_H

#include <stddef.h>

#include "au_err.h"

#define AU_DATE_LEN 10 /* "YYYY-MM-DD" */
#define AU_DATE_MIN_YEAR 1
#define AU_DATE_MAX_YEAR 9999
#define AU_DATE_DAY_S 86400.0 /* seconds in a civil day */

/* 1 for a Gregorian leap year. */
int au_date_is_leap(int year);
/* Days in month 1..12 of year; 0 for a month out of range. */
int au_date_days_in_month(int year, int month);
/* Days since 1970-01-01 of a date; the fields must be a real date. */
long au_date_from_ymd(int year, int month, int day);
/* The date `days` after 1970-01-01. */
void au_date_to_ymd(long days, int *year, int *month, int *day);

/* Parses exactly len bytes "YYYY-MM-DD" of a real calendar date with the
 * year in AU_DATE_MIN_YEAR..AU_DATE_MAX_YEAR into days since 1970-01-01
 * (days may be NULL to only check). 0, or AU_EPARSE (not of that form) /
 * AU_ERANGE (no such day, e.g. 2019-02-29). */
int au_date_parse(const char *s, size_t len, long *days);
/* Writes "YYYY-MM-DD" and a NUL into out[AU_DATE_LEN + 1]. AU_ERANGE
 * (out set to "") when the year falls outside 1..9999, so a date pushed to
 * the edge of the calendar is refused rather than wrapped. */
int au_date_format(long days, char *out);
/* Year of a date given in days since 1970-01-01. */
int au_date_year(long days);

#endif
