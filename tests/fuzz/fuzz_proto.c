/* fuzz_proto.c: libFuzzer target for au_batch_decode.
 *
 * Any bytes go to the decoder. A batch it accepts must be one the encoder
 * accepts too, and encoding then decoding must give the same batch back,
 * field by field: the decoder may not let through anything the rest of
 * the pipeline cannot send on. */
#include "au_proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, uint32_t i)
{
    fprintf(stderr, "fuzz_proto: %s differs (record %u)\n", what, i);
    abort();
}

/* NULL and "" are different values on the wire (nil vs empty string). */
static int fz_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Bitwise, so that -0.0 against 0.0 counts as a difference: the encoder
 * writes floats as they are and should get them back as they are. */
static int fz_bits_eq(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

static void fz_check_record(const au_record_t *a, const au_record_t *b,
                            uint32_t i)
{
    if (a->position != b->position)
        fz_fail("position", i);
    if (a->streams != b->streams)
        fz_fail("streams", i);
    if (!fz_str_eq(a->track_name, b->track_name))
        fz_fail("track_name", i);
    if (!fz_str_eq(a->artist, b->artist))
        fz_fail("artist", i);
    if (!fz_str_eq(a->track_id, b->track_id))
        fz_fail("track_id", i);
    if (!fz_str_eq(a->track_key, b->track_key))
        fz_fail("track_key", i);
    if (!fz_str_eq(a->artist_key, b->artist_key))
        fz_fail("artist_key", i);
    if (a->has_features != b->has_features)
        fz_fail("has_features", i);
    if (a->has_features &&
        (!fz_bits_eq(&a->danceability, &b->danceability, sizeof(float)) ||
         !fz_bits_eq(&a->energy, &b->energy, sizeof(float)) ||
         !fz_bits_eq(&a->valence, &b->valence, sizeof(float)) ||
         !fz_bits_eq(&a->tempo, &b->tempo, sizeof(float))))
        fz_fail("audio features", i);
}

static void fz_check_batch(const au_batch_t *a, const au_batch_t *b)
{
    if (a->job_id != b->job_id || a->attempt != b->attempt ||
        a->seq != b->seq || a->nbatches != b->nbatches || a->last != b->last ||
        a->stage != b->stage)
        fz_fail("envelope numbers", 0);
    if (!fz_str_eq(a->platform, b->platform) ||
        !fz_str_eq(a->chart, b->chart) || !fz_str_eq(a->region, b->region) ||
        !fz_str_eq(a->date, b->date))
        fz_fail("envelope strings", 0);
    if (a->count != b->count)
        fz_fail("count", 0);
    for (uint32_t i = 0; i < a->count; i++)
        fz_check_record(&a->records[i], &b->records[i], i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    au_batch_t first, second;
    au_error_t err;
    char *wire = NULL;
    size_t wire_len = 0;

    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    if (au_batch_decode((const char *)data, size, 0, &first, &err) != 0)
        return 0;
    if (au_batch_validate(&first, &err) != 0) {
        fprintf(stderr, "fuzz_proto: decoded batch fails validation: %s\n",
                err.msg);
        abort();
    }
    if (au_batch_encode(&first, &wire, &wire_len) != 0) {
        fprintf(stderr, "fuzz_proto: decoded batch does not encode\n");
        abort();
    }
    if (au_batch_decode(wire, wire_len, 0, &second, &err) != 0) {
        fprintf(stderr, "fuzz_proto: re-encoded batch does not decode: %s\n",
                err.msg);
        abort();
    }
    fz_check_batch(&first, &second);
    free(wire);
    au_batch_free(&first);
    au_batch_free(&second);
    return 0;
}
