#include "au_keys.h"

#include <stdio.h>
#include <string.h>

#include "au_cache.h"

static int is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' ||
           ch == '\f';
}

int au_artist_key(const char *artist, char *out, size_t cap)
{
    size_t n = 0;
    int pending_space = 0;
    for (const unsigned char *s = (const unsigned char *)artist; *s; s++) {
        if (is_space(*s)) {
            pending_space = n > 0;
            continue;
        }
        if (n + 2 + (size_t)pending_space > cap)
            return AU_ETOOBIG;
        if (pending_space)
            out[n++] = ' ';
        pending_space = 0;
        out[n++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
    }
    if (cap == 0)
        return AU_ETOOBIG;
    out[n] = '\0';
    return (int)n;
}

int au_track_key(const char *track_id, const char *name, const char *artist_key,
                 char *out, size_t cap)
{
    int n;
    if (track_id && *track_id) {
        n = snprintf(out, cap, "spotify:%s", track_id);
    } else {
        char norm[AU_PROTO_MAX_STR + 1];
        if (au_artist_key(name, norm, sizeof(norm)) < 0)
            return AU_ETOOBIG;
        const char *parts[] = {norm, artist_key};
        char key[64];
        au_cache_key(key, sizeof(key), "nk", 2, parts);
        n = snprintf(out, cap, "%s", key);
    }
    return (n < 0 || (size_t)n >= cap) ? AU_ETOOBIG : n;
}

/* s (NUL-terminated, normalised) with every "’" made "'", in place. */
static void plain_apostrophes(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (!strncmp(r, "\xe2\x80\x99", 3)) {
            *w++ = '\'';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

/* Drops "(feat. ...)", "[ft. ...)", "(with ...)" and the like. */
static void drop_credits(char *s)
{
    static const char *const words[] = {"feat. ", "feat ",      "ft. ",
                                        "ft ",    "featuring ", "with "};
    for (char *o = s; (o = strpbrk(o, "([")) != NULL;) {
        int credit = 0;
        for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
            credit |= !strncmp(o + 1, words[i], strlen(words[i]));
        char *c = credit ? strchr(o, *o == '(' ? ')' : ']') : NULL;
        if (!c) {
            o++;
            continue;
        }
        memmove(o, c + 1, strlen(c + 1) + 1);
    }
    trim_end(s);
}

int au_canon_key(const char *title, const char *artist, char *out, size_t cap)
{
    char t[AU_PROTO_MAX_STR + 1], a[AU_PROTO_MAX_STR + 1];
    if (au_artist_key(title, t, sizeof(t)) < 0 ||
        au_artist_key(artist, a, sizeof(a)) < 0)
        return AU_ETOOBIG;
    plain_apostrophes(t);
    plain_apostrophes(a);
    drop_credits(t);
    char *dash = strstr(t, " - ");
    if (dash && strstr(dash, "remaster"))
        *dash = '\0';
    /* What was cut may leave two blanks where there was one. */
    char t2[sizeof(t)];
    if (au_artist_key(t, t2, sizeof(t2)) < 0)
        return AU_ETOOBIG;
    memcpy(t, t2, strlen(t2) + 1);
    static const char *const cuts[] = {", ", " feat. ", " feat ", " ft. ",
                                       " featuring "};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
        char *c = strstr(a, cuts[i]);
        if (c && c > a)
            *c = '\0';
    }
    trim_end(t);
    trim_end(a);
    if (!t[0] || !a[0])
        return AU_EINVAL;
    const char *parts[] = {t, a};
    char key[64];
    au_cache_key(key, sizeof(key), "ck", 2, parts);
    int n = snprintf(out, cap, "%s", key);
    return (n < 0 || (size_t)n >= cap) ? AU_ETOOBIG : n;
}

int au_keys_check(const au_record_t *r, size_t i, au_error_t *err)
{
    char ak[AU_PROTO_MAX_STR + 1], tk[AU_PROTO_MAX_STR + 16];
    if (!r->track_key || !r->artist_key ||
        au_artist_key(r->artist, ak, sizeof(ak)) < 0 ||
        au_track_key(r->track_id, r->track_name, ak, tk, sizeof(tk)) < 0 ||
        strcmp(ak, r->artist_key) != 0 || strcmp(tk, r->track_key) != 0)
        return au_error_set(err, AU_EMISMATCH,
                            "record %zu: its track or artist key is not the "
                            "one its fields give",
                            i);
    return 0;
}
