// The MIDI clock follower's reading of the clock: the tempo from tick frame times (exact, through
// JACK's frame counter wrapping, and steady under a late tick), and the position Start, Song
// Position Pointer, Continue and Stop give the ticks.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "tempo/midi_clock_sync.h"

using namespace wavecast;

namespace {

ControlMidiEvent message(std::vector<uint8_t> bytes, uint32_t frame = 0) {
    ControlMidiEvent e;
    for (size_t i = 0; i < bytes.size(); ++i) e.bytes[i] = bytes[i];
    e.size = static_cast<uint8_t>(bytes.size());
    e.at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    e.frame = frame;
    return e;
}

}  // namespace

TEST(MidiClock, TempoFromTickFrames) {
    std::mt19937 rng(std::random_device{}());
    for (const double bpm : {20.0, 93.7, 120.0, 174.0, 300.0}) {
        const double per_tick = 48000.0 * 60.0 / (bpm * 24.0);
        // Starting just short of the 32-bit frame counter's wrap, as a daemon up 24.8 hours at 48 kHz is.
        const uint32_t start = 0xFFFFFFFFu - static_cast<uint32_t>(rng() % 20000);
        std::deque<uint32_t> frames;
        for (int i = 0; i < 25; ++i) frames.push_back(start + static_cast<uint32_t>(std::lround(i * per_tick)));
        EXPECT_NEAR(MidiClockSync::tempo_of(frames, 48000), bpm, bpm * 2e-4) << "whole-frame ticks at " << bpm;
        // One tick a millisecond late (a hardware clock through a USB interface) moves it little.
        frames[12] += 48;
        EXPECT_NEAR(MidiClockSync::tempo_of(frames, 48000), bpm, bpm * 2e-3) << "a late tick at " << bpm;
    }
    EXPECT_EQ(MidiClockSync::tempo_of({}, 48000), 0);
    EXPECT_EQ(MidiClockSync::tempo_of({5}, 48000), 0);
}

TEST(MidiClock, StartSongPositionContinueStop) {
    MidiClockSync clock(4);
    const std::vector<BeatFollower*> none;
    uint32_t frame = 1000;
    auto tick = [&] { EXPECT_TRUE(clock.feed(message({0xF8}, frame += 1000), 48000)); };

    clock.follow(none, 0);
    EXPECT_EQ(clock.view().state, "waiting");
    for (int i = 0; i < 24; ++i) tick();  // ticks before Start: a tempo, no position
    clock.follow(none, 0);
    EXPECT_EQ(clock.view().state, "stopped");
    EXPECT_NEAR(clock.view().tempo, 120.0, 1e-9);

    EXPECT_TRUE(clock.feed(message({0xFA}), 48000));
    tick();  // beat 0
    for (int i = 0; i < 30; ++i) tick();
    clock.follow(none, 0);
    EXPECT_EQ(clock.view().state, "playing");
    EXPECT_DOUBLE_EQ(clock.view().beat, 30.0 / 24.0);

    EXPECT_TRUE(clock.feed(message({0xFC}), 48000));
    tick();  // the position does not move while stopped
    clock.follow(none, 0);
    EXPECT_EQ(clock.view().state, "stopped");
    EXPECT_DOUBLE_EQ(clock.view().beat, 30.0 / 24.0);

    EXPECT_TRUE(clock.feed(message({0xF2, 0x10, 0x01}), 48000));  // sixteenth 144: beat 36
    EXPECT_TRUE(clock.feed(message({0xFB}), 48000));
    tick();
    tick();
    clock.follow(none, 0);
    EXPECT_EQ(clock.view().state, "playing");
    EXPECT_DOUBLE_EQ(clock.view().beat, 36.0 + 1.0 / 24.0);
    EXPECT_EQ(clock.view().starts, 1u);
    EXPECT_EQ(clock.view().stops, 1u);
    EXPECT_EQ(clock.view().continues, 1u);
    EXPECT_EQ(clock.view().ticks, 24u + 31u + 1u + 2u);

    // Not the clock's: left to the mappings.
    EXPECT_FALSE(clock.feed(message({0xB0, 70, 64}), 48000));
    EXPECT_FALSE(clock.feed(message({0x90, 60, 100}), 48000));
    EXPECT_FALSE(clock.feed(message({0xFE}), 48000));  // active sensing
}

// A pause longer than any tick interval starts a new run: the tempo comes from the ticks after it,
// not from an average across the silence.
TEST(MidiClock, ASilenceStartsANewRun) {
    MidiClockSync clock(4);
    const std::vector<BeatFollower*> none;
    uint32_t frame = 0;
    for (int i = 0; i < 25; ++i) clock.feed(message({0xF8}, frame += 1000), 48000);  // 120 bpm
    frame += 48000;                                                                  // a second of nothing
    for (int i = 0; i < 13; ++i) clock.feed(message({0xF8}, frame += 800), 48000);   // 150 bpm, half a beat
    clock.follow(none, 0);
    EXPECT_NEAR(clock.view().tempo, 150.0, 1e-9);
}
