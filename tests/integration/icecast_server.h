// A real Icecast server (Debian's icecast2) on a loopback port of its own, with a config written
// for the test, and an HTTP listener that pulls a mount and decodes it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/unit/decode_audio.h"

namespace harness {

class IcecastServer {
public:
    // Starts it; `password` is the source password.
    IcecastServer(const std::string& dir, const std::string& password = "hackme");
    ~IcecastServer();
    void kill();   // SIGKILL, as a crash
    void start();  // again, on the same port
    int port() const { return port_; }
    std::string host() const { return "127.0.0.1"; }
    // /status-json.xsl's icestats; nullopt while the server does not answer.
    std::optional<nlohmann::json> stats() const;
    // The source feeding `mount` in stats(), or null.
    nlohmann::json source(const std::string& mount) const;
    std::string log() const;

private:
    std::string dir_, logdir_, config_;
    int port_;
    std::unique_ptr<Process> proc_;
};

// A GET of `path` on 127.0.0.1:port for `seconds`: the body (headers removed), or what came.
std::string http_get(int port, const std::string& path, double seconds);

}  // namespace harness
