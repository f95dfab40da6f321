#include "control/control_server.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <cstring>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "control/file_work.h"
#include "control/zap.h"
#include "control/zmq_surface.h"
#include "protocol/curve_keys.h"
#include "protocol/protocol.h"

namespace wavecast {

using json = nlohmann::json;

namespace {
constexpr size_t kMaxQueuedLogs = 256;
// As the ZeroMQ surface's: an idle connection to the PUB socket is closed after this.
constexpr int kHandshakeMs = 5000;
}  // namespace

void TelemetryLogSink::sink_it_(const spdlog::details::log_msg& msg) {
    if (msg.level < spdlog::level::warn) return;
    if (queue_.size() >= kMaxQueuedLogs) queue_.pop_front(), ++lost_;
    queue_.push_back(
        {{"level", std::string(spdlog::level::to_string_view(msg.level).data(), spdlog::level::to_string_view(msg.level).size())},
         {"message", std::string(msg.payload.data(), msg.payload.size())},
         {"lost_before", lost_}});
}

std::deque<json> TelemetryLogSink::take() {
    std::lock_guard lock(mutex_);
    std::deque<json> out;
    out.swap(queue_);
    return out;
}

ControlServer::ControlServer(ControlHandler& handler, std::string control, std::string telemetry, const SecurityConfig& security,
                             std::shared_ptr<TelemetryLogSink> logs, std::vector<Surface*> surfaces, ControlTasks tasks)
    : handler_(handler),
      control_(std::move(control)),
      telemetry_(std::move(telemetry)),
      curve_(security.curve),
      logs_(std::move(logs)),
      surfaces_(std::move(surfaces)),
      tasks_(std::move(tasks)) {
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
    }
    for (const std::string* e : {&control_, &telemetry_})
        if (const std::string why = endpoint_problem(*e, curve_); !why.empty()) throw std::runtime_error(why);
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

namespace {

// Answers for one surface, counting what it asked and what was refused; file work goes to the
// shared FileWork and its reply comes back on a later turn.
class SurfaceReplies final : public Replies {
public:
    SurfaceReplies(ControlHandler& handler, FileWork& files, std::function<void(json&)> with_surfaces)
        : handler_(handler), files_(files), with_surfaces_(std::move(with_surfaces)) {}
    void answer(const protocol::TypedRequest& request, Deliver deliver) override {
        ++requests_;
        ControlHandler::Handled h = handler_.handle(request);
        // A status reply shows the surfaces too, which only this thread knows.
        if (std::holds_alternative<protocol::Status>(request.command)) with_surfaces_(h.reply);
        if (!h.work) return count_and(deliver, h.reply);
        if (!files_.submit([this, deliver](const json& r) { count_and(deliver, r); }, std::move(h.work)))
            count_and(deliver, protocol::error_reply(
                                   request.id, protocol::code::busy,
                                   "file work: " + std::to_string(FileWork::kMaxQueued) + " requests are queued already; try again"));
    }
    void refused() override { ++requests_, ++refused_; }
    json counts() const { return {{"requests", requests_}, {"refused", refused_}}; }

private:
    void count_and(const Deliver& deliver, const json& reply) {
        if (!reply.value("ok", false)) ++refused_;
        deliver(reply);
    }
    ControlHandler& handler_;
    FileWork& files_;
    std::function<void(json&)> with_surfaces_;
    uint64_t requests_ = 0, refused_ = 0;
};

}  // namespace

void ControlServer::run(std::promise<void>& bound) {
    zmq::context_t ctx(1);
    std::unique_ptr<ZapHandler> zap;
    std::unique_ptr<ZmqSurface> zeromq;
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    try {
        if (curve_) {
            zap = std::make_unique<ZapHandler>(ctx, allowed_);
            pub.set(zmq::sockopt::curve_server, 1);
            pub.set(zmq::sockopt::curve_secretkey, secret_key_);
            pub.set(zmq::sockopt::zap_domain, kZapDomain);
        }
        zeromq = std::make_unique<ZmqSurface>(ctx, control_, curve_ ? secret_key_ : "", kZapDomain);
        pub.set(zmq::sockopt::linger, 0);
        pub.set(zmq::sockopt::sndhwm, 100);  // a subscriber that never reads costs at most this many messages
        pub.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
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
    serve(*zeromq, pub);
}

void ControlServer::serve(Surface& zeromq, zmq::socket_t& pub) {
    auto publish = [&](const char* topic, const json& body) {
        const std::string t = topic, b = protocol::to_wire(body);
        pub.send(zmq::buffer(t), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        pub.send(zmq::buffer(b), zmq::send_flags::dontwait);
    };
    std::vector<Surface*> surfaces{&zeromq};
    surfaces.insert(surfaces.end(), surfaces_.begin(), surfaces_.end());
    FileWork files;
    std::vector<std::unique_ptr<SurfaceReplies>> replies;
    auto with_surfaces = [&](json& status) {
        for (size_t i = 0; i < surfaces.size(); ++i) {
            json s = surfaces[i]->stats();
            s.update(replies[i]->counts());
            status[surfaces[i]->name()] = std::move(s);
        }
    };
    for (size_t i = 0; i < surfaces.size(); ++i) replies.push_back(std::make_unique<SurfaceReplies>(handler_, files, with_surfaces));
    std::vector<zmq::pollitem_t> items(surfaces.size());
    auto next_status = std::chrono::steady_clock::now();
    auto last_fault_log = std::chrono::steady_clock::time_point{};
    while (!quit_) {
        // Nothing that happens in one turn may end the process or this thread: the control plane
        // must answer for as long as the daemon runs.
        try {
            for (size_t i = 0; i < surfaces.size(); ++i) items[i] = surfaces[i]->poll_item();
            // File work in flight: come back soon for its replies.
            zmq::poll(items.data(), items.size(), std::chrono::milliseconds(files.idle() ? 50 : 5));
            for (size_t i = 0; i < surfaces.size(); ++i) surfaces[i]->take(*replies[i]);
            for (auto& done : files.take_done()) done.deliver(done.reply);
            for (const auto& entry : logs_->take()) publish("log", entry);
            for (const auto& notes : tasks_.notes()) publish("notes", notes);
            tasks_.each_turn();
            const auto now = std::chrono::steady_clock::now();
            if (now < next_status) continue;
            tasks_.before_status();
            for (const auto& entry : logs_->take()) publish("log", entry);
            json status = handler_.status();
            with_surfaces(status);
            publish("status", status);
            for (Surface* s : surfaces) s->push_status(status);
            next_status = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(tasks_.status_interval_s()));
        } catch (const std::exception& e) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_fault_log > std::chrono::seconds(5)) {
                spdlog::error("control thread: {}; carrying on", e.what());
                last_fault_log = now;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

}  // namespace wavecast
