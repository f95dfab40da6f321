// What a test build of the daemon wraps around each stream's stages to make them fail, stall or
// click on purpose (tests/support/faults.h), so that the recovery paths run where nothing goes
// wrong by itself. The daemon itself passes none and carries none of that code.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kernels/generator.h"
#include "kernels/masking.h"

namespace wavecast {

struct StageHooks {
    std::function<std::unique_ptr<Generator>(std::unique_ptr<Generator>)> generator;
    std::function<std::unique_ptr<Masking>(std::unique_ptr<Masking>, int sample_rate)> masking;
    std::string note;  // what they inject, logged at the start
};

}  // namespace wavecast
