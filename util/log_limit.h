// At most one log line a period for an event a peer can repeat at will (a flood of datagrams
// from a stranger, a storm of MIDI clock Start and Stop): the first line goes out, the rest are
// held back and counted, and the next line that goes out says how many were. Not thread-safe:
// one per thread that logs.
#pragma once

#include <chrono>
#include <cstdint>

namespace wavecast {

class LogLimit {
public:
    using Clock = std::chrono::steady_clock;
    explicit LogLimit(Clock::duration period = std::chrono::seconds(5)) : period_(period) {}

    // True when a line may go out now; then `held` is how many were held back before it.
    bool allow(uint64_t& held, Clock::time_point now = Clock::now()) {
        if (logged_ && now - last_ < period_) {
            ++held_;
            return false;
        }
        held = held_;
        held_ = 0;
        last_ = now;
        logged_ = true;
        return true;
    }

private:
    Clock::duration period_;
    Clock::time_point last_{};
    bool logged_ = false;
    uint64_t held_ = 0;
};

}  // namespace wavecast
