// Training parity: the network PyTorch trains (training/wavenet.py) and the C++ CPU reference
// that plays it are the same function. For seeded random weights, written by the training code's
// own exporter, and a fixed random input sequence, the CPU reference's teacher-forced output
// distributions equal PyTorch's (computed in float64) to 1e-4 relative, for every probability.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/generator.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

namespace {

using namespace wavecast;
using harness::Process;

// widen_to: the file the engine plays is the model widened to that shape (training/widen.py),
// the distributions it must match the narrow model's own.
void check_parity(const std::string& shape, int seed, const std::string& widen_to = "") {
    TempDir dir;
    std::vector<std::string> args = {std::string(WAVECAST_SOURCE_DIR) + "/training/parity_reference.py",
                                     "--shape",
                                     shape,
                                     "--seed",
                                     std::to_string(seed),
                                     "--frames",
                                     "12",
                                     "--lanes",
                                     "3",
                                     "--out",
                                     dir.path.string()};
    if (!widen_to.empty()) args.insert(args.end(), {"--widen-to", widen_to});
    Process ref(args, {}, dir.file("reference.log"));
    ASSERT_EQ(ref.wait(120).value_or(-1), 0) << ref.log();

    auto model = std::make_shared<const Model>(load_model(dir.file("model.safetensors")));
    ASSERT_EQ(model->spec.shape_name(), named_shape(widen_to.empty() ? shape : widen_to).shape_name());
    auto file = read_safetensors(dir.file("reference.safetensors"));
    const auto& feats = file.tensors.at("features");
    const auto& inst = file.tensors.at("instruments");
    const auto& inputs_f = file.tensors.at("inputs");
    const auto& want = file.tensors.at("probs");
    const int frames = static_cast<int>(feats.shape[0]), lanes = static_cast<int>(feats.shape[1]);
    const int A = model->spec.audio_classes, T = frames * model->spec.frame_hop;
    ASSERT_EQ(want.shape, (std::vector<int64_t>{lanes, T, A}));

    std::vector<int> inputs(inputs_f.data.begin(), inputs_f.data.end());
    auto gen = make_cpu_generator(model, lanes, 1);
    gen->set_instruments(inst.data.data());
    std::vector<float> probs(want.data.size(), std::nanf(""));  // poisoned: every value must be written
    gen->teacher_forced(feats.data.data(), inputs.data(), frames, probs.data());

    // |log p - log q| <= 1e-4 bounds the relative error of every probability, the rare classes
    // included; a NaN fails the comparison.
    double worst = 0, below_1e6 = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
        const double p = probs[i], q = want.data[i];
        ASSERT_TRUE(std::isfinite(p) && p > 0) << "probability " << i << " is " << p;
        const double err = std::abs(std::log(p) - std::log(q));
        ASSERT_LE(err, 1e-4) << shape << ": lane " << i / (static_cast<size_t>(T) * A) << " sample " << i / A % T << " class " << i % A
                             << ": C++ " << p << ", PyTorch " << q;
        worst = std::max(worst, err);
        below_1e6 += q < 1e-6;
    }
    std::cout << shape << ": " << probs.size() << " probabilities, worst |log p - log q| " << worst << " (" << below_1e6
              << " below 1e-6)\n";
}

}  // namespace

TEST(Parity, SmallShapeMatchesPyTorch) { check_parity("small", 1); }
TEST(Parity, TinyShapeMatchesPyTorch) { check_parity("tiny", 2); }
TEST(Parity, MediumShapeMatchesPyTorch) { check_parity("medium", 3); }
TEST(Parity, SmallWidenedToMediumPlaysTheSmallModelsDistributions) { check_parity("small", 4, "medium"); }
