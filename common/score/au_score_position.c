#include "au_score.h"

double au_position_score(int position, int chart_size)
{
    if (position < 1 || chart_size < 1 || position > chart_size)
        return 0.0;
    return 100.0 * (double)(chart_size - position + 1) / chart_size;
}
