/* fuzz_chartname.c: libFuzzer target for au_chartname_parse.
 *
 * The bytes, cut at the first NUL, are a file name (or a path). A name the
 * parser accepts must yield parts the rest of ingest can trust: a real
 * calendar date when it claims one, terminated strings, and a week range
 * that ends on the chart date. A rejected name must leave nothing known. */
#include "au_chartname.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, const char *name)
{
    fprintf(stderr, "fuzz_chartname: %s for \"%s\"\n", what, name);
    abort();
}

static int fz_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void fz_check(const au_chartname_t *cn, const char *name)
{
    const unsigned base =
        AU_CHARTNAME_PLATFORM | AU_CHARTNAME_CHART | AU_CHARTNAME_REGION;
    if ((cn->known & base) != base || (cn->known & ~AU_CHARTNAME_ALL))
        fz_fail("unexpected known bits", name);
    if (!fz_terminated(cn->platform, sizeof(cn->platform)) ||
        !fz_terminated(cn->chart, sizeof(cn->chart)) ||
        !fz_terminated(cn->region, sizeof(cn->region)) ||
        !fz_terminated(cn->date, sizeof(cn->date)) ||
        !fz_terminated(cn->week_start, sizeof(cn->week_start)))
        fz_fail("unterminated part", name);
    if (strcmp(cn->chart, "daily") != 0 && strcmp(cn->chart, "weekly") != 0)
        fz_fail("chart is neither daily nor weekly", name);
    if (!cn->region[0])
        fz_fail("empty region", name);
    if (cn->known & AU_CHARTNAME_DATE) {
        if (!au_chartname_valid_date(cn->date, strlen(cn->date)))
            fz_fail("known date is not a valid date", name);
    } else if (cn->date[0] || cn->week_start[0]) {
        fz_fail("date filled in but not known", name);
    }
    if (cn->week_start[0] &&
        !au_chartname_valid_date(cn->week_start, strlen(cn->week_start)))
        fz_fail("week start is not a valid date", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    au_chartname_t cn;
    au_error_t err;
    char *name = malloc(size + 1);
    if (!name)
        return 0;
    memcpy(name, data, size);
    name[size] = '\0';
    memset(&err, 0, sizeof(err));
    int rc = au_chartname_parse(name, &cn, &err);
    if (rc == 0) {
        fz_check(&cn, name);
    } else {
        if (rc != AU_EPARSE || err.code != rc)
            fz_fail("failure is not AU_EPARSE in err", name);
        if (cn.known != 0)
            fz_fail("failure leaves parts known", name);
    }
    free(name);
    return 0;
}
