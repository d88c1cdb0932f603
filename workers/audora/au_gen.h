/* au_gen.h: synthetic chart files for load tests and benchmarks.
 *
 * Writes `records` rows as legacy-layout chart CSVs of `per_file` rows
 * each, named regional-<xx>-daily-<date>.csv so that push infers every
 * job parameter. Files rotate over up to 50 two-letter regions and one
 * day per round, so every series has a history; tracks come from a pool
 * twice the chart size, so many tracks re-enter and history lookups hit.
 * The same seed gives the same files, byte for byte. */
#ifndef AU_GEN_H
#define AU_GEN_H

#include <stdint.h>

#include "au_err.h"

typedef struct {
    long records; /* total rows, >= 1 */
    int per_file; /* rows per chart file, 1..100000 */
    uint64_t seed;
} au_gen_opts_t;

int au_gen_write(const char *dir, const au_gen_opts_t *o, long *files,
                 au_error_t *err);

#endif
