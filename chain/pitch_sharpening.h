// LPCNet's sampling rule with the score's pitch: a lane's draws sharpen as its own output repeats
// at the period of the note it plays, so a held note settles into a clean tone while an attack,
// which does not repeat yet, keeps the stream's temperature; no switch at a fixed note age.
// The temperature divides by 1 + s max(0, 1.5 g - 0.5), g the lane's normalised correlation one
// period back over its latest output (at least 20 ms, two periods of a low note), the period
// that of the lowest pitch it sounds (a chord's lowest note is the longest period its partials
// share), s the strength (Param::pitch_sharpening; LPCNet's own rule is 1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/frame_features.h"

namespace wavecast {

class PitchSharpening {
public:
    // Output kept per lane: a window of two periods and one more period behind it, for notes down
    // to about 24 Hz at 16 kHz (E1, the bass's lowest, is 390 samples); lower notes score 0.
    static constexpr size_t kHistory = 2048;

    PitchSharpening(int lanes, int sample_rate) : rate_(sample_rate), history_(static_cast<size_t>(lanes) * kHistory, 0.0f) {}

    // A lane's newest output, in the network's own domain (before the de-emphasis).
    void push(int lane, const float* x, size_t n) {
        float* h = &history_[static_cast<size_t>(lane) * kHistory];
        if (n >= kHistory) {
            std::copy(x + n - kHistory, x + n, h);
            return;
        }
        std::move(h + n, h + kHistory, h);
        std::copy(x, x + n, h + kHistory - n);
    }

    // The correlation g in [0, 1] of the lane's latest output with itself one period of the
    // lowest pitch the frame sounds; 0 where it sounds none.
    double correlation(int lane, const float* frame) const {
        int pitch = -1;
        for (int p = 0; p < kPitches && pitch < 0; ++p)
            if (frame[kVelocityOffset + p] > 0.0f) pitch = p;
        if (pitch < 0) return 0.0;
        const double period = rate_ / (440.0 * std::pow(2.0, (pitch - 69) / 12.0));
        const size_t window = std::max<size_t>(static_cast<size_t>(0.02 * rate_), static_cast<size_t>(2 * period));
        if (period < 2 || window + static_cast<size_t>(period) + 2 > kHistory) return 0.0;
        const float* h = &history_[static_cast<size_t>(lane) * kHistory];
        const size_t whole = static_cast<size_t>(period);
        const double frac = period - static_cast<double>(whole);
        double xy = 0, xx = 0, yy = 0;
        for (size_t i = kHistory - window; i < kHistory; ++i) {
            const double x = h[i], y = (1.0 - frac) * h[i - whole] + frac * h[i - whole - 1];
            xy += x * y, xx += x * x, yy += y * y;
        }
        return xx > 1e-12 && yy > 1e-12 ? std::clamp(xy / std::sqrt(xx * yy), 0.0, 1.0) : 0.0;
    }

    // What the lane's temperature divides by this frame.
    double sharpening(int lane, const float* frame, double strength) const {
        if (strength <= 0.0) return 1.0;
        return 1.0 + strength * std::max(0.0, 1.5 * correlation(lane, frame) - 0.5);
    }

private:
    double rate_;
    std::vector<float> history_;  // [lanes][kHistory], the newest last
};

}  // namespace wavecast
