// wavecastd: the daemon (streams into JACK, steered over ZeroMQ) and its offline subcommands.
#include "cli.h"

int main(int argc, char** argv) { return wavecast::wavecastd_main(argc, argv, {}); }
