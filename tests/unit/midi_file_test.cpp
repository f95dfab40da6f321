// The standard MIDI file reader on hand-built files: what it reads from a valid one, and that a
// malformed one is refused with the path and the reason rather than read into notes no
// instrument has (the fuzzer found a data byte above 127 read as a pitch).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "score/midi_file.h"
#include "tests/unit/temp_dir.h"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes be(uint32_t v, int n) {
    Bytes out;
    for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return out;
}

// A format-0 file, 96 ticks per beat, with one track holding `events` (delta times included),
// whose chunk says it is `len_adjust` bytes longer or shorter than it is.
Bytes midi(const Bytes& events, int len_adjust = 0) {
    Bytes f = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k'};
    const Bytes len = be(static_cast<uint32_t>(static_cast<int>(events.size()) + len_adjust), 4);
    f.insert(f.end(), len.begin(), len.end());
    f.insert(f.end(), events.begin(), events.end());
    return f;
}

std::string write(const TempDir& dir, const Bytes& bytes) {
    const std::string path = dir.file("in.mid");
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
}

std::string refusal(const Bytes& bytes) {
    TempDir dir;
    const std::string path = write(dir, bytes);
    try {
        wavecast::read_midi_file(path);
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path), std::string::npos) << what;
        return what;
    }
    ADD_FAILURE() << "the file was read";
    return {};
}

const Bytes kTempo120 = {0, 0xFF, 0x51, 3, 0x07, 0xA1, 0x20};  // 500000 us per beat
const Bytes kEnd = {0, 0xFF, 0x2F, 0};

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

TEST(MidiFile, ReadsNotesTempoAndRunningStatus) {
    TempDir dir;
    // C4 for a beat, then (running status) E4 for half a beat starting a beat later.
    const auto path =
        write(dir, midi(cat({kTempo120, {0, 0xC0, 33}, {0, 0x90, 60, 100}, {96, 60, 0}, {96, 64, 90}, {48, 0x80, 64, 0}, kEnd})));
    const auto s = wavecast::read_midi_file(path);
    EXPECT_DOUBLE_EQ(s.tempo_bpm, 120.0);
    ASSERT_EQ(s.notes.size(), 2u);
    EXPECT_EQ(s.notes[0].pitch, 60);
    EXPECT_EQ(s.notes[0].velocity, 100);
    EXPECT_DOUBLE_EQ(s.notes[0].start, 0.0);
    EXPECT_DOUBLE_EQ(s.notes[0].end, 1.0);
    EXPECT_EQ(s.notes[1].pitch, 64);
    EXPECT_DOUBLE_EQ(s.notes[1].start, 2.0);
    EXPECT_DOUBLE_EQ(s.notes[1].end, 2.5);
    EXPECT_DOUBLE_EQ(s.beats, 2.5);
    ASSERT_EQ(s.style.tracks.size(), 1u);
    EXPECT_EQ(s.style.tracks[0].program, 33);
}

TEST(MidiFile, RefusesMalformedFiles) {
    const Bytes note = {0, 0x90, 60, 100, 96, 0x80, 60, 0};
    EXPECT_NE(refusal(midi(cat({{0, 0x90, 0xC8, 100}, {96, 0x80, 0xC8, 0}, kEnd}))).find("data byte above 127"), std::string::npos);
    EXPECT_NE(refusal(midi(cat({{0, 0xFF, 0x51, 3, 0, 0, 0}, note, kEnd}))).find("tempo of 0"), std::string::npos);
    EXPECT_NE(refusal(midi(cat({note, kEnd}), 5)).find("truncated"), std::string::npos);
    // The chunk claims fewer bytes than its last event needs: the event may not read on past it.
    EXPECT_NE(refusal(midi(cat({note, {0, 0xFF, 0x03, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}}), -4)).find("past the end of its track"),
              std::string::npos);
    EXPECT_NE(refusal(midi(cat({note, {0, 0xF3, 1}, kEnd}))).find("system message"), std::string::npos);
    EXPECT_NE(refusal(midi(kEnd)).find("no notes"), std::string::npos);
    // A header that says it is longer than the file.
    Bytes long_header = midi(cat({note, kEnd}));
    long_header[7] = 0xF0;
    EXPECT_FALSE(refusal(long_header).empty());
}
