// Realtime producers: just below JACK's callback, never above it, and a refusal that says why and
// leaves the thread as it was.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <thread>

#include "util/realtime.h"

using namespace wavecast;

TEST(Realtime, ProducersRunJustBelowJacksCallback) {
    EXPECT_EQ(producer_priority(5), 4);  // jackd's clients at its default -P 10
    EXPECT_EQ(producer_priority(80), 79);
    EXPECT_EQ(producer_priority(1), 0) << "nothing realtime is below 1: normal priority";
    EXPECT_EQ(producer_priority(0), 0) << "a callback at normal priority: a realtime producer would come first";
}

TEST(Realtime, AThreadIsMadeRealtimeOrToldWhyNot) {
    std::string why;
    int policy = -1;
    sched_param param{};
    std::thread t([&] {
        why = make_this_thread_realtime(2);
        pthread_getschedparam(pthread_self(), &policy, &param);
    });
    t.join();
    if (why.empty()) {
        EXPECT_EQ(policy, SCHED_FIFO);
        EXPECT_EQ(param.sched_priority, 2);
    } else {
        EXPECT_EQ(policy, SCHED_OTHER) << "refused: " << why;
        std::printf("realtime refused here: %s\n", why.c_str());
    }
}
