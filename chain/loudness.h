// Broadcast loudness, the last stage of the post tier: an automatic gain toward an EBU R128
// loudness target (short-term loudness, measured with libebur128) and a look-ahead true-peak
// limiter (4x oversampled peak estimate, ITU-R BS.1770's method) holding a ceiling in dBTP.
#pragma once

#include <ebur128.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace wavecast {

struct LoudnessConfig {
    double target_lufs = -16.0;
    double ceiling_dbtp = -1.0;
    double max_gain_db = 24.0;  // the most the gain may lift quiet material (or cut loud)
};

struct LoudnessStats {
    double momentary_lufs = -HUGE_VAL, short_term_lufs = -HUGE_VAL;  // of the output
    double true_peak_dbtp = -HUGE_VAL;                               // of the output, last block
    double gain_db = 0;                                              // the automatic gain now
    double limiting_db = 0;                                          // the deepest limiter cut in the last block
};

class Loudness {
public:
    Loudness(int sample_rate, const LoudnessConfig& cfg);
    ~Loudness();
    Loudness(const Loudness&) = delete;
    Loudness& operator=(const Loudness&) = delete;

    // Interleaved stereo in place; delays by latency() frames. `trim_db` (the stream's gain_db)
    // adds to the automatic gain, ahead of the limiter, so the ceiling holds whatever it is.
    void process(float* stereo, size_t frames, double trim_db = 0.0);
    int latency() const { return lookahead_ + kInterpDelay; }

    static constexpr int kInterpTaps = 12;  // per phase of the 4x interpolator
    // The interpolated points trail the newest sample by about this many frames.
    static constexpr int kInterpDelay = kInterpTaps / 2;
    const LoudnessStats& stats() const { return stats_; }

private:
    float true_peak(const float* frame);

    LoudnessConfig cfg_;
    ebur128_state* in_meter_ = nullptr;   // the input: silence detection and the first gain
    ebur128_state* out_meter_ = nullptr;  // the output: what the gain corrects, and telemetry
    int lookahead_;
    double gain_db_ = 0;
    float applied_ = -1.0f;  // the linear gain at the end of the last block; ramped from per block
    bool settled_ = false;
    double last_trim_db_ = 0;
    uint64_t seen_frames_ = 0;
    float ceiling_;
    // Limiter state: the last few input frames for the interpolator, the delay line, the
    // required gains over the look-ahead, and the box filter over them.
    std::vector<float> hist_;   // [taps][2], newest last
    std::vector<float> delay_;  // [latency + 1][2]: frame t is written at t, read at t + latency
    std::vector<float> need_;   // [lookahead + 2] required gain per frame
    std::vector<float> held_;   // [lookahead] held minima for the box average
    size_t pos_ = 0;
    double box_sum_ = 0;
    float release_gain_ = 1.0f;
    std::vector<float> poly_;  // [4 phases][taps] interpolation filter
    LoudnessStats stats_;
};

}  // namespace wavecast
