#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "kernels/half.h"
#include "kernels/model.h"

using namespace wavecast;

namespace {

// Nearest-even is checked against the neighbours, not against a second implementation: the
// chosen pattern is at least as near as the next one up and down, and on a tie it is the even one.
template <class ToFloat>
void expect_nearest(float x, uint16_t h, ToFloat to_float) {
    const double v = x, got = to_float(h);
    const double err = std::fabs(got - v);
    for (int step : {-1, 1}) {
        const uint16_t n = static_cast<uint16_t>(h + step);
        const double other = to_float(n);
        if (std::isnan(other) || std::isinf(other) || std::signbit(other) != std::signbit(got)) continue;
        const double e = std::fabs(other - v);
        ASSERT_LE(err, e) << x << " -> " << got << ", but " << other << " is nearer";
        if (err == e) {
            ASSERT_EQ(h & 1, 0) << x << ": a tie goes to the even pattern";
        }
    }
}

}  // namespace

TEST(Precision, HalfRoundTripsEveryPattern) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = half_to_float(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << std::hex << h;
            continue;
        }
        ASSERT_EQ(float_to_half(f), h) << std::hex << h << " = " << f;
    }
}

TEST(Precision, HalfRoundsToNearestEven) {
    EXPECT_EQ(float_to_half(1.0f), 0x3C00);
    EXPECT_EQ(float_to_half(-2.0f), 0xC000);
    EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);  // the largest finite half
    EXPECT_EQ(float_to_half(65519.99f), 0x7BFF);
    EXPECT_EQ(float_to_half(65520.0f), 0x7C00);                      // halfway to 65536 rounds to infinity
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);         // the smallest subnormal
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);         // a tie between 0 and it: even
    EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 ulp: to 2, the even one
    EXPECT_EQ(float_to_half(std::ldexp(2047.0f, -25)), 0x0400);      // 1023.5 subnormal ulps: carries to the smallest normal
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie: stays even
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie: up to even
    EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::nanf("")))));
    EXPECT_EQ(float_to_half(-INFINITY), 0xFC00);

    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-30, 16);
    for (int i = 0; i < 200000; ++i) {
        const float x = std::ldexp(mant(rng), exponent(rng));
        if (std::fabs(x) >= 65504.0f) continue;
        expect_nearest(x, float_to_half(x), half_to_float);
    }
}

TEST(Precision, Bf16RoundTripsAndRoundsToNearestEven) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = bf16_to_float(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(f)))) << std::hex << h;
            continue;
        }
        ASSERT_EQ(float_to_bf16(f), h) << std::hex << h;
    }
    EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie: stays even
    EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);  // tie: up to even
    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-120, 120);
    for (int i = 0; i < 200000; ++i) {
        const float x = std::ldexp(mant(rng), exponent(rng));
        expect_nearest(x, float_to_bf16(x), bf16_to_float);
    }
}

TEST(Precision, RoundsTheSampleLoopsMatricesOnly) {
    const Model m = random_model(named_shape("tiny"), 11);
    const Model same = with_precision(m, Precision::fp32);
    EXPECT_EQ(same.weights.embed, m.weights.embed);
    for (Precision p : {Precision::fp16, Precision::bf16}) {
        const Model r = with_precision(m, p);
        const double ulp = p == Precision::fp16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);  // half an ulp, relative
        int changed = 0;
        auto check = [&](const std::vector<float>& a, const std::vector<float>& b) {
            ASSERT_EQ(a.size(), b.size());
            for (size_t i = 0; i < a.size(); ++i) {
                // fp16 below 2^-14 is subnormal: spaced 2^-24 apart, whatever the value.
                const double bound = std::max(ulp * std::fabs(a[i]), p == Precision::fp16 ? std::ldexp(1.0, -25) : 0.0);
                EXPECT_LE(std::fabs(b[i] - a[i]), bound) << precision_name(p) << " " << a[i];
                changed += b[i] != a[i];
            }
        };
        check(m.weights.embed, r.weights.embed);
        check(m.weights.out1_w, r.weights.out1_w);
        check(m.weights.out2_w, r.weights.out2_w);
        for (size_t l = 0; l < m.weights.layers.size(); ++l) {
            check(m.weights.layers[l].conv_w, r.weights.layers[l].conv_w);
            check(m.weights.layers[l].res_w, r.weights.layers[l].res_w);
            check(m.weights.layers[l].skip_w, r.weights.layers[l].skip_w);
            EXPECT_EQ(r.weights.layers[l].conv_b, m.weights.layers[l].conv_b);
        }
        EXPECT_GT(changed, 100) << precision_name(p) << ": random fp32 weights are almost never representable";
        EXPECT_EQ(r.weights.out2_b, m.weights.out2_b);
        EXPECT_EQ(r.weights.cond_conv_w, m.weights.cond_conv_w);
        EXPECT_EQ(r.weights.cond_proj_w, m.weights.cond_proj_w);
        EXPECT_EQ(parse_precision(precision_name(p)), p);
    }
    EXPECT_THROW(parse_precision("fp8"), std::invalid_argument);
    Model big = m;
    big.weights.out2_w[0] = 70000.0f;
    EXPECT_THROW(with_precision(big, Precision::fp16), std::invalid_argument);
    EXPECT_NO_THROW(with_precision(big, Precision::bf16));
}
