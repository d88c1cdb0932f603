#include "au_out.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs of the built-in types (catalog/pg_type.dat): fixed numbers
 * that every server version keeps, so no catalog lookup is needed. */
enum {
    PG_BOOL = 16,
    PG_INT8 = 20,
    PG_INT2 = 21,
    PG_INT4 = 23,
    PG_OID = 26,
    PG_JSON = 114,
    PG_FLOAT4 = 700,
    PG_FLOAT8 = 701,
    PG_NUMERIC = 1700,
    PG_JSONB = 3802
};

struct au_out_table_t {
    size_t ncols;
    char **names;
    au_out_type_t *types;
    char **cells; /* nrows * ncols; NULL: missing */
    size_t nrows, cap;
    size_t max_width;
};

/* ---- widths --------------------------------------------------------- */

/* Decodes the code point at s into *cp; returns its length in bytes. A
 * byte that starts no valid sequence is taken alone, as one column. */
static size_t decode(const unsigned char *s, unsigned *cp)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (s[0] < 0x80 || s[0] < 0xC2 || s[0] > 0xF4) {
        *cp = s[0] < 0x80 ? s[0] : 0xFFFD;
        return 1;
    }
    unsigned v = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

typedef struct {
    unsigned lo, hi;
} range_t;

static int in(const range_t *r, size_t n, unsigned cp)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return 1;
    return 0;
}

/* Columns of one code point: wcwidth's answer for the scripts charts
 * carry, without depending on the locale a script runs under. */
static size_t cp_width(unsigned cp)
{
    static const range_t zero[] = {
        {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05C7}, {0x0610, 0x061A},
        {0x064B, 0x065F}, {0x0670, 0x0670}, {0x0900, 0x0902}, {0x093C, 0x093C},
        {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},
        {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
        {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}};
    static const range_t wide[] = {
        {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},
        {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
        {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE30, 0xFE4F},
        {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
        {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
    if (in(zero, sizeof(zero) / sizeof(zero[0]), cp))
        return 0;
    return in(wide, sizeof(wide) / sizeof(wide[0]), cp) ? 2 : 1;
}

size_t au_out_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        p += decode(p, &cp);
        w += cp_width(cp);
    }
    return w;
}

/* Bytes of the longest prefix of s that fits in `columns`. */
static size_t prefix_fitting(const char *s, size_t columns, size_t *width)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t bytes = 0, w = 0;
    while (p[bytes]) {
        unsigned cp;
        size_t n = decode(p + bytes, &cp);
        size_t cw = cp_width(cp);
        if (w + cw > columns)
            break;
        w += cw;
        bytes += n;
    }
    *width = w;
    return bytes;
}

/* ---- building ------------------------------------------------------- */

au_out_table_t *au_out_table_new(const au_out_col_t *cols, size_t ncols)
{
    au_out_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->max_width = AU_OUT_MAX_WIDTH;
    t->names = calloc(ncols ? ncols : 1, sizeof(*t->names));
    t->types = calloc(ncols ? ncols : 1, sizeof(*t->types));
    int ok = t->names && t->types;
    for (size_t i = 0; ok && i < ncols; i++) {
        t->names[i] = strdup(cols[i].name);
        t->types[i] = cols[i].type;
        ok = t->names[i] != NULL;
    }
    if (!ok)
        au_out_table_destroy(&t);
    return t;
}

static au_out_type_t pg_type(Oid oid)
{
    switch (oid) {
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
        return AU_OUT_INT;
    case PG_FLOAT4:
    case PG_FLOAT8:
    case PG_NUMERIC:
        return AU_OUT_NUM;
    case PG_BOOL:
        return AU_OUT_BOOL;
    case PG_JSON:
    case PG_JSONB:
        return AU_OUT_JSON;
    default:
        return AU_OUT_STR;
    }
}

au_out_table_t *au_out_table_pg(const PGresult *r, int with_rows)
{
    int nf = PQnfields(r);
    au_out_col_t *cols = calloc(nf > 0 ? (size_t)nf : 1, sizeof(*cols));
    if (!cols)
        return NULL;
    for (int f = 0; f < nf; f++)
        cols[f] = (au_out_col_t){PQfname(r, f), pg_type(PQftype(r, f))};
    au_out_table_t *t = au_out_table_new(cols, (size_t)nf);
    free(cols);
    for (int i = 0; t && with_rows && i < PQntuples(r); i++)
        if (au_out_table_add_pg(t, r, i) < 0)
            au_out_table_destroy(&t);
    return t;
}

void au_out_table_destroy(au_out_table_t **self_p)
{
    au_out_table_t *t = self_p ? *self_p : NULL;
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    for (size_t i = 0; t->names && i < t->ncols; i++)
        free(t->names[i]);
    free(t->cells);
    free(t->names);
    free(t->types);
    free(t);
    *self_p = NULL;
}

int au_out_table_add(au_out_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c =
            realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof(*c));
        if (!c)
            return AU_ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    char **row = &t->cells[t->nrows * t->ncols];
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = cells[i] ? strdup(cells[i]) : NULL;
        if (cells[i] && !row[i]) {
            while (i-- > 0)
                free(row[i]);
            return AU_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

int au_out_table_add_pg(au_out_table_t *t, const PGresult *r, int row)
{
    const char *cells[64];
    if (t->ncols > sizeof(cells) / sizeof(cells[0]))
        return AU_ETOOBIG;
    for (size_t f = 0; f < t->ncols; f++)
        cells[f] =
            PQgetisnull(r, row, (int)f) ? NULL : PQgetvalue(r, row, (int)f);
    return au_out_table_add(t, cells);
}

size_t au_out_table_nrows(const au_out_table_t *t)
{
    return t->nrows;
}

void au_out_table_max_width(au_out_table_t *t, size_t columns)
{
    /* Room for at least one character and the "..." that marks a cut. */
    t->max_width = columns == 0 ? 0 : columns < 4 ? 4 : columns;
}

/* ---- text ----------------------------------------------------------- */

static const char *cell_text(const au_out_table_t *t, size_t row, size_t col)
{
    const char *s = t->cells[row * t->ncols + col];
    return s ? s : "-";
}

static size_t shown_width(const au_out_table_t *t, const char *s)
{
    size_t w = au_out_width(s);
    return t->max_width && w > t->max_width ? t->max_width : w;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* Writes s with control characters as blanks: a newline inside an error
 * message must not break the table, nor an escape sequence in a track
 * title reach the terminal. */
static void put_clean(FILE *out, const char *s, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7F ? ' ' : c, out);
    }
}

static void put_cell(const au_out_table_t *t, FILE *out, const char *s,
                     size_t width, int right, int last)
{
    size_t w = au_out_width(s), bytes = strlen(s);
    int cut = t->max_width && w > t->max_width;
    if (cut)
        bytes = prefix_fitting(s, t->max_width - 3, &w);
    size_t shown = cut ? w + 3 : w;
    if (right)
        pad(out, width - shown);
    put_clean(out, s, bytes);
    if (cut)
        fputs("...", out);
    /* No trailing blanks: they only get in the way of diff and grep. */
    if (!right && !last)
        pad(out, width - shown);
}

static int is_number(au_out_type_t type)
{
    return type == AU_OUT_INT || type == AU_OUT_NUM;
}

int au_out_table_print(const au_out_table_t *t, FILE *out)
{
    size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof(*width));
    if (!width)
        return AU_ENOMEM;
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = shown_width(t, t->names[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = shown_width(t, cell_text(t, r, c));
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputs("  ", out);
            const char *s = r == 0 ? t->names[c] : cell_text(t, r - 1, c);
            put_cell(t, out, s, width[c], is_number(t->types[c]),
                     c + 1 == t->ncols);
        }
        fputc('\n', out);
    }
    free(width);
    return ferror(out) ? AU_EIO : 0;
}

int au_out_record_print(const au_out_table_t *t, size_t row, FILE *out)
{
    size_t wmax = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        size_t w = au_out_width(t->names[c]);
        wmax = w > wmax ? w : wmax;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = cell_text(t, row, c);
        fputs(t->names[c], out);
        pad(out, wmax - au_out_width(t->names[c]) + 2);
        put_clean(out, s, strlen(s));
        fputc('\n', out);
    }
    return ferror(out) ? AU_EIO : 0;
}

/* ---- JSON ----------------------------------------------------------- */

/* A whole-text integer that fits, as JSON; NULL otherwise. */
static json_t *integer_of(const char *s)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (d[0] < '0' || d[0] > '9' || strspn(d, "0123456789") != strlen(d))
        return NULL;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno ? NULL : json_integer((json_int_t)v);
}

static json_t *number_of(const char *s)
{
    json_t *i = integer_of(s);
    if (i)
        return i;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return json_string(s);
    /* NaN and the infinities are not JSON numbers. */
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *au_out_value(const char *text, au_out_type_t type)
{
    if (!text)
        return json_null();
    switch (type) {
    case AU_OUT_INT:
    case AU_OUT_NUM:
        return number_of(text);
    case AU_OUT_BOOL:
        if (!strcmp(text, "t") || !strcmp(text, "true"))
            return json_true();
        if (!strcmp(text, "f") || !strcmp(text, "false"))
            return json_false();
        return json_string(text);
    case AU_OUT_JSON: {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        return v ? v : json_string(text);
    }
    default:
        return json_string(text);
    }
}

json_t *au_out_row_json(const au_out_table_t *t, size_t row)
{
    json_t *o = json_object();
    for (size_t c = 0; o && c < t->ncols; c++) {
        json_t *v = au_out_value(t->cells[row * t->ncols + c], t->types[c]);
        if (json_object_set_new(o, t->names[c], v) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *au_out_table_json(const au_out_table_t *t)
{
    json_t *a = json_array();
    for (size_t r = 0; a && r < t->nrows; r++) {
        if (json_array_append_new(a, au_out_row_json(t, r)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int au_out_json(json_t *root, FILE *out, au_error_t *err)
{
    if (!root)
        return au_error_set(err, AU_ENOMEM,
                            "cannot build the JSON output (out of memory, "
                            "or text that is not UTF-8)");
    /* Twelve significant digits: scores print as 72.5, not
     * 72.500000000000001, and nothing here is measured to more. */
    int rc = json_dumpf(root, out,
                        JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                            JSON_REAL_PRECISION(12));
    json_decref(root);
    if (rc < 0 || fputc('\n', out) == EOF)
        return au_error_set(err, AU_EIO, "cannot write the output");
    return 0;
}
