// The file work of requests (ControlHandler::Handled::work), done on a thread of its own in the
// order the requests came, so that a slow disk stalls neither the replies to others nor telemetry.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace wavecast {

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

}  // namespace wavecast
