// The control plane on one thread of its own: every surface (surface.h) polled and its requests
// answered by the ControlHandler, file work off the thread (file_work.h), and a PUB socket
// sending "status" every interval, "log" for warnings and "notes" as the composer's notes sound.
// Nothing here touches the audio path except through the handler.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <atomic>
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

#include "control/endpoints.h"
#include "control/surface.h"

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

// The daemon's own work on the control thread, beside the surfaces.
struct ControlTasks {
    std::function<void()> each_turn;                     // every turn (tens of ms): the tempo sources
    std::function<std::vector<nlohmann::json>()> notes;  // bodies of "notes" messages since the last turn
    std::function<void()> before_status;                 // before each status: warnings for what went wrong
    std::function<double()> status_interval_s;           // read each time, so that a reload may change it
};

class ControlServer {
public:
    // Binds the ZeroMQ control and telemetry endpoints before returning; throws
    // std::runtime_error naming the endpoint. With security.curve both sockets are CURVE servers
    // behind the ZAP allow-list; without it, an endpoint reachable from other machines is
    // refused. Key files are read here: a bad one throws, naming it. `surfaces` (OSC, MIDI...)
    // are served beside the ZeroMQ socket, and outlive this.
    ControlServer(ControlHandler& handler, std::string control, std::string telemetry, const SecurityConfig& security,
                  std::shared_ptr<TelemetryLogSink> logs, std::vector<Surface*> surfaces, ControlTasks tasks);
    ~ControlServer();

private:
    void run(std::promise<void>& bound);
    void serve(Surface& zeromq, zmq::socket_t& pub);

    ControlHandler& handler_;
    const std::string control_, telemetry_;
    bool curve_ = false;
    std::string secret_key_;         // Z85, with curve_
    std::set<std::string> allowed_;  // Z85 public keys, with curve_
    std::shared_ptr<TelemetryLogSink> logs_;
    std::vector<Surface*> surfaces_;
    ControlTasks tasks_;
    std::atomic<bool> quit_{false};
    std::thread thread_;
};

}  // namespace wavecast
