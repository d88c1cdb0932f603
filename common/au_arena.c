#include "au_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t cap, used;
    /* Keeps data 16-byte aligned whatever the header size is. */
    _Alignas(16) unsigned char data[];
} block_t;

struct au_arena_t {
    block_t *head; /* current block; the first one is last in the list */
    size_t chunk;
    size_t footprint;
};

static block_t *block_new(size_t cap)
{
    block_t *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

au_arena_t *au_arena_new(size_t chunk)
{
    au_arena_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->chunk = chunk ? chunk : 64 * 1024;
    a->head = block_new(a->chunk);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->footprint = a->chunk;
    return a;
}

void au_arena_destroy(au_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    block_t *b = (*self_p)->head;
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(*self_p);
    *self_p = NULL;
}

void *au_arena_alloc(au_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    if (a->head->cap - a->head->used < need) {
        size_t cap = need > a->chunk ? need : a->chunk;
        block_t *b = block_new(cap);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
        a->footprint += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += need;
    return p;
}

char *au_arena_strndup(au_arena_t *a, const char *s, size_t n)
{
    char *p = au_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *au_arena_strdup(au_arena_t *a, const char *s)
{
    return au_arena_strndup(a, s, strlen(s));
}

void au_arena_reset(au_arena_t *a)
{
    while (a->head->next) {
        block_t *next = a->head->next;
        a->footprint -= a->head->cap;
        free(a->head);
        a->head = next;
    }
    a->head->used = 0;
}

size_t au_arena_footprint(const au_arena_t *a)
{
    return a->footprint;
}
