#include "tempo/beat_phase.h"

#include <algorithm>
#include <cmath>

namespace wavecast {
namespace {

// How hard the phase is pulled: 0.5 % faster or slower per hundredth of a beat of error, at
// most 5 %. The nudge is heard a look-ahead later, so the gain stays well inside what that delay
// allows (gain x beats per second x look-ahead << 1). Within the dead band (1.5 ms at 120 bpm)
// the tempo is left alone.
constexpr double kGainPerBeat = 0.5, kMaxNudge = 0.05, kDeadBandBeats = 0.003;

}  // namespace

PhaseReading pull_into_phase(const std::vector<BeatFollower*>& streams, double theirs, std::chrono::steady_clock::time_point at,
                             double extra_s, double quantum) {
    PhaseReading first;
    const double their_phase = std::fmod(std::fmod(theirs, quantum) + quantum, quantum);
    for (size_t i = 0; i < streams.size(); ++i) {
        const double ours = std::fmod(std::fmod(streams[i]->playing_beat(at, extra_s), quantum) + quantum, quantum);
        double err = their_phase - ours;
        if (err > quantum / 2) err -= quantum;
        if (err <= -quantum / 2) err += quantum;
        const double nudge = std::abs(err) < kDeadBandBeats ? 1.0 : 1.0 + std::clamp(kGainPerBeat * err, -kMaxNudge, kMaxNudge);
        streams[i]->set_tempo_nudge(nudge);
        if (i == 0) first = {err, nudge};
    }
    return first;
}

void release_phase(const std::vector<BeatFollower*>& streams) {
    for (const auto& s : streams) s->set_tempo_nudge(1.0);
}

}  // namespace wavecast
