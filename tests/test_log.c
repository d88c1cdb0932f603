/* Logging: every line read back through a pipe and parsed with jansson, so
 * "valid JSON" is checked by a parser that is not ours. */
#include "au_err.h"
#include "au_log.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pipe_fds[2];

/* Logs go into a pipe; pipe capacity (64 KiB) covers what one test
 * writes before it reads. */
static void open_pipe(const char *component, au_log_level_t level)
{
    cr_assert_eq(pipe(pipe_fds), 0);
    au_log_init(component, level, pipe_fds[1]);
}

/* Closes the write end and returns everything written (malloc'd). */
static char *drain(size_t *len)
{
    close(pipe_fds[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        ssize_t r = read(pipe_fds[0], buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(pipe_fds[0]);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parses the one line in out; fails unless out is exactly one line. */
static json_t *one_line(const char *out, size_t len)
{
    cr_assert_gt(len, 0);
    cr_assert_eq(out[len - 1], '\n');
    cr_assert_eq(memchr(out, '\n', len), out + len - 1, "more than a line");
    json_error_t jerr;
    json_t *j = json_loadb(out, len - 1, 0, &jerr);
    cr_assert_not_null(j, "not JSON (%s at %d): %s", jerr.text, jerr.position,
                       out);
    cr_assert(json_is_object(j));
    return j;
}

static const char *str_field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "field %s is not a string", key);
    return json_string_value(v);
}

static long long int_field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_integer(v), "field %s is not an integer", key);
    return (long long)json_integer_value(v);
}

Test(log, line_is_one_json_object_with_the_documented_fields)
{
    open_pipe("ingest", AU_LOG_DEBUG);
    au_info("claimed %d jobs", 3);
    size_t len;
    char *out = drain(&len);
    json_t *j = one_line(out, len);
    cr_assert_str_eq(str_field(j, "level"), "info");
    cr_assert_str_eq(str_field(j, "component"), "ingest");
    cr_assert_str_eq(str_field(j, "msg"), "claimed 3 jobs");
    cr_assert_eq(int_field(j, "pid"), (long long)getpid());
    cr_assert_null(json_object_get(j, "job"));
    cr_assert_null(json_object_get(j, "attempt"));
    cr_assert_null(json_object_get(j, "seq"));
    cr_assert_null(json_object_get(j, "code"));
    cr_assert_null(json_object_get(j, "truncated"));
    cr_assert_eq(json_object_size(j), 5);
    cr_assert_eq(strncmp(out, "{\"ts\":", 6), 0, "ts comes first");
    json_decref(j);
    free(out);
}

Test(log, timestamp_is_current_utc_with_milliseconds)
{
    open_pipe("t", AU_LOG_DEBUG);
    time_t before = time(NULL);
    au_warn("tick");
    time_t after = time(NULL);
    size_t len;
    char *out = drain(&len);
    json_t *j = one_line(out, len);
    const char *ts = str_field(j, "ts");
    /* 2026-11-23T22:58:28.123Z */
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    cr_assert_eq(strlen(ts), strlen(shape), "%s", ts);
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd')
            cr_assert(ts[i] >= '0' && ts[i] <= '9', "%s", ts);
        else
            cr_assert_eq(ts[i], shape[i], "%s", ts);
    }
    struct tm tm = {0};
    tm.tm_year = (int)strtol(ts, NULL, 10) - 1900;
    tm.tm_mon = (int)strtol(ts + 5, NULL, 10) - 1;
    tm.tm_mday = (int)strtol(ts + 8, NULL, 10);
    tm.tm_hour = (int)strtol(ts + 11, NULL, 10);
    tm.tm_min = (int)strtol(ts + 14, NULL, 10);
    tm.tm_sec = (int)strtol(ts + 17, NULL, 10);
    time_t t = timegm(&tm);
    cr_assert(t >= before && t <= after, "%s is not now (UTC)", ts);
    json_decref(j);
    free(out);
}

Test(log, context_and_code_appear_when_given)
{
    open_pipe("analytics", AU_LOG_DEBUG);
    au_log_ctx_t full = {.job_id = 1099511627776LL, .attempt = 2, .seq = 0};
    au_log_ev(AU_LOG_ERROR, &full, AU_EPARSE, "bad batch");
    size_t len;
    char *out = drain(&len);
    json_t *j = one_line(out, len);
    cr_assert_str_eq(str_field(j, "level"), "error");
    cr_assert_eq(int_field(j, "job"), 1099511627776LL);
    cr_assert_eq(int_field(j, "attempt"), 2);
    cr_assert_eq(int_field(j, "seq"), 0);
    cr_assert_str_eq(str_field(j, "code"), "AU_EPARSE");
    json_decref(j);
    free(out);

    open_pipe("analytics", AU_LOG_DEBUG);
    au_log_ctx_t partial = {.job_id = 0, .attempt = 1, .seq = -1};
    au_log_ev(AU_LOG_INFO, &partial, 0, "no job yet");
    out = drain(&len);
    j = one_line(out, len);
    cr_assert_null(json_object_get(j, "job"));
    cr_assert_null(json_object_get(j, "seq"));
    cr_assert_null(json_object_get(j, "code"));
    cr_assert_eq(int_field(j, "attempt"), 1);
    json_decref(j);
    free(out);
}

Test(log, fields_are_members_of_the_line_not_text_in_msg)
{
    open_pipe("ingest", AU_LOG_DEBUG);
    au_log_fields(
        AU_LOG_INFO, NULL, 0,
        "{\"kind\":\"chart_csv\",\"params\":{\"path\":\"/a \\\"b\\\".csv\"}}",
        "claimed a %s job", "chart_csv");
    size_t len;
    char *out = drain(&len);
    json_t *j = one_line(out, len);
    cr_assert_str_eq(str_field(j, "msg"), "claimed a chart_csv job");
    cr_assert_str_eq(str_field(j, "kind"), "chart_csv");
    cr_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(j, "params"), "path")),
                     "/a \"b\".csv");
    json_decref(j);
    free(out);
    /* Fields too long for a line are left out, and counted. */
    char big[4000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"p\":\"", 6);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    open_pipe("ingest", AU_LOG_DEBUG);
    au_log_fields(AU_LOG_INFO, NULL, 0, big, "big");
    out = drain(&len);
    j = one_line(out, len);
    cr_assert_null(json_object_get(j, "p"));
    cr_assert_eq(int_field(j, "fields_left_out"), (long long)strlen(big));
    json_decref(j);
    free(out);
}

Test(log, quotes_backslashes_and_control_characters_are_escaped)
{
    const char *nasty = "say \"hi\" C:\\dir\\ nl\n cr\r tab\t bell\x07 "
                        "esc\x1b us\x1f del\x7f caf\xc3\xa9 \xe2\x82\xac "
                        "\xf0\x9f\x98\x80 </script>";
    open_pipe("co\"mp\\", AU_LOG_DEBUG);
    au_info("%s", nasty);
    size_t len;
    char *out = drain(&len);
    for (size_t i = 0; i + 1 < len; i++)
        cr_assert_geq((unsigned char)out[i], 0x20, "raw control byte at %zu",
                      i);
    cr_assert_not_null(strstr(out, "bell\\u0007"));
    cr_assert_not_null(strstr(out, "nl\\u000a"));
    json_t *j = one_line(out, len);
    cr_assert_str_eq(str_field(j, "msg"), nasty);
    cr_assert_str_eq(str_field(j, "component"), "co\"mp\\");
    json_decref(j);
    free(out);
}

Test(log, invalid_utf8_is_replaced_and_the_line_stays_valid)
{
    /* A stray byte, an overlong '/', a surrogate, a cut sequence. */
    open_pipe("t", AU_LOG_DEBUG);
    au_info("a\xff"
            "b\xc0\xaf"
            "c\xed\xa0\x80"
            "d\xf4\x90\x80\x80"
            "e\xe2\x82");
    size_t len;
    char *out = drain(&len);
    json_t *j = one_line(out, len);
#define R "\xef\xbf\xbd"
    cr_assert_str_eq(str_field(j, "msg"),
                     "a" R "b" R R "c" R R R "d" R R R R "e" R R);
#undef R
    json_decref(j);
    free(out);
}

Test(log, long_message_is_cut_to_one_valid_line_marked_truncated)
{
    /* Every '"' doubles when escaped; the cut must not split "\"". */
    size_t n = 10000;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, '"', n);
    big[n] = '\0';
    open_pipe("t", AU_LOG_DEBUG);
    au_log_ctx_t ctx = {.job_id = 42, .attempt = 3, .seq = 7};
    au_log_ev(AU_LOG_WARN, &ctx, AU_ETOOBIG, "%s", big);
    size_t len;
    char *out = drain(&len);
    cr_assert_leq(len, 4096);
    json_t *j = one_line(out, len);
    const char *msg = str_field(j, "msg");
    cr_assert_gt(strlen(msg), 1000);
    cr_assert_eq(strspn(msg, "\""), strlen(msg));
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    cr_assert_eq(int_field(j, "job"), 42);
    cr_assert_eq(int_field(j, "seq"), 7);
    cr_assert_str_eq(str_field(j, "code"), "AU_ETOOBIG");
    json_decref(j);
    free(out);
    free(big);
}

Test(log, cut_never_splits_a_multibyte_character)
{
    const char *smile = "\xf0\x9f\x98\x80";
    for (size_t pad = 0; pad < 4; pad++) {
        char big[8200];
        memset(big, 'x', pad);
        for (size_t i = pad; i + 4 < sizeof(big); i += 4)
            memcpy(big + i, smile, 4);
        big[pad + ((sizeof(big) - 1 - pad) / 4) * 4] = '\0';
        open_pipe("t", AU_LOG_DEBUG);
        au_info("%s", big);
        size_t len;
        char *out = drain(&len);
        cr_assert_leq(len, 4096);
        json_t *j = one_line(out, len); /* jansson rejects bad UTF-8 */
        cr_assert_eq((strlen(str_field(j, "msg")) - pad) % 4, 0);
        cr_assert(json_is_true(json_object_get(j, "truncated")));
        json_decref(j);
        free(out);
    }
}

Test(log, lines_below_the_minimum_level_are_dropped)
{
    open_pipe("t", AU_LOG_WARN);
    au_debug("d");
    au_info("i");
    au_warn("w");
    au_error("e");
    size_t len;
    char *out = drain(&len);
    char *second = strchr(out, '\n');
    cr_assert_not_null(second);
    second++;
    json_t *a = one_line(out, (size_t)(second - out));
    json_t *b = one_line(second, len - (size_t)(second - out));
    cr_assert_str_eq(str_field(a, "level"), "warn");
    cr_assert_str_eq(str_field(a, "msg"), "w");
    cr_assert_str_eq(str_field(b, "level"), "error");
    cr_assert_str_eq(str_field(b, "msg"), "e");
    json_decref(a);
    json_decref(b);
    free(out);
}

Test(log, level_names_parse_and_unknown_names_do_not)
{
    cr_assert_eq(au_log_level_parse("debug"), AU_LOG_DEBUG);
    cr_assert_eq(au_log_level_parse("info"), AU_LOG_INFO);
    cr_assert_eq(au_log_level_parse("warn"), AU_LOG_WARN);
    cr_assert_eq(au_log_level_parse("error"), AU_LOG_ERROR);
    cr_assert_eq(au_log_level_parse("verbose"), -1);
    cr_assert_eq(au_log_level_parse("inf"), -1);
    cr_assert_eq(au_log_level_parse(""), -1);
    cr_assert_eq(au_log_level_parse(NULL), -1);
}

Test(log, logging_leaves_errno_alone)
{
    open_pipe("t", AU_LOG_DEBUG);
    errno = ENOENT;
    au_info("after a failed open");
    cr_assert_eq(errno, ENOENT);
    size_t len;
    free(drain(&len));
}

Test(log, lines_from_concurrent_processes_do_not_interleave)
{
    enum { WRITERS = 4, LINES = 100 };
    open_pipe("t", AU_LOG_DEBUG);
    for (int w = 0; w < WRITERS; w++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            char body[3500];
            memset(body, 'a' + w, sizeof(body) - 1);
            body[sizeof(body) - 1] = '\0';
            for (int i = 0; i < LINES; i++)
                au_info("%d %s", i, body);
            _exit(0);
        }
    }
    size_t len;
    char *out = drain(&len);
    int status, lines = 0;
    for (int w = 0; w < WRITERS; w++) {
        cr_assert_gt(wait(&status), 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (char *p = out; *p;) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        json_t *j = one_line(p, (size_t)(nl + 1 - p));
        const char *msg = str_field(j, "msg");
        const char *body = strchr(msg, ' ');
        cr_assert_not_null(body);
        cr_assert_eq(strlen(body + 1), 3499);
        cr_assert_eq(strspn(body + 1, (char[]){body[1], 0}), 3499);
        json_decref(j);
        lines++;
        p = nl + 1;
    }
    cr_assert_eq(lines, WRITERS * LINES);
    free(out);
}
