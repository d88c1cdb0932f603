/* au_store_ident.c: names to numbers. The store's series, tracks and
 * artists rows are created here, and only here. */
#include "au_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_date.h"
#include "au_keys.h"

static int name_ok(const char *what, const char *s, au_error_t *err)
{
    if (!s || !*s)
        return au_error_set(err, AU_EINVAL, "series %s is empty", what);
    if (strlen(s) > AU_STORE_NAME_MAX)
        return au_error_set(err, AU_EINVAL,
                            "series %s is %zu bytes (at most %d): %.32s...",
                            what, strlen(s), AU_STORE_NAME_MAX, s);
    return 0;
}

int au_store_series_id(PGconn *c, const char *platform, const char *chart,
                       const char *region, int32_t *id, au_error_t *err)
{
    int rc = name_ok("platform", platform, err);
    if (rc == 0)
        rc = name_ok("chart", chart, err);
    if (rc == 0)
        rc = name_ok("region", region, err);
    if (rc < 0)
        return rc;
    au_params_t p = {0};
    au_params_str(&p, platform);
    au_params_str(&p, chart);
    au_params_str(&p, region);
    /* A writer that lost the race for a new series waits for the winner
     * in ON CONFLICT, but its SELECT runs on the statement's older
     * snapshot and may find nothing: the next try sees the row. */
    for (int tries = 0; tries < 3; tries++) {
        PGresult *r;
        rc = au_pg_run(c,
                       "WITH i AS (INSERT INTO series (platform, chart, "
                       " region) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
                       " RETURNING id) "
                       "SELECT id FROM i UNION ALL SELECT id FROM series "
                       "WHERE platform = $1 AND chart = $2 AND region = $3",
                       &p, PGRES_TUPLES_OK, &r, err);
        if (rc < 0)
            return rc;
        int found = PQntuples(r) > 0;
        if (found)
            *id = (int32_t)au_pg_ll(r, 0, 0);
        PQclear(r);
        if (found)
            return 0;
    }
    return au_error_set(err, AU_ERETRY, "series %s/%s/%s: no id after 3 tries",
                        platform, chart, region);
}

/* The references as the text[] literals the statements unnest. */
typedef struct {
    au_buf_t key, sid, name, artist, akey, day, canon;
} ref_lits_t;

static void lits_free(ref_lits_t *l)
{
    au_buf_t *b[] = {&l->key,  &l->sid, &l->name, &l->artist,
                     &l->akey, &l->day, &l->canon};
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        au_buf_free(b[i]);
}

/* One column of the references as a literal; text per element from fn. */
static int column(au_buf_t *b, const au_track_ref_t *t, size_t n,
                  const char *(*fn)(const au_track_ref_t *, char *),
                  char (*tmp)[24], const char **v)
{
    for (size_t i = 0; i < n; i++)
        v[i] = fn(&t[i], tmp[i]);
    return au_buf_text_array(b, n, v);
}

static const char *col_key(const au_track_ref_t *t, char *tmp)
{
    (void)tmp;
    return t->track_key;
}
static const char *col_sid(const au_track_ref_t *t, char *tmp)
{
    (void)tmp;
    return t->spotify_id ? t->spotify_id : "";
}
static const char *col_name(const au_track_ref_t *t, char *tmp)
{
    (void)tmp;
    return t->name;
}
static const char *col_artist(const au_track_ref_t *t, char *tmp)
{
    (void)tmp;
    return t->artist;
}
static const char *col_akey(const au_track_ref_t *t, char *tmp)
{
    (void)tmp;
    return t->artist_key;
}
static const char *col_day(const au_track_ref_t *t, char *tmp)
{
    au_date_format(t->day, tmp);
    return tmp;
}

/* The recording across platforms; "" (NULL in the table) when the name
 * normalises to nothing. */
static const char *col_canon(const au_track_ref_t *t, char *tmp)
{
    return au_canon_key(t->name, t->artist, tmp, 24) < 0 ? "" : tmp;
}

static int build_lits(const au_track_ref_t *t, size_t n, ref_lits_t *l)
{
    const char **v = malloc(n * sizeof(*v));
    char(*tmp)[24] = malloc(n * sizeof(*tmp));
    int rc = v && tmp ? 0 : AU_ENOMEM;
    if (rc == 0)
        rc = column(&l->key, t, n, col_key, tmp, v) |
             column(&l->sid, t, n, col_sid, tmp, v) |
             column(&l->name, t, n, col_name, tmp, v) |
             column(&l->artist, t, n, col_artist, tmp, v) |
             column(&l->akey, t, n, col_akey, tmp, v) |
             column(&l->day, t, n, col_day, tmp, v) |
             column(&l->canon, t, n, col_canon, tmp, v);
    free(v);
    free(tmp);
    return rc ? AU_ENOMEM : 0;
}

static int check_refs(const au_track_ref_t *t, size_t n, au_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *miss = !t[i].track_key || !*t[i].track_key ? "track key"
                           : !t[i].name || !*t[i].name         ? "name"
                           : !t[i].artist                      ? "artist"
                           : !t[i].artist_key || !*t[i].artist_key
                               ? "artist key"
                               : NULL;
        if (miss)
            return au_error_set(err, AU_EINVAL, "track %zu: no %s", i, miss);
    }
    return 0;
}

/* What au_store_resolve_tracks runs, in order: artists inserted, their
 * spellings improved, then the same for tracks ($1..$3 the artists'
 * columns, $1..$7 the tracks'). A track's canonical recording key goes
 * with its spelling: the one of the name that wins. */
#define ARTISTS_V                                                              \
    "WITH v AS (SELECT DISTINCT ON (ak) ak, a, d FROM unnest($1::text[], "     \
    " $2::text[], $3::date[]) u(a, ak, d) ORDER BY ak, d, a COLLATE \"C\") "
#define TRACKS_V                                                               \
    "WITH v AS (SELECT DISTINCT ON (u.k) u.k, nullif(u.sid, '') AS sid, "      \
    " a.id AS aid, u.n, u.a, u.d, nullif(u.c, '') AS c FROM unnest("           \
    " $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "            \
    " $6::date[], $7::text[]) u(k, sid, n, a, ak, d, c) "                      \
    " JOIN artists a ON a.artist_key = u.ak "                                  \
    " ORDER BY u.k, u.d, u.n COLLATE \"C\", u.a COLLATE \"C\") "
static const char *const resolve_sql[] = {
    ARTISTS_V "INSERT INTO artists (artist_key, name, name_date) "
              "SELECT ak, a, d FROM v ON CONFLICT (artist_key) DO NOTHING",
    ARTISTS_V "UPDATE artists x SET name = v.a, name_date = v.d FROM v "
              "WHERE x.artist_key = v.ak AND (v.d, v.a COLLATE \"C\") < "
              "(x.name_date, x.name COLLATE \"C\")",
    TRACKS_V "INSERT INTO tracks (track_key, spotify_id, artist_id, name, "
             "artist, name_date, canon) SELECT k, sid, aid, n, a, d, c FROM v "
             "ON CONFLICT (track_key) DO NOTHING",
    TRACKS_V "UPDATE tracks x SET name = v.n, artist = v.a, artist_id = "
             "v.aid, name_date = v.d, canon = v.c FROM v WHERE x.track_key = "
             "v.k AND (v.d, v.n COLLATE \"C\", v.a COLLATE \"C\") < "
             "(x.name_date, x.name COLLATE \"C\", x.artist COLLATE \"C\")",
    /* A track stored before canonical keys existed gets its key from any
     * chart that spells it as it is stored (its date aside): the key is
     * the spelling's, so this cannot disagree with the rule above. */
    TRACKS_V "UPDATE tracks x SET canon = v.c FROM v WHERE x.track_key = "
             "v.k AND x.canon IS NULL AND v.c IS NOT NULL AND (v.n COLLATE "
             "\"C\", v.a COLLATE \"C\") = (x.name COLLATE \"C\", x.artist "
             "COLLATE \"C\")",
};
#undef ARTISTS_V
#undef TRACKS_V

int au_store_resolve_tracks(PGconn *c, const au_track_ref_t *t, size_t n,
                            int32_t *ids, au_error_t *err)
{
    if (n == 0)
        return 0;
    int rc = check_refs(t, n, err);
    if (rc < 0)
        return rc;
    ref_lits_t l;
    memset(&l, 0, sizeof(l));
    if (build_lits(t, n, &l) < 0) {
        lits_free(&l);
        return au_error_set(err, AU_ENOMEM, "tracks: out of memory");
    }
    au_params_t p = {0};
    const au_buf_t *cols[] = {&l.key,  &l.sid, &l.name, &l.artist,
                              &l.akey, &l.day, &l.canon};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        au_params_str(&p, cols[i]->data);
    /* Artists first (tracks name theirs), then tracks; each keeps the
     * minimum of (chart date, spelling) over every chart that listed it,
     * in byte order (COLLATE "C": the database's locale cannot change
     * which spelling wins). New ones are inserted, then only rows whose
     * spelling this chart improves are updated: a row left alone is not
     * locked, so writers of other series never wait for this one (nor
     * for a paused one) on a popular artist. Two statements, not one: an
     * insert that met a concurrent writer's new row waited for it to
     * commit, and only the update's fresh snapshot sees that row. */
    au_params_t pa = {0};
    for (size_t i = 3; i < 6; i++)
        au_params_str(&pa, cols[i]->data);
    for (size_t i = 0;
         rc == 0 && i < sizeof(resolve_sql) / sizeof(resolve_sql[0]); i++)
        rc = au_pg_run(c, resolve_sql[i], i < 2 ? &pa : &p, PGRES_COMMAND_OK,
                       NULL, err);
    PGresult *r = NULL;
    if (rc == 0) {
        au_params_t k = {0};
        au_params_str(&k, l.key.data);
        rc = au_pg_run(c,
                       "SELECT u.i, t.id FROM unnest($1::text[]) WITH "
                       " ORDINALITY u(k, i) JOIN tracks t ON t.track_key = u.k",
                       &k, PGRES_TUPLES_OK, &r, err);
    }
    lits_free(&l);
    if (rc < 0)
        return rc;
    size_t got = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        long long i = au_pg_ll(r, row, 0);
        if (i >= 1 && (size_t)i <= n) {
            ids[i - 1] = (int32_t)au_pg_ll(r, row, 1);
            got++;
        }
    }
    PQclear(r);
    if (got != n)
        return au_error_set(err, AU_ERETRY, "tracks: %zu of %zu ids found", got,
                            n);
    return 0;
}
