/* au_store.c: writing a batch's trends rows and predictions. */
#include "au_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_date.h"

static int exec_cmd(PGconn *c, const char *sql, au_error_t *err)
{
    return au_pg_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err);
}

/* ---- the trends columns, declared once ------------------------------------
 *
 * X(column, SQL type, kind, present, value, role). Every statement that
 * lists the columns (COPY, the load table, the upsert and its conflict
 * update, the derived update) is generated from this table, so a new
 * score column is one line here plus a migration (docs/ARCHITECTURE.md,
 * "A new score column"). A value whose `present` is false is NULL, and so
 * is a real that is NAN ("not computed"). Roles: KEY is the primary key,
 * FACT what the chart said, DERIVED what analytics computes from facts. */
#define AU_TREND_COLUMNS(X)                                                    \
    X(series_id, "int", int, 1, t->series_id, KEY)                             \
    X(track_id, "int", int, 1, t->track_id, KEY)                               \
    X(chart_date, "date", day, 1, t->day, KEY)                                 \
    X(position, "int", int, 1, t->position, FACT)                              \
    X(streams, "bigint", int, t->streams >= 0, t->streams, FACT)               \
    X(prev_position, "int", int, t->prev_position > 0, t->prev_position,       \
      DERIVED)                                                                 \
    X(score, "real", real, 1, t->score, DERIVED)                               \
    X(momentum, "real", real, 1, t->momentum, DERIVED)                         \
    X(acceleration, "real", real, 1, t->acceleration, DERIVED)                 \
    X(viral_score, "real", real, 1, t->viral_score, DERIVED)                   \
    X(confidence, "real", real, 1, t->confidence, DERIVED)                     \
    X(mood_score, "real", real, 1, t->mood_score, DERIVED)                     \
    X(direction, "smallint", int, t->direction >= 0, t->direction, DERIVED)    \
    X(mood, "smallint", int, t->mood >= 0, t->mood, DERIVED)                   \
    X(breakout, "real", real, 1, t->breakout, DERIVED)

enum { KEY, FACT, DERIVED };

typedef struct {
    const char *name, *type;
    int role;
} column_t;

static const column_t columns[] = {
#define AU__COL(name, type, kind, present, value, role) {#name, type, role},
    AU_TREND_COLUMNS(AU__COL)
#undef AU__COL
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

static int put_null(au_buf_t *b)
{
    return au_buf_put(b, "\\N", 2);
}

static int put_int(au_buf_t *b, int present, long long v)
{
    if (!present)
        return put_null(b);
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    return au_buf_put(b, tmp, (size_t)n);
}

static int put_day(au_buf_t *b, int present, long day)
{
    char d[AU_DATE_LEN + 1];
    if (!present)
        return put_null(b);
    if (au_date_format(day, d) < 0)
        return AU_ERANGE;
    return au_buf_put(b, d, AU_DATE_LEN);
}

/* Nine significant digits hold every float4 exactly. */
static int put_real(au_buf_t *b, int present, double v)
{
    if (!present || !isfinite(v))
        return put_null(b);
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.9g", v);
    return au_buf_put(b, tmp, (size_t)n);
}

/* One row as COPY text, in the declared column order. AU_ERANGE for a
 * date outside the calendar, AU_ENOMEM. */
static int copy_row(au_buf_t *b, const au_trend_t *t)
{
    int rc = 0, bad_day = 0;
    size_t col = 0;
#define AU__PUT(name, type, kind, present, value, role)                        \
    {                                                                          \
        int r = put_##kind(b, present, value);                                 \
        bad_day |= r == AU_ERANGE;                                             \
        rc |= r;                                                               \
        rc |= au_buf_put(b, ++col < NCOLUMNS ? "\t" : "\n", 1);                \
    }
    AU_TREND_COLUMNS(AU__PUT)
#undef AU__PUT
    return bad_day ? AU_ERANGE : rc ? AU_ENOMEM : 0;
}

#define ROLE(r) (1u << (r))

/* Appends the columns of the given roles, each as fmt with the column
 * name as its first argument and the type as its second. */
static int list_columns(au_buf_t *b, unsigned roles, const char *fmt,
                        const char *sep)
{
    int rc = 0, first = 1;
    for (size_t i = 0; i < NCOLUMNS; i++) {
        if (!(roles & ROLE(columns[i].role)))
            continue;
        char item[160];
        int n =
            snprintf(item, sizeof(item), fmt, columns[i].name, columns[i].type);
        if (!first)
            rc |= au_buf_put(b, sep, strlen(sep));
        rc |= au_buf_put(b, item, (size_t)n);
        first = 0;
    }
    return rc;
}

static int put_str(au_buf_t *b, const char *s)
{
    return au_buf_put(b, s, strlen(s));
}

#define ALL (ROLE(KEY) | ROLE(FACT) | ROLE(DERIVED))

/* The statements generated from the column table, built once per
 * process (workers are single-threaded; a failed build is retried). */
static struct {
    au_buf_t copy_new, create_load, upsert, derived;
    int built;
} gen;

static int build_sql(void)
{
    if (gen.built)
        return 0;
    int rc = put_str(&gen.copy_new, "COPY trends (");
    rc |= list_columns(&gen.copy_new, ALL, "%s", ", ");
    rc |= put_str(&gen.copy_new, ") FROM STDIN");
    rc |=
        put_str(&gen.create_load, "CREATE TEMP TABLE IF NOT EXISTS au_load (");
    rc |= list_columns(&gen.create_load, ALL, "%s %s", ", ");
    rc |= put_str(&gen.create_load, ") ON COMMIT DELETE ROWS");
    rc |= put_str(&gen.upsert, "INSERT INTO trends (");
    rc |= list_columns(&gen.upsert, ALL, "%s", ", ");
    rc |= put_str(&gen.upsert, ") SELECT ");
    rc |= list_columns(&gen.upsert, ALL, "%s", ", ");
    rc |= put_str(&gen.upsert, " FROM au_load ON CONFLICT (");
    rc |= list_columns(&gen.upsert, ROLE(KEY), "%s", ", ");
    rc |= put_str(&gen.upsert, ") DO UPDATE SET ");
    rc |= list_columns(&gen.upsert, ROLE(FACT) | ROLE(DERIVED),
                       "%1$s = EXCLUDED.%1$s", ", ");
    rc |= put_str(&gen.derived, "UPDATE trends t SET ");
    rc |= list_columns(&gen.derived, ROLE(DERIVED), "%1$s = l.%1$s", ", ");
    rc |= put_str(&gen.derived, " FROM au_load l WHERE ");
    rc |= list_columns(&gen.derived, ROLE(KEY), "t.%1$s = l.%1$s", " AND ");
    if (rc) {
        au_buf_free(&gen.copy_new);
        au_buf_free(&gen.create_load);
        au_buf_free(&gen.upsert);
        au_buf_free(&gen.derived);
        return AU_ENOMEM;
    }
    gen.built = 1;
    return 0;
}

int au_store_write_trends(PGconn *c, const au_trend_t *rows, size_t n,
                          au_write_mode_t mode, au_error_t *err)
{
    if (n == 0)
        return 0;
    if (build_sql() < 0)
        return au_error_set(err, AU_ENOMEM, "store: out of memory");
    au_buf_t b = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = copy_row(&b, &rows[i]);
    if (rc == AU_ERANGE) {
        au_buf_free(&b);
        return au_error_set(err, rc, "store: a chart date outside 0001..9999");
    }
    if (rc < 0) {
        au_buf_free(&b);
        return au_error_set(err, AU_ENOMEM, "store: out of memory");
    }
    if (mode == AU_WRITE_NEW) {
        rc = au_pg_copy(c, gen.copy_new.data, &b, err);
    } else {
        rc = exec_cmd(c, gen.create_load.data, err);
        if (rc == 0)
            rc = au_pg_copy(c, "COPY au_load FROM STDIN", &b, err);
        if (rc == 0)
            rc = exec_cmd(
                c, mode == AU_WRITE_UPSERT ? gen.upsert.data : gen.derived.data,
                err);
        if (rc == 0)
            rc = exec_cmd(c, "TRUNCATE au_load", err);
    }
    au_buf_free(&b);
    return rc;
}

int au_store_lock_series(PGconn *c, int32_t series_id, int64_t *instance,
                         au_error_t *err)
{
    au_params_t p = {0};
    au_params_int(&p, series_id);
    PGresult *r;
    int rc = au_pg_run(c,
                       "SELECT (SELECT instance FROM store_meta) FROM series "
                       "WHERE id = $1 FOR UPDATE OF series",
                       &p, PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    int found = PQntuples(r) == 1;
    if (found)
        *instance = au_pg_ll(r, 0, 0);
    PQclear(r);
    /* Only ids remembered from another store name a series that is not
     * here: the caller forgets them and tries again. */
    return found ? 0
                 : au_error_set(err, AU_ERETRY, "no series %d in this store",
                                (int)series_id);
}

int au_store_instance(PGconn *c, int64_t *instance, au_error_t *err)
{
    PGresult *r;
    int rc = au_pg_run(c, "SELECT instance FROM store_meta", NULL,
                       PGRES_TUPLES_OK, &r, err);
    if (rc < 0)
        return rc;
    *instance = PQntuples(r) == 1 ? au_pg_ll(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

/* ---- predictions --------------------------------------------------------- */

static int prediction_row(au_buf_t *b, const au_prediction_t *p)
{
    int rc = put_int(b, 1, p->series_id);
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_int(b, 1, p->track_id);
    rc |= au_buf_put(b, "\t", 1);
    if (put_day(b, 1, p->day) < 0)
        return AU_ERANGE;
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_real(b, 1, p->confidence);
    rc |= au_buf_put(b, "\t", 1);
    /* A peak past the calendar's end is stored as unknown. */
    char peak[AU_DATE_LEN + 1];
    int has_peak = au_date_format(p->peak_day, peak) == 0;
    rc |= has_peak ? put_str(b, peak) : put_null(b);
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_real(b, 1, p->predicted_peak_score);
    rc |= au_buf_put(b, "\t", 1);
    rc |= au_buf_copy_field(b, p->features_json);
    rc |= au_buf_put(b, "\t", 1);
    rc |= put_str(b, p->method);
    rc |= au_buf_put(b, "\n", 1);
    return rc ? AU_ENOMEM : 0;
}

/* The entries as three parallel array literals ($1 series, $2 tracks,
 * $3 dates) for unnest. */
static int key_params(const au_entry_key_t *k, size_t n, au_buf_t lit[3],
                      au_params_t *p)
{
    int rc = 0;
    for (int col = 0; col < 3 && rc == 0; col++) {
        rc |= au_buf_put(&lit[col], "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                rc |= au_buf_put(&lit[col], ",", 1);
            if (col == 2)
                rc |= put_day(&lit[col], 1, k[i].day);
            else
                rc |= put_int(&lit[col], 1,
                              col == 0 ? k[i].series_id : k[i].track_id);
        }
        rc |= au_buf_put(&lit[col], "}", 1);
        au_params_str(p, lit[col].data);
    }
    return rc ? AU_ENOMEM : 0;
}

static int clear_predictions(PGconn *c, const au_entry_key_t *keys, size_t n,
                             au_error_t *err)
{
    au_buf_t lit[3] = {{0}};
    au_params_t p = {0};
    int rc = key_params(keys, n, lit, &p);
    if (rc < 0)
        rc = au_error_set(err, rc, "predictions: out of memory");
    else
        rc = au_pg_run(c,
                       "DELETE FROM viral_predictions v USING unnest("
                       " $1::int[], $2::int[], $3::date[]) u(s, t, d) "
                       "WHERE v.series_id = u.s AND v.track_id = u.t "
                       " AND v.prediction_date = u.d",
                       &p, PGRES_COMMAND_OK, NULL, err);
    for (int i = 0; i < 3; i++)
        au_buf_free(&lit[i]);
    return rc;
}

int au_store_write_predictions(PGconn *c, const au_entry_key_t *keys,
                               size_t nkeys, const au_prediction_t *p, size_t n,
                               au_error_t *err)
{
    int rc = nkeys ? clear_predictions(c, keys, nkeys, err) : 0;
    if (rc < 0 || n == 0)
        return rc;
    au_buf_t b = {0};
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = prediction_row(&b, &p[i]);
    if (rc < 0) {
        au_buf_free(&b);
        return au_error_set(err, rc, "predictions: %s", au_strerror(rc));
    }
    rc = au_pg_copy(c,
                    "COPY viral_predictions (series_id, track_id, "
                    " prediction_date, confidence, predicted_peak_date, "
                    " predicted_peak_score, prediction_features, method) "
                    "FROM STDIN",
                    &b, err);
    au_buf_free(&b);
    return rc;
}
