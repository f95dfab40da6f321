#include "tempo/transport_sync.h"

#include <spdlog/spdlog.h>

namespace wavecast {

void TransportSync::follow(const std::vector<BeatFollower*>& streams, double /*latency_s*/) {
    if (!enabled_.load()) return;
    const double bpm = bpm_();
    if (!(bpm >= 20.0 && bpm <= 300.0)) return;  // within the tempo parameter's range
    for (BeatFollower* s : streams)
        if (s->tempo() != bpm) {
            s->set_tempo(bpm);
            spdlog::info("stream '{}': tempo {} from JACK transport", s->name(), bpm);
        }
}

}  // namespace wavecast
