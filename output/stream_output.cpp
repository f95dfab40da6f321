#include "output/stream_output.h"

#include <chrono>

namespace wavecast {

StreamOutput::StreamOutput(std::string name, size_t ring_floats) : name_(std::move(name)), ring_(ring_floats) {}

StreamOutput::Clock StreamOutput::clock() const {
    for (;;) {
        const uint32_t seq = clock_seq_.load(std::memory_order_acquire);
        if (seq & 1) continue;
        const Clock c{clock_played_.load(std::memory_order_relaxed), clock_ns_.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (clock_seq_.load(std::memory_order_relaxed) == seq) return c;
    }
}

void StreamOutput::process(float* left, float* right, uint32_t frames) {
    // clock_gettime through the vDSO: no system call, no lock.
    const int64_t now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const uint32_t seq = clock_seq_.load(std::memory_order_relaxed);
    clock_seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    clock_played_.store(played_, std::memory_order_relaxed);
    clock_ns_.store(now_ns, std::memory_order_relaxed);
    clock_seq_.store(seq + 2, std::memory_order_release);
    const size_t want = std::min<size_t>(frames, sizeof scratch_ / sizeof scratch_[0] / 2);
    const size_t got = ring_.read(scratch_, 2 * want) / 2;
    played_ += got;
    played_shared_.store(played_, std::memory_order_relaxed);
    for (size_t i = 0; i < got; ++i) {
        left[i] = scratch_[2 * i];
        right[i] = scratch_[2 * i + 1];
    }
    if (got < frames) {
        for (size_t i = got; i < frames; ++i) left[i] = right[i] = 0.0f;
        underruns_.fetch_add(1, std::memory_order_relaxed);
        underrun_frames_.fetch_add(frames - got, std::memory_order_relaxed);
        // A gap runs on from the previous period when that one ended short too.
        gap_ = (got == 0 ? gap_ : 0) + (frames - got);
        if (gap_ > longest_gap_.load(std::memory_order_relaxed)) longest_gap_.store(gap_, std::memory_order_relaxed);
    } else {
        gap_ = 0;
    }
    recorder_.push(left, right, frames);
}

}  // namespace wavecast
