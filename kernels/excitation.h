// The excitation: a pure-tone rendition of the notes a lane's frame says are sounding, given to
// the network every sample (in the manner of neural source-filter models). Frame-rate
// conditioning alone tells the network which pitch to play but leaves it to find the period by
// itself, which a small WaveNet learns slowly and loses when it runs free; with the period in its
// input it only has to shape it into the instrument.
//
// For the sample at absolute index n (the generator's position, the Philox index) in frame k, with
// the frame's velocities v_p (notes-v1, frame_features.h) and f_p = 440 * 2^((p - 69) / 12) Hz:
//   e[2h]     = sum_p v_p sin(2 pi frac(n (h + 1) f_p / rate))
//   e[2h + 1] = sum_p v_p cos(2 pi frac(n (h + 1) f_p / rate))        h = 0 .. harmonics - 1
// summed in pitch order, leaving out harmonics at or above half the rate. The phase is a function
// of n alone, so the excitation needs no state and is continuous across calls; the cycle count is
// taken in double (within 2^-15 of a cycle after a year at 16 kHz), the rest in float. The CPU
// reference, the CUDA kernel and training/wavenet.py compute exactly this.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "frame_features.h"
#include "host_device.h"

namespace wavecast {

inline constexpr int kMaxExcitationHarmonics = 8;

// [harmonics][kPitches] cycles per sample, (h + 1) f_p / rate; 0 where that is half the rate or
// more (the harmonic is left out).
inline std::vector<double> excitation_increments(int harmonics, int sample_rate) {
    std::vector<double> inc(static_cast<size_t>(harmonics) * kPitches, 0.0);
    for (int h = 0; h < harmonics; ++h)
        for (int p = 0; p < kPitches; ++p) {
            const double c = (h + 1) * (440.0 * std::pow(2.0, (p - 69) / 12.0)) / sample_rate;
            inc[static_cast<size_t>(h) * kPitches + p] = c < 0.5 ? c : 0.0;
        }
    return inc;
}

// The pitches one lane's frame features say are sounding, in pitch order, with their velocities;
// returns how many.
WC_HOST_DEVICE inline int sounding_pitches(const float* features, int* pitch, float* velocity) {
    int n = 0;
    for (int p = 0; p < kPitches; ++p)
        if (features[kVelocityOffset + p] > 0.0f) {
            pitch[n] = p;
            velocity[n++] = features[kVelocityOffset + p];
        }
    return n;
}

// One channel of e (see above): channel 2h is harmonic h's sine, 2h + 1 its cosine.
WC_HOST_DEVICE inline float excitation_channel(uint64_t n, const double* increments, int channel, const int* pitch,
                                               const float* velocity, int count) {
    const double* inc = increments + (channel >> 1) * kPitches;
    float sum = 0.0f;
    for (int j = 0; j < count; ++j) {
        const double step = inc[pitch[j]];
        if (step == 0.0) continue;
        const double cycles = static_cast<double>(n) * step;
        const float phase = 6.28318530717958648f * static_cast<float>(cycles - floor(cycles));
        sum += velocity[j] * ((channel & 1) ? cosf(phase) : sinf(phase));
    }
    return sum;
}

}  // namespace wavecast
