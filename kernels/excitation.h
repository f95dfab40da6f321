// The excitation: a pure-tone rendition of the notes a lane's frame says are sounding, given to
// the network every sample (in the manner of neural source-filter models). Frame-rate
// conditioning alone tells the network which pitch to play but leaves it to find the period by
// itself, which a small WaveNet learns slowly and loses when it runs free; with the period in its
// input, in a fixed phase to the note's start, it only has to shape it into the instrument. It
// enters twice: added to the residual input beside the previous sample's embedding (so that the
// dilated convolutions see its history as they see the audio's), and into every layer's gate.
//
// A note of pitch p starts on the first sample of a frame in which p sounds (velocity v_p > 0)
// and either has its onset flag or did not sound in the frame before (or that is the generator's
// first frame); training renders every note so that its sound starts exactly there
// (training/dataset.py). For the sample at index n (the generator's position) in frame k:
//   e[2h]     = sum_p v_p sin(2 pi frac((n - s_p) (h + 1) f_p / rate))
//   e[2h + 1] = sum_p v_p cos(2 pi frac((n - s_p) (h + 1) f_p / rate))   h = 0 .. harmonics - 1
// over the pitches sounding in frame k in pitch order, s_p the first sample of the frame its note
// started in, f_p = 440 * 2^((p - 69) / 12) Hz, leaving out harmonics at or above half the rate.
// The cycle count is taken in double, the rest in float. The CPU reference, the CUDA kernel and
// training/wavenet.py compute exactly this.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/frame_features.h"
#include "kernels/host_device.h"

namespace wavecast {

inline constexpr int kMaxExcitationHarmonics = 8;
// A pitch's start while it is silent.
inline constexpr uint64_t kSilent = ~0ull;

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

// One lane's notes for the frame starting at sample `frame_start`, from its notes-v1 features:
// updates `started` ([kPitches], the start of each pitch's note, kSilent while silent; all
// kSilent before the first frame) and lists the sounding pitches in pitch order with their
// velocities and starts; returns how many.
WC_HOST_DEVICE inline int frame_notes(const float* features, uint64_t frame_start, uint64_t* started, int* pitch, float* velocity,
                                      uint64_t* start) {
    int n = 0;
    for (int p = 0; p < kPitches; ++p) {
        const float v = features[kVelocityOffset + p];
        if (!(v > 0.0f)) {
            started[p] = kSilent;
            continue;
        }
        if (features[kOnsetOffset + p] > 0.0f || started[p] == kSilent) started[p] = frame_start;
        pitch[n] = p;
        velocity[n] = v;
        start[n++] = started[p];
    }
    return n;
}

// One channel of e at sample n (see above): channel 2h is harmonic h's sine, 2h + 1 its cosine.
WC_HOST_DEVICE inline float excitation_channel(uint64_t n, const double* increments, int channel, const int* pitch, const float* velocity,
                                               const uint64_t* start, int count) {
    const double* inc = increments + (channel >> 1) * kPitches;
    float sum = 0.0f;
    for (int j = 0; j < count; ++j) {
        const double step = inc[pitch[j]];
        if (step == 0.0) continue;
        const double cycles = static_cast<double>(n - start[j]) * step;
        const float phase = 6.28318530717958648f * static_cast<float>(cycles - floor(cycles));
        sum += velocity[j] * ((channel & 1) ? cosf(phase) : sinf(phase));
    }
    return sum;
}

}  // namespace wavecast
