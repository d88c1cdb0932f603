/* au_arena.h: a bump allocator, the "scoped" lifetime of one batch.
 * Everything allocated while handling a batch is freed by one reset. */
#ifndef AU_ARENA_H
#define AU_ARENA_H

#include <stddef.h>

typedef struct au_arena_t au_arena_t;

/* chunk: size of each block (a larger request gets its own block). */
au_arena_t *au_arena_new(size_t chunk);
void au_arena_destroy(au_arena_t **self_p);
/* 16-byte aligned; NULL on out-of-memory. */
void *au_arena_alloc(au_arena_t *a, size_t n);
char *au_arena_strndup(au_arena_t *a, const char *s, size_t n);
char *au_arena_strdup(au_arena_t *a, const char *s);
/* Frees all but the first block; memory returned earlier becomes invalid. */
void au_arena_reset(au_arena_t *a);
/* Bytes currently held in blocks (for metrics and tests). */
size_t au_arena_footprint(const au_arena_t *a);

#endif
