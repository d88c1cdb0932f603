#include "au_args.h"

#include <string.h>

const char *au_args_take_opt(int *argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < *argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        const char *v = argv[i + 1];
        memmove(&argv[i], &argv[i + 2],
                (size_t)(*argc - i - 2) * sizeof(*argv));
        *argc -= 2;
        return v;
    }
    return NULL;
}

int au_args_take_flag(int *argc, char **argv, const char *name)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            memmove(&argv[i], &argv[i + 1],
                    (size_t)(*argc - i - 1) * sizeof(*argv));
            (*argc)--;
            return 1;
        }
    }
    return 0;
}
