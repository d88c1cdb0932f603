/* audora health: the container health check. It asks a process's own
 * /readyz, so the image needs no shell tool (curl, wget) to be checked,
 * and a draining worker (ready 503) is reported unhealthy at once. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "au_cmd.h"

enum { HEALTH_URL, HEALTH_TIMEOUT, HEALTH_N };

static const au_cli_opt_t health_opts[] = {
    [HEALTH_URL] = {.name = "url",
                    .kind = AU_CLI_STR,
                    .metavar = "URL",
                    .help = "what to ask, default "
                            "http://127.0.0.1:<metrics.port>/readyz"},
    [HEALTH_TIMEOUT] = {.name = "timeout",
                        .kind = AU_CLI_INT,
                        .metavar = "S",
                        .help = "seconds for the whole request, default 3",
                        .lo = 1,
                        .hi = 300},
};

/* The body is not wanted, only the status. */
static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static int cmd_health(au_cmd_t *cmd)
{
    const au_cli_t *a = cmd->cli;
    const au_config_t *cfg = &cmd->ctx.cfg;
    char url[512];
    if (au_cli_has(a, HEALTH_URL)) {
        snprintf(url, sizeof(url), "%s", au_cli_str(a, HEALTH_URL, ""));
    } else if (cfg->metrics.port == 0) {
        fprintf(stderr, "audora health: metrics.port is 0, so this process "
                        "serves no /readyz: set AUDORA_METRICS__PORT or "
                        "give --url\n");
        return AU_EXIT_USAGE;
    } else {
        /* A server bound to every address answers on loopback too. */
        const char *b = cfg->metrics.bind;
        if (!b[0] || !strcmp(b, "0.0.0.0") || !strcmp(b, "*"))
            b = "127.0.0.1";
        snprintf(url, sizeof(url), "http://%s:%d/readyz", b, cfg->metrics.port);
    }
    CURL *h = curl_easy_init();
    if (!h)
        return au_cmd_failf(cmd, "could not start libcurl");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT,
                     (long)au_cli_int(a, HEALTH_TIMEOUT, 3));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return au_cmd_failf(cmd, "%s: %s", url, curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return au_cmd_failf(cmd, "%s answered %ld", url, status);
    printf("health: %s answered %ld\n", url, status);
    return AU_EXIT_OK;
}

const au_cmd_def_t au_cmd_health_def = {
    {.prog = "audora health",
     .summary = "Exit 0 when a process's /readyz answers 2xx: the health "
                "check of a\ncontainer (no shell tool needed).",
     .opts = health_opts,
     .nopts = HEALTH_N},
    0,
    cmd_health,
};
