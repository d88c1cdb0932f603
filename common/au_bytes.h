/* au_bytes.h: fixed-width little-endian integers in byte buffers, for the
 * binary values the cache holds (features, histories): the same bytes on
 * every machine, and no text round trip for numbers. */
#ifndef AU_BYTES_H
#define AU_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void au_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t au_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void au_put_u64(unsigned char *p, uint64_t v)
{
    au_put_u32(p, (uint32_t)v);
    au_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t au_get_u64(const unsigned char *p)
{
    return (uint64_t)au_get_u32(p) | (uint64_t)au_get_u32(p + 4) << 32;
}

/* IEEE 754 binary32 by its bit pattern. */
static inline void au_put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof(v));
    au_put_u32(p, v);
}

static inline float au_get_f32(const unsigned char *p)
{
    uint32_t v = au_get_u32(p);
    float f;
    memcpy(&f, &v, sizeof(f));
    return f;
}

#endif
