/* fuzz_cron.c: libFuzzer target for au_cron_parse and au_cron_next.
 *
 * The input up to the first NUL is an expression; eight bytes after it,
 * if any, a time. Parsing must not crash; an expression accepted must fire
 * strictly after the time, on a minute, and parse the same way twice. */
#include "au_cron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char expr[AU_CRON_MAX + 2];
    size_t n = strnlen((const char *)data, size);
    if (n > AU_CRON_MAX + 1)
        n = AU_CRON_MAX + 1;
    memcpy(expr, data, n);
    expr[n] = '\0';
    uint64_t raw = 0;
    if (size >= n + 9)
        memcpy(&raw, data + n + 1, sizeof(raw));
    /* Within 1970..2100: what a schedule can meet. */
    long long after = (long long)(raw % 4102444800ULL);
    au_cron_t c, again;
    au_error_t err = {0};
    if (au_cron_parse(expr, &c, &err) != 0) {
        if (!err.msg[0])
            abort(); /* a refusal names its cause */
        return 0;
    }
    if (au_cron_parse(expr, &again, &err) != 0 ||
        memcmp(&c, &again, sizeof(c)) != 0)
        abort();
    long long t = au_cron_next(&c, after);
    if (t != -1 && (t <= after || t % 60 != 0 || t > after + 9LL * 366 * 86400))
        abort();
    return 0;
}
