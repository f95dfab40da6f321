#include "control.h"

#include <chrono>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "curve_keys.h"
#include "protocol.h"
#include "zap.h"

namespace wavecast {

using json = nlohmann::json;

namespace {
// libzmq drops (and disconnects) a peer whose message exceeds this, before it is ever read: the
// hard bound on memory. Requests between kMaxRequestBytes and this still get a too_large reply.
constexpr int64_t kMaxWireBytes = 1 << 20;
constexpr size_t kMaxQueuedLogs = 256;
}  // namespace

void TelemetryLogSink::sink_it_(const spdlog::details::log_msg& msg) {
    if (msg.level < spdlog::level::warn) return;
    if (queue_.size() >= kMaxQueuedLogs) queue_.pop_front(), ++lost_;
    queue_.push_back({{"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                            spdlog::level::to_string_view(msg.level).size())},
                      {"message", std::string(msg.payload.data(), msg.payload.size())},
                      {"lost_before", lost_}});
}

std::deque<json> TelemetryLogSink::take() {
    std::lock_guard lock(mutex_);
    std::deque<json> out;
    out.swap(queue_);
    return out;
}

ControlServer::ControlServer(Engine& engine, std::string control, std::string telemetry, const SecurityConfig& security,
                             std::shared_ptr<TelemetryLogSink> logs)
    : engine_(engine), control_(std::move(control)), telemetry_(std::move(telemetry)), curve_(security.curve), logs_(std::move(logs)) {
    if (curve_) {
        if (!zmq_has("curve")) throw std::runtime_error("[security] curve = true, but this libzmq has no CURVE support");
        const CurveKeys own = read_curve_keys(security.key_file);
        if (own.secret_key.empty()) throw std::runtime_error(security.key_file + ": holds no secret key (give the pair, not the .pub)");
        secret_key_ = own.secret_key;
        for (const auto& k : security.allowed_clients) {
            try {
                allowed_.insert(public_key_of(k));
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string("[security] allowed_clients: ") + e.what());
            }
        }
    } else {
        for (const std::string* e : {&control_, &telemetry_})
            if (reachable_from_outside(*e))
                throw std::runtime_error(*e + " can be reached from other machines: remote control needs [security] curve = true");
    }
    std::promise<void> bound;
    auto ready = bound.get_future();
    thread_ = std::thread([this, &bound] { run(bound); });
    try {
        ready.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

ControlServer::~ControlServer() {
    quit_ = true;
    if (thread_.joinable()) thread_.join();
}

void ControlServer::run(std::promise<void>& bound) {
    zmq::context_t ctx(1);
    std::unique_ptr<ZapHandler> zap;
    zmq::socket_t router(ctx, zmq::socket_type::router);
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    try {
        if (curve_) {
            zap = std::make_unique<ZapHandler>(ctx, allowed_);
            for (zmq::socket_t* s : {&router, &pub}) {
                s->set(zmq::sockopt::curve_server, 1);
                s->set(zmq::sockopt::curve_secretkey, secret_key_);
                s->set(zmq::sockopt::zap_domain, kZapDomain);
            }
        }
        router.set(zmq::sockopt::linger, 0);
        router.set(zmq::sockopt::maxmsgsize, kMaxWireBytes);
        router.set(zmq::sockopt::sndhwm, 1000);
        router.set(zmq::sockopt::rcvhwm, 1000);
        router.set(zmq::sockopt::router_mandatory, 0);  // a reply to a vanished peer is dropped, not an error
        pub.set(zmq::sockopt::linger, 0);
        pub.set(zmq::sockopt::sndhwm, 100);  // a subscriber that never reads costs at most this many messages
        try {
            router.bind(control_);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error("cannot bind control endpoint " + control_ + ": " + e.what());
        }
        try {
            pub.bind(telemetry_);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error("cannot bind telemetry endpoint " + telemetry_ + ": " + e.what());
        }
        bound.set_value();
    } catch (...) {
        bound.set_exception(std::current_exception());
        return;
    }

    auto publish = [&](const char* topic, const json& body) {
        const std::string t = topic, b = body.dump();
        pub.send(zmq::buffer(t), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        pub.send(zmq::buffer(b), zmq::send_flags::dontwait);
    };

    auto next_status = std::chrono::steady_clock::now();
    std::vector<zmq::message_t> frames;
    while (!quit_) {
        zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 1, std::chrono::milliseconds(50));
        // Answer everything that is waiting, but yield to telemetry now and then under a flood.
        for (int handled = 0; handled < 1000 && (items[0].revents & ZMQ_POLLIN); ++handled) {
            frames.clear();
            if (!zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
            if (frames.size() < 2) continue;  // ROUTER always prefixes the peer's identity
            const zmq::message_t& body = frames.back();
            const json reply = engine_.handle(std::string_view(static_cast<const char*>(body.data()), body.size()));
            const std::string out = reply.dump();
            // Echo the envelope (identity, and the empty delimiter a REQ peer adds) before the reply.
            for (size_t i = 0; i + 1 < frames.size(); ++i) router.send(frames[i], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
            router.send(zmq::buffer(out), zmq::send_flags::dontwait);
        }
        for (const auto& entry : logs_->take()) publish("log", entry);
        for (const auto& notes : engine_.sounded_notes()) publish("notes", notes);
        engine_.follow_tempo();
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_status) {
            engine_.report_trouble();
            for (const auto& entry : logs_->take()) publish("log", entry);
            publish("status", engine_.status());
            next_status = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(engine_.status_interval_s()));
        }
    }
}

}  // namespace wavecast
