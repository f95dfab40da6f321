// wavecastd: the daemon (streams into JACK, steered over ZeroMQ) and its offline subcommands.
#include "daemon/cli.h"

int main(int argc, char** argv) { return wavecast::wavecastd_main(argc, argv, {}); }
