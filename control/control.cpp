#include "control.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <cstring>
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
// A connection that has not completed ZeroMQ's handshake by then is closed: idle TCP connections
// (a port scan, a flood) cannot hold the daemon's file descriptors.
constexpr int kHandshakeMs = 5000;
constexpr const char* kMonitorEndpoint = "inproc://wavecast-control-monitor";

// What the control socket's monitor says about connections: counted, and the troubles logged (at
// most once per 5 s each, with how many since): accepts refused for want of file descriptors, and
// handshakes refused (a NULL or PLAIN client to a CURVE server, or not ZeroMQ at all).
class ConnectionWatch {
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
};
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

FileWork::FileWork() : thread_([this] { loop(); }) {}

FileWork::~FileWork() {
    {
        std::lock_guard lock(mu_);
        quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

bool FileWork::submit(Deliver deliver, std::function<json()> work) {
    {
        std::lock_guard lock(mu_);
        if (jobs_.size() >= kMaxQueued) return false;
        jobs_.push_back({std::move(deliver), std::move(work)});
    }
    wake_.notify_one();
    return true;
}

std::vector<FileWork::Done> FileWork::take_done() {
    std::lock_guard lock(mu_);
    std::vector<Done> out;
    out.swap(done_);
    return out;
}

bool FileWork::idle() const {
    std::lock_guard lock(mu_);
    return jobs_.empty() && running_ == 0 && done_.empty();
}

void FileWork::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
        if (quit_) return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        ++running_;
        lock.unlock();
        json reply = job.work();  // never throws (Engine::handle's contract)
        lock.lock();
        --running_;
        done_.push_back({std::move(job.deliver), std::move(reply)});
    }
}

ControlServer::ControlServer(ControlHandler& engine, std::string control, std::string telemetry, const SecurityConfig& security,
                             std::shared_ptr<TelemetryLogSink> logs, const std::string& osc, const std::vector<std::string>& osc_allow)
    : engine_(engine), control_(std::move(control)), telemetry_(std::move(telemetry)), curve_(security.curve), logs_(std::move(logs)) {
    if (!osc.empty()) osc_ = std::make_unique<OscServer>(osc, osc_allow);
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
        router.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
        pub.set(zmq::sockopt::linger, 0);
        pub.set(zmq::sockopt::sndhwm, 100);  // a subscriber that never reads costs at most this many messages
        pub.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
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
        const std::string t = topic, b = protocol::to_wire(body);
        pub.send(zmq::buffer(t), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        pub.send(zmq::buffer(b), zmq::send_flags::dontwait);
    };
    // Echo the envelope (identity, and the empty delimiter a REQ peer adds) before the reply.
    auto reply_to = [&](std::vector<zmq::message_t>& envelope, const json& reply) {
        const std::string out = protocol::to_wire(reply);
        for (auto& frame : envelope) router.send(frame, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(zmq::buffer(out), zmq::send_flags::dontwait);
    };

    // What only this thread knows goes into every status, sent or answered: the OSC server's counts.
    auto with_surfaces = [&](json& reply) {
        if (osc_ && reply.is_object() && reply.contains("uptime_s") && reply.contains("streams")) reply["osc"] = osc_->stats_json();
    };
    FileWork files;
    // An OSC message is a request like any other; its file work waits its turn with theirs.
    auto osc_handle = [&](const std::string& request, const OscServer::Deliver& deliver) {
        ControlHandler::Handled h = engine_.handle(request);
        with_surfaces(h.reply);
        if (!h.work) return deliver(h.reply);
        if (!files.submit(deliver, std::move(h.work)))
            deliver(
                protocol::error_reply(nullptr, protocol::code::busy,
                                      "file work: " + std::to_string(FileWork::kMaxQueued) + " requests are queued already; try again"));
    };
    ConnectionWatch watch(ctx, router, control_);
    auto next_status = std::chrono::steady_clock::now();
    auto last_fault_log = std::chrono::steady_clock::time_point{};
    std::vector<zmq::message_t> frames;
    while (!quit_) {
        // Nothing that happens in one turn may end the process or this thread: the control plane
        // must answer for as long as the daemon runs.
        try {
            // The router, then OSC and MIDI where they exist (MIDI wakes the turn; take_midi runs
            // on every turn).
            zmq::pollitem_t items[3] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
            size_t n_items = 1;
            const size_t osc_item = osc_ ? n_items++ : 0;
            if (osc_) items[osc_item] = {nullptr, osc_->fd(), ZMQ_POLLIN, 0};
            if (const int fd = engine_.midi_fd(); fd >= 0) items[n_items++] = {nullptr, fd, ZMQ_POLLIN, 0};
            // File work in flight: come back soon for its replies.
            zmq::poll(items, n_items, std::chrono::milliseconds(files.idle() ? 50 : 5));
            if (osc_ && (items[osc_item].revents & ZMQ_POLLIN)) osc_->drain(osc_handle);
            engine_.take_midi();
            // Answer everything that is waiting, but yield to telemetry now and then under a flood.
            for (int handled = 0; handled < 1000 && (items[0].revents & ZMQ_POLLIN); ++handled) {
                frames.clear();
                if (!zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
                if (frames.size() < 2) continue;  // ROUTER always prefixes the peer's identity
                const zmq::message_t body = std::move(frames.back());
                frames.pop_back();
                ControlHandler::Handled h = engine_.handle(std::string_view(static_cast<const char*>(body.data()), body.size()));
                with_surfaces(h.reply);
                if (!h.work) {
                    reply_to(frames, h.reply);
                    continue;
                }
                auto envelope = std::make_shared<std::vector<zmq::message_t>>();
                for (auto& f : frames) envelope->emplace_back(f.data(), f.size());
                if (!files.submit([&reply_to, envelope](const json& reply) { reply_to(*envelope, reply); }, std::move(h.work))) {
                    json id = nullptr;
                    try {
                        protocol::parse_request(std::string_view(static_cast<const char*>(body.data()), body.size()), id);
                    } catch (...) {
                    }
                    reply_to(frames, protocol::error_reply(
                                         id, protocol::code::busy,
                                         "file work: " + std::to_string(FileWork::kMaxQueued) + " requests are queued already; try again"));
                }
            }
            for (auto& done : files.take_done()) done.deliver(done.reply);
            watch.drain();
            for (const auto& entry : logs_->take()) publish("log", entry);
            for (const auto& notes : engine_.sounded_notes()) publish("notes", notes);
            engine_.follow_tempo();
            const auto now = std::chrono::steady_clock::now();
            if (now >= next_status) {
                engine_.report_trouble();
                for (const auto& entry : logs_->take()) publish("log", entry);
                json status = engine_.status();
                with_surfaces(status);
                publish("status", status);
                if (osc_) osc_->push_status(status);
                next_status = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(engine_.status_interval_s()));
            }
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
