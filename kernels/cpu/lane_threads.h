// Threads for the CPU generator's lane groups: lanes are independent, so a generate call splits
// them into groups that advance the whole chunk each on their own thread, one hand-off per call
// (a hand-off per sample would cost more than the sample). The workers stay up between calls and
// sleep on a condition variable while idle, leaving the cores to JACK and the rest of the daemon.
#pragma once

#include <sched.h>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wavecast {

// The cores this process may run on (its affinity mask, which containers and taskset narrow),
// at least 1.
int usable_cores();

// How many lane groups (threads) a CPU generator of `lanes` lanes runs for a `threads` request
// (<= 0: one per usable core): never more than the lanes.
int lane_groups(int lanes, int threads);

class LaneThreads {
public:
    // `groups` jobs per run(): group 0 on the caller's thread, the rest on groups - 1 workers.
    explicit LaneThreads(int groups);
    ~LaneThreads();
    LaneThreads(const LaneThreads&) = delete;
    LaneThreads& operator=(const LaneThreads&) = delete;

    int groups() const { return groups_; }

    // Calls job(g) for every group g, concurrently, and returns when all have returned. The job
    // must not throw. The workers run it at the caller's scheduling policy and priority.
    void run(const std::function<void(int)>& job);

private:
    void work(int group);

    const int groups_;
    std::mutex mu_;
    std::condition_variable start_, done_;
    struct Scheduling {
        int policy = SCHED_OTHER;
        sched_param param{};
    };
    Scheduling caller_;  // the thread in run() now
    const std::function<void(int)>* job_ = nullptr;
    unsigned long round_ = 0;  // bumped by each run(); a worker runs each round once
    int pending_ = 0;          // workers still in this round's job
    bool stop_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace wavecast
