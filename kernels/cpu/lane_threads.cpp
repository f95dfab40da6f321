#include "kernels/cpu/lane_threads.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

namespace wavecast {

int usable_cores() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
}

int lane_groups(int lanes, int threads) { return std::max(1, std::min(lanes, threads > 0 ? threads : usable_cores())); }

LaneThreads::LaneThreads(int groups) : groups_(groups < 1 ? 1 : groups) {
    for (int g = 1; g < groups_; ++g) workers_.emplace_back([this, g] { work(g); });
}

LaneThreads::~LaneThreads() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    start_.notify_all();
    for (auto& w : workers_) w.join();
}

void LaneThreads::run(const std::function<void(int)>& job) {
    if (groups_ == 1) return job(0);
    Scheduling caller;
    pthread_getschedparam(pthread_self(), &caller.policy, &caller.param);
    {
        std::lock_guard lock(mu_);
        caller_ = caller;
        job_ = &job;
        pending_ = groups_ - 1;
        ++round_;
    }
    start_.notify_all();
    job(0);
    std::unique_lock lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
}

void LaneThreads::work(int group) {
    unsigned long seen = 0;
    Scheduling mine;
    pthread_getschedparam(pthread_self(), &mine.policy, &mine.param);
    for (;;) {
        const std::function<void(int)>* job;
        Scheduling caller;
        {
            std::unique_lock lock(mu_);
            start_.wait(lock, [&] { return stop_ || round_ != seen; });
            if (stop_) return;
            seen = round_;
            job = job_;
            caller = caller_;
        }
        // A group is part of its caller's work: a realtime producer's groups run realtime too,
        // else the producer waits on a worker that waits behind everything else.
        if (caller.policy != mine.policy || caller.param.sched_priority != mine.param.sched_priority)
            if (pthread_setschedparam(pthread_self(), caller.policy, &caller.param) == 0) mine = caller;
        (*job)(group);
        std::lock_guard lock(mu_);
        if (--pending_ == 0) done_.notify_one();
    }
}

}  // namespace wavecast
