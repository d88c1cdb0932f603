/* au_log.c: JSON lines built on the stack and written with one write(2).
 *
 * A line is at most PIPE_BUF bytes: POSIX makes writes of that size to a
 * pipe atomic, which is what keeps lines from several worker processes
 * sharing one pipe (or one O_APPEND file) from interleaving. Longer
 * messages are cut at a character boundary and the line says so with
 * "truncated":true, so it is still one valid JSON object. */
#include "au_log.h"

#include "au_err.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef PIPE_BUF
#define AU__LOG_LINE_MAX PIPE_BUF
#else
#define AU__LOG_LINE_MAX 4096
#endif

/* Set once by au_log_init, before any thread starts, then only read. */
static char au__component[64] = "audora";
static au_log_level_t au__min_level = AU_LOG_INFO;
static int au__fd = 2;

static const char *const au__level_names[] = {"debug", "info", "warn", "error"};

void au_log_set_level(au_log_level_t min_level)
{
    au__min_level = min_level;
}

void au_log_init(const char *component, au_log_level_t min_level, int fd)
{
    assert(min_level >= AU_LOG_DEBUG && min_level <= AU_LOG_ERROR);
    if (component) {
        size_t n = strlen(component);
        if (n >= sizeof(au__component))
            n = sizeof(au__component) - 1;
        memcpy(au__component, component, n);
        au__component[n] = '\0';
    }
    au__min_level = min_level;
    au__fd = fd;
}

int au_log_level_parse(const char *s)
{
    for (int i = 0; i <= AU_LOG_ERROR; i++)
        if (s && strcmp(s, au__level_names[i]) == 0)
            return i;
    return -1;
}

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
} au__line_t;

static void au__put(au__line_t *l, const char *s, size_t n)
{
    /* Callers reserve room first; overrunning here is a bug. */
    assert(l->len + n <= l->cap);
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void au__puts(au__line_t *l, const char *s)
{
    au__put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it
 * is not one: overlong forms, surrogates and code points past U+10FFFF are
 * all invalid JSON text. */
static size_t au__utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned long cp;
    unsigned long min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1Fu;
        min = 0x80;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0Fu;
        min = 0x800;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends s[0..n) as JSON string content, never past limit; each escape
 * or character goes in whole or not at all. Returns 1 when cut short. */
static int au__escape(au__line_t *l, const char *s, size_t n, size_t limit)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        char esc[6];
        const char *out = esc;
        size_t olen;
        size_t used = 1;
        if (p[i] < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0xF];
            olen = 6;
        } else if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            olen = 2;
        } else if (p[i] < 0x80) {
            out = (const char *)p + i;
            olen = 1;
        } else if ((used = au__utf8_len(p + i, n - i)) > 0) {
            out = (const char *)p + i;
            olen = used;
        } else {
            out = "\xEF\xBF\xBD"; /* U+FFFD REPLACEMENT CHARACTER */
            olen = 3;
            used = 1;
        }
        if (l->len + olen > limit)
            return 1;
        au__put(l, out, olen);
        i += used;
    }
    return 0;
}

static void au__timestamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    char base[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

static void au__write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report a failing log stream */
        buf += n;
        len -= (size_t)n;
    }
}

static void au__log_v(au_log_level_t level, const au_log_ctx_t *ctx, int code,
                      const char *fields, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

void au_log_ev(au_log_level_t level, const au_log_ctx_t *ctx, int code,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    au__log_v(level, ctx, code, NULL, fmt, ap);
    va_end(ap);
}

void au_log_fields(au_log_level_t level, const au_log_ctx_t *ctx, int code,
                   const char *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    au__log_v(level, ctx, code, fields, fmt, ap);
    va_end(ap);
}

static void au__log_v(au_log_level_t level, const au_log_ctx_t *ctx, int code,
                      const char *fields, const char *fmt, va_list ap)
{
    assert(level >= AU_LOG_DEBUG && level <= AU_LOG_ERROR);
    if (level < au__min_level)
        return;
    /* Callers log and then look at errno, or log it with %m. */
    int saved_errno = errno;
    static const char truncated[] = ",\"truncated\":true";
    char line[AU__LOG_LINE_MAX];
    char msg[AU__LOG_LINE_MAX];
    char tail[192] = "";
    char ts[48];
    char num[64];
    int tn = 0;

    int mn = vsnprintf(msg, sizeof(msg), fmt, ap);
    int cut = mn >= (int)sizeof(msg);
    size_t mlen = mn < 0 ? 0 : cut ? sizeof(msg) - 1 : (size_t)mn;
    errno = saved_errno;

    if (ctx && ctx->job_id != 0)
        tn += snprintf(tail + tn, sizeof(tail) - (size_t)tn, ",\"job\":%lld",
                       (long long)ctx->job_id);
    if (ctx)
        tn += snprintf(tail + tn, sizeof(tail) - (size_t)tn, ",\"attempt\":%d",
                       (int)ctx->attempt);
    if (ctx && ctx->seq != -1)
        tn += snprintf(tail + tn, sizeof(tail) - (size_t)tn, ",\"seq\":%d",
                       (int)ctx->seq);
    if (code != 0)
        tn += snprintf(tail + tn, sizeof(tail) - (size_t)tn, ",\"code\":\"%s\"",
                       au_err_name(code));
    /* The members of a JSON object the caller built, spliced in: at most
     * half a line, or only how many bytes were left out. */
    size_t flen = fields ? strlen(fields) : 0;
    int spliced = flen > 2 && fields[0] == '{' && fields[flen - 1] == '}' &&
                  flen < AU__LOG_LINE_MAX / 2;
    if (flen > 2 && !spliced)
        snprintf(tail + tn, sizeof(tail) - (size_t)tn,
                 ",\"fields_left_out\":%zu", flen);

    au__line_t l = {line, 0, sizeof(line)};
    au__timestamp(ts, sizeof(ts));
    au__puts(&l, "{\"ts\":\"");
    au__puts(&l, ts);
    au__puts(&l, "\",\"level\":\"");
    au__puts(&l, au__level_names[level]);
    au__puts(&l, "\",\"component\":\"");
    au__escape(&l, au__component, strlen(au__component), l.cap);
    snprintf(num, sizeof(num), "\",\"pid\":%ld,\"msg\":\"", (long)getpid());
    au__puts(&l, num);
    /* Room after the message: its closing quote, the tail, the truncation
     * marker, "}" and the newline. */
    size_t reserve = 1 + strlen(tail) + (sizeof(truncated) - 1) + 2 +
                     (spliced ? flen - 1 : 0);
    cut |= au__escape(&l, msg, mlen, l.cap - reserve);
    au__puts(&l, "\"");
    au__puts(&l, tail);
    if (spliced) {
        au__puts(&l, ",");
        au__put(&l, fields + 1, flen - 2);
    }
    if (cut)
        au__puts(&l, truncated);
    au__puts(&l, "}\n");
    au__write_all(au__fd, line, l.len);
    errno = saved_errno;
}
