/* au_query_util.c: what the query commands share: reading result cells,
 * building JSON, checking option values, a table with aligned columns. */
#include "au_query_util.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_chartname.h"
#include "au_query.h"

#define TBL_MAX_COLS 16

/* A text table for the cores: columns named heads, aligned by align ('r'
 * a number, right; 'l' text, left). NULL when out of memory. */
au_out_table_t *au__q_tbl_new(size_t ncols, const char *const *heads,
                              const char *align)
{
    au_out_col_t cols[TBL_MAX_COLS];
    assert(ncols <= TBL_MAX_COLS && strlen(align) == ncols);
    for (size_t i = 0; i < ncols; i++)
        cols[i] =
            (au_out_col_t){heads[i], align[i] == 'r' ? AU_OUT_NUM : AU_OUT_STR};
    return au_out_table_new(cols, ncols);
}

/* ---- result and JSON helpers ---------------------------------------- */

const char *au__q_pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

double au__q_pg_num(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NAN
                                    : strtod(PQgetvalue(r, row, col), NULL);
}

long long au__q_pg_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A number cell: "-" for SQL NULL. */
const char *au__q_fmt_num(char *buf, size_t cap, const PGresult *r, int row,
                          int col, const char *fmt)
{
    if (PQgetisnull(r, row, col))
        return "-";
    snprintf(buf, cap, fmt, au__q_pg_num(r, row, col));
    return buf;
}

json_t *au__q_j_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *au__q_j_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *au__q_j_pg_real(const PGresult *r, int row, int col)
{
    return au__q_j_real(au__q_pg_num(r, row, col));
}

/* Sets o[k] = v, taking v; 0 or -1. A NULL v (out of memory, or text
 * that is not UTF-8) fails the set, so callers OR the results. */
int au__q_jset(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v);
}

int au__q_json_fail(json_t *root, au_error_t *err, const char *what)
{
    json_decref(root);
    return au_error_set(err, AU_ENOMEM,
                        "%s: cannot build JSON (out of memory or text "
                        "that is not UTF-8)",
                        what);
}

/* ---- option checks -------------------------------------------------- */

int au__q_check_date(const char *flag, const char *s, au_error_t *err)
{
    if (s && !au_chartname_valid_date(s, strlen(s)))
        return au_error_set(err, AU_EINVAL, "%s %s: not a YYYY-MM-DD date",
                            flag, s);
    return 0;
}

int au__q_check_name(const char *flag, const char *s, au_error_t *err)
{
    if (s && !s[0])
        return au_error_set(err, AU_EINVAL, "%s: empty value", flag);
    return 0;
}

int au__q_check_range(const char *from, const char *to, au_error_t *err)
{
    int rc = au__q_check_date("--from", from, err);
    if (rc == 0)
        rc = au__q_check_date("--to", to, err);
    /* ISO dates compare as strings. */
    if (rc == 0 && from && to && strcmp(from, to) > 0)
        rc = au_error_set(err, AU_EINVAL, "--from %s is after --to %s", from,
                          to);
    return rc;
}

int au__q_check_limit(int limit, au_error_t *err)
{
    if (limit < 1 || limit > AU_QUERY_MAX_LIMIT)
        return au_error_set(err, AU_EINVAL, "--limit %d: must be 1..%d", limit,
                            AU_QUERY_MAX_LIMIT);
    return 0;
}

int au__q_check_days(int days, au_error_t *err)
{
    if (days < 1 || days > AU_QUERY_MAX_DAYS)
        return au_error_set(err, AU_EINVAL, "--days %d: must be 1..%d", days,
                            AU_QUERY_MAX_DAYS);
    return 0;
}

int au__q_check_failed(au_cmd_t *cmd)
{
    return au_cli_usage_error(cmd->cli->spec, "%s", cmd->err.msg);
}
