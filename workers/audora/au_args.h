/* au_args.h: taking a subcommand's own options out of argv, so that what
 * remains goes to the configuration loader (--section.key=value). */
#ifndef AU_ARGS_H
#define AU_ARGS_H

/* Removes "NAME VALUE" from argv and returns VALUE; NULL when absent (or
 * when NAME is the last argument, with no value). */
const char *au_args_take_opt(int *argc, char **argv, const char *name);
/* Removes NAME from argv; 1 when it was there. */
int au_args_take_flag(int *argc, char **argv, const char *name);

#endif
