/* au_cli.h: the one command-line parser of every Audora executable.
 *
 * A command describes itself once, in an au_cli_spec_t: its options (long
 * name, short letter, kind of value, range), its positional arguments and
 * a summary. Parsing, the checks and the usage text all come from that
 * one table, so the help cannot drift from what is accepted.
 *
 * The conventions are getopt_long's, which the tools operators already
 * use follow: --name=VALUE or --name VALUE, -x VALUE or -xVALUE, bundled
 * flags (-qj), "--" ends the options; -h/--help and -V/--version exist on
 * every command. Options and arguments may come in any order. A value
 * that begins with "--" must be attached (--name=--x): as the next
 * argument it is taken for a forgotten value, and refused.
 *
 * Configuration flags (--section.key=VALUE, --section.key VALUE,
 * --env-file PATH; see au_config_is_flag) are collected as they are, in
 * order, into cli->cfg for au_config_load, which checks them and names an
 * unknown key (au_ctx_open does both). Everything else that is not in the
 * table is an error naming the argument: an unknown option, a missing or
 * malformed value, a value out of range, one argument too many or too
 * few. The parser never prints; au_cli_start does, for a main(). */
#ifndef AU_CLI_H
#define AU_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "au_err.h"

#define AU_CLI_MAX_OPTS 24 /* options per command */
#define AU_CLI_MANY (-1)   /* au_cli_args_t.max: no limit */

/* Exit statuses every executable uses (README, "Exit status"). */
enum {
    AU_EXIT_OK = 0,
    AU_EXIT_FAIL = 1,    /* the work failed: a query, a dead job, no such id */
    AU_EXIT_USAGE = 2,   /* the command line or the configuration is wrong */
    AU_EXIT_TIMEOUT = 3, /* `audora wait` gave up */
};

typedef enum {
    AU_CLI_FLAG,     /* no value */
    AU_CLI_STR,      /* any non-empty text */
    AU_CLI_INT,      /* a decimal integer in lo..hi, nothing else */
    AU_CLI_NUM,      /* a decimal number in min..max: no exponent, hex, inf */
    AU_CLI_DATE,     /* a real calendar date, YYYY-MM-DD */
    AU_CLI_ENUM,     /* one of words, in any case */
    AU_CLI_DURATION, /* 90s, 15m, 2h, 7d, 1w or a sum (1h30m): seconds */
    AU_CLI_TIME      /* YYYY-MM-DDTHH:MM[:SS] with Z or +-HH:MM: Unix seconds */
} au_cli_kind_t;

enum { AU_CLI_REQUIRED = 1u };  /* au_cli_opt_t.flags: must be given */
enum { AU_CLI_NO_CONFIG = 1u }; /* au_cli_spec_t.flags: no configuration */

typedef struct {
    const char *name;         /* long name, without "--" */
    char short_name;          /* 0: none; 'h' and 'V' are taken */
    au_cli_kind_t kind;       /* what the value must be */
    const char *metavar;      /* value in the usage; NULL: from the kind */
    const char *help;         /* one line; the range is added to it */
    long long lo, hi;         /* AU_CLI_INT */
    double min, max;          /* AU_CLI_NUM */
    const char *const *words; /* AU_CLI_ENUM, NULL-terminated */
    unsigned flags;           /* AU_CLI_REQUIRED */
} au_cli_opt_t;

typedef struct {
    const char *names;  /* in the usage: "ID", "TRACK ARTIST", "FILE|DIR..." */
    int min, max;       /* how many; max AU_CLI_MANY for no limit */
    au_cli_kind_t kind; /* AU_CLI_STR, or AU_CLI_INT checked against lo..hi */
    long long lo, hi;
} au_cli_args_t;

typedef struct {
    const char *prog;    /* "audora dlq show", "audora-relay" */
    const char *summary; /* one line, for the list of commands */
    const char *about;   /* paragraph after the synopsis; NULL: none */
    au_cli_args_t args;  /* positional arguments; names NULL: none */
    const au_cli_opt_t *opts;
    size_t nopts; /* at most AU_CLI_MAX_OPTS */
    unsigned flags;
} au_cli_spec_t;

/* One option as parsed. Only the member of its kind is set. */
typedef struct {
    int given;       /* times it appeared; 0: absent */
    const char *str; /* the value as written (borrowed from argv) */
    long long i;     /* AU_CLI_INT, AU_CLI_DURATION, AU_CLI_TIME */
    double num;      /* AU_CLI_NUM */
    long days;       /* AU_CLI_DATE: days since 1970-01-01 */
    int word;        /* AU_CLI_ENUM: index into words */
} au_cli_val_t;

typedef struct {
    const au_cli_spec_t *spec;
    au_cli_val_t opt[AU_CLI_MAX_OPTS]; /* by index into spec->opts */
    int nargs;
    const char **args; /* positional arguments, borrowed from argv */
    long long *ints;   /* their values when spec->args.kind is AU_CLI_INT */
    int ncfg;          /* cfg is an argv: cfg[0] is the program, then */
    char **cfg;        /* every configuration flag and its value */
    au_error_t err;    /* why the last parse failed */
} au_cli_t;

/* What au_cli_parse found, besides an error (a negative AU_E* code). */
enum { AU_CLI_RUN = 0, AU_CLI_HELP = 1, AU_CLI_VERSION = 2 };

/* Parses argv[1..argc) by spec into cli (argv is not modified and must
 * outlive cli). AU_CLI_RUN, AU_CLI_HELP or AU_CLI_VERSION when -h or -V
 * came first, AU_EINVAL with cli->err naming the argument, or AU_ENOMEM.
 * Call au_cli_fini afterwards in every case. */
int au_cli_parse(au_cli_t *cli, const au_cli_spec_t *spec, int argc,
                 char **argv);
/* Frees the argument lists; cli may be parsed again afterwards. */
void au_cli_fini(au_cli_t *cli);

/* au_cli_parse as a main() wants it: the usage on stdout for --help,
 * "audora 0.1.0" for --version, or "PROG: message" and a pointer to
 * --help on stderr. Returns -1 when the command should run, else the exit
 * status (AU_EXIT_OK or AU_EXIT_USAGE); au_cli_fini is still needed. */
int au_cli_start(au_cli_t *cli, const au_cli_spec_t *spec, int argc,
                 char **argv);
/* Prints "PROG: message" and the pointer to --help on stderr; returns
 * AU_EXIT_USAGE. For the checks a command makes after parsing. */
int au_cli_usage_error(const au_cli_spec_t *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The full usage: synopsis, about, every option with its help. */
void au_cli_usage(const au_cli_spec_t *spec, FILE *out);
/* The synopsis alone ("audora top [--by viral|movement] ..."), wrapped to
 * 79 columns, continuation lines indented by `indent` more blanks than
 * the first line's `lead`. */
void au_cli_synopsis(const au_cli_spec_t *spec, const char *lead, size_t indent,
                     FILE *out);

/* Accessors for handlers, by option index. */
/* The parsers behind AU_CLI_DURATION and AU_CLI_TIME: 0, or -1. */
int au_parse_duration(const char *s, long long *seconds);
int au_parse_time(const char *s, long long *unix_s);

int au_cli_has(const au_cli_t *cli, size_t opt);
const char *au_cli_str(const au_cli_t *cli, size_t opt, const char *dflt);
long long au_cli_int(const au_cli_t *cli, size_t opt, long long dflt);
double au_cli_num(const au_cli_t *cli, size_t opt, double dflt);
int au_cli_word(const au_cli_t *cli, size_t opt, int dflt);

#endif
