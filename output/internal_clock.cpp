#include "output/internal_clock.h"

#include <chrono>

namespace wavecast {

InternalClock::InternalClock(std::vector<StreamOutput*> outputs, int rate, uint32_t period)
    : outputs_(std::move(outputs)), rate_(rate), period_(period) {
    thread_ = std::thread([this] { run(); });
}

InternalClock::~InternalClock() {
    running_ = false;
    thread_.join();
}

void InternalClock::run() {
    std::vector<float> left(period_), right(period_);
    // Periods are due on an absolute schedule, so that sleeping late never makes the clock slow;
    // after a stall of more than a second it starts afresh rather than racing to catch up.
    const auto step =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(double(period_) / rate_));
    auto due = std::chrono::steady_clock::now();
    while (running_.load()) {
        for (StreamOutput* out : outputs_) {
            out->take_midi(period_, [](uint32_t, const uint8_t*, uint8_t) {});
            out->process(left.data(), right.data(), period_);
        }
        cycles_.fetch_add(1, std::memory_order_relaxed);
        due += step;
        const auto now = std::chrono::steady_clock::now();
        if (now - due > std::chrono::seconds(1)) due = now;
        std::this_thread::sleep_until(due);
    }
}

}  // namespace wavecast
