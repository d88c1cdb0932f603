/* fuzz_csv.c: libFuzzer target for the chart CSV reader.
 *
 * The bytes are a whole file, read through au_csv_new_fp on a memory
 * stream to the end or the first error. Every row handed out must keep
 * the promises of au_csv.h, and every error must name the file, since an
 * operator reading the log has nothing else to go on. */
#include "au_csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NAME "fuzz.csv"
#define FZ_ID_LEN 22

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, long line)
{
    fprintf(stderr, "fuzz_csv: %s (line %ld)\n", what, line);
    abort();
}

static void fz_check_error(const au_error_t *err, int rc)
{
    static const char prefix[] = FZ_NAME ":";
    if (rc >= 0 || err->code != rc)
        fz_fail("error code not set in err", 0);
    if (strncmp(err->msg, prefix, sizeof(prefix) - 1) != 0) {
        fprintf(stderr, "fuzz_csv: message \"%s\"\n", err->msg);
        fz_fail("error message does not start with the file name", 0);
    }
}

static int fz_is_base62(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 0;
    }
    return 1;
}

static void fz_check_row(const au_chart_row_t *row, int32_t prev_pos,
                         long prev_line)
{
    if (row->position < 1 || row->position <= prev_pos)
        fz_fail("position not strictly increasing from 1", row->line);
    if (row->line <= prev_line)
        fz_fail("line not increasing", row->line);
    if (row->streams < 0)
        fz_fail("negative streams", row->line);
    if (!row->track_name || !*row->track_name)
        fz_fail("empty track name", row->line);
    if (!row->artist || !*row->artist)
        fz_fail("empty artist", row->line);
    if (!row->track_id || strlen(row->track_id) != FZ_ID_LEN ||
        !fz_is_base62(row->track_id))
        fz_fail("track id is not 22 base62 characters", row->line);
}

static void fz_read_all(au_csv_t *csv)
{
    au_chart_row_t row;
    au_error_t err;
    memset(&err, 0, sizeof(err));
    int32_t prev_pos = 0;
    long prev_line = 0;
    int rc;

    au_csv_layout_t layout = au_csv_layout(csv);
    if (layout != AU_CSV_LEGACY && layout != AU_CSV_CHARTS)
        fz_fail("unknown layout after a good header", 0);
    while ((rc = au_csv_next(csv, &row, &err)) == 1) {
        fz_check_row(&row, prev_pos, prev_line);
        prev_pos = row.position;
        prev_line = row.line;
    }
    if (rc == 0)
        return;
    fz_check_error(&err, rc);
    /* A failed reader must stay failed rather than resume mid-file. */
    au_error_t again;
    memset(&again, 0, sizeof(again));
    if (au_csv_next(csv, &row, &again) != rc)
        fz_fail("reader did not stay failed", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    au_error_t err;
    memset(&err, 0, sizeof(err));
    /* fmemopen wants a non-empty, writable buffer; a private copy also
     * lets ASan see any read past the end. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    FILE *fp = size ? fmemopen(copy, size, "r") : fopen("/dev/null", "r");
    if (!fp) {
        free(copy);
        return 0;
    }
    au_csv_t *csv = au_csv_new_fp(fp, FZ_NAME, &err);
    if (csv)
        fz_read_all(csv);
    else
        fz_check_error(&err, err.code);
    au_csv_destroy(&csv);
    fclose(fp);
    free(copy);
    return 0;
}
