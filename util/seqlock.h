// A value one thread publishes and any number read, without a lock: the writer never waits (a
// realtime producer must not wait on a status reader at normal priority, which is a priority
// inversion), and a reader that overlaps a write tries again. For values written far more often
// than they are read, or both often, and small enough to copy in a moment.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>

namespace wavecast {

template <class T>
class Seqlock {
    static_assert(std::is_trivially_copyable_v<T>, "a seqlock copies its value word by word");

public:
    // The one writer.
    void store(const T& value) {
        std::array<uint64_t, kWords> w{};
        std::memcpy(w.data(), &value, sizeof(T));
        const uint64_t s = seq_.load(std::memory_order_relaxed);
        seq_.store(s + 1, std::memory_order_relaxed);  // odd: a write in progress
        std::atomic_thread_fence(std::memory_order_release);
        for (size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
        seq_.store(s + 2, std::memory_order_release);
    }

    // Any thread: a value as one store() left it, never a mix of two.
    T load() const {
        std::array<uint64_t, kWords> w{};
        for (;;) {
            const uint64_t s = seq_.load(std::memory_order_acquire);
            if (s & 1) {
                std::this_thread::yield();
                continue;
            }
            for (size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (seq_.load(std::memory_order_relaxed) == s) break;
        }
        T value;
        std::memcpy(static_cast<void*>(&value), w.data(), sizeof(T));  // trivially copyable, as asserted
        return value;
    }

private:
    static constexpr size_t kWords = (sizeof(T) + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    std::atomic<uint64_t> seq_{0};
    std::array<std::atomic<uint64_t>, kWords> words_{};
};

}  // namespace wavecast
