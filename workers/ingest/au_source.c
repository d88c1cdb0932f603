#include "au_source.h"

#include <string.h>

/* Every source, by the job kind it serves. */
static const au_source_t *const sources[] = {
    &au_source_csv,
    &au_source_lastfm,
    &au_source_spotify,
};

const au_source_t *au_source_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
        if (!strcmp(sources[i]->kind, kind))
            return sources[i];
    return NULL;
}
