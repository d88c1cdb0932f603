#include "au_backtest.h"

#include <stdio.h>

int au_backtest_cmd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "audora backtest: not built yet\n");
    return 2;
}
