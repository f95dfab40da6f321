#include "control/zmq_surface.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <zmq_addon.hpp>

#include "protocol/protocol.h"

namespace wavecast {

using json = nlohmann::json;

namespace {
// libzmq drops (and disconnects) a peer whose message exceeds this, before it is ever read: the
// hard bound on memory. Requests between kMaxRequestBytes and this still get a too_large reply.
constexpr int64_t kMaxWireBytes = 1 << 20;
// A connection that has not completed ZeroMQ's handshake by then is closed: idle TCP connections
// (a port scan, a flood) cannot hold the daemon's file descriptors.
constexpr int kHandshakeMs = 5000;
constexpr const char* kMonitorEndpoint = "inproc://wavecast-control-monitor";
}  // namespace

// What the control socket's monitor says about connections: counted, and the troubles logged (at
// most once per 5 s each, with how many since): accepts refused for want of file descriptors, and
// handshakes refused (a NULL or PLAIN client to a CURVE server, or not ZeroMQ at all).
class ZmqSurface::ConnectionWatch {
public:
    explicit ConnectionWatch(zmq::context_t& ctx, zmq::socket_t& watched, const std::string& endpoint)
        : pair_(ctx, zmq::socket_type::pair), endpoint_(endpoint) {
        const int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
        if (zmq_socket_monitor(watched.handle(), kMonitorEndpoint, events) != 0)
            throw std::runtime_error(std::string("cannot monitor the control socket: ") + zmq_strerror(zmq_errno()));
        pair_.set(zmq::sockopt::linger, 0);
        pair_.connect(kMonitorEndpoint);
    }
    void drain() {
        std::vector<zmq::message_t> ev;
        for (;;) {
            ev.clear();
            if (!zmq::recv_multipart(pair_, std::back_inserter(ev), zmq::recv_flags::dontwait) || ev.empty()) return;
            if (ev[0].size() < 6) continue;
            uint16_t event = 0;
            uint32_t value = 0;
            std::memcpy(&event, ev[0].data(), 2);
            std::memcpy(&value, static_cast<const char*>(ev[0].data()) + 2, 4);
            if (event == ZMQ_EVENT_ACCEPTED) ++open_;
            else if (event == ZMQ_EVENT_DISCONNECTED) open_ -= open_ > 0;
            else if (event == ZMQ_EVENT_ACCEPT_FAILED)
                note(accept_, "control: cannot accept a connection on " + endpoint_ + ": " + zmq_strerror(static_cast<int>(value)) + " (" +
                                  std::to_string(open_) + " open; raise LimitNOFILE, or find who holds them)");
            else
                note(handshake_, "control: refused a connection's handshake on " + endpoint_ +
                                     (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? " (authentication)"
                                                                               : " (a NULL or PLAIN client to CURVE, or not ZeroMQ)"));
        }
    }

private:
    struct Trouble {
        std::chrono::steady_clock::time_point last{};
        uint64_t since = 0;
    };
    static void note(Trouble& t, const std::string& what) {
        ++t.since;
        const auto now = std::chrono::steady_clock::now();
        if (now - t.last < std::chrono::seconds(5)) return;
        spdlog::warn("{} [{} time(s) since the last report]", what, t.since);
        t.last = now, t.since = 0;
    }
    zmq::socket_t pair_;
    std::string endpoint_;
    uint64_t open_ = 0;
    Trouble accept_, handshake_;

public:
    uint64_t open() const { return open_; }
};

ZmqSurface::ZmqSurface(zmq::context_t& ctx, const std::string& endpoint, const std::string& curve_secret, const char* zap_domain)
    : router_(ctx, zmq::socket_type::router) {
    if (!curve_secret.empty()) {
        router_.set(zmq::sockopt::curve_server, 1);
        router_.set(zmq::sockopt::curve_secretkey, curve_secret);
        router_.set(zmq::sockopt::zap_domain, zap_domain);
    }
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::maxmsgsize, kMaxWireBytes);
    router_.set(zmq::sockopt::sndhwm, 1000);
    router_.set(zmq::sockopt::rcvhwm, 1000);
    router_.set(zmq::sockopt::router_mandatory, 0);  // a reply to a vanished peer is dropped, not an error
    router_.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
    try {
        router_.bind(endpoint);
    } catch (const zmq::error_t& e) {
        throw std::runtime_error("cannot bind control endpoint " + endpoint + ": " + e.what());
    }
    watch_ = std::make_unique<ConnectionWatch>(ctx, router_, endpoint);
}

ZmqSurface::~ZmqSurface() = default;

json ZmqSurface::stats() const { return {{"connections", watch_->open()}}; }

void ZmqSurface::take(Replies& replies) {
    // The envelope (identity, and the empty delimiter a REQ peer adds) goes back before the reply.
    auto reply_to = [this](const std::vector<zmq::message_t>& envelope, const json& reply) {
        const std::string out = protocol::to_wire(reply);
        for (const auto& frame : envelope)
            router_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router_.send(zmq::buffer(out), zmq::send_flags::dontwait);
    };
    // Everything waiting, but the thread yields to telemetry now and then under a flood.
    std::vector<zmq::message_t> frames;
    for (int handled = 0; handled < 1000; ++handled) {
        frames.clear();
        if (!zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
        if (frames.size() < 2) continue;  // ROUTER always prefixes the peer's identity
        const zmq::message_t body = std::move(frames.back());
        frames.pop_back();
        auto envelope = std::make_shared<std::vector<zmq::message_t>>(std::move(frames));
        json id;
        protocol::TypedRequest request;
        try {
            request = protocol::parse(std::string_view(static_cast<const char*>(body.data()), body.size()), id);
        } catch (const protocol::Error& e) {
            replies.refused();
            reply_to(*envelope, protocol::error_reply(id, e.code, e.what()));
            continue;
        }
        replies.answer(request, [reply_to, envelope](const json& reply) { reply_to(*envelope, reply); });
    }
    watch_->drain();
}

}  // namespace wavecast
