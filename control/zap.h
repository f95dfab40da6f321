// The ZAP handler (ZeroMQ RFC 27) of the control plane's context: with CURVE on, every client
// handshake on the control and telemetry sockets is put to it, and only a CURVE client whose
// public key is on the allow-list, in the "wavecast" domain, gets through.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace wavecast {

inline constexpr const char* kZapDomain = "wavecast";

class ZapHandler {
public:
    // Binds inproc://zeromq.zap.01 in `ctx` before returning; sockets of `ctx` that set
    // zap_domain are authenticated from then on. `allowed`: Z85 public keys.
    ZapHandler(zmq::context_t& ctx, std::set<std::string> allowed);
    ~ZapHandler();
    uint64_t refused() const { return refused_.load(); }

private:
    void run();

    zmq::socket_t rep_;
    std::set<std::string> allowed_;
    std::atomic<bool> quit_{false};
    std::atomic<uint64_t> refused_{0};
    std::thread thread_;
};

}  // namespace wavecast
