/* au_err.h: the one table of Audora error codes.
 *
 * Functions return 0 on success or a negative AU_E* code. The detail of a
 * failure (which key, which line) travels in an au_error_t or in the log
 * line, never in the code itself. */
#ifndef AU_ERR_H
#define AU_ERR_H

#include <stddef.h>

/* X(name, value, message). Values are stable: they appear in logs,
 * metrics labels and dead-letter reasons. Append, never renumber; a code
 * that is retired leaves its value unused (-24 was "job is dead"). HTTP
 * and RATELIMIT belong to the HTTP sources (docs/ARCHITECTURE.md);
 * SERVICE is a body that is the service's own error answer (au_svc.h). */
#define AU_ERRNO_MAP(X)                                                        \
    X(OK, 0, "success")                                                        \
    X(NOMEM, -1, "out of memory")                                              \
    X(INVAL, -2, "invalid argument")                                           \
    X(IO, -3, "input/output error")                                            \
    X(CONFIG, -4, "invalid configuration")                                     \
    X(PARSE, -5, "malformed input")                                            \
    X(TOOBIG, -6, "input exceeds a size limit")                                \
    X(TYPE, -7, "wrong type")                                                  \
    X(MISSING, -8, "required field missing")                                   \
    X(VERSION, -9, "unsupported version")                                      \
    X(TRAILING, -10, "trailing bytes after message")                           \
    X(TRUNCATED, -11, "truncated input")                                       \
    X(RANGE, -12, "value out of range")                                        \
    X(DB, -13, "database error")                                               \
    X(DBCONN, -14, "database connection failed")                               \
    X(TIMEOUT, -15, "timed out")                                               \
    X(CACHE, -16, "cache backend error")                                       \
    X(NOTFOUND, -17, "not found")                                              \
    X(STALE, -18, "stale attempt (fenced)")                                    \
    X(DUP, -19, "already applied")                                             \
    X(HTTP, -20, "HTTP error")                                                 \
    X(RATELIMIT, -21, "rate limited")                                          \
    X(ZMQ, -22, "messaging error")                                             \
    X(INTR, -23, "interrupted")                                                \
    X(RETRY, -25, "transient failure, retry")                                  \
    X(NESTING, -26, "nesting too deep")                                        \
    X(UTF8, -27, "invalid UTF-8")                                              \
    X(MISMATCH, -28, "does not match its job")                                 \
    X(SERVICE, -29, "the service answered with an error")

typedef enum {
#define AU__ERR_ENUM(name, val, msg) AU_E##name = (val),
    AU_ERRNO_MAP(AU__ERR_ENUM)
#undef AU__ERR_ENUM
} au_errno_t;

/* Human message for a code ("malformed input"); never NULL. */
const char *au_strerror(int code);
/* Stable name for a code ("AU_EPARSE"); never NULL. */
const char *au_err_name(int code);

/* Detail of the last failure of an operation. Stack-allocated by callers;
 * functions that can fail in interesting ways take one (NULL is allowed). */
typedef struct {
    int code;
    char msg[256];
} au_error_t;

/* Sets err (when not NULL) to code and a printf-style message; returns
 * code so callers can write `return au_error_set(err, AU_EPARSE, ...)`. */
int au_error_set(au_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
