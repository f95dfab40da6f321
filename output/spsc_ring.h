// A lock-free single-producer single-consumer ring of T. Capacity is rounded up to a power of
// two. The producer only moves head_, the consumer only tail_; each publishes with release and
// reads the other's index with acquire, so neither ever waits or locks: the JACK callback may
// call the consumer side.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

namespace wavecast {

template <typename T>
class SpscRing {
public:
    explicit SpscRing(size_t min_capacity) {
        size_t cap = 1;
        while (cap < min_capacity) cap <<= 1;
        buf_.assign(cap, T{});
        mask_ = cap - 1;
    }

    size_t capacity() const { return buf_.size(); }
    size_t size() const { return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire); }

    // Producer: writes up to n items, returns how many fitted.
    size_t write(const T* src, size_t n) {
        const size_t head = head_.load(std::memory_order_relaxed);
        const size_t free = capacity() - (head - tail_.load(std::memory_order_acquire));
        n = std::min(n, free);
        for (size_t i = 0; i < n; ++i) buf_[(head + i) & mask_] = src[i];
        head_.store(head + n, std::memory_order_release);
        return n;
    }

    // Consumer: reads up to n items, returns how many there were.
    size_t read(T* dst, size_t n) {
        const size_t tail = tail_.load(std::memory_order_relaxed);
        const size_t avail = head_.load(std::memory_order_acquire) - tail;
        n = std::min(n, avail);
        for (size_t i = 0; i < n; ++i) dst[i] = buf_[(tail + i) & mask_];
        tail_.store(tail + n, std::memory_order_release);
        return n;
    }

    // Consumer: the oldest item without taking it; false when empty.
    bool peek(T& out) const {
        const size_t tail = tail_.load(std::memory_order_relaxed);
        if (head_.load(std::memory_order_acquire) == tail) return false;
        out = buf_[tail & mask_];
        return true;
    }
    // Consumer: takes the oldest item (after a successful peek).
    void drop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

private:
    std::vector<T> buf_;
    size_t mask_ = 0;
    alignas(64) std::atomic<size_t> head_{0};
    alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace wavecast
