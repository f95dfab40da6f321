// The ZeroMQ control socket: a ROUTER answering every request with exactly one reply, a CURVE
// server where the config asks (ZAP's allow-list is the ControlServer's). Its connections are
// watched: accepts refused for want of file descriptors and handshakes refused are counted and
// logged at most once in 5 s each.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "control/surface.h"

namespace wavecast {

class ZmqSurface final : public Surface {
public:
    // Binds `endpoint`; with `curve_secret` (Z85) a CURVE server. Throws std::runtime_error naming it.
    ZmqSurface(zmq::context_t& ctx, const std::string& endpoint, const std::string& curve_secret, const char* zap_domain);
    ~ZmqSurface() override;
    const char* name() const override { return "zeromq"; }
    zmq::pollitem_t poll_item() override { return {router_.handle(), 0, ZMQ_POLLIN, 0}; }
    void take(Replies& replies) override;
    nlohmann::json stats() const override;

private:
    class ConnectionWatch;
    zmq::socket_t router_;
    std::unique_ptr<ConnectionWatch> watch_;
};

}  // namespace wavecast
