/* audora: migrate, push jobs, watch the queue, query results. */
#include "au_cmd.h"

int main(int argc, char **argv)
{
    return au_cmd_main(argc, argv);
}
