// util/seqlock.h: a reader never sees a value mixed from two writes, however hard the writer runs.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "util/seqlock.h"

namespace {

// Every field the same number: a torn read shows as two different ones.
struct Wide {
    uint64_t a[13];
    double d;
    int i;
};

}  // namespace

TEST(Seqlock, ReadersNeverSeeATornValueWhileOneWriterRuns) {
    wavecast::Seqlock<Wide> lock;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        Wide w{};
        for (uint64_t n = 1; n <= 2'000'000; ++n) {
            for (auto& x : w.a) x = n;
            w.d = static_cast<double>(n), w.i = static_cast<int>(n);
            lock.store(w);
        }
        done = true;
    });
    std::vector<std::thread> readers;
    std::atomic<int> torn{0}, backwards{0};
    std::atomic<uint64_t> reads{0};
    for (int r = 0; r < 2; ++r)
        readers.emplace_back([&] {
            uint64_t last = 0;
            while (!done.load()) {
                const Wide w = lock.load();
                bool same = w.d == static_cast<double>(w.a[0]) && w.i == static_cast<int>(w.a[0]);
                for (uint64_t x : w.a) same = same && x == w.a[0];
                torn += !same;
                backwards += w.a[0] < last;
                last = w.a[0];
                ++reads;
            }
        });
    writer.join();
    for (auto& t : readers) t.join();
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(backwards.load(), 0) << "a reader saw an older value after a newer one";
    EXPECT_GT(reads.load(), 100u);
    EXPECT_EQ(lock.load().a[12], 2'000'000u);
}
