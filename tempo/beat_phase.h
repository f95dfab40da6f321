// Keeping a stream's beat in phase with an outside one (Ableton Link's session, a MIDI clock):
// the error within a quantum, and the tempo factor that pulls it in. One rule for every source, so
// they pull alike.
#pragma once

#include <chrono>
#include <vector>

#include "tempo/tempo_source.h"

namespace wavecast {

struct PhaseReading {
    double error_beats = 0;  // theirs less ours, in (-q/2, q/2]
    double nudge = 1;        // the tempo factor set
};

// Their beat `theirs` at `at` against the beat each stream plays then (`extra_s` later: the
// output latency they are compared after); sets each stream's tempo nudge and returns the first's.
PhaseReading pull_into_phase(const std::vector<BeatFollower*>& streams, double theirs, std::chrono::steady_clock::time_point at,
                             double extra_s, double quantum);

// Back to the tempo as set: the outside beat is gone or stopped.
void release_phase(const std::vector<BeatFollower*>& streams);

}  // namespace wavecast
