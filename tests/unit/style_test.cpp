// Style files (score/style.h): the shipped ones parse; a bad one is refused with its file, line
// and reason, and the whole set with it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "score/style.h"
#include "tests/unit/temp_dir.h"
#include "util/toml_util.h"

using namespace wavecast;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    std::ofstream(path) << text;
    return path;
}

// Expects `fn` to throw ConfigError whose message starts with "FILE:LINE:" and contains `reason`.
template <typename Fn>
void expect_refused(Fn fn, const std::string& file, int line, const std::string& reason) {
    try {
        fn();
        FAIL() << "accepted; expected " << reason;
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(file + ":" + std::to_string(line) + ":", 0), 0u) << msg;
        EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    }
}

}  // namespace

TEST(Style, ShippedStylesParse) {
    const auto styles = load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    EXPECT_GE(styles.size(), 3u);
    for (const auto& [name, s] : styles) {
        EXPECT_FALSE(s->description.empty()) << name;
        EXPECT_FALSE(s->tracks.empty()) << name;
    }
}

TEST(Style, RefusesBadStyleWithFileLineAndReason) {
    TempDir dir;
    const std::string ok = "name = \"s\"\ndescription = \"d\"\n[[track]]\nname = \"bass\"\nprogram = 33\n";
    EXPECT_NO_THROW(load_style(write(dir, "ok.toml", ok)));
    std::string p = write(dir, "scale.toml", "name = \"s\"\ndescription = \"d\"\nscale = \"klingon\"\n[[track]]\nname = \"b\"\n");
    expect_refused([&] { load_style(p); }, p, 3, "unknown scale 'klingon'");
    p = write(dir, "program.toml", "name = \"s\"\ndescription = \"d\"\n[[track]]\nname = \"b\"\nprogram = 200\n");
    expect_refused([&] { load_style(p); }, p, 5, "'program' = 200 is outside");
    p = write(dir, "key.toml", "name = \"s\"\ndescription = \"d\"\nkey = \"H\"\n[[track]]\nname = \"b\"\n");
    expect_refused([&] { load_style(p); }, p, 3, "key 'H'");
    p = write(dir, "degree.toml", "name = \"s\"\ndescription = \"d\"\nprogression = [1, 9]\n[[track]]\nname = \"b\"\n");
    expect_refused([&] { load_style(p); }, p, 3, "scale degrees");
}

TEST(Style, OneBadFileRefusesTheWholeSet) {
    TempDir dir;
    std::filesystem::create_directories(dir.path / "styles");
    write(dir, "styles/a.toml", "name = \"a\"\ndescription = \"d\"\n[[track]]\nname = \"b\"\n");
    write(dir, "styles/b.toml", "name = \"b\"\ndescription = \"d\"\ntempo = \"fast\"\n[[track]]\nname = \"b\"\n");
    EXPECT_THROW(load_styles(dir.file("styles")), ConfigError);
}
