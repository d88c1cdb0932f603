#include "au_csv.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Fields past this many are counted (for the message) but not stored. */
#define AU__CSV_MAX_FIELDS 16
#define AU__CSV_ID_LEN 22
#define AU__CSV_NAME_CAP 96
#define AU__CSV_BYTE_EOF (-1)
#define AU__CSV_BYTE_ERR (-2)

static const char *const au__csv_legacy_cols[] = {"Position", "Track Name",
                                                  "Artist", "Streams", "URL"};
static const char *const au__csv_charts_cols[] = {
    "rank",      "uri",           "artist_names",   "track_name", "source",
    "peak_rank", "previous_rank", "weeks_on_chart", "streams"};
static const char au__csv_legacy_url[] = "https://open.spotify.com/track/";
static const char au__csv_charts_uri[] = "spotify:track:";

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE };

struct au_csv_t {
    FILE *fp;
    int owns_fp;
    char name[AU__CSV_NAME_CAP + 1];
    au_csv_layout_t layout;

    unsigned char buf[AU_CSV_READ_BUF];
    size_t pos, len;
    int eof;

    long line;      /* line of the record last read */
    long next_line; /* line the next record starts on */
    size_t raw_len; /* bytes of the last record, line break excluded */

    /* Unquoted fields of one record, each NUL-terminated. Content plus
     * terminators never exceeds the raw bytes plus one, hence the size. */
    char row[AU_CSV_MAX_ROW + 1];
    size_t used;
    size_t field_off[AU__CSV_MAX_FIELDS];
    int nfields;

    char track_id[AU__CSV_ID_LEN + 1];
    int32_t last_pos;
    long rows;
    long header_line;
    int in_header;
    int done;
    int failed;
    au_error_t err;
};

static int au__csv_vfail(au_csv_t *p, int code, long line, const char *fmt,
                         va_list ap) __attribute__((format(printf, 4, 0)));
static int au__csv_fail(au_csv_t *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int au__csv_fail_at(au_csv_t *p, int code, long line, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

static int au__csv_vfail(au_csv_t *p, int code, long line, const char *fmt,
                         va_list ap)
{
    char reason[200];
    vsnprintf(reason, sizeof(reason), fmt, ap);
    /* While the header is read, any problem means the file is not one of
     * ours; saying so first tells the operator to check the input, not
     * the parser. */
    au_error_set(&p->err, code, "%s:%ld: %s%s", p->name, line,
                 p->in_header && code != AU_EIO ? "not a Spotify chart CSV: "
                                                : "",
                 reason);
    p->failed = code;
    return code;
}

/* Fails on the line of the record being read. */
static int au__csv_fail(au_csv_t *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = au__csv_vfail(p, code, p->line, fmt, ap);
    va_end(ap);
    return r;
}

static int au__csv_fail_at(au_csv_t *p, int code, long line, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = au__csv_vfail(p, code, line, fmt, ap);
    va_end(ap);
    return r;
}

/* Copies at most max bytes of s into out for a message, cut on a UTF-8
 * boundary, with control characters shown as '?' so that a log line
 * stays one line. */
static void au__csv_excerpt(char *out, size_t cap, const char *s, size_t max)
{
    size_t len = strlen(s);
    size_t n = len;
    if (n > max)
        n = max;
    if (n >= cap)
        n = cap - 1;
    while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    out[n] = '\0';
}

static int au__csv_fill(au_csv_t *p)
{
    if (p->eof)
        return AU__CSV_BYTE_EOF;
    size_t n = fread(p->buf, 1, sizeof(p->buf), p->fp);
    if (n == 0) {
        if (ferror(p->fp))
            return AU__CSV_BYTE_ERR;
        p->eof = 1;
        return AU__CSV_BYTE_EOF;
    }
    p->pos = 0;
    p->len = n;
    return 0;
}

static int au__csv_peek(au_csv_t *p)
{
    if (p->pos == p->len) {
        int r = au__csv_fill(p);
        if (r < 0)
            return r;
    }
    return p->buf[p->pos];
}

static int au__csv_getc(au_csv_t *p)
{
    int c = au__csv_peek(p);
    if (c >= 0)
        p->pos++;
    return c;
}

/* Offset of the first byte that breaks UTF-8 (overlongs, surrogates and
 * code points past U+10FFFF included), or -1 when s[0..n) is valid. */
static long au__csv_utf8_bad(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            more = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3;
        else
            return (long)i;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (more > n - i - 1)
            return (long)i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return (long)i;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return (long)i;
        i += more + 1;
    }
    return -1;
}

static void au__csv_begin_field(au_csv_t *p)
{
    if (p->nfields < AU__CSV_MAX_FIELDS)
        p->field_off[p->nfields] = p->used;
}

static void au__csv_end_field(au_csv_t *p)
{
    assert(p->used < sizeof(p->row));
    p->row[p->used++] = '\0';
    p->nfields++;
}

static int au__csv_append(au_csv_t *p, int c)
{
    size_t start =
        p->nfields < AU__CSV_MAX_FIELDS ? p->field_off[p->nfields] : p->used;
    if (p->nfields < AU__CSV_MAX_FIELDS && p->used - start >= AU_CSV_MAX_FIELD)
        return au__csv_fail(p, AU_ETOOBIG, "field %d longer than %d bytes",
                            p->nfields + 1, AU_CSV_MAX_FIELD);
    assert(p->used < sizeof(p->row) - 1);
    p->row[p->used++] = (char)c;
    return 0;
}

static const char *au__csv_field(const au_csv_t *p, int i)
{
    assert(i < p->nfields && i < AU__CSV_MAX_FIELDS);
    return p->row + p->field_off[i];
}

static int au__csv_check_utf8(au_csv_t *p)
{
    long bad = au__csv_utf8_bad((const unsigned char *)p->row, p->used);
    if (bad < 0)
        return 0;
    int field = 1;
    for (long i = 0; i < bad; i++)
        field += p->row[i] == '\0';
    return au__csv_fail(p, AU_EUTF8, "invalid UTF-8 in field %d (byte 0x%02X)",
                        field, (unsigned char)p->row[bad]);
}

/* Ends the record at a line break: after '\n', or after '\r' followed by
 * '\n' or by the end of the file (a CRLF file cut between the two). */
static int au__csv_line_break(au_csv_t *p, int c, int st)
{
    if (st == ST_QUOTED)
        return au__csv_fail(p, AU_EPARSE,
                            "line break inside quoted field %d (fields "
                            "spanning lines are not supported)",
                            p->nfields + 1);
    if (c == '\r') {
        int n = au__csv_peek(p);
        if (n == AU__CSV_BYTE_ERR)
            return au__csv_fail(p, AU_EIO, "read error: %s", strerror(errno));
        if (n != '\n' && n != AU__CSV_BYTE_EOF)
            return au__csv_fail(p, AU_EPARSE,
                                "carriage return not followed by line feed");
        if (n == '\n')
            p->pos++;
    }
    p->next_line++;
    au__csv_end_field(p);
    return 1;
}

/* One byte of a field through the quoting state machine: the new state
 * in *st, 0 or < 0 for a malformed line. */
static int au__csv_step(au_csv_t *p, int c, int *st)
{
    switch (*st) {
    case ST_START:
    case ST_QUOTE:
        if (c == ',') {
            au__csv_end_field(p);
            au__csv_begin_field(p);
            *st = ST_START;
            return 0;
        }
        if (c == '"') {
            /* At the start it opens quotes; after a closing quote it is
             * the second half of an escaped "". */
            int r = *st == ST_QUOTE ? au__csv_append(p, '"') : 0;
            *st = ST_QUOTED;
            return r;
        }
        if (*st == ST_START) {
            *st = ST_UNQUOTED;
            return au__csv_append(p, c);
        }
        return au__csv_fail(p, AU_EPARSE,
                            "unexpected character after closing quote "
                            "in field %d",
                            p->nfields + 1);
    case ST_UNQUOTED:
        if (c == ',') {
            au__csv_end_field(p);
            au__csv_begin_field(p);
            *st = ST_START;
            return 0;
        }
        if (c == '"')
            return au__csv_fail(p, AU_EPARSE, "quote in unquoted field %d",
                                p->nfields + 1);
        return au__csv_append(p, c);
    default:
        if (c == '"') {
            *st = ST_QUOTE;
            return 0;
        }
        return au__csv_append(p, c);
    }
}

/* Reads one physical line into fields: 1, 0 at end of file, or < 0. */
static int au__csv_read_record(au_csv_t *p)
{
    int st = ST_START;
    size_t raw = 0;
    p->line = p->next_line;
    p->used = 0;
    p->nfields = 0;
    p->raw_len = 0;
    au__csv_begin_field(p);
    for (;;) {
        int c = au__csv_getc(p);
        if (c == AU__CSV_BYTE_ERR)
            return au__csv_fail(p, AU_EIO, "read error: %s", strerror(errno));
        if (c == AU__CSV_BYTE_EOF) {
            if (st == ST_QUOTED)
                return au__csv_fail(p, AU_ETRUNCATED,
                                    "unterminated quoted field %d",
                                    p->nfields + 1);
            if (raw == 0)
                return 0;
            au__csv_end_field(p); /* the final newline is optional */
            break;
        }
        if (c == '\n' || c == '\r') {
            int r = au__csv_line_break(p, c, st);
            if (r < 0)
                return r;
            break;
        }
        if (++raw > AU_CSV_MAX_ROW)
            return au__csv_fail(p, AU_ETOOBIG, "line longer than %d bytes",
                                AU_CSV_MAX_ROW);
        if (c == 0)
            return au__csv_fail(p, AU_EPARSE,
                                "NUL byte in field %d (binary data)",
                                p->nfields + 1);
        int r = au__csv_step(p, c, &st);
        if (r < 0)
            return r;
    }
    p->raw_len = raw;
    return au__csv_check_utf8(p) < 0 ? p->failed : 1;
}

static int au__csv_header_is(const au_csv_t *p, const char *const *cols, int n)
{
    if (p->nfields != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(au__csv_field(p, i), cols[i]) != 0)
            return 0;
    return 1;
}

/* ,,,"Note that these figures are generated using a formula ...", */
static int au__csv_is_preface(const au_csv_t *p)
{
    static const char note[] = "Note that these figures";
    if (p->nfields != 5)
        return 0;
    return !*au__csv_field(p, 0) && !*au__csv_field(p, 1) &&
           !*au__csv_field(p, 2) && !*au__csv_field(p, 4) &&
           strncmp(au__csv_field(p, 3), note, sizeof(note) - 1) == 0;
}

static int au__csv_unknown_header(au_csv_t *p)
{
    char joined[128], shown[72];
    size_t n = 0;
    int stored =
        p->nfields < AU__CSV_MAX_FIELDS ? p->nfields : AU__CSV_MAX_FIELDS;
    joined[0] = '\0';
    for (int i = 0; i < stored && n + 1 < sizeof(joined); i++) {
        int w = snprintf(joined + n, sizeof(joined) - n, "%s%s", i ? "," : "",
                         au__csv_field(p, i));
        if (w < 0)
            break;
        n += (size_t)w;
    }
    au__csv_excerpt(shown, sizeof(shown), joined, 60);
    p->in_header = 0;
    return au__csv_fail(p, AU_EPARSE,
                        "not a Spotify chart CSV (header \"%s\"%s)", shown,
                        strlen(joined) > strlen(shown) ? "..." : "");
}

static int au__csv_read_header(au_csv_t *p)
{
    /* charts.spotify.com prefixes a UTF-8 byte order mark; copies saved
     * by other tools may have lost it, so it is optional. */
    if (au__csv_peek(p) == 0xEF && p->len - p->pos >= 3 &&
        memcmp(p->buf + p->pos, "\xEF\xBB\xBF", 3) == 0)
        p->pos += 3;
    p->in_header = 1;
    int r = au__csv_read_record(p);
    if (r < 0)
        return r;
    if (r == 0) {
        p->in_header = 0;
        return au__csv_fail_at(p, AU_ETRUNCATED, 1, "empty file");
    }
    if (au__csv_is_preface(p)) {
        long preface = p->line;
        r = au__csv_read_record(p);
        if (r < 0)
            return r;
        if (r == 0) {
            p->in_header = 0;
            return au__csv_fail_at(p, AU_ETRUNCATED, preface,
                                   "preface line but no header");
        }
        if (!au__csv_header_is(p, au__csv_legacy_cols, 5))
            return au__csv_unknown_header(p);
        p->layout = AU_CSV_LEGACY;
    } else if (au__csv_header_is(p, au__csv_legacy_cols, 5)) {
        p->layout = AU_CSV_LEGACY;
    } else if (au__csv_header_is(p, au__csv_charts_cols, 9)) {
        p->layout = AU_CSV_CHARTS;
    } else {
        return au__csv_unknown_header(p);
    }
    p->in_header = 0;
    p->header_line = p->line;
    return 0;
}

static au_csv_t *au__csv_start(FILE *fp, int owns, const char *name,
                               au_error_t *err)
{
    au_csv_t *p = calloc(1, sizeof(*p));
    if (!p) {
        if (owns)
            fclose(fp);
        au_error_set(err, AU_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    p->fp = fp;
    p->owns_fp = owns;
    p->next_line = 1;
    au__csv_excerpt(p->name, sizeof(p->name), name, AU__CSV_NAME_CAP);
    if (au__csv_read_header(p) < 0) {
        if (err)
            *err = p->err;
        au_csv_destroy(&p);
    }
    return p;
}

au_csv_t *au_csv_new(const char *path, au_error_t *err)
{
    assert(path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        au_error_set(err, AU_EIO, "%s: cannot open: %s", path, strerror(e));
        return NULL;
    }
    /* The reader has its own 64 KiB buffer; a second one inside stdio
     * would only add a copy. */
    setvbuf(fp, NULL, _IONBF, 0);
    const char *slash = strrchr(path, '/');
    return au__csv_start(fp, 1, slash ? slash + 1 : path, err);
}

au_csv_t *au_csv_new_fp(FILE *fp, const char *name, au_error_t *err)
{
    assert(fp && name);
    return au__csv_start(fp, 0, name, err);
}

au_csv_layout_t au_csv_layout(const au_csv_t *self)
{
    assert(self);
    return self->layout;
}

void au_csv_destroy(au_csv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->owns_fp)
        fclose((*self_p)->fp);
    free(*self_p);
    *self_p = NULL;
}

/* Decimal digits only (no sign, no spaces): 0, AU_EPARSE or AU_ERANGE. */
static int au__csv_parse_uint(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return AU_EPARSE;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return AU_EPARSE;
        int d = *s - '0';
        if (v > (max - d) / 10)
            return AU_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int au__csv_is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

static int au__csv_track_id(au_csv_t *p, const char *s)
{
    const char *prefix =
        p->layout == AU_CSV_LEGACY ? au__csv_legacy_url : au__csv_charts_uri;
    const char *what = p->layout == AU_CSV_LEGACY ? "URL" : "uri";
    size_t plen = strlen(prefix);
    char shown[72];
    if (!*s)
        return au__csv_fail(p, AU_EMISSING, "empty %s", what);
    int ok =
        strncmp(s, prefix, plen) == 0 && strlen(s + plen) == AU__CSV_ID_LEN;
    for (size_t i = 0; ok && i < AU__CSV_ID_LEN; i++)
        ok = au__csv_is_base62(s[plen + i]);
    if (!ok) {
        au__csv_excerpt(shown, sizeof(shown), s, 64);
        return au__csv_fail(p, AU_EPARSE,
                            "%s \"%.70s\" is not a Spotify track %s", what,
                            shown, what);
    }
    memcpy(p->track_id, s + plen, AU__CSV_ID_LEN + 1);
    return 0;
}

static int au__csv_position(au_csv_t *p, const char *s, int32_t *out)
{
    char shown[48];
    int64_t v = 0;
    int r = au__csv_parse_uint(s, INT32_MAX, &v);
    au__csv_excerpt(shown, sizeof(shown), s, 40);
    if (r == AU_EPARSE)
        return au__csv_fail(p, r, "position \"%s\" is not an integer", shown);
    if (r == AU_ERANGE || v < 1)
        return au__csv_fail(p, AU_ERANGE,
                            "position %s is out of range (must be 1 to %d)",
                            shown, INT32_MAX);
    if (v <= p->last_pos)
        return au__csv_fail(p, AU_ERANGE,
                            "position %s after %d (positions must be "
                            "strictly increasing)",
                            shown, (int)p->last_pos);
    *out = (int32_t)v;
    return 0;
}

static int au__csv_streams(au_csv_t *p, const char *s, int64_t *out)
{
    char shown[48];
    if (!*s)
        return au__csv_fail(p, AU_EMISSING, "empty streams");
    int r = au__csv_parse_uint(s, INT64_MAX, out);
    au__csv_excerpt(shown, sizeof(shown), s, 40);
    if (r == AU_EPARSE)
        return au__csv_fail(
            p, r, "streams \"%s\" is not a non-negative integer", shown);
    if (r == AU_ERANGE)
        return au__csv_fail(p, r, "streams %s is out of range", shown);
    return 0;
}

/* 1 when s has a character other than white space: a name of blanks
 * names nothing (an artist key could not be made of it). */
static int au__csv_has_text(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\v\f", *s))
            return 1;
    return 0;
}

static int au__csv_to_row(au_csv_t *p, au_chart_row_t *row)
{
    int legacy = p->layout == AU_CSV_LEGACY;
    int want = legacy ? 5 : 9;
    if (p->nfields != want)
        return au__csv_fail(p, AU_EPARSE, "expected %d fields, got %d", want,
                            p->nfields);
    const char *name = au__csv_field(p, legacy ? 1 : 3);
    const char *artist = au__csv_field(p, 2);
    int32_t pos = 0;
    int64_t streams = 0;
    if (au__csv_position(p, au__csv_field(p, 0), &pos) < 0)
        return p->failed;
    if (!au__csv_has_text(name))
        return au__csv_fail(p, AU_EMISSING, "empty track name");
    if (!au__csv_has_text(artist))
        return au__csv_fail(p, AU_EMISSING, "empty artist");
    if (au__csv_streams(p, au__csv_field(p, legacy ? 3 : 8), &streams) < 0)
        return p->failed;
    if (au__csv_track_id(p, au__csv_field(p, legacy ? 4 : 1)) < 0)
        return p->failed;
    p->last_pos = pos;
    row->position = pos;
    row->streams = streams;
    row->track_name = name;
    row->artist = artist;
    row->track_id = p->track_id;
    row->line = p->line;
    return 1;
}

int au_csv_next(au_csv_t *self, au_chart_row_t *row, au_error_t *err)
{
    assert(self && row);
    long blank = 0;
    int r = 0;
    if (self->failed)
        goto fail;
    if (self->done)
        return 0;
    for (;;) {
        r = au__csv_read_record(self);
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (self->raw_len > 0)
            break;
        /* Blank lines are tolerated only at the end, where editors and
         * download tools like to add them. */
        if (!blank)
            blank = self->line;
    }
    if (r == 1 && blank) {
        au__csv_fail_at(self, AU_EPARSE, blank, "blank line inside the chart");
        goto fail;
    }
    if (r == 0) {
        if (self->rows == 0) {
            au__csv_fail_at(self, AU_ETRUNCATED, self->header_line,
                            "no chart rows after the header");
            goto fail;
        }
        self->done = 1;
        return 0;
    }
    if (au__csv_to_row(self, row) < 0)
        goto fail;
    self->rows++;
    return 1;
fail:
    if (err)
        *err = self->err;
    return self->failed;
}
