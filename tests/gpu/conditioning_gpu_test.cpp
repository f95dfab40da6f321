// The conditioning network on cuDNN against the CPU reference (the definition), on fresh random
// weights, features and instrument blends, over blocks that carry two frames each into the next;
// outputs poisoned with NaN before each block. Skips, visibly, where no GPU answers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/conditioning.h"
#include "kernels/cuda/conditioning_cudnn.h"
#include "tests/gpu/require_gpu.h"
#include "tests/unit/random_features.h"

using namespace wavecast;

namespace {

void compare(const ModelSpec& spec, int lanes, uint32_t seed) {
    std::mt19937 rng(seed);
    const Model model = random_model(spec, seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> weights(static_cast<size_t>(lanes) * spec.instruments.size());
    for (auto& v : weights) v = u(rng) < 0.5f ? 0.0f : u(rng);
    ConditioningInputs prepared(model, lanes);  // what both generators feed their stage
    prepared.set_instruments(weights.data());
    const auto cpu = make_cpu_conditioning(model);
    cudaStream_t stream;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    {
        ConditioningCudnn gpu(model, stream);
        const int C = gpu.channels();
        ASSERT_EQ(gpu.inputs_per_lane(), cpu->inputs_per_lane());
        DeviceBuffer<float> d_in, d_out;
        double worst = 0;
        for (int block = 0; block < 3; ++block) {
            const int frames = 1 + static_cast<int>(rng() % 12);
            const auto feats = random_features(frames, lanes, rng());
            const std::vector<float>& inputs = prepared.prepare(feats.data(), frames);
            const size_t n = static_cast<size_t>(frames) * lanes * C;
            std::vector<float> want(n, std::nanf("")), got(n, std::nanf(""));
            cpu->run(inputs.data(), frames, lanes, want.data());
            d_in.upload(inputs);
            d_out.upload(got);  // poisoned
            gpu.run(d_in.p, frames, lanes, d_out.p);
            ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
            ASSERT_EQ(cudaMemcpy(got.data(), d_out.p, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
            double scale = 0;
            for (float v : want) scale += std::abs(v);
            scale /= static_cast<double>(n);
            for (size_t i = 0; i < n; ++i) {
                ASSERT_TRUE(std::isfinite(got[i])) << "output " << i << " of block " << block << " is " << got[i];
                // Relative to the value, or to the outputs' mean size where a value is near zero.
                const double rel = std::abs(static_cast<double>(got[i]) - want[i]) / std::max<double>(std::abs(want[i]), scale);
                ASSERT_LE(rel, 1e-5) << spec.shape_name() << " lanes " << lanes << " block " << block << " frame "
                                     << i / (static_cast<size_t>(lanes) * C) << " lane " << i / C % lanes << " channel " << i % C
                                     << ": cuDNN " << got[i] << ", CPU " << want[i];
                worst = std::max(worst, rel);
            }
        }
        std::printf("conditioning %s, %d lanes (%s): worst relative error %.3g\n", spec.shape_name().c_str(), lanes, gpu.describe().c_str(),
                    worst);
    }
    cudaStreamDestroy(stream);
}

}  // namespace

TEST(ConditioningCudnn, MatchesCpuSmall) {
    REQUIRE_GPU();
    std::random_device rd;
    const uint32_t seed = rd();
    SCOPED_TRACE("seed " + std::to_string(seed));
    compare(named_shape("small"), 1 + static_cast<int>(seed % 9), seed);
}

TEST(ConditioningCudnn, MatchesCpuMediumManyLanes) {
    REQUIRE_GPU();
    std::random_device rd;
    const uint32_t seed = rd();
    SCOPED_TRACE("seed " + std::to_string(seed));
    compare(named_shape("medium"), 64 + static_cast<int>(seed % 200), seed);
}
