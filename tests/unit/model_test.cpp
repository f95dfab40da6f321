#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/model.h"
#include "tests/unit/temp_dir.h"

using namespace wavecast;

namespace {

std::string write_tiny(const TempDir& dir, const std::string& name = "m.safetensors") {
    const std::string path = dir.file(name);
    save_model(path, random_model(named_shape("tiny"), 3));
    return path;
}

// Loads `path`, expecting a ModelError whose message names the path and contains `reason`.
void expect_refused(const std::string& path, const std::string& reason) {
    try {
        load_model(path);
        FAIL() << "loaded a bad model file; expected: " << reason;
    } catch (const ModelError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    }
}

}  // namespace

TEST(Model, SavedModelLoadsBackIdentically) {
    TempDir dir;
    const Model a = random_model(named_shape("tiny"), 3);
    save_model(dir.file("m.safetensors"), a);
    const Model b = load_model(dir.file("m.safetensors"));
    EXPECT_EQ(b.spec.shape_name(), a.spec.shape_name());
    EXPECT_TRUE(b.spec.random_weights);
    EXPECT_EQ(b.spec.instruments.size(), a.spec.instruments.size());
    EXPECT_EQ(b.spec.instruments[1].program, a.spec.instruments[1].program);
    EXPECT_EQ(b.weights.embed, a.weights.embed);
    EXPECT_EQ(b.weights.layers[3].skip_w, a.weights.layers[3].skip_w);
    EXPECT_EQ(b.weights.out2_b, a.weights.out2_b);
    EXPECT_NE(b.spec.provenance.find("seeded random"), std::string::npos);
}

TEST(Model, RejectsMissingFile) { expect_refused("/nonexistent/model.safetensors", "cannot open"); }

TEST(Model, RejectsTruncatedModelFile) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size - 100);
    expect_refused(path, "truncated");
    std::filesystem::resize_file(path, 5);
    expect_refused(path, "truncated");
}

TEST(Model, RejectsMissingTensor) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    f.tensors.erase("layers.2.res.weight");
    write_safetensors(path, f);
    expect_refused(path, "missing tensor 'layers.2.res.weight'");
}

TEST(Model, RejectsMisShapedTensor) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    auto& t = f.tensors["out1.weight"];
    t.shape = {t.shape[1], t.shape[0]};
    write_safetensors(path, f);
    expect_refused(path, "tensor 'out1.weight' has shape");
}

TEST(Model, RejectsUnexpectedTensor) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    f.tensors["layers.99.conv.weight"] = Tensor{{2}, {1.0f, 2.0f}};
    write_safetensors(path, f);
    expect_refused(path, "unexpected tensor 'layers.99.conv.weight'");
}

TEST(Model, RejectsUnknownArchitecture) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    auto meta = nlohmann::json::parse(f.metadata["wavecast"]);
    meta["architecture"] = "transformer-9000";
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "unknown architecture 'transformer-9000'");
    f.metadata.clear();
    write_safetensors(path, f);
    expect_refused(path, "not a wavecast model");
}

TEST(Model, RejectsBadHyperParameters) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    auto meta = nlohmann::json::parse(f.metadata["wavecast"]);
    meta["output"] = "logistic_mixture";
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "unsupported output kind");
    meta["output"] = "mulaw";
    meta["layers"] = "twenty";
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "lacks integer 'layers'");
}

TEST(Model, RejectsNonFiniteWeights) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    f.tensors["embed"].data[5] = std::nanf("");
    write_safetensors(path, f);
    expect_refused(path, "non-finite");
}

TEST(Model, RejectsCorruptHeader) {
    TempDir dir;
    const std::string path = dir.file("bad.safetensors");
    std::ofstream out(path, std::ios::binary);
    const uint64_t len = 10;
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << "{not json!";
    out.close();
    expect_refused(path, "not valid JSON");
}

TEST(Model, NamedShapesMatchNvWavenetMedium) {
    const ModelSpec m = named_shape("medium");
    EXPECT_EQ(m.residual_channels, 64);
    EXPECT_EQ(m.skip_channels, 128);
    EXPECT_EQ(m.audio_classes, 256);
    EXPECT_EQ(m.layers, 20);
    EXPECT_EQ(m.dilation(9), 512);
    EXPECT_EQ(m.dilation(10), 1);
    EXPECT_THROW(named_shape("huge"), std::invalid_argument);
}

TEST(Model, ExcitationIsInTheFileAndOptional) {
    TempDir dir;
    const Model a = random_model(named_shape("tiny"), 3);
    ASSERT_EQ(a.spec.excitation_harmonics, 2);
    const std::string path = dir.file("m.safetensors");
    save_model(path, a);
    const Model b = load_model(path);
    EXPECT_EQ(b.spec.excitation_harmonics, 2);
    EXPECT_EQ(b.weights.excitation_w, a.weights.excitation_w);
    ASSERT_EQ(b.weights.excitation_w.size(), static_cast<size_t>(a.spec.cond_channels()) * 4);
    EXPECT_EQ(b.weights.excitation_in_w, a.weights.excitation_in_w);
    ASSERT_EQ(b.weights.excitation_in_w.size(), static_cast<size_t>(a.spec.residual_channels) * 4);

    // A file written before the excitation (no key, no tensor) is a model without one.
    SafetensorsFile f = read_safetensors(path);
    auto meta = nlohmann::json::parse(f.metadata["wavecast"]);
    meta.erase("excitation_harmonics");
    f.metadata["wavecast"] = meta.dump();
    f.tensors.erase("excitation.weight");
    f.tensors.erase("excitation.input.weight");
    write_safetensors(path, f);
    EXPECT_EQ(load_model(path).spec.excitation_harmonics, 0);

    // The key without the tensor, or harmonics beyond the limit, are refused.
    meta["excitation_harmonics"] = 2;
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "missing tensor 'excitation.weight'");
    meta["excitation_harmonics"] = 9;
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "excitation_harmonics must be 0..8");
}

// Releases (the silence gate's hold): what the file says; else the house table's for the same
// program and kit flag (the shipped models predate the field); else the default; never a
// release that is not a number or not in 0..30 s.
TEST(Model, AnInstrumentsReleaseIsTheFilesElseTheHouseTablesElseTheDefault) {
    TempDir dir;
    const std::string path = write_tiny(dir);
    SafetensorsFile f = read_safetensors(path);
    auto meta = nlohmann::json::parse(f.metadata["wavecast"]);
    auto& table = meta["instruments"];  // the file's table size stays: the embedding has a row each
    ASSERT_GE(table.size(), 5u);
    table[0] = {{"name", "own"}, {"program", 89}, {"release_s", 0.75}};
    table[1] = {{"name", "pad"}, {"program", 89}};
    table[2] = {{"name", "kit"}, {"program", 0}, {"drums", true}};
    table[3] = {{"name", "organ"}, {"program", 16}};
    table[4] = {{"name", "brush kit"}, {"program", 40}, {"drums", true}};
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    const auto& inst = load_model(path).spec.instruments;
    float house_pad = -1, house_kit = -1;
    for (const Instrument& i : house_instruments()) {
        if (i.program == 89 && !i.drums) house_pad = i.release_s;
        if (i.program == 0 && i.drums) house_kit = i.release_s;
    }
    EXPECT_FLOAT_EQ(inst[0].release_s, 0.75f);
    EXPECT_FLOAT_EQ(inst[1].release_s, house_pad);
    EXPECT_FLOAT_EQ(inst[2].release_s, house_kit);
    EXPECT_FLOAT_EQ(inst[3].release_s, kDefaultRelease);
    EXPECT_FLOAT_EQ(inst[4].release_s, kDefaultKitRelease);

    meta["instruments"][0]["release_s"] = 31;
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "instrument 'own' has a release_s outside 0..30 s");
    meta["instruments"][0]["release_s"] = "long";
    f.metadata["wavecast"] = meta.dump();
    write_safetensors(path, f);
    expect_refused(path, "instrument 'own': release_s is not a number");
}

TEST(Model, TheHouseTableGivesEveryInstrumentARelease) {
    for (const Instrument& i : house_instruments()) {
        EXPECT_GT(i.release_s, 0.0f) << i.name;
        EXPECT_LE(i.release_s, i.drums ? kDefaultKitRelease : kDefaultRelease) << i.name << ": the default is the house's longest";
    }
    // Saved and loaded back, a release is the file's.
    TempDir dir;
    Model m = random_model(named_shape("tiny"), 3);
    m.spec.instruments[2].release_s = 0.125f;
    save_model(dir.file("m.safetensors"), m);
    EXPECT_FLOAT_EQ(load_model(dir.file("m.safetensors")).spec.instruments[2].release_s, 0.125f);
}

TEST(Model, PreEmphasisIsTheFilesAndNoneWhereItDoesNotSay) {
    TempDir dir;
    Model m = random_model(named_shape("tiny"), 3);
    m.spec.pre_emphasis = 0.85f;
    const std::string path = dir.file("m.safetensors");
    save_model(path, m);
    EXPECT_FLOAT_EQ(load_model(path).spec.pre_emphasis, 0.85f);

    SafetensorsFile f = read_safetensors(path);
    auto meta = nlohmann::json::parse(f.metadata["wavecast"]);
    auto with = [&](nlohmann::json value) {
        if (value.is_null()) meta.erase("pre_emphasis");
        else meta["pre_emphasis"] = value;
        f.metadata["wavecast"] = meta.dump();
        write_safetensors(path, f);
    };
    with(nullptr);  // a file written before pre-emphasis
    EXPECT_EQ(load_model(path).spec.pre_emphasis, 0.0f);
    with(1.0);  // de-emphasis would integrate the noise without bound
    expect_refused(path, "pre_emphasis must be at least 0 and below 1");
    with(-0.5);
    expect_refused(path, "pre_emphasis must be at least 0 and below 1");
    with("0.85");
    expect_refused(path, "metadata 'pre_emphasis' is not a number");
}
