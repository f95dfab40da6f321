// The control plane's sockets, on one thread of their own: a ROUTER answering each request with
// exactly one reply (through Engine::handle), and a PUB sending "status" every interval, "log"
// for warnings and "notes" as the composer's notes sound (within the 50 ms poll). Nothing here touches the audio path except through
// Engine.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "endpoints.h"
#include "osc.h"

namespace wavecast {

// An spdlog sink that keeps warnings and errors for the telemetry "log" topic (bounded: under a
// flood the oldest go, and the count of those lost is published).
class TelemetryLogSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::deque<nlohmann::json> take();

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override {}

private:
    std::deque<nlohmann::json> queue_;
    uint64_t lost_ = 0;
};

// The file work of requests (Engine::Handled::work), done on a thread of its own in the order
// the requests came, so that a slow disk stalls neither the replies to others nor telemetry.
class FileWork {
public:
    static constexpr size_t kMaxQueued = 16;
    FileWork();
    ~FileWork();
    // Sends a reply back to whoever asked (a ZeroMQ peer, an OSC sender): called on the control
    // thread, which owns the sockets.
    using Deliver = std::function<void(const nlohmann::json& reply)>;
    // False when kMaxQueued jobs are waiting already.
    bool submit(Deliver deliver, std::function<nlohmann::json()> work);
    struct Done {
        Deliver deliver;
        nlohmann::json reply;
    };
    std::vector<Done> take_done();
    bool idle() const;

private:
    void loop();
    struct Job {
        Deliver deliver;
        std::function<nlohmann::json()> work;
    };
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::vector<Done> done_;
    size_t running_ = 0;
    bool quit_ = false;
    std::thread thread_;
};

// What the control plane serves; the daemon's engine is one.
class ControlHandler {
public:
    virtual ~ControlHandler() = default;
    // One request (raw bytes off the socket) to one reply; never throws. Requests that touch
    // files (score, record, stop-record) are checked here and come back with `work`: the rest,
    // which gives the reply (never throwing), to be run off the control thread so that a slow
    // disk never stalls the control plane.
    struct Handled {
        nlohmann::json reply;
        std::function<nlohmann::json()> work;
    };
    virtual Handled handle(std::string_view raw) = 0;
    // The body of the telemetry "status" message (and of a status reply).
    virtual nlohmann::json status() const = 0;
    // The bodies of telemetry "notes" messages: what sounded since the last call.
    virtual std::vector<nlohmann::json> sounded_notes() = 0;
    // Each turn of the control loop (tens of ms): tempo sources (JACK transport, Link).
    virtual void follow_tempo() = 0;
    // A descriptor readable while MIDI control messages wait (-1: none), and the turn that runs
    // them (called on every turn too, so that nothing waits on a lost wake-up).
    virtual int midi_fd() const { return -1; }
    virtual void take_midi() {}
    // Each status tick: warnings for what went wrong since the last (underruns, xruns...).
    virtual void report_trouble() = 0;
    virtual double status_interval_s() const = 0;
};

class ControlServer {
public:
    // Binds both endpoints before returning; throws std::runtime_error naming the endpoint.
    // The status interval is the engine's, so that a reload may change it. With security.curve
    // both sockets are CURVE servers behind the ZAP allow-list; without it, an endpoint reachable
    // from other machines is refused. Key files are read here: a bad one throws, naming it.
    // With `osc` (HOST:PORT), an OSC server too, served on the same thread (control/osc.h).
    ControlServer(ControlHandler& handler, std::string control, std::string telemetry, const SecurityConfig& security,
                  std::shared_ptr<TelemetryLogSink> logs, const std::string& osc = "", const std::vector<std::string>& osc_allow = {});
    ~ControlServer();

private:
    void run(std::promise<void>& bound);

    ControlHandler& engine_;
    const std::string control_, telemetry_;
    bool curve_ = false;
    std::string secret_key_;         // Z85, with curve_
    std::set<std::string> allowed_;  // Z85 public keys, with curve_
    std::shared_ptr<TelemetryLogSink> logs_;
    std::unique_ptr<OscServer> osc_;
    std::atomic<bool> quit_{false};
    std::thread thread_;
};

}  // namespace wavecast
