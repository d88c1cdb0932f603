/* au_migrate.h: versioned schema migrations, compiled into the binaries
 * so that `audora migrate` needs no files beside it. */
#ifndef AU_MIGRATE_H
#define AU_MIGRATE_H

#include <libpq-fe.h>

#include "au_err.h"

/* Applies every migration newer than the database's version, each in its
 * own transaction, under an advisory lock so concurrent callers are safe.
 * *applied (may be NULL) receives how many ran. */
int au_migrate(PGconn *c, int *applied, au_error_t *err);
/* 0 when the database is at the latest version; AU_EVERSION with a
 * message telling the user to run `audora migrate` otherwise. */
int au_schema_check(PGconn *c, au_error_t *err);
/* The version this build expects. */
int au_schema_latest(void);

#endif
