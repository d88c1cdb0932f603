/* au_proto.c: encoder (msgpack-c's packer) and a bounded decoder for the
 * trend batch wire format, version 2. See PROTOCOL.md for the contract.
 *
 * The decoder is our own cursor over the input rather than msgpack_unpack,
 * because msgpack-c allocates for every array/map header before it knows
 * whether the bytes behind the header exist. Here every count is checked
 * against the bytes that remain before anything is allocated, and the one
 * allocation per batch is sized by a first, validating pass. */
#include "au_proto.h"

#include "au_date.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The smallest valid record: fixmap header, "pos" + fixint, "streams" +
 * fixint, "name" + a one-byte string, "artist" + an empty string. A
 * records array longer than remaining / this cannot be valid, which keeps
 * the records allocation under a few times the input length. */
#define MIN_RECORD_BYTES 30

static void *(*g_alloc)(size_t) = malloc;
static void (*g_release)(void *) = free;

void au_proto_set_allocator(void *(*alloc)(size_t), void (*release)(void *))
{
    g_alloc = alloc ? alloc : malloc;
    g_release = release ? release : free;
}

/* ---- keys ------------------------------------------------------------ */

enum {
    EK_V,
    EK_JOB,
    EK_ATTEMPT,
    EK_SEQ,
    EK_NBATCHES,
    EK_LAST,
    EK_STAGE,
    EK_PLATFORM,
    EK_CHART,
    EK_REGION,
    EK_DATE,
    EK_RECORDS,
    EK_N
};

static const char *const env_keys[EK_N] = {
    "v",     "job",      "attempt", "seq",    "nbatches", "last",
    "stage", "platform", "chart",   "region", "date",     "records"};

enum {
    RK_POS,
    RK_STREAMS,
    RK_NAME,
    RK_ARTIST,
    RK_TID,
    RK_TKEY,
    RK_AKEY,
    RK_AF,
    RK_N
};

/* Version 1's "score", "prev" and "chg" are not here: they are unknown
 * keys now, skipped like any other (PROTOCOL.md, version history). */
static const char *const rec_keys[RK_N] = {"pos", "streams", "name", "artist",
                                           "tid", "tkey",    "akey", "af"};

static const char *const feature_names[4] = {"danceability", "energy",
                                             "valence", "tempo"};

#define BIT(k) (1u << (k))
#define REC_REQUIRED                                                           \
    (BIT(RK_POS) | BIT(RK_STREAMS) | BIT(RK_NAME) | BIT(RK_ARTIST))
#define REC_ENRICHED (BIT(RK_TKEY) | BIT(RK_AKEY) | BIT(RK_AF))

/* ---- checks shared by the encoder and the decoder ---------------------- */

/* TXT_NAME and TXT_DATE: the chart identity rule of au_proto.h. */
enum { TXT_ANY = 0, TXT_NONEMPTY = 1, TXT_DATE = 2, TXT_NAME = 3 };

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) and no NUL, since strings are handed out NUL-terminated.
 * Returns the index of the first bad byte, or n. */
static size_t utf8_bad_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xbf;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (n - i - 1 < need)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i + 1;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i + k;
        }
        i += need + 1;
    }
    return n;
}

static bool date_ok(const unsigned char *s, size_t n, long *day)
{
    long d;
    if (au_date_parse((const char *)s, n, &d) != 0)
        return false;
    int y = au_date_year(d);
    if (day)
        *day = d;
    return y >= AU_CHART_FIRST_YEAR && y <= AU_CHART_LAST_YEAR;
}

/* n when s[0..n) is a chart name, else the index of its first bad byte
 * (n + 1 when it is too long or empty). */
static size_t name_bad_at(const unsigned char *s, size_t n)
{
    if (n == 0 || n > AU_CHART_NAME_MAX)
        return n + 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return i;
    return n;
}

int au_chart_name_check(const char *what, const char *s, au_error_t *err)
{
    size_t n = strlen(s);
    size_t bad = name_bad_at((const unsigned char *)s, n);
    if (bad == n + 1)
        return au_error_set(err, AU_EINVAL,
                            "%s is %zu bytes (1..%d): \"%.40s%s\"", what, n,
                            AU_CHART_NAME_MAX, s, n > 40 ? "..." : "");
    if (bad < n)
        return au_error_set(err, AU_EINVAL,
                            "%s \"%.40s%s\" has a blank or a character "
                            "outside printable ASCII",
                            what, s, n > 40 ? "..." : "");
    return 0;
}

int au_chart_date_check(const char *date, long *day, au_error_t *err)
{
    if (!date_ok((const unsigned char *)date, strlen(date), day))
        return au_error_set(err, AU_EINVAL,
                            "chart date \"%.16s\" is not a date between %d "
                            "and %d",
                            date, AU_CHART_FIRST_YEAR, AU_CHART_LAST_YEAR);
    return 0;
}

/* Checks one string; on failure returns the code, the byte index within
 * the string in *at and a reason in why. */
static int check_text(const unsigned char *s, size_t n, int kind, size_t *at,
                      char *why, size_t cap)
{
    *at = 0;
    if (n > AU_PROTO_MAX_STR) {
        snprintf(why, cap, "string of %zu bytes exceeds the limit of %d", n,
                 AU_PROTO_MAX_STR);
        return AU_ETOOBIG;
    }
    size_t bad = utf8_bad_at(s, n);
    if (bad < n) {
        *at = bad;
        snprintf(why, cap, "invalid UTF-8 (or NUL) at string byte %zu", bad);
        return AU_EUTF8;
    }
    if (kind == TXT_NONEMPTY && n == 0) {
        snprintf(why, cap, "must not be empty");
        return AU_ERANGE;
    }
    if (kind == TXT_DATE && !date_ok(s, n, NULL)) {
        snprintf(why, cap, "must be a calendar date YYYY-MM-DD in %d..%d",
                 AU_CHART_FIRST_YEAR, AU_CHART_LAST_YEAR);
        return AU_ERANGE;
    }
    if (kind == TXT_NAME && (*at = name_bad_at(s, n)) != n) {
        if (*at > n)
            *at = 0;
        snprintf(why, cap,
                 "must be 1..%d printable ASCII characters, no "
                 "blanks",
                 AU_CHART_NAME_MAX);
        return AU_ERANGE;
    }
    return 0;
}

/* danceability, energy and valence are Spotify's 0..1 scales; tempo is
 * BPM, and 1000 is far beyond any real track. */
static bool feature_ok(int i, double v)
{
    double hi = i == 3 ? 1000.0 : 1.0;
    return v >= 0.0 && v <= hi; /* false for NaN */
}

static int check_envelope(const au_batch_t *b, int *key, char *why, size_t cap)
{
    *key = -1;
    if (b->job_id < 1) {
        *key = EK_JOB;
        snprintf(why, cap, "must be >= 1, got %lld", (long long)b->job_id);
    } else if (b->attempt < 1) {
        *key = EK_ATTEMPT;
        snprintf(why, cap, "must be >= 1, got %d", (int)b->attempt);
    } else if (b->nbatches < 1) {
        *key = EK_NBATCHES;
        snprintf(why, cap, "must be >= 1, got %d", (int)b->nbatches);
    } else if (b->seq < 0 || b->seq >= b->nbatches) {
        *key = EK_SEQ;
        snprintf(why, cap, "must be in 0..nbatches-1 (%d), got %d",
                 (int)b->nbatches - 1, (int)b->seq);
    } else if (b->last != (b->seq == b->nbatches - 1)) {
        *key = EK_LAST;
        snprintf(why, cap, "is %s but seq %d of %d batches",
                 b->last ? "true" : "false", (int)b->seq, (int)b->nbatches);
    } else if ((int)b->stage < AU_STAGE_RAW ||
               (int)b->stage > AU_STAGE_ENRICHED) {
        *key = EK_STAGE;
        snprintf(why, cap, "must be 0 or 1, got %d", (int)b->stage);
    }
    return *key < 0 ? 0 : AU_ERANGE;
}

/* Numeric rules of one record; strings are checked where they are read. */
static int check_record(const au_record_t *r, int *key, char *why, size_t cap)
{
    *key = -1;
    if (r->position < 1) {
        *key = RK_POS;
        snprintf(why, cap, "must be >= 1, got %d", (int)r->position);
    } else if (r->streams < -1) {
        *key = RK_STREAMS;
        snprintf(why, cap, "must be >= -1, got %lld", (long long)r->streams);
    }
    if (*key >= 0 || !r->has_features)
        return *key < 0 ? 0 : AU_ERANGE;
    const float f[4] = {r->danceability, r->energy, r->valence, r->tempo};
    for (int i = 0; i < 4; i++) {
        if (!feature_ok(i, f[i])) {
            *key = RK_AF;
            snprintf(why, cap, "%s out of range: %g", feature_names[i],
                     (double)f[i]);
            return AU_ERANGE;
        }
    }
    return 0;
}

/* Which record keys a stage allows beyond the raw ones. */
static unsigned stage_allows(int stage)
{
    return stage == AU_STAGE_ENRICHED ? REC_ENRICHED : 0;
}

/* ---- validation and encoding ------------------------------------------ */

static int invalid(au_error_t *err, const char *field, const char *why)
{
    return au_error_set(err, AU_EINVAL, "%s: %s", field, why);
}

static int validate_text(au_error_t *err, const char *field, const char *s,
                         int kind)
{
    char why[128];
    size_t at;
    if (!s)
        return invalid(err, field, "must not be NULL");
    if (check_text((const unsigned char *)s, strlen(s), kind, &at, why,
                   sizeof(why)))
        return invalid(err, field, why);
    return 0;
}

static int validate_record(const au_record_t *r, uint32_t i, int stage,
                           au_error_t *err)
{
    char f[48], why[128];
    int key, rc = 0;
    if (check_record(r, &key, why, sizeof(why))) {
        snprintf(f, sizeof(f), "records[%u].%s", i, rec_keys[key]);
        return invalid(err, f, why);
    }
    const char *texts[] = {r->track_name, r->artist, r->track_id, r->track_key,
                           r->artist_key};
    const int tk[] = {RK_NAME, RK_ARTIST, RK_TID, RK_TKEY, RK_AKEY};
    for (int k = 0; k < 5 && rc == 0; k++) {
        if (!texts[k] && tk[k] >= RK_TID)
            continue;
        snprintf(f, sizeof(f), "records[%u].%s", i, rec_keys[tk[k]]);
        rc = validate_text(err, f, texts[k],
                           tk[k] == RK_ARTIST ? TXT_ANY : TXT_NONEMPTY);
    }
    if (rc)
        return rc;
    unsigned extra = (r->track_key ? BIT(RK_TKEY) : 0) |
                     (r->artist_key ? BIT(RK_AKEY) : 0) |
                     (r->has_features ? BIT(RK_AF) : 0);
    if (extra & ~stage_allows(stage)) {
        snprintf(f, sizeof(f), "records[%u]", i);
        snprintf(why, sizeof(why), "has fields of a later stage than %d",
                 stage);
        return invalid(err, f, why);
    }
    return 0;
}

int au_batch_validate(const au_batch_t *b, au_error_t *err)
{
    char why[128];
    int key;
    if (!b)
        return invalid(err, "batch", "must not be NULL");
    if (check_envelope(b, &key, why, sizeof(why)))
        return invalid(err, env_keys[key], why);
    const char *texts[] = {b->platform, b->chart, b->region, b->date};
    for (int k = 0; k < 4; k++) {
        int rc = validate_text(err, env_keys[EK_PLATFORM + k], texts[k],
                               k == 3 ? TXT_DATE : TXT_NAME);
        if (rc)
            return rc;
    }
    if (b->count > AU_PROTO_MAX_RECORDS) {
        snprintf(why, sizeof(why), "%u records exceed the limit of %d",
                 b->count, AU_PROTO_MAX_RECORDS);
        return invalid(err, "records", why);
    }
    if (b->count > 0 && !b->records)
        return invalid(err, "records", "NULL with a non-zero count");
    for (uint32_t i = 0; i < b->count; i++) {
        int rc = validate_record(&b->records[i], i, (int)b->stage, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pk_opt_str(msgpack_packer *pk, const char *s)
{
    return s ? pk_str(pk, s) : msgpack_pack_nil(pk);
}

static int pk_record(msgpack_packer *pk, const au_record_t *r)
{
    size_t n = 5 + (r->track_key != NULL) + (r->artist_key != NULL) +
               (r->has_features ? 1 : 0);
    int rc = msgpack_pack_map(pk, n);
    rc |= pk_str(pk, "pos") | msgpack_pack_int32(pk, r->position);
    rc |= pk_str(pk, "streams") | msgpack_pack_int64(pk, r->streams);
    rc |= pk_str(pk, "name") | pk_str(pk, r->track_name);
    rc |= pk_str(pk, "artist") | pk_str(pk, r->artist);
    rc |= pk_str(pk, "tid") | pk_opt_str(pk, r->track_id);
    if (r->track_key)
        rc |= pk_str(pk, "tkey") | pk_str(pk, r->track_key);
    if (r->artist_key)
        rc |= pk_str(pk, "akey") | pk_str(pk, r->artist_key);
    if (r->has_features) {
        rc |= pk_str(pk, "af") | msgpack_pack_array(pk, 4);
        rc |= msgpack_pack_float(pk, r->danceability);
        rc |= msgpack_pack_float(pk, r->energy);
        rc |= msgpack_pack_float(pk, r->valence);
        rc |= msgpack_pack_float(pk, r->tempo);
    }
    return rc;
}

static int pk_batch(msgpack_packer *pk, const au_batch_t *b)
{
    int rc = msgpack_pack_map(pk, EK_N);
    rc |= pk_str(pk, "v") | msgpack_pack_int(pk, AU_PROTO_VERSION);
    rc |= pk_str(pk, "job") | msgpack_pack_int64(pk, b->job_id);
    rc |= pk_str(pk, "attempt") | msgpack_pack_int32(pk, b->attempt);
    rc |= pk_str(pk, "seq") | msgpack_pack_int32(pk, b->seq);
    rc |= pk_str(pk, "nbatches") | msgpack_pack_int32(pk, b->nbatches);
    rc |= pk_str(pk, "last") |
          (b->last ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    rc |= pk_str(pk, "stage") | msgpack_pack_int(pk, (int)b->stage);
    rc |= pk_str(pk, "platform") | pk_str(pk, b->platform);
    rc |= pk_str(pk, "chart") | pk_str(pk, b->chart);
    rc |= pk_str(pk, "region") | pk_str(pk, b->region);
    rc |= pk_str(pk, "date") | pk_str(pk, b->date);
    rc |= pk_str(pk, "records") | msgpack_pack_array(pk, b->count);
    for (uint32_t i = 0; i < b->count && rc == 0; i++)
        rc |= pk_record(pk, &b->records[i]);
    return rc;
}

int au_batch_encode(const au_batch_t *b, char **out, size_t *out_len)
{
    if (!out || !out_len || au_batch_validate(b, NULL))
        return AU_EINVAL;
    *out = NULL;
    *out_len = 0;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* The packer only fails when the buffer cannot grow. */
    if (pk_batch(&pk, b)) {
        msgpack_sbuffer_destroy(&sb);
        return AU_ENOMEM;
    }
    if (sb.size > AU_PROTO_MAX_MSG) {
        msgpack_sbuffer_destroy(&sb);
        return AU_EINVAL;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

enum {
    K_NIL,
    K_BOOL,
    K_UINT,
    K_INT,
    K_FLOAT,
    K_STR,
    K_BIN,
    K_ARRAY,
    K_MAP,
    K_EXT
};

static const char *const kind_names[] = {
    "nil",    "boolean", "integer", "integer", "float",
    "string", "binary",  "array",   "map",     "extension"};

/* One value header: scalars carry their value, strings, binaries and
 * extensions their body length (body not consumed), containers their
 * element count (already checked against the remaining bytes). */
typedef struct {
    int kind;
    size_t off;
    bool b;
    uint64_t u;
    int64_t i;
    double d;
    uint32_t n;
} hdr_t;

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    au_error_t *err;
    char where[24]; /* "records[17]" inside a record, else "" */
    /* Second pass only: where records and strings are written. */
    au_record_t *recs;
    char *strs;
    size_t used; /* string bytes (with NULs) measured or written */
} cur_t;

/* Records which record-level keys appeared, for the stage rule, which can
 * only be checked once the whole envelope (and so "stage") is read. */
typedef struct {
    unsigned keys;
    uint32_t index[RK_N]; /* first record with the key */
    size_t off[RK_N];
} later_t;

static int fail(cur_t *c, int code, size_t off, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(cur_t *c, int code, size_t off, const char *field,
                const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    const char *dot = c->where[0] && field[0] ? "." : "";
    return au_error_set(c->err, code, "%s%s%s: %s at byte %zu", c->where, dot,
                        field, why, off);
}

static size_t left(const cur_t *c)
{
    return c->len - c->pos;
}

/* Reads an n-byte big-endian unsigned number (n <= 8). */
static int rd_be(cur_t *c, size_t n, const char *f, size_t off, uint64_t *v)
{
    if (left(c) < n)
        return fail(c, AU_ETRUNCATED, off, f, "input ends inside the value");
    *v = 0;
    for (size_t k = 0; k < n; k++)
        *v = (*v << 8) | c->p[c->pos++];
    return 0;
}

static int rd_count(cur_t *c, const char *f, hdr_t *h, int kind, size_t w)
{
    uint64_t v = 0;
    int rc = rd_be(c, w, f, h->off, &v);
    if (rc)
        return rc;
    h->kind = kind;
    h->n = (uint32_t)v;
    size_t per = kind == K_MAP ? 2 : 1;
    if (kind != K_ARRAY && kind != K_MAP)
        return 0;
    if (v > left(c) / per)
        return fail(c, AU_ETRUNCATED, h->off, f,
                    "%s claims %u entries but only %zu bytes remain",
                    kind_names[kind], h->n, left(c));
    return 0;
}

static int rd_ext(cur_t *c, const char *f, hdr_t *h, size_t w, bool fixed)
{
    uint64_t v = 0;
    int rc = 0;
    h->kind = K_EXT;
    if (fixed)
        h->n = (uint32_t)w;
    else if ((rc = rd_be(c, w, f, h->off, &v)) == 0)
        h->n = (uint32_t)v;
    if (rc)
        return rc;
    return rd_be(c, 1, f, h->off, &v); /* the extension type byte */
}

static int rd_hdr_typed(cur_t *c, const char *f, hdr_t *h, unsigned t)
{
    uint64_t v = 0;
    int rc;
    switch (t) {
    case 0xc0:
        h->kind = K_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        h->kind = K_BOOL;
        h->b = t == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return rd_count(c, f, h, K_BIN, (size_t)1 << (t - 0xc4));
    case 0xc7:
    case 0xc8:
    case 0xc9:
        return rd_ext(c, f, h, (size_t)1 << (t - 0xc7), false);
    case 0xca:
    case 0xcb:
        if ((rc = rd_be(c, t == 0xca ? 4 : 8, f, h->off, &v)) != 0)
            return rc;
        h->kind = K_FLOAT;
        if (t == 0xca) {
            uint32_t bits = (uint32_t)v;
            float x;
            memcpy(&x, &bits, sizeof(x));
            h->d = x;
        } else {
            memcpy(&h->d, &v, sizeof(h->d));
        }
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        h->kind = K_UINT;
        return rd_be(c, (size_t)1 << (t - 0xcc), f, h->off, &h->u);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t w = (size_t)1 << (t - 0xd0);
        if ((rc = rd_be(c, w, f, h->off, &v)) != 0)
            return rc;
        h->kind = K_INT;
        /* Sign-extend from the top bit of the w-byte value. */
        uint64_t sign = (uint64_t)1 << (w * 8 - 1);
        h->i = (v & sign) ? (int64_t)(v - sign) - (int64_t)(sign - 1) - 1
                          : (int64_t)v;
        if (h->i >= 0) {
            h->kind = K_UINT;
            h->u = (uint64_t)h->i;
        }
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return rd_ext(c, f, h, (size_t)1 << (t - 0xd4), true);
    case 0xd9:
    case 0xda:
    case 0xdb:
        return rd_count(c, f, h, K_STR, (size_t)1 << (t - 0xd9));
    case 0xdc:
    case 0xdd:
        return rd_count(c, f, h, K_ARRAY, t == 0xdc ? 2 : 4);
    case 0xde:
    case 0xdf:
        return rd_count(c, f, h, K_MAP, t == 0xde ? 2 : 4);
    }
    return fail(c, AU_EPARSE, h->off, f, "byte 0x%02x is not msgpack", t);
}

static int rd_hdr(cur_t *c, const char *f, hdr_t *h)
{
    uint64_t t = 0;
    h->off = c->pos;
    int rc = rd_be(c, 1, f, h->off, &t);
    if (rc)
        return rc;
    if (t <= 0x7f) {
        h->kind = K_UINT;
        h->u = t;
        return 0;
    }
    if (t >= 0xe0) {
        h->kind = K_INT;
        h->i = (int64_t)t - 256;
        return 0;
    }
    if (t <= 0x9f) {
        h->kind = t <= 0x8f ? K_MAP : K_ARRAY;
        h->n = (uint32_t)(t & 0x0f);
        if (h->n > left(c) / (h->kind == K_MAP ? 2 : 1))
            return fail(c, AU_ETRUNCATED, h->off, f,
                        "%s claims %u entries but only %zu bytes remain",
                        kind_names[h->kind], h->n, left(c));
        return 0;
    }
    if (t <= 0xbf) {
        h->kind = K_STR;
        h->n = (uint32_t)(t & 0x1f);
        return 0;
    }
    return rd_hdr_typed(c, f, h, (unsigned)t);
}

static int wrong_type(cur_t *c, const char *f, const hdr_t *h, const char *want)
{
    return fail(c, AU_ETYPE, h->off, f, "expected %s, got %s", want,
                kind_names[h->kind]);
}

static int rd_int(cur_t *c, const char *f, int64_t lo, int64_t hi, int64_t *out)
{
    hdr_t h;
    int rc = rd_hdr(c, f, &h);
    if (rc)
        return rc;
    if (h.kind == K_UINT && h.u <= (uint64_t)hi) {
        *out = (int64_t)h.u;
        return 0;
    }
    if (h.kind == K_INT && h.i >= lo) {
        *out = h.i;
        return 0;
    }
    if (h.kind == K_UINT)
        return fail(c, AU_ERANGE, h.off, f, "%llu is over %lld",
                    (unsigned long long)h.u, (long long)hi);
    if (h.kind == K_INT)
        return fail(c, AU_ERANGE, h.off, f, "%lld is under %lld",
                    (long long)h.i, (long long)lo);
    return wrong_type(c, f, &h, "integer");
}

static int rd_i32(cur_t *c, const char *f, int32_t *out)
{
    int64_t v = 0;
    int rc = rd_int(c, f, INT32_MIN, INT32_MAX, &v);
    if (rc == 0)
        *out = (int32_t)v;
    return rc;
}

static int rd_float(cur_t *c, const char *f, double *out)
{
    hdr_t h;
    int rc = rd_hdr(c, f, &h);
    if (rc)
        return rc;
    if (h.kind == K_FLOAT)
        *out = h.d;
    else if (h.kind == K_UINT)
        *out = (double)h.u;
    else if (h.kind == K_INT)
        *out = (double)h.i;
    else
        return wrong_type(c, f, &h, "float");
    return 0;
}

/* Reads a string (or nil when nullable), checks it and, in the second
 * pass, copies it NUL-terminated into the batch's allocation. */
static int rd_text(cur_t *c, const char *f, int kind, bool nullable,
                   const char **out)
{
    hdr_t h;
    char why[128];
    size_t at;
    int rc = rd_hdr(c, f, &h);
    if (rc)
        return rc;
    *out = NULL;
    if (h.kind == K_NIL && nullable)
        return 0;
    if (h.kind != K_STR)
        return wrong_type(c, f, &h, nullable ? "string or nil" : "string");
    if (h.n > AU_PROTO_MAX_STR)
        return fail(c, AU_ETOOBIG, h.off, f,
                    "string of %u bytes exceeds the limit of %d", h.n,
                    AU_PROTO_MAX_STR);
    if (h.n > left(c))
        return fail(c, AU_ETRUNCATED, h.off, f,
                    "string of %u bytes but only %zu remain", h.n, left(c));
    const unsigned char *s = c->p + c->pos;
    rc = check_text(s, h.n, kind, &at, why, sizeof(why));
    if (rc)
        return fail(c, rc, rc == AU_EUTF8 ? c->pos + at : h.off, f, "%s", why);
    c->pos += h.n;
    if (c->strs) {
        char *dst = c->strs + c->used;
        memcpy(dst, s, h.n);
        dst[h.n] = '\0';
        *out = dst;
    }
    c->used += (size_t)h.n + 1;
    return 0;
}

static int skip(cur_t *c, const char *f, int depth)
{
    hdr_t h;
    if (depth > AU_PROTO_MAX_DEPTH)
        return fail(c, AU_ENESTING, c->pos, f, "nested deeper than %d levels",
                    AU_PROTO_MAX_DEPTH);
    int rc = rd_hdr(c, f, &h);
    if (rc)
        return rc;
    if (h.kind == K_STR || h.kind == K_BIN || h.kind == K_EXT) {
        if (h.n > left(c))
            return fail(c, AU_ETRUNCATED, h.off, f,
                        "%s of %u bytes but only %zu remain",
                        kind_names[h.kind], h.n, left(c));
        c->pos += h.n;
        return 0;
    }
    if (h.kind != K_ARRAY && h.kind != K_MAP)
        return 0;
    uint64_t items = (uint64_t)h.n * (h.kind == K_MAP ? 2 : 1);
    for (uint64_t k = 0; k < items && rc == 0; k++)
        rc = skip(c, f, depth + 1);
    return rc;
}

/* Reads a map key and finds it in names (*id = -1 when unknown). The key
 * text, shortened, goes to label for messages about its value. */
static int rd_key(cur_t *c, const char *const *names, int n, int *id,
                  char *label, size_t cap)
{
    const char *in = c->where[0] ? "key" : "envelope key";
    hdr_t h;
    char why[128];
    size_t at;
    int rc = rd_hdr(c, in, &h);
    if (rc)
        return rc;
    if (h.kind != K_STR)
        return wrong_type(c, in, &h, "string key");
    if (h.n > AU_PROTO_MAX_STR)
        return fail(c, AU_ETOOBIG, h.off, in,
                    "key of %u bytes exceeds the limit of %d", h.n,
                    AU_PROTO_MAX_STR);
    if (h.n > left(c))
        return fail(c, AU_ETRUNCATED, h.off, in,
                    "key of %u bytes but only %zu remain", h.n, left(c));
    const unsigned char *s = c->p + c->pos;
    rc = check_text(s, h.n, TXT_ANY, &at, why, sizeof(why));
    if (rc)
        return fail(c, rc, c->pos + at, in, "%s", why);
    c->pos += h.n;
    *id = -1;
    for (int k = 0; k < n; k++) {
        if (strlen(names[k]) == h.n && memcmp(names[k], s, h.n) == 0)
            *id = k;
    }
    snprintf(label, cap, "%.*s", (int)(h.n < 32 ? h.n : 32), (const char *)s);
    return 0;
}

static int dec_features(cur_t *c, au_record_t *r)
{
    hdr_t h;
    float *dst[4] = {&r->danceability, &r->energy, &r->valence, &r->tempo};
    int rc = rd_hdr(c, "af", &h);
    if (rc)
        return rc;
    if (h.kind != K_ARRAY)
        return wrong_type(c, "af", &h, "array of 4 floats");
    if (h.n != 4)
        return fail(c, AU_ETYPE, h.off, "af",
                    "expected array of 4 floats, got %u elements", h.n);
    for (int i = 0; i < 4; i++) {
        char f[24];
        double v = 0;
        size_t off = c->pos;
        snprintf(f, sizeof(f), "af[%d]", i);
        if ((rc = rd_float(c, f, &v)) != 0)
            return rc;
        /* Checked before narrowing: a double beyond float's range has no
         * defined conversion. */
        if (!feature_ok(i, v))
            return fail(c, AU_ERANGE, off, f, "%s out of range: %g",
                        feature_names[i], v);
        *dst[i] = (float)v;
    }
    r->has_features = true;
    return 0;
}

static int dec_rec_value(cur_t *c, int id, au_record_t *r)
{
    int64_t v = 0;
    int rc;
    const char *f = rec_keys[id];
    switch (id) {
    case RK_POS:
        return rd_i32(c, f, &r->position);
    case RK_STREAMS:
        if ((rc = rd_int(c, f, INT64_MIN, INT64_MAX, &v)) == 0)
            r->streams = v;
        return rc;
    case RK_NAME:
        return rd_text(c, f, TXT_NONEMPTY, false, &r->track_name);
    case RK_ARTIST:
        return rd_text(c, f, TXT_ANY, false, &r->artist);
    case RK_TID:
        return rd_text(c, f, TXT_NONEMPTY, true, &r->track_id);
    case RK_TKEY:
        return rd_text(c, f, TXT_NONEMPTY, true, &r->track_key);
    case RK_AKEY:
        return rd_text(c, f, TXT_NONEMPTY, true, &r->artist_key);
    default:
        return dec_features(c, r);
    }
}

static int dec_record(cur_t *c, uint32_t index, au_record_t *r, later_t *later)
{
    hdr_t h;
    size_t off[RK_N] = {0};
    unsigned seen = 0;
    char label[40], why[128];
    int key, rc = rd_hdr(c, "", &h);
    if (rc)
        return rc;
    if (h.kind != K_MAP)
        return wrong_type(c, "", &h, "record map");
    memset(r, 0, sizeof(*r));
    for (uint32_t k = 0; k < h.n; k++) {
        int id = -1;
        if ((rc = rd_key(c, rec_keys, RK_N, &id, label, sizeof(label))))
            return rc;
        if (id < 0) {
            rc = skip(c, label, 4);
        } else if (seen & BIT(id)) {
            rc = fail(c, AU_EPARSE, c->pos, label, "duplicate key");
        } else {
            seen |= BIT(id);
            off[id] = c->pos;
            rc = dec_rec_value(c, id, r);
        }
        if (rc)
            return rc;
    }
    for (int id = 0; id < RK_N; id++) {
        if ((REC_REQUIRED & BIT(id)) && !(seen & BIT(id)))
            return fail(c, AU_EMISSING, h.off, rec_keys[id],
                        "required field missing");
    }
    if ((rc = check_record(r, &key, why, sizeof(why))) != 0)
        return fail(c, rc, off[key], rec_keys[key], "%s", why);
    unsigned extra = seen & REC_ENRICHED;
    for (int id = 0; id < RK_N; id++) {
        if ((extra & BIT(id)) && !(later->keys & BIT(id))) {
            later->index[id] = index;
            later->off[id] = off[id];
        }
    }
    later->keys |= extra;
    return 0;
}

static int dec_records(cur_t *c, au_batch_t *b, later_t *later)
{
    hdr_t h;
    int rc = rd_hdr(c, "records", &h);
    if (rc)
        return rc;
    if (h.kind != K_ARRAY)
        return wrong_type(c, "records", &h, "array");
    if (h.n > AU_PROTO_MAX_RECORDS)
        return fail(c, AU_ETOOBIG, h.off, "records",
                    "%u records exceed the limit of %d", h.n,
                    AU_PROTO_MAX_RECORDS);
    if (h.n > left(c) / MIN_RECORD_BYTES)
        return fail(c, AU_ETRUNCATED, h.off, "records",
                    "%u records cannot fit in the %zu bytes that remain", h.n,
                    left(c));
    b->count = h.n;
    b->records = c->recs;
    for (uint32_t i = 0; i < h.n && rc == 0; i++) {
        au_record_t r;
        snprintf(c->where, sizeof(c->where), "records[%u]", i);
        rc = dec_record(c, i, &r, later);
        if (rc == 0 && c->recs)
            c->recs[i] = r;
    }
    if (rc == 0)
        c->where[0] = '\0';
    return rc;
}

static int dec_env_value(cur_t *c, int id, au_batch_t *b, later_t *later)
{
    int64_t v = 0;
    size_t off;
    int rc;
    const char *f = env_keys[id];
    switch (id) {
    case EK_V:
        off = c->pos;
        if ((rc = rd_int(c, f, INT64_MIN, INT64_MAX, &v)) == 0 &&
            v != AU_PROTO_VERSION)
            return fail(c, AU_EVERSION, off, f,
                        "version %lld is not supported (this reads %d)",
                        (long long)v, AU_PROTO_VERSION);
        return rc;
    case EK_JOB:
        return rd_int(c, f, INT64_MIN, INT64_MAX, &b->job_id);
    case EK_ATTEMPT:
        return rd_i32(c, f, &b->attempt);
    case EK_SEQ:
        return rd_i32(c, f, &b->seq);
    case EK_NBATCHES:
        return rd_i32(c, f, &b->nbatches);
    case EK_LAST: {
        hdr_t h;
        if ((rc = rd_hdr(c, f, &h)) != 0)
            return rc;
        if (h.kind != K_BOOL)
            return wrong_type(c, f, &h, "boolean");
        b->last = h.b;
        return 0;
    }
    case EK_STAGE:
        if ((rc = rd_int(c, f, INT32_MIN, INT32_MAX, &v)) == 0)
            b->stage = (au_stage_t)v;
        return rc;
    case EK_PLATFORM:
        return rd_text(c, f, TXT_NAME, false, &b->platform);
    case EK_CHART:
        return rd_text(c, f, TXT_NAME, false, &b->chart);
    case EK_REGION:
        return rd_text(c, f, TXT_NAME, false, &b->region);
    case EK_DATE:
        return rd_text(c, f, TXT_DATE, false, &b->date);
    default:
        return dec_records(c, b, later);
    }
}

/* Finds "v" before anything else is interpreted, so that a message of
 * another version fails with AU_EVERSION rather than with whatever its
 * other fields would trip over. */
static int scan_version(cur_t *c)
{
    hdr_t h;
    char label[40];
    int rc = rd_hdr(c, "envelope", &h);
    if (rc)
        return rc;
    if (h.kind != K_MAP)
        return wrong_type(c, "envelope", &h, "map");
    for (uint32_t k = 0; k < h.n; k++) {
        int id = -1;
        if ((rc = rd_key(c, env_keys, EK_N, &id, label, sizeof(label))))
            return rc;
        if (id == EK_V) {
            later_t unused = {0};
            return dec_env_value(c, EK_V, NULL, &unused);
        }
        if ((rc = skip(c, label, 2)) != 0)
            return rc;
    }
    return fail(c, AU_EMISSING, h.off, "v", "required field missing");
}

static int dec_batch(cur_t *c, au_batch_t *b)
{
    hdr_t h;
    size_t off[EK_N] = {0};
    unsigned seen = 0;
    later_t later = {0};
    char label[40], why[128];
    int key, rc = rd_hdr(c, "envelope", &h);
    if (rc)
        return rc;
    if (h.kind != K_MAP)
        return wrong_type(c, "envelope", &h, "map");
    for (uint32_t k = 0; k < h.n; k++) {
        int id = -1;
        if ((rc = rd_key(c, env_keys, EK_N, &id, label, sizeof(label))))
            return rc;
        if (id < 0) {
            rc = skip(c, label, 2);
        } else if (seen & BIT(id)) {
            rc = fail(c, AU_EPARSE, c->pos, label, "duplicate key");
        } else {
            seen |= BIT(id);
            off[id] = c->pos;
            rc = dec_env_value(c, id, b, &later);
        }
        if (rc)
            return rc;
    }
    for (int id = 0; id < EK_N; id++) {
        if (!(seen & BIT(id)))
            return fail(c, AU_EMISSING, h.off, env_keys[id],
                        "required field missing");
    }
    if ((rc = check_envelope(b, &key, why, sizeof(why))) != 0)
        return fail(c, rc, off[key], env_keys[key], "%s", why);
    unsigned bad = later.keys & ~stage_allows((int)b->stage);
    int first = -1;
    for (int id = 0; id < RK_N; id++) {
        if ((bad & BIT(id)) &&
            (first < 0 || later.index[id] < later.index[first]))
            first = id;
    }
    if (first < 0)
        return 0;
    snprintf(c->where, sizeof(c->where), "records[%u]", later.index[first]);
    return fail(c, AU_ERANGE, later.off[first], rec_keys[first],
                "not allowed at stage %d", (int)b->stage);
}

int au_batch_decode(const char *buf, size_t len, size_t max_len, au_batch_t *b,
                    au_error_t *err)
{
    if (!b || (!buf && len))
        return au_error_set(err, AU_EINVAL, "decode: NULL argument");
    memset(b, 0, sizeof(*b));
    size_t cap = max_len ? max_len : AU_PROTO_MAX_MSG;
    cur_t c = {.p = (const unsigned char *)buf, .len = len, .err = err};
    if (len > cap)
        return fail(&c, AU_ETOOBIG, cap, "message",
                    "%zu bytes exceed the limit of %zu", len, cap);
    /* First pass: validate everything and measure the allocation. */
    au_batch_t tmp = {0};
    int rc = scan_version(&c);
    if (rc)
        return rc;
    c.pos = 0;
    if ((rc = dec_batch(&c, &tmp)) != 0)
        return rc;
    if (c.pos != len)
        return fail(&c, AU_ETRAILING, c.pos, "message",
                    "%zu bytes after the envelope", len - c.pos);
    size_t rec_bytes = (size_t)tmp.count * sizeof(au_record_t);
    char *block = g_alloc(rec_bytes + c.used);
    if (!block)
        return au_error_set(err, AU_ENOMEM, "decode: %zu bytes",
                            rec_bytes + c.used);
    /* Second pass over the same, now known-good bytes: fill the block. */
    cur_t fill = {.p = c.p, .len = len, .err = err};
    fill.recs = (au_record_t *)(void *)block;
    fill.strs = block + rec_bytes;
    rc = dec_batch(&fill, b);
    assert(rc == 0 && fill.used == c.used);
    if (rc) {
        g_release(block);
        memset(b, 0, sizeof(*b));
        return rc;
    }
    b->records = fill.recs;
    return 0;
}

void au_batch_free(au_batch_t *b)
{
    if (!b)
        return;
    g_release(b->records);
    memset(b, 0, sizeof(*b));
}
