#include "util/realtime.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>

namespace wavecast {

std::string make_this_thread_realtime(int priority) {
    sched_param param{};
    param.sched_priority = std::clamp(priority, 1, 99);
    const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
    return err == 0 ? std::string() : std::string(std::strerror(err));
}

int producer_priority(int callback_priority) { return callback_priority > 1 ? callback_priority - 1 : 0; }

}  // namespace wavecast
