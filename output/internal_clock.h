// The clock the streams play by while no JACK server does: [jack] enabled = false (a headless
// station feeding only Icecast and recordings), before a server first answers, and while one is
// away. It runs each stream's output a period at a time, as JACK's process callback would (the
// ring drained, due MIDI taken, the recorder fed), at the output rate in real time; so that the
// producers, the recorders and the network outputs carry on exactly as with JACK. It must not run
// while a JACK client of the same streams is active.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "output/stream_output.h"

namespace wavecast {

class InternalClock {
public:
    InternalClock(std::vector<StreamOutput*> outputs, int rate, uint32_t period);
    ~InternalClock();  // stops it
    InternalClock(const InternalClock&) = delete;
    InternalClock& operator=(const InternalClock&) = delete;

    int rate() const { return rate_; }
    // Periods run so far (the systemd watchdog is fed while this advances).
    uint64_t cycles() const { return cycles_.load(std::memory_order_relaxed); }

private:
    void run();

    const std::vector<StreamOutput*> outputs_;
    const int rate_;
    const uint32_t period_;
    std::atomic<bool> running_{true};
    std::atomic<uint64_t> cycles_{0};
    std::thread thread_;
};

}  // namespace wavecast
