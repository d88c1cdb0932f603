#include "au_gen.h"

#include "au_date.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void track_id(uint64_t seed, long idx, char out[23])
{
    static const char b62[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t s = seed * 1000003u + (uint64_t)idx;
    uint64_t v = splitmix(&s);
    for (int i = 0; i < 22; i++) {
        if (i == 11)
            v = splitmix(&s);
        out[i] = b62[v % 62];
        v /= 62;
    }
    out[22] = '\0';
}

static long gcd(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Days after 2020-01-01 as YYYY-MM-DD. */
static void date_of(long day, char out[AU_DATE_LEN + 1])
{
    au_date_format(au_date_from_ymd(2020, 1, 1) + day, out);
}

int au_gen_write(const char *dir, const au_gen_opts_t *o, long *files,
                 au_error_t *err)
{
    if (o->records < 1 || o->per_file < 1 || o->per_file > 100000)
        return au_error_set(err, AU_EINVAL,
                            "records must be >= 1, per-file 1..100000");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return au_error_set(err, AU_EIO, "%s: %s", dir, strerror(errno));
    long nfiles = (o->records + o->per_file - 1) / o->per_file;
    long nregions = nfiles < 50 ? nfiles : 50;
    long pool = 2L * o->per_file;
    long left = o->records;
    uint64_t rng = o->seed;
    int rc = 0;
    for (long f = 0; f < nfiles && rc == 0; f++) {
        char region[3] = {(char)('a' + (f % nregions) / 26),
                          (char)('a' + (f % nregions) % 26), '\0'};
        char date[16], path[4096];
        date_of(f / nregions, date);
        snprintf(path, sizeof(path), "%s/regional-%s-daily-%s.csv", dir, region,
                 date);
        FILE *out = fopen(path, "w");
        if (!out) {
            rc = au_error_set(err, AU_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        fputs("Position,\"Track Name\",Artist,Streams,URL\n", out);
        long rows = left < o->per_file ? left : o->per_file;
        /* A random start and a stride coprime with the pool visit distinct
         * tracks, so no track appears twice in one chart. */
        long start = (long)(splitmix(&rng) % (uint64_t)pool);
        long stride = 2 * (long)(splitmix(&rng) % (uint64_t)o->per_file) + 1;
        while (gcd(stride, pool) != 1)
            stride += 2;
        for (long pos = 1; pos <= rows; pos++) {
            long idx = (start + (pos - 1) * stride) % pool;
            char id[23];
            track_id(o->seed, idx, id);
            long long streams = 5000000LL / pos + (long long)(idx % 977);
            fprintf(out,
                    "%ld,\"Synthetic Track %ld\",\"Artist %ld\",%lld,"
                    "https://open.spotify.com/track/%s\n",
                    pos, idx, idx % 997, streams, id);
        }
        if (fclose(out) != 0)
            rc = au_error_set(err, AU_EIO, "%s: write failed", path);
        left -= rows;
    }
    *files = nfiles;
    return rc;
}
