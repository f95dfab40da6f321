// The daemon's life: built from the config (daemon.h), then a loop on the main thread that
// takes the signals (SIGTERM and SIGINT end it, SIGHUP reloads), steps JACK's reconnection, the
// schedule and the watchdog, until it ends.
#pragma once

#include <string>

#include "daemon/config.h"
#include "daemon/stage_hooks.h"

namespace wavecast {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread: call before any thread is started,
// so that every thread inherits the mask and the main loop alone takes them.
void block_daemon_signals();

// Returns the process's exit status. `hooks`: a test build's stage wrappers (none in wavecastd).
int run_daemon(const std::string& config_path, const ConfigOverrides& overrides, const StageHooks& hooks = {});

}  // namespace wavecast
