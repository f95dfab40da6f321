// The branch-free exp and log that both backends compute, against libm in double precision on
// fresh random inputs over their whole ranges, and at their edges.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/fastmath.h"

using namespace wavecast;

TEST(FastMath, Log2IsWithinAQuarterMillionthOfLibm) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
    double worst = 0;
    for (int i = 0; i < 1000000; ++i) {
        const float x = std::ldexp(mantissa(rng), static_cast<int>(rng() % 252) - 125);  // every normal binade
        const double want = std::log2(static_cast<double>(x)), got = log2_approx(x);
        ASSERT_TRUE(std::isfinite(got)) << x;
        // Relative to the result, and absolute near x = 1 where the result is near 0.
        worst = std::max(worst, std::fabs(got - want) / std::max(1.0, std::fabs(want)));
    }
    EXPECT_LT(worst, 2.5e-7);
    EXPECT_LT(std::fabs(log10_approx(1000.0f) - 3.0f), 1e-6f);
    EXPECT_EQ(log2_approx(1.0f), 0.0f);
    EXPECT_EQ(log2_approx(0.0f), -INFINITY);
    EXPECT_EQ(log2_approx(INFINITY), INFINITY);
    EXPECT_TRUE(std::isnan(log2_approx(-1.0f)));
    EXPECT_TRUE(std::isnan(log2_approx(NAN)));
}

TEST(FastMath, ExpIsWithinAFewUlpOfLibm) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<float> u(-87.0f, 88.0f);
    double worst = 0;
    for (int i = 0; i < 1000000; ++i) {
        const float x = u(rng);
        const double want = std::exp(static_cast<double>(x)), got = exp_approx(x);
        worst = std::max(worst, std::fabs(got - want) / want);
    }
    EXPECT_LT(worst, 3 * 1.2e-7);  // 2 ulp of float, and one for the comparison in double
    EXPECT_TRUE(std::isnan(exp_approx(NAN)));
}
