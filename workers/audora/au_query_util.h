/* au_query_util.h: internal to the query commands (au__q_ prefix): result
 * cells, JSON pieces, option checks and a table, shared by au_query.c and
 * au_query_pl.c. */
#ifndef AU_QUERY_UTIL_H
#define AU_QUERY_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "au_cmd.h"
#include "au_err.h"
#include "au_out.h"

/* A table of ncols columns named heads, aligned by align ("r" numbers,
 * "l" text); NULL when out of memory. */
au_out_table_t *au__q_tbl_new(size_t ncols, const char *const *heads,
                              const char *align);
/* A cell as text, NULL for SQL NULL. */
const char *au__q_pg_str(const PGresult *r, int row, int col);
/* A cell as a number, NAN for SQL NULL. */
double au__q_pg_num(const PGresult *r, int row, int col);
/* A cell as an integer (0 for SQL NULL). */
long long au__q_pg_int(const PGresult *r, int row, int col);
/* A number cell formatted by fmt into buf; "-" for SQL NULL. */
const char *au__q_fmt_num(char *buf, size_t cap, const PGresult *r, int row,
                          int col, const char *fmt);
/* JSON text, or null for NULL. */
json_t *au__q_j_str(const char *s);
/* A JSON number, or null when not finite. */
json_t *au__q_j_real(double v);
/* A cell as a JSON number or null. */
json_t *au__q_j_pg_real(const PGresult *r, int row, int col);
/* Sets o[k] = v, taking v; 0 or -1 (a NULL v fails, so callers OR the
 * results and check once). */
int au__q_jset(json_t *o, const char *k, json_t *v);
/* Frees root; AU_ENOMEM naming what could not be built. */
int au__q_json_fail(json_t *root, au_error_t *err, const char *what);
/* AU_EINVAL naming the flag unless s is NULL or a YYYY-MM-DD date. */
int au__q_check_date(const char *flag, const char *s, au_error_t *err);
/* AU_EINVAL naming the flag when s is empty. */
int au__q_check_name(const char *flag, const char *s, au_error_t *err);
/* --from and --to are dates and from <= to. */
int au__q_check_range(const char *from, const char *to, au_error_t *err);
/* --limit within 1..AU_QUERY_MAX_LIMIT. */
int au__q_check_limit(int limit, au_error_t *err);
/* --days within 1..AU_QUERY_MAX_DAYS. */
int au__q_check_days(int days, au_error_t *err);
/* A check that failed after parsing: still a usage error (exit 2). */
int au__q_check_failed(au_cmd_t *cmd);

#endif
