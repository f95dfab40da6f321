// The CUDA generator's three kernels against the CPU reference (the definition), on fresh random
// weights, inputs and lanes, outputs poisoned with NaN before each run. Skips, visibly, where no
// GPU answers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/backend.h"
#include "kernels/frame_features.h"
#include "kernels/generator.h"
#include "tests/gpu/distributions_close.h"
#include "tests/gpu/require_gpu.h"
#include "tests/unit/random_features.h"

using namespace wavecast;

namespace {

std::vector<float> random_instruments(int lanes, int n, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> w(static_cast<size_t>(lanes) * n);
    for (auto& v : w) v = u(rng) < 0.5f ? 0.0f : u(rng);
    for (int b = 0; b < lanes; ++b) w[static_cast<size_t>(b) * n + static_cast<size_t>(b) % n] += 0.5f;
    return w;
}

ModelSpec shape(int R, int S, int A, int L, int cycle) {
    ModelSpec s = named_shape("small");
    s.residual_channels = R, s.skip_channels = S, s.audio_classes = A, s.layers = L, s.dilation_cycle = cycle;
    return s;
}

// Teacher-forced distributions over two calls (the second carries the first's state): every
// log probability within kMaxLogProbError of the CPU's on the same weights, which in half precision
// are the model's rounded as with_precision() rounds them (the definition; how far that moves the
// distributions from fp32 is the CPU's own test, HalfPrecisionStaysNearFp32).
void compare_teacher_forced(const ModelSpec& spec, int lanes, uint32_t seed, Precision precision, CudaKernel kernel) {
    std::mt19937 rng(seed);
    auto model = std::make_shared<const Model>(random_model(spec, seed));
    auto cpu = make_cpu_generator(std::make_shared<const Model>(with_precision(*model, precision)), lanes, seed);
    auto gpu = make_cuda_generator(model, lanes, seed, precision, kernel);
    const auto inst = random_instruments(lanes, static_cast<int>(spec.instruments.size()), rng);
    cpu->set_instruments(inst.data());
    gpu->set_instruments(inst.data());
    const int A = spec.audio_classes;
    double worst = 0;
    for (int call = 0; call < 2; ++call) {
        const int frames = 3 + call * 2, T = frames * spec.frame_hop;
        const auto feats = random_features(frames, lanes, rng());
        std::vector<int> inputs(static_cast<size_t>(lanes) * T);
        for (auto& c : inputs) c = static_cast<int>(rng() % static_cast<uint32_t>(A));
        std::vector<float> want(static_cast<size_t>(lanes) * T * A, std::nanf("")), got(want.size(), std::nanf(""));
        cpu->teacher_forced(feats.data(), inputs.data(), frames, want.data());
        gpu->teacher_forced(feats.data(), inputs.data(), frames, got.data());
        for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_TRUE(std::isfinite(got[i]) && got[i] >= 0.0f) << spec.shape_name() << " probability " << i << " is " << got[i];
            const double err = test::log_prob_error(got[i], want[i]);
            ASSERT_LE(err, test::kMaxLogProbError)
                << spec.shape_name() << " lanes " << lanes << " call " << call << " lane " << i / (static_cast<size_t>(T) * A) << " sample "
                << i / A % T << " class " << i % A << ": GPU " << got[i] << ", CPU " << want[i] << " (" << gpu->kernel() << ")";
            worst = std::max(worst, err);
        }
    }
    std::cout << spec.shape_name() << " " << precision_name(precision) << ", " << lanes << " lanes, " << gpu->kernel()
              << ": worst |log p error| " << worst << "\n";
}

// Free-running with one seed: the same samples as the CPU, sample for sample, across calls, for
// at least `at_least` samples on every lane. The generic kernel sums in the CPU's order. The
// cluster kernel's other order moves every boundary of the cumulative distribution by rounding,
// and a draw whose uniform falls that close to one tips to the neighbouring class: on random
// weights, whose distributions are nearly flat (256 boundaries spread over the whole range), the
// H200 saw that after 691 to 4,000 samples at temperature 1 (2026-12-04). A peaked distribution
// packs its boundaries where little mass is, so the cluster kernel is held to it at 0.5.
// With a tail cut (lane b of n at tail_cut * (b + 1) / n), the kernels drop the same classes.
// Lanes keyed by two seeds: the kernels draw each lane's uniforms from its own key.
// In half precision the CPU runs on the weights rounded as the device stores them.
void compare_free_running(CudaKernel kernel, int at_least, float temperature = 1.0f, float tail_cut = 0.0f,
                          Precision precision = Precision::fp32) {
    for (const auto& [name, lanes] : std::vector<std::pair<std::string, int>>{{"tiny", 2}, {"small", 4}, {"medium", 1}, {"medium", 3}}) {
        std::mt19937 rng(7);
        auto stored = std::make_shared<const Model>(random_model(named_shape(name), 7));
        auto model = std::make_shared<const Model>(with_precision(*stored, precision));
        // Every other lane keyed as a second stream's would be in a shared generator (LaneKey).
        std::vector<LaneKey> keys = lane_keys(99, lanes);
        for (int b = 1; b < lanes; b += 2) keys[static_cast<size_t>(b)] = {555, static_cast<uint32_t>(b / 2)};
        auto cpu = make_cpu_generator(model, keys);
        auto gpu = make_cuda_generator(stored, keys, precision, kernel);
        const int hop = model->spec.frame_hop;
        const int frames = 5;
        std::vector<float> temp(static_cast<size_t>(frames) * lanes), cuts(static_cast<size_t>(lanes));
        for (size_t i = 0; i < temp.size(); ++i) temp[i] = i % 4 == 2 ? 0.0f : temperature;  // some frames of some lanes held
        for (int b = 0; b < lanes; ++b) cuts[static_cast<size_t>(b)] = tail_cut * static_cast<float>(b + 1) / static_cast<float>(lanes);
        cpu->set_tail_cut(cuts.data());
        gpu->set_tail_cut(cuts.data());
        int same = 0;
        bool diverged = false;
        for (int call = 0; call < 5 && !diverged; ++call) {
            const auto feats = random_features(frames, lanes, rng());
            std::vector<float> want(static_cast<size_t>(lanes) * frames * hop, std::nanf("")), got(want.size(), std::nanf(""));
            cpu->generate(feats.data(), temp.data(), frames, want.data());
            gpu->generate(feats.data(), temp.data(), frames, got.data());
            for (int t = 0; t < frames * hop && !diverged; ++t) {
                for (int b = 0; b < lanes; ++b)
                    if (!(got[static_cast<size_t>(b) * frames * hop + t] == want[static_cast<size_t>(b) * frames * hop + t]))
                        diverged = true;
                same += !diverged;
            }
        }
        std::cout << name << " x" << lanes << " at temperature " << temperature << ", tail cut up to " << tail_cut << ", " << gpu->kernel()
                  << ": " << same << " samples identical on every lane\n";
        EXPECT_GE(same, at_least) << name;
        EXPECT_EQ(gpu->position(), cpu->position());
    }
}

void chunking_changes_nothing(CudaKernel kernel, Precision precision = Precision::fp32) {
    std::mt19937 rng(3);
    auto model = std::make_shared<const Model>(random_model(named_shape("small"), 3));
    const int lanes = 3, hop = model->spec.frame_hop, frames = 12;
    const auto feats = random_features(frames, lanes, rng());
    std::vector<float> temp(static_cast<size_t>(frames) * lanes);
    for (size_t i = 0; i < temp.size(); ++i) temp[i] = i % 5 == 1 ? 0.0f : 0.8f;
    auto whole = make_cuda_generator(model, lanes, 5, precision, kernel);
    std::vector<float> a(static_cast<size_t>(lanes) * frames * hop, std::nanf(""));
    whole->generate(feats.data(), temp.data(), frames, a.data());
    auto parts = make_cuda_generator(model, lanes, 5, precision, kernel);
    std::vector<float> b(a.size(), std::nanf(""));
    for (int k = 0, n = 1; k < frames; k += n, n = n % 4 + 1) {
        const int m = std::min(n, frames - k);
        std::vector<float> part(static_cast<size_t>(lanes) * m * hop, std::nanf(""));
        parts->generate(&feats[static_cast<size_t>(k) * lanes * kFrameFeatures], &temp[static_cast<size_t>(k) * lanes], m, part.data());
        for (int l = 0; l < lanes; ++l)
            std::copy_n(&part[static_cast<size_t>(l) * m * hop], m * hop, &b[(static_cast<size_t>(l) * frames + k) * hop]);
    }
    EXPECT_EQ(a, b) << whole->kernel();
}

// The smallest run of every path (free-running and teacher-forced, two calls, two lanes), for
// compute-sanitizer's memcheck, racecheck and synccheck, which slow a kernel a thousandfold.
void tiny_shape_runs(CudaKernel kernel, std::vector<Precision> precisions = {Precision::fp32, Precision::fp16}) {
    std::mt19937 rng(21);
    auto model = std::make_shared<const Model>(random_model(named_shape("tiny"), 21));
    const int lanes = 2, frames = 2, hop = model->spec.frame_hop, A = model->spec.audio_classes;
    for (Precision p : precisions) {
        auto gpu = make_cuda_generator(model, lanes, 4, p, kernel);
        auto cpu = make_cpu_generator(std::make_shared<const Model>(with_precision(*model, p)), lanes, 4);
        std::vector<float> temp(static_cast<size_t>(frames) * lanes, 1.0f);
        for (int call = 0; call < 2; ++call) {
            const auto feats = random_features(frames, lanes, rng());
            std::vector<float> want(static_cast<size_t>(lanes) * frames * hop, std::nanf("")), got(want.size(), std::nanf(""));
            cpu->generate(feats.data(), temp.data(), frames, want.data());
            gpu->generate(feats.data(), temp.data(), frames, got.data());
            size_t same = 0;
            for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_TRUE(std::isfinite(got[i])) << gpu->kernel() << " sample " << i;
                same += got[i] == want[i];
            }
            EXPECT_GE(same, got.size() * 9 / 10) << gpu->kernel() << " " << precision_name(p) << " call " << call;
        }
        const auto feats = random_features(frames, lanes, rng());
        std::vector<int> inputs(static_cast<size_t>(lanes) * frames * hop);
        for (auto& c : inputs) c = static_cast<int>(rng() % static_cast<uint32_t>(A));
        std::vector<float> want(inputs.size() * A, std::nanf("")), got(want.size(), std::nanf(""));
        cpu->teacher_forced(feats.data(), inputs.data(), frames, want.data());
        gpu->teacher_forced(feats.data(), inputs.data(), frames, got.data());
        for (size_t i = 0; i < got.size(); ++i)
            ASSERT_LE(test::log_prob_error(got[i], want[i]), test::kMaxLogProbError)
                << gpu->kernel() << " " << precision_name(p) << " probability " << i;
    }
}

}  // namespace

// The generic kernel: one block per 1 to 8 lanes, the weights read from L2; it runs any shape.
TEST(GeneratorCuda, TeacherForcedMatchesCpuFp32) {
    REQUIRE_GPU();
    const auto k = CudaKernel::generic;
    compare_teacher_forced(named_shape("tiny"), 3, 1, Precision::fp32, k);
    compare_teacher_forced(named_shape("small"), 1, 2, Precision::fp32, k);
    compare_teacher_forced(named_shape("small"), 9, 3, Precision::fp32, k);
    compare_teacher_forced(shape(64, 128, 256, 20, 10), 4, 4, Precision::fp32, k);    // nv-wavenet medium
    compare_teacher_forced(shape(128, 256, 256, 16, 8), 2, 5, Precision::fp32, k);    // the widest R of nv-wavenet's
    compare_teacher_forced(shape(32, 128, 256, 30, 10), 300, 6, Precision::fp32, k);  // many lanes: 8 per block
}

TEST(GeneratorCuda, TeacherForcedMatchesCpuHalf) {
    REQUIRE_GPU();
    const auto k = CudaKernel::generic;
    for (Precision p : {Precision::fp16, Precision::bf16}) {
        compare_teacher_forced(named_shape("tiny"), 3, 11, p, k);
        compare_teacher_forced(named_shape("small"), 5, 12, p, k);
        compare_teacher_forced(shape(64, 128, 256, 20, 10), 1, 13, p, k);  // nv-wavenet medium, batch 1
        compare_teacher_forced(shape(128, 256, 256, 16, 8), 2, 14, p, k);
        compare_teacher_forced(shape(32, 128, 256, 30, 10), 100, 15, p, k);  // 4+ lanes per block
    }
}

TEST(GeneratorCuda, FreeRunningGivesTheCpuSamples) {
    REQUIRE_GPU();
    compare_free_running(CudaKernel::generic, 4000);
}

TEST(GeneratorCuda, FreeRunningWithATailCutGivesTheCpuSamples) {
    REQUIRE_GPU();
    compare_free_running(CudaKernel::generic, 4000, 1.0f, 0.4f);
}

TEST(GeneratorCuda, ChunkingDoesNotChangeTheSamples) {
    REQUIRE_GPU();
    chunking_changes_nothing(CudaKernel::generic);
}

TEST(GeneratorCuda, TinyShapeRunsClean) {
    REQUIRE_GPU();
    tiny_shape_runs(CudaKernel::generic);
}

// The cluster kernel: the weights in a thread-block cluster's shared memory (Hopper).
TEST(GeneratorCluster, TeacherForcedMatchesCpuFp32) {
    REQUIRE_GPU();
    const auto k = CudaKernel::cluster;
    compare_teacher_forced(named_shape("tiny"), 3, 21, Precision::fp32, k);
    compare_teacher_forced(named_shape("small"), 1, 22, Precision::fp32, k);
    compare_teacher_forced(named_shape("small"), 9, 23, Precision::fp32, k);
    compare_teacher_forced(named_shape("medium"), 1, 24, Precision::fp32, k);
    compare_teacher_forced(shape(64, 128, 256, 20, 10), 5, 25, Precision::fp32, k);
    compare_teacher_forced(shape(32, 128, 256, 30, 10), 40, 26, Precision::fp32, k);
}

TEST(GeneratorCluster, TeacherForcedMatchesCpuHalf) {
    REQUIRE_GPU();
    const auto k = CudaKernel::cluster;
    for (Precision p : {Precision::fp16, Precision::bf16}) {
        compare_teacher_forced(named_shape("tiny"), 2, 31, p, k);
        compare_teacher_forced(named_shape("small"), 6, 32, p, k);
        compare_teacher_forced(shape(64, 128, 256, 20, 10), 1, 33, p, k);  // nv-wavenet medium, batch 1
        compare_teacher_forced(named_shape("medium"), 8, 34, p, k);
        compare_teacher_forced(shape(32, 128, 256, 30, 10), 100, 35, p, k);
    }
}

TEST(GeneratorCluster, FreeRunningGivesTheCpuSamples) {
    REQUIRE_GPU();
    compare_free_running(CudaKernel::cluster, 1000, 0.5f);
}

TEST(GeneratorCluster, FreeRunningWithATailCutGivesTheCpuSamples) {
    REQUIRE_GPU();
    compare_free_running(CudaKernel::cluster, 1000, 0.5f, 0.4f);
}

TEST(GeneratorCluster, ChunkingDoesNotChangeTheSamples) {
    REQUIRE_GPU();
    chunking_changes_nothing(CudaKernel::cluster);
}

TEST(GeneratorCluster, TinyShapeRunsClean) {
    REQUIRE_GPU();
    tiny_shape_runs(CudaKernel::cluster);
}

// The tensor kernel: the generic kernel's sample loop with its products on tensor cores, 16 or 32
// lanes a block as the products' N dimension, the weights in fp16 or bf16 and each activation
// split into parts of that type (mma_layout.h).
TEST(GeneratorTensor, TeacherForcedMatchesCpuHalf) {
    REQUIRE_GPU();
    const auto k = CudaKernel::tensor;
    for (Precision p : {Precision::fp16, Precision::bf16}) {
        compare_teacher_forced(named_shape("tiny"), 3, 41, p, k);           // padded tiles, one partial block
        compare_teacher_forced(named_shape("small"), 17, 42, p, k);         // two blocks, the second of one lane
        compare_teacher_forced(shape(64, 128, 256, 20, 10), 16, 43, p, k);  // nv-wavenet medium, one whole block
        compare_teacher_forced(named_shape("medium"), 24, 44, p, k);        // with the excitation, two blocks
        compare_teacher_forced(shape(128, 256, 256, 16, 8), 16, 45, p, k);  // the widest R of nv-wavenet's
        compare_teacher_forced(shape(32, 128, 256, 30, 10), 48, 46, p, k);  // three whole blocks
    }
}

TEST(GeneratorTensor, FreeRunningGivesTheCpuSamples) {
    REQUIRE_GPU();
    compare_free_running(CudaKernel::tensor, 1000, 0.5f, 0.0f, Precision::fp16);
    compare_free_running(CudaKernel::tensor, 1000, 0.5f, 0.4f, Precision::bf16);
}

TEST(GeneratorTensor, ChunkingDoesNotChangeTheSamples) {
    REQUIRE_GPU();
    chunking_changes_nothing(CudaKernel::tensor, Precision::fp16);
}

TEST(GeneratorTensor, TinyShapeRunsClean) {
    REQUIRE_GPU();
    tiny_shape_runs(CudaKernel::tensor, {Precision::fp16, Precision::bf16});
}

// The automatic choice takes it for many lanes in half precision, never in fp32, which it refuses.
TEST(GeneratorTensor, TakesManyHalfPrecisionLanesAndRefusesFp32) {
    REQUIRE_GPU();
    auto model = std::make_shared<const Model>(random_model(named_shape("medium"), 5));
    auto g = make_cuda_generator(model, 1024, 1, Precision::fp16);
    EXPECT_NE(g->kernel().find("tensor"), std::string::npos) << g->kernel();
    EXPECT_EQ(make_cuda_generator(model, 1024, 1, Precision::fp32)->kernel().find("tensor"), std::string::npos);
    EXPECT_THROW(make_cuda_generator(model, 16, 1, Precision::fp32, CudaKernel::tensor), std::runtime_error);
}

// A shape no cluster holds is refused by name; the automatic choice then takes the generic kernel.
TEST(GeneratorCluster, AShapeNoClusterHoldsFallsBackToTheGenericKernel) {
    REQUIRE_GPU();
    auto model = std::make_shared<const Model>(random_model(shape(256, 256, 256, 30, 10), 3));
    EXPECT_THROW(make_cuda_generator(model, 1, 1, Precision::fp32, CudaKernel::cluster), std::runtime_error);
    auto g = make_cuda_generator(model, 1, 1, Precision::fp32);
    EXPECT_NE(g->kernel().find("generic"), std::string::npos) << g->kernel();
}

// A batch whose state cannot fit on the device is refused with the reason, before any work.
TEST(GeneratorCuda, RefusesABatchThatCannotFit) {
    REQUIRE_GPU();
    auto model = std::make_shared<const Model>(random_model(named_shape("medium"), 1));
    try {
        make_cuda_generator(model, 400000, 1);
        FAIL() << "400000 lanes of the medium shape were accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("device memory"), std::string::npos) << e.what();
    }
    // The device is still usable afterwards.
    auto ok = make_cuda_generator(model, 2, 1);
    EXPECT_EQ(ok->backend(), "cuda");
}
