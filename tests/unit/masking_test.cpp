#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>

#include "kernels/masking.h"
#include "kernels/psychoacoustic.h"

using namespace wavecast;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Amplitude of a sine at `spl` dB under the calibration full scale = 96 dB SPL.
double amp(double spl) { return std::pow(10.0, (spl - 96.0) / 20.0); }

// Runs a mono signal through the stage in chunks of random size; returns the output realigned
// (latency removed) and as long as the input minus the latency.
std::vector<float> run(Masking& m, const std::vector<float>& in, float masking_db, uint32_t seed = 1) {
    std::vector<float> out(in.size());
    std::mt19937 rng(seed);
    size_t at = 0;
    while (at < in.size()) {
        const size_t n = std::min<size_t>(in.size() - at, 1 + rng() % 700);
        m.process(&in[at], &out[at], n, masking_db);
        at += n;
    }
    return {out.begin() + m.latency(), out.end()};
}

// Level in dB SPL of the component at `hz` over [from, to), by projection on a Hann-windowed
// complex exponential (the tones used are far enough apart not to leak into each other).
double level_at(const std::vector<float>& x, double hz, int rate, size_t from, size_t to) {
    std::complex<double> acc = 0;
    double wsum = 0;
    for (size_t i = from; i < to; ++i) {
        const double w = 0.5 - 0.5 * std::cos(2 * kPi * static_cast<double>(i - from) / static_cast<double>(to - from));
        acc += w * static_cast<double>(x[i]) * std::polar(1.0, -2 * kPi * hz * static_cast<double>(i) / rate);
        wsum += w;
    }
    return 96.0 + 20.0 * std::log10(2.0 * std::abs(acc) / wsum + 1e-30);
}

std::vector<float> tones(const std::vector<std::pair<double, double>>& hz_spl, int rate, size_t n) {
    std::vector<float> x(n, 0.0f);
    for (const auto& [hz, spl] : hz_spl)
        for (size_t i = 0; i < n; ++i) x[i] += static_cast<float>(amp(spl) * std::sin(2 * kPi * hz * static_cast<double>(i) / rate));
    return x;
}

// The model's formulas, written out again here from the standard rather than shared.
double bark(double f) { return 13 * std::atan(0.00076 * f) + 3.5 * std::atan(std::pow(f / 7500, 2)); }
double ath(double f) {
    f /= 1000;
    return 3.64 * std::pow(f, -0.8) - 6.5 * std::exp(-0.6 * std::pow(f - 3.3, 2)) + 1e-3 * std::pow(f, 4);
}
double vf(double dz, double l) {
    if (dz < -3 || dz >= 8) return -1e9;
    if (dz < -1) return 17 * (dz + 1) - (0.4 * l + 6);
    if (dz < 0) return (0.4 * l + 6) * dz;
    if (dz < 1) return -17 * dz;
    return -(dz - 1) * (17 - 0.15 * l) - 17;
}
double db_sum(double a, double b) { return 10 * std::log10(std::pow(10, a / 10) + std::pow(10, b / 10)); }

}  // namespace

TEST(Masking, ReconstructsTheInputWhenNothingIsMasked) {
    for (int rate : {16000, 48000}) {
        auto m = make_cpu_masking(rate, 1);
        std::mt19937 rng(7);
        std::normal_distribution<float> noise(0.0f, 0.2f);
        std::vector<float> in(static_cast<size_t>(rate));
        for (size_t i = 0; i < in.size(); ++i) in[i] = noise(rng) + 0.3f * static_cast<float>(std::sin(0.05 * static_cast<double>(i)));
        const auto out = run(*m, in, -100.0f);
        double err = 0, ref = 0;
        for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_TRUE(std::isfinite(out[i]));
            err += std::pow(out[i] - in[i], 2);
            ref += std::pow(in[i], 2);
        }
        EXPECT_LT(std::sqrt(err / ref), 1e-5) << rate << " Hz";
        EXPECT_EQ(m->stats().discarded_share, 0.0);
    }
}

TEST(Masking, StereoChannelsAreMaskedIndependently) {
    auto m = make_cpu_masking(48000, 2);
    const auto left = tones({{1000, 70}}, 48000, 48000), right = tones({{3000, 50}}, 48000, 48000);
    std::vector<float> in(2 * left.size()), out(in.size());
    for (size_t i = 0; i < left.size(); ++i) in[2 * i] = left[i], in[2 * i + 1] = right[i];
    m->process(in.data(), out.data(), left.size(), 0.0f);
    std::vector<float> l(left.size()), r(left.size());
    for (size_t i = 0; i < left.size(); ++i) l[i] = out[2 * i], r[i] = out[2 * i + 1];
    EXPECT_NEAR(level_at(l, 1000, 48000, 10000, 40000), 70, 0.1);
    EXPECT_LT(level_at(l, 3000, 48000, 10000, 40000), 0);
    EXPECT_NEAR(level_at(r, 3000, 48000, 10000, 40000), 50, 0.1);
}

TEST(Psychoacoustic, ThresholdOfA60dBToneAt1kHzMatchesTheStandardsFormulas) {
    const auto t = make_psycho_tables(48000, 1024);
    std::vector<float> p(static_cast<size_t>(t.bins), -50.0f), thr(p.size());
    const int k0 = 21;  // 984 Hz
    p[k0 - 1] = p[k0 + 1] = 50.0f;
    p[k0] = 59.5f;
    PsychoScratch s;
    masking_threshold(t, p.data(), thr.data(), s);
    ASSERT_EQ(s.maskers.size(), 1u);
    EXPECT_TRUE(s.maskers[0].tonal);
    const double level = db_sum(db_sum(59.5, 50), 50);
    EXPECT_NEAR(s.maskers[0].level_db, level, 1e-3);
    const double z0 = bark(k0 * 46.875), av = -1.525 - 0.275 * z0 - 4.5;
    for (int k : {5, 15, 19, 21, 23, 30, 40, 60, 100, 200, 400}) {
        const double f = k * 46.875;
        const double expect = db_sum(ath(f), level + av + vf(bark(f) - z0, level));
        EXPECT_NEAR(thr[static_cast<size_t>(k)], expect, 0.02) << "bin " << k << " (" << f << " Hz)";
    }
}

TEST(Psychoacoustic, ThresholdOfNarrowBandNoiseMatchesTheStandardsFormulas) {
    const auto t = make_psycho_tables(48000, 1024);
    std::vector<float> p(static_cast<size_t>(t.bins), -50.0f), thr(p.size());
    // Flat noise at 45 dB per bin over the critical band 2000..2320 Hz (bins 43..49): no peak,
    // so one noise masker with the band's power at its geometric-mean frequency.
    for (int k = 43; k <= 49; ++k) p[static_cast<size_t>(k)] = 45.0f;
    PsychoScratch s;
    masking_threshold(t, p.data(), thr.data(), s);
    ASSERT_EQ(s.maskers.size(), 1u);
    EXPECT_FALSE(s.maskers[0].tonal);
    const double level = 45 + 10 * std::log10(7.0);
    const int kc = static_cast<int>(std::lround(std::sqrt(43 * 46.875 * 49 * 46.875) / 46.875));
    EXPECT_EQ(s.maskers[0].bin, kc);
    EXPECT_NEAR(s.maskers[0].level_db, level, 1e-3);
    const double z0 = bark(kc * 46.875), av = -1.525 - 0.175 * z0 - 0.5;
    for (int k : {30, 40, 46, 50, 60, 80, 150}) {
        const double f = k * 46.875;
        EXPECT_NEAR(thr[static_cast<size_t>(k)], db_sum(ath(f), level + av + vf(bark(f) - z0, level)), 0.02) << "bin " << k;
    }
}

TEST(Masking, ALoudToneKeepsItsLevelWhileAToneFortyDbWeakerAThirdOctaveAboveIsRemoved) {
    const int rate = 48000;
    const double hi = 1000 * std::pow(2.0, 1.0 / 3);  // a third of an octave above
    auto m = make_cpu_masking(rate, 1);
    const auto in = tones({{1000, 80}, {hi, 40}}, rate, 2 * rate);
    const auto out = run(*m, in, 0.0f);
    const size_t a = 20000, b = 80000;
    EXPECT_NEAR(level_at(out, 1000, rate, a, b), level_at(in, 1000, rate, a, b), 0.1);
    EXPECT_NEAR(level_at(in, hi, rate, a, b), 40, 0.5);
    EXPECT_LT(level_at(out, hi, rate, a, b), 40 - 20) << "the masked tone should be gone";
    EXPECT_GT(m->stats().discarded_share, 0.3);
}

TEST(Masking, AQuietToneAloneSurvives) {
    const int rate = 48000;
    auto m = make_cpu_masking(rate, 1);
    const auto in = tones({{1000, 30}}, rate, rate);
    const auto out = run(*m, in, 0.0f);
    EXPECT_NEAR(level_at(out, 1000, rate, 10000, 40000), 30, 0.1);
}

// Music-like material: chords of harmonic tones with decaying notes, a noise hi-hat and a kick.
TEST(Masking, NoiseToMaskRatioStaysAtOrBelowZeroDbAtMaskingZero) {
    const int rate = 48000, n = 3 * rate;
    std::vector<float> in(static_cast<size_t>(n), 0.0f);
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    const double roots[] = {220.0, 261.6, 329.6, 196.0};
    for (int i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / rate, beat = std::fmod(t, 0.5);
        const double root = roots[static_cast<int>(t / 0.75) % 4];
        double v = 0;
        for (double ratio : {1.0, 1.25, 1.5})
            for (int h = 1; h <= 6; ++h)
                v += amp(70 - 6 * h) * std::exp(-2 * std::fmod(t, 0.75)) * std::sin(2 * kPi * root * ratio * h * t);
        v += amp(60) * noise(rng) * std::exp(-40 * std::fmod(t, 0.25));
        v += amp(85) * std::exp(-30 * beat) * std::sin(2 * kPi * 55 * beat);
        in[static_cast<size_t>(i)] = static_cast<float>(v);
    }
    auto m = make_cpu_masking(rate, 1);
    const auto out = run(*m, in, 0.0f);
    ASSERT_GT(m->stats().discarded_share, 0.05) << "nothing was masked: the test would prove nothing";

    // The error (what masking removed) against the input's masking threshold, frame by frame.
    const int N = 1024;
    const auto t = make_psycho_tables(rate, N);
    PsychoScratch s;
    std::vector<float> pin(static_cast<size_t>(t.bins)), thr(pin.size());
    double err_total = 0, thr_total = 0;
    int frames_over = 0, frames = 0;
    for (int start = 0; start + N <= static_cast<int>(out.size()); start += N / 2, ++frames) {
        std::vector<std::complex<double>> X(static_cast<size_t>(t.bins)), E(static_cast<size_t>(t.bins));
        for (int k = 0; k < t.bins; ++k)
            for (int i = 0; i < N; i += 1) {
                const double w = std::sqrt(0.5 - 0.5 * std::cos(2 * kPi * i / N));
                const auto e = std::polar(1.0, -2 * kPi * k * i / N);
                X[static_cast<size_t>(k)] += w * static_cast<double>(in[static_cast<size_t>(start + i)]) * e;
                E[static_cast<size_t>(k)] +=
                    w * static_cast<double>(out[static_cast<size_t>(start + i)] - in[static_cast<size_t>(start + i)]) * e;
            }
        const double offset = 96 - 10 * std::log10(N * N / 8.0);
        for (int k = 0; k < t.bins; ++k)
            pin[static_cast<size_t>(k)] = static_cast<float>(offset + 10 * std::log10(std::norm(X[static_cast<size_t>(k)]) + 1e-30));
        masking_threshold(t, pin.data(), thr.data(), s);
        double e_sum = 0, t_sum = 0;
        for (int k = 1; k < t.bins; ++k) {
            e_sum += std::pow(10, (offset + 10 * std::log10(std::norm(E[static_cast<size_t>(k)]) + 1e-30)) / 10);
            t_sum += std::pow(10, thr[static_cast<size_t>(k)] / 10);
        }
        err_total += e_sum, thr_total += t_sum;
        frames_over += e_sum > t_sum;
        if (frames > 40) break;  // the direct DFT is slow; 40 frames cover all the material's events
    }
    EXPECT_LE(10 * std::log10(err_total / thr_total), 0.0);
    EXPECT_EQ(frames_over, 0);
}
