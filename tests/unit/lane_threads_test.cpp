// The CPU generator's lane threads: every group once a run, and each at its caller's scheduling,
// so a realtime producer is not held up by a worker left at normal priority.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels/cpu/lane_threads.h"

using namespace wavecast;

namespace {

struct Seen {
    int policy = -1, priority = -1;
};

Seen scheduling() {
    Seen s;
    sched_param p{};
    pthread_getschedparam(pthread_self(), &s.policy, &p);
    s.priority = p.sched_priority;
    return s;
}

}  // namespace

TEST(LaneThreads, RunsEveryGroupOnceARun) {
    LaneThreads threads(3);
    std::vector<std::atomic<int>> calls(3);
    for (int round = 0; round < 50; ++round) threads.run([&](int g) { calls[static_cast<size_t>(g)].fetch_add(1); });
    for (const auto& c : calls) EXPECT_EQ(c.load(), 50);
}

TEST(LaneThreads, WorkersTakeTheCallersScheduling) {
    LaneThreads threads(2);  // its worker made here, at normal priority
    std::vector<Seen> seen(2);
    bool refused = false;
    std::string why;
    std::thread caller([&] {
        sched_param p{};
        p.sched_priority = 3;
        if (const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p); err != 0) {
            refused = true;
            why = std::strerror(err);
            return;
        }
        threads.run([&](int g) { seen[static_cast<size_t>(g)] = scheduling(); });
    });
    caller.join();
    if (refused) GTEST_SKIP() << "this machine refuses SCHED_FIFO (" << why << "): nothing to hand on";
    EXPECT_EQ(seen[1].policy, SCHED_FIFO);
    EXPECT_EQ(seen[1].priority, 3);
    // And back to normal when the caller is.
    threads.run([&](int g) { seen[static_cast<size_t>(g)] = scheduling(); });
    EXPECT_EQ(seen[1].policy, SCHED_OTHER);
    EXPECT_EQ(seen[1].policy, seen[0].policy);
}
