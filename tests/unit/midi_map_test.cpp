// MIDI mapping files: what each message becomes, the curves, learn's bindings, writing the
// bindings back, and files refused with the path, the line and the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "control/midi_map.h"
#include "tests/unit/temp_dir.h"
#include "util/toml_util.h"

using namespace wavecast;
using json = nlohmann::json;

namespace {

std::string write(const TempDir& dir, const std::string& text) {
    const std::string path = dir.file("map.toml");
    std::ofstream(path) << text;
    return path;
}

// The requests one message gives, as the wire has them.
std::vector<json> requests(const MidiMap& m, std::vector<uint8_t> bytes) {
    std::vector<json> out;
    for (const auto& c : m.commands(bytes.data(), bytes.size(), "main")) out.push_back(protocol::to_json(c));
    return out;
}

const char* kMap = R"(
[[cc]]
cc = 74
param = "temperature"
min = 0.2
max = 1.4

[[cc]]
cc = 75
channel = 2
param = "tempo"
min = 60
max = 240
curve = "exp"

[[cc]]
cc = 76
param = "key"

[[program]]
program = 3
style = "house"
crossfade = 8
now = true

[[keys]]
low = 36
high = 47

[[cue]]
note = 40
channel = 10
cue = "fill"

[[cue]]
note = 62
cue = "next_section"
)";

}  // namespace

TEST(MidiMap, MapsControlChangesProgramChangesAndKeysToCommands) {
    TempDir dir;
    const MidiMap m = MidiMap::load(write(dir, kMap));
    // CC 74 on any channel: 0 -> min, 127 -> max, in between on a straight line.
    EXPECT_EQ(requests(m, {0xB0, 74, 0}), (std::vector<json>{{{"cmd", "set"}, {"stream", "main"}, {"params", {{"temperature", 0.2}}}}}));
    auto value = [&](std::vector<uint8_t> msg, const char* param) { return requests(m, msg).at(0)["params"][param].get<double>(); };
    EXPECT_NEAR(value({0xB5, 74, 127}, "temperature"), 1.4, 1e-12);
    EXPECT_NEAR(value({0xB0, 74, 64}, "temperature"), 0.2 + 1.2 * 64 / 127.0, 1e-12);
    // CC 75 only on channel 2 (status 0xB1), exponential: the middle is the geometric mean.
    EXPECT_TRUE(requests(m, {0xB0, 75, 64}).empty());
    EXPECT_NEAR(value({0xB1, 75, 0}, "tempo"), 60, 1e-9);
    EXPECT_NEAR(value({0xB1, 75, 127}, "tempo"), 240, 1e-9);
    EXPECT_NEAR(value({0xB1, 75, 127 / 2}, "tempo"), 60 * std::pow(4.0, 63 / 127.0), 1e-9);
    // A whole-number parameter gets whole numbers; the default range is the parameter's own.
    EXPECT_EQ(value({0xB0, 76, 127}, "key"), 11);
    EXPECT_EQ(value({0xB0, 76, 0}, "key"), -1);
    EXPECT_EQ(value({0xB0, 76, 70}, "key"), std::round(-1 + 12 * 70 / 127.0));
    // Program change 3 -> house with its crossfade; other programs, nothing.
    EXPECT_EQ(requests(m, {0xC0, 3}),
              (std::vector<json>{{{"cmd", "style"}, {"stream", "main"}, {"name", "house"}, {"now", true}, {"crossfade", 8.0}}}));
    EXPECT_TRUE(requests(m, {0xC0, 4}).empty());
    // A note-on within 36..47 sets the key to its pitch class; a note-on of velocity 0 is a
    // note-off; notes outside the range and note-offs do nothing.
    EXPECT_EQ(value({0x90, 43, 100}, "key"), 7);
    EXPECT_TRUE(requests(m, {0x90, 43, 0}).empty());
    EXPECT_TRUE(requests(m, {0x80, 43, 64}).empty());
    EXPECT_TRUE(requests(m, {0x90, 60, 100}).empty());
    // Cue notes: E2 (40) on channel 10 a fill, not the key it would set elsewhere; D4 (62) on any
    // channel the next section.
    EXPECT_EQ(requests(m, {0x99, 40, 100}), (std::vector<json>{{{"cmd", "cue"}, {"stream", "main"}, {"what", "fill"}}}));
    EXPECT_EQ(value({0x90, 40, 100}, "key"), 4);
    EXPECT_EQ(requests(m, {0x93, 62, 1}), (std::vector<json>{{{"cmd", "cue"}, {"stream", "main"}, {"what", "next_section"}}}));
    EXPECT_TRUE(requests(m, {0x93, 62, 0}).empty());
    // Unmapped CCs, clock bytes, truncated messages, data bytes where a status should be: nothing.
    EXPECT_TRUE(requests(m, {0xB0, 1, 64}).empty());
    EXPECT_TRUE(requests(m, {0xF8}).empty());
    EXPECT_TRUE(requests(m, {0xB0, 74}).empty());
    EXPECT_TRUE(requests(m, {0x40, 74, 3}).empty());
}

TEST(MidiMap, EveryCommandItGivesParsesAsARequest) {
    TempDir dir;
    const MidiMap m = MidiMap::load(write(dir, kMap));
    for (int status : {0x80, 0x90, 0xB0, 0xB1, 0xC0, 0xC1, 0xE0})
        for (int d1 = 0; d1 < 128; ++d1)
            for (int d2 : {0, 1, 63, 64, 126, 127})
                for (const json& r : requests(m, {static_cast<uint8_t>(status), static_cast<uint8_t>(d1), static_cast<uint8_t>(d2)})) {
                    json id;
                    EXPECT_NO_THROW(protocol::parse(r.dump(), id)) << r.dump();
                }
}

TEST(MidiMap, LearnReplacesTheBindingOfThatControl) {
    MidiMap m;
    m.bind({0, 20, Param::temperature, 0, 1, MidiMap::Curve::linear});
    m.bind({1, 21, Param::intensity, 0, 1, MidiMap::Curve::linear});
    m.bind({1, 20, Param::gain_db, -12, 0, MidiMap::Curve::linear});  // CC 20 on channel 1 was the any-channel one's
    ASSERT_EQ(m.cc.size(), 2u);
    EXPECT_EQ(requests(m, {0xB0, 20, 127}).at(0)["params"], json({{"gain_db", 0.0}}));
    EXPECT_TRUE(requests(m, {0xB1, 20, 127}).empty());
    EXPECT_EQ(requests(m, {0xB0, 21, 0}).at(0)["params"], json({{"intensity", 0.0}}));
}

TEST(MidiMap, WrittenBindingsReadBackTheSame) {
    TempDir dir;
    MidiMap m = MidiMap::load(write(dir, kMap));
    m.bind({3, 10, Param::masking_db, -30, 10, MidiMap::Curve::linear});
    const std::string path = dir.file("saved.toml");
    std::ofstream(path) << m.to_toml();
    const MidiMap back = MidiMap::load(path);
    EXPECT_EQ(back.to_json(), m.to_json());
    EXPECT_EQ(back.to_toml(), m.to_toml());
}

TEST(MidiMap, ABadFileIsRefusedWithItsPathLineAndReason) {
    TempDir dir;
    auto refusal = [&](const std::string& text) {
        const std::string path = write(dir, text);
        try {
            MidiMap::load(path);
        } catch (const ConfigError& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.rfind(path + ":", 0), 0u) << what;
            return what;
        }
        return std::string("accepted");
    };
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"loudness\"\n").find(":3: no live parameter is named 'loudness'"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"tempo\"\nmax = 400\n").find("tempo's range [20, 300]"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"gain_db\"\ncurve = \"exp\"\n").find("one sign"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"seed\"\ncurve = \"log\"\n").find("curve must be"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 120\nparam = \"seed\"\n").find("'cc' = 120 is outside [0, 119]"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\nparam = \"seed\"\n").find("[[cc]] needs cc"), std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"seed\"\n[[cc]]\ncc = 1\nchannel = 4\nparam = \"tempo\"\n").find("mapped twice"),
              std::string::npos);
    EXPECT_NE(refusal("[[cc]]\ncc = 1\nparam = \"seed\"\nchanel = 3\n").find("unknown key 'chanel'"), std::string::npos);
    EXPECT_NE(refusal("[[program]]\nprogram = 128\nstyle = \"house\"\n").find("'program' = 128"), std::string::npos);
    EXPECT_NE(refusal("[[keys]]\nlow = 60\nhigh = 50\n").find("low must not be above high"), std::string::npos);
    EXPECT_NE(refusal("[[cue]]\nnote = 60\ncue = \"drop\"\n").find(":3: cue must be"), std::string::npos);
    EXPECT_NE(refusal("[[cue]]\ncue = \"fill\"\n").find("[[cue]] needs note"), std::string::npos);
    EXPECT_NE(refusal("[[cue]]\nnote = 60\ncue = \"fill\"\n[[cue]]\nnote = 60\nchannel = 2\ncue = \"fill\"\n").find("cues twice"),
              std::string::npos);
    EXPECT_NE(refusal("[midi]\n").find("unknown key 'midi'"), std::string::npos);
    EXPECT_NE(refusal("[[cc]\n").find("map.toml:1:"), std::string::npos);
    EXPECT_EQ(refusal(kMap), "accepted");
}

// The shipped mapping for a generic 8-knob controller loads: each knob sets a parameter of its
// own (the tail cut has none), the programs pick every shipped style.
TEST(MidiMap, TheShippedGenericControllerMappingLoads) {
    const MidiMap m = MidiMap::load(std::string(WAVECAST_SOURCE_DIR) + "/config/mappings/generic-8knob.toml");
    std::set<int> params;
    for (const auto& b : m.cc) params.insert(static_cast<int>(b.param));
    EXPECT_EQ(m.cc.size(), 8u);
    EXPECT_EQ(params.size(), 8u);
    EXPECT_EQ(params.count(static_cast<int>(Param::tail_cut)), 0u);
    std::set<std::string> styles;
    for (const auto& b : m.programs) styles.insert(b.style);
    std::set<std::string> shipped;
    for (const auto& f : std::filesystem::directory_iterator(std::string(WAVECAST_SOURCE_DIR) + "/config/styles"))
        if (f.path().extension() == ".toml") shipped.insert(f.path().stem().string());
    EXPECT_EQ(styles, shipped);
    ASSERT_EQ(m.keys.size(), 1u);
    EXPECT_EQ(m.keys[0].high - m.keys[0].low, 11);
    ASSERT_EQ(m.cues.size(), 2u);
    for (const auto& c : m.cues) EXPECT_TRUE(c.note < m.keys[0].low || c.note > m.keys[0].high) << "a cue note inside the key range";
}
