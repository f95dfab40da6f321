// How close a backend's output distributions must be to the CPU reference's. Reordered or fused
// float32 sums move a logit by a few units in the last place, which moves log p by as much
// whatever p is: on 2026-12-04 an H200 gave relative differences of 1.0e-5 to 1.5e-5 on
// probabilities from 1e-10 to 8e-4, with the reference's own order of additions, and |log p|
// differences of at most 3.8e-5 over every shape and precision of the generator's tests (300
// lanes of 30 layers the worst). So the bound is on log p: 1e-4, and orders of magnitude under
// what a wrong weight, index or lane does.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

namespace wavecast::test {

inline constexpr double kMaxLogProbError = 1e-4;

// |log got - log want|; both under float's smallest normal count as equal (the tail of a
// softmax underflows differently on either side, and nothing samples it).
inline double log_prob_error(float got, float want) {
    const double tiny = std::numeric_limits<float>::min();
    if (got < tiny && want < tiny) return 0.0;
    return std::abs(std::log(std::max<double>(got, tiny)) - std::log(std::max<double>(want, tiny)));
}

}  // namespace wavecast::test
