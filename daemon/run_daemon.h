// The daemon's life: load, stream into JACK, serve the control plane, and ride out what a 24/7
// service meets (a JACK server that dies or restarts, SIGHUP, systemd's watchdog) until SIGTERM.
#pragma once

#include <string>

#include "config.h"

namespace wavecast {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread: call before any thread is started,
// so that every thread inherits the mask and the main loop alone takes them.
void block_daemon_signals();

// Returns the process's exit status.
int run_daemon(const std::string& config_path, const ConfigOverrides& overrides);

}  // namespace wavecast
