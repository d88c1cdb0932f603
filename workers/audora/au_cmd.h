/* au_cmd.h: the `audora` command users type. */
#ifndef AU_CMD_H
#define AU_CMD_H

/* Runs `audora <argv...>`; returns the process exit status. */
int au_cmd_main(int argc, char **argv);

#endif
