// 8-bit mu-law companding (ITU-T G.711's continuous form, mu = 255), the audio classes of the
// categorical output: class 0 is -1.0, class A-1 is +1.0.
#pragma once

#include <algorithm>
#include <cmath>

#include "kernels/philox.h"

namespace wavecast {

WC_HOST_DEVICE inline float mulaw_decode(int cls, int classes) {
    const float mu = static_cast<float>(classes - 1);
    const float y = 2.0f * static_cast<float>(cls) / mu - 1.0f;
    const float mag = (powf(1.0f + mu, fabsf(y)) - 1.0f) / mu;
    return y < 0.0f ? -mag : mag;
}

inline int mulaw_encode(float x, int classes) {
    const float mu = static_cast<float>(classes - 1);
    x = std::clamp(x, -1.0f, 1.0f);
    const float y = std::copysign(std::log1p(mu * std::fabs(x)) / std::log1p(mu), x);
    return std::clamp(static_cast<int>(std::lround((y + 1.0f) * 0.5f * mu)), 0, classes - 1);
}

}  // namespace wavecast
