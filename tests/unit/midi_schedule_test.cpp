// MIDI clock out among a stream's notes: Start before beat 0's tick, ticks ahead of a note on the
// same frame, and after something connects to the port, song position and Continue on the next
// bar line.
#include <gtest/gtest.h>

#include <vector>

#include "daemon/midi_schedule.h"
#include "score/midi_file.h"
#include "score/style.h"

using namespace wavecast;

namespace {

struct Sent {
    uint32_t at;
    std::vector<uint8_t> bytes;
    bool operator==(const Sent& o) const { return at == o.at && bytes == o.bytes; }
};

std::vector<Sent> play(StreamOutput& out, uint32_t frames) {
    std::vector<Sent> sent;
    out.take_midi(frames, [&](uint32_t at, const uint8_t* b, uint8_t size) { sent.push_back({at, std::vector<uint8_t>(b, b + size)}); });
    return sent;
}

}  // namespace

TEST(MidiSchedule, ClockOutStartsTicksAndTellsAJoiningDeviceTheBar) {
    const Style style = load_style(std::string(WAVECAST_SOURCE_DIR) + "/config/styles/techno.toml");
    StreamOutput out("main", 1 << 14);
    MidiSchedule schedule;
    // Model samples at 16 kHz, output at 48 kHz: ratio 3, no post-tier delay.
    const std::vector<MidiEvent> note{{100, 0.5, 0, true, 60, 100}};
    schedule.queue(out, note, {0, 100, 200}, style, 4, false, 0, 3.0, 0);
    const std::vector<Sent> first = play(out, 1000);
    const uint8_t ch = static_cast<uint8_t>(0x90 | midi_channel(style.tracks[0], 0));
    const std::vector<Sent> want{{0, {0xFA}}, {0, {0xF8}}, {300, {0xF8}}, {300, {ch, 60, 100}}, {600, {0xF8}}};
    EXPECT_EQ(first, want);

    // A device connects: ticks 3..96 (the next bar line is tick 96, beat 4), then its position
    // (16 sixteenths) and Continue before that tick.
    out.midi_joined();
    std::vector<uint64_t> ticks;
    for (uint64_t k = 3; k <= 97; ++k) ticks.push_back(k * 100);
    schedule.queue(out, {}, ticks, style, 4, false, 0, 3.0, 0);
    const std::vector<Sent> second = play(out, 100000);
    ASSERT_EQ(second.size(), 95u + 2u);
    for (size_t i = 0; i < 93; ++i) EXPECT_EQ(second[i].bytes, std::vector<uint8_t>{0xF8});
    EXPECT_EQ(second[93], (Sent{28800, {0xF2, 16, 0}}));
    EXPECT_EQ(second[94], (Sent{28800, {0xFB}}));
    EXPECT_EQ(second[95], (Sent{28800, {0xF8}}));
    EXPECT_EQ(second[96], (Sent{29100, {0xF8}}));
}
