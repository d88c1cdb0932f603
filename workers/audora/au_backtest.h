/* au_backtest.h: placeholder until the backtest lands. */
#ifndef AU_BACKTEST_H
#define AU_BACKTEST_H

int au_backtest_cmd(int argc, char **argv);

#endif
