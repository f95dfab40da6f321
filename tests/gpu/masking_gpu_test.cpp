// The CUDA masking stage and its threshold kernel against the CPU reference, on fresh random
// inputs, outputs poisoned with NaN before each run. Skips, visibly, where no GPU answers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/backend.h"
#include "kernels/cuda/psychoacoustic_cuda.h"
#include "kernels/masking.h"
#include "kernels/psychoacoustic.h"
#include "tests/gpu/require_gpu.h"

using namespace wavecast;

namespace {

std::vector<float> random_audio(size_t frames, int channels, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    std::vector<float> x(frames * channels);
    for (int c = 0; c < channels; ++c) {
        const float f1 = 100 + 4000 * uni(rng), f2 = f1 * (1.1f + uni(rng)), a1 = 0.3f * uni(rng), a2 = 0.01f * uni(rng);
        const float n = 0.001f * uni(rng);
        for (size_t i = 0; i < frames; ++i)
            x[i * channels + c] = a1 * std::sin(6.2831853f * f1 * i / 48000) + a2 * std::sin(6.2831853f * f2 * i / 48000) + n * noise(rng);
    }
    return x;
}

std::vector<float> run(Masking& m, const std::vector<float>& in, int channels, float db, uint32_t seed) {
    std::vector<float> out(in.size(), std::nanf(""));
    std::mt19937 rng(seed);
    size_t at = 0;
    const size_t frames = in.size() / channels;
    while (at < frames) {
        const size_t n = std::min<size_t>(frames - at, 1 + rng() % 5000);
        m.process(&in[at * channels], &out[at * channels], n, db);
        at += n;
    }
    return out;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
    double e = 0, r = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        e += std::pow(static_cast<double>(a[i]) - ref[i], 2);
        r += std::pow(static_cast<double>(ref[i]), 2);
    }
    return std::sqrt(e / std::max(r, 1e-300));
}

}  // namespace

TEST(MaskingGpu, ThresholdKernelMatchesTheCpuOnRandomSpectra) {
    REQUIRE_GPU();
    const auto t = make_psycho_tables(48000, 1024);
    const int frames = 64;
    std::mt19937 rng(std::random_device{}());
    std::normal_distribution<float> jitter(0.0f, 6.0f);
    std::vector<float> power(static_cast<size_t>(frames) * t.bins);
    for (int f = 0; f < frames; ++f)
        for (int k = 0; k < t.bins; ++k) {
            float v = 20.0f + jitter(rng) - 0.05f * k;
            if (rng() % 40 == 0) v += 30.0f;  // tonal peaks
            power[static_cast<size_t>(f) * t.bins + k] = v;
        }
    std::vector<float> gpu(power.size(), std::nanf("")), cpu(power.size());
    cuda_masking_threshold(t, power.data(), gpu.data(), frames);
    PsychoScratch s;
    for (int f = 0; f < frames; ++f)
        masking_threshold(t, &power[static_cast<size_t>(f) * t.bins], &cpu[static_cast<size_t>(f) * t.bins], s);
    size_t worse = 0;
    for (size_t i = 0; i < cpu.size(); ++i) {
        ASSERT_TRUE(std::isfinite(gpu[i])) << "element " << i << " not written or not finite";
        // 1e-4 relative in power is 4.3e-4 dB.
        worse += std::fabs(gpu[i] - cpu[i]) > 4.3e-4f;
    }
    EXPECT_EQ(worse, 0u);
}

TEST(MaskingGpu, StageMatchesTheCpuOnRandomAudio) {
    REQUIRE_GPU();
    const uint32_t seed = std::random_device{}();
    for (float db : {-100.0f, 0.0f, 10.0f}) {
        const auto in = random_audio(48000 * 2, 2, seed);
        auto cpu = make_cpu_masking(48000, 2);
        auto gpu = make_cuda_masking(48000, 2);
        const auto a = run(*cpu, in, 2, db, 1), b = run(*gpu, in, 2, db, 2);
        EXPECT_LT(rel_error(b, a), 1e-4) << "masking_db " << db << ", seed " << seed;
        EXPECT_NEAR(gpu->stats().discarded_share, cpu->stats().discarded_share, 1e-3);
        EXPECT_EQ(gpu->stats().frames, cpu->stats().frames);
    }
}

TEST(MaskingGpu, ManyStreamsInOneBatchMatchEachStreamAlone) {
    REQUIRE_GPU();
    const int streams = 8, ch = 2 * streams;
    const auto in = random_audio(48000, ch, std::random_device{}());
    auto gpu = make_cuda_masking(48000, ch);
    const auto all = run(*gpu, in, ch, 0.0f, 3);
    for (int s = 0; s < streams; ++s) {
        std::vector<float> one(48000 * 2), ref;
        for (size_t i = 0; i < 48000; ++i) one[2 * i] = in[i * ch + 2 * s], one[2 * i + 1] = in[i * ch + 2 * s + 1];
        auto cpu = make_cpu_masking(48000, 2);
        ref = run(*cpu, one, 2, 0.0f, 4);
        std::vector<float> got(ref.size());
        for (size_t i = 0; i < 48000; ++i) got[2 * i] = all[i * ch + 2 * s], got[2 * i + 1] = all[i * ch + 2 * s + 1];
        EXPECT_LT(rel_error(got, ref), 1e-4) << "stream " << s;
    }
}
