#include <gtest/gtest.h>

#include <sndfile.h>
#include <thread>

#include "protocol.h"
#include "recorder.h"
#include "temp_dir.h"

using namespace wavecast;

namespace {

struct FileInfo {
    sf_count_t frames = -1;
    int rate = 0, channels = 0, format = 0;
    std::vector<float> data;
};

FileInfo read_file(const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) return {};
    FileInfo out{info.frames, info.samplerate, info.channels, info.format, {}};
    out.data.resize(static_cast<size_t>(info.frames * info.channels));
    sf_readf_float(f, out.data.data(), info.frames);
    sf_close(f);
    return out;
}

// Pushes periods of `period` frames like a JACK callback would, with a ramp as the signal.
void play(Recorder& r, int periods, int period, int& t) {
    std::vector<float> l(static_cast<size_t>(period)), rr(static_cast<size_t>(period));
    for (int p = 0; p < periods; ++p) {
        for (int i = 0; i < period; ++i, ++t) {
            l[i] = static_cast<float>((t % 1000) / 1000.0);
            rr[i] = -l[i];
        }
        r.push(l.data(), rr.data(), static_cast<uint32_t>(period));
    }
}

}  // namespace

TEST(Recorder, StopRecordWritesEveryPushedFrameToAValidFile) {
    TempDir dir;
    Recorder r;
    r.start(dir.file("a.wav"), 0, 24, 48000);
    int t = 0;
    play(r, 100, 256, t);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    play(r, 37, 256, t);
    EXPECT_EQ(r.stop(), 137u * 256u);
    const auto f = read_file(dir.file("a.wav"));
    EXPECT_EQ(f.frames, 137 * 256);
    EXPECT_EQ(f.rate, 48000);
    EXPECT_EQ(f.channels, 2);
    EXPECT_EQ(f.format, SF_FORMAT_WAV | SF_FORMAT_PCM_24);
    EXPECT_NEAR(f.data[2 * 999], 0.999, 1e-5);
    EXPECT_NEAR(f.data[2 * 999 + 1], -0.999, 1e-5);
    EXPECT_FALSE(r.status().active);
    EXPECT_NE(r.status().last.find("35072 frames"), std::string::npos) << r.status().last;
}

TEST(Recorder, SecondsLimitGivesExactlyThatLength) {
    TempDir dir;
    Recorder r;
    r.start(dir.file("b.flac"), 0.5, 16, 48000);
    int t = 0;
    play(r, 200, 1000, t);  // far more than half a second
    for (int i = 0; i < 100 && r.status().active; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(r.status().active) << "the recording should end by itself";
    const auto f = read_file(dir.file("b.flac"));
    EXPECT_EQ(f.frames, 24000);
    EXPECT_EQ(f.format, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
}

TEST(Recorder, RefusesBadPathsAndASecondRecording) {
    TempDir dir;
    Recorder r;
    auto code_of = [&](const std::string& path, int bits) {
        try {
            r.start(path, 0, bits, 48000);
        } catch (const protocol::Error& e) {
            return e.code;
        }
        return std::string("started");
    };
    EXPECT_EQ(code_of("/nonexistent-dir/x.wav", 24), protocol::code::io_error);
    EXPECT_EQ(code_of(dir.file("x.mp3"), 24), protocol::code::out_of_range);
    EXPECT_EQ(code_of(dir.file("x.wav"), 8), protocol::code::out_of_range);
    EXPECT_EQ(code_of(dir.file("x.wav"), 16), "started");
    EXPECT_EQ(code_of(dir.file("y.wav"), 16), protocol::code::conflict);
    r.stop();
    EXPECT_EQ(read_file(dir.file("x.wav")).frames, 0);
}
