// wavecastd's command line: the daemon's options, and the offline subcommands render, export and
// mask. A render's live parameters are options made from params.h's table, so a parameter added
// there is an option here too.
#pragma once

#include "daemon/stage_hooks.h"

namespace wavecast {

// The whole of wavecastd: parses, runs the daemon or a subcommand, returns the exit status.
// `hooks`: a test build's stage wrappers (tests/support), none in wavecastd.
int wavecastd_main(int argc, char** argv, const StageHooks& hooks);

}  // namespace wavecast
