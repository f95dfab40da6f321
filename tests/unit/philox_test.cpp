#include <gtest/gtest.h>

#include <set>

#include "kernels/philox.h"

using namespace wavecast;

// Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors).
TEST(Philox, MatchesPublishedKnownAnswers) {
    const Philox4 zero = philox4x32_10(Philox4{{0, 0, 0, 0}}, 0, 0);
    EXPECT_EQ(zero.v[0], 0x6627e8d5u);
    EXPECT_EQ(zero.v[1], 0xe169c58du);
    EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
    EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
    const Philox4 ones = philox4x32_10(Philox4{{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u);
    EXPECT_EQ(ones.v[0], 0x408f276du);
    EXPECT_EQ(ones.v[1], 0x41c83b0eu);
    EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
    EXPECT_EQ(ones.v[3], 0x6d5451fdu);
    const Philox4 pi = philox4x32_10(Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
    EXPECT_EQ(pi.v[0], 0xd16cfe09u);
    EXPECT_EQ(pi.v[1], 0x94fdccebu);
    EXPECT_EQ(pi.v[2], 0x5001e420u);
    EXPECT_EQ(pi.v[3], 0x24126ea1u);
}

TEST(Philox, UniformIsInUnitIntervalAndDependsOnEveryKeyPart) {
    std::set<float> seen;
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        const float u = philox_uniform(42, 3, static_cast<uint64_t>(i));
        ASSERT_GE(u, 0.0f);
        ASSERT_LT(u, 1.0f);
        sum += u;
        seen.insert(u);
    }
    EXPECT_NEAR(sum / n, 0.5, 0.01);
    EXPECT_GT(seen.size(), static_cast<size_t>(n * 0.99));
    EXPECT_NE(philox_uniform(42, 3, 7), philox_uniform(43, 3, 7));
    EXPECT_NE(philox_uniform(42, 3, 7), philox_uniform(42, 4, 7));
    EXPECT_NE(philox_uniform(42, 3, 7), philox_uniform(42, 3, 8));
    EXPECT_NE(philox_uniform(42, 3, 7), philox_uniform(42, 3, 7 + (1ull << 32)));
    EXPECT_EQ(philox_uniform(42, 3, 7), philox_uniform(42, 3, 7));
}
