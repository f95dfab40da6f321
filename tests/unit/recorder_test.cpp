#include <gtest/gtest.h>

#include <sndfile.h>
#include <filesystem>
#include <thread>

#include "output/recorder.h"
#include "tests/unit/temp_dir.h"

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

RecordRequest request(const std::string& path, double seconds, int bits, int rate = 48000) {
    RecordRequest r;
    r.path = path;
    r.seconds = seconds;
    r.bits = bits;
    r.rate = rate;
    return r;
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
    r.start(request(dir.file("a.wav"), 0, 24));
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
    r.start(request(dir.file("b.flac"), 0.5, 16));
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
    using K = RecorderError::Kind;
    auto kind_of = [&](const std::string& path, int bits) -> std::string {
        try {
            r.start(request(path, 0, bits));
        } catch (const RecorderError& e) {
            return e.kind == K::io ? "io" : e.kind == K::busy ? "busy" : "bad_request";
        }
        return "started";
    };
    EXPECT_EQ(kind_of("/nonexistent-dir/x.wav", 24), "io");
    EXPECT_EQ(kind_of(dir.file("x.mp3"), 24), "bad_request");
    EXPECT_EQ(kind_of(dir.file("x.wav"), 8), "bad_request");
    EXPECT_EQ(kind_of(dir.file("x.wav"), 16), "started");
    EXPECT_EQ(kind_of(dir.file("y.wav"), 16), "busy");
    r.stop();
    EXPECT_EQ(read_file(dir.file("x.wav")).frames, 0);
}

// A FLAC recording stopped before any period arrived is a readable file of no frames, not 0 bytes.
TEST(Recorder, AFlacStoppedBeforeItsFirstPeriodIsAReadableFile) {
    TempDir dir;
    Recorder r;
    r.start(request(dir.file("empty.flac"), 0, 24));
    EXPECT_EQ(r.stop(), 0u);
    SF_INFO info{};
    SNDFILE* f = sf_open(dir.file("empty.flac").c_str(), SFM_READ, &info);
    EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
    if (f) sf_close(f);
}

// Nothing a request is refused for leaves a file behind or truncates one.
TEST(Recorder, ARefusedMidiPathLeavesTheAudioFileUnmade) {
    TempDir dir;
    Recorder r;
    RecordRequest req = request(dir.file("a.wav"), 0, 24);
    req.midi_path = dir.file("nodir/a.mid");
    EXPECT_THROW(r.start(req), RecorderError);
    EXPECT_FALSE(std::filesystem::exists(dir.file("a.wav")));
    EXPECT_FALSE(r.status().active);
}
