/* au_log.h: JSON-line logging.
 *
 * One object per line on the configured stream (stderr by default):
 *   {"ts":"2026-11-23T22:58:28.123Z","level":"info","component":"ingest",
 *    "pid":123,"msg":"...","job":7,"attempt":1,"seq":3,"code":"AU_EPARSE"}
 * job/attempt/seq appear only when a context is given, code only when
 * non-zero. Strings are JSON-escaped; a line is written with one write(2)
 * so lines from several processes sharing a pipe do not interleave. */
#ifndef AU_LOG_H
#define AU_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    AU_LOG_DEBUG = 0,
    AU_LOG_INFO = 1,
    AU_LOG_WARN = 2,
    AU_LOG_ERROR = 3
} au_log_level_t;

typedef struct {
    int64_t job_id; /* 0: omitted */
    int32_t attempt;
    int32_t seq; /* -1: omitted */
} au_log_ctx_t;

/* Sets the component name (copied), the minimum level and the output fd. */
void au_log_init(const char *component, au_log_level_t min_level, int fd);
/* Changes the minimum level (a reload). */
void au_log_set_level(au_log_level_t min_level);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int au_log_level_parse(const char *s);
/* Writes one line. ctx may be NULL; code is an AU_E* value or 0. */
void au_log_ev(au_log_level_t level, const au_log_ctx_t *ctx, int code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The same, with the members of fields (a JSON object's text, such as a
 * job's parameters, NULL for none) as members of the line: queryable as
 * JSON, not text inside msg. */
void au_log_fields(au_log_level_t level, const au_log_ctx_t *ctx, int code,
                   const char *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define au_debug(...) au_log_ev(AU_LOG_DEBUG, NULL, 0, __VA_ARGS__)
#define au_info(...) au_log_ev(AU_LOG_INFO, NULL, 0, __VA_ARGS__)
#define au_warn(...) au_log_ev(AU_LOG_WARN, NULL, 0, __VA_ARGS__)
#define au_error(...) au_log_ev(AU_LOG_ERROR, NULL, 0, __VA_ARGS__)

#endif
