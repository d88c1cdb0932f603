/* au_keys.h: a track's and an artist's canonical identity, computed from
 * what the source said. Enrich adds them to every record; analytics
 * computes them again and refuses a record whose keys are not the ones
 * its own fields give (docs/ARCHITECTURE.md, "Only the cluster can
 * write"): the keys decide which stored track a row belongs to. */
#ifndef AU_KEYS_H
#define AU_KEYS_H

#include <stddef.h>

#include "au_err.h"
#include "au_proto.h"

/* Normalised artist key: surrounding white space trimmed, inner runs of
 * white space collapsed to one space, ASCII letters lower-cased (other
 * UTF-8 left as is, so non-Latin names keep their identity). Returns the
 * length, or AU_ETOOBIG when it does not fit in cap. */
int au_artist_key(const char *artist, char *out, size_t cap);

/* Canonical track key: "spotify:<id>" when the source gives a Spotify
 * track id, otherwise "nk:<hash>" over the normalised name and artist key
 * (stable across processes). */
int au_track_key(const char *track_id, const char *name, const char *artist_key,
                 char *out, size_t cap);

/* The recording a track is, across platforms (docs/ARCHITECTURE.md, "One
 * track across platforms"): "ck:<hash>" over the title and the first
 * credited artist, both normalised as artist keys, with the typographic
 * apostrophe as ', the title without a bracketed credit ("(feat. X)",
 * "[ft. X]", "(with X)") or a " - ... Remaster..." suffix, and the artist
 * cut before ", " or a "feat."/"ft."/"featuring" credit. A Spotify chart's
 * "Post Malone, Swae Lee" / "Sunflower - Spider-Man: Into the
 * Spider-Verse" and Last.fm's "Post Malone" / the same title meet; two
 * different recordings with one title and one first artist (a live take,
 * a re-recording) meet too, which is the rule's known error. */
int au_canon_key(const char *title, const char *artist, char *out, size_t cap);

/* 0 when record i carries the track and artist keys its fields give;
 * AU_EMISMATCH naming it otherwise (absent keys included). */
int au_keys_check(const au_record_t *r, size_t i, au_error_t *err);

#endif
