// The training tool chain end to end on real components: the composer's score exported by the
// real wavecastd, rendered lane by lane through FluidSynth with the FluidR3 GM soundfont, then a
// few steps of PyTorch training, resumed, and the export loaded by the engine's own loader.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/emphasis.h"
#include "kernels/frame_features.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"
#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

namespace {

using namespace wavecast;
using harness::Process;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string only_file(const std::filesystem::path& dir) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().string());
    EXPECT_EQ(files.size(), 1u) << dir;
    return files.empty() ? "" : files[0];
}

}  // namespace

TEST(Training, DatasetTrainResumeExport) {
    TempDir dir;
    save_model(dir.file("m.safetensors"), random_model(named_shape("small"), 1));
    std::ofstream(dir.file("c.toml")) << "[daemon]\nmodel = \"m.safetensors\"\nstyles = \"" << WAVECAST_SOURCE_DIR
                                      << "/config/styles\"\n[[stream]]\n";
    auto dataset = [&](const std::string& out) {
        Process p({std::string(WAVECAST_SOURCE_DIR) + "/training/dataset.py", "--out", dir.file(out), "--styles", "techno", "--seeds", "4",
                   "--seconds", "4", "--lanes", "2", "--config", dir.file("c.toml"), "--wavecastd", WAVECASTD_BIN},
                  {}, dir.file(out + ".log"));
        EXPECT_EQ(p.wait(120).value_or(-1), 0) << p.log();
        return p.log();
    };
    EXPECT_NE(dataset("a").find("1 made"), std::string::npos);
    EXPECT_NE(dataset("a").find("1 cached"), std::string::npos) << "an item already made is not made again";
    dataset("b");
    const std::string item = only_file(dir.file("a"));
    EXPECT_EQ(slurp(item), slurp(only_file(dir.file("b")))) << "the same seed gives the same bytes";

    // Audio and frames line up: 4 s at the model's 16 kHz in 100 frames a second, and a lane
    // sounds while its frames say it plays, louder than while they say it rests (techno's drums
    // play from the first bar; its bass may wait for a later section).
    auto file = read_safetensors(item);
    const auto& audio = file.tensors.at("audio");
    const auto& feats = file.tensors.at("features");
    ASSERT_EQ(audio.shape, (std::vector<int64_t>{2, 64000}));
    ASSERT_EQ(feats.shape, (std::vector<int64_t>{400, 2, kFrameFeatures}));
    for (int lane = 0; lane < 2; ++lane) {
        double playing = 0, silent = 0;
        int n_playing = 0, n_silent = 0;
        for (int k = 0; k < 400; ++k) {
            const bool active = feats.data[(static_cast<size_t>(k) * 2 + lane) * kFrameFeatures + kActiveOffset] > 0;
            double e = 0;
            for (int i = 0; i < 160; ++i) e += std::pow(audio.data[static_cast<size_t>(lane) * 64000 + k * 160 + i], 2);
            (active ? playing : silent) += e;
            ++(active ? n_playing : n_silent);
        }
        if (lane == 0) {
            ASSERT_GT(n_playing, 10) << "the drums do not play";
        }
        if (n_playing == 0) continue;
        EXPECT_GT(std::sqrt(playing / (n_playing * 160.0)), 1e-3) << "lane " << lane << " is silent while it plays";
        if (n_silent > 0) {
            EXPECT_LT(silent / n_silent, playing / n_playing) << "lane " << lane;
        }
    }

    // Training: a few steps, then resumed from the checkpoint, then exported.
    auto train = [&](const std::string& log) {
        Process p(
            {std::string(WAVECAST_SOURCE_DIR) + "/training/train.py", "--data", dir.file("a"), "--shape", "tiny", "--minutes", "0.05",
             "--batch", "2", "--frames", "4", "--threads", "1", "--run", dir.file("run"), "--export", dir.file("trained.safetensors")},
            {}, dir.file(log));
        EXPECT_EQ(p.wait(180).value_or(-1), 0) << p.log();
        return p.log();
    };
    train("train1.log");
    const Model first = load_model(dir.file("trained.safetensors"));
    const auto steps1 = nlohmann::json::parse(first.spec.provenance)["steps"].get<int>();
    EXPECT_GT(steps1, 0);
    EXPECT_FALSE(first.spec.random_weights);
    EXPECT_NE(train("train2.log").find("resumed"), std::string::npos);
    const Model second = load_model(dir.file("trained.safetensors"));
    const auto prov = nlohmann::json::parse(second.spec.provenance);
    EXPECT_GT(prov["steps"].get<int>(), steps1) << "the second run went on from the first";
    EXPECT_TRUE(prov["loss"].is_number()) << prov.dump();
    EXPECT_EQ(second.spec.shape_name(), named_shape("tiny").shape_name());
    EXPECT_NE(first.weights.embed, second.weights.embed);

    // A pack of the same items (what the GPU bundle carries) trains exactly as the folder does.
    Process packer({std::string(WAVECAST_SOURCE_DIR) + "/training/pack.py", dir.file("a"), "--out", dir.file("a.pack"), "--classes",
                    std::to_string(named_shape("tiny").audio_classes)},
                   {}, dir.file("pack.log"));
    ASSERT_EQ(packer.wait(60).value_or(-1), 0) << packer.log();
    EXPECT_LT(std::filesystem::file_size(dir.file("a.pack")), std::filesystem::file_size(item) / 10) << "the pack is not compact";
    save_model(dir.file("tiny-start.safetensors"), random_model(named_shape("tiny"), 5));
    auto steps = [&](const std::string& data, const std::string& name, std::vector<std::string> extra = {}, int status = 0) {
        std::vector<std::string> cmd{std::string(WAVECAST_SOURCE_DIR) + "/training/train.py",
                                     "--data",
                                     data,
                                     "--shape",
                                     "tiny",
                                     "--minutes",
                                     "5",
                                     "--steps",
                                     "3",
                                     "--batch",
                                     "2",
                                     "--frames",
                                     "4",
                                     "--threads",
                                     "1",
                                     "--run",
                                     dir.file(name),
                                     "--init",
                                     dir.file("tiny-start.safetensors"),
                                     "--export",
                                     dir.file(name + ".safetensors")};
        cmd.insert(cmd.end(), extra.begin(), extra.end());
        Process p(cmd, {}, dir.file(name + ".log"));
        EXPECT_EQ(p.wait(180).value_or(-1), status) << p.log();
        return status == 0 ? load_model(dir.file(name + ".safetensors")) : Model{};
    };
    const Model from_folder = steps(dir.file("a"), "folder"), from_pack = steps(dir.file("a.pack"), "pack");
    EXPECT_EQ(nlohmann::json::parse(from_pack.spec.provenance)["steps"], 3);
    EXPECT_NE(from_pack.weights.embed, random_model(named_shape("tiny"), 5).weights.embed) << "the steps changed nothing";
    EXPECT_EQ(from_folder.weights.embed, from_pack.weights.embed) << "three steps on the pack differ from three on the folder";
    EXPECT_EQ(from_folder.weights.out2_w, from_pack.weights.out2_w);

    // Trained near full scale and pre-emphasised: the pack made so trains as the folder does, the
    // model file says what the engine must undo, and a pack made otherwise is refused.
    const std::vector<std::string> shaped{"--pre-emphasis", "0.85", "--level", "0.9"};
    Process shaped_packer({std::string(WAVECAST_SOURCE_DIR) + "/training/pack.py", dir.file("a"), "--out", dir.file("shaped.pack"),
                           "--classes", std::to_string(named_shape("tiny").audio_classes), "--pre-emphasis", "0.85", "--level", "0.9"},
                          {}, dir.file("shaped-pack.log"));
    ASSERT_EQ(shaped_packer.wait(60).value_or(-1), 0) << shaped_packer.log();
    const Model shaped_folder = steps(dir.file("a"), "shaped-folder", shaped),
                shaped_pack = steps(dir.file("shaped.pack"), "shaped-pack", shaped);
    EXPECT_EQ(shaped_folder.weights.embed, shaped_pack.weights.embed);
    EXPECT_NE(shaped_folder.weights.embed, from_folder.weights.embed) << "the shaped audio trained as the plain audio does";
    EXPECT_FLOAT_EQ(shaped_pack.spec.pre_emphasis, 0.85f);
    EXPECT_EQ(from_pack.spec.pre_emphasis, 0.0f);
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(shaped_pack.spec.provenance)["level"].get<double>(), 0.9);
    steps(dir.file("a.pack"), "mismatch", shaped, 1);
    const std::string refusal = slurp(dir.file("mismatch.log"));
    EXPECT_NE(refusal.find("a.pack: its audio is packed with pre_emphasis 0.0, the training asks for 0.85"), std::string::npos) << refusal;
}

// What the network is trained to play (training/wavenet.py training_audio), the engine's output
// filter (kernels/emphasis.h) gives back as the music, at the level it was trained at.
TEST(Training, TheEngineUndoesWhatTheTrainingPreEmphasised) {
    TempDir dir;
    const std::string script = dir.file("shape.py");
    std::ofstream(script) << R"(import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, wavenet
rng = np.random.default_rng()
t = np.arange(8000)
x = np.stack([0.3 * np.sin(0.02 * t) + 0.05 * rng.uniform(-1, 1, t.size), 0.1 * np.sin(0.3 * t)])
x.astype(np.float32).tofile(sys.argv[2])
wavenet.training_audio(x, 0.85, 0.9).astype(np.float32).tofile(sys.argv[3])
)";
    Process p({"/usr/bin/python3", script, std::string(WAVECAST_SOURCE_DIR) + "/training", dir.file("x.f32"), dir.file("shaped.f32")}, {},
              dir.file("shape.log"));
    ASSERT_EQ(p.wait(60).value_or(-1), 0) << p.log();
    auto floats = [&](const std::string& path) {
        const std::string bytes = slurp(path);
        std::vector<float> v(bytes.size() / sizeof(float));
        std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
        return v;
    };
    const std::vector<float> x = floats(dir.file("x.f32"));
    std::vector<float> y = floats(dir.file("shaped.f32"));
    ASSERT_EQ(x.size(), 16000u);
    ASSERT_EQ(y.size(), x.size());
    DeEmphasis filter(2);
    filter.apply(0.85f, 8000, y.data());
    for (int lane = 0; lane < 2; ++lane) {
        float peak = 0;
        for (int i = 0; i < 8000; ++i) peak = std::max(peak, std::abs(x[lane * 8000 + i]));
        for (int i = 0; i < 8000; ++i)
            ASSERT_NEAR(y[lane * 8000 + i], x[lane * 8000 + i] * 0.9f / peak, 1e-5f) << "lane " << lane << " sample " << i;
    }
}

// The excitation counts a note's phase from the first sample of the frame it starts in, so the
// training audio must start every note's sound exactly there, whatever the frame: FluidSynth
// starts notes only on its 64-sample blocks, which a 160-sample frame is not a whole number of.
// The same note struck in an even and an odd frame must be the same samples, 160 apart, silent
// before the frame's first sample and sounding from it.
TEST(Training, EveryNoteSoundsFromTheFirstSampleOfItsFrame) {
    TempDir dir;
    const std::string script = dir.file("check.py");
    std::ofstream(script) << R"(import sys, tempfile
sys.path.insert(0, sys.argv[1])
import dataset, numpy as np
with tempfile.TemporaryDirectory() as tmp:
    r = dataset.FrameRenderer(16000, 160, tmp)
    for program, drums, pitch in ((33, False, 40), (0, False, 60), (0, True, 38)):
        inst = {"program": program, "drums": drums}
        a = r.render([(10, 40, pitch, 100)], inst, 12000, tmp + "/a.mid")
        b = r.render([(11, 41, pitch, 100)], inst, 12000, tmp + "/b.mid")
        same = float(np.max(np.abs(a[1600:10000] - b[1760:10160])))
        before = float(np.max(np.abs(a[:1600])))
        after = float(np.max(np.abs(a[1600:1632])))
        print(program, drums, same, before, after)
        if not (same == 0.0 and before < 1e-6 and after > 1e-4):
            sys.exit(f"program {program}: struck a frame later differs by {same}; before its frame {before}, in its first 32 samples {after}")
print("aligned")
)";
    Process p({"/usr/bin/python3", script, std::string(WAVECAST_SOURCE_DIR) + "/training"}, {}, dir.file("check.log"));
    EXPECT_EQ(p.wait(120).value_or(-1), 0) << p.log();
    EXPECT_NE(p.log().find("aligned"), std::string::npos) << p.log();
}
