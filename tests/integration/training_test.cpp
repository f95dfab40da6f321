// The training tool chain end to end on real components: the composer's score exported by the
// real wavecastd, rendered lane by lane through FluidSynth with the FluidR3 GM soundfont, then a
// few steps of PyTorch training, resumed, and the export loaded by the engine's own loader.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../unit/temp_dir.h"
#include "frame_features.h"
#include "harness.h"
#include "model.h"
#include "safetensors.h"

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
        Process p({std::string(WAVECAST_SOURCE_DIR) + "/training/dataset.py", "--out", dir.file(out), "--styles", "techno", "--seeds",
                   "4", "--seconds", "4", "--lanes", "2", "--config", dir.file("c.toml"), "--wavecastd", WAVECASTD_BIN},
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
        Process p({std::string(WAVECAST_SOURCE_DIR) + "/training/train.py", "--data", dir.file("a"), "--shape", "tiny", "--minutes",
                   "0.05", "--batch", "2", "--frames", "4", "--threads", "1", "--run", dir.file("run"), "--export",
                   dir.file("trained.safetensors")},
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
}
