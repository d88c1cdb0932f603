/* fuzz_config.c: libFuzzer target for au_config_set.
 *
 * The bytes up to the first NUL are the key, the rest (to the next NUL)
 * the value. Whatever they are, setting must not crash. A value that is
 * accepted must come out of au_config_dump, and the dumped text, set
 * again, must give the same configuration (unless redaction hid part of
 * it): what the dump shows is then what the workers run with. */
#include "au_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, const char *key)
{
    fprintf(stderr, "fuzz_config: %s (key \"%s\")\n", what, key);
    abort();
}

/* The value of key in a dump ("key = value" lines), or NULL. */
static char *fz_dumped_value(char *dump, const char *key)
{
    size_t klen = strlen(key);
    for (char *line = dump; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 &&
            strncmp(line + klen, " = ", 3) == 0)
            return line + klen + 3;
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static void fz_round_trip(const au_config_t *cfg, const char *key)
{
    char *dump = NULL;
    size_t dump_len = 0;
    au_error_t err;
    FILE *out = open_memstream(&dump, &dump_len);
    if (!out)
        return;
    au_config_dump(cfg, out);
    fclose(out);
    const char *value = fz_dumped_value(dump, key);
    if (!value)
        fz_fail("key missing from the dump", key);
    if (!strstr(value, "***")) {
        au_config_t again = *cfg;
        if (au_config_set(&again, key, value, "dump", &err) != 0)
            fz_fail("dumped value is rejected", key);
        if (memcmp(&again, cfg, sizeof(again)) != 0)
            fz_fail("dumped value sets a different configuration", key);
    }
    free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    au_config_t cfg;
    au_error_t err;
    /* Two terminators: one ends the value, one stands in for a missing
     * value when the input holds no NUL at all. */
    char *buf = malloc(size + 2);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *key = buf;
    const char *value = buf + strlen(buf) + 1;
    au_config_defaults(&cfg);
    memset(&err, 0, sizeof(err));
    int rc = au_config_set(&cfg, key, value, "fuzz", &err);
    if (rc == 0)
        fz_round_trip(&cfg, key);
    else if (rc != err.code || !err.msg[0])
        fz_fail("failure without a message in err", key);
    free(buf);
    return 0;
}
