#include "au_digest.h"

#include <string.h>

#include "au_bytes.h"

/* Every field is framed (fixed width, or a length before the bytes), so
 * no two different batches feed the hash the same bytes. */
static void put_u64(au_digest_t *d, uint64_t v)
{
    unsigned char b[8];
    au_put_u64(b, v);
    crypto_generichash_update(&d->st, b, sizeof(b));
}

static void put_text(au_digest_t *d, const char *s)
{
    /* NULL and "" differ: a length no string has marks NULL. */
    uint64_t n = s ? strlen(s) : UINT64_MAX;
    put_u64(d, n);
    if (s)
        crypto_generichash_update(&d->st, (const unsigned char *)s, n);
}

void au_digest_begin(au_digest_t *d, int64_t job, int32_t attempt, int32_t seq)
{
    crypto_generichash_init(&d->st, NULL, 0, AU_DIGEST_BYTES);
    put_u64(d, (uint64_t)job);
    put_u64(d, (uint64_t)(uint32_t)attempt);
    put_u64(d, (uint64_t)(uint32_t)seq);
}

void au_digest_record(au_digest_t *d, int32_t position, int64_t streams,
                      const char *name, const char *artist,
                      const char *track_id)
{
    put_u64(d, (uint64_t)(uint32_t)position);
    put_u64(d, (uint64_t)streams);
    put_text(d, name);
    put_text(d, artist);
    put_text(d, track_id);
}

void au_digest_end(au_digest_t *d, unsigned char out[AU_DIGEST_BYTES])
{
    crypto_generichash_final(&d->st, out, AU_DIGEST_BYTES);
}

void au_digest_batch(const au_batch_t *b, unsigned char out[AU_DIGEST_BYTES])
{
    au_digest_t d;
    au_digest_begin(&d, b->job_id, b->attempt, b->seq);
    for (uint32_t i = 0; i < b->count; i++) {
        const au_record_t *r = &b->records[i];
        au_digest_record(&d, r->position, r->streams, r->track_name, r->artist,
                         r->track_id);
    }
    au_digest_end(&d, out);
}
