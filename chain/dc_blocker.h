// Nothing below the music reaches the mix. The network's samples carry an offset of their own (the
// default stream's left channel measured +0.080 mean, -22 dBFS of DC, on 2026-12-07): it would
// reach the limiter, the loudness measurement and the listener's speakers. A second-order
// Butterworth high-pass per lane with its corner at kDcCornerHz takes it away, and with it the
// slow swell under a beat's kicks (2 Hz at 128 bpm: -27 dB), while the lowest note a bass plays
// (E1, 41 Hz) loses 0.015 dB. A one-pole high-pass at the same corner, the first thought, left the
// beat's swell 14 dB down and cost that E1 0.3 dB (benchmarks/RESULTS.md, "DC"). It runs on what
// every backend's generator gives, so the CPU and CUDA streams are filtered alike, after the
// de-emphasis and before the silence gate, whose zeros stay exact. (After the gate it measured
// the same and rang on past the gate's silences.)
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace wavecast {

inline constexpr double kDcCornerHz = 10.0;

class DcBlocker {
public:
    DcBlocker(int lanes, int sample_rate) : state_(static_cast<size_t>(lanes)) {
        // The high-pass of the Audio EQ Cookbook (R. Bristow-Johnson), Q = 1/sqrt(2).
        const double w0 = 2.0 * M_PI * kDcCornerHz / sample_rate, alpha = std::sin(w0) / std::sqrt(2.0), c = std::cos(w0);
        const double a0 = 1.0 + alpha;
        b0_ = (1.0 + c) / 2.0 / a0, b1_ = -(1.0 + c) / a0, b2_ = b0_;
        a1_ = -2.0 * c / a0, a2_ = (1.0 - alpha) / a0;
    }

    // Filters n samples of every lane in place, audio [lanes][n], each lane going on from its state.
    void apply(size_t n, float* audio) {
        for (size_t b = 0; b < state_.size(); ++b) {
            State s = state_[b];
            float* x = audio + b * n;
            for (size_t i = 0; i < n; ++i) {
                const double y = b0_ * x[i] + b1_ * s.x1 + b2_ * s.x2 - a1_ * s.y1 - a2_ * s.y2;
                s.x2 = s.x1, s.x1 = x[i];
                s.y2 = s.y1, s.y1 = y;
                x[i] = static_cast<float>(y);
            }
            state_[b] = s;
        }
    }

private:
    // Direct form I in double: poles this close to 1 (0.9972 at 16 kHz) keep no float rounding of
    // their own over a day's run.
    struct State {
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    };
    double b0_, b1_, b2_, a1_, a2_;
    std::vector<State> state_;
};

}  // namespace wavecast
