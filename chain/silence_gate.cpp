#include "chain/silence_gate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/frame_features.h"

namespace wavecast {

SilenceGate::SilenceGate(int lanes, int sample_rate, int frame_hop)
    : hop_(frame_hop),
      sample_rate_(sample_rate),
      fade_step_(1.0f / static_cast<float>(std::max(1.0, kGateFadeSeconds * sample_rate))),
      lanes_(static_cast<size_t>(lanes)) {}

void SilenceGate::set_release(const std::vector<float>& release_s) {
    if (release_s.size() != lanes_.size()) throw std::invalid_argument("silence gate: one release a lane");
    for (size_t b = 0; b < lanes_.size(); ++b) {
        Lane& l = lanes_[b];
        const bool never_sounded = l.quiet >= l.release && l.gain == 0.0f;
        l.release = static_cast<int64_t>(std::ceil(std::max(0.0f, release_s[b]) * sample_rate_));
        if (never_sounded) l.quiet = l.release;  // stays closed, whatever the new release
    }
}

void SilenceGate::apply(const float* features, int frames, float* audio) {
    const size_t lanes = lanes_.size(), n = static_cast<size_t>(frames) * hop_;
    for (size_t b = 0; b < lanes; ++b) {
        Lane& l = lanes_[b];
        float* x = audio + b * n;
        for (int f = 0; f < frames; ++f) {
            float* y = x + static_cast<size_t>(f) * hop_;
            if (features[(static_cast<size_t>(f) * lanes + b) * kFrameFeatures + kActiveOffset] > 0.0f) {
                l.quiet = 0;
                l.gain = 1.0f;
                continue;
            }
            for (int i = 0; i < hop_; ++i) {
                if (l.quiet < l.release) ++l.quiet;
                else l.gain = std::max(0.0f, l.gain - fade_step_);
                y[i] = l.gain > 0.0f ? y[i] * l.gain : 0.0f;
            }
        }
    }
}

}  // namespace wavecast
