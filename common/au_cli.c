#include "au_cli.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "au_config.h"
#include "au_date.h"

#define SYNOPSIS_WIDTH 79
#define HELP_COLUMN 28 /* where option help starts in the usage */

static int starts_long(const char *a)
{
    return a[0] == '-' && a[1] == '-' && a[2] != '\0';
}

#define BAD(cli, ...) au_error_set(&(cli)->err, AU_EINVAL, __VA_ARGS__)

/* ---- values --------------------------------------------------------- */

/* Strict: an optional '-', then digits and nothing else, in range. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (d[0] < '0' || d[0] > '9' || strspn(d, "0123456789") != strlen(d))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Strict: digits with at most one '.', an optional leading '-'; no
 * exponent, hex, inf or nan, which no option here means on purpose. */
static int parse_num(const char *s, double min, double max, double *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    size_t n = strspn(d, "0123456789.");
    const char *dot = strchr(d, '.');
    if (!d[0] || d[n] || !strcmp(d, ".") || (dot && strchr(dot + 1, '.')))
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int range_error(au_cli_t *cli, const char *what, const char *s,
                       long long lo, long long hi)
{
    if (hi == LLONG_MAX)
        return BAD(cli, "%s %s: not an integer >= %lld", what, s, lo);
    return BAD(cli, "%s %s: not an integer in %lld..%lld", what, s, lo, hi);
}

/* The words joined by sep, the last one by last: "a, b or c", "a|b|c". */
static void join_words(const char *const *w, const char *sep, const char *last,
                       char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; w[i] && len < cap; i++) {
        const char *s = i == 0 ? "" : w[i + 1] ? sep : last;
        int n = snprintf(out + len, cap - len, "%s%s", s, w[i]);
        len += n > 0 ? (size_t)n : 0;
    }
}

int au_parse_duration(const char *s, long long *seconds)
{
    static const char units[] = "smhdw";
    static const long long mult[] = {1, 60, 3600, 86400, 604800};
    long long total = 0;
    if (!*s)
        return -1;
    while (*s) {
        long long n = 0;
        const char *d = s;
        while (*s >= '0' && *s <= '9' && n <= 100000000)
            n = n * 10 + (*s++ - '0');
        const char *u = *s ? strchr(units, *s) : NULL;
        if (s == d || !u || n > 100000000)
            return -1;
        total += n * mult[u - units];
        if (total > 100LL * 366 * 86400)
            return -1; /* a century is a typo */
        s++;
    }
    *seconds = total;
    return 0;
}

/* Exactly n digits at s: their value, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int au_parse_time(const char *s, long long *unix_s)
{
    long days;
    size_t len = strlen(s);
    if (len < 16 || au_date_parse(s, 10, &days) < 0 ||
        (s[10] != 'T' && s[10] != ' ') || s[13] != ':')
        return -1;
    int hh = digits(s + 11, 2), mm = digits(s + 14, 2), ss = 0;
    const char *z = s + 16;
    if (*z == ':') {
        ss = digits(z + 1, 2);
        z += 3;
    }
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59)
        return -1;
    long long off = 0;
    if (!z[0] || ((z[0] == 'Z' || z[0] == 'z') && !z[1])) {
        off = 0; /* no zone: UTC, as every time Audora shows */
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':') {
        int oh = digits(z + 1, 2), om = digits(z + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        off = (z[0] == '+' ? 1 : -1) * (oh * 3600LL + om * 60);
    } else {
        return -1;
    }
    *unix_s = days * 86400LL + hh * 3600LL + mm * 60LL + ss - off;
    return 0;
}

static int set_value(au_cli_t *cli, const au_cli_opt_t *o, au_cli_val_t *v,
                     const char *flag, const char *s)
{
    v->str = s;
    switch (o->kind) {
    case AU_CLI_FLAG:
        return 0;
    case AU_CLI_STR:
        return s[0] ? 0 : BAD(cli, "%s: empty value", flag);
    case AU_CLI_INT:
        return parse_int(s, o->lo, o->hi, &v->i) == 0
                   ? 0
                   : range_error(cli, flag, s, o->lo, o->hi);
    case AU_CLI_NUM:
        if (parse_num(s, o->min, o->max, &v->num) == 0)
            return 0;
        return BAD(cli, "%s %s: not a number in %g..%g", flag, s, o->min,
                   o->max);
    case AU_CLI_DATE:
        if (au_date_parse(s, strlen(s), &v->days) == 0)
            return 0;
        return BAD(cli, "%s %s: not a YYYY-MM-DD date", flag, s);
    case AU_CLI_DURATION:
        if (au_parse_duration(s, &v->i) == 0)
            return 0;
        return BAD(cli,
                   "%s %s: not a duration (a number and s, m, h, d or w; "
                   "1h30m)",
                   flag, s);
    case AU_CLI_TIME:
        if (au_parse_time(s, &v->i) == 0)
            return 0;
        return BAD(cli,
                   "%s %s: not a time (YYYY-MM-DDTHH:MM[:SS], UTC unless "
                   "followed by +HH:MM or -HH:MM)",
                   flag, s);
    case AU_CLI_ENUM:
        for (int i = 0; o->words[i]; i++) {
            if (!strcasecmp(s, o->words[i])) {
                v->word = i;
                return 0;
            }
        }
        char all[256];
        join_words(o->words, ", ", " or ", all, sizeof(all));
        return BAD(cli, "%s %s: must be %s", flag, s, all);
    }
    return BAD(cli, "%s: unknown kind of option", flag);
}

static const char *metavar(const au_cli_opt_t *o, char *buf, size_t cap);

/* ---- finding options ------------------------------------------------ */

static const au_cli_opt_t *find_long(const au_cli_spec_t *s, const char *name,
                                     size_t n)
{
    for (size_t i = 0; i < s->nopts; i++)
        if (strlen(s->opts[i].name) == n && !strncmp(s->opts[i].name, name, n))
            return &s->opts[i];
    return NULL;
}

static const au_cli_opt_t *find_short(const au_cli_spec_t *s, char c)
{
    for (size_t i = 0; i < s->nopts; i++)
        if (s->opts[i].short_name == c)
            return &s->opts[i];
    return NULL;
}

/* ---- the parse ------------------------------------------------------ */

typedef struct {
    au_cli_t *cli;
    int argc;
    char **argv;
    int i; /* the argument being read */
} scan_t;

/* The value of an option that needs one: inline, or the next argument
 * unless that is another long option (a forgotten value, most likely). */
static const char *take_value(scan_t *sc, const char *inline_v)
{
    if (inline_v)
        return inline_v;
    if (sc->i + 1 >= sc->argc || starts_long(sc->argv[sc->i + 1]))
        return NULL;
    return sc->argv[++sc->i];
}

static int apply(scan_t *sc, const au_cli_opt_t *o, const char *flag,
                 const char *inline_v)
{
    au_cli_t *cli = sc->cli;
    au_cli_val_t *v = &cli->opt[o - cli->spec->opts];
    if (o->kind == AU_CLI_FLAG) {
        if (inline_v)
            return BAD(cli, "%s takes no value", flag);
        v->given++;
        return 0;
    }
    const char *s = take_value(sc, inline_v);
    if (!s)
        return BAD(cli, "%s needs a value", flag);
    if (v->given++)
        return BAD(cli, "%s given twice", flag);
    return set_value(cli, o, v, flag, s);
}

static int config_flag(scan_t *sc, const char *a, size_t n)
{
    au_cli_t *cli = sc->cli;
    if (cli->spec->flags & AU_CLI_NO_CONFIG)
        return BAD(cli, "%.*s: %s takes no configuration", (int)n + 2, a,
                   cli->spec->prog);
    cli->cfg[cli->ncfg++] = sc->argv[sc->i];
    if (a[2 + n] == '=')
        return 0;
    if (sc->i + 1 >= sc->argc)
        return BAD(cli, "%s needs a value", a);
    cli->cfg[cli->ncfg++] = sc->argv[++sc->i];
    return 0;
}

static int long_opt(scan_t *sc, const char *a)
{
    size_t n = strcspn(a + 2, "=");
    const char *inline_v = a[2 + n] == '=' ? a + 3 + n : NULL;
    char flag[64];
    snprintf(flag, sizeof(flag), "--%.*s", (int)(n < 60 ? n : 60), a + 2);
    if (!strcmp(flag, "--help") || !strcmp(flag, "--version")) {
        if (inline_v)
            return BAD(sc->cli, "%s takes no value", flag);
        return flag[2] == 'h' ? AU_CLI_HELP : AU_CLI_VERSION;
    }
    if (au_config_is_flag(a))
        return config_flag(sc, a, n);
    const au_cli_opt_t *o = find_long(sc->cli->spec, a + 2, n);
    if (!o)
        return BAD(sc->cli, "unknown option %.*s", (int)n + 2, a);
    return apply(sc, o, flag, inline_v);
}

/* -x, -xVALUE, -x VALUE, and bundled flags -qj. */
static int short_opts(scan_t *sc, const char *a)
{
    for (size_t j = 1; a[j]; j++) {
        char flag[3] = {'-', a[j], '\0'};
        if (a[j] == 'h')
            return AU_CLI_HELP;
        if (a[j] == 'V')
            return AU_CLI_VERSION;
        const au_cli_opt_t *o = find_short(sc->cli->spec, a[j]);
        if (!o)
            return BAD(sc->cli, "unknown option %s", flag);
        const char *rest = a[j + 1] ? a + j + 1 : NULL;
        if (o->kind == AU_CLI_FLAG) {
            int rc = apply(sc, o, flag, NULL);
            if (rc)
                return rc;
            continue;
        }
        return apply(sc, o, flag, rest);
    }
    return 0;
}

/* "JOB_ID" of "JOB_ID...", for messages about one argument. */
static void arg_label(const char *names, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)strcspn(names, " .|"), names);
}

static int check_args(au_cli_t *cli)
{
    const au_cli_args_t *a = &cli->spec->args;
    for (size_t i = 0; i < cli->spec->nopts; i++) {
        const au_cli_opt_t *o = &cli->spec->opts[i];
        char mv[128];
        if ((o->flags & AU_CLI_REQUIRED) && !cli->opt[i].given)
            return BAD(cli, "--%s%s%s is required", o->name,
                       o->kind == AU_CLI_FLAG ? "" : " ",
                       o->kind == AU_CLI_FLAG ? ""
                                              : metavar(o, mv, sizeof(mv)));
    }
    if (!a->names && cli->nargs > 0)
        return BAD(cli, "unexpected argument \"%s\"", cli->args[0]);
    if (a->max != AU_CLI_MANY && cli->nargs > a->max)
        return BAD(cli, "unexpected argument \"%s\"", cli->args[a->max]);
    if (cli->nargs < a->min)
        return BAD(cli, "expects %s (got %d argument%s)", a->names, cli->nargs,
                   cli->nargs == 1 ? "" : "s");
    char label[64];
    for (int i = 0; a->kind == AU_CLI_INT && i < cli->nargs; i++) {
        if (parse_int(cli->args[i], a->lo, a->hi, &cli->ints[i]) < 0) {
            arg_label(a->names, label, sizeof(label));
            return range_error(cli, label, cli->args[i], a->lo, a->hi);
        }
    }
    return 0;
}

static int scan(scan_t *sc)
{
    au_cli_t *cli = sc->cli;
    int rest = 0;
    for (sc->i = 1; sc->i < sc->argc; sc->i++) {
        const char *a = sc->argv[sc->i];
        int rc = 0;
        if (rest || a[0] != '-' || a[1] == '\0')
            cli->args[cli->nargs++] = a;
        else if (!strcmp(a, "--"))
            rest = 1;
        else if (a[1] == '-')
            rc = long_opt(sc, a);
        else
            rc = short_opts(sc, a);
        if (rc)
            return rc;
    }
    return check_args(cli);
}

int au_cli_parse(au_cli_t *cli, const au_cli_spec_t *spec, int argc,
                 char **argv)
{
    assert(spec->nopts <= AU_CLI_MAX_OPTS);
    memset(cli, 0, sizeof(*cli));
    cli->spec = spec;
    size_t n = argc > 0 ? (size_t)argc : 1;
    cli->args = calloc(n, sizeof(*cli->args));
    cli->ints = calloc(n, sizeof(*cli->ints));
    cli->cfg = calloc(n + 1, sizeof(*cli->cfg));
    if (!cli->args || !cli->ints || !cli->cfg)
        return au_error_set(&cli->err, AU_ENOMEM, "out of memory");
    cli->cfg[cli->ncfg++] = argc > 0 ? argv[0] : (char *)spec->prog;
    scan_t sc = {cli, argc, argv, 0};
    return scan(&sc);
}

void au_cli_fini(au_cli_t *cli)
{
    free(cli->args);
    free(cli->ints);
    free(cli->cfg);
    cli->args = NULL;
    cli->ints = NULL;
    cli->cfg = NULL;
    cli->nargs = cli->ncfg = 0;
}

/* ---- what a main() does with it ------------------------------------- */

static void print_version(const au_cli_spec_t *spec)
{
    printf("%.*s %s\n", (int)strcspn(spec->prog, " "), spec->prog, AU_VERSION);
}

static void usage_error_v(const au_cli_spec_t *spec, const char *msg)
{
    fprintf(stderr, "%s: %s\n(see %s --help)\n", spec->prog, msg, spec->prog);
}

int au_cli_usage_error(const au_cli_spec_t *spec, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    usage_error_v(spec, msg);
    return AU_EXIT_USAGE;
}

int au_cli_start(au_cli_t *cli, const au_cli_spec_t *spec, int argc,
                 char **argv)
{
    int rc = au_cli_parse(cli, spec, argc, argv);
    if (rc == AU_CLI_HELP) {
        au_cli_usage(spec, stdout);
        return AU_EXIT_OK;
    }
    if (rc == AU_CLI_VERSION) {
        print_version(spec);
        return AU_EXIT_OK;
    }
    if (rc < 0) {
        usage_error_v(spec, cli->err.msg);
        return AU_EXIT_USAGE;
    }
    return -1;
}

/* ---- usage ---------------------------------------------------------- */

static const char *metavar(const au_cli_opt_t *o, char *buf, size_t cap)
{
    if (o->metavar)
        return o->metavar;
    switch (o->kind) {
    case AU_CLI_INT:
    case AU_CLI_NUM:
        return "N";
    case AU_CLI_DATE:
        return "DATE";
    case AU_CLI_DURATION:
        return "DURATION";
    case AU_CLI_TIME:
        return "TIME";
    case AU_CLI_ENUM:
        join_words(o->words, "|", "|", buf, cap);
        return buf;
    default:
        return "VALUE";
    }
}

/* Appends one synopsis word, breaking the line before it when needed. */
static void word(FILE *out, const char *w, size_t *col, size_t indent)
{
    size_t len = strlen(w);
    if (*col + 1 + len > SYNOPSIS_WIDTH && *col > indent) {
        fprintf(out, "\n%*s", (int)indent, "");
        *col = indent;
    } else {
        fputc(' ', out);
        (*col)++;
    }
    fputs(w, out);
    *col += len;
}

void au_cli_synopsis(const au_cli_spec_t *spec, const char *lead, size_t indent,
                     FILE *out)
{
    size_t col = strlen(lead) + strlen(spec->prog);
    fprintf(out, "%s%s", lead, spec->prog);
    indent += strlen(lead);
    if (spec->args.names) {
        char w[128];
        snprintf(w, sizeof(w), spec->args.min > 0 ? "%s" : "[%s]",
                 spec->args.names);
        word(out, w, &col, indent);
    }
    for (size_t i = 0; i < spec->nopts; i++) {
        const au_cli_opt_t *o = &spec->opts[i];
        char w[160], mv[128];
        const char *m =
            o->kind == AU_CLI_FLAG ? NULL : metavar(o, mv, sizeof(mv));
        int req = (o->flags & AU_CLI_REQUIRED) != 0;
        snprintf(w, sizeof(w), "%s--%s%s%s%s", req ? "" : "[", o->name,
                 m ? " " : "", m ? m : "", req ? "" : "]");
        word(out, w, &col, indent);
    }
    fputc('\n', out);
}

/* "  LEFT  help", the help wrapped at the synopsis width and aligned. */
static void option_line(FILE *out, const char *left, const char *help,
                        const char *extra)
{
    char text[512];
    snprintf(text, sizeof(text), "%s%s", help, extra);
    size_t len = strlen(left);
    if (2 + len + 2 > HELP_COLUMN)
        fprintf(out, "  %s\n%*s", left, HELP_COLUMN, "");
    else
        fprintf(out, "  %s%*s", left, (int)(HELP_COLUMN - 2 - len), "");
    size_t col = HELP_COLUMN;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " ");
        if (col > HELP_COLUMN && col + 1 + n > SYNOPSIS_WIDTH) {
            fprintf(out, "\n%*s", HELP_COLUMN, "");
            col = HELP_COLUMN;
        } else if (col > HELP_COLUMN) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, n, out);
        col += n;
        p += n;
        p += strspn(p, " ");
    }
    fputc('\n', out);
}

static void option_usage(FILE *out, const au_cli_opt_t *o)
{
    char left[160], mv[128], extra[96] = "";
    const char *m = o->kind == AU_CLI_FLAG ? NULL : metavar(o, mv, sizeof(mv));
    /* Long names line up whether or not there is a short one. */
    int n = o->short_name ? snprintf(left, sizeof(left), "-%c, ", o->short_name)
                          : snprintf(left, sizeof(left), "    ");
    snprintf(left + n, sizeof(left) - (size_t)n, "--%s%s%s", o->name,
             m ? " " : "", m ? m : "");
    if (o->kind == AU_CLI_INT && o->hi == LLONG_MAX)
        snprintf(extra, sizeof(extra), " (>= %lld)", o->lo);
    else if (o->kind == AU_CLI_INT)
        snprintf(extra, sizeof(extra), " (%lld..%lld)", o->lo, o->hi);
    else if (o->kind == AU_CLI_NUM)
        snprintf(extra, sizeof(extra), " (%g..%g)", o->min, o->max);
    option_line(out, left, o->help ? o->help : "", extra);
}

void au_cli_usage(const au_cli_spec_t *spec, FILE *out)
{
    au_cli_synopsis(spec, "usage: ", 2, out);
    if (spec->summary)
        fprintf(out, "\n%s\n", spec->summary);
    if (spec->about)
        fprintf(out, "\n%s", spec->about);
    fputs("\noptions:\n", out);
    for (size_t i = 0; i < spec->nopts; i++)
        option_usage(out, &spec->opts[i]);
    option_line(out, "-h, --help", "print this help and exit", "");
    option_line(out, "-V, --version", "print the version and exit", "");
    if (!(spec->flags & AU_CLI_NO_CONFIG)) {
        option_line(out, "    --section.key=VALUE",
                    "any configuration key (audora config example)", "");
        option_line(out, "    --env-file PATH",
                    "read configuration from PATH (default ./.env)", "");
    }
}

/* ---- accessors ------------------------------------------------------ */

int au_cli_has(const au_cli_t *cli, size_t opt)
{
    assert(opt < cli->spec->nopts);
    return cli->opt[opt].given > 0;
}

const char *au_cli_str(const au_cli_t *cli, size_t opt, const char *dflt)
{
    return au_cli_has(cli, opt) ? cli->opt[opt].str : dflt;
}

long long au_cli_int(const au_cli_t *cli, size_t opt, long long dflt)
{
    return au_cli_has(cli, opt) ? cli->opt[opt].i : dflt;
}

double au_cli_num(const au_cli_t *cli, size_t opt, double dflt)
{
    return au_cli_has(cli, opt) ? cli->opt[opt].num : dflt;
}

int au_cli_word(const au_cli_t *cli, size_t opt, int dflt)
{
    return au_cli_has(cli, opt) ? cli->opt[opt].word : dflt;
}
