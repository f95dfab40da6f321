#include "chain/loudness.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace wavecast {
namespace {

constexpr int kPhases = 4;  // BS.1770-4 Annex 2: 4x oversampling for a true-peak estimate
constexpr int kTaps = Loudness::kInterpTaps;
// Once settled, the gain corrects the output's short-term loudness (3 s) with this time
// constant (seconds): longer than the window's half-length delay, so the loop is stable.
constexpr double kFollowSeconds = 3.0;
// Below this short-term loudness the material counts as silence and the gain holds.
constexpr double kSilenceLufs = -60.0;
// After a cut, the limiter's gain recovers with this time constant (seconds).
constexpr double kReleaseSeconds = 0.15;

}  // namespace

Loudness::Loudness(int sample_rate, const LoudnessConfig& cfg)
    : cfg_(cfg),
      lookahead_(std::max(4, static_cast<int>(std::lround(0.002 * sample_rate)))),
      ceiling_(static_cast<float>(std::pow(10.0, cfg.ceiling_dbtp / 20.0))) {
    in_meter_ = ebur128_init(2, static_cast<unsigned long>(sample_rate), EBUR128_MODE_S);
    out_meter_ = ebur128_init(2, static_cast<unsigned long>(sample_rate), EBUR128_MODE_S | EBUR128_MODE_TRUE_PEAK);
    if (!in_meter_ || !out_meter_) throw std::runtime_error("ebur128_init failed");

    hist_.assign(2 * kTaps, 0.0f);
    delay_.assign(2 * static_cast<size_t>(latency() + 1), 0.0f);
    need_.assign(static_cast<size_t>(lookahead_ + 2), 1.0f);
    held_.assign(static_cast<size_t>(lookahead_), 1.0f);
    box_sum_ = lookahead_;
    // Phase p interpolates at t = p/4 between input samples: a sinc shifted by p/4, Hann-windowed.
    poly_.resize(kPhases * kTaps);
    for (int p = 0; p < kPhases; ++p) {
        double sum = 0;
        for (int k = 0; k < kTaps; ++k) {
            const double x = (k - kTaps / 2 + 1) - static_cast<double>(p) / kPhases;  // distance to the point
            const double sinc = x == 0 ? 1.0 : std::sin(M_PI * x) / (M_PI * x);
            const double w = 0.5 + 0.5 * std::cos(M_PI * x / (kTaps / 2 + 1));
            poly_[static_cast<size_t>(p * kTaps + k)] = static_cast<float>(sinc * w);
            sum += sinc * w;
        }
        for (int k = 0; k < kTaps; ++k) poly_[static_cast<size_t>(p * kTaps + k)] /= static_cast<float>(sum);
    }
}

Loudness::~Loudness() {
    ebur128_destroy(&in_meter_);
    ebur128_destroy(&out_meter_);
}

// Pushes a frame; returns the largest magnitude of the signal between the frames D and D-1 back
// (D = kInterpDelay): the two samples and the 3 points interpolated between them.
float Loudness::true_peak(const float* frame) {
    std::copy(hist_.begin() + 2, hist_.end(), hist_.begin());
    hist_[2 * kTaps - 2] = frame[0];
    hist_[2 * kTaps - 1] = frame[1];
    const size_t a = 2 * (kTaps / 2 - 1), b = 2 * (kTaps / 2);
    float peak = std::max({std::fabs(hist_[a]), std::fabs(hist_[a + 1]), std::fabs(hist_[b]), std::fabs(hist_[b + 1])});
    for (int p = 1; p < kPhases; ++p)
        for (int c = 0; c < 2; ++c) {
            float acc = 0;
            for (int k = 0; k < kTaps; ++k) acc += poly_[static_cast<size_t>(p * kTaps + k)] * hist_[static_cast<size_t>(2 * k + c)];
            peak = std::max(peak, std::fabs(acc));
        }
    return peak;
}

void Loudness::process(float* x, size_t frames, double trim_db) {
    // Automatic gain. At the first reading of the input's short-term loudness it jumps to the
    // gain that reaches the target, so a stream starts at the right level; from then on it
    // integrates the output's error (trim taken out), which also makes up what the limiter takes.
    ebur128_add_frames_float(in_meter_, x, frames);
    const double rate = static_cast<double>(in_meter_->samplerate);
    seen_frames_ += frames;
    if (!settled_) {
        // The momentary loudness (400 ms) is the first valid reading; a shorter stretch would
        // read low and start too loud.
        double m = -HUGE_VAL;
        ebur128_loudness_momentary(in_meter_, &m);
        if (static_cast<double>(seen_frames_) >= 0.4 * rate && std::isfinite(m) && m > kSilenceLufs) {
            gain_db_ = std::clamp(cfg_.target_lufs - m, -cfg_.max_gain_db, cfg_.max_gain_db);
            settled_ = true;
        }
    } else {
        double in_st = -HUGE_VAL;
        ebur128_loudness_shortterm(in_meter_, &in_st);
        const double out_st = stats_.short_term_lufs;
        if (std::isfinite(in_st) && in_st > kSilenceLufs && std::isfinite(out_st)) {
            const double error = cfg_.target_lufs - (out_st - last_trim_db_);
            gain_db_ = std::clamp(gain_db_ + error * (1.0 - std::exp(-static_cast<double>(frames) / (kFollowSeconds * rate))),
                                  -cfg_.max_gain_db, cfg_.max_gain_db);
        }
    }
    last_trim_db_ = trim_db;
    const float g = static_cast<float>(std::pow(10.0, (gain_db_ + trim_db) / 20.0));
    if (applied_ < 0.0f) applied_ = g;
    const float g0 = applied_, dg = (g - g0) / static_cast<float>(std::max<size_t>(frames, 1));
    const float release = static_cast<float>(1.0 - std::exp(-1.0 / (kReleaseSeconds * rate)));
    const size_t L = static_cast<size_t>(lookahead_);
    float deepest = 1.0f;
    for (size_t i = 0; i < frames; ++i) {
        float* f = x + 2 * i;
        const float gi = g0 + dg * static_cast<float>(i + 1);  // ramped: no zipper noise
        const float in[2] = {f[0] * gi, f[1] * gi};
        const float tp = true_peak(in);
        // The gain needed between frames pos-D and pos-D+1 (D: the interpolator's delay). The
        // frame leaving the delay line now (L + D back) lies in the needs registered L and L+1
        // frames ago. The minimum over the last L+2 needs, averaged over the last L such minima,
        // is at most both: every one of those windows contains them. The cut ramps in over L.
        need_[pos_ % (L + 2)] = tp > ceiling_ ? ceiling_ / tp : 1.0f;
        float hold = 1.0f;
        for (float n : need_) hold = std::min(hold, n);
        box_sum_ += hold - held_[pos_ % L];
        held_[pos_ % L] = hold;
        const float smooth = static_cast<float>(box_sum_ / static_cast<double>(L));
        release_gain_ = smooth < release_gain_ ? smooth : release_gain_ + (smooth - release_gain_) * release;
        deepest = std::min(deepest, release_gain_);
        const size_t slots = L + kInterpDelay + 1;
        delay_[2 * (pos_ % slots)] = in[0];
        delay_[2 * (pos_ % slots) + 1] = in[1];
        const float* d = &delay_[2 * ((pos_ + 1) % slots)];  // the frame from L + D frames ago
        f[0] = d[0] * release_gain_;
        f[1] = d[1] * release_gain_;
        ++pos_;
    }
    applied_ = g;
    ebur128_add_frames_float(out_meter_, x, frames);
    ebur128_loudness_momentary(out_meter_, &stats_.momentary_lufs);
    ebur128_loudness_shortterm(out_meter_, &stats_.short_term_lufs);
    double tp0 = 0, tp1 = 0;
    ebur128_prev_true_peak(out_meter_, 0, &tp0);
    ebur128_prev_true_peak(out_meter_, 1, &tp1);
    stats_.true_peak_dbtp = 20.0 * std::log10(std::max({tp0, tp1, 1e-10}));
    stats_.gain_db = gain_db_;
    stats_.limiting_db = 20.0 * std::log10(deepest);
}

}  // namespace wavecast
