// The model's output filter (kernels/emphasis.h) undoes the training's pre-emphasis
// (training/wavenet.py training_audio), block by block.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/emphasis.h"

using namespace wavecast;

TEST(DeEmphasis, GivesBackWhatThePreEmphasisTookAcrossBlocksOfAnyLength) {
    constexpr int kLanes = 3;
    constexpr size_t kSamples = 4000;
    constexpr float kA = 0.85f;
    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    std::vector<std::vector<float>> music(kLanes, std::vector<float>(kSamples));
    for (auto& lane : music)
        for (size_t i = 0; i < kSamples; ++i) lane[i] = 0.4f * std::sin(0.01f * static_cast<float>(i)) + 0.1f * u(rng);
    // As training_audio: the first sample as it is, then x[t] - a x[t-1].
    std::vector<std::vector<float>> emphasised = music;
    for (auto& lane : emphasised)
        for (size_t i = kSamples - 1; i > 0; --i) lane[i] -= kA * lane[i - 1];

    DeEmphasis filter(kLanes);
    std::vector<float> block;
    for (size_t at = 0, n = 1; at < kSamples; at += n, n = n * 3 % 701 + 1) {
        n = std::min(n, kSamples - at);
        block.assign(kLanes * n, NAN);
        for (int b = 0; b < kLanes; ++b)
            for (size_t i = 0; i < n; ++i) block[b * n + i] = emphasised[b][at + i];
        filter.apply(kA, n, block.data());
        for (int b = 0; b < kLanes; ++b)
            for (size_t i = 0; i < n; ++i) ASSERT_NEAR(block[b * n + i], music[b][at + i], 1e-5f) << "lane " << b << " sample " << at + i;
    }
}

TEST(DeEmphasis, NoneLeavesTheSamplesAsTheyAreAndForgetsItsState) {
    DeEmphasis filter(1);
    std::vector<float> x{1.0f, 0.0f, 0.0f};
    filter.apply(0.5f, x.size(), x.data());
    EXPECT_EQ(x, (std::vector<float>{1.0f, 0.5f, 0.25f}));
    x = {0.0f, -0.75f, 0.0f};
    filter.apply(0.0f, x.size(), x.data());
    EXPECT_EQ(x, (std::vector<float>{0.0f, -0.75f, 0.0f}));
    filter.apply(0.5f, x.size(), x.data());  // from a clean state, not from 0.25
    EXPECT_EQ(x, (std::vector<float>{0.0f, -0.75f, -0.375f}));
}
