// Faults injected on purpose, for tests only: the recovery paths of the daemon (underruns,
// falling back to the CPU generator) must be exercised on machines where nothing goes wrong by
// itself. They are built into wavecastd-faults (wavecastd with these stage hooks, for the
// integration tests), never into wavecastd. Read once from $WAVECAST_TEST_FAULTS, a
// comma-separated list of key=value:
//   slow_producer=F            the producer takes F times as long as the audio it renders
//   generator_fails_after_s=T  the generator throws once it has rendered T seconds
//   masking_fails_after_s=T    the masking stage throws once it has processed T seconds, and
//                              calls itself "cuda" until then, as a CUDA stage with a sticky
//                              error would
//   onset_clicks=1             the network is replaced by a click at the start of each frame
//                              in which a lane's note starts, so tests can find the audio's
//                              onsets and hold MIDI out against them
// Unset, nothing is injected and nothing here costs anything.
#pragma once

#include <memory>
#include <string>

#include "daemon/stage_hooks.h"
#include "kernels/generator.h"
#include "kernels/masking.h"

namespace wavecast {

struct Faults {
    double slow_producer = 0;             // 0: off
    double generator_fails_after_s = -1;  // < 0: off
    double masking_fails_after_s = -1;    // < 0: off
    bool onset_clicks = false;

    // Throws std::runtime_error naming the variable and the bad entry.
    static Faults from_env();
    bool any() const { return slow_producer > 0 || generator_fails_after_s >= 0 || masking_fails_after_s >= 0 || onset_clicks; }
    std::string describe() const;
};

// The hooks wavecastd-faults runs the daemon with: the faults of $WAVECAST_TEST_FAULTS.
StageHooks hooks_from_env();

// Wraps a generator so that each generate() takes `factor` times the audio it renders.
std::unique_ptr<Generator> slow_generator(std::unique_ptr<Generator> inner, double factor);

// Wraps a generator so that generate() throws once `after_s` seconds have been rendered, as a
// lost device would.
std::unique_ptr<Generator> failing_generator(std::unique_ptr<Generator> inner, double after_s);

// Wraps a masking stage so that process() throws once `after_s` seconds at `sample_rate` have
// gone through, as a CUDA stage does after a sticky error.
std::unique_ptr<Masking> failing_masking(std::unique_ptr<Masking> inner, int sample_rate, double after_s);

// Takes the spec and lanes of `inner` but generates clicks where notes start (see above).
std::unique_ptr<Generator> onset_click_generator(std::unique_ptr<Generator> inner);

}  // namespace wavecast
