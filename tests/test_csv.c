/* test_csv.c: the Spotify chart CSV reader, against all real chart exports
 * and small inline inputs. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "au_csv.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "au_fixture_counts.h"

#define LEGACY_HDR "Position,\"Track Name\",Artist,Streams,URL\n"
#define CHARTS_COLS1 "rank,uri,artist_names,track_name,source,peak_rank,"
#define CHARTS_COLS2 "previous_rank,weeks_on_chart,streams"
#define CHARTS_HDR "\xEF\xBB\xBF" CHARTS_COLS1 CHARTS_COLS2 "\r\n"
#define URL "https://open.spotify.com/track/"
#define ID1 "6u7jPi22kF8CTQ3rb9DHE7"
#define ID2 "53CJANUxooaqGOtdsBTh7O"
#define ID21 "6u7jPi22kF8CTQ3rb9DHE" /* one character short */

/* A stream over a fresh temp file holding data[0..len), already unlinked
 * so nothing is left behind. */
static FILE *tmp_stream(const void *data, size_t len)
{
    const char *dir = getenv("AUDORA_TEST_TMP");
    char path[512];
    snprintf(path, sizeof(path), "%s/au_csv_XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp %s", path);
    unlink(path);
    FILE *fp = fdopen(fd, "w+b");
    cr_assert(fp);
    cr_assert_eq(fwrite(data, 1, len, fp), len);
    rewind(fp);
    return fp;
}

/* Reads a whole input named "t.csv": 0 after a clean end of file, else the
 * error code, with the rows returned before it counted in *rows. */
static int parse_mem(const void *data, size_t len, long *rows, au_error_t *err)
{
    FILE *fp = tmp_stream(data, len);
    au_chart_row_t row;
    int r;
    *rows = 0;
    memset(err, 0, sizeof(*err));
    au_csv_t *p = au_csv_new_fp(fp, "t.csv", err);
    if (!p) {
        fclose(fp);
        cr_assert(err->code < 0, "NULL reader without an error code");
        return err->code;
    }
    while ((r = au_csv_next(p, &row, err)) == 1)
        (*rows)++;
    au_csv_destroy(&p);
    cr_assert_null(p);
    fclose(fp);
    return r;
}

static int parse_str(const char *s, long *rows, au_error_t *err)
{
    return parse_mem(s, strlen(s), rows, err);
}

/* Asserts that s fails with code and a message that starts with prefix
 * (which names the file and line). */
static void expect_error(const char *s, int code, const char *prefix)
{
    long rows;
    au_error_t err;
    int r = parse_str(s, &rows, &err);
    cr_assert_eq(r, code, "got %s (%s) for:\n%s", au_err_name(r), err.msg, s);
    cr_assert_eq(err.code, code);
    cr_assert(strncmp(err.msg, prefix, strlen(prefix)) == 0,
              "message \"%s\" does not start with \"%s\"", err.msg, prefix);
}

static char *fixture_path(const char *rel)
{
    static char b[1024];
    snprintf(b, sizeof(b), "%s/spotify_charts/%s", au_test_fixtures(), rel);
    return b;
}

/* Row n of a fixture file, its strings copied out of the reader. */
typedef struct {
    au_chart_row_t row;
    char name[256], artist[256], id[32];
} saved_row_t;

static void read_row(const char *rel, int n, saved_row_t *out)
{
    au_error_t err;
    au_csv_t *p = au_csv_new(fixture_path(rel), &err);
    cr_assert_not_null(p, "%s", err.msg);
    for (int i = 0; i < n; i++)
        cr_assert_eq(au_csv_next(p, &out->row, &err), 1, "%s", err.msg);
    snprintf(out->name, sizeof(out->name), "%s", out->row.track_name);
    snprintf(out->artist, sizeof(out->artist), "%s", out->row.artist);
    snprintf(out->id, sizeof(out->id), "%s", out->row.track_id);
    out->row.track_name = out->name;
    out->row.artist = out->artist;
    out->row.track_id = out->id;
    au_csv_destroy(&p);
}

#define LEGACY_US "spotifycharts_legacy/us_weekly_2019/"
#define LEGACY_GW "spotifycharts_legacy/global_weekly_2017_2018/"
#define LEGACY_GD "spotifycharts_legacy/global_daily_monthly_2017_2020/"
#define LEGACY_D "spotifycharts_legacy/daily_2019-12-17_60_regions/"
#define CHARTS "charts_spotify_com/global_weekly_2022_2023/"
#define US_0405 LEGACY_US "regional-us-weekly-2019-04-05--2019-04-12.csv"

/* ---- every real file --------------------------------------------------- */

static int walk_seen[N_EXPECTED];
static long walk_files, walk_rows;

static int walk_one(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    (void)st;
    if (flag != FTW_F || n < 4 || strcmp(base + n - 4, ".csv") != 0)
        return 0;
    size_t i = 0;
    while (i < N_EXPECTED && strcmp(expected_rows[i].file, base) != 0)
        i++;
    cr_assert(i < N_EXPECTED, "%s is not listed in SOURCES.md", base);
    cr_assert_eq(walk_seen[i], 0, "%s seen twice", base);
    walk_seen[i] = 1;

    au_error_t err;
    au_csv_t *p = au_csv_new(path, &err);
    cr_assert_not_null(p, "%s", err.msg);
    au_csv_layout_t want =
        strstr(path, "/charts_spotify_com/") ? AU_CSV_CHARTS : AU_CSV_LEGACY;
    cr_assert_eq(au_csv_layout(p), want, "%s", base);
    au_chart_row_t row;
    long rows = 0;
    int32_t last = 0;
    int r;
    while ((r = au_csv_next(p, &row, &err)) == 1) {
        rows++;
        cr_assert_gt(row.position, last);
        cr_assert_eq(strlen(row.track_id), 22);
        cr_assert_geq(row.streams, 0);
        last = row.position;
    }
    cr_assert_eq(r, 0, "%s", err.msg);
    cr_assert_eq(au_csv_next(p, &row, &err), 0, "end of file is sticky");
    au_csv_destroy(&p);
    cr_assert_eq(rows, expected_rows[i].rows, "%s: %ld rows, SOURCES.md %ld",
                 base, rows, expected_rows[i].rows);
    walk_files++;
    walk_rows += rows;
    return 0;
}

Test(csv, every_fixture_file_has_the_row_count_of_sources_md)
{
    char root[1024];
    snprintf(root, sizeof(root), "%s/spotify_charts", au_test_fixtures());
    cr_assert_eq(nftw(root, walk_one, 16, FTW_PHYS), 0, "walk %s", root);
    for (size_t i = 0; i < N_EXPECTED; i++)
        cr_assert(walk_seen[i], "%s not found", expected_rows[i].file);
    cr_assert_eq(walk_files, 135);
    cr_assert_eq(walk_rows, 26222);
}

/* ---- the long chart histories (chart_history/MANIFEST.tsv) -------------- */

#define HIST_FIELDS 9 /* folder, file, bytes, rows, ..., missing_ranks */

/* Splits one manifest line in place at its tabs; the count of fields. */
static int manifest_fields(char *line, char **f)
{
    int n = 0;
    for (char *p = line; n < HIST_FIELDS; n++) {
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            return n + 1;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* 1 when rank r of 1..200 is in the manifest's space-separated list. */
static int listed(const char *ranks, long r)
{
    char *end;
    for (const char *p = ranks; *p;) {
        long v = strtol(p, &end, 10);
        cr_assert(end != p, "bad missing_ranks \"%s\"", ranks);
        if (v == r)
            return 1;
        p = end + strspn(end, " ");
    }
    return 0;
}

/* Reads one chart_history file: its layout, that it has no byte order
 * mark when it is a charts.spotify.com export, its rows and which of the
 * ranks 1..200 it skips. */
static long read_history_file(const char *path, int charts, const char *missing)
{
    size_t len;
    char *data = au_test_read_file(path, &len);
    cr_assert(len > 3);
    if (charts)
        cr_assert(memcmp(data, "rank,uri,", 9) == 0, "%s starts with a BOM",
                  path);
    free(data);
    au_error_t err;
    au_csv_t *p = au_csv_new(path, &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_eq(au_csv_layout(p), charts ? AU_CSV_CHARTS : AU_CSV_LEGACY);
    au_chart_row_t row;
    long rows = 0, expect = 1;
    int r;
    while ((r = au_csv_next(p, &row, &err)) == 1) {
        while (listed(missing, expect))
            expect++;
        cr_assert_eq(row.position, expect, "%s: rank %ld", path, expect);
        expect++;
        rows++;
    }
    cr_assert_eq(r, 0, "%s", err.msg);
    au_csv_destroy(&p);
    return rows;
}

Test(csv, every_chart_history_file_has_the_rows_of_manifest_tsv)
{
    char path[1024], *f[HIST_FIELDS];
    snprintf(path, sizeof(path), "%s/chart_history/MANIFEST.tsv",
             au_test_fixtures());
    size_t len;
    char *text = au_test_read_file(path, &len);
    long files = 0, rows = 0, charts_files = 0;
    char *line = strchr(text, '\n');
    cr_assert_not_null(line, "%s has no header line", path);
    line++;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cr_assert_eq(manifest_fields(line, f), HIST_FIELDS, "%s", line);
        int charts = strstr(f[0], "charts_spotify_com") != NULL;
        snprintf(path, sizeof(path), "%s/chart_history/%s/%s",
                 au_test_fixtures(), f[0], f[1]);
        long want = strtol(f[3], NULL, 10), got;
        got = read_history_file(path, charts, f[8]);
        cr_assert_eq(got, want, "%s: %ld rows, MANIFEST.tsv %ld", f[1], got,
                     want);
        files++;
        rows += got;
        charts_files += charts;
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    /* SOURCES.md: 417 Brazil files (charts.spotify.com, no BOM), 52 US
     * and 58 global (legacy with the preface line); 105,370 rows. */
    cr_assert_eq(files, 527);
    cr_assert_eq(charts_files, 417);
    cr_assert_eq(rows, 105370);
}

/* ---- literal rows of real files ---------------------------------------- */

Test(csv, legacy_first_row_is_read_literally)
{
    saved_row_t sr;
    const au_chart_row_t *r = &sr.row;
    read_row(US_0405, 1, &sr);
    cr_assert_eq(r->position, 1);
    cr_assert_str_eq(r->track_name,
                     "Old Town Road (feat. Billy Ray Cyrus) - Remix");
    cr_assert_str_eq(r->artist, "Lil Nas X");
    cr_assert_eq(r->streams, 20673623);
    cr_assert_str_eq(r->track_id, "6u7jPi22kF8CTQ3rb9DHE7");
    cr_assert_eq(r->line, 2);
}

Test(csv, preface_line_is_skipped_before_the_legacy_header)
{
    saved_row_t sr;
    const au_chart_row_t *r = &sr.row;
    read_row(LEGACY_GW "regional-global-weekly-2017-06-30--2017-07-07.csv", 1,
             &sr);
    cr_assert_eq(r->position, 1);
    cr_assert_str_eq(r->track_name, "Despacito - Remix");
    cr_assert_str_eq(r->artist, "Luis Fonsi");
    cr_assert_eq(r->streams, 41954303);
    cr_assert_str_eq(r->track_id, "5CtI0qwDJkDQGwXD1H1cLb");
    cr_assert_eq(r->line, 3);
}

Test(csv, doubled_quotes_in_a_real_title_become_single_quotes)
{
    saved_row_t sr;
    const au_chart_row_t *r = &sr.row;
    read_row(LEGACY_GD "regional-global-daily-2017-01-01.csv", 12, &sr);
    cr_assert_eq(r->position, 12);
    cr_assert_eq(r->line, 14);
    cr_assert_str_eq(r->track_name,
                     "I Don\xE2\x80\x99t Wanna Live Forever (Fifty Shades "
                     "Darker) - From \"Fifty Shades Darker (Original Motion "
                     "Picture Soundtrack)\"");
    cr_assert_str_eq(r->artist, "ZAYN");
    cr_assert_eq(r->streams, 1857252);
    cr_assert_str_eq(r->track_id, "3NdDpSvN911VPGivFlV5d0");
}

Test(csv, japanese_and_thai_titles_are_returned_as_utf8)
{
    saved_row_t sr;
    const au_chart_row_t *r = &sr.row;
    read_row(LEGACY_D "regional-jp-daily-latest.csv", 3, &sr);
    cr_assert_eq(r->position, 3);
    cr_assert_str_eq(r->track_name, "\xE5\xAE\xBF\xE5\x91\xBD"); /* 宿命 */
    cr_assert_str_eq(r->artist, "Official HIGE DANdism");
    cr_assert_eq(r->streams, 108334);
    cr_assert_str_eq(r->track_id, "2yozZfRYHP7Elsymghu5t3");

    read_row(LEGACY_D "regional-th-daily-latest.csv", 2, &sr);
    cr_assert_eq(r->position, 2);
    /* ฝนตกไหม */
    cr_assert_str_eq(r->track_name, "\xE0\xB8\x9D\xE0\xB8\x99\xE0\xB8\x95"
                                    "\xE0\xB8\x81\xE0\xB9\x84\xE0\xB8\xAB"
                                    "\xE0\xB8\xA1");
    cr_assert_str_eq(r->artist, "Three Man Down");
    cr_assert_eq(r->streams, 48566);
    cr_assert_str_eq(r->track_id, "1ccwCCS7YSclzYibpK0DS4");
}

Test(csv, charts_layout_row_keeps_comma_joined_artists)
{
    saved_row_t sr;
    const au_chart_row_t *r = &sr.row;
    read_row(CHARTS "regional-global-weekly-2023-01-05.csv", 2, &sr);
    cr_assert_eq(r->position, 2);
    cr_assert_eq(r->line, 3);
    cr_assert_str_eq(r->track_name, "Unholy (feat. Kim Petras)");
    cr_assert_str_eq(r->artist, "Sam Smith, Kim Petras");
    cr_assert_eq(r->streams, 33132175);
    cr_assert_str_eq(r->track_id, "3nqQXoyQOWXiESFLlDF1hG");
}

/* Positions of a fixture file as a bitmap over 1..200. */
static void positions(const char *rel, unsigned char seen[201])
{
    au_error_t err;
    au_chart_row_t r;
    int rc;
    memset(seen, 0, 201);
    au_csv_t *p = au_csv_new(fixture_path(rel), &err);
    cr_assert_not_null(p, "%s", err.msg);
    while ((rc = au_csv_next(p, &r, &err)) == 1) {
        cr_assert(r.position >= 1 && r.position <= 200);
        seen[r.position] = 1;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    au_csv_destroy(&p);
}

Test(csv, charts_with_skipped_ranks_keep_the_gaps)
{
    unsigned char seen[201];
    positions(CHARTS "regional-global-weekly-2023-01-05.csv", seen);
    for (int i = 1; i <= 200; i++)
        cr_assert_eq(seen[i], i != 142, "rank %d", i);
    positions(CHARTS "regional-global-weekly-2023-03-09.csv", seen);
    for (int i = 1; i <= 200; i++)
        cr_assert_eq(seen[i], i != 119 && i != 163, "rank %d", i);
}

/* ---- quirks with inline inputs ----------------------------------------- */

Test(csv, lf_crlf_and_missing_final_newline_give_the_same_rows)
{
    const char *inputs[] = {
        "Position,\"Track Name\",Artist,Streams,URL\n"
        "1,A,B,10," URL ID1 "\n2,C,D,5," URL ID2 "\n",
        "Position,\"Track Name\",Artist,Streams,URL\r\n"
        "1,A,B,10," URL ID1 "\r\n2,C,D,5," URL ID2 "\r\n",
        "Position,\"Track Name\",Artist,Streams,URL\n"
        "1,A,B,10," URL ID1 "\n2,C,D,5," URL ID2,
        "Position,\"Track Name\",Artist,Streams,URL\r\n"
        "1,A,B,10," URL ID1 "\r\n2,C,D,5," URL ID2 "\r",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        FILE *fp = tmp_stream(inputs[i], strlen(inputs[i]));
        au_error_t err;
        au_chart_row_t r;
        au_csv_t *p = au_csv_new_fp(fp, "t.csv", &err);
        cr_assert_not_null(p, "input %zu: %s", i, err.msg);
        cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
        cr_assert_str_eq(r.track_name, "A");
        cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
        cr_assert_eq(r.position, 2);
        cr_assert_str_eq(r.artist, "D");
        cr_assert_eq(r.streams, 5);
        cr_assert_str_eq(r.track_id, ID2);
        cr_assert_eq(r.line, 3);
        cr_assert_eq(au_csv_next(p, &r, &err), 0, "input %zu: %s", i, err.msg);
        au_csv_destroy(&p);
        fclose(fp);
    }
}

Test(csv, quoting_is_optional_and_protects_commas_and_quotes)
{
    const char *s =
        "\"Position\",Track Name,\"Artist\",\"Streams\",URL\n"
        "\"1\",\"Hello, World\",\"Say \"\"Hi\"\"\",\"42\",\"" URL ID1 "\"\n"
        "2,\"\"\"\",\"a,b,c\",0," URL ID2 "\n";
    FILE *fp = tmp_stream(s, strlen(s));
    au_error_t err;
    au_chart_row_t r;
    au_csv_t *p = au_csv_new_fp(fp, "t.csv", &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
    cr_assert_str_eq(r.track_name, "Hello, World");
    cr_assert_str_eq(r.artist, "Say \"Hi\"");
    cr_assert_eq(r.streams, 42);
    cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
    cr_assert_str_eq(r.track_name, "\"");
    cr_assert_str_eq(r.artist, "a,b,c");
    cr_assert_eq(r.streams, 0);
    cr_assert_eq(au_csv_next(p, &r, &err), 0, "%s", err.msg);
    au_csv_destroy(&p);
    fclose(fp);
}

Test(csv, preface_line_is_accepted_on_inline_input)
{
    long rows;
    au_error_t err;
    const char *s = ",,,\"Note that these figures are generated using a "
                    "formula that protects against any artificial inflation "
                    "of chart positions.\",\n"
                    "Position,\"Track Name\",Artist,Streams,URL\n"
                    "1,A,B,10," URL ID1 "\n";
    cr_assert_eq(parse_str(s, &rows, &err), 0, "%s", err.msg);
    cr_assert_eq(rows, 1);
}

Test(csv, charts_layout_with_bom_and_crlf_is_detected)
{
    char s[1024];
    snprintf(s, sizeof(s),
             "%s1,\"spotify:track:" ID1 "\",\"X, Y\",\"T\",\"L\",1,-1,1,"
             "\"100\"\r\n3,\"spotify:track:" ID2 "\",\"Z\",\"U\",\"L\",2,5,"
             "3,\"99\"\r\n",
             CHARTS_HDR);
    FILE *fp = tmp_stream(s, strlen(s));
    au_error_t err;
    au_chart_row_t r;
    au_csv_t *p = au_csv_new_fp(fp, "t.csv", &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_eq(au_csv_layout(p), AU_CSV_CHARTS);
    cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
    cr_assert_str_eq(r.artist, "X, Y");
    cr_assert_str_eq(r.track_id, ID1);
    cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
    cr_assert_eq(r.position, 3, "a skipped rank is not an error");
    cr_assert_eq(r.streams, 99);
    cr_assert_eq(au_csv_next(p, &r, &err), 0, "%s", err.msg);
    au_csv_destroy(&p);
    fclose(fp);
}

Test(csv, charts_layout_without_bom_and_with_lf_is_detected)
{
    /* How the long Brazil history was saved: no byte order mark, LF. */
    const char *s = CHARTS_COLS1 CHARTS_COLS2 "\n"
                                              "1,\"spotify:track:" ID1
                                              "\",\"X\",\"T\",\"L\",1,-1,1,"
                                              "\"100\"\n";
    FILE *fp = tmp_stream(s, strlen(s));
    au_error_t err;
    au_chart_row_t r;
    au_csv_t *p = au_csv_new_fp(fp, "t.csv", &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_eq(au_csv_layout(p), AU_CSV_CHARTS);
    cr_assert_eq(au_csv_next(p, &r, &err), 1, "%s", err.msg);
    cr_assert_str_eq(r.track_id, ID1);
    cr_assert_eq(r.streams, 100);
    cr_assert_eq(au_csv_next(p, &r, &err), 0, "%s", err.msg);
    au_csv_destroy(&p);
    fclose(fp);
}

Test(csv, short_chart_and_trailing_blank_lines_are_accepted)
{
    long rows;
    au_error_t err;
    const char *s = "Position,\"Track Name\",Artist,Streams,URL\n"
                    "1,A,B,10," URL ID1 "\n\n\r\n";
    cr_assert_eq(parse_str(s, &rows, &err), 0, "%s", err.msg);
    cr_assert_eq(rows, 1);
}

Test(csv, file_larger_than_the_read_buffer_is_streamed)
{
    /* Rows of varying length so that many of them straddle the 64 KiB
     * buffer boundary (the real files are all smaller than one buffer). */
    const long n = 20000;
    FILE *fp = tmp_stream(LEGACY_HDR, strlen(LEGACY_HDR));
    fseek(fp, 0, SEEK_END);
    for (long i = 1; i <= n; i++)
        fprintf(fp,
                "%ld,\"Track %ld, \"\"x\"\"%.*s\",Artist %ld,%ld," URL "%s\n",
                i, i, (int)(i % 37), "abcdefghijklmnopqrstuvwxyz0123456789", i,
                i * 3, (i % 2) ? ID1 : ID2);
    rewind(fp);
    au_error_t err;
    au_chart_row_t r;
    au_csv_t *p = au_csv_new_fp(fp, "big.csv", &err);
    cr_assert_not_null(p, "%s", err.msg);
    long rows = 0;
    int rc;
    char want[128];
    while ((rc = au_csv_next(p, &r, &err)) == 1) {
        rows++;
        cr_assert_eq(r.position, rows);
        cr_assert_eq(r.line, rows + 1);
        cr_assert_eq(r.streams, rows * 3);
        snprintf(want, sizeof(want), "Track %ld, \"x\"%.*s", rows,
                 (int)(rows % 37), "abcdefghijklmnopqrstuvwxyz0123456789");
        cr_assert_str_eq(r.track_name, want);
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(rows, n);
    au_csv_destroy(&p);
    fclose(fp);
}

/* ---- errors ------------------------------------------------------------- */

Test(csv, empty_file_is_rejected)
{
    expect_error("", AU_ETRUNCATED, "t.csv:1: empty file");
    expect_error("\xEF\xBB\xBF", AU_ETRUNCATED, "t.csv:1: empty file");
}

Test(csv, header_without_rows_is_rejected)
{
    expect_error(LEGACY_HDR, AU_ETRUNCATED,
                 "t.csv:1: no chart rows after the header");
    expect_error(",,,\"Note that these figures are generated\",\n",
                 AU_ETRUNCATED, "t.csv:1: preface line but no header");
}

Test(csv, unknown_header_is_rejected_naming_it)
{
    expect_error("Rank,Title,Artist\n1,A,B\n", AU_EPARSE,
                 "t.csv:1: not a Spotify chart CSV (header "
                 "\"Rank,Title,Artist\")");
    /* The charts.spotify.com header never follows the legacy preface. */
    char s[512];
    snprintf(s, sizeof(s), ",,,\"Note that these figures\",\n%s",
             CHARTS_COLS1 CHARTS_COLS2 "\r\n");
    expect_error(s, AU_EPARSE, "t.csv:2: not a Spotify chart CSV (header");
}

Test(csv, truncated_quoted_field_names_its_line)
{
    char s[8192];
    size_t n = 0;
    n += (size_t)snprintf(s, sizeof(s), "%s", LEGACY_HDR);
    for (int i = 1; i <= 56; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n,
                              "%d,\"Track\",\"Artist\",100," URL ID1 "\n", i);
    snprintf(s + n, sizeof(s) - n, "57,\"Some Tra");
    expect_error(s, AU_ETRUNCATED, "t.csv:58: unterminated quoted field 2");
}

Test(csv, quoted_field_spanning_lines_is_rejected)
{
    expect_error(LEGACY_HDR "1,\"Two\nLines\",B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: line break inside quoted field 2");
}

Test(csv, wrong_field_count_names_expected_and_got)
{
    expect_error(LEGACY_HDR "1,A,B,1," URL ID1 "\n2,A,B\n", AU_EPARSE,
                 "t.csv:3: expected 5 fields, got 3");
    expect_error(LEGACY_HDR "1,A,B,1," URL ID1 ",extra\n", AU_EPARSE,
                 "t.csv:2: expected 5 fields, got 6");
}

Test(csv, blank_line_inside_the_chart_is_rejected)
{
    expect_error(LEGACY_HDR "1,A,B,1," URL ID1 "\n\n2,A,B,1," URL ID2 "\n",
                 AU_EPARSE, "t.csv:3: blank line inside the chart");
}

Test(csv, bad_positions_are_rejected)
{
    expect_error(LEGACY_HDR "abc,A,B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: position \"abc\" is not an integer");
    expect_error(LEGACY_HDR "-1,A,B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: position \"-1\" is not an integer");
    expect_error(LEGACY_HDR " 1,A,B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: position \" 1\" is not an integer");
    expect_error(LEGACY_HDR "0,A,B,1," URL ID1 "\n", AU_ERANGE,
                 "t.csv:2: position 0 is out of range");
    expect_error(LEGACY_HDR "99999999999,A,B,1," URL ID1 "\n", AU_ERANGE,
                 "t.csv:2: position 99999999999 is out of range");
    expect_error(LEGACY_HDR "2,A,B,1," URL ID1 "\n2,A,B,1," URL ID2 "\n",
                 AU_ERANGE,
                 "t.csv:3: position 2 after 2 (positions must be strictly "
                 "increasing)");
    expect_error(LEGACY_HDR "5,A,B,1," URL ID1 "\n4,A,B,1," URL ID2 "\n",
                 AU_ERANGE, "t.csv:3: position 4 after 5");
}

Test(csv, bad_streams_are_rejected)
{
    expect_error(LEGACY_HDR "1,A,B,-5," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: streams \"-5\" is not a non-negative integer");
    expect_error(LEGACY_HDR "1,A,B,1.5," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: streams \"1.5\" is not a non-negative integer");
    expect_error(LEGACY_HDR "1,A,B,," URL ID1 "\n", AU_EMISSING,
                 "t.csv:2: empty streams");
    expect_error(LEGACY_HDR "1,A,B,99999999999999999999," URL ID1 "\n",
                 AU_ERANGE, "t.csv:2: streams 99999999999999999999 is out");
}

Test(csv, empty_track_name_or_artist_is_rejected)
{
    expect_error(LEGACY_HDR "1,,B,1," URL ID1 "\n", AU_EMISSING,
                 "t.csv:2: empty track name");
    expect_error(LEGACY_HDR "1,\"A\",\"\",1," URL ID1 "\n", AU_EMISSING,
                 "t.csv:2: empty artist");
}

Test(csv, bad_track_urls_and_uris_are_rejected)
{
    expect_error(LEGACY_HDR "1,A,B,1,\n", AU_EMISSING, "t.csv:2: empty URL");
    expect_error(LEGACY_HDR "1,A,B,1," URL ID21 "\n", AU_EPARSE,
                 "t.csv:2: URL \"" URL ID21 "\" is not a "
                 "Spotify track URL");
    expect_error(LEGACY_HDR "1,A,B,1,https://open.spotify.com/album/" ID1 "\n",
                 AU_EPARSE, "t.csv:2: URL \"https://open.spotify.com/album/");
    expect_error(LEGACY_HDR "1,A,B,1," URL "6u7jPi22kF8CTQ3rb9DH-7\n",
                 AU_EPARSE, "t.csv:2: URL");
    char s[1024];
    snprintf(s, sizeof(s),
             "%s1,\"" URL ID1 "\",\"X\",\"T\",\"L\",1,-1,1,"
             "\"100\"\r\n",
             CHARTS_HDR);
    expect_error(s, AU_EPARSE, "t.csv:2: uri \"https://");
}

Test(csv, nul_byte_is_rejected_naming_the_line)
{
    const char s[] = LEGACY_HDR "1,A,B,1," URL ID1 "\n"
                                "2,A\0B,B,1," URL ID2 "\n";
    long rows;
    au_error_t err;
    cr_assert_eq(parse_mem(s, sizeof(s) - 1, &rows, &err), AU_EPARSE);
    cr_assert_str_eq(err.msg, "t.csv:3: NUL byte in field 2 (binary data)");
    cr_assert_eq(rows, 1);
}

Test(csv, invalid_utf8_is_rejected_naming_the_line)
{
    expect_error(LEGACY_HDR "1,A\xFF,B,1," URL ID1 "\n", AU_EUTF8,
                 "t.csv:2: invalid UTF-8 in field 2 (byte 0xFF)");
    /* An overlong "/", a UTF-16 surrogate, a code point past U+10FFFF and
     * a sequence cut by the field's end. */
    expect_error(LEGACY_HDR "1,A,B\xC0\xAF,1," URL ID1 "\n", AU_EUTF8,
                 "t.csv:2: invalid UTF-8 in field 3");
    expect_error(LEGACY_HDR "1,A,\xED\xA0\x80,1," URL ID1 "\n", AU_EUTF8,
                 "t.csv:2: invalid UTF-8 in field 3");
    expect_error(LEGACY_HDR "1,\xF4\x90\x80\x80,B,1," URL ID1 "\n", AU_EUTF8,
                 "t.csv:2: invalid UTF-8 in field 2");
    expect_error(LEGACY_HDR "1,\"A\xE3\x81\",B,1," URL ID1 "\n", AU_EUTF8,
                 "t.csv:2: invalid UTF-8 in field 2");
    /* Four-byte characters are fine (an emoji title). */
    long rows;
    au_error_t err;
    cr_assert_eq(parse_str(LEGACY_HDR "1,\xF0\x9F\x8E\xB5,B,1," URL ID1 "\n",
                           &rows, &err),
                 0, "%s", err.msg);
}

Test(csv, malformed_quotes_are_rejected)
{
    expect_error(LEGACY_HDR "1,A \"x\",B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: quote in unquoted field 2");
    expect_error(LEGACY_HDR "1,\"A\"x,B,1," URL ID1 "\n", AU_EPARSE,
                 "t.csv:2: unexpected character after closing quote in "
                 "field 2");
}

Test(csv, lone_carriage_return_is_rejected)
{
    expect_error(LEGACY_HDR "1,A,B,1," URL ID1 "\r2,A,B,1," URL ID2 "\n",
                 AU_EPARSE,
                 "t.csv:2: carriage return not followed by line feed");
}

Test(csv, over_long_rows_and_fields_are_rejected)
{
    size_t n = AU_CSV_MAX_ROW + 512;
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    size_t h = strlen(LEGACY_HDR);
    memcpy(s, LEGACY_HDR, h);
    memcpy(s + h, "1,", 2);
    for (size_t i = h + 2; i < n; i++)
        s[i] = (i % 100 == 0) ? ',' : 'x';
    s[n] = '\0';
    expect_error(s, AU_ETOOBIG, "t.csv:2: line longer than 16384 bytes");

    memset(s + h + 2, 'x', n - h - 2);
    expect_error(s, AU_ETOOBIG, "t.csv:2: field 2 longer than 1024 bytes");
    free(s);
}

Test(csv, failed_reader_repeats_its_error)
{
    const char *s = LEGACY_HDR "x,A,B,1," URL ID1 "\n1,A,B,1," URL ID1 "\n";
    FILE *fp = tmp_stream(s, strlen(s));
    au_error_t err;
    au_chart_row_t r;
    au_csv_t *p = au_csv_new_fp(fp, "t.csv", &err);
    cr_assert_not_null(p);
    cr_assert_eq(au_csv_next(p, &r, &err), AU_EPARSE);
    memset(&err, 0, sizeof(err));
    cr_assert_eq(au_csv_next(p, &r, &err), AU_EPARSE);
    cr_assert_str_eq(err.msg, "t.csv:2: position \"x\" is not an integer");
    au_csv_destroy(&p);
    au_csv_destroy(&p);
    fclose(fp);
}

Test(csv, missing_file_is_an_io_error)
{
    au_error_t err;
    au_csv_t *p = au_csv_new("/nonexistent/x.csv", &err);
    cr_assert_null(p);
    cr_assert_eq(err.code, AU_EIO);
    cr_assert(strstr(err.msg, "/nonexistent/x.csv: cannot open"), "%s",
              err.msg);
}

/* Cuts a real file inside one row at every byte offset; each cut must fail
 * on that row's line. A cut right at the end of the row's text (the line
 * break lost) is a complete row and must parse. */
static void cut_every_byte_of_row(const char *rel, long line)
{
    size_t len;
    char *data = au_test_read_file(fixture_path(rel), &len);
    size_t start = 0;
    for (long l = 1; l < line; l++) {
        char *nl = memchr(data + start, '\n', len - start);
        cr_assert_not_null(nl);
        start = (size_t)(nl - data) + 1;
    }
    size_t end = start;
    while (end < len && data[end] != '\r' && data[end] != '\n')
        end++;
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t.csv:%ld: ", line);
    long rows;
    au_error_t err;
    for (size_t cut = start + 1; cut < end; cut++) {
        int r = parse_mem(data, cut, &rows, &err);
        cr_assert_lt(r, 0, "%s cut at %zu (\"%.*s\") was accepted", rel, cut,
                     (int)(cut - start), data + start);
        cr_assert(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "cut at %zu: %s", cut, err.msg);
    }
    cr_assert_eq(parse_mem(data, end, &rows, &err), 0, "%s", err.msg);
    cr_assert_eq(parse_mem(data, start, &rows, &err), 0, "%s", err.msg);
    free(data);
}

Test(csv, real_file_cut_inside_a_row_fails_on_that_line)
{
    const char *legacy = US_0405;
    const char *charts = CHARTS "regional-global-weekly-2022-12-08.csv";
    cut_every_byte_of_row(legacy, 58);
    cut_every_byte_of_row(legacy, 201);
    cut_every_byte_of_row(charts, 58);
    cut_every_byte_of_row(charts, 201);
}

Test(csv, non_csv_files_are_rejected_at_line_1)
{
    static const unsigned char png[] = {0x89, 'P',  'N', 'G', '\r', '\n',
                                        0x1A, '\n', 0,   0,   0,    13,
                                        'I',  'H',  'D', 'R'};
    long rows;
    au_error_t err;
    cr_assert_lt(parse_mem(png, sizeof(png), &rows, &err), 0);
    cr_assert(strncmp(err.msg, "t.csv:1: not a Spotify chart CSV", 32) == 0,
              "%s", err.msg);

    const char *json[] = {
        "lastfm/artist.getInfo_frightenedrabbit_legacy_2014.json",
        "lastfm/geo.getTopTracks_greece_limit10_2018-11-10.json",
        "lastfm/artist.getInfo_gunsnroses_REDACTED_mbids_images.json",
    };
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", au_test_fixtures(), json[i]);
        const char *base = strrchr(json[i], '/') + 1;
        char want[256];
        snprintf(want, sizeof(want), "%s:1: not a Spotify chart CSV", base);
        au_csv_t *p = au_csv_new(path, &err);
        cr_assert_null(p, "%s accepted", json[i]);
        cr_assert_lt(err.code, 0);
        cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    }
}
