#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "output/spsc_ring.h"

using wavecast::SpscRing;

TEST(SpscRing, RoundsCapacityUpAndReportsPartialWritesAndReads) {
    SpscRing<int> r(5);
    EXPECT_EQ(r.capacity(), 8u);
    int in[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, out[10] = {};
    EXPECT_EQ(r.write(in, 10), 8u);
    EXPECT_EQ(r.size(), 8u);
    EXPECT_EQ(r.read(out, 3), 3u);
    EXPECT_EQ(out[2], 2);
    EXPECT_EQ(r.write(in, 10), 3u);  // wraps around
    EXPECT_EQ(r.read(out, 10), 8u);
    EXPECT_EQ(out[0], 3);
    EXPECT_EQ(out[4], 7);
    EXPECT_EQ(out[5], 0);
    EXPECT_EQ(r.read(out, 1), 0u);
}

// A producer and a consumer on two threads, random chunk sizes: every value arrives once, in order.
TEST(SpscRing, PreservesOrderUnderConcurrentProducerAndConsumer) {
    SpscRing<uint32_t> r(1000);
    constexpr uint32_t kTotal = 4'000'000;
    std::thread producer([&] {
        std::mt19937 rng(1);
        std::vector<uint32_t> chunk(300);
        uint32_t next = 0;
        while (next < kTotal) {
            const uint32_t n = std::min<uint32_t>(1 + rng() % 300, kTotal - next);
            for (uint32_t i = 0; i < n; ++i) chunk[i] = next + i;
            size_t done = 0;
            while (done < n) done += r.write(chunk.data() + done, n - done);
            next += n;
        }
    });
    std::mt19937 rng(2);
    std::vector<uint32_t> chunk(300);
    uint32_t expect = 0;
    bool ordered = true;
    while (expect < kTotal) {
        const size_t got = r.read(chunk.data(), 1 + rng() % 300);
        for (size_t i = 0; i < got; ++i) ordered &= chunk[i] == expect++;
    }
    producer.join();
    EXPECT_TRUE(ordered);
    EXPECT_EQ(r.size(), 0u);
}
