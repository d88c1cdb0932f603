/* au_svc.c: parsers for Last.fm, Spotify Web API and MusicBrainz answers.
 * See au_svc.h for the contract.
 *
 * jansson builds the tree (bounded by AU_SVC_MAX_BODY and its own depth
 * limit); everything here walks it with a path kept beside, so that every
 * error names the field it is about (tracks.track[3].name). Results are
 * copied into the caller's arena as they are read, and the tree is freed
 * before returning, whatever happened. */
#include "au_svc.h"

#include "au_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A name we accept must fit in a record on the wire. */
_Static_assert(AU_SVC_MAX_STR == AU_PROTO_MAX_STR,
               "service strings and wire strings share one limit");

/* ---- the parse context -------------------------------------------------- */

/* One parse: which service (for messages), where results go, and the JSON
 * path of the value being read. */
typedef struct {
    const char *svc;
    au_arena_t *a;
    au_error_t *err;
    size_t plen;
    char path[160];
} px_t;

/* Appends to the path; returns the length to go back to. A path that
 * does not fit is cut: it is only ever read by people. */
static size_t px_push(px_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t px_push(px_t *p, const char *fmt, ...)
{
    size_t mark = p->plen;
    size_t room = sizeof(p->path) - p->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->path + p->plen, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->plen += (size_t)n < room ? (size_t)n : room - 1;
    return mark;
}

static size_t px_key(px_t *p, const char *key)
{
    return p->plen ? px_push(p, ".%s", key) : px_push(p, "%s", key);
}

static size_t px_index(px_t *p, size_t i)
{
    return px_push(p, "[%zu]", i);
}

static void px_back(px_t *p, size_t mark)
{
    p->plen = mark;
    p->path[mark] = '\0';
}

/* Fails with code about key under the current path (NULL: the current
 * value itself): "spotify: tracks[3].name: expected a string, ...". */
static int px_fail(px_t *p, int code, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int px_fail(px_t *p, int code, const char *key, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    size_t mark = key ? px_key(p, key) : p->plen;
    au_error_set(p->err, code, "%s: %s: %s", p->svc,
                 p->plen ? p->path : "response", why);
    px_back(p, mark);
    return code;
}

/* s[0..n) for a message: at most cap - 1 bytes, cut on a UTF-8 character
 * boundary and marked with "..." when cut. */
static void cut(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = n;
    if (n >= cap) {
        k = cap - 4;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
    }
    memcpy(dst, s, k);
    if (k < n) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

/* ---- fields ------------------------------------------------------------- */

enum {
    F_REQ = 1 << 0,        /* absent or null is AU_EMISSING */
    F_NONEMPTY = 1 << 1,   /* "" is AU_ERANGE */
    F_EMPTY_NULL = 1 << 2, /* "" means none (Last.fm's empty mbid) */
    F_NUMSTR = 1 << 3,     /* a number may come as a decimal string */
    F_SPOTIFY_ID = 1 << 4, /* 22 base62 characters */
    F_MBID = 1 << 5        /* a MusicBrainz UUID */
};

/* The member key of obj, NULL when absent or null. */
static int px_member(px_t *p, const json_t *obj, const char *key, int flags,
                     json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = json_is_null(v) ? NULL : v;
    if (!*out && (flags & F_REQ))
        return px_fail(p, AU_EMISSING, key, "%s",
                       v ? "is null" : "required field missing");
    return 0;
}

static int px_obj(px_t *p, const json_t *obj, const char *key, int flags,
                  json_t **out)
{
    int rc = px_member(p, obj, key, flags, out);
    if (rc == 0 && *out && !json_is_object(*out))
        rc = px_fail(p, AU_ETYPE, key, "expected an object, got %s",
                     jtype(*out));
    return rc;
}

static int px_arr(px_t *p, const json_t *obj, const char *key, int flags,
                  json_t **out)
{
    int rc = px_member(p, obj, key, flags, out);
    if (rc || !*out)
        return rc;
    if (!json_is_array(*out))
        return px_fail(p, AU_ETYPE, key, "expected an array, got %s",
                       jtype(*out));
    if (json_array_size(*out) > AU_SVC_MAX_ITEMS)
        return px_fail(p, AU_ETOOBIG, key, "%zu items exceed the limit of %d",
                       json_array_size(*out), AU_SVC_MAX_ITEMS);
    return 0;
}

static bool spotify_id_ok(const char *s, size_t n)
{
    if (n != 22)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* 8-4-4-4-12 hexadecimal digits. */
static bool mbid_ok(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                   (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

/* Checks the string v (the value of key) against flags and copies it. */
static int px_copy(px_t *p, const char *key, const json_t *v, int flags,
                   const char **out)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char shown[48];
    *out = NULL;
    if (n > AU_SVC_MAX_STR)
        return px_fail(p, AU_ETOOBIG, key,
                       "string of %zu bytes exceeds the limit of %d", n,
                       AU_SVC_MAX_STR);
    if (n == 0 && (flags & F_EMPTY_NULL))
        return 0;
    if (n == 0 && (flags & F_NONEMPTY))
        return px_fail(p, AU_ERANGE, key, "must not be empty");
    cut(shown, sizeof(shown), s, n);
    if ((flags & F_SPOTIFY_ID) && !spotify_id_ok(s, n))
        return px_fail(p, AU_ERANGE, key,
                       "\"%s\" is not a Spotify id (22 base62 characters)",
                       shown);
    if ((flags & F_MBID) && !mbid_ok(s, n))
        return px_fail(p, AU_ERANGE, key, "\"%s\" is not a MusicBrainz id",
                       shown);
    char *copy = au_arena_strndup(p->a, s, n);
    if (!copy)
        return px_fail(p, AU_ENOMEM, key, "arena cannot hold %zu bytes", n);
    *out = copy;
    return 0;
}

static int px_str(px_t *p, const json_t *obj, const char *key, int flags,
                  const char **out)
{
    json_t *v;
    *out = NULL;
    int rc = px_member(p, obj, key, flags, &v);
    if (rc || !v)
        return rc;
    if (!json_is_string(v))
        return px_fail(p, AU_ETYPE, key, "expected a string, got %s", jtype(v));
    return px_copy(p, key, v, flags, out);
}

/* Last.fm sends every number as a string of decimal digits; anything else
 * in one (a sign, a blank, "abc") is not a number we can trust. */
static int px_numstr(px_t *p, const char *key, const json_t *v, int64_t *out)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char shown[40];
    int64_t x = 0;
    cut(shown, sizeof(shown), s, n);
    if (n == 0)
        return px_fail(p, AU_EPARSE, key, "\"\" is not a decimal number");
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return px_fail(p, AU_EPARSE, key, "\"%s\" is not a decimal number",
                           shown);
        if (x > (INT64_MAX - (s[i] - '0')) / 10)
            return px_fail(p, AU_ERANGE, key, "\"%s\" is too large", shown);
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return 0;
}

/* An integer in lo..hi; -1 when absent (or, with F_NUMSTR and not F_REQ,
 * sent as "", which is how Last.fm leaves a value out). */
static int px_int(px_t *p, const json_t *obj, const char *key, int flags,
                  int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v;
    int64_t x = 0;
    *out = -1;
    int rc = px_member(p, obj, key, flags, &v);
    if (rc || !v)
        return rc;
    if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else if (json_is_string(v) && (flags & F_NUMSTR)) {
        if (json_string_length(v) == 0 && !(flags & F_REQ))
            return 0;
        if ((rc = px_numstr(p, key, v, &x)) != 0)
            return rc;
    } else {
        return px_fail(p, AU_ETYPE, key, "expected %s, got %s",
                       (flags & F_NUMSTR) ? "a number or a decimal string"
                                          : "an integer",
                       jtype(v));
    }
    if (x < lo || x > hi)
        return px_fail(p, AU_ERANGE, key, "%lld is outside %lld..%lld",
                       (long long)x, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int px_int32(px_t *p, const json_t *obj, const char *key, int flags,
                    int32_t lo, int32_t hi, int32_t *out)
{
    int64_t x;
    int rc = px_int(p, obj, key, flags, lo, hi, &x);
    *out = (int32_t)x;
    return rc;
}

/* A required number (integer or real) in lo..hi. */
static int px_real(px_t *p, const json_t *obj, const char *key, double lo,
                   double hi, double *out)
{
    json_t *v;
    int rc = px_member(p, obj, key, F_REQ, &v);
    if (rc)
        return rc;
    if (!json_is_number(v))
        return px_fail(p, AU_ETYPE, key, "expected a number, got %s", jtype(v));
    *out = json_number_value(v);
    if (!(*out >= lo && *out <= hi))
        return px_fail(p, AU_ERANGE, key, "%g is outside %g..%g", *out, lo, hi);
    return 0;
}

/* false when absent or null. */
static int px_bool(px_t *p, const json_t *obj, const char *key, bool *out)
{
    json_t *v;
    *out = false;
    int rc = px_member(p, obj, key, 0, &v);
    if (rc || !v)
        return rc;
    if (!json_is_boolean(v))
        return px_fail(p, AU_ETYPE, key, "expected a boolean, got %s",
                       jtype(v));
    *out = json_is_true(v);
    return 0;
}

/* n zeroed elements of size bytes in the arena; NULL when n is 0 or on
 * failure (*rc says which). n is at most AU_SVC_MAX_ITEMS, so n * size
 * cannot overflow. */
static void *px_alloc(px_t *p, size_t n, size_t size, int *rc)
{
    *rc = 0;
    if (n == 0)
        return NULL;
    void *mem = au_arena_alloc(p->a, n * size);
    if (!mem) {
        *rc = px_fail(p, AU_ENOMEM, NULL, "arena cannot hold %zu items", n);
        return NULL;
    }
    memset(mem, 0, n * size);
    return mem;
}

/* An optional array of strings. */
static int px_strings(px_t *p, const json_t *obj, const char *key, int flags,
                      const char ***out, uint32_t *n)
{
    json_t *arr;
    *out = NULL;
    *n = 0;
    int rc = px_arr(p, obj, key, 0, &arr);
    if (rc || !arr)
        return rc;
    size_t count = json_array_size(arr);
    const char **strs = px_alloc(p, count, sizeof(*strs), &rc);
    if (rc)
        return rc;
    size_t mark = px_key(p, key);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const json_t *v = json_array_get(arr, i);
        size_t m = px_index(p, i);
        if (!json_is_string(v))
            rc = px_fail(p, AU_ETYPE, NULL, "expected a string, got %s",
                         jtype(v));
        else
            rc = px_copy(p, NULL, v, flags | F_NONEMPTY, &strs[i]);
        px_back(p, m);
    }
    px_back(p, mark);
    if (rc == 0) {
        *out = strs;
        *n = (uint32_t)count;
    }
    return rc;
}

/* ---- arrays of objects -------------------------------------------------- */

/* Fills one result element from one object: 0 kept, 1 left out (counted
 * as skipped), or a negative code. */
typedef int (*item_fn)(px_t *p, const json_t *item, void *dst);

typedef struct {
    size_t size; /* of one result element */
    item_fn fn;
    bool nulls; /* a null element is skipped, not an error */
    bool lone;  /* an object stands for an array of one */
} each_t;

static int px_item(px_t *p, const json_t *it, const each_t *e, void *dst,
                   uint32_t *skipped)
{
    if (json_is_null(it) && e->nulls) {
        (*skipped)++;
        return 1;
    }
    if (!json_is_object(it))
        return px_fail(p, AU_ETYPE, NULL, "expected an object, got %s",
                       jtype(it));
    int rc = e->fn(p, it, dst);
    if (rc == 1)
        (*skipped)++;
    return rc;
}

/* The array key of obj, each element through e->fn; kept elements are
 * packed, in order, into one arena array whose address goes to the
 * pointer at items (a T ** for e->size == sizeof(T); memcpy, since that
 * pointer is not a void *). */
static int px_each(px_t *p, const json_t *obj, const char *key, int flags,
                   const each_t *e, void *items, uint32_t *count,
                   uint32_t *skipped)
{
    json_t *v;
    uint32_t skip = 0;
    *count = 0;
    int rc = px_member(p, obj, key, flags, &v);
    if (rc || !v)
        return rc;
    bool lone = e->lone && json_is_object(v);
    if (!lone && (rc = px_arr(p, obj, key, flags, &v)) != 0)
        return rc;
    size_t n = lone ? 1 : json_array_size(v);
    char *dst = px_alloc(p, n, e->size, &rc);
    if (rc)
        return rc;
    size_t mark = px_key(p, key);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t m = px_index(p, i);
        const json_t *it = lone ? v : json_array_get(v, i);
        rc = px_item(p, it, e, dst + (size_t)*count * e->size, &skip);
        if (rc == 0)
            (*count)++;
        rc = rc == 1 ? 0 : rc;
        px_back(p, m);
    }
    px_back(p, mark);
    void *kept = *count ? dst : NULL;
    memcpy(items, &kept, sizeof(kept));
    if (skipped)
        *skipped = skip;
    return rc;
}

/* ---- one call ----------------------------------------------------------- */

typedef int (*error_shape_fn)(px_t *p, const json_t *root);
typedef int (*root_fn)(px_t *p, const json_t *root, void *out);

typedef struct {
    const char *name;
    error_shape_fn error_shape; /* AU_ESERVICE when root is an error */
} svc_t;

static int load_error(px_t *p, const char *json, size_t len,
                      const json_error_t *je)
{
    int code;
    switch (json_error_code(je)) {
    case json_error_premature_end_of_input:
        code = AU_ETRUNCATED;
        break;
    case json_error_end_of_input_expected:
        code = AU_ETRAILING;
        break;
    case json_error_invalid_utf8:
        code = AU_EUTF8;
        break;
    case json_error_stack_overflow:
        code = AU_ENESTING;
        break;
    case json_error_numeric_overflow:
        code = AU_ERANGE;
        break;
    case json_error_out_of_memory:
        code = AU_ENOMEM;
        break;
    default:
        /* "'}' expected near end of file": the body stopped early. */
        code = je->position >= 0 && (size_t)je->position >= len ? AU_ETRUNCATED
                                                                : AU_EPARSE;
    }
    size_t i = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' ||
                       json[i] == '\n'))
        i++;
    /* A proxy's or the service's own error page is the usual non-JSON. */
    const char *hint = i < len && json[i] == '<' ? " (an HTML page?)" : "";
    return au_error_set(p->err, code,
                        "%s: invalid JSON at byte %d (line %d, column %d): "
                        "%s%s",
                        p->svc, je->position, je->line, je->column, je->text,
                        hint);
}

static int run(const svc_t *svc, root_fn fn, const char *json, size_t len,
               au_arena_t *a, void *out, size_t out_size, au_error_t *err)
{
    px_t p = {.svc = svc->name, .a = a, .err = err};
    json_error_t je;
    if (!json || !a || !out)
        return au_error_set(err, AU_EINVAL, "%s: NULL argument", svc->name);
    memset(out, 0, out_size);
    if (len > AU_SVC_MAX_BODY)
        return au_error_set(err, AU_ETOOBIG,
                            "%s: response of %zu bytes exceeds the limit "
                            "of %u",
                            svc->name, len, AU_SVC_MAX_BODY);
    /* Duplicate keys are refused, as the wire decoder refuses them: which
     * of two values a service meant is a guess. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return load_error(&p, json, len, &je);
    int rc = 0;
    if (!json_is_object(root))
        rc = px_fail(&p, AU_ETYPE, NULL, "expected an object, got %s",
                     jtype(root));
    if (rc == 0)
        rc = svc->error_shape(&p, root);
    if (rc == 0)
        rc = fn(&p, root, out);
    json_decref(root);
    if (rc)
        memset(out, 0, out_size);
    return rc;
}

/* The text of a service's error message, cut for err. */
static void service_text(char *dst, size_t cap, const json_t *v)
{
    if (json_is_string(v))
        cut(dst, cap, json_string_value(v), json_string_length(v));
    else
        cut(dst, cap, "(no message)", 12);
}

/* ---- Last.fm ------------------------------------------------------------ */

/* {"error":6,"message":"..."}: Last.fm's answer to a bad request. */
static int lf_error_shape(px_t *p, const json_t *root)
{
    const json_t *e = json_object_get(root, "error");
    char msg[160];
    if (!e)
        return 0;
    service_text(msg, sizeof(msg), json_object_get(root, "message"));
    if (json_is_integer(e))
        return au_error_set(p->err, AU_ESERVICE, "last.fm error %lld: %s",
                            (long long)json_integer_value(e), msg);
    return au_error_set(p->err, AU_ESERVICE, "last.fm error: %s", msg);
}

static int lf_attr(px_t *p, const json_t *tracks, au_lastfm_page_t *out)
{
    json_t *attr;
    out->page = out->per_page = out->total_pages = out->total = -1;
    int rc = px_obj(p, tracks, "@attr", 0, &attr);
    if (rc || !attr)
        return rc;
    size_t mark = px_key(p, "@attr");
    rc = px_int(p, attr, "page", F_NUMSTR, 1, INT32_MAX, &out->page);
    if (rc == 0)
        rc = px_int(p, attr, "perPage", F_NUMSTR, 1, AU_SVC_MAX_ITEMS,
                    &out->per_page);
    if (rc == 0)
        rc = px_int(p, attr, "totalPages", F_NUMSTR, 0, INT64_MAX,
                    &out->total_pages);
    if (rc == 0)
        rc = px_int(p, attr, "total", F_NUMSTR, 0, INT64_MAX, &out->total);
    if (rc == 0)
        rc = px_str(p, attr, "country", F_NONEMPTY, &out->country);
    if (rc == 0)
        rc = px_str(p, attr, "tag", F_NONEMPTY, &out->tag);
    px_back(p, mark);
    out->kind = out->country ? AU_LASTFM_GEO
                : out->tag   ? AU_LASTFM_TAG
                             : AU_LASTFM_CHART;
    return rc;
}

static int lf_artist(px_t *p, const json_t *it, au_lastfm_track_t *t)
{
    json_t *artist;
    int rc = px_obj(p, it, "artist", F_REQ, &artist);
    if (rc)
        return rc;
    size_t mark = px_key(p, "artist");
    rc = px_str(p, artist, "name", F_REQ | F_NONEMPTY, &t->artist);
    if (rc == 0)
        rc = px_str(p, artist, "mbid", F_EMPTY_NULL, &t->artist_mbid);
    px_back(p, mark);
    return rc;
}

/* One track; its position holds the raw @attr.rank (-1: none) until
 * lf_positions has seen the whole page. */
static int lf_track(px_t *p, const json_t *it, void *dst)
{
    au_lastfm_track_t *t = dst;
    json_t *attr;
    int64_t rank = -1;
    int rc = px_str(p, it, "name", F_REQ | F_NONEMPTY, &t->name);
    if (rc == 0)
        rc = px_str(p, it, "mbid", F_EMPTY_NULL, &t->mbid);
    if (rc == 0)
        rc = px_str(p, it, "url", F_EMPTY_NULL, &t->url);
    if (rc == 0)
        rc = px_int(p, it, "playcount", F_NUMSTR, 0, INT64_MAX, &t->playcount);
    if (rc == 0)
        rc = px_int(p, it, "listeners", F_NUMSTR, 0, INT64_MAX, &t->listeners);
    if (rc == 0)
        rc = lf_artist(p, it, t);
    if (rc == 0)
        rc = px_obj(p, it, "@attr", 0, &attr);
    if (rc == 0 && attr) {
        size_t mark = px_key(p, "@attr");
        rc = px_int(p, attr, "rank", F_NUMSTR, 0, INT32_MAX, &rank);
        px_back(p, mark);
    }
    t->position = (int32_t)rank;
    return rc;
}

/* Ranks as the three methods give them, made one 1-based position. geo
 * counts from 0, and a 0 anywhere on a page says the same of it. Ranks
 * that restart on each page are at most the page's offset on any page
 * after the first; ranks over the whole chart lie past it. */
static int lf_positions(px_t *p, au_lastfm_page_t *out)
{
    int64_t offset = out->page > 0 && out->per_page > 0
                         ? (out->page - 1) * out->per_page
                         : 0;
    int64_t min = INT64_MAX;
    for (uint32_t i = 0; i < out->count; i++)
        if (out->tracks[i].position >= 0 && out->tracks[i].position < min)
            min = out->tracks[i].position;
    int64_t base = out->kind == AU_LASTFM_GEO || min == 0 ? 0 : 1;
    bool whole_chart = min != INT64_MAX && min - base + 1 > offset;
    for (uint32_t i = 0; i < out->count; i++) {
        au_lastfm_track_t *t = &out->tracks[i];
        int64_t pos = t->position < 0
                          ? offset + i + 1
                          : t->position - base + 1 + (whole_chart ? 0 : offset);
        if (pos > INT32_MAX) {
            size_t mark = px_key(p, "track");
            px_index(p, i);
            px_fail(p, AU_ERANGE, NULL, "position %lld is over %d",
                    (long long)pos, INT32_MAX);
            px_back(p, mark);
            return AU_ERANGE;
        }
        t->position = (int32_t)pos;
    }
    return 0;
}

static const each_t lf_track_each = {.size = sizeof(au_lastfm_track_t),
                                     .fn = lf_track,
                                     /* Last.fm's JSON is converted from
                                      * XML, where one child is no list. */
                                     .lone = true};

static int lf_top_tracks(px_t *p, const json_t *root, void *vout)
{
    au_lastfm_page_t *out = vout;
    json_t *tracks;
    int rc = px_obj(p, root, "tracks", F_REQ, &tracks);
    if (rc)
        return rc;
    px_key(p, "tracks");
    if ((rc = lf_attr(p, tracks, out)) != 0)
        return rc;
    /* An empty page can come without "track" at all. */
    int need = out->total == 0 ? 0 : F_REQ;
    rc = px_each(p, tracks, "track", need, &lf_track_each, &out->tracks,
                 &out->count, NULL);
    return rc ? rc : lf_positions(p, out);
}

static const svc_t lastfm = {"last.fm", lf_error_shape};

int au_lastfm_parse_top_tracks(const char *json, size_t len, au_arena_t *a,
                               au_lastfm_page_t *out, au_error_t *err)
{
    return run(&lastfm, lf_top_tracks, json, len, a, out, sizeof(*out), err);
}

/* ---- Spotify ------------------------------------------------------------ */

/* {"error":{"status":404,"message":"..."}} from the Web API, or the OAuth
 * {"error":"invalid_client","error_description":"..."} from the token
 * endpoint. */
static int sp_error_shape(px_t *p, const json_t *root)
{
    const json_t *e = json_object_get(root, "error");
    char msg[160];
    if (!e)
        return 0;
    if (json_is_object(e)) {
        const json_t *status = json_object_get(e, "status");
        service_text(msg, sizeof(msg), json_object_get(e, "message"));
        return au_error_set(p->err, AU_ESERVICE, "spotify error %lld: %s",
                            json_is_integer(status)
                                ? (long long)json_integer_value(status)
                                : 0LL,
                            msg);
    }
    char code[48];
    service_text(code, sizeof(code), e);
    service_text(msg, sizeof(msg), json_object_get(root, "error_description"));
    return au_error_set(p->err, AU_ESERVICE, "spotify error %s: %s", code, msg);
}

static int sp_credit(px_t *p, const json_t *it, void *dst)
{
    au_spotify_credit_t *c = dst;
    int rc = px_str(p, it, "id", F_SPOTIFY_ID, &c->id);
    return rc ? rc : px_str(p, it, "name", F_REQ | F_NONEMPTY, &c->name);
}

static const each_t sp_credit_each = {.size = sizeof(au_spotify_credit_t),
                                      .fn = sp_credit};

static int sp_album(px_t *p, const json_t *t, au_spotify_track_t *out)
{
    json_t *album;
    int rc = px_obj(p, t, "album", 0, &album);
    if (rc || !album)
        return rc;
    size_t mark = px_key(p, "album");
    rc = px_str(p, album, "name", F_REQ, &out->album);
    if (rc == 0)
        rc = px_str(p, album, "release_date", F_EMPTY_NULL, &out->release_date);
    px_back(p, mark);
    return rc;
}

static int sp_track(px_t *p, const json_t *t, void *dst)
{
    au_spotify_track_t *out = dst;
    json_t *ext;
    int rc = px_str(p, t, "id", F_REQ | F_SPOTIFY_ID, &out->id);
    if (rc == 0)
        rc = px_str(p, t, "name", F_REQ | F_NONEMPTY, &out->name);
    if (rc == 0)
        rc = px_each(p, t, "artists", F_REQ, &sp_credit_each, &out->artists,
                     &out->nartists, NULL);
    if (rc == 0)
        rc = sp_album(p, t, out);
    if (rc == 0)
        rc =
            px_int(p, t, "duration_ms", F_REQ, 0, INT32_MAX, &out->duration_ms);
    if (rc == 0)
        rc = px_int32(p, t, "popularity", 0, 0, 100, &out->popularity);
    if (rc == 0)
        rc = px_obj(p, t, "external_ids", 0, &ext);
    if (rc == 0 && ext) {
        size_t mark = px_key(p, "external_ids");
        rc = px_str(p, ext, "isrc", F_EMPTY_NULL, &out->isrc);
        px_back(p, mark);
    }
    return rc;
}

/* A local file has no Spotify id, and a playlist can hold podcast
 * episodes: neither is a track the charts can name. */
static int sp_track_or_skip(px_t *p, const json_t *t, void *dst)
{
    const json_t *type = json_object_get(t, "type");
    bool local;
    int rc = px_bool(p, t, "is_local", &local);
    if (rc)
        return rc;
    if (local ||
        (json_is_string(type) && strcmp(json_string_value(type), "track")))
        return 1;
    return sp_track(p, t, dst);
}

/* A playlist item: {"added_at":...,"is_local":...,"track":{...}|null}. */
static int sp_playlist_item(px_t *p, const json_t *it, void *dst)
{
    json_t *t;
    bool local;
    int rc = px_bool(p, it, "is_local", &local);
    if (rc == 0)
        rc = px_obj(p, it, "track", 0, &t);
    if (rc || local || !t)
        return rc ? rc : 1;
    size_t mark = px_key(p, "track");
    rc = sp_track_or_skip(p, t, dst);
    px_back(p, mark);
    return rc;
}

static const each_t sp_track_each = {
    .size = sizeof(au_spotify_track_t), .fn = sp_track_or_skip, .nulls = true};
static const each_t sp_item_each = {
    .size = sizeof(au_spotify_track_t), .fn = sp_playlist_item, .nulls = true};

/* The numbers and link of a paging object. */
static int sp_paging(px_t *p, const json_t *pg, int64_t *total, int64_t *limit,
                     int64_t *offset, const char **next)
{
    int rc = px_int(p, pg, "total", F_REQ, 0, INT64_MAX, total);
    if (rc == 0)
        rc = px_int(p, pg, "limit", F_REQ, 0, INT64_MAX, limit);
    if (rc == 0)
        rc = px_int(p, pg, "offset", F_REQ, 0, INT64_MAX, offset);
    return rc ? rc : px_str(p, pg, "next", F_EMPTY_NULL, next);
}

static int sp_track_page(px_t *p, const json_t *pg, const each_t *e,
                         au_spotify_tracks_t *out)
{
    int rc =
        sp_paging(p, pg, &out->total, &out->limit, &out->offset, &out->next);
    if (rc == 0)
        rc = px_each(p, pg, "items", F_REQ, e, &out->tracks, &out->count,
                     &out->skipped);
    return rc;
}

/* The paging object under key of root, e.g. "tracks" of a search. */
static int sp_sub_page(px_t *p, const json_t *root, const char *key,
                       json_t **pg)
{
    int rc = px_obj(p, root, key, F_REQ, pg);
    if (rc == 0)
        px_key(p, key);
    return rc;
}

static int sp_token_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_token_t *out = vout;
    int rc =
        px_str(p, root, "access_token", F_REQ | F_NONEMPTY, &out->access_token);
    if (rc == 0)
        rc =
            px_str(p, root, "token_type", F_REQ | F_NONEMPTY, &out->token_type);
    return rc ? rc
              : px_int(p, root, "expires_in", F_REQ, 0, INT32_MAX,
                       &out->expires_in);
}

static int sp_playlist_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_playlist_t *out = vout;
    json_t *pg;
    int rc = px_str(p, root, "id", F_REQ | F_SPOTIFY_ID, &out->id);
    if (rc == 0)
        rc = px_str(p, root, "name", F_REQ, &out->name);
    if (rc == 0)
        rc = px_str(p, root, "snapshot_id", F_EMPTY_NULL, &out->snapshot_id);
    if (rc == 0)
        rc = sp_sub_page(p, root, "tracks", &pg);
    return rc ? rc : sp_track_page(p, pg, &sp_item_each, &out->tracks);
}

static int sp_items_root(px_t *p, const json_t *root, void *out)
{
    return sp_track_page(p, root, &sp_item_each, out);
}

static int sp_tracks_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_tracks_t *out = vout;
    out->total = out->limit = out->offset = -1;
    return px_each(p, root, "tracks", F_REQ, &sp_track_each, &out->tracks,
                   &out->count, &out->skipped);
}

static int sp_search_tracks_root(px_t *p, const json_t *root, void *out)
{
    json_t *pg;
    int rc = sp_sub_page(p, root, "tracks", &pg);
    return rc ? rc : sp_track_page(p, pg, &sp_track_each, out);
}

static int sp_artist(px_t *p, const json_t *it, void *dst)
{
    au_spotify_artist_t *out = dst;
    json_t *fol;
    int rc = px_str(p, it, "id", F_REQ | F_SPOTIFY_ID, &out->id);
    if (rc == 0)
        rc = px_str(p, it, "name", F_REQ | F_NONEMPTY, &out->name);
    if (rc == 0)
        rc = px_strings(p, it, "genres", 0, &out->genres, &out->ngenres);
    if (rc == 0)
        rc = px_int32(p, it, "popularity", 0, 0, 100, &out->popularity);
    out->followers = -1;
    if (rc == 0)
        rc = px_obj(p, it, "followers", 0, &fol);
    if (rc == 0 && fol) {
        size_t mark = px_key(p, "followers");
        rc = px_int(p, fol, "total", 0, 0, INT64_MAX, &out->followers);
        px_back(p, mark);
    }
    return rc;
}

static const each_t sp_artist_each = {
    .size = sizeof(au_spotify_artist_t), .fn = sp_artist, .nulls = true};

static int sp_artists_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_artists_t *out = vout;
    out->total = out->limit = out->offset = -1;
    return px_each(p, root, "artists", F_REQ, &sp_artist_each, &out->artists,
                   &out->count, &out->skipped);
}

static int sp_search_artists_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_artists_t *out = vout;
    json_t *pg;
    int rc = sp_sub_page(p, root, "artists", &pg);
    if (rc == 0)
        rc = sp_paging(p, pg, &out->total, &out->limit, &out->offset,
                       &out->next);
    return rc ? rc
              : px_each(p, pg, "items", F_REQ, &sp_artist_each, &out->artists,
                        &out->count, &out->skipped);
}

/* The scales of au_proto.c's audio features: 0..1, tempo in BPM. */
static int sp_features(px_t *p, const json_t *it, void *dst)
{
    au_spotify_features_t *out = dst;
    int rc = px_str(p, it, "id", F_REQ | F_SPOTIFY_ID, &out->id);
    if (rc == 0)
        rc = px_real(p, it, "danceability", 0.0, 1.0, &out->danceability);
    if (rc == 0)
        rc = px_real(p, it, "energy", 0.0, 1.0, &out->energy);
    if (rc == 0)
        rc = px_real(p, it, "valence", 0.0, 1.0, &out->valence);
    return rc ? rc : px_real(p, it, "tempo", 0.0, 1000.0, &out->tempo);
}

static const each_t sp_features_each = {
    .size = sizeof(au_spotify_features_t), .fn = sp_features, .nulls = true};

static int sp_features_list_root(px_t *p, const json_t *root, void *vout)
{
    au_spotify_features_list_t *out = vout;
    return px_each(p, root, "audio_features", F_REQ, &sp_features_each,
                   &out->features, &out->count, &out->skipped);
}

static int sp_track_root(px_t *p, const json_t *root, void *out)
{
    return sp_track(p, root, out);
}

static int sp_artist_root(px_t *p, const json_t *root, void *out)
{
    return sp_artist(p, root, out);
}

static int sp_features_root(px_t *p, const json_t *root, void *out)
{
    return sp_features(p, root, out);
}

static const svc_t spotify = {"spotify", sp_error_shape};

int au_spotify_parse_token(const char *json, size_t len, au_arena_t *a,
                           au_spotify_token_t *out, au_error_t *err)
{
    return run(&spotify, sp_token_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_playlist(const char *json, size_t len, au_arena_t *a,
                              au_spotify_playlist_t *out, au_error_t *err)
{
    return run(&spotify, sp_playlist_root, json, len, a, out, sizeof(*out),
               err);
}

int au_spotify_parse_playlist_items(const char *json, size_t len, au_arena_t *a,
                                    au_spotify_tracks_t *out, au_error_t *err)
{
    return run(&spotify, sp_items_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_tracks(const char *json, size_t len, au_arena_t *a,
                            au_spotify_tracks_t *out, au_error_t *err)
{
    return run(&spotify, sp_tracks_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_track(const char *json, size_t len, au_arena_t *a,
                           au_spotify_track_t *out, au_error_t *err)
{
    return run(&spotify, sp_track_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_search_tracks(const char *json, size_t len, au_arena_t *a,
                                   au_spotify_tracks_t *out, au_error_t *err)
{
    return run(&spotify, sp_search_tracks_root, json, len, a, out, sizeof(*out),
               err);
}

int au_spotify_parse_artist(const char *json, size_t len, au_arena_t *a,
                            au_spotify_artist_t *out, au_error_t *err)
{
    return run(&spotify, sp_artist_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_artists(const char *json, size_t len, au_arena_t *a,
                             au_spotify_artists_t *out, au_error_t *err)
{
    return run(&spotify, sp_artists_root, json, len, a, out, sizeof(*out), err);
}

int au_spotify_parse_search_artists(const char *json, size_t len, au_arena_t *a,
                                    au_spotify_artists_t *out, au_error_t *err)
{
    return run(&spotify, sp_search_artists_root, json, len, a, out,
               sizeof(*out), err);
}

int au_spotify_parse_features(const char *json, size_t len, au_arena_t *a,
                              au_spotify_features_t *out, au_error_t *err)
{
    return run(&spotify, sp_features_root, json, len, a, out, sizeof(*out),
               err);
}

int au_spotify_parse_features_list(const char *json, size_t len, au_arena_t *a,
                                   au_spotify_features_list_t *out,
                                   au_error_t *err)
{
    return run(&spotify, sp_features_list_root, json, len, a, out, sizeof(*out),
               err);
}

/* ---- MusicBrainz -------------------------------------------------------- */

/* {"error":"Not Found","help":"For usage, please see: ..."}. */
static int mb_error_shape(px_t *p, const json_t *root)
{
    const json_t *e = json_object_get(root, "error");
    char msg[160];
    if (!e)
        return 0;
    service_text(msg, sizeof(msg), e);
    return au_error_set(p->err, AU_ESERVICE, "musicbrainz error: %s", msg);
}

static int mb_credit(px_t *p, const json_t *it, void *dst)
{
    au_mb_credit_t *c = dst;
    json_t *artist;
    int rc = px_str(p, it, "name", F_REQ | F_NONEMPTY, &c->name);
    if (rc == 0)
        rc = px_str(p, it, "joinphrase", 0, &c->joinphrase);
    if (rc == 0 && !c->joinphrase)
        c->joinphrase = "";
    if (rc == 0)
        rc = px_obj(p, it, "artist", F_REQ, &artist);
    if (rc)
        return rc;
    size_t mark = px_key(p, "artist");
    rc = px_str(p, artist, "id", F_REQ | F_MBID, &c->artist_id);
    if (rc == 0)
        rc = px_str(p, artist, "name", F_REQ | F_NONEMPTY, &c->artist_name);
    px_back(p, mark);
    return rc;
}

static const each_t mb_credit_each = {.size = sizeof(au_mb_credit_t),
                                      .fn = mb_credit};

/* The credit as one string: every name followed by its joinphrase. */
static int mb_credit_text(px_t *p, au_mb_recording_t *r)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->ncredits; i++)
        n += strlen(r->credits[i].name) + strlen(r->credits[i].joinphrase);
    if (n > AU_SVC_MAX_STR)
        return px_fail(p, AU_ETOOBIG, "artist-credit",
                       "the joined credit of %zu bytes exceeds the limit "
                       "of %d",
                       n, AU_SVC_MAX_STR);
    char *s = au_arena_alloc(p->a, n + 1);
    if (!s)
        return px_fail(p, AU_ENOMEM, "artist-credit",
                       "arena cannot hold %zu bytes", n);
    size_t at = 0;
    for (uint32_t i = 0; i < r->ncredits; i++) {
        const char *parts[2] = {r->credits[i].name, r->credits[i].joinphrase};
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(parts[k]);
            memcpy(s + at, parts[k], len);
            at += len;
        }
    }
    s[at] = '\0';
    r->credit = s;
    return 0;
}

static int mb_recording(px_t *p, const json_t *it, void *dst)
{
    au_mb_recording_t *r = dst;
    int rc = px_str(p, it, "id", F_REQ | F_MBID, &r->id);
    if (rc == 0)
        rc = px_str(p, it, "title", F_REQ | F_NONEMPTY, &r->title);
    if (rc == 0)
        rc = px_int(p, it, "length", 0, 0, INT64_MAX, &r->length_ms);
    /* Search scores were strings in the older JSON of the search server. */
    if (rc == 0)
        rc = px_int32(p, it, "score", F_NUMSTR, 0, 100, &r->score);
    if (rc == 0)
        rc = px_str(p, it, "first-release-date", F_EMPTY_NULL,
                    &r->first_release_date);
    if (rc == 0)
        rc = px_strings(p, it, "isrcs", 0, &r->isrcs, &r->nisrcs);
    if (rc == 0)
        rc = px_each(p, it, "artist-credit", 0, &mb_credit_each, &r->credits,
                     &r->ncredits, NULL);
    if (rc == 0 && r->ncredits > 0)
        rc = mb_credit_text(p, r);
    return rc;
}

static int mb_artist(px_t *p, const json_t *it, void *dst)
{
    au_mb_artist_t *out = dst;
    json_t *span;
    int rc = px_str(p, it, "id", F_REQ | F_MBID, &out->id);
    if (rc == 0)
        rc = px_str(p, it, "name", F_REQ | F_NONEMPTY, &out->name);
    if (rc == 0)
        rc = px_str(p, it, "sort-name", F_REQ | F_NONEMPTY, &out->sort_name);
    if (rc == 0)
        rc = px_str(p, it, "country", F_EMPTY_NULL, &out->country);
    if (rc == 0)
        rc = px_str(p, it, "type", F_EMPTY_NULL, &out->type);
    if (rc == 0)
        rc = px_int32(p, it, "score", F_NUMSTR, 0, 100, &out->score);
    if (rc == 0)
        rc = px_obj(p, it, "life-span", 0, &span);
    if (rc || !span)
        return rc;
    size_t mark = px_key(p, "life-span");
    rc = px_str(p, span, "begin", F_EMPTY_NULL, &out->begin);
    if (rc == 0)
        rc = px_str(p, span, "end", F_EMPTY_NULL, &out->end);
    if (rc == 0)
        rc = px_bool(p, span, "ended", &out->ended);
    px_back(p, mark);
    return rc;
}

/* created, count and offset of a search page. */
static int mb_search_head(px_t *p, const json_t *root, const char **created,
                          int64_t *count, int64_t *offset)
{
    int rc = px_str(p, root, "created", F_EMPTY_NULL, created);
    if (rc == 0)
        rc = px_int(p, root, "count", F_REQ, 0, INT64_MAX, count);
    return rc ? rc : px_int(p, root, "offset", F_REQ, 0, INT64_MAX, offset);
}

static const each_t mb_recording_each = {.size = sizeof(au_mb_recording_t),
                                         .fn = mb_recording};
static const each_t mb_artist_each = {.size = sizeof(au_mb_artist_t),
                                      .fn = mb_artist};

static int mb_recording_root(px_t *p, const json_t *root, void *out)
{
    return mb_recording(p, root, out);
}

static int mb_artist_root(px_t *p, const json_t *root, void *out)
{
    return mb_artist(p, root, out);
}

static int mb_recordings_root(px_t *p, const json_t *root, void *vout)
{
    au_mb_recordings_t *out = vout;
    int rc = mb_search_head(p, root, &out->created, &out->count, &out->offset);
    return rc ? rc
              : px_each(p, root, "recordings", F_REQ, &mb_recording_each,
                        &out->recordings, &out->n, NULL);
}

/* GET /ws/2/isrc/{isrc}: {"isrc": ..., "recordings": [...]}, no search
 * head; count and offset are those of the one page it is. */
static int mb_isrc_root(px_t *p, const json_t *root, void *vout)
{
    au_mb_recordings_t *out = vout;
    const char *isrc;
    int rc = px_str(p, root, "isrc", F_REQ | F_NONEMPTY, &isrc);
    if (rc == 0)
        rc = px_each(p, root, "recordings", F_REQ, &mb_recording_each,
                     &out->recordings, &out->n, NULL);
    out->count = out->n;
    return rc;
}

static int mb_artists_root(px_t *p, const json_t *root, void *vout)
{
    au_mb_artists_t *out = vout;
    int rc = mb_search_head(p, root, &out->created, &out->count, &out->offset);
    return rc ? rc
              : px_each(p, root, "artists", F_REQ, &mb_artist_each,
                        &out->artists, &out->n, NULL);
}

static const svc_t musicbrainz = {"musicbrainz", mb_error_shape};

int au_mb_parse_recording(const char *json, size_t len, au_arena_t *a,
                          au_mb_recording_t *out, au_error_t *err)
{
    return run(&musicbrainz, mb_recording_root, json, len, a, out, sizeof(*out),
               err);
}

int au_mb_parse_recording_search(const char *json, size_t len, au_arena_t *a,
                                 au_mb_recordings_t *out, au_error_t *err)
{
    return run(&musicbrainz, mb_recordings_root, json, len, a, out,
               sizeof(*out), err);
}

int au_mb_parse_isrc(const char *json, size_t len, au_arena_t *a,
                     au_mb_recordings_t *out, au_error_t *err)
{
    return run(&musicbrainz, mb_isrc_root, json, len, a, out, sizeof(*out),
               err);
}

int au_mb_parse_artist(const char *json, size_t len, au_arena_t *a,
                       au_mb_artist_t *out, au_error_t *err)
{
    return run(&musicbrainz, mb_artist_root, json, len, a, out, sizeof(*out),
               err);
}

int au_mb_parse_artist_search(const char *json, size_t len, au_arena_t *a,
                              au_mb_artists_t *out, au_error_t *err)
{
    return run(&musicbrainz, mb_artists_root, json, len, a, out, sizeof(*out),
               err);
}
