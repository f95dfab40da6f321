#include <gtest/gtest.h>

#include <ebur128.h>
#include <cmath>
#include <random>

#include "chain/loudness.h"

using namespace wavecast;

namespace {

// 30 s of music-like stereo at 48 kHz: decaying chords, a noise hi-hat, a kick; `scale` sets the level.
std::vector<float> music(double scale, int rate = 48000, int seconds = 30) {
    std::vector<float> x(static_cast<size_t>(2 * rate * seconds));
    std::mt19937 rng(5);
    std::normal_distribution<double> noise(0, 1);
    const double roots[] = {220.0, 261.6, 329.6, 196.0};
    for (size_t i = 0; i < x.size() / 2; ++i) {
        const double t = static_cast<double>(i) / rate, beat = std::fmod(t, 0.5);
        const double root = roots[static_cast<int>(t / 2) % 4];
        double v = 0;
        for (double ratio : {1.0, 1.25, 1.5})
            for (int h = 1; h <= 5; ++h) v += 0.1 / h * std::exp(-1.5 * std::fmod(t, 2.0)) * std::sin(2 * M_PI * root * ratio * h * t);
        v += 0.05 * noise(rng) * std::exp(-40 * std::fmod(t, 0.25));
        v += 0.6 * std::exp(-25 * beat) * std::sin(2 * M_PI * 55 * beat);
        x[2 * i] = static_cast<float>(scale * v);
        x[2 * i + 1] = static_cast<float>(scale * 0.9 * v);
    }
    return x;
}

struct Measured {
    double integrated, true_peak_dbtp;
};

Measured measure(const std::vector<float>& x, int rate = 48000) {
    ebur128_state* st = ebur128_init(2, static_cast<unsigned long>(rate), EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
    ebur128_add_frames_float(st, x.data(), x.size() / 2);
    Measured m{};
    ebur128_loudness_global(st, &m.integrated);
    double a = 0, b = 0;
    ebur128_true_peak(st, 0, &a);
    ebur128_true_peak(st, 1, &b);
    m.true_peak_dbtp = 20 * std::log10(std::max(a, b));
    ebur128_destroy(&st);
    return m;
}

std::vector<float> run(std::vector<float> x, double trim_db = 0.0) {
    Loudness l(48000, LoudnessConfig{});
    for (size_t at = 0; at < x.size() / 2; at += 960) l.process(&x[2 * at], std::min<size_t>(960, x.size() / 2 - at), trim_db);
    return x;
}

}  // namespace

TEST(Loudness, MeetsTheTargetWithinOneLuOnThirtySecondsOfMusic) {
    for (double scale : {0.12, 0.3, 2.0}) {  // quiet (-39 LUFS), moderate, far too loud (clipping peaks)
        const auto in = music(scale);
        const auto out = run(in);
        const Measured before = measure(in), after = measure(out);
        EXPECT_NEAR(after.integrated, -16.0, 1.0) << "input at " << before.integrated << " LUFS";
        EXPECT_LE(after.true_peak_dbtp, -1.0 + 0.2) << "input at " << before.integrated << " LUFS";
    }
}

TEST(Loudness, HoldsTheTruePeakCeilingOnInterSamplePeaks) {
    // A sine at a quarter of the rate, 45 degrees off the sample grid: every sample is 3 dB
    // below the waveform's true peak. Driven 10 dB over the ceiling, in bursts.
    std::vector<float> x(2 * 48000 * 10);
    for (size_t i = 0; i < x.size() / 2; ++i) {
        const double burst = (i / 4800) % 2 ? 1.0 : 0.05;
        const float v = static_cast<float>(burst * 2.8 * std::sin(M_PI / 2 * static_cast<double>(i) + M_PI / 4));
        x[2 * i] = x[2 * i + 1] = v;
    }
    const auto out = run(x, 10.0);
    EXPECT_LE(measure(out).true_peak_dbtp, -1.0 + 0.2);
}

TEST(Loudness, TrimMovesTheLevelAndSilenceStaysSilent) {
    const auto in = music(0.3);
    EXPECT_NEAR(measure(run(in, -6.0)).integrated, -22.0, 1.0);
    std::vector<float> silence(2 * 48000 * 5, 0.0f);
    for (float v : run(silence)) ASSERT_EQ(v, 0.0f);
}
