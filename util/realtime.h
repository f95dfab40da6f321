// Realtime scheduling for the threads that keep a live stream's ring full. Where the ring holds
// only tens of milliseconds, a producer at normal priority waits behind whatever else the cores
// run, and the wait is heard as an underrun; at SCHED_FIFO just below JACK's callback it runs
// as soon as it is ready, and the callback still comes first.
#pragma once

#include <string>

namespace wavecast {

// Puts the calling thread in SCHED_FIFO at `priority` (1 to 99). Returns "" when it did, else
// why not (the system's refusal: EPERM without CAP_SYS_NICE or an RLIMIT_RTPRIO that allows it).
std::string make_this_thread_realtime(int priority);

// The priority a producer takes below a JACK callback that runs at `callback_priority`, or 0
// (normal scheduling) where the callback is not realtime: a realtime producer would then come
// before the callback itself.
int producer_priority(int callback_priority);

}  // namespace wavecast
