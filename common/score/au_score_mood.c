/* au_score_mood.c: the mood scorer and playlist builder. Each mood is a
 * profile of ranges and weights, the predecessor's table unchanged
 * (docs/scorers.md, Mood scorer). */
#include "au_score.h"

#include <math.h>
#include <stdlib.h>

#include "au_err.h"

typedef struct {
    const char *name;
    const char *label;
    double valence[2], energy[2], tempo[2];
    double dance_min;
    double w_valence, w_energy, w_tempo, w_dance;
} profile_t;

/* One profile per mood, in au_mood_t order, with the columns of the table
 * in docs/scorers.md, Mood scorer: the valence, energy and tempo ranges, the
 * danceability minimum, then the weights of valence, energy, tempo and
 * danceability. Laid out by hand (clang-format off) so that each row reads
 * like that table's and can be checked against it. */
/* clang-format off */
static const profile_t profiles[AU_MOOD_COUNT] = {
    {"HAPPY_UPBEAT", "Happy & Upbeat",
     {0.6, 1.0}, {0.6, 1.0}, {100, 180}, 0.5, 1.5, 1.2, 0.8, 1.0},
    {"CHILL_RELAXED", "Chill & Relaxed",
     {0.3, 0.7}, {0.0, 0.5}, { 60, 110}, 0.0, 0.8, 1.5, 1.0, 0.5},
    {"ENERGETIC_INTENSE", "Energetic & Intense",
     {0.4, 1.0}, {0.8, 1.0}, {130, 200}, 0.4, 0.5, 2.0, 1.5, 1.0},
    {"MELANCHOLIC", "Melancholic & Reflective",
     {0.0, 0.4}, {0.0, 0.5}, { 60, 120}, 0.0, 2.0, 1.2, 0.6, 0.3},
    {"FOCUS", "Focus & Concentration",
     {0.2, 0.6}, {0.3, 0.7}, { 80, 130}, 0.0, 0.5, 1.0, 0.8, 0.3},
    {"PARTY_DANCE", "Party & Dance",
     {0.5, 1.0}, {0.7, 1.0}, {110, 140}, 0.7, 1.0, 1.5, 1.2, 2.0},
    {"LATE_NIGHT", "Late Night Vibes",
     {0.2, 0.6}, {0.2, 0.5}, { 70, 100}, 0.0, 1.0, 1.5, 1.0, 0.5},
    {"MORNING_ENERGY", "Morning Energy",
     {0.5, 0.9}, {0.5, 0.8}, {100, 140}, 0.4, 1.5, 1.3, 0.9, 0.8},
};
/* clang-format on */

/* Distance from x to the closed range [lo, hi]; 0 inside. */
static double distance(double x, const double r[2])
{
    return x < r[0] ? r[0] - x : (x > r[1] ? x - r[1] : 0.0);
}

static int unit_ok(double x)
{
    return isnan(x) || (x >= 0.0 && x <= 1.0);
}

static int features_ok(const au_mood_features_t *f)
{
    return unit_ok(f->valence) && unit_ok(f->energy) &&
           unit_ok(f->danceability) &&
           (isnan(f->tempo) || (isfinite(f->tempo) && f->tempo >= 0.0));
}

static double or_default(double x, double dflt)
{
    return isnan(x) ? dflt : x;
}

/* A missing feature takes the per-track default, so the score matches the
 * golden values, and lowers coverage, so the caller can see it was guessed.
 * Danceability counts its raw value once it reaches the minimum, not 1:
 * the predecessor's rule, kept. */
static void score_one(const au_mood_features_t *f, const profile_t *p,
                      double *score, double *coverage)
{
    double v = or_default(f->valence, 0.5);
    double e = or_default(f->energy, 0.5);
    double d = or_default(f->danceability, 0.5);
    double t = or_default(f->tempo, 120.0);
    double sv = fmax(0.0, 1.0 - 2.0 * distance(v, p->valence));
    double se = fmax(0.0, 1.0 - 2.0 * distance(e, p->energy));
    double st = fmax(0.0, 1.0 - distance(t, p->tempo) / 50.0);
    double sd = d >= p->dance_min ? d : 0.5 * d;
    double wsum = p->w_valence + p->w_energy + p->w_tempo + p->w_dance;
    *score = (p->w_valence * sv + p->w_energy * se + p->w_tempo * st +
              p->w_dance * sd) /
             wsum * 100.0;
    double measured = (isnan(f->valence) ? 0.0 : p->w_valence) +
                      (isnan(f->energy) ? 0.0 : p->w_energy) +
                      (isnan(f->tempo) ? 0.0 : p->w_tempo) +
                      (isnan(f->danceability) ? 0.0 : p->w_dance);
    *coverage = measured / wsum;
}

int au_mood_score(const au_mood_features_t *f, au_mood_t mood, double *score,
                  double *coverage)
{
    double cov;
    if (!f || !score || (unsigned)mood >= AU_MOOD_COUNT || !features_ok(f))
        return AU_EINVAL;
    score_one(f, &profiles[mood], score, &cov);
    if (coverage)
        *coverage = cov;
    return 0;
}

const char *au_mood_name(au_mood_t mood)
{
    return (unsigned)mood < AU_MOOD_COUNT ? profiles[mood].name : "unknown";
}

const char *au_mood_label(au_mood_t mood)
{
    return (unsigned)mood < AU_MOOD_COUNT ? profiles[mood].label : "unknown";
}

struct au_mood_playlists_t {
    au_mood_entry_t *entries[AU_MOOD_COUNT];
    size_t size[AU_MOOD_COUNT];
};

void au_mood_options_default(au_mood_options_t *opt)
{
    if (!opt)
        return;
    opt->min_score = 60.0;
    opt->max_per_mood = 50;
    opt->min_coverage = 0.0;
}

/* Best score first; equal scores keep input order (qsort is not stable, so
 * the index decides). */
static int by_score_desc(const void *a, const void *b)
{
    const au_mood_entry_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

void au_mood_playlists_destroy(au_mood_playlists_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t m = 0; m < AU_MOOD_COUNT; m++)
        free((*self_p)->entries[m]);
    free(*self_p);
    *self_p = NULL;
}

static int fill_mood(au_mood_playlists_t *pl, au_mood_t mood,
                     const au_mood_features_t *tracks, size_t n,
                     const au_mood_options_t *opt, au_mood_entry_t *scratch)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        double score, cov;
        score_one(&tracks[i], &profiles[mood], &score, &cov);
        if (score >= opt->min_score && cov >= opt->min_coverage)
            scratch[kept++] = (au_mood_entry_t){i, score, cov};
    }
    qsort(scratch, kept, sizeof *scratch, by_score_desc);
    if (kept > opt->max_per_mood)
        kept = opt->max_per_mood;
    if (!kept)
        return 0;
    pl->entries[mood] = malloc(kept * sizeof *scratch);
    if (!pl->entries[mood])
        return AU_ENOMEM;
    for (size_t i = 0; i < kept; i++)
        pl->entries[mood][i] = scratch[i];
    pl->size[mood] = kept;
    return 0;
}

int au_mood_playlists_new(const au_mood_features_t *tracks, size_t n,
                          const au_mood_options_t *opt,
                          au_mood_playlists_t **out)
{
    au_mood_options_t dflt;
    au_mood_entry_t *scratch = NULL;
    au_mood_playlists_t *pl = NULL;
    int rc = AU_EINVAL;
    if (!out || (n && !tracks))
        return AU_EINVAL;
    *out = NULL;
    if (!opt) {
        au_mood_options_default(&dflt);
        opt = &dflt;
    }
    if (isnan(opt->min_score) || !(opt->min_coverage >= 0.0) ||
        opt->min_coverage > 1.0)
        return AU_EINVAL;
    if (n > AU_MOOD_MAX_TRACKS)
        return AU_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        if (!features_ok(&tracks[i]))
            return AU_EINVAL;

    pl = calloc(1, sizeof *pl);
    scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (!pl || !scratch) {
        rc = AU_ENOMEM;
        goto cleanup;
    }
    for (size_t m = 0; m < AU_MOOD_COUNT; m++) {
        rc = fill_mood(pl, (au_mood_t)m, tracks, n, opt, scratch);
        if (rc)
            goto cleanup;
    }
    *out = pl;
    pl = NULL;
    rc = 0;
cleanup:
    free(scratch);
    au_mood_playlists_destroy(&pl);
    return rc;
}

size_t au_mood_playlists_size(const au_mood_playlists_t *self, au_mood_t mood)
{
    if (!self || (unsigned)mood >= AU_MOOD_COUNT)
        return 0;
    return self->size[mood];
}

const au_mood_entry_t *
au_mood_playlists_entries(const au_mood_playlists_t *self, au_mood_t mood)
{
    if (!self || (unsigned)mood >= AU_MOOD_COUNT)
        return NULL;
    return self->entries[mood];
}
