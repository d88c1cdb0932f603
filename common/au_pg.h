/* au_pg.h: the generic PostgreSQL helpers every table's module uses: one
 * way to run a statement and classify its failure, and a growable buffer
 * for COPY data and array literals. No module here knows any table; the
 * statements live with the module that owns their table (see
 * docs/ARCHITECTURE.md, "Who owns what"). */
#ifndef AU_PG_H
#define AU_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "au_err.h"

/* Runs SQL with text params and expects `expect` (PGRES_*); on failure
 * fills err with the server's message and returns AU_EDB (AU_ERETRY for
 * serialization failures, deadlocks and lost connections). The result
 * is returned through *out (may be NULL: cleared). */
int au_pg_exec(PGconn *c, const char *sql, int nparams,
               const char *const *params, ExecStatusType expect, PGresult **out,
               au_error_t *err);

/* The parameters of one statement, in order. Numbers are written into
 * the struct's own storage and found there when the statement runs, so a
 * statement's parameters are one local variable that may be copied or
 * returned: au_params_t p = {0}; au_params_int(&p, id); ... */
#define AU_PG_MAX_PARAMS 12
typedef struct {
    int n;
    const char *text[AU_PG_MAX_PARAMS]; /* NULL for a number */
    char num[AU_PG_MAX_PARAMS][24];
    unsigned char is_num[AU_PG_MAX_PARAMS];
} au_params_t;
/* Appends a text parameter (NULL is SQL NULL). */
void au_params_str(au_params_t *p, const char *s);
/* Appends an integer parameter. */
void au_params_int(au_params_t *p, long long v);
/* au_pg_exec with p's parameters. */
int au_pg_run(PGconn *c, const char *sql, const au_params_t *p,
              ExecStatusType expect, PGresult **out, au_error_t *err);
/* Column col of row as an integer (0 when NULL); rows are the server's,
 * so the text is a valid number. */
long long au_pg_ll(const PGresult *r, int row, int col);
/* How many rows a command changed (PQcmdTuples as a number). */
long au_pg_changed(PGresult *r);

/* A growable byte buffer, always NUL-terminated. A zeroed au_buf_t is
 * empty and valid; au_buf_free releases it and leaves it empty. */
typedef struct {
    char *data;
    size_t len, cap;
} au_buf_t;
int au_buf_put(au_buf_t *b, const void *p, size_t n);
int au_buf_copy_field(au_buf_t *b, const char *s);
void au_buf_free(au_buf_t *b);
/* Appends a PostgreSQL text[] literal, {"a","b"}, with \ and " escaped,
 * for passing n strings as one parameter. 0 or AU_ENOMEM. */
int au_buf_text_array(au_buf_t *b, size_t n, const char *const *v);

/* Sends b as COPY data for sql (a COPY ... FROM STDIN statement). */
int au_pg_copy(PGconn *c, const char *sql, const au_buf_t *b, au_error_t *err);

#endif
