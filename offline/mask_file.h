// `wavecastd mask IN OUT --strength DB`: the masking stage applied to a file (any rate, mono or
// stereo); the output has the input's length, rate, channels and sample format.
#pragma once

#include <string>

namespace wavecast {

// Throws std::runtime_error naming the file and the reason; prints a summary line on success.
void mask_file(const std::string& in, const std::string& out, float strength_db, const std::string& backend = "cpu");

}  // namespace wavecast
