#include "au_pg.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int au_pg_exec(PGconn *c, const char *sql, int nparams,
               const char *const *params, ExecStatusType expect, PGresult **out,
               au_error_t *err)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == expect) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    char msg[200];
    snprintf(msg, sizeof(msg), "%s",
             r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    msg[strcspn(msg, "\n")] = '\0';
    /* 40001 serialization, 40P01 deadlock, 08xxx connection, 57P01 admin
     * shutdown: the same work may succeed if tried again. */
    int code = AU_EDB;
    if (PQstatus(c) != CONNECTION_OK ||
        (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
                   !strncmp(state, "08", 2) || !strcmp(state, "57P01"))))
        code = AU_ERETRY;
    au_error_set(err, code, "%s", msg[0] ? msg : "database error");
    PQclear(r);
    if (out)
        *out = NULL;
    return code;
}

int au_buf_put(au_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return AU_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int au_buf_copy_field(au_buf_t *b, const char *s)
{
    if (!s)
        return au_buf_put(b, "\\N", 2);
    /* COPY text format: backslash, tab, newline and CR are escaped. */
    const char *run = s;
    for (; *s; s++) {
        const char *esc = NULL;
        switch (*s) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        if (au_buf_put(b, run, (size_t)(s - run)) < 0 ||
            au_buf_put(b, esc, 2) < 0)
            return AU_ENOMEM;
        run = s + 1;
    }
    return au_buf_put(b, run, (size_t)(s - run));
}

void au_buf_free(au_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int au_pg_copy(PGconn *c, const char *sql, const au_buf_t *b, au_error_t *err)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        au_error_set(err, AU_EDB, "COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
        return AU_EDB;
    }
    PQclear(r);
    /* libpq buffers internally; 1 MiB pieces keep the call count low. */
    size_t off = 0;
    while (off < b->len) {
        size_t n = b->len - off > (1u << 20) ? (1u << 20) : b->len - off;
        if (PQputCopyData(c, b->data + off, (int)n) != 1)
            break;
        off += n;
    }
    int ok = off == b->len && PQputCopyEnd(c, NULL) == 1;
    int rc = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            au_error_set(err, AU_EDB, "COPY: %s", PQresultErrorMessage(r));
            rc = AU_EDB;
        }
        PQclear(r);
    }
    if (!ok && rc == 0)
        rc = au_error_set(err, AU_ERETRY, "COPY: %s", PQerrorMessage(c));
    if (rc < 0 && PQstatus(c) != CONNECTION_OK)
        rc = AU_ERETRY;
    return rc;
}

int au_buf_text_array(au_buf_t *b, size_t n, const char *const *v)
{
    int rc = au_buf_put(b, "{", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc |= au_buf_put(b, ",", 1);
        rc |= au_buf_put(b, "\"", 1);
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                rc |= au_buf_put(b, "\\", 1);
            rc |= au_buf_put(b, s, 1);
        }
        rc |= au_buf_put(b, "\"", 1);
    }
    rc |= au_buf_put(b, "}", 1);
    return rc ? AU_ENOMEM : 0;
}

void au_params_str(au_params_t *p, const char *s)
{
    /* A statement with more parameters than the struct holds is a
     * programmer's mistake that the first test run shows. */
    assert(p->n < AU_PG_MAX_PARAMS);
    p->is_num[p->n] = 0;
    p->text[p->n++] = s;
}

void au_params_int(au_params_t *p, long long v)
{
    assert(p->n < AU_PG_MAX_PARAMS);
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", v);
    p->is_num[p->n] = 1;
    p->text[p->n++] = NULL;
}

int au_pg_run(PGconn *c, const char *sql, const au_params_t *p,
              ExecStatusType expect, PGresult **out, au_error_t *err)
{
    const char *v[AU_PG_MAX_PARAMS];
    int n = p ? p->n : 0;
    for (int i = 0; i < n; i++)
        v[i] = p->is_num[i] ? p->num[i] : p->text[i];
    return au_pg_exec(c, sql, n, v, expect, out, err);
}

long long au_pg_ll(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

long au_pg_changed(PGresult *r)
{
    return strtol(PQcmdTuples(r), NULL, 10);
}
