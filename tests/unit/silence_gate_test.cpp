// The silence gate (chain/silence_gate.h): exact zeros where the conditioning says a lane is
// silent and its instrument has rung out, the network's samples untouched everywhere else.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "chain/silence_gate.h"
#include "kernels/frame_features.h"

using namespace wavecast;

namespace {

constexpr int kRate = 16000, kHop = 160, kFade = static_cast<int>(kGateFadeSeconds * kRate);

// `frames` frames of `lanes` lanes: lane b sounds in frame f where sounding(b, f).
template <class F>
std::vector<float> features(int frames, int lanes, F sounding) {
    std::vector<float> x(static_cast<size_t>(frames) * lanes * kFrameFeatures, 0.0f);
    for (int f = 0; f < frames; ++f)
        for (int b = 0; b < lanes; ++b)
            if (sounding(b, f)) add_note(&x[(static_cast<size_t>(f) * lanes + b) * kFrameFeatures], 60 + b, 100, false, 0.1f);
    return x;
}

std::vector<float> noise(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng);
    return x;
}

}  // namespace

TEST(SilenceGate, ALaneThatHasSoundedNothingIsExactZerosEvenWhereTheNetworkGaveNaN) {
    SilenceGate gate(2, kRate, kHop);
    gate.set_release({0.5f, 0.5f});
    const int frames = 30;
    auto f = features(frames, 2, [](int b, int) { return b == 1; });
    auto x = noise(2 * static_cast<size_t>(frames) * kHop, std::random_device{}());
    x[17] = std::nanf("");
    const auto in = x;
    gate.apply(f.data(), frames, x.data());
    for (size_t i = 0; i < static_cast<size_t>(frames) * kHop; ++i) ASSERT_EQ(x[i], 0.0f) << "lane 0, sample " << i;
    for (size_t i = static_cast<size_t>(frames) * kHop; i < x.size(); ++i) ASSERT_EQ(x[i], in[i]) << "lane 1, sample " << i;
    EXPECT_FALSE(gate.open(0));
    EXPECT_TRUE(gate.open(1));
}

TEST(SilenceGate, AfterTheLastNoteTheReleasePassesThenAFadeThenExactZerosUntilTheNextNote) {
    const float release_s = 0.3f;
    const int release = static_cast<int>(release_s * kRate);
    const int note_end = 10, next_note = 80, frames = 100;  // frames
    SilenceGate gate(1, kRate, kHop);
    gate.set_release({release_s});
    auto f = features(frames, 1, [&](int, int fr) { return fr < note_end || fr >= next_note; });
    auto x = noise(static_cast<size_t>(frames) * kHop, std::random_device{}());
    const auto in = x;
    // Several blocks of uneven length: the gate's state carries across them.
    for (int at = 0, n = 1; at < frames; at += n, n += 2) {
        n = std::min(n, frames - at);
        gate.apply(&f[static_cast<size_t>(at) * kFrameFeatures], n, &x[static_cast<size_t>(at) * kHop]);
    }
    const size_t quiet_from = static_cast<size_t>(note_end) * kHop, fade_from = quiet_from + release;
    const size_t zero_from = fade_from + kFade, reopen = static_cast<size_t>(next_note) * kHop;
    for (size_t i = 0; i < fade_from; ++i) ASSERT_EQ(x[i], in[i]) << "sample " << i << " (note and release)";
    double last_gain = 1.0;
    for (size_t i = fade_from; i < zero_from; ++i) {
        const double gain = x[i] / in[i];
        ASSERT_LE(gain, last_gain + 1e-6) << "sample " << i << ": the fade does not fall";
        ASSERT_GE(gain, 0.0);
        last_gain = gain;
    }
    EXPECT_LT(last_gain, 2.0 / kFade);
    for (size_t i = zero_from; i < reopen; ++i) ASSERT_EQ(x[i], 0.0f) << "sample " << i << " (rung out)";
    for (size_t i = reopen; i < x.size(); ++i) ASSERT_EQ(x[i], in[i]) << "sample " << i << " (the next note)";
}

TEST(SilenceGate, ANoteInTheFadeOpensAtOnce) {
    SilenceGate gate(1, kRate, kHop);
    gate.set_release({0.0f});
    const int frames = 4;
    // Sounds, silent (the fade is 20 ms, two frames: it is halfway), sounds again.
    auto f = features(frames, 1, [](int, int fr) { return fr != 1; });
    std::vector<float> x(static_cast<size_t>(frames) * kHop, 0.5f);
    gate.apply(f.data(), frames, x.data());
    EXPECT_EQ(x[kHop - 1], 0.5f);
    EXPECT_LT(x[2 * kHop - 1], 0.5f);
    EXPECT_GT(x[2 * kHop - 1], 0.0f);
    EXPECT_EQ(x[2 * kHop], 0.5f);
}

TEST(SilenceGate, ALongerReleaseInTheTailHoldsItOpenAndAShorterOneClosesIt) {
    SilenceGate gate(2, kRate, kHop);
    gate.set_release({0.1f, 0.1f});
    auto sounding = features(1, 2, [](int, int) { return true; });
    auto silent = features(5, 2, [](int, int) { return false; });
    std::vector<float> x(2 * 5 * kHop, 1.0f);
    gate.apply(sounding.data(), 1, x.data());
    gate.apply(silent.data(), 5, x.data());  // 50 ms of 100
    EXPECT_TRUE(gate.open(0));
    gate.set_release({1.0f, 0.01f});  // lane 0 now rings 1 s; lane 1 has rung longer than 10 ms
    std::fill(x.begin(), x.end(), 1.0f);
    gate.apply(silent.data(), 5, x.data());
    EXPECT_EQ(x[5 * kHop - 1], 1.0f);
    EXPECT_EQ(x[2 * 5 * kHop - 1], 0.0f);
    EXPECT_THROW(gate.set_release({1.0f}), std::invalid_argument);
}
