#include "control.h"

#include <chrono>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "protocol.h"

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

ControlServer::ControlServer(Engine& engine, std::string control, std::string telemetry, std::shared_ptr<TelemetryLogSink> logs)
    : engine_(engine), control_(std::move(control)), telemetry_(std::move(telemetry)), logs_(std::move(logs)) {
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
    zmq::socket_t router(ctx, zmq::socket_type::router);
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    try {
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
        engine_.follow_transport();
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
