/* au_csv.h: streaming reader of Spotify chart CSV exports.
 *
 * Two layouts are recognised from the header line:
 *   legacy spotifycharts.com  Position,"Track Name",Artist,Streams,URL
 *     (optionally preceded by the ",,,"Note that these figures ...","
 *     preface line), track id from https://open.spotify.com/track/<id>;
 *   charts.spotify.com        rank,uri,artist_names,track_name,source,
 *     peak_rank,previous_rank,weeks_on_chart,streams
 *     (the download has a UTF-8 BOM and CRLF; copies saved without the BOM
 *     or with LF read the same), track id from spotify:track:<id>.
 * Any other header is an error.
 *
 * Memory is bounded whatever the file size: one 64 KiB read buffer and one
 * row. Quoting follows RFC 4180 (optional quotes, "" inside quotes), lines
 * end in LF or CRLF, the final newline may be missing. A quoted field that
 * spans lines is rejected: no real export has one, and accepting it would
 * let one stray quote swallow the rest of the file into a single row.
 *
 * Every row is checked: position >= 1 and strictly increasing (gaps are
 * allowed: real charts skip ranks), non-empty track name and artist,
 * streams a non-negative integer, a valid 22-character track id, text
 * valid UTF-8 without NUL bytes. A file cut mid-row fails on that row's
 * line. Limit: a cut inside an unquoted last field that still parses
 * (digits of an unquoted charts.spotify.com streams value) cannot be told
 * from a complete row; the real exports quote that field, so there a cut
 * shows up as an unterminated quote. A cut exactly at a line boundary is
 * indistinguishable from a shorter chart.
 *
 * Every error message reads "<file>:<line>: <reason>". A reader that has
 * failed stays failed: au_csv_next returns the same error again. */
#ifndef AU_CSV_H
#define AU_CSV_H

#include "au_err.h"

#include <stdint.h>
#include <stdio.h>

#define AU_CSV_READ_BUF (64 * 1024) /* bytes read from the file at once */
#define AU_CSV_MAX_ROW (16 * 1024)  /* raw bytes of one line */
#define AU_CSV_MAX_FIELD 1024       /* bytes of one field, unquoted */

typedef enum {
    AU_CSV_LEGACY = 1, /* spotifycharts.com, 5 columns */
    AU_CSV_CHARTS = 2  /* charts.spotify.com, 9 columns */
} au_csv_layout_t;

/* One chart row. The strings borrow the reader's row buffer: they stay
 * valid until the next au_csv_next or au_csv_destroy. */
typedef struct {
    int32_t position;       /* >= 1, strictly increasing within a file */
    int64_t streams;        /* >= 0; both layouts always carry it */
    const char *track_name; /* non-empty UTF-8 */
    const char *artist;     /* non-empty UTF-8; charts.spotify.com joins
                               several artists with ", " */
    const char *track_id;   /* 22-character base62 Spotify id, never NULL
                               for a row returned by au_csv_next */
    long line;              /* 1-based physical line of the row */
} au_chart_row_t;

typedef struct au_csv_t au_csv_t;

/* Opens path and reads its header. NULL on failure, with err set (AU_EIO
 * when the file cannot be opened, else the parse error). */
au_csv_t *au_csv_new(const char *path, au_error_t *err);
/* Same over an open stream, which stays the caller's (not closed by
 * au_csv_destroy). name is used in error messages only. */
au_csv_t *au_csv_new_fp(FILE *fp, const char *name, au_error_t *err);
/* Next row: 1 with *row filled, 0 at end of file, negative AU_E* with err
 * set. */
int au_csv_next(au_csv_t *self, au_chart_row_t *row, au_error_t *err);
/* Layout detected from the header. */
au_csv_layout_t au_csv_layout(const au_csv_t *self);
/* Frees the reader (and closes the file au_csv_new opened); sets *self_p
 * to NULL. NULL or *self_p == NULL is harmless. */
void au_csv_destroy(au_csv_t **self_p);

#endif
