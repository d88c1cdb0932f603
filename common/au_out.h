/* au_out.h: the one printer of command output: aligned text tables for
 * people and JSON for scripts, from the same rows.
 *
 * A table has typed columns. The type decides the alignment in text (a
 * number aligns right, anything else left) and the JSON value of a cell
 * (an integer or a number, true/false, embedded JSON, or a string); a
 * missing cell (SQL NULL) prints as "-" and becomes null. Tables come
 * from a PGresult (the queue, store and fleet functions document their
 * columns; the column types come from PostgreSQL) or are built row by
 * row by a command. Cell widths count terminal columns, not bytes: UTF-8
 * is decoded, combining marks take none and East Asian wide characters
 * two, so titles in any script line up. No line ends in a blank. */
#ifndef AU_OUT_H
#define AU_OUT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "au_err.h"

#define AU_OUT_MAX_WIDTH 40 /* default cap of a cell, in columns */

typedef enum {
    AU_OUT_STR,  /* text */
    AU_OUT_INT,  /* an integer */
    AU_OUT_NUM,  /* a number */
    AU_OUT_BOOL, /* PostgreSQL's t/f (or true/false) */
    AU_OUT_JSON  /* JSON text, embedded as a value */
} au_out_type_t;

typedef struct {
    const char *name;
    au_out_type_t type;
} au_out_col_t;

typedef struct au_out_table_t au_out_table_t;

/* An empty table with these columns (names copied). NULL: no memory. */
au_out_table_t *au_out_table_new(const au_out_col_t *cols, size_t ncols);
/* The columns of r, typed by their PostgreSQL types, and with_rows: every
 * row of r too. NULL: no memory. */
au_out_table_t *au_out_table_pg(const PGresult *r, int with_rows);
void au_out_table_destroy(au_out_table_t **self_p);

/* Appends a row of ncols cells (copied); a NULL cell is missing. 0 or
 * AU_ENOMEM. */
int au_out_table_add(au_out_table_t *t, const char *const *cells);
/* Appends row `row` of r, whose columns must be the table's. */
int au_out_table_add_pg(au_out_table_t *t, const PGresult *r, int row);
size_t au_out_table_nrows(const au_out_table_t *t);
/* Cells wider than `columns` are cut and end in "..." (0: never cut). */
void au_out_table_max_width(au_out_table_t *t, size_t columns);

/* The header and every row, aligned, columns two blanks apart. */
int au_out_table_print(const au_out_table_t *t, FILE *out);
/* One row as "name  value" lines, names aligned, values never cut: for
 * a record too wide for a table (`audora dlq show`). */
int au_out_record_print(const au_out_table_t *t, size_t row, FILE *out);

/* An array of one object per row, keys the column names in order; NULL
 * when out of memory or a cell is not UTF-8. */
json_t *au_out_table_json(const au_out_table_t *t);
/* One row as an object; NULL as above. */
json_t *au_out_row_json(const au_out_table_t *t, size_t row);
/* The JSON value of a cell of the given type (NULL text: null). A cell
 * that does not read as its type stays a string. */
json_t *au_out_value(const char *text, au_out_type_t type);
/* Writes root (taking it) indented by two, keys in insertion order,
 * numbers to 12 significant digits, and a newline. NULL root is an
 * AU_ENOMEM error: callers can pass a builder's result straight in. */
int au_out_json(json_t *root, FILE *out, au_error_t *err);

/* Terminal columns of a UTF-8 string. */
size_t au_out_width(const char *s);

#endif
