/* test_proto.c: the batch wire format (proto/PROTOCOL.md) as a contract:
 * round trips, golden vectors shared with Python's msgpack, and one
 * crafted input per error code. */
#include "au_proto.h"
#include "au_test.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static char *vector(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/vectors/%s", au_test_dir(), name);
    return au_test_read_file(path, len);
}

static int decode(const char *buf, size_t len, au_batch_t *b, au_error_t *e)
{
    memset(e, 0, sizeof(*e));
    return au_batch_decode(buf, len, 0, b, e);
}

/* Decodes and expects failure with code, a message naming field and the
 * byte offset, and nothing allocated. */
static void expect_error(const char *buf, size_t len, int code,
                         const char *field)
{
    au_batch_t b;
    au_error_t e;
    int rc = decode(buf, len, &b, &e);
    if (rc == 0)
        au_batch_free(&b);
    cr_assert_eq(rc, code, "got %s (%s), want %s for %s", au_err_name(rc),
                 e.msg, au_err_name(code), field);
    cr_assert_eq(e.code, code);
    cr_assert_null(b.records);
    cr_assert_not_null(strstr(e.msg, field), "'%s' does not name %s", e.msg,
                       field);
    cr_assert_not_null(strstr(e.msg, "at byte "), "no offset: %s", e.msg);
}

/* The batch that batch_c_v2.msgpack and check_c_batch.py describe. */
static au_record_t c_records[3];

static au_batch_t c_batch(void)
{
    au_record_t *r = c_records;
    memset(c_records, 0, sizeof(c_records));
    r[0] = (au_record_t){.position = 1,
                         .streams = 48211234,
                         .track_name = "Espresso",
                         .artist = "Sabrina Carpenter",
                         .track_id = "2qSkIjg1o9h3YT9RAgYN75",
                         .track_key = "sabrina carpenter|espresso",
                         .artist_key = "sabrina carpenter",
                         .has_features = true,
                         .danceability = 0.703125f,
                         .energy = 0.759765625f,
                         .valence = 0.6875f,
                         .tempo = 103.96875f};
    r[1] = (au_record_t){.position = 2,
                         .streams = -1,
                         .track_name = "Tit\xc3\xad Me Pregunt\xc3\xb3",
                         .artist = "Bad Bunny",
                         .track_key = "bad bunny|titi me pregunto",
                         .artist_key = "bad bunny"};
    r[2] = (au_record_t){.position = 150,
                         .streams = 1200,
                         .track_name = "\xe5\xa4\x9c\xe3\x81\xab\xe9\xa7\x86"
                                       "\xe3\x81\x91\xe3\x82\x8b",
                         .artist = "YOASOBI",
                         .track_id = "3dPtXHP0oXQ4HCWHsOA9js"};
    return (au_batch_t){.job_id = 9007199254740993LL,
                        .attempt = 3,
                        .seq = 1,
                        .nbatches = 2,
                        .last = true,
                        .stage = AU_STAGE_ENRICHED,
                        .platform = "spotify",
                        .chart = "weekly",
                        .region = "global",
                        .date = "2024-02-29",
                        .count = 3,
                        .records = c_records};
}

static void assert_str(const char *got, const char *want, const char *what)
{
    if (!want) {
        cr_assert_null(got, "%s should be NULL", what);
        return;
    }
    cr_assert_not_null(got, "%s is NULL", what);
    cr_assert_str_eq(got, want, "%s", what);
}

static void assert_same_record(const au_record_t *g, const au_record_t *w)
{
    cr_assert_eq(g->position, w->position);
    cr_assert_eq(g->streams, w->streams);
    assert_str(g->track_name, w->track_name, "name");
    assert_str(g->artist, w->artist, "artist");
    assert_str(g->track_id, w->track_id, "tid");
    assert_str(g->track_key, w->track_key, "tkey");
    assert_str(g->artist_key, w->artist_key, "akey");
    cr_assert_eq(g->has_features, w->has_features);
    if (w->has_features) {
        cr_assert_eq(g->danceability, w->danceability);
        cr_assert_eq(g->energy, w->energy);
        cr_assert_eq(g->valence, w->valence);
        cr_assert_eq(g->tempo, w->tempo);
    }
}

static void assert_same_batch(const au_batch_t *g, const au_batch_t *w)
{
    cr_assert_eq(g->job_id, w->job_id);
    cr_assert_eq(g->attempt, w->attempt);
    cr_assert_eq(g->seq, w->seq);
    cr_assert_eq(g->nbatches, w->nbatches);
    cr_assert_eq(g->last, w->last);
    cr_assert_eq(g->stage, w->stage);
    assert_str(g->platform, w->platform, "platform");
    assert_str(g->chart, w->chart, "chart");
    assert_str(g->region, w->region, "region");
    assert_str(g->date, w->date, "date");
    cr_assert_eq(g->count, w->count);
    for (uint32_t i = 0; i < w->count; i++)
        assert_same_record(&g->records[i], &w->records[i]);
}

static void round_trip(const au_batch_t *in)
{
    char *buf;
    size_t len;
    au_batch_t out;
    au_error_t e;
    cr_assert_eq(au_batch_encode(in, &buf, &len), 0);
    int rc = decode(buf, len, &out, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    assert_same_batch(&out, in);
    au_batch_free(&out);
    free(buf);
}

/* ---- crafted messages -------------------------------------------------- */

/* A crafted message is the small valid batch below, with one value (by
 * path, e.g. "records[1].pos") replaced or omitted (value NULL) and one
 * extra entry (by path, "records[0].x" puts it in record 0) appended. */
typedef void (*val_fn)(msgpack_packer *);
typedef struct {
    const char *field;
    val_fn value;
    const char *extra;
    val_fn extra_value;
} craft_t;

static void pk_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_raw(msgpack_packer *pk, const void *bytes, size_t n)
{
    msgpack_pack_str_body(pk, bytes, n); /* no header: raw bytes */
}

typedef struct {
    const char *key;
    void (*pack)(msgpack_packer *, int rec);
} entry_t;

static void d_version(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 2);
}
static void d_one(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 1);
}
static void d_zero(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 0);
}
static void d_job(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 5);
}
static void d_true(msgpack_packer *pk, int rec)
{
    msgpack_pack_true(pk);
}
static void d_stage(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 1);
}
static void d_platform(msgpack_packer *pk, int rec)
{
    pk_s(pk, "spotify");
}
static void d_chart(msgpack_packer *pk, int rec)
{
    pk_s(pk, "daily");
}
static void d_region(msgpack_packer *pk, int rec)
{
    pk_s(pk, "us");
}
static void d_date(msgpack_packer *pk, int rec)
{
    pk_s(pk, "2024-06-01");
}
static void d_pos(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, rec + 1);
}
static void d_streams(msgpack_packer *pk, int rec)
{
    msgpack_pack_int(pk, 100);
}
static void d_name(msgpack_packer *pk, int rec)
{
    pk_s(pk, "Song");
}
static void d_artist(msgpack_packer *pk, int rec)
{
    pk_s(pk, "Artist");
}
static void d_nil(msgpack_packer *pk, int rec)
{
    msgpack_pack_nil(pk);
}
static void d_tkey(msgpack_packer *pk, int rec)
{
    pk_s(pk, "artist|song");
}
static void d_akey(msgpack_packer *pk, int rec)
{
    pk_s(pk, "artist");
}

/* An enriched (stage 1) batch, so that the stage rule can be tried. */
static const entry_t rec_entries[] = {{"pos", d_pos},   {"streams", d_streams},
                                      {"name", d_name}, {"artist", d_artist},
                                      {"tid", d_nil},   {"tkey", d_tkey},
                                      {"akey", d_akey}};
#define NREC_ENTRIES (sizeof(rec_entries) / sizeof(rec_entries[0]))

static void craft_map(msgpack_packer *pk, const craft_t *o, const char *prefix,
                      const entry_t *ents, size_t n, int rec,
                      void (*records)(msgpack_packer *, const craft_t *))
{
    char path[64];
    size_t count = n + (records ? 1 : 0);
    snprintf(path, sizeof(path), "%s", prefix);
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        snprintf(path + plen, sizeof(path) - plen, "%s", ents[i].key);
        if (o->field && !o->value && strcmp(path, o->field) == 0)
            count--;
    }
    bool extra_here = o->extra && strncmp(o->extra, prefix, plen) == 0 &&
                      !strchr(o->extra + plen, '.');
    msgpack_pack_map(pk, count + (extra_here ? 1 : 0));
    for (size_t i = 0; i < n; i++) {
        snprintf(path + plen, sizeof(path) - plen, "%s", ents[i].key);
        bool hit = o->field && strcmp(path, o->field) == 0;
        if (hit && !o->value)
            continue;
        pk_s(pk, ents[i].key);
        if (hit)
            o->value(pk);
        else
            ents[i].pack(pk, rec);
    }
    if (records) {
        pk_s(pk, "records");
        if (o->field && strcmp(o->field, "records") == 0)
            o->value(pk);
        else
            records(pk, o);
    }
    if (extra_here) {
        pk_s(pk, o->extra + plen);
        o->extra_value(pk);
    }
}

static void craft_records(msgpack_packer *pk, const craft_t *o)
{
    msgpack_pack_array(pk, 2);
    for (int i = 0; i < 2; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "records[%d].", i);
        craft_map(pk, o, prefix, rec_entries, NREC_ENTRIES, i, NULL);
    }
}

static const entry_t env_entries[] = {
    {"v", d_version},     {"job", d_job},           {"attempt", d_one},
    {"seq", d_zero},      {"nbatches", d_one},      {"last", d_true},
    {"stage", d_stage},   {"platform", d_platform}, {"chart", d_chart},
    {"region", d_region}, {"date", d_date}};
#define NENV_ENTRIES (sizeof(env_entries) / sizeof(env_entries[0]))

static msgpack_sbuffer crafted;

static const char *craft(craft_t o, size_t *len)
{
    msgpack_packer pk;
    msgpack_sbuffer_destroy(&crafted);
    msgpack_sbuffer_init(&crafted);
    msgpack_packer_init(&pk, &crafted, msgpack_sbuffer_write);
    craft_map(&pk, &o, "", env_entries, NENV_ENTRIES, 0, craft_records);
    *len = crafted.size;
    return crafted.data;
}

static void fini_crafted(void)
{
    msgpack_sbuffer_destroy(&crafted);
}

static void init_crafted(void)
{
    msgpack_sbuffer_init(&crafted);
}

TestSuite(proto, .init = init_crafted, .fini = fini_crafted);

static void expect_crafted(craft_t o, int code, const char *field)
{
    size_t len;
    const char *buf = craft(o, &len);
    expect_error(buf, len, code, field);
}

static void v_str_x(msgpack_packer *pk)
{
    pk_s(pk, "x");
}
static void v_zero(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 0);
}
static void v_two(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 2);
}
static void v_false(msgpack_packer *pk)
{
    msgpack_pack_false(pk);
}
static void v_int1(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 1);
}

/* Where needle first occurs in buf, or len when it does not. */
static size_t find_bytes(const char *buf, size_t len, const char *needle,
                         size_t n)
{
    for (size_t at = 0; at + n <= len; at++) {
        if (memcmp(buf + at, needle, n) == 0)
            return at;
    }
    return len;
}

/* ---- round trips -------------------------------------------------------- */

Test(proto, raw_batch_round_trips)
{
    au_record_t r[2] = {
        {.position = 1, .streams = 0, .track_name = "A", .artist = ""},
        {.position = 2,
         .streams = INT64_MAX,
         .track_name = "B",
         .artist = "X",
         .track_id = "0123456789abcdefghijkl"}};
    au_batch_t b = {.job_id = INT64_MAX,
                    .attempt = INT32_MAX,
                    .seq = 0,
                    .nbatches = 1,
                    .last = true,
                    .stage = AU_STAGE_RAW,
                    .platform = "spotify",
                    .chart = "daily",
                    .region = "us",
                    .date = "2000-02-29",
                    .count = 2,
                    .records = r};
    round_trip(&b);
}

Test(proto, enriched_batch_round_trips)
{
    au_record_t r[1] = {{.position = 7,
                         .streams = -1,
                         .track_name = "Song",
                         .artist = "Band",
                         .track_key = "band|song",
                         .artist_key = "band",
                         .has_features = true,
                         .danceability = 0.1f,
                         .energy = 1.0f,
                         .valence = 0.0f,
                         .tempo = 999.5f}};
    au_batch_t b = {.job_id = 1,
                    .attempt = 1,
                    .seq = 3,
                    .nbatches = 9,
                    .stage = AU_STAGE_ENRICHED,
                    .platform = "spotify",
                    .chart = "weekly",
                    .region = "global",
                    .date = "1999-12-31",
                    .count = 1,
                    .records = r};
    round_trip(&b);
}

Test(proto, enriched_batch_with_partly_enriched_records_round_trips)
{
    au_batch_t b = c_batch();
    round_trip(&b);
}

Test(proto, empty_batch_round_trips)
{
    au_batch_t b = c_batch();
    b.count = 0;
    b.records = NULL;
    round_trip(&b);
}

Test(proto, batch_of_max_records_round_trips)
{
    au_record_t *r = calloc(AU_PROTO_MAX_RECORDS, sizeof(*r));
    cr_assert_not_null(r);
    for (int i = 0; i < AU_PROTO_MAX_RECORDS; i++)
        r[i] = (au_record_t){
            .position = i + 1, .streams = i, .track_name = "n", .artist = "a"};
    au_batch_t b = c_batch();
    b.stage = AU_STAGE_RAW;
    b.count = AU_PROTO_MAX_RECORDS;
    b.records = r;
    round_trip(&b);
    b.count = AU_PROTO_MAX_RECORDS + 1;
    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    cr_assert_null(buf);
    free(r);
}

Test(proto, decoded_batch_can_be_modified_and_reencoded)
{
    size_t len;
    char *raw = vector("batch_raw_v2.msgpack", &len);
    au_batch_t b, again;
    au_error_t e;
    cr_assert_eq(decode(raw, len, &b, &e), 0, "%s", e.msg);
    char keys[3][32];
    b.stage = AU_STAGE_ENRICHED;
    for (uint32_t i = 0; i < b.count; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%u", i);
        b.records[i].track_key = keys[i];
        b.records[i].has_features = true;
        b.records[i].tempo = 120.0f;
    }
    b.region = "gb";
    char *buf;
    size_t n;
    cr_assert_eq(au_batch_encode(&b, &buf, &n), 0);
    au_batch_free(&b);
    cr_assert_null(b.records);
    cr_assert_eq(decode(buf, n, &again, &e), 0, "%s", e.msg);
    cr_assert_str_eq(again.region, "gb");
    cr_assert_str_eq(again.records[2].track_key, "key-2");
    cr_assert_str_eq(again.records[2].artist, "");
    cr_assert_eq(again.records[1].tempo, 120.0f);
    au_batch_free(&again);
    au_batch_free(&again);
    free(buf);
    free(raw);
}

Test(proto, encoder_rejects_a_batch_that_would_not_decode)
{
    au_batch_t b = c_batch();
    char *buf = NULL;
    size_t len;
    au_error_t e = {0};
    c_records[1].position = 0;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    cr_assert_eq(au_batch_validate(&b, &e), AU_EINVAL);
    cr_assert_not_null(strstr(e.msg, "records[1].pos"), "%s", e.msg);
    b = c_batch();
    b.stage = AU_STAGE_RAW; /* records carry enrich's fields */
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    b = c_batch();
    b.stage = (au_stage_t)2; /* version 1's scored stage */
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    cr_assert_eq(au_batch_validate(&b, &e), AU_EINVAL);
    cr_assert_not_null(strstr(e.msg, "stage"), "%s", e.msg);
    b = c_batch();
    c_records[0].track_name = NULL;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    b = c_batch();
    b.date = "2023-02-29";
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    b = c_batch();
    b.region = "new york";
    cr_assert_eq(au_batch_validate(&b, &e), AU_EINVAL);
    cr_assert_not_null(strstr(e.msg, "region"), "%s", e.msg);
    b = c_batch();
    b.date = "2101-01-01";
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    b = c_batch();
    c_records[2].artist = "\xff";
    cr_assert_eq(au_batch_encode(&b, &buf, &len), AU_EINVAL);
    cr_assert_null(buf);
}

/* ---- golden vectors ------------------------------------------------------ */

Test(proto, python_raw_vector_decodes_to_its_fields)
{
    size_t len;
    char *buf = vector("batch_raw_v2.msgpack", &len);
    au_batch_t b;
    au_error_t e;
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b.job_id, 1099511627783LL);
    cr_assert_eq(b.attempt, 1);
    cr_assert_eq(b.seq, 0);
    cr_assert_eq(b.nbatches, 3);
    cr_assert_eq(b.last, false);
    cr_assert_eq(b.stage, AU_STAGE_RAW);
    cr_assert_str_eq(b.platform, "spotify");
    cr_assert_str_eq(b.chart, "daily");
    cr_assert_str_eq(b.region, "us");
    cr_assert_str_eq(b.date, "2024-06-01");
    cr_assert_eq(b.count, 3);
    au_record_t *r = b.records;
    cr_assert_eq(r[0].position, 1);
    cr_assert_eq(r[0].streams, 3456789);
    cr_assert_str_eq(r[0].track_name, "Not Like Us");
    cr_assert_str_eq(r[0].artist, "Kendrick Lamar");
    cr_assert_str_eq(r[0].track_id, "6AI3ezQ4o3HUoP6Dhudph3");
    cr_assert_eq(r[1].position, 2);
    cr_assert_eq(r[1].streams, -1);
    cr_assert_str_eq(r[1].track_name, "Beyonc\xc3\xa9 Medley");
    cr_assert_str_eq(r[1].artist, "Beyonc\xc3\xa9");
    cr_assert_null(r[1].track_id);
    cr_assert_eq(r[2].position, 200);
    cr_assert_eq(r[2].streams, 5000000000LL);
    cr_assert_str_eq(r[2].track_name, "\xe5\xa4\x9c\xe3\x81\xab\xe9\xa7\x86"
                                      "\xe3\x81\x91\xe3\x82\x8b");
    cr_assert_str_eq(r[2].artist, "");
    cr_assert_null(r[2].track_id);
    for (int i = 0; i < 3; i++) {
        cr_assert_null(r[i].track_key);
        cr_assert_null(r[i].artist_key);
        cr_assert_not(r[i].has_features);
    }
    au_batch_free(&b);
    free(buf);
}

/* Record 1 also holds version 1's score, prev and chg: skipped as unknown
 * keys, so they change nothing that is checked here. */
Test(proto, python_enriched_vector_decodes_to_its_fields)
{
    size_t len;
    char *buf = vector("batch_enriched_v2.msgpack", &len);
    au_batch_t b;
    au_error_t e;
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b.job_id, 7);
    cr_assert_eq(b.attempt, 2);
    cr_assert_eq(b.seq, 4);
    cr_assert_eq(b.nbatches, 5);
    cr_assert_eq(b.last, true);
    cr_assert_eq(b.stage, AU_STAGE_ENRICHED);
    cr_assert_str_eq(b.platform, "spotify");
    cr_assert_str_eq(b.chart, "weekly");
    cr_assert_str_eq(b.region, "gb");
    cr_assert_str_eq(b.date, "2023-12-31");
    cr_assert_eq(b.count, 2);
    au_record_t *r = b.records;
    cr_assert_eq(r[0].position, 1);
    cr_assert_eq(r[0].streams, 1000000);
    cr_assert_str_eq(r[0].track_name, "Lovin On Me");
    cr_assert_str_eq(r[0].artist, "Jack Harlow");
    cr_assert_str_eq(r[0].track_id, "4xhsWYTOGcal8zt0J161CU");
    cr_assert_str_eq(r[0].track_key, "jack harlow|lovin on me");
    cr_assert_str_eq(r[0].artist_key, "jack harlow");
    cr_assert(r[0].has_features);
    cr_assert_float_eq(r[0].danceability, 0.943f, 1e-6);
    cr_assert_float_eq(r[0].energy, 0.558f, 1e-6);
    cr_assert_float_eq(r[0].valence, 0.606f, 1e-6);
    cr_assert_float_eq(r[0].tempo, 104.983f, 1e-4);
    cr_assert_eq(r[1].position, 2);
    cr_assert_eq(r[1].streams, 0);
    cr_assert_str_eq(r[1].track_name, "Paint The Town Red");
    cr_assert_str_eq(r[1].artist, "Doja Cat");
    cr_assert_null(r[1].track_id);
    cr_assert_null(r[1].track_key);
    cr_assert_null(r[1].artist_key);
    cr_assert(r[1].has_features);
    cr_assert_eq(r[1].danceability, 0.5f);
    cr_assert_eq(r[1].energy, 0.25f);
    cr_assert_eq(r[1].valence, 0.125f);
    cr_assert_eq(r[1].tempo, 120.0f);
    au_batch_free(&b);
    free(buf);
}

Test(proto, c_encoding_is_byte_identical_to_the_golden_vector)
{
    size_t glen, len;
    char *golden = vector("batch_c_v2.msgpack", &glen);
    au_batch_t b = c_batch();
    char *buf;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), 0);
    size_t at = 0;
    while (at < len && at < glen && buf[at] == golden[at])
        at++;
    cr_assert(at == len && len == glen,
              "encoding differs from batch_c_v2.msgpack at byte %zu "
              "(%zu vs %zu bytes)",
              at, len, glen);
    au_batch_t back;
    au_error_t e;
    cr_assert_eq(decode(golden, glen, &back, &e), 0, "%s", e.msg);
    assert_same_batch(&back, &b);
    au_batch_free(&back);
    free(buf);
    free(golden);
}

Test(proto, c_encoding_decodes_in_python)
{
    au_batch_t b = c_batch();
    char *buf;
    size_t len;
    cr_assert_eq(au_batch_encode(&b, &buf, &len), 0);
    char path[] = "/tmp/au_proto_c_batch_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 '%s/vectors/check_c_batch.py' '%s'",
             au_test_dir(), path);
    int rc = system(cmd);
    unlink(path);
    cr_assert_eq(rc, 0, "check_c_batch.py rejected the C encoding");
}

/* ---- decoding rules -------------------------------------------------- */

static void v_future(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pk_s(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 1);
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "\x00\xff", 2);
    msgpack_pack_ext(pk, 5, 1);
    msgpack_pack_ext_body(pk, "\x01\x02\x03\x04\x05", 5);
    pk_s(pk, "b");
    msgpack_pack_double(pk, 1.5);
}

Test(proto, unknown_keys_are_skipped_in_envelope_and_records)
{
    size_t len;
    const char *buf;
    au_batch_t b;
    au_error_t e;
    const char *where[] = {"future", "records[1].future"};
    for (int i = 0; i < 2; i++) {
        buf =
            craft((craft_t){.extra = where[i], .extra_value = v_future}, &len);
        cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
        cr_assert_eq(b.count, 2);
        cr_assert_str_eq(b.records[1].track_name, "Song");
        au_batch_free(&b);
    }
}

static void v_score_big(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 100.5);
}

/* Version 1 required score, prev and chg together, in range, and only at
 * stage 2; each value below broke one of those rules. Now they are unknown
 * keys: skipped whatever they hold, and not written back. */
Test(proto, v1_score_keys_are_skipped_as_unknown_keys)
{
    struct {
        const char *extra;
        val_fn value;
    } cases[] = {
        {"records[0].score", v_score_big},
        {"records[1].prev", v_str_x},
        {"records[1].chg", v_future},
        {"score", v_int1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len, n;
        char *again;
        au_batch_t b;
        au_error_t e;
        const char *buf = craft(
            (craft_t){.extra = cases[i].extra, .extra_value = cases[i].value},
            &len);
        cr_assert_eq(decode(buf, len, &b, &e), 0, "%s: %s", cases[i].extra,
                     e.msg);
        cr_assert_eq(b.stage, AU_STAGE_ENRICHED);
        cr_assert_eq(b.count, 2);
        cr_assert_eq(b.records[1].position, 2);
        cr_assert_str_eq(b.records[1].track_key, "artist|song");
        cr_assert_eq(au_batch_encode(&b, &again, &n), 0);
        const char *key = strchr(cases[i].extra, '.');
        key = key ? key + 1 : cases[i].extra;
        cr_assert_eq(find_bytes(again, n, key, strlen(key)), n,
                     "%s written back", key);
        free(again);
        au_batch_free(&b);
    }
}

static void v_pos_u64(msgpack_packer *pk)
{
    pk_raw(pk, "\xcf\x00\x00\x00\x00\x00\x00\x00\x02", 9);
}
static void v_streams_i64(msgpack_packer *pk)
{
    pk_raw(pk, "\xd3\xff\xff\xff\xff\xff\xff\xff\xff", 9); /* -1 */
}
static void v_job_i8(msgpack_packer *pk)
{
    pk_raw(pk, "\xd0\x05", 2);
}
/* float32, float64 and integers mixed, as a foreign writer might. */
static void v_af_mixed(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_float(pk, 0.5f);
    msgpack_pack_double(pk, 0.25);
    msgpack_pack_int(pk, 1);
    msgpack_pack_uint16(pk, 300);
}

Test(proto, any_integer_width_and_float32_are_accepted)
{
    size_t len;
    au_batch_t b;
    au_error_t e;
    const char *buf;
    buf = craft((craft_t){.field = "records[1].pos", .value = v_pos_u64}, &len);
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b.records[1].position, 2);
    au_batch_free(&b);
    buf = craft(
        (craft_t){.field = "records[0].streams", .value = v_streams_i64}, &len);
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b.records[0].streams, -1);
    au_batch_free(&b);
    buf = craft((craft_t){.field = "job", .value = v_job_i8}, &len);
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b.job_id, 5);
    au_batch_free(&b);
    buf = craft((craft_t){.extra = "records[0].af", .extra_value = v_af_mixed},
                &len);
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert(b.records[0].has_features);
    cr_assert_eq(b.records[0].danceability, 0.5f);
    cr_assert_eq(b.records[0].energy, 0.25f);
    cr_assert_eq(b.records[0].valence, 1.0f);
    cr_assert_eq(b.records[0].tempo, 300.0f);
    au_batch_free(&b);
}

/* ---- one crafted input per error code ------------------------------------ */

Test(proto, truncated_message_is_rejected_with_offset)
{
    size_t len;
    const char *buf = craft((craft_t){0}, &len);
    expect_error(buf, len - 1, AU_ETRUNCATED, "records[1].akey");
    expect_error(buf, 0, AU_ETRUNCATED, "envelope");
}

Test(proto, wrong_type_is_rejected_naming_the_field)
{
    expect_crafted((craft_t){.field = "records[1].pos", .value = v_str_x},
                   AU_ETYPE, "records[1].pos");
    expect_crafted((craft_t){.field = "last", .value = v_int1}, AU_ETYPE,
                   "last");
    expect_crafted((craft_t){.field = "platform", .value = v_int1}, AU_ETYPE,
                   "platform");
    expect_crafted((craft_t){.field = "records", .value = v_str_x}, AU_ETYPE,
                   "records");
    expect_error("\x93\x01\x02\x03", 4, AU_ETYPE, "envelope");
}

Test(proto, missing_required_field_is_rejected_naming_it)
{
    expect_crafted((craft_t){.field = "records[0].name"}, AU_EMISSING,
                   "records[0].name");
    expect_crafted((craft_t){.field = "date"}, AU_EMISSING, "date");
    expect_crafted((craft_t){.field = "v"}, AU_EMISSING, "v");
    expect_crafted((craft_t){.field = "records[1].streams"}, AU_EMISSING,
                   "records[1].streams");
}

static void v_long_name(msgpack_packer *pk)
{
    char s[AU_PROTO_MAX_STR + 2];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    pk_s(pk, s);
}
/* A real array of one record too many, so that only the limit fails. */
static void v_many_records(msgpack_packer *pk)
{
    msgpack_pack_array(pk, AU_PROTO_MAX_RECORDS + 1);
    for (int i = 0; i < AU_PROTO_MAX_RECORDS + 1; i++) {
        msgpack_pack_map(pk, 4);
        pk_s(pk, "pos");
        msgpack_pack_int(pk, i + 1);
        pk_s(pk, "streams");
        msgpack_pack_int(pk, 0);
        pk_s(pk, "name");
        pk_s(pk, "n");
        pk_s(pk, "artist");
        pk_s(pk, "");
    }
}

Test(proto, oversize_string_array_or_message_is_rejected)
{
    expect_crafted((craft_t){.field = "records[0].name", .value = v_long_name},
                   AU_ETOOBIG, "records[0].name");
    expect_crafted((craft_t){.field = "records", .value = v_many_records},
                   AU_ETOOBIG, "records");
    size_t len;
    au_batch_t b;
    au_error_t e;
    const char *buf = craft((craft_t){0}, &len);
    cr_assert_eq(au_batch_decode(buf, len, len - 1, &b, &e), AU_ETOOBIG);
    cr_assert_not_null(strstr(e.msg, "message"), "%s", e.msg);
    cr_assert_eq(au_batch_decode(buf, len, len, &b, &e), 0, "%s", e.msg);
    au_batch_free(&b);
}

static void v_records_str(msgpack_packer *pk)
{
    pk_s(pk, "not records");
}

static void v_three(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 3);
}

Test(proto, other_version_is_rejected_before_other_fields)
{
    /* Version 2 removed a stage, so version 1 is not read either. */
    expect_crafted((craft_t){.field = "v", .value = v_int1}, AU_EVERSION, "v");
    expect_crafted((craft_t){.field = "v", .value = v_three}, AU_EVERSION, "v");
    /* Another version may change anything (here a v1 scored stage and a
     * records field that is not an array); its version is what is
     * reported. */
    size_t len;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_s(&pk, "records");
    v_records_str(&pk);
    pk_s(&pk, "stage");
    msgpack_pack_int(&pk, 2);
    pk_s(&pk, "v");
    msgpack_pack_int(&pk, 1);
    len = sb.size;
    expect_error(sb.data, len, AU_EVERSION, "v");
    msgpack_sbuffer_destroy(&sb);
}

Test(proto, trailing_bytes_are_rejected)
{
    size_t len;
    const char *buf = craft((craft_t){0}, &len);
    char *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0x00;
    expect_error(more, len + 1, AU_ETRAILING, "message");
    free(more);
}

static void v_date_feb30(msgpack_packer *pk)
{
    pk_s(pk, "2024-02-30");
}
static void v_date_slash(msgpack_packer *pk)
{
    pk_s(pk, "2024/06/01");
}
static void v_date_9999(msgpack_packer *pk)
{
    pk_s(pk, "9999-12-31");
}
static void v_region_blank(msgpack_packer *pk)
{
    pk_s(pk, "new york");
}
static void v_region_65(msgpack_packer *pk)
{
    pk_s(pk,
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}
static void v_minus2(msgpack_packer *pk)
{
    msgpack_pack_int(pk, -2);
}
static void v_big_u32(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, 3000000000u);
}
static void v_af_bad(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_double(pk, 0.5);
    msgpack_pack_double(pk, 1e300);
    msgpack_pack_double(pk, 0.5);
    msgpack_pack_double(pk, 120.0);
}

Test(proto, out_of_range_values_are_rejected_naming_the_field)
{
    struct {
        const char *field;
        val_fn value;
        const char *want;
    } cases[] = {
        {"records[1].pos", v_zero, "records[1].pos"},
        {"seq", v_int1, "seq"},
        {"attempt", v_zero, "attempt"},
        {"job", v_zero, "job"},
        {"last", v_false, "last"},
        {"date", v_date_feb30, "date"},
        {"date", v_date_slash, "date"},
        /* The chart identity rule (au_proto.h): the years and the names
         * the store and the cache keys accept. */
        {"date", v_date_9999, "date"},
        {"region", v_region_blank, "region"},
        {"region", v_region_65, "region"},
        {"records[0].streams", v_minus2, "records[0].streams"},
        {"stage", v_two, "stage"},
        /* Stage 0 may not carry the enrich fields the records have. */
        {"stage", v_zero, "records[0].tkey"},
        {"records[0].pos", v_big_u32, "records[0].pos"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_crafted(
            (craft_t){.field = cases[i].field, .value = cases[i].value},
            AU_ERANGE, cases[i].want);
    expect_crafted((craft_t){.extra = "records[1].af", .extra_value = v_af_bad},
                   AU_ERANGE, "records[1].af[1]");
}

/* Stage 2 was version 1's scored stage; nothing sends it any more. */
Test(proto, stage_2_is_rejected_naming_the_field_and_its_offset)
{
    size_t len;
    const char *buf = craft((craft_t){.field = "stage", .value = v_two}, &len);
    size_t key = find_bytes(buf, len, "\xa5stage", 6);
    cr_assert_lt(key, len);
    au_batch_t b;
    au_error_t e;
    cr_assert_eq(decode(buf, len, &b, &e), AU_ERANGE, "%s", e.msg);
    cr_assert_null(b.records);
    char tail[32];
    snprintf(tail, sizeof(tail), " at byte %zu", key + 6);
    cr_assert_eq(strncmp(e.msg, "stage: ", 7), 0, "%s", e.msg);
    size_t n = strlen(e.msg), t = strlen(tail);
    cr_assert(n > t && strcmp(e.msg + n - t, tail) == 0,
              "'%s' does not end in '%s'", e.msg, tail);
}

static void v_bad_utf8(msgpack_packer *pk)
{
    pk_s(pk, "ab\xff");
}
static void v_overlong(msgpack_packer *pk)
{
    pk_s(pk, "\xc0\xaf");
}
static void v_surrogate(msgpack_packer *pk)
{
    pk_s(pk, "\xed\xa0\x80");
}
static void v_nul(msgpack_packer *pk)
{
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "a\0b", 3);
}

Test(proto, invalid_utf8_is_rejected)
{
    val_fn bad[] = {v_bad_utf8, v_overlong, v_surrogate, v_nul};
    for (size_t i = 0; i < 4; i++)
        expect_crafted((craft_t){.field = "records[1].artist", .value = bad[i]},
                       AU_EUTF8, "records[1].artist");
}

static void v_deep(msgpack_packer *pk)
{
    for (int i = 0; i < 20; i++)
        msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}

Test(proto, deeply_nested_unknown_value_is_rejected)
{
    expect_crafted((craft_t){.extra = "records[0].deep",
                             .value = NULL,
                             .extra_value = v_deep},
                   AU_ENESTING, "records[0].deep");
}

static void v_c1(msgpack_packer *pk)
{
    pk_raw(pk, "\xc1", 1);
}

Test(proto, duplicate_key_and_invalid_byte_are_parse_errors)
{
    expect_crafted((craft_t){.extra = "job", .extra_value = v_int1}, AU_EPARSE,
                   "job");
    expect_crafted(
        (craft_t){.extra = "records[1].name", .extra_value = v_str_x},
        AU_EPARSE, "records[1].name");
    expect_crafted((craft_t){.extra = "x", .extra_value = v_c1}, AU_EPARSE,
                   "x");
}

/* ---- hostile inputs ------------------------------------------------------ */

Test(proto, truncation_at_every_offset_fails_cleanly)
{
    const char *names[] = {"batch_c_v2.msgpack", "batch_enriched_v2.msgpack"};
    for (int v = 0; v < 2; v++) {
        size_t len;
        char *full = vector(names[v], &len);
        for (size_t n = 0; n <= len; n++) {
            /* A copy of exactly n bytes lets ASan see any overread. */
            char *buf = malloc(n ? n : 1);
            memcpy(buf, full, n);
            au_batch_t b;
            au_error_t e;
            int rc = decode(buf, n, &b, &e);
            if (n < len) {
                cr_assert_neq(rc, 0, "%s decoded at %zu bytes", names[v], n);
                cr_assert_null(b.records);
            } else {
                cr_assert_eq(rc, 0, "%s", e.msg);
                au_batch_free(&b);
            }
            free(buf);
        }
        free(full);
    }
}

static size_t n_allocs;

static void *counting_alloc(size_t n)
{
    n_allocs++;
    return malloc(n);
}

static void *failing_alloc(size_t n)
{
    n_allocs++;
    return NULL;
}

Test(proto, huge_count_in_tiny_message_is_rejected_without_allocating)
{
    au_proto_set_allocator(counting_alloc, free);
    n_allocs = 0;
    /* A map32 header claiming 2^32-1 entries, then 5 bytes. */
    expect_error("\xdf\xff\xff\xff\xff\xa1v\x01\xa1x", 10, AU_ETRUNCATED,
                 "envelope");
    /* A records array32 claiming 10000 records in a few bytes. */
    expect_error("\x81\xa7records\xdd\x00\x00\x27\x10\xc0\xc0", 16,
                 AU_ETRUNCATED, "records");
    cr_assert_eq(n_allocs, 0);
    size_t len;
    const char *buf = craft((craft_t){0}, &len);
    au_batch_t b;
    au_error_t e;
    cr_assert_eq(decode(buf, len, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(n_allocs, 1, "one allocation per batch");
    au_batch_free(&b);
    au_proto_set_allocator(NULL, NULL);
}

Test(proto, failed_allocation_is_reported_and_leaks_nothing)
{
    au_proto_set_allocator(failing_alloc, free);
    size_t len;
    const char *buf = craft((craft_t){0}, &len);
    au_batch_t b;
    au_error_t e;
    cr_assert_eq(decode(buf, len, &b, &e), AU_ENOMEM);
    cr_assert_null(b.records);
    au_proto_set_allocator(NULL, NULL);
}

Test(proto, random_byte_flips_never_crash_or_leak)
{
    au_batch_t good = c_batch();
    char *orig;
    size_t len;
    cr_assert_eq(au_batch_encode(&good, &orig, &len), 0);
    char *buf = malloc(len);
    unsigned seed = 12345u;
    int decoded = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, orig, len);
        int flips = 1 + it % 3;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = (char)(seed >> 16);
        }
        au_batch_t b;
        au_error_t e;
        if (decode(buf, len, &b, &e) != 0) {
            cr_assert_null(b.records);
            cr_assert_neq(e.msg[0], '\0');
            continue;
        }
        /* Whatever decodes must be a batch the encoder accepts. */
        char *again;
        size_t n;
        cr_assert_eq(au_batch_encode(&b, &again, &n), 0, "iteration %d", it);
        free(again);
        au_batch_free(&b);
        decoded++;
    }
    cr_assert_lt(decoded, 4000, "flips never changed the outcome");
    free(buf);
    free(orig);
}
