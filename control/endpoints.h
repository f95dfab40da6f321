// Who may reach the control plane: the endpoints the daemon binds and what guards them.
#pragma once

#include <string>
#include <vector>

namespace wavecast {

// Remote control: without CURVE the endpoints must stay on this machine (loopback or ipc://).
struct SecurityConfig {
    bool curve = false;
    std::string key_file;                      // the daemon's key pair (wavecast keygen); its .pub goes to the clients
    std::vector<std::string> allowed_clients;  // Z85 public keys, each given as a key or a .pub file
};

// Why the daemon may not bind `endpoint`, or "" when it may: only tcp://, ipc:// and inproc://,
// and without CURVE only what stays on this machine (loopback tcp://, ipc://, inproc://). The
// one check for the config and the command line.
std::string endpoint_problem(const std::string& endpoint, bool curve);

}  // namespace wavecast
