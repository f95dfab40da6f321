// Several streams' CUDA work at once, each on a thread of its own, as the daemon runs them: every
// stream must get exactly what the same work gives run alone. On an H200 (2026-12-04) a daemon of
// 16 streams hit cudaErrorIllegalAddress within its first blocks while one stream ran clean.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "kernels/backend.h"
#include "kernels/generator.h"
#include "kernels/masking.h"
#include "tests/gpu/require_gpu.h"
#include "tests/unit/random_features.h"

using namespace wavecast;

namespace {

constexpr int kStreams = 8, kLanes = 4, kBlocks = 12, kFrames = 2;

// One stream's chain, block by block as the daemon's producer runs it: the generator's lanes,
// lanes 0 and 1 as left and right into the masking stage. Returns everything it put out.
struct StreamWork {
    std::unique_ptr<Generator> gen;
    std::unique_ptr<Masking> mask;
    std::vector<float> features, out;

    StreamWork(std::shared_ptr<const Model> model, int s, CudaKernel kernel)
        : gen(make_cuda_generator(model, kLanes, 100 + s, Precision::fp16, kernel)),
          mask(make_cuda_masking(model->spec.sample_rate, 2)),
          features(random_features(kBlocks * kFrames, kLanes, 500 + s)) {}

    void run() {
        const int hop = gen->spec().frame_hop, n = kFrames * hop;
        std::vector<float> temp(static_cast<size_t>(kFrames) * kLanes, 0.9f), lanes(static_cast<size_t>(kLanes) * n), stereo(2 * n),
            masked(2 * n);
        for (int k = 0; k < kBlocks; ++k) {
            std::fill(lanes.begin(), lanes.end(), std::nanf(""));
            gen->generate(&features[static_cast<size_t>(k) * kFrames * kLanes * kFrameFeatures], temp.data(), kFrames, lanes.data());
            for (int i = 0; i < n; ++i) stereo[2 * i] = lanes[i], stereo[2 * i + 1] = lanes[n + i];
            std::fill(masked.begin(), masked.end(), std::nanf(""));
            mask->process(stereo.data(), masked.data(), n, 0.0f);
            out.insert(out.end(), lanes.begin(), lanes.end());
            out.insert(out.end(), masked.begin(), masked.end());
        }
    }
};

void streams_on_threads_match_alone(CudaKernel kernel) {
    auto model = std::make_shared<const Model>(random_model(named_shape("medium"), 11));
    std::vector<std::vector<float>> alone;
    for (int s = 0; s < kStreams; ++s) {
        StreamWork w(model, s, kernel);
        w.run();
        alone.push_back(std::move(w.out));
    }
    // Made on this thread, run on their own, as run_daemon makes the streams and starts them.
    std::vector<std::unique_ptr<StreamWork>> work;
    for (int s = 0; s < kStreams; ++s) work.push_back(std::make_unique<StreamWork>(model, s, kernel));
    std::vector<std::string> errors(kStreams);
    std::vector<std::thread> threads;
    for (int s = 0; s < kStreams; ++s)
        threads.emplace_back([&, s] {
            try {
                work[static_cast<size_t>(s)]->run();
            } catch (const std::exception& e) {
                errors[static_cast<size_t>(s)] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    for (int s = 0; s < kStreams; ++s) {
        ASSERT_EQ(errors[static_cast<size_t>(s)], "") << "stream " << s << " (" << work[0]->gen->kernel() << ")";
        const auto& got = work[static_cast<size_t>(s)]->out;
        ASSERT_EQ(got.size(), alone[static_cast<size_t>(s)].size());
        size_t differ = 0;
        for (size_t i = 0; i < got.size(); ++i) differ += !(got[i] == alone[static_cast<size_t>(s)][i]);
        EXPECT_EQ(differ, 0u) << "stream " << s << " on its thread differs from itself alone (" << work[0]->gen->kernel() << ")";
    }
}

}  // namespace

TEST(ConcurrentStreams, GenericKernelStreamsOnTheirThreadsGiveWhatTheyGiveAlone) {
    REQUIRE_GPU();
    streams_on_threads_match_alone(CudaKernel::generic);
}

TEST(ConcurrentStreams, ClusterKernelStreamsOnTheirThreadsGiveWhatTheyGiveAlone) {
    REQUIRE_GPU();
    streams_on_threads_match_alone(CudaKernel::cluster);
}
